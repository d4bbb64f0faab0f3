import Wire

/// `lockedValue_p` / `lockedRound_p` (lines 6–7). Only the id is needed: the lock is only ever
/// compared with proposed values (lines 23, 29), never proposed itself.
public struct Lock: Hashable, Sendable, CustomStringConvertible {
    public let round: Round
    public let valueID: ValueID
    public init(round: Round, valueID: ValueID) {
        self.round = round
        self.valueID = valueID
    }
    public var description: String { "\(valueID)@\(round)" }
}

/// `validValue_p` / `validRound_p` (lines 8–9): what a proposer re-proposes (line 16).
public struct ValidValue: Hashable, Sendable, CustomStringConvertible {
    public let round: Round
    public let value: Value
    public init(round: Round, value: Value) {
        self.round = round
        self.value = value
    }
    public var description: String { "\(value.id)@\(round)" }
}

/// The variables of Algorithm 1 for the current height (lines 2–9), plus the "for the first
/// time" flags of the current round (lines 34, 36, 47).
public struct RoundState: Hashable, Sendable, CustomStringConvertible {
    public internal(set) var height: Height
    public internal(set) var round: Round
    public internal(set) var step: Step
    public internal(set) var locked: Lock?
    public internal(set) var valid: ValidValue?
    /// `decision_p[h_p]` (line 51): the round and value decided, once decided.
    public internal(set) var decision: ValidValue?
    /// Line 34 has fired in `round`.
    public internal(set) var prevoteTimeoutScheduled = false
    /// Line 36 has fired in `round`.
    public internal(set) var polkaValueHandled = false
    /// Line 47 has fired in `round`.
    public internal(set) var precommitTimeoutScheduled = false
    /// Line 18 is waiting for the value (`getValue()` answered by `proposeValue`).
    public internal(set) var awaitingValue = false

    /// A height before its first round: `StartRound(0)` comes next.
    public init(height: Height) {
        self.height = height
        self.round = .none
        self.step = .propose
    }

    /// `lockedRound_p` (−1 when not locked).
    public var lockedRound: Round { locked?.round ?? .none }
    /// `validRound_p` (−1 when none).
    public var validRound: Round { valid?.round ?? .none }

    public var description: String {
        "h=\(height) r=\(round) \(step) locked=\(locked.map { $0.description } ?? "nil") "
            + "valid=\(valid.map { $0.description } ?? "nil")" + (decision.map { " decided=\($0)" } ?? "")
    }
}

/// What happens to a `RoundState` (malachite's round state machine): each case is one "upon"
/// rule or function of Algorithm 1 whose condition the driver has detected.
public enum RoundEvent: Hashable, Sendable {
    /// `StartRound(round)` (line 11); whether this node is `proposer(h_p, round)`.
    case startRound(Round, isProposer: Bool)
    /// The answer to `getValue()` (line 18).
    case proposeValue(Value)
    /// `⟨PROPOSAL, h_p, round_p, v, −1⟩` from the proposer (line 22); `valid` is `valid(v)`.
    case proposal(Proposal, valid: Bool)
    /// `⟨PROPOSAL, h_p, round_p, v, vr⟩` and `2f + 1 ⟨PREVOTE, h_p, vr, id(v)⟩`, 0 ≤ vr < round_p (line 28).
    case proposalAndPolkaPrevious(Proposal, valid: Bool)
    /// `2f + 1 ⟨PREVOTE, h_p, round_p, ∗⟩` (line 34).
    case polkaAny
    /// `⟨PROPOSAL, h_p, round_p, v, ∗⟩` and `2f + 1 ⟨PREVOTE, h_p, round_p, id(v)⟩` with valid(v) (line 36).
    case proposalAndPolkaCurrent(Proposal)
    /// `2f + 1 ⟨PREVOTE, h_p, round_p, nil⟩` (line 44).
    case polkaNil
    /// `2f + 1 ⟨PRECOMMIT, h_p, round_p, ∗⟩` (line 47).
    case precommitAny
    /// `⟨PROPOSAL, h_p, r, v, ∗⟩` and `2f + 1 ⟨PRECOMMIT, h_p, r, id(v)⟩`, any r (line 49); `valid` is valid(v).
    case proposalAndCommit(Proposal, valid: Bool)
    /// `f + 1 ⟨∗, h_p, round, ∗, ∗⟩` with round > round_p (line 55).
    case roundSkip(Round)
    /// `OnTimeoutPropose(h_p, round_p)` (line 57).
    case timeoutPropose
    /// `OnTimeoutPrevote(h_p, round_p)` (line 61).
    case timeoutPrevote
    /// `OnTimeoutPrecommit(h_p, round_p)` (line 65).
    case timeoutPrecommit
}

/// What the state machine asks its driver to do.
public enum RoundOutput: Hashable, Sendable {
    /// `broadcast ⟨PROPOSAL, …⟩` (line 19).
    case propose(Proposal)
    /// `getValue()` (line 18).
    case getValue
    /// `broadcast ⟨PREVOTE|PRECOMMIT, …⟩`.
    case vote(Vote)
    /// `schedule OnTimeout…(h_p, round_p)` (lines 21, 35, 48).
    case scheduleTimeout(TimeoutKind)
    /// `decision_p[h_p] = v` (line 51).
    case decide(round: Round, value: Value)
    /// `StartRound(round)` (lines 56, 67): the driver works out the proposer and feeds `.startRound`.
    case startRound(Round)
}

extension RoundState {
    /// Applies one event for `address` (this node). Events whose "while" condition does not hold
    /// change nothing and return no output; after a decision nothing changes any more.
    public mutating func apply(_ event: RoundEvent, address: Address) -> [RoundOutput] {
        if decision != nil { return [] }
        switch event {
        case .startRound(let r, let isProposer):
            // line 11: StartRound(round), only forward.
            guard r > round else { return [] }
            round = r  // line 12
            step = .propose  // line 13
            prevoteTimeoutScheduled = false
            polkaValueHandled = false
            precommitTimeoutScheduled = false
            awaitingValue = false
            if isProposer {  // line 14
                if let valid {  // line 15
                    // lines 16, 19: re-propose validValue_p with validRound_p.
                    return [.propose(proposal(of: valid.value, validRound: valid.round, address: address))]
                }
                // line 18: getValue(). Like malachite and CometBFT, the proposer also schedules
                // timeoutPropose, so that an application that never answers costs one round only.
                awaitingValue = true
                return [.getValue, .scheduleTimeout(.propose)]
            }
            return [.scheduleTimeout(.propose)]  // line 21

        case .proposeValue(let value):
            // lines 18–19: broadcast ⟨PROPOSAL, h_p, round_p, proposal, validRound_p⟩.
            guard awaitingValue, step == .propose else { return [] }
            awaitingValue = false
            return [.propose(proposal(of: value, validRound: validRound, address: address))]

        case .proposal(let p, let isValid):
            // line 22: while step_p = propose, vr = −1.
            guard step == .propose, p.round == round, p.validRound.isNone else { return [] }
            step = .prevote  // line 27
            // line 23: valid(v) ∧ (lockedRound_p = −1 ∨ lockedValue_p = v)
            if isValid, locked == nil || locked?.valueID == p.value.id {
                return [.vote(.prevote(height, round, p.value.id, from: address))]  // line 24
            }
            return [.vote(.prevote(height, round, nil, from: address))]  // line 26

        case .proposalAndPolkaPrevious(let p, let isValid):
            // line 28: while step_p = propose ∧ (vr ≥ 0 ∧ vr < round_p).
            guard step == .propose, p.round == round, !p.validRound.isNone, p.validRound < round else { return [] }
            step = .prevote  // line 33
            // line 29: valid(v) ∧ (lockedRound_p ≤ vr ∨ lockedValue_p = v)
            if isValid, lockedRound <= p.validRound || locked?.valueID == p.value.id {
                return [.vote(.prevote(height, round, p.value.id, from: address))]  // line 30
            }
            return [.vote(.prevote(height, round, nil, from: address))]  // line 32

        case .polkaAny:
            // line 34: while step_p = prevote, for the first time.
            guard step == .prevote, !prevoteTimeoutScheduled else { return [] }
            prevoteTimeoutScheduled = true
            return [.scheduleTimeout(.prevote)]  // line 35

        case .proposalAndPolkaCurrent(let p):
            // line 36: valid(v) ∧ step_p ≥ prevote, for the first time.
            guard p.round == round, step >= .prevote, !polkaValueHandled else { return [] }
            polkaValueHandled = true
            var out: [RoundOutput] = []
            if step == .prevote {  // line 37
                locked = Lock(round: round, valueID: p.value.id)  // lines 38–39
                out.append(.vote(.precommit(height, round, p.value.id, from: address)))  // line 40
                step = .precommit  // line 41
            }
            valid = ValidValue(round: round, value: p.value)  // lines 42–43
            return out

        case .polkaNil:
            // line 44: while step_p = prevote.
            guard step == .prevote else { return [] }
            step = .precommit  // line 46
            return [.vote(.precommit(height, round, nil, from: address))]  // line 45

        case .precommitAny:
            // line 47: for the first time (in round_p).
            guard !precommitTimeoutScheduled else { return [] }
            precommitTimeoutScheduled = true
            return [.scheduleTimeout(.precommit)]  // line 48

        case .proposalAndCommit(let p, let isValid):
            // line 49: while decision_p[h_p] = nil; line 50: if valid(v).
            guard isValid else { return [] }
            decision = ValidValue(round: p.round, value: p.value)  // line 51
            // lines 52–54 (next height, reset, StartRound(0)) wait for the host's `newHeight`.
            return [.decide(round: p.round, value: p.value)]

        case .roundSkip(let r):
            // line 55: round > round_p → StartRound(round) (line 56).
            guard r > round else { return [] }
            return [.startRound(r)]

        case .timeoutPropose:
            // line 58: step_p = propose. (The paper's condition; malachite's pseudo-code.md
            // prints "prevote" here, a typo: the step it sets on line 60 is prevote.)
            guard step == .propose, !round.isNone else { return [] }
            step = .prevote  // line 60
            awaitingValue = false
            return [.vote(.prevote(height, round, nil, from: address))]  // line 59

        case .timeoutPrevote:
            // line 62: step_p = prevote.
            guard step == .prevote else { return [] }
            step = .precommit  // line 64
            return [.vote(.precommit(height, round, nil, from: address))]  // line 63

        case .timeoutPrecommit:
            // line 66: height = h_p ∧ round = round_p (checked by the driver) → StartRound(round_p + 1).
            guard !round.isNone else { return [] }
            return [.startRound(round.next)]  // line 67
        }
    }

    private func proposal(of value: Value, validRound: Round, address: Address) -> Proposal {
        Proposal(height: height, round: round, value: value, validRound: validRound, proposer: address)
    }
}
