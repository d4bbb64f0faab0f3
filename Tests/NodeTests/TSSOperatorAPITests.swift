import ConsensusManager
import Foundation
import LevelDB
import NIOCore
import NIOPosix
import NodeKit
import RPC
import Secp256k1
import ServiceKit
import Synchronization
import Testing
import Wire

/// The consensus-manager's threshold-key operator API (issue 4) in process, over real loopback
/// sockets: each operator call is recorded as an approval and forwarded to the tss-signer as a
/// request tagged with a key derived from the validator key (`LocalRequest`). The tss-signer here
/// is a small RPC server that opens the requests with the real `LocalRequestGate`, so what is
/// under test is the forwarding code: the tagging, the method ids, passing answers and errors back unchanged, one reused connection, and
/// redialing after the tss-signer went away.
@Suite("TSS operator API", .serialized)
struct TSSOperatorAPITests {
    /// What the fake tss-signer saw.
    final class Seen: Sendable {
        let methods = Mutex<[UInt16]>([])
        func add(_ method: UInt16) { methods.withLock { $0.append(method) } }
        var all: [UInt16] { methods.withLock { $0 } }
    }

    static let key = TSSKeyInfo(
        keyID: "k1", keygenSession: "s1", status: 2, threshold: 1, parties: [],
        publicKey: [2] + [UInt8](repeating: 0x77, count: 32), address: [UInt8](repeating: 0x88, count: 20),
        presignatures: 0)

    /// A tss-signer stand-in on `port` (0: any) that obeys only the validator `owner` on `chainID`.
    static func fakeTSSSigner(chainID: String, owner: PrivateKey, port: Int = 0, seen: Seen) async throws -> RPCServer {
        let gate = LocalRequestGate(chainID: chainID, key: try LocalRequestKey(validatorKey: owner, chainID: chainID))
        let server = RPCServer(
            configuration: .init(host: "127.0.0.1", port: port), group: MultiThreadedEventLoopGroup.singleton)
        @Sendable func open<R: WireMessage>(_ envelope: LocalRequest, _ method: UInt16, _: R.Type) throws(RPCError) -> R
        {
            let request = try gate.open(envelope, method: method, as: R.self, nowUnixMs: nowMs())
            seen.add(method)
            return request
        }
        server.register(MethodID.tssSign, request: LocalRequest.self) { envelope, _ in
            let request = try open(envelope, MethodID.tssSign, TSSSignRequest.self)
            return TSSSignature(
                keyID: request.keyID, keygenSession: "s1", messageHash: request.messageHash,
                r: [UInt8](repeating: 1, count: 32), s: [UInt8](repeating: 2, count: 32), v: 1,
                signers: request.signers,
                sessionID: [UInt8](repeating: 3, count: 32), pooled: true)
        }
        server.register(MethodID.tssKeygen, request: LocalRequest.self) { envelope, _ in
            let request = try open(envelope, MethodID.tssKeygen, TSSKeygenRequest.self)
            var info = key
            info.keyID = request.keyID
            info.parties = request.parties
            info.threshold = request.threshold
            return info
        }
        server.register(MethodID.tssRekey, request: LocalRequest.self) { envelope, _ in
            let request = try open(envelope, MethodID.tssRekey, TSSKeyQuery.self)
            var info = key
            info.keyID = request.keyID
            return info
        }
        server.register(MethodID.tssReshare, request: LocalRequest.self) { envelope, _ in
            let request = try open(envelope, MethodID.tssReshare, TSSReshareRequest.self)
            var info = key
            info.parties = request.newParties
            info.threshold = request.newThreshold
            return info
        }
        server.register(MethodID.tssKeys, request: LocalRequest.self) { envelope, _ in
            let request = try open(envelope, MethodID.tssKeys, TSSKeyQuery.self)
            // A refusal the consensus-manager must hand back word for word.
            if request.keyID == "missing" { throw RPCError(.notFound, "no key missing on this node") }
            return TSSKeyList(keys: [key])
        }
        try await server.start()
        return server
    }

    static func nowMs() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

    /// node0's consensus-manager with its local RPC handlers on `host` (port 0).
    static func startConsensusManager(
        _ home: NodeHome, tssPort: Int, host: String = "127.0.0.1"
    ) async throws -> (node: ConsensusManagerNode, server: RPCServer, store: LevelDBStore, context: ServiceContext) {
        let context = try ServiceContext.load(
            kind: .consensusManager, home: home, environment: ["VN_TSS_RPC_LISTEN": "127.0.0.1:\(tssPort)"])
        let store = try LevelDBStore(path: home.dataPath(.consensus))
        let node = try ConsensusManagerNode(context: context, store: store)
        let server = RPCServer(configuration: .init(host: host), group: MultiThreadedEventLoopGroup.singleton)
        node.registerLocalHandlers(on: server)
        try await server.start()
        return (node, server, store, context)
    }

    static func code(_ body: () async throws -> Void) async -> RPCError? {
        do {
            try await body()
            return nil
        } catch let error as RPCError {
            return error
        } catch {
            return RPCError(.internal, "\(error)")
        }
    }

    @Test("operator calls are approved, tagged and forwarded; answers and refusals come back unchanged")
    func forwarding() async throws {
        let (dir, homes) = try await ServiceShellTests.testnet()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let group = MultiThreadedEventLoopGroup.singleton
        let seen = Seen()

        // A port nobody listens on: take one from the kernel, then close it.
        let probe = RPCServer(group: group)
        let tssPort = try await probe.start()
        await probe.shutdown()

        let (node, server, store, context) = try await Self.startConsensusManager(homes[0], tssPort: tssPort)
        defer { store.close() }
        let op = try await RPCClient.connect(host: "127.0.0.1", port: server.port!, group: group)

        // No tss-signer yet: unavailable, saying which address was tried.
        let unreachable = await Self.code {
            let _: TSSKeyList = try await op.call(
                method: MethodID.consensusTSSKeys, request: TSSKeyQuery(keyID: ""), timeout: .seconds(10))
        }
        #expect(unreachable?.code == .unavailable)
        #expect(unreachable?.message.contains("127.0.0.1:\(tssPort)") == true)

        // The tss-signer comes up on that port: the next call dials it.
        var tss = try await Self.fakeTSSSigner(
            chainID: context.chainID, owner: context.validatorKey.privateKey, port: tssPort, seen: seen)
        let list: TSSKeyList = try await op.call(
            method: MethodID.consensusTSSKeys, request: TSSKeyQuery(keyID: ""), timeout: .seconds(10))
        #expect(list.keys == [Self.key])
        #expect(node.tss.approvals == 0, "listing keys approves nothing")

        let digest = [UInt8](repeating: 0x5a, count: 32)
        let parties = context.genesis.validators.map(\.address)
        let signature: TSSSignature = try await op.call(
            method: MethodID.consensusTSSSign,
            request: TSSSignRequest(keyID: "k1", messageHash: digest, purpose: "batch", signers: parties),
            timeout: .seconds(10))
        #expect(signature.messageHash == digest && signature.signers == parties && signature.v == 1)
        let generated: TSSKeyInfo = try await op.call(
            method: MethodID.consensusTSSKeygen, request: TSSKeygenRequest(keyID: "k2", parties: parties, threshold: 1),
            timeout: .seconds(10))
        #expect(generated.keyID == "k2" && generated.parties == parties)
        let rekeyed: TSSKeyInfo = try await op.call(
            method: MethodID.consensusTSSRekey, request: TSSKeyQuery(keyID: "k3"), timeout: .seconds(10))
        #expect(rekeyed.keyID == "k3")
        let reshared: TSSKeyInfo = try await op.call(
            method: MethodID.consensusTSSReshare,
            request: TSSReshareRequest(keyID: "k1", newParties: parties + [Self.other], newThreshold: 2),
            timeout: .seconds(10))
        #expect(reshared.threshold == 2)
        // The tss-signer's own refusal, word for word.
        let refused = await Self.code {
            let _: TSSKeyList = try await op.call(
                method: MethodID.consensusTSSKeys, request: TSSKeyQuery(keyID: "missing"), timeout: .seconds(10))
        }
        #expect(refused == RPCError(.notFound, "no key missing on this node"))
        // Every request reached the right method, through one connection.
        #expect(
            seen.all == [
                MethodID.tssKeys, MethodID.tssSign, MethodID.tssKeygen, MethodID.tssRekey, MethodID.tssReshare,
                MethodID.tssKeys,
            ])
        #expect(tss.stats.connectionsAccepted == 1)
        // sign k1 (purpose + digest), keygen k2, keygen k3 (re-key), reshare k1.
        #expect(node.tss.approvals == 4)

        // The operator's sign call left an approval the tss-signer's authorization finds.
        let signerContext = try ServiceContext.load(
            kind: .tssSigner, home: homes[0], environment: ["VN_LOCAL_CONSENSUS_RPC": "127.0.0.1:\(server.port!)"])
        let link = ConsensusLink(
            context: signerContext, rpcAddress: "127.0.0.1:1", httpAddress: "127.0.0.1:2", group: group)
        let linkTask = Task { try await link.run() }
        defer { linkTask.cancel() }
        #expect(await ServiceShellTests.waitUntil(seconds: 5) { link.isConnected() })
        func authorize(_ kind: TSSSessionKind, _ key: String, _ hash: [UInt8] = digest) async throws -> Bool {
            let reply: TSSAuthorizeReply = try await link.call(
                method: MethodID.consensusTSSAuthorize,
                request: TSSAuthorizeRequest(
                    sessionID: [UInt8](repeating: 9, count: 32), kind: kind, keyID: key, purpose: "batch",
                    messageHash: hash),
                timeout: .seconds(5))
            return reply.approved
        }
        #expect(try await authorize(.sign, "k1"))
        #expect(try await !authorize(.sign, "k1", [UInt8](repeating: 0x5b, count: 32)))
        #expect(try await authorize(.keygen, "k2"))
        #expect(try await authorize(.keygen, "k3"))
        #expect(try await authorize(.reshare, "k1"))
        #expect(try await !authorize(.presign, "k1"))

        // The tss-signer restarts: the consensus-manager redials (a call on the dead connection
        // may fail as unavailable first).
        await tss.shutdown()
        tss = try await Self.fakeTSSSigner(
            chainID: context.chainID, owner: context.validatorKey.privateKey, port: tssPort, seen: seen)
        var answered = false
        for _ in 0..<3 where !answered {
            let failure = await Self.code {
                let _: TSSKeyList = try await op.call(
                    method: MethodID.consensusTSSKeys, request: TSSKeyQuery(keyID: ""), timeout: .seconds(10))
            }
            if let failure { #expect(failure.code == .unavailable) } else { answered = true }
        }
        #expect(answered)
        #expect(tss.stats.connectionsAccepted == 1)

        await op.close()
        await tss.shutdown()
        await server.shutdown()
    }

    static let other = try! Address(bytes: [UInt8](repeating: 0xee, count: 20))
    static let another = try! Address(bytes: [UInt8](repeating: 0xef, count: 20))

    /// A non-loopback IPv4 address of this host, if it has one.
    static let externalIPv4: String? = {
        let devices = (try? System.enumerateDevices()) ?? []
        return devices.compactMap { device -> String? in
            guard case .v4? = device.address, let ip = device.address?.ipAddress, !ip.hasPrefix("127.") else {
                return nil
            }
            return ip
        }.first
    }()

    @Test(
        "operator methods refuse callers that are not on loopback; authorization refuses other connections",
        .enabled(if: externalIPv4 != nil, "needs a non-loopback IPv4 address"))
    func loopbackOnly() async throws {
        let (dir, homes) = try await ServiceShellTests.testnet()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let group = MultiThreadedEventLoopGroup.singleton
        let (node, server, store, _) = try await Self.startConsensusManager(homes[0], tssPort: 1, host: "0.0.0.0")
        defer { store.close() }
        let port = server.port!
        let ip = try #require(Self.externalIPv4)

        let remote = try await RPCClient.connect(host: ip, port: port, group: group)
        let approve = TSSApproveRequest(kind: .keygen, keyID: "k1", ttlSeconds: 60)
        let refusals: [RPCError?] = [
            await Self.code {
                let _: TSSAuthorizeReply = try await remote.call(method: MethodID.consensusTSSApprove, request: approve)
            },
            await Self.code {
                let _: TSSKeyInfo = try await remote.call(
                    method: MethodID.consensusTSSKeygen,
                    request: TSSKeygenRequest(keyID: "k1", parties: [Self.other, Self.another], threshold: 1))
            },
            await Self.code {
                let _: TSSKeyList = try await remote.call(
                    method: MethodID.consensusTSSKeys, request: TSSKeyQuery(keyID: ""))
            },
        ]
        for refusal in refusals { #expect(refusal?.code == .permissionDenied) }
        #expect(node.tss.approvals == 0)
        await remote.close()

        // The same call from loopback is accepted; a loopback caller that is not the registered
        // tss-signer still may not ask for authorization.
        let local = try await RPCClient.connect(host: "127.0.0.1", port: port, group: group)
        let reply: TSSAuthorizeReply = try await local.call(method: MethodID.consensusTSSApprove, request: approve)
        #expect(reply.approved)
        #expect(node.tss.approvals == 1)
        let asked = await Self.code {
            let _: TSSAuthorizeReply = try await local.call(
                method: MethodID.consensusTSSAuthorize,
                request: TSSAuthorizeRequest(
                    sessionID: [UInt8](repeating: 1, count: 32), kind: .keygen, keyID: "k1", purpose: "",
                    messageHash: [UInt8](repeating: 0, count: 32)))
        }
        #expect(asked?.code == .permissionDenied)
        await local.close()
        await server.shutdown()
    }
}
