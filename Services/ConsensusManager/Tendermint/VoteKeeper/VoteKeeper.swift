import Wire

/// The votes of one `(height, round, type)` and the power behind each value (`nil` = votes for
/// nil). Tallies are `UInt128`: they cannot overflow.
///
/// Each validator's first vote is *its* vote: the one `vote(of:)` returns and the one counted in
/// `totalPower` (the "for anything" thresholds). A conflicting vote from the same validator is
/// evidence; it is also counted toward its own value's tally, once per value — exactly the
/// paper's counting of `2f + 1 ⟨PREVOTE, h, r, id(v)⟩` messages, which an equivocator may send
/// for several values. (Safe: correct validators never vote twice, so two quorums for different
/// values still need more than 1/3 of the power to equivocate. Needed for liveness: a node that
/// received an equivocator's other vote first must still see the quorum the others see;
/// CometBFT reaches the same end with its `VoteSetMaj23` messages.) At most
/// `maxVotesPerValidator` distinct votes of one validator are counted.
public struct VoteSet: Sendable {
    public static let maxVotesPerValidator = 4

    enum InsertOutcome {
        case added
        case duplicate
        /// A different vote than `first`; `counted` tells whether it went into its value's tally.
        case conflict(first: Vote, counted: Bool)
    }

    /// Indexed by the validator's position in the set.
    private var first: [Vote?]
    /// Conflicting votes, by validator index (rare: only equivocators).
    private var conflicting: [Int: [Vote]] = [:]
    private var tally: [ValueID?: UInt128] = [:]
    /// Power of the validators that voted (each once, whatever and however often it voted).
    public private(set) var totalPower: UInt128 = 0

    init(validatorCount: Int) { first = Array(repeating: nil, count: validatorCount) }

    /// The validator's first vote.
    public func vote(of index: Int) -> Vote? { first[index] }
    public func power(for valueID: ValueID?) -> UInt128 { tally[valueID] ?? 0 }

    /// Every vote for `valueID` (first or conflicting), ordered by validator index.
    public func votes(for valueID: ValueID?) -> [Vote] {
        var out: [(Int, Vote)] = []
        for (i, v) in first.enumerated() where v?.valueID == valueID && v != nil { out.append((i, v!)) }
        for (i, list) in conflicting {
            for v in list where v.valueID == valueID { out.append((i, v)) }
        }
        return out.sorted { $0.0 < $1.0 }.map(\.1)
    }

    mutating func insert(_ vote: Vote, index: Int, power: UInt64) -> InsertOutcome {
        guard let existing = first[index] else {
            first[index] = vote
            tally[vote.valueID, default: 0] += UInt128(power)
            totalPower += UInt128(power)
            return .added
        }
        if existing == vote { return .duplicate }
        var others = conflicting[index] ?? []
        if others.contains(vote) { return .duplicate }
        guard 1 + others.count < Self.maxVotesPerValidator else { return .conflict(first: existing, counted: false) }
        others.append(vote)
        conflicting[index] = others
        tally[vote.valueID, default: 0] += UInt128(power)
        return .conflict(first: existing, counted: true)
    }
}

/// The prevotes and precommits of one round, and who took part in it at all.
struct RoundVotes: Sendable {
    var prevotes: VoteSet
    var precommits: VoteSet
    /// Validators (by index) that sent any vote in this round, counted once each (line 55).
    private var participated: [Bool]
    private(set) var participantPower: UInt128 = 0

    init(validatorCount: Int) {
        prevotes = VoteSet(validatorCount: validatorCount)
        precommits = VoteSet(validatorCount: validatorCount)
        participated = Array(repeating: false, count: validatorCount)
    }

    subscript(type: VoteType) -> VoteSet {
        get { type == .prevote ? prevotes : precommits }
        _modify {
            if type == .prevote { yield &prevotes } else { yield &precommits }
        }
    }

    /// True the first time `index` takes part in this round.
    mutating func participate(_ index: Int, power: UInt64) -> Bool {
        guard !participated[index] else { return false }
        participated[index] = true
        participantPower += UInt128(power)
        return true
    }
}

/// Every vote of one height, by round and type, with the thresholds Algorithm 1 waits for
/// (malachite's `core-votekeeper`).
///
/// - a duplicate (the same vote again) is ignored and counted;
/// - an equivocation (a different vote from the same validator for the same round and type) is
///   recorded as evidence with both votes; the first vote stays the validator's vote (see
///   `VoteSet` for how the second is counted toward its own value only);
/// - votes from outside the validator set or for another height are refused and counted.
public struct VoteKeeper: Sendable {
    public enum Outcome: Hashable, Sendable {
        case added
        case duplicate
        case equivocation(Evidence)
        case unknownValidator
        case wrongHeight
    }

    public struct Counters: Hashable, Sendable {
        public var added: UInt64 = 0
        public var duplicates: UInt64 = 0
        public var equivocations: UInt64 = 0
        public var unknownValidator: UInt64 = 0
        public var wrongHeight: UInt64 = 0
    }

    public let height: Height
    public let validators: ValidatorSet
    private var rounds: [Round: RoundVotes] = [:]
    /// Every `(round, value)` whose precommits reached a quorum, in the order they did (line 49).
    public private(set) var commitQuorums: [(round: Round, valueID: ValueID)] = []
    /// The highest round in which more than 1/3 of the power has voted (line 55).
    public private(set) var highestRoundWithOneThird: Round = .none
    public private(set) var evidence: [Evidence] = []
    public private(set) var counters = Counters()

    public init(height: Height, validators: ValidatorSet) {
        self.height = height
        self.validators = validators
    }

    public mutating func add(_ vote: Vote) -> Outcome {
        guard vote.height == height else {
            counters.wrongHeight += 1
            return .wrongHeight
        }
        guard let index = validators.index(of: vote.validator) else {
            counters.unknownValidator += 1
            return .unknownValidator
        }
        let power = validators.validators[index].power
        let count = validators.count
        // The round's sets are mutated in place (no copy of them per vote).
        let result = Self.insert(
            vote, index: index, power: power, validators: validators,
            into: &rounds[vote.round, default: RoundVotes(validatorCount: count)])
        switch result {
        case .duplicate:
            counters.duplicates += 1
            return .duplicate
        case .conflict(let existing, let commitNow):
            let e = Evidence.conflictingVotes(first: existing, second: vote)
            evidence.append(e)
            counters.equivocations += 1
            if commitNow, let id = vote.valueID { commitQuorums.append((vote.round, id)) }
            return .equivocation(e)
        case .added(let oneThirdNow, let commitNow):
            counters.added += 1
            if oneThirdNow, vote.round > highestRoundWithOneThird { highestRoundWithOneThird = vote.round }
            if commitNow, let id = vote.valueID { commitQuorums.append((vote.round, id)) }
            return .added
        }
    }

    private enum InsertResult {
        case duplicate
        /// Whether a new first vote took the round's participants over 1/3, and whether the
        /// vote took its value's precommits over 2/3.
        case added(oneThird: Bool, commit: Bool)
        case conflict(Vote, commit: Bool)
    }

    private static func insert(
        _ vote: Vote, index: Int, power: UInt64, validators: ValidatorSet, into round: inout RoundVotes
    ) -> InsertResult {
        func crossesCommit(_ round: RoundVotes) -> Bool {
            guard vote.type == .precommit, let id = vote.valueID else { return false }
            let after = round.precommits.power(for: id)
            return validators.isQuorum(after) && !validators.isQuorum(after - UInt128(power))
        }
        switch round[vote.type].insert(vote, index: index, power: power) {
        case .duplicate:
            return .duplicate
        case .conflict(let existing, let counted):
            return .conflict(existing, commit: counted && crossesCommit(round))
        case .added:
            let oneThird = round.participate(index, power: power) && validators.isOneThird(round.participantPower)
            return .added(oneThird: oneThird, commit: crossesCommit(round))
        }
    }

    // MARK: Thresholds

    /// More than 2/3 of the power voted `type` for `valueID` (nil = for nil) in `round`:
    /// a polka for a value or for nil (prevotes), a commit quorum (precommits).
    public func hasQuorum(_ type: VoteType, round: Round, for valueID: ValueID?) -> Bool {
        guard let r = rounds[round] else { return false }
        return validators.isQuorum(r[type].power(for: valueID))
    }

    /// More than 2/3 of the power voted `type` in `round`, for anything (`2f + 1 ⟨·, h, r, ∗⟩`).
    public func hasQuorumForAny(_ type: VoteType, round: Round) -> Bool {
        guard let r = rounds[round] else { return false }
        return validators.isQuorum(r[type].totalPower)
    }

    /// Polka for `id(v)` in `round` (lines 28, 36).
    public func hasPolka(round: Round, for valueID: ValueID) -> Bool { hasQuorum(.prevote, round: round, for: valueID) }
    /// Polka for anything (line 34).
    public func hasPolkaAny(round: Round) -> Bool { hasQuorumForAny(.prevote, round: round) }
    /// Polka for nil (line 44).
    public func hasPolkaNil(round: Round) -> Bool { hasQuorum(.prevote, round: round, for: nil) }
    /// Commit quorum for `id(v)` (line 49).
    public func hasCommit(round: Round, for valueID: ValueID) -> Bool {
        hasQuorum(.precommit, round: round, for: valueID)
    }
    /// Precommits for anything (line 47).
    public func hasPrecommitAny(round: Round) -> Bool { hasQuorumForAny(.precommit, round: round) }

    /// More than 1/3 of the power sent some vote in `round` (line 55: `f + 1 ⟨∗, h_p, round, ∗, ∗⟩`).
    public func hasOneThird(round: Round) -> Bool {
        guard let r = rounds[round] else { return false }
        return validators.isOneThird(r.participantPower)
    }

    /// The votes of `type` for `valueID` in `round`, ordered by validator address.
    public func votes(_ type: VoteType, round: Round, for valueID: ValueID?) -> [Vote] {
        rounds[round]?[type].votes(for: valueID) ?? []
    }

    /// The vote `validator` cast (the first one kept), if any.
    public func vote(_ type: VoteType, round: Round, from validator: Address) -> Vote? {
        guard let index = validators.index(of: validator) else { return nil }
        return rounds[round]?[type].vote(of: index)
    }

    /// Power of the votes of `type` for `valueID` in `round`.
    public func power(_ type: VoteType, round: Round, for valueID: ValueID?) -> UInt128 {
        rounds[round]?[type].power(for: valueID) ?? 0
    }
}
