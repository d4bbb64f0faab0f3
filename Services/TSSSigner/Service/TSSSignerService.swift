import Foundation
import LevelDB
import Logging
import NIOPosix
import NodeKit
import RPC
import Secp256k1
import ServiceKit
import ServiceLifecycle
import TSSCore
import Wire

/// `tss-signer`: GG20 threshold ECDSA; sealed key shards in `data/tss.db`.
///
/// Two listeners: `tss.rpc_listen` for its own consensus-manager (keygen, sign, reshare, re-key,
/// keys — each request signed with the node's validator key, `LocalRequestGate`), and
/// `tss.p2p_listen` for other validators' tss-signers (session proposals and MPC datagrams in
/// signed envelopes). Before taking part in any session it asks its own consensus-manager
/// (`consensus.tssAuthorize`) over the registered link.
public enum TSSSignerService: LocalServiceDefinition {
    public static let kind = ServiceKind.tssSigner
    public static let stores: [NodeHome.Store] = [.tss]

    public static func extras(
        context: ServiceContext, stores: [NodeHome.Store: LevelDBStore], link: ConsensusLink, server: RPCServer
    ) throws -> LocalServiceExtras {
        let logger = context.logger
        let config = context.config.tss
        let runtime = try TSSKeyStoreRuntime.open(context: context, db: stores[.tss]!)
        var validators: [Address: PublicKey] = [:]
        for validator in context.genesis.validators { validators[validator.address] = validator.publicKey }
        var endpoints: [Address: (host: String, port: Int)] = [:]
        for peer in config.persistentPeers {
            guard validators[peer.address] != nil else {
                throw ConfigError(problems: [
                    .init(
                        origin: .file(context.home.configFile), key: "tss.persistent_peers",
                        message: "peer \(checksummedAddress(peer.address)) is not a validator in the genesis")
                ])
            }
            endpoints[peer.address] = (peer.endpoint.host, peer.endpoint.port)
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let key = context.validatorKey.privateKey
        let network = try TSSPeerNetwork(
            chainID: context.chainID, key: key, endpoints: endpoints, group: group, logger: logger)
        let sessions = TSSSessionManager(
            network: network, identity: key,
            configuration: .init(
                resendIntervalMs: UInt64(config.resendIntervalMs), deadlineMs: UInt64(config.sessionTimeoutMs)))
        let node = try TSSSignerNode(
            chainID: context.chainID, key: key, store: runtime.store, pool: runtime.pool, network: network,
            sessions: sessions, validators: validators, presignTarget: config.presignPoolTarget,
            sessionTimeoutMs: UInt64(config.sessionTimeoutMs), noncePresignings: config.noncePoolPresignings,
            logger: logger,
            authorize: { request in
                try await link.call(method: MethodID.consensusTSSAuthorize, request: request, timeout: .seconds(10))
            })
        node.recoverAfterRestart()

        let p2p = RPCServer(
            configuration: .init(
                host: config.p2pListen.host, port: config.p2pListen.port, maxFrameSize: context.config.rpc.maxFrameBytes
            ),
            group: group, logger: logger)
        network.register(on: p2p) { peer, envelope in sessions.deliver(from: peer, envelope) }
        network.registerProposals(on: p2p) { (proposal, sender) async throws(RPCError) in
            try await TSSSignerNode.answering { try await node.handleProposal(proposal, from: sender) }
        }
        network.registerAbandons(on: p2p) { (sid, notice, sender) async throws(RPCError) in
            try await TSSSignerNode.answering { try await node.handleAbandon(sid, notice, from: sender) }
        }
        let base = runtime.extras
        TSSRequestHandlers.register(
            on: server, node: node,
            gate: LocalRequestGate(
                chainID: context.chainID, key: try LocalRequestKey(validatorKey: key, chainID: context.chainID)),
            status: {
                var status = await base.status()
                for (k, v) in await node.statusJSON() { status[k] = v }
                return status
            })

        return LocalServiceExtras(
            services: base.services + [
                RPCServerService(server: p2p, listen: config.p2pListen, logger: logger),
                PresignaturePoolService(node: node, logger: logger),
            ],
            readinessChecks: base.readinessChecks,
            status: {
                var status = await base.status()
                for (k, v) in await node.statusJSON() { status[k] = v }
                status["p2p_listen"] = .string("\(config.p2pListen)")
                return status
            })
    }
}

/// The operator's requests, from this node's consensus-manager only.
enum TSSRequestHandlers {
    static func register(
        on server: RPCServer, node: TSSSignerNode, gate: LocalRequestGate,
        status: @escaping @Sendable () async -> [String: JSONValue]
    ) {
        @Sendable func now() -> UInt64 { TSSSignerNode.nowMs() }
        server.register(MethodID.tssKeygen, request: LocalRequest.self) { sealed, _ in
            let request = try gate.open(
                sealed, method: MethodID.tssKeygen, as: TSSKeygenRequest.self, nowUnixMs: now())
            return try await TSSSignerNode.answering { try await node.keygen(request) }
        }
        server.register(MethodID.tssSign, request: LocalRequest.self) { sealed, _ in
            let request = try gate.open(sealed, method: MethodID.tssSign, as: TSSSignRequest.self, nowUnixMs: now())
            return try await TSSSignerNode.answering { try await node.sign(request) }
        }
        server.register(MethodID.tssReshare, request: LocalRequest.self) { sealed, _ in
            let request = try gate.open(
                sealed, method: MethodID.tssReshare, as: TSSReshareRequest.self, nowUnixMs: now())
            return try await TSSSignerNode.answering { try await node.reshare(request) }
        }
        server.register(MethodID.tssRekey, request: LocalRequest.self) { sealed, _ in
            let request = try gate.open(sealed, method: MethodID.tssRekey, as: TSSKeyQuery.self, nowUnixMs: now())
            guard !request.keyID.isEmpty else { throw RPCError(.invalidArgument, "rekey needs a key id") }
            return try await TSSSignerNode.answering { try await node.rekey(request.keyID) }
        }
        server.register(MethodID.tssStatus, request: LocalRequest.self) { sealed, _ in
            _ = try gate.open(sealed, method: MethodID.tssStatus, as: Empty.self, nowUnixMs: now())
            return await node.statusReply(JSONValue.object(await status()))
        }
        server.register(MethodID.tssKeys, request: LocalRequest.self) { sealed, _ in
            let request = try gate.open(sealed, method: MethodID.tssKeys, as: TSSKeyQuery.self, nowUnixMs: now())
            return try await TSSSignerNode.answering { try node.keys(request.keyID) }
        }
    }
}

/// Keeps every key's presignature pool at `tss.presign_pool_target`, then the Paillier randomizers
/// of recently used keys at `tss.nonce_pool_presignings` while idle: a refill pass every few
/// seconds (sessions failing — a peer away, no presign approval — just wait for the next pass).
final class PresignaturePoolService: Service, Sendable {
    let node: TSSSignerNode
    let logger: Logger

    init(node: TSSSignerNode, logger: Logger) {
        self.node = node
        self.logger = logger
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.node.refillPresignatures()
                await self.node.refillNonces()
                try await Task.sleep(for: .seconds(2))
            }
        }
        // Stopping: sessions in flight end now (their peers name us at their deadline).
        await node.shutdown()
    }
}
