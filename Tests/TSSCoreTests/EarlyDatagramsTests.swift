import Testing

@testable import TSSCore

/// The buffer of datagrams for sessions not started here yet (pure; the session manager passes
/// its clock): nothing stale or from one peer can take the room a live session needs.
@Suite struct EarlyDatagramsTests {
    typealias Buffer = EarlyDatagrams<String, Int>
    static func id(_ i: Int) -> [UInt8] { [UInt8(i >> 8), UInt8(i & 0xFF)] }

    @Test func keptInOrderAndHandedOverOnce() {
        var b = Buffer(maxAgeMs: 1000)
        do {
            let result = b.keep(1, from: "a", session: Self.id(1), nowMs: 0)
            #expect(result)
        }
        do {
            let result = b.keep(2, from: "b", session: Self.id(1), nowMs: 1)
            #expect(result)
        }
        do {
            let result = b.keep(3, from: "a", session: Self.id(2), nowMs: 2)
            #expect(result)
        }
        do {
            let result = b.take(Self.id(1))
            #expect(result == [1, 2])
        }
        do {
            let result = b.take(Self.id(1))
            #expect(result == [])
        }
        #expect(b.sessionCount == 1)
        b.drop(Self.id(2))
        #expect(b.sessionCount == 0)
    }

    /// The old failure: retransmissions for sessions that ended here filled the buffer for good,
    /// and a new session's early datagrams were dropped.
    @Test func lateDatagramsOfEndedSessionsTakeNoRoom() {
        var b = Buffer(maxSessions: 4, maxAgeMs: 60_000)
        for i in 0..<100 {
            b.markEnded(Self.id(i))
            do {
                let result = b.keep(i, from: "peer", session: Self.id(i), nowMs: UInt64(i))
                #expect(!result)
            }
        }
        #expect(b.sessionCount == 0)
        do {
            let result = b.keep(7, from: "peer", session: Self.id(500), nowMs: 100)
            #expect(result)
        }
        do {
            let result = b.take(Self.id(500))
            #expect(result == [7])
        }
    }

    @Test func sessionsPastTheDeadlineMakeRoom() {
        var b = Buffer(maxSessions: 3, maxSessionsPerPeer: 3, maxAgeMs: 1000)
        for i in 0..<3 { b.keep(i, from: "p\(i)", session: Self.id(i), nowMs: 0) }
        // Full and nothing expired: the oldest goes.
        b.keep(3, from: "p3", session: Self.id(3), nowMs: 10)
        #expect(b.count(Self.id(0)) == 0 && b.count(Self.id(1)) == 1 && b.count(Self.id(3)) == 1)
        // Past the deadline: every session buffered before it goes at once.
        b.keep(4, from: "p4", session: Self.id(4), nowMs: 1005)
        #expect(b.sessionCount == 2)
        #expect(b.count(Self.id(3)) == 1 && b.count(Self.id(4)) == 1)
    }

    /// One peer sending for sessions that never start evicts only its own oldest.
    @Test func onePeerCannotCrowdOutAnother() {
        var b = Buffer(maxSessions: 64, maxSessionsPerPeer: 4, maxAgeMs: 60_000)
        b.keep(100, from: "honest", session: Self.id(1000), nowMs: 0)
        for i in 0..<50 { b.keep(i, from: "noisy", session: Self.id(i), nowMs: UInt64(1 + i)) }
        #expect(b.count(Self.id(1000)) == 1)
        #expect(b.sessionCount == 5)
        // The noisy peer's four newest are the ones kept.
        #expect((46..<50).allSatisfy { b.count(Self.id($0)) == 1 })
    }

    @Test func perSessionAndEndedMemoryBounds() {
        var b = Buffer(maxPerSession: 3, maxAgeMs: 1000, endedMemory: 2)
        for i in 0..<5 { b.keep(i, from: "a", session: Self.id(1), nowMs: 0) }
        do {
            let result = b.take(Self.id(1))
            #expect(result == [0, 1, 2])
        }
        for i in 10..<13 { b.markEnded(Self.id(i)) }
        // Only the last two ended sessions are remembered.
        do {
            let result = b.keep(1, from: "a", session: Self.id(10), nowMs: 0)
            #expect(result)
        }
        do {
            let result = b.keep(1, from: "a", session: Self.id(11), nowMs: 0)
            #expect(!result)
        }
        do {
            let result = b.keep(1, from: "a", session: Self.id(12), nowMs: 0)
            #expect(!result)
        }
        // A session that does start after all is no longer treated as ended.
        _ = b.take(Self.id(12))
        do {
            let result = b.keep(2, from: "a", session: Self.id(12), nowMs: 0)
            #expect(result)
        }
        b.removeAll()
        #expect(b.sessionCount == 0)
    }
}
