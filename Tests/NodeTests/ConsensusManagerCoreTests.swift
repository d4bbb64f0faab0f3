import ConsensusManagerCore
import Testing
import Wire

private func address(_ n: UInt8) -> Address { try! Address(bytes: [UInt8](repeating: 0, count: 19) + [n]) }

private func registration(_ kind: ServiceKind, instance: UInt8 = 1) -> RegisterService {
    RegisterService(
        kind: kind, version: "0.1.0", instanceID: [UInt8](repeating: instance, count: 16), rpcAddress: "127.0.0.1:1",
        httpAddress: "127.0.0.1:2")
}

@Suite("LocalServiceRegistry")
struct LocalServiceRegistryTests {
    let local: [ServiceKind] = [.tssSigner, .inboxListener, .sandboxExecutor, .bridgeAdapter, .batchProposer]

    @Test("register, heartbeat within the timeout, silence past it, reconnect")
    func lifecycle() {
        var r = LocalServiceRegistry(expected: local, timeoutMs: 1000)
        #expect(!r.isConnected(.tssSigner, nowMs: 0))
        let outcome = r.register(registration(.tssSigner), connection: 7, nowMs: 100)
        #expect(outcome == .registered)
        #expect(r.isConnected(.tssSigner, nowMs: 1100))
        #expect(!r.isConnected(.tssSigner, nowMs: 1101), "silent for more than the timeout")
        let beat = r.heartbeat(kind: .tssSigner, connection: 7, nowMs: 1500)
        #expect(beat)
        #expect(r.isConnected(.tssSigner, nowMs: 2400))
        #expect(r.entry(.tssSigner)?.heartbeats == 1)
    }

    @Test("a closed connection disconnects exactly the services registered on it")
    func connectionClosed() {
        var r = LocalServiceRegistry(expected: local, timeoutMs: 1000)
        _ = r.register(registration(.tssSigner), connection: 1, nowMs: 0)
        _ = r.register(registration(.inboxListener), connection: 2, nowMs: 0)
        let closed = r.connectionClosed(1)
        #expect(closed == [.tssSigner])
        #expect(!r.isConnected(.tssSigner, nowMs: 1))
        #expect(r.isConnected(.inboxListener, nowMs: 1))
        let none = r.connectionClosed(99)
        #expect(none.isEmpty)
        #expect(r.disconnects == 1)
    }

    @Test("a restarted service replaces its old registration; the old connection closing later changes nothing")
    func replacement() {
        var r = LocalServiceRegistry(expected: local, timeoutMs: 1000)
        _ = r.register(registration(.batchProposer, instance: 1), connection: 1, nowMs: 0)
        let outcome = r.register(registration(.batchProposer, instance: 2), connection: 2, nowMs: 10)
        #expect(outcome == .replaced(oldConnection: 1))
        let closed = r.connectionClosed(1)
        #expect(closed.isEmpty)
        #expect(r.isConnected(.batchProposer, nowMs: 20))
        #expect(r.entry(.batchProposer)?.instanceID == [UInt8](repeating: 2, count: 16))
    }

    @Test("heartbeats on another connection or for an unregistered kind are refused")
    func heartbeatMismatch() {
        var r = LocalServiceRegistry(expected: local, timeoutMs: 1000)
        let unregistered = r.heartbeat(kind: .tssSigner, connection: 1, nowMs: 0)
        #expect(!unregistered)
        _ = r.register(registration(.tssSigner), connection: 1, nowMs: 0)
        let otherConnection = r.heartbeat(kind: .tssSigner, connection: 2, nowMs: 1)
        #expect(!otherConnection)
    }

    @Test("a consensus-manager cannot register as a local service")
    func rejectsOtherKinds() {
        var r = LocalServiceRegistry(expected: local, timeoutMs: 1000)
        guard case .rejected = r.register(registration(.consensusManager), connection: 1, nowMs: 0) else {
            Issue.record("expected a rejection")
            return
        }
        #expect(r.snapshot(nowMs: 0).allSatisfy { !$0.connected })
    }

    @Test("snapshot lists every expected service in order")
    func snapshot() {
        var r = LocalServiceRegistry(expected: local, timeoutMs: 1000)
        _ = r.register(registration(.sandboxExecutor), connection: 3, nowMs: 0)
        let s = r.snapshot(nowMs: 400)
        #expect(s.map(\.kind) == local)
        #expect(s.filter(\.connected).map(\.kind) == [.sandboxExecutor])
        #expect(s[2].silentForMs == 400)
    }
}

@Suite("PeerTable")
struct PeerTableTests {
    func table(powers: [UInt64] = [10, 10, 10], selfPower: UInt64 = 10) throws -> PeerTable {
        try PeerTable(
            selfValidator: address(0), selfPower: selfPower,
            peers: powers.enumerated().map { (address(UInt8($0.offset + 1)), "127.0.0.1:\($0.offset)", $0.element) },
            timeoutMs: 1000)
    }

    @Test("a peer counts as connected from a verified hello until the timeout or a lost link")
    func connectivity() throws {
        var t = try table()
        #expect(!t.isConnected(address(1), nowMs: 0))
        t.linkEstablished(address(1), nowMs: 0)
        #expect(t.isConnected(address(1), nowMs: 1000))
        #expect(!t.isConnected(address(1), nowMs: 1001))
        t.pong(address(1), nowMs: 900, roundTripUs: 50)
        #expect(t.isConnected(address(1), nowMs: 1900))
        t.linkLost(address(1), error: "reset")
        #expect(!t.isConnected(address(1), nowMs: 1901))
        #expect(t.peers[address(1)]?.failures == 1)
        t.pong(address(1), nowMs: 2000, roundTripUs: 50)
        #expect(!t.isConnected(address(1), nowMs: 2000), "a pong without a link does not revive it")
    }

    @Test("quorum needs strictly more than 2/3 of the voting power, own power included")
    func quorum() throws {
        var t = try table()  // 4 × 10
        #expect(!t.hasQuorum(nowMs: 0))  // 10/40
        t.linkEstablished(address(1), nowMs: 0)
        #expect(!t.hasQuorum(nowMs: 0))  // 20/40
        t.linkEstablished(address(2), nowMs: 0)
        #expect(t.hasQuorum(nowMs: 0))  // 30/40 > 2/3
        var u = try table(powers: [10, 10], selfPower: 10)  // 3 × 10: exactly 2/3 is not enough
        u.linkEstablished(address(1), nowMs: 0)
        #expect(!u.hasQuorum(nowMs: 0))
        u.linkEstablished(address(2), nowMs: 0)
        #expect(u.hasQuorum(nowMs: 0))
    }

    @Test("huge powers do not overflow the quorum arithmetic")
    func noOverflow() throws {
        var t = try table(powers: [UInt64.max / 2, UInt64.max / 2], selfPower: UInt64.max / 2)
        t.linkEstablished(address(1), nowMs: 0)
        #expect(!t.hasQuorum(nowMs: 0))
        t.linkEstablished(address(2), nowMs: 0)
        #expect(t.hasQuorum(nowMs: 0))
    }

    @Test("duplicate peers and self as a peer are configuration errors")
    func invalid() {
        #expect(throws: PeerTable.Error.duplicatePeer(address(1))) {
            try PeerTable(
                selfValidator: address(0), selfPower: 1, peers: [(address(1), "a", 1), (address(1), "b", 1)],
                timeoutMs: 1)
        }
        #expect(throws: PeerTable.Error.selfAsPeer(address(0))) {
            try PeerTable(selfValidator: address(0), selfPower: 1, peers: [(address(0), "a", 1)], timeoutMs: 1)
        }
    }
}
