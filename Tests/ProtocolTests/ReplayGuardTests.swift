import Testing
import Wire

@Suite("Replay guard and envelope checks")
struct ReplayGuardTests {
    let alice = try! Address(bytes: Array(repeating: 0xa1, count: 20))
    let bob = try! Address(bytes: Array(repeating: 0xb0, count: 20))
    let s1: [UInt8] = [1]
    let s2: [UInt8] = [2]

    @Test func sequenceMustStrictlyIncreasePerSenderAndSession() {
        var g = ReplayGuard(capacity: 16)
        #expect(g.admit(sender: alice, session: s1, sequence: 5) == .accept)
        #expect(g.admit(sender: alice, session: s1, sequence: 5) == .replay(lastAccepted: 5))
        #expect(g.admit(sender: alice, session: s1, sequence: 4) == .replay(lastAccepted: 5))
        #expect(g.admit(sender: alice, session: s1, sequence: 9) == .accept)  // gaps are fine
        #expect(g.admit(sender: alice, session: s2, sequence: 1) == .accept)  // other session: own stream
        #expect(g.admit(sender: bob, session: s1, sequence: 1) == .accept)  // other sender: own stream
        #expect(g.check(sender: alice, session: s1, sequence: 9) == .replay(lastAccepted: 9))
        #expect(g.lastAccepted(sender: alice, session: s1) == 9)
        #expect(g.counters == ReplayGuard.Counters(accepted: 4, replayed: 2, evicted: 0))
    }

    @Test func memoryIsBoundedByEvictingTheLeastRecentlyUsedStream() {
        var g = ReplayGuard(capacity: 3)
        for i in 0..<3 { #expect(g.admit(sender: alice, session: [UInt8(i)], sequence: 1) == .accept) }
        // Touch session 0 so session 1 becomes the oldest.
        #expect(g.admit(sender: alice, session: [0], sequence: 2) == .accept)
        #expect(g.admit(sender: alice, session: [3], sequence: 1) == .accept)
        #expect(g.count == 3)
        #expect(g.counters.evicted == 1)
        #expect(g.lastAccepted(sender: alice, session: [1]) == nil)
        #expect(g.lastAccepted(sender: alice, session: [0]) == 2)
        #expect(g.lastAccepted(sender: alice, session: [2]) == 1)
    }

    @Test func manyStreamsStayWithinCapacity() {
        var g = ReplayGuard(capacity: 100)
        for i in 0..<10_000 {
            let session = [UInt8(i & 0xff), UInt8(i >> 8)]
            #expect(g.admit(sender: alice, session: session, sequence: UInt64(i)) == .accept)
            // Keep one hot stream alive throughout: it must never be evicted.
            #expect(g.admit(sender: bob, session: s1, sequence: UInt64(i)) == .accept)
        }
        #expect(g.count == 100)
        #expect(g.lastAccepted(sender: bob, session: s1) == 9_999)
    }

    func envelope(chain: String = "vn-1", sender: Address, session: [UInt8], sequence: UInt64) -> Envelope {
        try! Envelope(
            chainID: chain, sender: sender, session: session, round: 0, sequence: sequence, payloadType: 1, payload: [])
    }

    @Test func envelopeCheckRejectsEachFailureWithItsReason() {
        var check = EnvelopeCheck(chainID: "vn-1", sessions: .only([s1]))
        #expect(check.check(envelope(sender: alice, session: s1, sequence: 1), recoveredSigner: alice) == .accepted)
        #expect(
            check.check(envelope(sender: alice, session: s1, sequence: 2), recoveredSigner: nil)
                == .rejected(.badSignature("no signer recovered")))
        #expect(
            check.check(envelope(sender: alice, session: s1, sequence: 2), recoveredSigner: bob)
                == .rejected(.signerMismatch(signer: bob, sender: alice)))
        #expect(
            check.check(envelope(chain: "vn-2", sender: alice, session: s1, sequence: 2), recoveredSigner: alice)
                == .rejected(.wrongChain("vn-2")))
        #expect(
            check.check(envelope(sender: alice, session: s2, sequence: 2), recoveredSigner: alice)
                == .rejected(.unknownSession(s2)))
        #expect(
            check.check(envelope(sender: alice, session: s1, sequence: 1), recoveredSigner: alice)
                == .rejected(.replayed(sequence: 1, lastAccepted: 1)))
        // None of the rejections advanced the stream.
        #expect(check.check(envelope(sender: alice, session: s1, sequence: 2), recoveredSigner: alice) == .accepted)
        var expected = EnvelopeCounters()
        expected.accepted = 2
        expected.badSignature = 1
        expected.signerMismatch = 1
        expected.wrongChain = 1
        expected.unknownSession = 1
        expected.replayed = 1
        #expect(check.counters == expected)
        #expect(check.counters.rejected == 5)
    }

    @Test func chainIDIsComparedByteForByte() {
        // "é" precomposed vs "e" + combining acute: equal as Swift Strings, different on the wire.
        var check = EnvelopeCheck(chainID: "ch\u{e9}")
        #expect("ch\u{e9}" == "che\u{301}")
        #expect(
            check.check(envelope(chain: "che\u{301}", sender: alice, session: s1, sequence: 1), recoveredSigner: alice)
                == .rejected(.wrongChain("che\u{301}")))
    }

    @Test func sessionsOpenAndClose() {
        var check = EnvelopeCheck(chainID: "vn-1")
        #expect(check.accepts(session: s2))  // .any
        check.openSession(s1)
        #expect(check.accepts(session: s1) && !check.accepts(session: s2))
        #expect(check.check(envelope(sender: alice, session: s1, sequence: 1), recoveredSigner: alice) == .accepted)
        check.closeSession(s1)
        #expect(
            check.check(envelope(sender: alice, session: s1, sequence: 2), recoveredSigner: alice)
                == .rejected(.unknownSession(s1)))
        #expect(check.replayGuard.count == 0)
    }
}
