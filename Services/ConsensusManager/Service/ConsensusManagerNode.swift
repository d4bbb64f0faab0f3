import ConsensusManagerCore
import LevelDB
import Logging
import Metrics
import NodeKit
import RPC
import ServiceKit
import Synchronization
import Tendermint
import Wire

/// The consensus-manager's shared state and its RPC handlers: the local service registry (which
/// of the five local services are attached) and the peer table (which validators answer signed
/// pings). Decisions live in the pure `ConsensusManagerCore` types; this class feeds them events
/// with the monotonic time and exposes readiness and status.
public final class ConsensusManagerNode: Sendable {
    public static let localServices: [ServiceKind] = [
        .tssSigner, .inboxListener, .sandboxExecutor, .bridgeAdapter, .batchProposer,
    ]

    let context: ServiceContext
    let store: LevelDBStore
    let peerProtocol: PeerProtocol
    let inbox: InboxIntakeStore
    /// Threshold-key sessions: the operator API and the tss-signer's authorizations (issue 4).
    public let tss: TSSOperator
    /// The Tendermint engine and its gossip links (issue 5).
    public let engine: ConsensusEngine
    public let transport: ConsensusTransport
    private let registry: Mutex<LocalServiceRegistry>
    let peers: Mutex<PeerTable>
    private let startedMs = Monotonic.nowMs()
    private let registrations = Counter(label: "vn_local_registrations_total")
    private let rejectedEnvelopes = Counter(label: "vn_p2p_envelopes_rejected_total")

    public init(context: ServiceContext, store: LevelDBStore) throws {
        self.context = context
        self.store = store
        let genesis = context.genesis
        let me = context.validator
        let power = Dictionary(uniqueKeysWithValues: genesis.validators.map { ($0.address, $0.power) })
        var peerRows: [(validator: Address, dialAddress: String, power: UInt64)] = []
        for peer in context.config.consensus.persistentPeers {
            guard let p = power[peer.address] else {
                throw ConfigError(problems: [
                    .init(
                        origin: .file(context.home.configFile), key: "consensus.persistent_peers",
                        message: "peer \(checksummedAddress(peer.address)) is not a validator in the genesis")
                ])
            }
            peerRows.append((peer.address, "\(peer.endpoint)", p))
        }
        self.peers = Mutex(
            try PeerTable(
                selfValidator: me, selfPower: power[me] ?? 0, peers: peerRows,
                timeoutMs: UInt64(context.config.consensus.peerTimeoutMs)))
        self.registry = Mutex(
            LocalServiceRegistry(
                expected: Self.localServices, timeoutMs: UInt64(context.config.local.serviceTimeoutMs)))
        self.inbox = try InboxIntakeStore(store: store, logger: context.logger)
        self.tss = TSSOperator(context: context)
        self.peerProtocol = PeerProtocol(
            chainID: genesis.chainID, key: context.validatorKey.privateKey, selfAddress: me,
            validators: Set(genesis.validators.map(\.address)))
        self.transport = ConsensusTransport(proto: peerProtocol, logger: context.logger)
        let validators: ValidatorSet
        do {
            validators = try ValidatorSet(genesis.validators.map { Validator(address: $0.address, power: $0.power) })
        } catch {
            throw ConsensusEngineError.state("the genesis validator set: \(error)")
        }
        self.engine = try ConsensusEngine(
            chainID: genesis.chainID, key: context.validatorKey.privateKey, validators: validators, db: store,
            settings: ConsensusEngineSettings(config: context.config.consensus), transport: transport,
            logger: context.logger)
    }

    // MARK: Local RPC (services of this node)

    public func registerLocalHandlers(on server: RPCServer) {
        let logger = context.logger
        server.registerSync(MethodID.registerService, request: RegisterService.self) { [self] request, call in
            let outcome = registry.withLock {
                $0.register(request, connection: call.connectionID.rawValue, nowMs: Monotonic.nowMs())
            }
            switch outcome {
            case .rejected(let reason):
                throw RPCError(.permissionDenied, reason)
            case .registered, .replaced:
                registrations.increment()
                logger.info(
                    "local service registered",
                    metadata: ["service": "\(request.kind.name)", "connection": "\(call.connectionID)"])
            }
            return RegisterServiceAck(
                chainID: context.chainID, validator: context.validator,
                heartbeatIntervalMs: UInt32(clamping: context.config.local.heartbeatIntervalMs))
        }
        server.registerSync(MethodID.heartbeat, request: ServiceHeartbeat.self) { [self] beat, call in
            let known = registry.withLock {
                $0.heartbeat(kind: beat.kind, connection: call.connectionID.rawValue, nowMs: Monotonic.nowMs())
            }
            guard known else {
                throw RPCError(.failedPrecondition, "\(beat.kind.name) is not registered on this connection")
            }
            return Empty()
        }
        server.registerSync(MethodID.submitInboxRequests, request: SubmitInboxRequests.self) { [self] batch, call in
            // Only this node's own inbox-listener, on the connection it registered on.
            let registered = registry.withLock { $0.entry(.inboxListener)?.connection == call.connectionID.rawValue }
            guard registered else {
                throw RPCError(.permissionDenied, "only the registered local inbox-listener may submit inbox requests")
            }
            return try inbox.submit(batch)
        }
        tss.register(on: server) { [self] connection in
            registry.withLock { $0.entry(.tssSigner)?.connection == connection }
        }
        server.register(MethodID.consensusSubmitTx, request: ConsensusSubmitTx.self) { [self] request, _ in
            do {
                let (hash, duplicate) = try await engine.submit(request.tx)
                return ConsensusSubmitTxAck(hash: hash.bytes, duplicate: duplicate)
            } catch let error as ConsensusEngine.SubmitError {
                switch error {
                case .full: throw RPCError(.resourceExhausted, "\(error)")
                case .rejected, .tooLarge: throw RPCError(.invalidArgument, "\(error)")
                }
            }
        }
        server.register(MethodID.consensusGetBlock, request: ConsensusBlockQuery.self) { [self] query, _ in
            let found: (Block, ValueID)?
            do {
                found = try await engine.block(at: query.height)
            } catch {
                throw RPCError(.internal, "cannot read the block: \(error)")
            }
            guard let (block, hash) = found else { throw RPCError(.notFound, "no committed block at \(query.height)") }
            return ConsensusBlockReply(height: block.header.height.value, hash: hash.bytes, block: block.encoded())
        }
        server.onConnectionClosed = { [self] connection in
            let gone = registry.withLock { $0.connectionClosed(connection.rawValue) }
            for kind in gone {
                logger.warning("local service disconnected", metadata: ["service": "\(kind.name)"])
            }
        }
    }

    // MARK: Peer RPC (other validators' consensus-managers)

    public func registerPeerHandlers(on server: RPCServer) {
        let logger = context.logger
        let p2pAddress = "\(context.config.consensus.p2pListen)"
        server.registerSync(MethodID.peerHello, request: Envelope.self) { [self] envelope, _ in
            let hello: PeerHello
            do {
                hello = try peerProtocol.open(envelope, type: MethodID.peerHello, session: .request, as: PeerHello.self)
            } catch {
                rejectedEnvelopes.increment()
                logger.notice("peer hello rejected", metadata: ["error": "\(error)"])
                throw RPCError(.unauthenticated, "\(error)")
            }
            guard hello.chainID == context.chainID, hello.validator == envelope.sender else {
                throw RPCError(.permissionDenied, "hello names another chain or validator")
            }
            return try sealResponse(
                PeerHello(
                    chainID: context.chainID, validator: context.validator, p2pAddress: p2pAddress,
                    version: ServiceContext.version),
                type: MethodID.peerHello)
        }
        engine.registerGossip(on: server, proto: peerProtocol) { [rejectedEnvelopes] in rejectedEnvelopes.increment() }
        server.registerSync(MethodID.peerPing, request: Envelope.self) { [self] envelope, _ in
            let ping: PeerPing
            do {
                ping = try peerProtocol.open(envelope, type: MethodID.peerPing, session: .request, as: PeerPing.self)
            } catch {
                rejectedEnvelopes.increment()
                throw RPCError(.unauthenticated, "\(error)")
            }
            return try sealResponse(PeerPong(nonce: ping.nonce), type: MethodID.peerPing)
        }
    }

    private func sealResponse<P: WireMessage>(_ payload: P, type: UInt16) throws(RPCError) -> Envelope {
        do {
            return try peerProtocol.seal(payload, type: type, session: .response)
        } catch {
            throw RPCError(.internal, "cannot sign the response")
        }
    }

    // MARK: Readiness and status

    public var readinessChecks: [ReadinessCheck] {
        var checks = [ReadinessCheck.levelDB(name: "database:consensus", store: store)]
        for kind in Self.localServices {
            checks.append(
                ReadinessCheck(name: "local:\(kind.name)") { [self] in
                    let now = Monotonic.nowMs()
                    let view = registry.withLock { r in r.snapshot(nowMs: now).first { $0.kind == kind } }
                    guard let view, view.connected else {
                        if let silent = view?.silentForMs { return .notReady("no heartbeat for \(silent) ms") }
                        return .notReady("not connected")
                    }
                    return .ready("connected")
                })
        }
        checks.append(
            ReadinessCheck(name: "peers") { [self] in
                let now = Monotonic.nowMs()
                let (quorum, reachable, total, connected, count) = peers.withLock { t in
                    (
                        t.hasQuorum(nowMs: now), t.reachablePower(nowMs: now), t.totalPower,
                        t.peers.keys.filter { t.isConnected($0, nowMs: now) }.count, t.peers.count
                    )
                }
                let detail = "\(connected)/\(count) peers connected; reachable power \(reachable) of \(total)"
                return quorum ? .ready(detail) : .notReady(detail + " (need more than 2/3)")
            })
        return checks
    }

    /// `/status`: `status()` plus the engine's `"consensus"` object (height, round, step, last
    /// block time, validators, mempool, peers' heights).
    public func fullStatus() async -> [String: JSONValue] {
        var status = status()
        status["consensus"] = await engine.status()
        return status
    }

    public func status() -> [String: JSONValue] {
        let now = Monotonic.nowMs()
        let local = registry.withLock { $0.snapshot(nowMs: now) }
        let (peerRows, quorum, reachable, total) = peers.withLock { t in
            (
                t.sorted.map { p -> JSONValue in
                    .object([
                        "validator": .string(checksummedAddress(p.validator)),
                        "address": .string(p.dialAddress),
                        "power": .uint(p.power),
                        "connected": .bool(t.isConnected(p.validator, nowMs: now)),
                        "rtt_us": p.lastRoundTripUs.map { .uint($0) } ?? .null,
                        "dials": .uint(p.dials),
                        "failures": .uint(p.failures),
                        "last_error": p.lastError.map { .string($0) } ?? .null,
                    ])
                }, t.hasQuorum(nowMs: now), t.reachablePower(nowMs: now), t.totalPower
            )
        }
        let counters = peerProtocol.counters
        return [
            "service": .string(ServiceKind.consensusManager.name),
            "version": .string(ServiceContext.version),
            "chain_id": .string(context.chainID),
            "validator": .string(checksummedAddress(context.validator)),
            "moniker": .string(context.config.node.moniker),
            "uptime_ms": .uint(now - startedMs),
            "p2p_listen": .string("\(context.config.consensus.p2pListen)"),
            "rpc_listen": .string("\(context.config.consensus.rpcListen)"),
            "peers": .array(peerRows),
            "quorum": .object([
                "reachable_power": .string("\(reachable)"), "total_power": .string("\(total)"), "ok": .bool(quorum),
            ]),
            "local_services": .array(
                local.map { v in
                    .object([
                        "service": .string(v.kind.name),
                        "connected": .bool(v.connected),
                        "version": v.entry.map { .string($0.version) } ?? .null,
                        "rpc_address": v.entry.map { .string($0.rpcAddress) } ?? .null,
                        "http_address": v.entry.map { .string($0.httpAddress) } ?? .null,
                        "heartbeats": v.entry.map { .uint($0.heartbeats) } ?? .null,
                        "silent_for_ms": v.silentForMs.map { .uint($0) } ?? .null,
                    ])
                }),
            "inbox": inbox.statusJSON,
            "tss": .object(["approvals": .int(tss.approvals)]),
            "envelopes": .object([
                "accepted": .uint(counters.accepted), "bad_signature": .uint(counters.badSignature),
                "signer_mismatch": .uint(counters.signerMismatch), "wrong_chain": .uint(counters.wrongChain),
                "unknown_session": .uint(counters.unknownSession), "replayed": .uint(counters.replayed),
            ]),
        ]
    }
}
