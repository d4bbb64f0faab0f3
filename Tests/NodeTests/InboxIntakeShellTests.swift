import Foundation
import LevelDB
import NIOPosix
import NodeKit
import RPC
import ServiceKit
import Testing
import Wire

@testable import ConsensusManager

/// The consensus-manager's `inbox.submitRequests` in process, over a real loopback RPC server and
/// a real LevelDB store.
@Suite("Inbox intake (consensus-manager shell)", .serialized)
struct InboxIntakeShellTests {
    static func link(_ kind: ServiceKind, _ home: NodeHome, port: Int) throws -> ConsensusLink {
        let context = try ServiceContext.load(
            kind: kind, home: home, environment: ["VN_LOCAL_CONSENSUS_RPC": "127.0.0.1:\(port)"])
        return ConsensusLink(
            context: context, rpcAddress: "127.0.0.1:1", httpAddress: "127.0.0.1:2",
            group: MultiThreadedEventLoopGroup.singleton)
    }

    @Test("only the registered inbox-listener may submit; accepted requests survive a restart")
    func submitAndRestart() async throws {
        let (dir, homes) = try await ServiceShellTests.testnet()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (node, server, store) = try await ServiceShellTests.startConsensusManager(dir, homes[0])
        let port = server.port!

        let inbox = try Self.link(.inboxListener, homes[0], port: port)
        let tss = try Self.link(.tssSigner, homes[0], port: port)
        let tasks = [Task { try await inbox.run() }, Task { try await tss.run() }]
        defer { for t in tasks { t.cancel() } }
        #expect(await ServiceShellTests.waitUntil(seconds: 5) { inbox.isConnected() && tss.isConnected() })

        let batch = SubmitInboxRequests(requests: [inboxRecord(n: 1), inboxRecord(n: 2), inboxRecord(chain: 9, n: 1)])
        // Another local service of the same node is refused.
        do {
            let _: SubmitInboxRequestsAck = try await tss.call(
                method: MethodID.submitInboxRequests, request: batch, timeout: .seconds(5))
            Issue.record("the tss-signer could submit inbox requests")
        } catch let error as RPCError {
            #expect(error.code == .permissionDenied)
        }
        let ack: SubmitInboxRequestsAck = try await inbox.call(
            method: MethodID.submitInboxRequests, request: batch, timeout: .seconds(5))
        #expect(ack.accepted == batch.requests.map(\.key) && ack.refused.isEmpty)
        // At-least-once: the same batch again, and one conflicting body.
        let again: SubmitInboxRequestsAck = try await inbox.call(
            method: MethodID.submitInboxRequests,
            request: SubmitInboxRequests(requests: [inboxRecord(n: 1), inboxRecord(n: 2, params: [7])]),
            timeout: .seconds(5))
        #expect(again.accepted == [inboxRecord(n: 1).key] && again.refused.map(\.key) == [inboxRecord(n: 2).key])
        #expect(
            node.status()["inbox"] == ["accepted": 3, "duplicates": 1, "conflicts": 1, "pending": 3, "deferred": 0])

        // A restart of the consensus-manager (same store directory): everything is still there.
        await server.shutdown()
        store.close()
        let (restarted, server2, store2) = try await ServiceShellTests.startConsensusManager(dir, homes[0])
        defer { store2.close() }
        defer { Task { await server2.shutdown() } }
        let listed = restarted.inbox.requestsJSON
        #expect(listed["count"] == 3)
        let rows = try #require(listed["requests"]?.arrayValue)
        #expect(rows.map { $0["chainId"]?.uint64Value } == [9, 1337, 1337])
        #expect(rows[1]["id"]?.stringValue == "0x" + Hex.encode(inboxRecord(n: 1).requestID))
        #expect(rows[1]["params"]?.stringValue == "0x01" && rows[1]["confirmations"] == 2)
        #expect(rows[1]["targetChainId"]?.stringValue == "7")
        let restored = restarted.inbox.plan(after: [inboxRecord(n: 2, params: [7])])
        #expect(restored.ack.refused.count == 1, "a restart keeps refusing another body")
    }

    @Test("256-bit decimals are exact")
    func decimals() {
        #expect(InboxIntakeStore.decimal([UInt8](repeating: 0, count: 32)) == "0")
        #expect(InboxIntakeStore.decimal([UInt8](repeating: 0, count: 31) + [255]) == "255")
        #expect(
            InboxIntakeStore.decimal([UInt8](repeating: 0xff, count: 32))
                == "115792089237316195423570985008687907853269984665640564039457584007913129639935")
    }
}
