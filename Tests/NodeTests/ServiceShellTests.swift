import ConsensusManager
import Foundation
import LevelDB
import NIOPosix
import NodeKit
import RPC
import Secp256k1
import ServiceKit
import Testing
import Wire

/// The service shells in process, over real loopback sockets: a local service's link to its
/// consensus-manager, and the signed-envelope checks between consensus-managers.
@Suite("Service shells", .serialized)
struct ServiceShellTests {
    /// Two validator homes with one genesis (ports are not bound here: servers use port 0).
    static func testnet() async throws -> (dir: String, homes: [NodeHome]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vn-shell-\(UUID().uuidString)").path
        _ = try await NodeSetup.createTestnet(
            validators: 2, outputDir: dir, chainID: "shell-test", host: "127.0.0.1", basePort: 61000, force: false,
            checkPortsFree: false)
        return (dir, [NodeHome(path: dir + "/node0"), NodeHome(path: dir + "/node1")])
    }

    static func waitUntil(seconds: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    /// node0's consensus-manager handlers on a real local RPC server (port 0).
    static func startConsensusManager(
        _ dir: String, _ home: NodeHome, environment: [String: String] = [:]
    ) async throws -> (node: ConsensusManagerNode, server: RPCServer, store: LevelDBStore) {
        let context = try ServiceContext.load(kind: .consensusManager, home: home, environment: environment)
        let store = try LevelDBStore(path: home.dataPath(.consensus))
        let node = try ConsensusManagerNode(context: context, store: store)
        let server = RPCServer(group: MultiThreadedEventLoopGroup.singleton)
        node.registerLocalHandlers(on: server)
        _ = try await server.start()
        return (node, server, store)
    }

    static func localService(_ status: [String: JSONValue], _ name: String) -> JSONValue? {
        guard case .array(let rows)? = status["local_services"] else { return nil }
        return rows.first { $0["service"]?.stringValue == name }
    }

    @Test("peer envelopes: valid accepted; replay, non-validator, wrong chain, wrong session, tamper rejected")
    func peerEnvelopes() async throws {
        let (dir, homes) = try await Self.testnet()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try ServiceContext.load(kind: .consensusManager, home: homes[0])
        let b = try ServiceContext.load(kind: .consensusManager, home: homes[1])
        let validators = Set(a.genesis.validators.map(\.address))
        let alice = PeerProtocol(
            chainID: a.chainID, key: a.validatorKey.privateKey, selfAddress: a.validator, validators: validators)
        let bob = PeerProtocol(
            chainID: b.chainID, key: b.validatorKey.privateKey, selfAddress: b.validator, validators: validators)
        let ping = try alice.seal(PeerPing(nonce: 7), type: MethodID.peerPing, session: .request)

        let opened = try bob.open(
            ping, type: MethodID.peerPing, session: .request, as: PeerPing.self, from: a.validator)
        #expect(opened.nonce == 7)
        // The same envelope again is a replay.
        #expect(throws: PeerProtocol.OpenError.self) {
            try bob.open(ping, type: MethodID.peerPing, session: .request, as: PeerPing.self)
        }
        #expect(bob.counters.replayed == 1)

        // Signed by a key outside the genesis.
        let stranger = PrivateKey.generate()
        let strangerAddress = try Address(bytes: stranger.publicKey.ethereumAddressBytes)
        let mallory = PeerProtocol(
            chainID: a.chainID, key: stranger, selfAddress: strangerAddress, validators: validators)
        let fromStranger = try mallory.seal(PeerPing(nonce: 1), type: MethodID.peerPing, session: .request)
        do {
            _ = try bob.open(fromStranger, type: MethodID.peerPing, session: .request, as: PeerPing.self)
            Issue.record("a non-validator's envelope was accepted")
        } catch {
            guard case .notAValidator = error else { Issue.record("wrong error \(error)"); return }
        }

        // A validator's key, but for another chain.
        let otherChain = PeerProtocol(
            chainID: "other-chain", key: a.validatorKey.privateKey, selfAddress: a.validator, validators: validators)
        let wrongChain = try otherChain.seal(PeerPing(nonce: 2), type: MethodID.peerPing, session: .request)
        do {
            _ = try bob.open(wrongChain, type: MethodID.peerPing, session: .request, as: PeerPing.self)
            Issue.record("an envelope for another chain was accepted")
        } catch {
            guard case .rejected(.wrongChain) = error else { Issue.record("wrong error \(error)"); return }
        }

        // A response presented as a request.
        let response = try alice.seal(PeerPong(nonce: 3), type: MethodID.peerPing, session: .response)
        do {
            _ = try bob.open(response, type: MethodID.peerPing, session: .request, as: PeerPing.self)
            Issue.record("an envelope from the wrong session was accepted")
        } catch {
            guard case .wrongSession = error else { Issue.record("wrong error \(error)"); return }
        }

        // A tampered payload no longer matches the signature.
        let fresh = try alice.seal(PeerPing(nonce: 4), type: MethodID.peerPing, session: .request)
        var payload = fresh.payload
        payload[payload.count - 1] ^= 1
        let tampered = try Envelope(
            chainID: fresh.chainID, sender: fresh.sender, session: fresh.session, round: fresh.round,
            sequence: fresh.sequence, payloadType: fresh.payloadType, payload: payload
        ).withSignature(fresh.signature)
        do {
            _ = try bob.open(tampered, type: MethodID.peerPing, session: .request, as: PeerPing.self)
            Issue.record("a tampered envelope was accepted")
        } catch {
            guard case .rejected = error else { Issue.record("wrong error \(error)"); return }
        }
        #expect(bob.counters.accepted == 1)
    }

    @Test("a local service registers, heartbeats, and is seen to go when its consensus-manager stops")
    func localLink() async throws {
        let (dir, homes) = try await Self.testnet()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The consensus-manager dictates the heartbeat interval in its answer to the registration.
        let (node, server, store) = try await Self.startConsensusManager(
            dir, homes[0], environment: ["VN_LOCAL_HEARTBEAT_INTERVAL_MS": "50"])
        defer { store.close() }
        let port = server.port!

        let tss = try ServiceContext.load(
            kind: .tssSigner, home: homes[0], environment: ["VN_LOCAL_CONSENSUS_RPC": "127.0.0.1:\(port)"])
        let link = ConsensusLink(
            context: tss, rpcAddress: "127.0.0.1:1", httpAddress: "127.0.0.1:2",
            group: MultiThreadedEventLoopGroup.singleton)
        let task = Task { try await link.run() }
        defer { task.cancel() }

        let connected = await Self.waitUntil(seconds: 5) {
            link.isConnected() && Self.localService(node.status(), "tss-signer")?["connected"]?.boolValue == true
        }
        #expect(connected)
        let beating = await Self.waitUntil(seconds: 5) {
            (Self.localService(node.status(), "tss-signer")?["heartbeats"]?.intValue ?? 0) >= 2
        }
        #expect(beating, "heartbeats reach the consensus-manager")
        #expect(Self.localService(node.status(), "inbox-listener")?["connected"]?.boolValue == false)

        await server.shutdown()
        let lost = await Self.waitUntil(seconds: 5) {
            !link.isConnected() && Self.localService(node.status(), "tss-signer")?["connected"]?.boolValue == false
        }
        #expect(lost, "both sides see the link go")
    }

    @Test("tss authorization: only the registered tss-signer may ask; only operator-approved sessions pass")
    func tssAuthorization() async throws {
        let (dir, homes) = try await Self.testnet()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (node, server, store) = try await Self.startConsensusManager(dir, homes[0])
        defer { store.close() }
        let port = server.port!
        let group = MultiThreadedEventLoopGroup.singleton
        let digest = [UInt8](repeating: 7, count: 32)
        let ask = TSSAuthorizeRequest(
            sessionID: [UInt8](repeating: 1, count: 32), kind: .sign, keyID: "k1", purpose: "batch", messageHash: digest
        )

        // A connection that is not the registered tss-signer's is refused.
        let stranger = try await RPCClient.connect(host: "127.0.0.1", port: port, group: group)
        await #expect(throws: RPCError.self) {
            let _: TSSAuthorizeReply = try await stranger.call(method: MethodID.consensusTSSAuthorize, request: ask)
        }
        await stranger.close()

        // The tss-signer's link: unapproved → refused with the reason; approved by the operator → yes.
        let tss = try ServiceContext.load(
            kind: .tssSigner, home: homes[0], environment: ["VN_LOCAL_CONSENSUS_RPC": "127.0.0.1:\(port)"])
        let link = ConsensusLink(
            context: tss, rpcAddress: "127.0.0.1:1", httpAddress: "127.0.0.1:2", group: group)
        let task = Task { try await link.run() }
        defer { task.cancel() }
        #expect(await Self.waitUntil(seconds: 5) { link.isConnected() })
        let before: TSSAuthorizeReply = try await link.call(
            method: MethodID.consensusTSSAuthorize, request: ask, timeout: .seconds(5))
        #expect(!before.approved && before.reason.contains("no approval for sign of key k1"))

        let operatorClient = try await RPCClient.connect(host: "127.0.0.1", port: port, group: group)
        let approved: TSSAuthorizeReply = try await operatorClient.call(
            method: MethodID.consensusTSSApprove,
            request: TSSApproveRequest(kind: .sign, keyID: "k1", purpose: "batch", messageHash: digest, ttlSeconds: 60))
        #expect(approved.approved)
        await operatorClient.close()
        let after: TSSAuthorizeReply = try await link.call(
            method: MethodID.consensusTSSAuthorize, request: ask, timeout: .seconds(5))
        #expect(after.approved)
        // Another digest under the same key stays refused.
        var other = ask
        other.messageHash = [UInt8](repeating: 8, count: 32)
        let otherReply: TSSAuthorizeReply = try await link.call(
            method: MethodID.consensusTSSAuthorize, request: other, timeout: .seconds(5))
        #expect(!otherReply.approved)
        #expect(node.tss.approvals == 1)
        await server.shutdown()
    }

    @Test("a local service pointed at another validator's consensus-manager never counts as connected")
    func misconfiguredLink() async throws {
        let (dir, homes) = try await Self.testnet()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (_, server, store) = try await Self.startConsensusManager(dir, homes[0])
        defer { store.close() }
        defer { Task { await server.shutdown() } }
        let port = server.port!

        // node1's tss-signer dials node0's consensus-manager.
        let tss = try ServiceContext.load(
            kind: .tssSigner, home: homes[1], environment: ["VN_LOCAL_CONSENSUS_RPC": "127.0.0.1:\(port)"])
        let link = ConsensusLink(
            context: tss, rpcAddress: "127.0.0.1:1", httpAddress: "127.0.0.1:2",
            group: MultiThreadedEventLoopGroup.singleton)
        let task = Task { try await link.run() }
        defer { task.cancel() }
        let flagged = await Self.waitUntil(seconds: 5) { link.snapshot.phase == ConsensusLink.Phase.misconfigured }
        #expect(flagged)
        #expect(!link.isConnected())
        #expect(link.snapshot.lastError?.contains("this home is shell-test") == true)
    }
}
