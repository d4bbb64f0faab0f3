import PropertyBased
import Testing
import Wire

@testable import Tendermint

private func set(_ powers: [(UInt8, UInt64)]) -> ValidatorSet {
    try! ValidatorSet(powers.map { Validator(address: addr($0.0), power: $0.1) })
}

/// Proposers of rounds 0..<count of one height.
private func roundProposers(_ s: ValidatorSet, _ count: Int) -> [UInt8] {
    (0..<count).map { s.proposer(forRound: Round(Int64($0))).address.bytes[19] }
}

/// Proposers of round 0 of `count` consecutive heights.
private func heightProposers(_ s: ValidatorSet, _ count: Int) -> [UInt8] {
    var current = s
    var out: [UInt8] = []
    for _ in 0..<count {
        out.append(current.proposer.address.bytes[19])
        current = try! current.next()
    }
    return out
}

@Suite("Proposer rotation (CometBFT's proposer-priority algorithm)")
struct ProposerSelectionTests {
    @Test("equal powers: round robin by address")
    func roundRobin() {
        #expect(roundProposers(fourEqual, 8) == [1, 2, 3, 4, 1, 2, 3, 4])
        #expect(heightProposers(fourEqual, 8) == [1, 2, 3, 4, 1, 2, 3, 4])
    }

    @Test("weighted: the sequences of the spec (p1:1, p2:3 → p2 p1 p2 p2; p0:4 and three of 2)")
    func weighted() {
        #expect(heightProposers(set([(1, 1), (2, 3)]), 8) == [2, 1, 2, 2, 2, 1, 2, 2])
        #expect(heightProposers(set([(1, 4), (2, 2), (3, 2), (4, 2)]), 10) == [1, 2, 3, 4, 1, 1, 2, 3, 4, 1])
    }

    @Test("one batch of r elections equals r heights of one election each, for a stable set")
    func batchMatchesSequence() {
        let s = set([(1, 5), (2, 1), (3, 7), (4, 2), (5, 3)])
        #expect(roundProposers(s, 40) == heightProposers(s, 40))
        var schedule = ProposerSchedule(s)
        #expect((0..<40).map { schedule.proposer(Round(Int64($0))).bytes[19] } == roundProposers(s, 40))
    }

    @Test("fairness: over P elections from genesis each validator proposes exactly its power")
    func fairness() async {
        await propertyCheck(count: 60, input: Gen.uint64(in: 1...6).array(of: 1...6)) { powers in
            let s = set(powers.enumerated().map { (UInt8($0.offset + 1), $0.element) })
            let total = Int(s.totalPower)
            var counts = [UInt8: UInt64]()
            for p in roundProposers(s, total) { counts[p, default: 0] += 1 }
            for v in s.validators { #expect(counts[v.address.bytes[19], default: 0] == v.power) }
        }
    }

    @Test("scaling: a spread above 2P is divided down, then centred (spec example: p2, p3 at 10)")
    func scaling() throws {
        let s = try ValidatorSet(
            validators: [Validator(address: addr(2), power: 10), Validator(address: addr(3), power: 10)],
            priorities: [-15_000, -60_000], proposer: addr(2))
        // ratio ⌈45000 / 40⌉ = 1125 → (−13, −53); centre −33 → (20, −20); elect → (30 − 20, −10).
        let n = try s.next()
        #expect(n.priorities == [10, -10])
        #expect(n.proposer.address == addr(2))
    }

    @Test("centring rounds the average down (Euclidean division) and ties go to the lower address")
    func centringAndTies() throws {
        let s = try ValidatorSet(
            validators: [Validator(address: addr(1), power: 1), Validator(address: addr(2), power: 1)],
            priorities: [0, -1], proposer: addr(1))
        // sum −1, average ⌊−1/2⌋ = −1 → (1, 0); +1 → (2, 1); a1 elected → (0, 1).
        let n = try s.next()
        #expect(n.priorities == [0, 1])
        #expect(n.proposer.address == addr(1))
        let tie = try ValidatorSet(
            validators: [Validator(address: addr(7), power: 1), Validator(address: addr(3), power: 1)],
            priorities: [0, 0], proposer: addr(7))
        #expect(try tie.next().proposer.address == addr(3))
    }

    @Test("changes: a new validator starts at −1.125 × P; removal and zero-power rules")
    func changes() throws {
        let s = set([(1, 1), (2, 3)])
        let n = try s.next(changes: [Validator(address: addr(3), power: 8)])
        #expect(n.count == 3 && n.totalPower == 12)
        // Before: (1, −1); a3 joins at −(12 + 12 >> 3) = −13; centre ⌊−13/3⌋ = −5 → (6, 4, −8): a3 at
        // the back. Election: (7, 7, 0) → a1 (lower address on the tie) → (−5, 7, 0).
        #expect(n.priorities == [-5, 7, 0])
        #expect(n.proposer.address == addr(1))
        let removed = try s.next(changes: [Validator(address: addr(1), power: 0)])
        #expect(removed.count == 1 && removed.proposer.address == addr(2))
        #expect(throws: ValidatorSet.Error.removingUnknown(addr(9))) {
            try s.next(changes: [Validator(address: addr(9), power: 0)])
        }
        #expect(throws: ValidatorSet.Error.empty) { try ValidatorSet([]) }
        #expect(throws: ValidatorSet.Error.zeroPower(addr(1))) {
            try ValidatorSet([Validator(address: addr(1), power: 0)])
        }
        #expect(throws: ValidatorSet.Error.duplicate(addr(1))) {
            try ValidatorSet([Validator(address: addr(1), power: 1), Validator(address: addr(1), power: 2)])
        }
        #expect(throws: ValidatorSet.Error.totalPowerTooLarge) {
            try ValidatorSet([
                Validator(address: addr(1), power: ValidatorSet.maxTotalPower), Validator(address: addr(2), power: 1),
            ])
        }
    }

    @Test("priorities clip at the Int64 bounds instead of overflowing")
    func clipping() throws {
        let s = try ValidatorSet(
            validators: [
                Validator(address: addr(1), power: ValidatorSet.maxTotalPower / 2),
                Validator(address: addr(2), power: ValidatorSet.maxTotalPower / 2),
            ],
            priorities: [.max - 3, .min + 3], proposer: addr(1))
        let n = try s.next()
        #expect(n.priorities.allSatisfy { $0 > .min && $0 < .max })
    }
}

@Suite("VoteKeeper thresholds")
struct VoteKeeperTests {
    let A = value("A")

    @Test("weighted thresholds: > 2/3 for polka and commit, > 1/3 for the round skip")
    func weighted() {
        // Powers 1, 2, 3, 4 (total 10): a quorum needs 7, f + 1 needs 4.
        let s = set([(1, 1), (2, 2), (3, 3), (4, 4)])
        var k = VoteKeeper(height: 1, validators: s)
        #expect(k.add(prevote(0, A, from: 4)) == .added)
        #expect(k.hasOneThird(round: 0), "4 of 10 is more than 1/3")
        #expect(k.add(prevote(0, A, from: 2)) == .added)
        #expect(!k.hasPolka(round: 0, for: A.id), "6 of 10")
        #expect(k.add(prevote(0, nil, from: 1)) == .added)
        #expect(k.hasPolkaAny(round: 0), "7 of 10")
        #expect(!k.hasPolkaNil(round: 0))
        #expect(k.add(prevote(0, A, from: 3)) == .added)
        #expect(k.hasPolka(round: 0, for: A.id), "9 of 10")
        #expect(!k.hasPrecommitAny(round: 0))
    }

    @Test("exact boundaries: 2/3 is not a quorum, 1/3 is not f + 1")
    func boundaries() {
        let s = set([(1, 1), (2, 1), (3, 1)])
        var k = VoteKeeper(height: 1, validators: s)
        _ = k.add(precommit(0, A, from: 1))
        #expect(!k.hasOneThird(round: 0))
        _ = k.add(precommit(0, A, from: 2))
        #expect(k.hasOneThird(round: 0))
        #expect(!k.hasCommit(round: 0, for: A.id), "2 of 3 is not more than 2/3")
        _ = k.add(precommit(0, A, from: 3))
        #expect(k.hasCommit(round: 0, for: A.id))
        #expect(k.commitQuorums.count == 1 && k.commitQuorums[0].round == 0)
        #expect(k.highestRoundWithOneThird == 0)
    }

    @Test("a validator counts once towards f + 1 of a round, whatever it sent")
    func participantsOnce() {
        let s = set([(1, 1), (2, 1), (3, 1), (4, 1)])
        var k = VoteKeeper(height: 1, validators: s)
        _ = k.add(prevote(3, A, from: 1))
        _ = k.add(precommit(3, A, from: 1))
        #expect(!k.hasOneThird(round: 3))
        _ = k.add(precommit(3, nil, from: 2))
        #expect(k.hasOneThird(round: 3) && k.highestRoundWithOneThird == 3)
    }

    @Test("unknown validators and other heights are refused and counted")
    func refused() {
        var k = VoteKeeper(height: 1, validators: fourEqual)
        #expect(k.add(prevote(0, A, from: 9)) == .unknownValidator)
        #expect(k.add(prevote(0, A, from: 1, h: 2)) == .wrongHeight)
        #expect(k.counters.unknownValidator == 1 && k.counters.wrongHeight == 1)
    }

    @Test("huge powers: tallies in 128 bits never overflow")
    func hugePowers() {
        let big = ValidatorSet.maxTotalPower / 4
        let s = set([(1, big), (2, big), (3, big), (4, big)])
        var k = VoteKeeper(height: 1, validators: s)
        for n: UInt8 in 1...3 { _ = k.add(prevote(0, A, from: n)) }
        #expect(k.hasPolka(round: 0, for: A.id))
        #expect(k.power(.prevote, round: 0, for: A.id) == UInt128(big) * 3)
    }
}

// MARK: Wire format

private let anyAddress = Gen.uint8().array(of: 20...20).map { try! Address(bytes: $0) }
private let anyValue = Gen.uint8().array(of: 0...40).map { Value(bytes: $0) }
private let anyRound = Gen.int64(in: 0...1_000_000).map { Round($0) }
private let anyHeight = Gen.uint64().map { Height($0) }
private let anyValueID = anyValue.map(\.id).optional
private let anyVote = zip(Gen.bool, anyHeight, anyRound, anyValueID, anyAddress).map {
    Vote(type: $0 ? .prevote : .precommit, height: $1, round: $2, valueID: $3, validator: $4)
}
private let anyProposal = zip(
    anyHeight, Gen.int64(in: 1...1_000_000), anyValue, Gen.int64(in: -1...1_000_000), anyAddress
)
.map { h, r, v, vr, a in
    Proposal(height: h, round: Round(r), value: v, validRound: Round(min(vr, r - 1)), proposer: a)
}

private func roundTrips<M: WireMessage>(_ m: M) {
    let bytes = m.encoded()
    #expect((try? M.decode(bytes)) == m)
    #expect((try? M.decode(bytes))?.encoded() == bytes)
    if !bytes.isEmpty { #expect(throws: WireError.self) { try M.decode(Array(bytes.dropLast())) } }
    #expect(throws: WireError.self) { try M.decode(bytes + [0]) }
}

@Suite("Consensus messages on the wire")
struct ConsensusWireTests {
    @Test("votes, proposals, signed records, evidence round-trip canonically")
    func roundTrip() async {
        await propertyCheck(count: 200, input: anyVote, anyProposal) { vote, proposal in
            roundTrips(vote)
            roundTrips(proposal)
            roundTrips(SignedMessage.vote(vote))
            if vote.type == .precommit, let id = vote.valueID, id == proposal.value.id {
                roundTrips(SignedMessage.vote(vote, value: proposal.value))
            }
            let locking = Vote.precommit(vote.height, vote.round, proposal.value.id, from: vote.validator)
            roundTrips(SignedMessage.vote(locking, value: proposal.value))
            var bad = WireWriter()
            bad.writeUInt8(2)
            bad.writeMessage(vote)
            bad.writeOptional(value("other")) { $0.writeMessage($1) }
            #expect(throws: WireError.self) { try SignedMessage.decode(bad.take()) }
            roundTrips(SignedMessage.proposal(proposal))
            let other = Vote(
                type: vote.type, height: vote.height, round: vote.round,
                valueID: vote.valueID == nil ? value("x").id : nil, validator: vote.validator)
            roundTrips(Evidence.conflictingVotes(first: vote, second: other))
            roundTrips(proposal.value)
        }
    }

    @Test("validator sets and commit certificates round-trip; unsorted or bad ones are refused")
    func setsAndCertificates() throws {
        let s = try set([(1, 5), (2, 1), (3, 7)]).next()
        roundTrips(s)
        let cert = CommitCertificate(
            height: 3, round: 1, valueID: value("A").id,
            precommits: (1...3).map { precommit(1, value("A"), from: $0, h: 3) })
        roundTrips(cert)
        var w = WireWriter()
        w.writeUInt32(2)
        for n: UInt8 in [2, 1] {
            w.writeMessage(Validator(address: addr(n), power: 1))
            w.writeInt64(0)
        }
        w.writeAddress(addr(1))
        #expect(throws: WireError.self) { try ValidatorSet.decode(w.take()) }
    }

    @Test("decoders refuse undefined rounds and a validRound not below the round")
    func invalidRounds() {
        var bad = prevote(0, nil, from: 1).encoded()
        for i in 9..<17 { bad[i] = 0xff }  // round = −1
        #expect(throws: WireError.self) { try Vote.decode(bad) }
        var w = WireWriter()
        w.writeUInt64(1)
        w.writeInt64(2)
        w.writeMessage(value("A"))
        w.writeInt64(2)
        w.writeAddress(addr(1))
        #expect(throws: WireError.self) { try Proposal.decode(w.take()) }
    }

    @Test("sign bytes are domain-separated and bound to the chain id")
    func signBytes() {
        let v = prevote(0, value("A"), from: 1)
        let p = proposal(0, value("A"), from: 1)
        #expect(v.signBytes(chainID: "a") != v.signBytes(chainID: "b"))
        #expect(p.signBytes(chainID: "a") != p.signBytes(chainID: "b"))
        var tagged = WireWriter()
        tagged.writeString("vn/tendermint/vote/v1")
        tagged.writeString("a")
        #expect(v.signBytes(chainID: "a").starts(with: tagged.take()))
        #expect(!p.signBytes(chainID: "a").starts(with: Array("\u{0}\u{0}\u{0}\u{15}vn/tendermint/vote".utf8)))
        // A precommit never signs the same bytes as a prevote.
        #expect(precommit(0, value("A"), from: 1).signBytes(chainID: "a") != v.signBytes(chainID: "a"))
        // Proposals sign the value's id, not its bytes (a CometBFT-style block id).
        #expect(p.signBytes(chainID: "a").count < 200)
    }

    @Test("a value's id is recomputed from its bytes on decode")
    func valueID() throws {
        let v = value("hello")
        #expect(v.id == Value.id(of: Array("hello".utf8)))
        let decoded = try Value.decode(v.encoded())
        #expect(decoded.id == v.id)
        #expect(ValueID(bytes: v.id.bytes) == v.id)
    }
}
