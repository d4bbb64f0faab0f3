import Testing
import Wire

@testable import Tendermint

private let A = value("A")
private let B = value("B")

@Suite("Driver: evidence, double-sign guard, restart, host errors")
struct DriverTests {
    @Test("equivocation: both votes become evidence, the first vote stays the validator's vote")
    func voteEquivocation() {
        var d = started(2)
        let first = prevote(0, A, from: 3)
        let second = prevote(0, B, from: 3)
        run(
            &d,
            [
                Row(.vote(first), []),
                Row(.vote(second), [.evidence(.conflictingVotes(first: first, second: second))]),
                Row(.vote(second), [], "the same conflicting vote again: a duplicate"),
                Row(.vote(first), [], "a duplicate"),
            ])
        let keeper = d.voteKeeper!
        // a3's vote is its first one; the conflicting one counts for B only (never twice for one
        // value, and once in the "anything" total).
        #expect(keeper.vote(.prevote, round: 0, from: addr(3)) == first)
        #expect(keeper.power(.prevote, round: 0, for: A.id) == 1)
        #expect(keeper.power(.prevote, round: 0, for: B.id) == 1)
        #expect(!keeper.hasOneThird(round: 0), "a3 takes part once: 1 of 4")
        #expect(keeper.counters.duplicates == 2)
        #expect(keeper.counters.equivocations == 1)
        #expect(keeper.evidence.allSatisfy { $0.culprit == addr(3) })
    }

    @Test("a prevote and a precommit of one validator in one round are no equivocation")
    func differentTypesDoNotConflict() {
        var d = started(2)
        run(&d, [Row(.vote(prevote(0, A, from: 3)), []), Row(.vote(precommit(0, nil, from: 3)), [])])
        #expect(d.voteKeeper!.counters.equivocations == 0)
    }

    @Test("two proposals of one proposer for one round are evidence; both are kept for lines 36 and 49")
    func proposalEquivocation() {
        var d = started(2)
        let pa = proposal(0, A, from: 1)
        let pb = proposal(0, B, from: 1)
        let cert = CommitCertificate(
            height: 1, round: 0, valueID: B.id,
            precommits: [precommit(0, B, from: 1), precommit(0, B, from: 3), precommit(0, B, from: 4)])
        run(
            &d,
            [
                Row(.proposal(pa, valid: true), signed(prevote(0, A, from: 2))),
                Row(.proposal(pb, valid: true), [.evidence(.conflictingProposals(first: pa, second: pb))]),
                Row(.proposal(pa, valid: true), [], "a duplicate"),
                Row(.vote(precommit(0, B, from: 1)), []),
                Row(.vote(precommit(0, B, from: 3)), []),
                Row(.vote(precommit(0, B, from: 4)), [.decide(height: 1, round: 0, value: B, certificate: cert)]),
            ])
        #expect(d.counters.duplicateProposals == 1)
        #expect(d.counters.conflictingProposals == 1)
    }

    @Test("double-sign guard: a second, different vote for one (height, round, type) is refused")
    func doubleSignRefused() {
        var d = started(2)
        run(&d, [Row(.proposal(proposal(0, A, from: 1), valid: true), signed(prevote(0, A, from: 2)))])
        // As if a damaged restart put the node back in propose: line 59 would now prevote nil.
        d._forceStep(.propose)
        run(&d, [Row(.timeout(.propose, height: 1, round: 0), [], "refused: prevote for A already signed")])
        #expect(d.counters.doubleSignRefused == 1)
        #expect(d.roundState.step == .prevote)
    }

    @Test("restart: the signed votes come back, are re-sent without a new signature, and the lock holds")
    func restoreVotes() {
        let records: [SignedMessage] = [.vote(prevote(0, A, from: 2)), .vote(precommit(0, A, from: 2), value: A)]
        var (d, effects) = Driver.restore(config: config(2), height: 1, validators: fourEqual, signed: records)
        #expect(effects == [.broadcastVote(prevote(0, A, from: 2)), .broadcastVote(precommit(0, A, from: 2))])
        #expect(d.roundState.round == 0 && d.roundState.step == .precommit)
        #expect(d.roundState.locked == Lock(round: 0, valueID: A.id))
        #expect(d.roundState.valid == ValidValue(round: 0, value: A), "the lock's value can be proposed again")
        run(
            &d,
            [
                Row(.proposal(proposal(0, B, from: 1), valid: true), [], "already prevoted in round 0"),
                Row(.timeout(.prevote, height: 1, round: 0), [], "already precommitted"),
                Row(
                    .timeout(.precommit, height: 1, round: 0), signed(proposal(1, A, vr: 0, from: 2)),
                    "line 16: re-proposes the value it is locked on"),
                Row(.timeout(.precommit, height: 1, round: 1), [timeout(.propose, 1, 2)]),
                Row(.proposal(proposal(2, B, from: 3), valid: true), signed(prevote(2, nil, from: 2)), "locked on A"),
            ])
        #expect(d.counters.doubleSignRefused == 0)
    }

    @Test("restart of a proposer that signed its proposal: the same proposal is re-sent, no getValue")
    func restoreProposal() {
        let p = proposal(0, A, from: 1)
        let (d, effects) = Driver.restore(config: config(1), height: 1, validators: fourEqual, signed: [.proposal(p)])
        #expect(effects == [.broadcastProposal(p), timeout(.propose, 1, 0)] + signed(prevote(0, A, from: 1)))
        #expect(d.roundState.step == .prevote)
    }

    @Test("restart without records of the height starts it afresh; records of other heights are ignored")
    func restoreEmpty() {
        let (d, effects) = Driver.restore(
            config: config(2), height: 1, validators: fourEqual, signed: [.vote(prevote(3, A, from: 2, h: 9))])
        #expect(effects == [timeout(.propose, 1, 0)])
        #expect(d.phase == .running)
    }

    @Test("a host error fails the driver, which then refuses every input")
    func errorState() {
        var d = started(2)
        #expect(throws: DriverError.newHeightBeforeDecision(running: 1)) { try d.handle(.newHeight(fourEqual)) }
        #expect(d.phase == .failed(.newHeightBeforeDecision(running: 1)))
        #expect(throws: DriverError.failed(.newHeightBeforeDecision(running: 1))) {
            try d.handle(.vote(prevote(0, A, from: 3)))
        }
        var e = started(2)
        #expect(throws: DriverError.unrequestedValue(height: 1, round: 0)) {
            try e.handle(.proposeValue(A, height: 1, round: 0))
        }
    }

    @Test("a late answer to getValue is stale, not an error")
    func staleValue() {
        var d = Driver(config: config(1), height: 1)
        run(
            &d,
            [
                Row(.newHeight(fourEqual), [.getValue(height: 1, round: 0), timeout(.propose, 1, 0)]),
                Row(.timeout(.propose, height: 1, round: 0), signed(prevote(0, nil, from: 1))),
                Row(.proposeValue(A, height: 1, round: 0), []),
            ])
        #expect(d.counters.staleValues == 1)
    }

    @Test("next-height messages wait for newHeight; older ones and far-future rounds are dropped")
    func buffering() {
        var d = started(2)
        let early = prevote(0, A, from: 3, h: 2)
        run(
            &d,
            [
                Row(.vote(early), []),
                Row(.vote(prevote(0, A, from: 3, h: 5)), []),
                Row(.vote(prevote(5000, A, from: 3)), [], "beyond maxFutureRounds"),
                Row(.proposal(proposal(0, A, from: 1), valid: true), signed(prevote(0, A, from: 2))),
                Row(.vote(precommit(0, A, from: 1)), []),
                Row(.vote(precommit(0, A, from: 3)), []),
            ])
        #expect(d.bufferedCount == 1)
        #expect(d.counters.staleMessages == 1)
        #expect(d.counters.roundTooFar == 1)
        _ = try! d.handle(.vote(precommit(0, A, from: 4)))
        #expect(d.phase == .decided)
        _ = try! d.handle(.newHeight(try! fourEqual.next()))
        #expect(d.voteKeeper?.vote(.prevote, round: 0, from: addr(3)) == early)
        #expect(d.bufferedCount == 0)
    }

    @Test("a node outside the validator set follows and decides without ever signing")
    func follower() {
        var d = started(9)
        let cert = CommitCertificate(
            height: 1, round: 0, valueID: A.id,
            precommits: [precommit(0, A, from: 1), precommit(0, A, from: 2), precommit(0, A, from: 3)])
        run(
            &d,
            [
                Row(.proposal(proposal(0, A, from: 1), valid: true), []),
                Row(.timeout(.propose, height: 1, round: 0), []),
                Row(.vote(precommit(0, A, from: 1)), []),
                Row(.vote(precommit(0, A, from: 2)), []),
                Row(.vote(precommit(0, A, from: 3)), [.decide(height: 1, round: 0, value: A, certificate: cert)]),
            ])
    }

    @Test("timeouts grow with the round and saturate")
    func timeoutsGrow() {
        #expect(testTimeouts.duration(.propose, round: 0) == 300)
        #expect(testTimeouts.duration(.propose, round: 3) == 600)
        #expect(testTimeouts.duration(.prevote, round: 2) == 300)
        #expect(testTimeouts.duration(.precommit, round: 4) == 400)
        let huge = TimeoutConfig(propose: .max - 1, proposeDelta: .max)
        #expect(huge.duration(.propose, round: 2) == .max)
    }
}

@Suite("Driver: block sync and counting an equivocator's other vote")
struct DriverSyncTests {
    @Test("line 49 from a commit certificate: with the proposal it decides; a bad certificate is counted and ignored")
    func certificate() {
        var d = started(2)
        let good = CommitCertificate(
            height: 1, round: 3, valueID: A.id,
            precommits: [precommit(3, A, from: 1), precommit(3, A, from: 3), precommit(3, A, from: 4)])
        let short = CommitCertificate(
            height: 1, round: 3, valueID: A.id, precommits: [precommit(3, A, from: 1), precommit(3, A, from: 3)])
        run(
            &d,
            [
                Row(.commitCertificate(short), [], "2 of 4 is no quorum"),
                Row(
                    .commitCertificate(good), [timeout(.propose, 1, 3), timeout(.precommit, 1, 3)],
                    "its votes count: f + 1 of round 3 (line 55), 2f + 1 precommits (line 47)"),
                Row(
                    .proposal(proposal(3, A, from: 4), valid: true),
                    [.decide(height: 1, round: 3, value: A, certificate: good)]),
            ])
        #expect(d.counters.invalidCertificates == 1)
    }

    /// a3 equivocates; a2 got its nil prevote first. a1, a4 and a3's other prevote for A are a
    /// polka for A as every peer counts it, and a2 must see it too (else one equivocator could
    /// stall a correct node forever).
    @Test("an equivocator's conflicting vote counts toward its own value: the polka others see is seen")
    func equivocatorCountsForBoth() {
        var d = started(2)
        let p = proposal(0, A, from: 1)
        run(
            &d,
            [
                Row(.vote(prevote(0, nil, from: 3)), []),
                Row(.timeout(.propose, height: 1, round: 0), signed(prevote(0, nil, from: 2))),
                Row(.vote(prevote(0, A, from: 1)), [timeout(.prevote, 1, 0)]),
                Row(
                    .vote(prevote(0, A, from: 3)),
                    [.evidence(.conflictingVotes(first: prevote(0, nil, from: 3), second: prevote(0, A, from: 3)))]),
                Row(.vote(prevote(0, A, from: 4)), [], "polka for A (a1, a3, a4), but no proposal yet"),
                Row(
                    .proposal(p, valid: true), signed(precommit(0, A, from: 2)), "line 36: still in prevote",
                    state: { $0.locked == Lock(round: 0, valueID: A.id) }),
            ])
    }
}
