import Testing
import Wire

@testable import Tendermint

// One table per rule of Algorithm 1 (Buchman, Kwon, Milosevic, arXiv:1807.04938). Four validators
// of power 1 (a quorum is 3, f + 1 is 2); the proposers of height 1 are a1, a2, a3, a4 for rounds
// 0, 1, 2, 3. Each row: an input, the exact effects, optionally the state after it.

private let A = value("A")
private let B = value("B")

@Suite("Algorithm 1, rule by rule")
struct AlgorithmTableTests {
    @Test("lines 11–13, 20–21: StartRound as a non-proposer schedules timeoutPropose")
    func startRoundNonProposer() {
        var d = Driver(config: config(2), height: 1)
        run(
            &d,
            [
                Row(.newHeight(fourEqual), [timeout(.propose, 1, 0)], state: { $0.round == 0 && $0.step == .propose })
            ])
    }

    @Test("lines 14, 17–19, 22–24: the proposer asks for a value, proposes it, then prevotes it itself")
    func startRoundProposer() {
        var d = Driver(config: config(1), height: 1)
        let p = proposal(0, A, from: 1)
        run(
            &d,
            [
                Row(.newHeight(fourEqual), [.getValue(height: 1, round: 0), timeout(.propose, 1, 0)]),
                Row(
                    .proposeValue(A, height: 1, round: 0), signed(p) + signed(prevote(0, A, from: 1)),
                    state: { $0.step == .prevote }),
            ])
    }

    @Test("lines 22–24, 27: a valid proposal while unlocked gets a prevote for id(v)")
    func proposalValid() {
        var d = started(2)
        run(
            &d,
            [
                Row(
                    .proposal(proposal(0, A, from: 1), valid: true), signed(prevote(0, A, from: 2)),
                    state: { $0.step == .prevote })
            ])
    }

    @Test("lines 22, 25–26: an invalid proposal gets a prevote for nil")
    func proposalInvalid() {
        var d = started(2)
        run(
            &d,
            [
                Row(
                    .proposal(proposal(0, A, from: 1), valid: false), signed(prevote(0, nil, from: 2)),
                    state: { $0.step == .prevote })
            ])
    }

    @Test("line 22: a proposal from anyone but proposer(h, r) is dropped and counted")
    func wrongProposer() {
        var d = started(2)
        run(&d, [Row(.proposal(proposal(0, A, from: 3), valid: true), [], state: { $0.step == .propose })])
        #expect(d.counters.wrongProposer == 1)
    }

    @Test("lines 34–35: 2f + 1 prevotes for anything schedule timeoutPrevote, once")
    func polkaAny() {
        var d = started(2)
        run(
            &d,
            [
                Row(.proposal(proposal(0, A, from: 1), valid: true), signed(prevote(0, A, from: 2))),
                Row(.vote(prevote(0, B, from: 1)), []),
                Row(.vote(prevote(0, nil, from: 3)), [timeout(.prevote, 1, 0)], state: { $0.prevoteTimeoutScheduled }),
                Row(.vote(prevote(0, nil, from: 4)), [], "not again"),
            ])
    }

    @Test("lines 36–43: a polka for the proposal while in prevote locks, precommits and sets validValue")
    func polkaValueLocks() {
        var d = started(2)
        run(
            &d,
            [
                Row(.proposal(proposal(0, A, from: 1), valid: true), signed(prevote(0, A, from: 2))),
                Row(.vote(prevote(0, A, from: 1)), []),
                Row(
                    .vote(prevote(0, A, from: 3)), signed(precommit(0, A, from: 2)),
                    state: {
                        $0.step == .precommit && $0.locked == Lock(round: 0, valueID: A.id)
                            && $0.valid == ValidValue(round: 0, value: A)
                    }),
            ])
    }

    @Test("lines 36, 42–43: a polka seen after precommitting only updates validValue (no lock)")
    func polkaValueAfterPrecommit() {
        var d = started(2)
        run(
            &d,
            [
                Row(.proposal(proposal(0, A, from: 1), valid: true), signed(prevote(0, A, from: 2))),
                Row(.timeout(.prevote, height: 1, round: 0), signed(precommit(0, nil, from: 2))),
                Row(.vote(prevote(0, A, from: 1)), []),
                Row(
                    .vote(prevote(0, A, from: 3)), [],
                    state: { $0.locked == nil && $0.valid == ValidValue(round: 0, value: A) && $0.step == .precommit }),
            ])
    }

    @Test("lines 44–46: a polka for nil makes a precommit for nil")
    func polkaNil() {
        var d = started(2)
        run(
            &d,
            [
                Row(.proposal(proposal(0, A, from: 1), valid: true), signed(prevote(0, A, from: 2))),
                Row(.vote(prevote(0, nil, from: 1)), []),
                Row(.vote(prevote(0, nil, from: 3)), [timeout(.prevote, 1, 0)]),
                Row(
                    .vote(prevote(0, nil, from: 4)), signed(precommit(0, nil, from: 2)),
                    state: { $0.step == .precommit }),
            ])
    }

    @Test("lines 47–48: 2f + 1 precommits for anything schedule timeoutPrecommit, once")
    func precommitAny() {
        var d = started(2)
        run(
            &d,
            [
                Row(.timeout(.propose, height: 1, round: 0), signed(prevote(0, nil, from: 2))),
                Row(.timeout(.prevote, height: 1, round: 0), signed(precommit(0, nil, from: 2))),
                Row(.vote(precommit(0, nil, from: 1)), []),
                Row(.vote(precommit(0, B, from: 3)), [timeout(.precommit, 1, 0)]),
                Row(.vote(precommit(0, nil, from: 4)), [], "not again"),
            ])
    }

    @Test("lines 49–54: a proposal and 2f + 1 precommits for it decide, with the certificate; newHeight starts h + 1")
    func commit() {
        var d = started(2)
        let cert = CommitCertificate(
            height: 1, round: 0, valueID: A.id,
            precommits: [precommit(0, A, from: 1), precommit(0, A, from: 3), precommit(0, A, from: 4)])
        let next = try! fourEqual.next()
        #expect(next.proposer.address == addr(2))
        run(
            &d,
            [
                Row(.proposal(proposal(0, A, from: 1), valid: true), signed(prevote(0, A, from: 2))),
                Row(.vote(precommit(0, A, from: 1)), []),
                Row(.vote(precommit(0, A, from: 3)), []),
                Row(.vote(precommit(0, A, from: 4)), [.decide(height: 1, round: 0, value: A, certificate: cert)]),
                Row(.vote(prevote(0, A, from: 4)), [], "a decided height ignores its votes"),
                Row(
                    .newHeight(next), [.getValue(height: 2, round: 0), timeout(.propose, 2, 0)],
                    state: { $0.height == 2 }),
            ])
        #expect(d.phase == .running)
        #expect(throws: Never.self) { try cert.verify(against: fourEqual) }
    }

    @Test("line 49: precommits of an earlier round decide even after the round moved on")
    func commitInEarlierRound() {
        var d = started(2)
        let cert = CommitCertificate(
            height: 1, round: 0, valueID: A.id,
            precommits: [precommit(0, A, from: 1), precommit(0, A, from: 3), precommit(0, A, from: 4)])
        run(
            &d,
            [
                Row(.proposal(proposal(0, A, from: 1), valid: true), signed(prevote(0, A, from: 2))),
                Row(
                    .timeout(.precommit, height: 1, round: 0),
                    [.getValue(height: 1, round: 1), timeout(.propose, 1, 1)]),
                Row(.vote(precommit(0, A, from: 1)), []),
                Row(.vote(precommit(0, A, from: 3)), []),
                Row(.vote(precommit(0, A, from: 4)), [.decide(height: 1, round: 0, value: A, certificate: cert)]),
            ])
    }

    @Test("line 50: an invalid value is never decided, whatever the precommits")
    func commitInvalidValue() {
        var d = started(2)
        run(
            &d,
            [
                Row(.proposal(proposal(0, A, from: 1), valid: false), signed(prevote(0, nil, from: 2))),
                Row(.vote(precommit(0, A, from: 1)), []),
                Row(.vote(precommit(0, A, from: 3)), []),
                Row(
                    .vote(precommit(0, A, from: 4)), [timeout(.precommit, 1, 0)], "line 47 only",
                    state: { $0.decision == nil }),
            ])
    }

    @Test("lines 55–56: f + 1 votes of a higher round start that round")
    func roundSkip() {
        var d = started(2)
        run(
            &d,
            [
                Row(.vote(prevote(2, nil, from: 3)), [], "1/4 of the power is not more than 1/3"),
                Row(
                    .vote(precommit(2, nil, from: 4)), [timeout(.propose, 1, 2)],
                    state: { $0.round == 2 && $0.step == .propose }),
            ])
    }

    @Test("lines 57–60: timeoutPropose in propose prevotes nil; stale timeouts change nothing")
    func timeoutPropose() {
        var d = started(2)
        run(
            &d,
            [
                Row(
                    .timeout(.propose, height: 1, round: 0), signed(prevote(0, nil, from: 2)),
                    state: { $0.step == .prevote }),
                Row(.timeout(.propose, height: 1, round: 0), [], "already in prevote"),
                Row(.timeout(.propose, height: 1, round: 5), [], "another round"),
                Row(.timeout(.propose, height: 7, round: 0), [], "another height"),
            ])
        #expect(d.counters.staleTimeouts == 2)
    }

    @Test("lines 61–64: timeoutPrevote in prevote precommits nil")
    func timeoutPrevote() {
        var d = started(2)
        run(
            &d,
            [
                Row(.timeout(.prevote, height: 1, round: 0), [], "still in propose"),
                Row(.timeout(.propose, height: 1, round: 0), signed(prevote(0, nil, from: 2))),
                Row(
                    .timeout(.prevote, height: 1, round: 0), signed(precommit(0, nil, from: 2)),
                    state: { $0.step == .precommit }),
            ])
    }

    @Test("lines 65–67: timeoutPrecommit starts the next round, in any step")
    func timeoutPrecommit() {
        var d = started(3)
        run(
            &d,
            [
                Row(
                    .timeout(.precommit, height: 1, round: 0), [timeout(.propose, 1, 1)],
                    state: { $0.round == 1 && $0.step == .propose }),
                Row(
                    .timeout(.precommit, height: 1, round: 1),
                    [.getValue(height: 1, round: 2), timeout(.propose, 1, 2)]),
            ])
    }

    @Test("lines 15–16, 19, 28–30: validValue is carried to the next round and re-proposed with its polka round")
    func validValueCarryOver() {
        var d = started(2)
        let reproposal = proposal(1, A, vr: 0, from: 2)
        run(
            &d,
            [
                Row(.proposal(proposal(0, A, from: 1), valid: true), signed(prevote(0, A, from: 2))),
                Row(.vote(prevote(0, A, from: 1)), []),
                Row(.vote(prevote(0, A, from: 3)), signed(precommit(0, A, from: 2))),
                Row(.vote(precommit(0, nil, from: 1)), []),
                Row(.vote(precommit(0, nil, from: 3)), [timeout(.precommit, 1, 0)]),
                Row(
                    .timeout(.precommit, height: 1, round: 0), signed(reproposal) + signed(prevote(1, A, from: 2)),
                    "no getValue: validValue is proposed", state: { $0.round == 1 && $0.step == .prevote }),
            ])
    }

    /// a4 locks on A in round 0; misses round 1's proposal but sees its polka for B; round 2's
    /// proposer re-proposes B with vr = 1 ≥ lockedRound: a4 prevotes B (line 29, first disjunct).
    @Test("lines 28–30: a polka in a round at or after the lock releases it (prevote for the new value)")
    func unlockByLaterPolka() {
        var d = started(4)
        run(
            &d,
            [
                Row(.proposal(proposal(0, A, from: 1), valid: true), signed(prevote(0, A, from: 4))),
                Row(.vote(prevote(0, A, from: 1)), []),
                Row(
                    .vote(prevote(0, A, from: 2)), signed(precommit(0, A, from: 4)),
                    state: { $0.locked?.valueID == A.id }),
                Row(.vote(precommit(0, nil, from: 1)), []),
                Row(.vote(precommit(0, nil, from: 2)), [timeout(.precommit, 1, 0)]),
                Row(.timeout(.precommit, height: 1, round: 0), [timeout(.propose, 1, 1)]),
                Row(.timeout(.propose, height: 1, round: 1), signed(prevote(1, nil, from: 4))),
                Row(.vote(prevote(1, B, from: 1)), []),
                Row(.vote(prevote(1, B, from: 2)), [timeout(.prevote, 1, 1)]),
                Row(.vote(prevote(1, B, from: 3)), [], "polka for B, but its proposal was missed"),
                Row(.timeout(.prevote, height: 1, round: 1), signed(precommit(1, nil, from: 4))),
                Row(.vote(precommit(1, nil, from: 1)), []),
                Row(.vote(precommit(1, nil, from: 3)), [timeout(.precommit, 1, 1)]),
                Row(.timeout(.precommit, height: 1, round: 1), [timeout(.propose, 1, 2)]),
                Row(
                    .proposal(proposal(2, B, vr: 1, from: 3), valid: true), signed(prevote(2, B, from: 4)),
                    state: { $0.locked == Lock(round: 0, valueID: A.id) }),
            ])
    }

    @Test("lines 36–41: a polka for another value in a later round moves the lock")
    func relockByLaterPolka() {
        var d = started(4)
        run(
            &d,
            [
                Row(.proposal(proposal(0, A, from: 1), valid: true), signed(prevote(0, A, from: 4))),
                Row(.vote(prevote(0, A, from: 1)), []),
                Row(.vote(prevote(0, A, from: 2)), signed(precommit(0, A, from: 4))),
                Row(.timeout(.precommit, height: 1, round: 0), [timeout(.propose, 1, 1)]),
                Row(
                    .proposal(proposal(1, B, from: 2), valid: true), signed(prevote(1, nil, from: 4)),
                    "line 26: locked on A"),
                Row(.vote(prevote(1, B, from: 1)), []),
                Row(.vote(prevote(1, B, from: 2)), [timeout(.prevote, 1, 1)]),
                Row(
                    .vote(prevote(1, B, from: 3)), signed(precommit(1, B, from: 4)),
                    state: { $0.locked == Lock(round: 1, valueID: B.id) && $0.valid?.value == B }),
            ])
    }

    @Test("lines 28–29, 31–32: locked in a round above vr on another value, or an invalid value: prevote nil")
    func proposalWithOlderPolkaRefused() {
        var d = started(4)
        run(
            &d,
            [
                Row(.timeout(.propose, height: 1, round: 0), signed(prevote(0, nil, from: 4))),
                Row(.vote(prevote(0, B, from: 1)), []),
                Row(.vote(prevote(0, B, from: 2)), [timeout(.prevote, 1, 0)]),
                Row(.vote(prevote(0, B, from: 3)), [], "polka for B in round 0"),
                Row(.timeout(.prevote, height: 1, round: 0), signed(precommit(0, nil, from: 4))),
                Row(.timeout(.precommit, height: 1, round: 0), [timeout(.propose, 1, 1)]),
                Row(.proposal(proposal(1, A, from: 2), valid: true), signed(prevote(1, A, from: 4))),
                Row(.vote(prevote(1, A, from: 1)), []),
                Row(.vote(prevote(1, A, from: 2)), signed(precommit(1, A, from: 4)), state: { $0.lockedRound == 1 }),
                Row(.timeout(.precommit, height: 1, round: 1), [timeout(.propose, 1, 2)]),
                Row(
                    .proposal(proposal(2, B, vr: 0, from: 3), valid: true), signed(prevote(2, nil, from: 4)), "line 32"),
            ])
        // An invalid value with a good polka round is refused too (line 29: valid(v)).
        var e = started(4)
        run(
            &e,
            [
                Row(.vote(prevote(0, B, from: 1)), []),
                Row(.vote(prevote(0, B, from: 2)), []),
                Row(.vote(prevote(0, B, from: 3)), []),
                Row(.timeout(.precommit, height: 1, round: 0), [timeout(.propose, 1, 1)]),
                Row(.proposal(proposal(1, B, vr: 0, from: 2), valid: false), signed(prevote(1, nil, from: 4))),
            ])
    }

    @Test("line 28: a proposal whose polka round has no polka yet waits for it")
    func proposalWaitsForItsPolka() {
        var d = started(4)
        run(
            &d,
            [
                Row(.timeout(.precommit, height: 1, round: 0), [timeout(.propose, 1, 1)]),
                Row(.proposal(proposal(1, B, vr: 0, from: 2), valid: true), [], "no polka in round 0 yet"),
                Row(.vote(prevote(0, B, from: 1)), []),
                Row(.vote(prevote(0, B, from: 2)), []),
                Row(.vote(prevote(0, B, from: 3)), signed(prevote(1, B, from: 4)), "now line 28 holds"),
            ])
    }
}
