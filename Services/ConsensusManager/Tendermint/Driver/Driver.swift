import Wire

/// The Tendermint core of one node (malachite's `core-driver`): inputs in, effects out, no I/O.
///
/// It owns the vote keeper, the proposals of the current height and the `RoundState`, detects
/// the conditions of Algorithm 1's "upon" rules after every input, feeds them to the state
/// machine until nothing more fires, and turns the state machine's outputs into effects:
///
/// - its own proposals and votes become `persistSigned` followed by `broadcast…` (the WAL rule),
///   after a check that it never signed a different message for the same `(height, round, step)`
///   (the double-sign guard, which also survives restarts through `restore`);
/// - its own messages are delivered to itself at once;
/// - messages for the next height are kept until it starts; older or far-future ones are dropped
///   and counted; equivocations become `evidence`.
///
/// A host error (see `DriverError`) moves it to `.failed`, after which it refuses all input.
public struct Driver: Sendable {
    public let config: DriverConfig
    public private(set) var phase: Phase
    public private(set) var roundState: RoundState
    public private(set) var counters = Counters()

    private struct StoredProposal: Sendable {
        let proposal: Proposal
        let valid: Bool
    }

    private struct SignKey: Hashable, Sendable {
        let round: Round
        let type: VoteType
    }

    private var votes: VoteKeeper?
    private var proposers: ProposerSchedule?
    private var proposals: [Round: [StoredProposal]] = [:]
    private var signedVotes: [SignKey: Vote] = [:]
    private var signedProposals: [Round: Proposal] = [:]
    /// Verified commit certificates of the current height (line 49 from block sync).
    private var certificates: [CommitCertificate] = []
    private var buffered: [Input] = []
    /// The latest `getValue` emitted, across heights: a late answer to it is stale, not an error.
    private var requestedValue: (height: Height, round: Round)?
    private var effects: [Effect] = []

    /// A driver that will run `height` once it gets `.newHeight`.
    public init(config: DriverConfig, height: Height) {
        self.config = config
        self.phase = .awaitingHeight(height)
        self.roundState = RoundState(height: height)
    }

    // MARK: Restart

    /// Rebuilds a driver after a crash from what it persisted through `.persistSigned` at
    /// `height` (records of other heights are ignored): its own messages count again, the
    /// double-sign guard knows them, the lock comes back from its highest non-nil precommit, and
    /// it resumes at the round and step of its last record, re-sending that round's messages
    /// (no new signature: they are already on disk); a precommit record's value becomes the valid
    /// value again, so the node can re-propose what it is locked on. Without records it simply
    /// starts `height`.
    public static func restore(
        config: DriverConfig, height: Height, validators: ValidatorSet, signed records: [SignedMessage]
    ) -> (Driver, [Effect]) {
        var driver = Driver(config: config, height: height)
        let mine = records.filter { $0.height == height }
        guard let last = mine.max(by: { ($0.round, $0.step) < ($1.round, $1.step) }) else {
            let effects = (try? driver.handle(.newHeight(validators))) ?? []
            return (driver, effects)
        }
        driver.begin(height: height, validators: validators)
        for record in mine {
            switch record {
            case .proposal(let p):
                driver.signedProposals[p.round] = p
                driver.storeProposal(p, valid: true)
            case .vote(let v, let value):
                driver.signedVotes[SignKey(round: v.round, type: v.type)] = v
                _ = driver.votes?.add(v)
                // Lines 38–39 and 42–43 happened together when this precommit was signed.
                if v.type == .precommit, let id = v.valueID, v.round > driver.roundState.lockedRound {
                    driver.roundState.locked = Lock(round: v.round, valueID: id)
                    if let value, value.id == id, v.round > driver.roundState.validRound {
                        driver.roundState.valid = ValidValue(round: v.round, value: value)
                    }
                }
            }
        }
        driver.roundState.round = last.round
        driver.roundState.step = last.step
        for record in mine where record.round == last.round {
            switch record {
            case .proposal(let p): driver.effects.append(.broadcastProposal(p))
            case .vote(let v, _): driver.effects.append(.broadcastVote(v))
            }
        }
        if last.step == .propose {
            driver.effects.append(.scheduleTimeout(driver.timeout(.propose)))
        }
        driver.evaluate()
        let effects = driver.takeEffects()
        return (driver, effects)
    }

    // MARK: Input

    /// Handles one input and returns the effects to perform, in order.
    public mutating func handle(_ input: Input) throws(DriverError) -> [Effect] {
        if case .failed(let error) = phase { throw .failed(error) }
        do {
            try process(input)
        } catch {
            phase = .failed(error)
            effects = []
            throw error
        }
        return takeEffects()
    }

    /// The validator set of the running (or decided) height.
    public var validators: ValidatorSet? { votes?.validators }

    /// The vote keeper of the current height (read-only).
    public var voteKeeper: VoteKeeper? { votes }

    /// Number of messages held for the next height.
    public var bufferedCount: Int { buffered.count }

    private mutating func takeEffects() -> [Effect] {
        defer { effects = [] }
        return effects
    }

    private mutating func process(_ input: Input) throws(DriverError) {
        switch input {
        case .newHeight(let set):
            let height: Height
            switch phase {
            case .awaitingHeight(let h): height = h
            case .decided: height = roundState.height.next
            case .running: throw .newHeightBeforeDecision(running: roundState.height)
            case .failed(let e): throw .failed(e)
            }
            begin(height: height, validators: set)
            enterRound(Round(0))
            let replay = buffered
            buffered = []
            for message in replay where message.messageHeight == height { try process(message) }
        case .proposal(let p, let valid):
            guard admit(input, height: p.height, round: p.round) else { return }
            guard let proposer = proposers?.proposer(p.round), proposer == p.proposer else {
                counters.wrongProposer += 1
                return
            }
            storeProposal(p, valid: valid)
        case .vote(let v):
            guard admit(input, height: v.height, round: v.round) else { return }
            if case .equivocation(let e)? = votes?.add(v) { effects.append(.evidence(e)) }
        case .commitCertificate(let c):
            guard admit(input, height: c.height, round: c.round), let set = votes?.validators else { return }
            do {
                try c.verify(against: set)
            } catch {
                counters.invalidCertificates += 1
                return
            }
            for v in c.precommits {
                if case .equivocation(let e)? = votes?.add(v) { effects.append(.evidence(e)) }
            }
            if !certificates.contains(where: { $0.round == c.round && $0.valueID == c.valueID }) {
                certificates.append(c)
            }
        case .timeout(let kind, let h, let r):
            guard phase == .running, h == roundState.height, r == roundState.round else {
                counters.staleTimeouts += 1
                return
            }
            switch kind {
            case .propose: apply(.timeoutPropose)  // line 57
            case .prevote: apply(.timeoutPrevote)  // line 61
            case .precommit: apply(.timeoutPrecommit)  // line 65
            }
        case .proposeValue(let value, let h, let r):
            guard let requested = requestedValue, (h, r) <= (requested.height, requested.round) else {
                throw .unrequestedValue(height: h, round: r)
            }
            guard phase == .running, h == roundState.height, r == roundState.round, roundState.awaitingValue else {
                counters.staleValues += 1
                return
            }
            apply(.proposeValue(value))  // line 18
        }
        evaluate()
    }

    /// Whether a message belongs to the running height and a round we keep; next-height
    /// messages are buffered, the rest dropped and counted.
    private mutating func admit(_ input: Input, height: Height, round: Round) -> Bool {
        let current: Height
        switch phase {
        case .running: current = roundState.height
        case .decided: current = roundState.height.next
        case .awaitingHeight(let h): current = h
        case .failed: return false
        }
        if phase == .running, height == current {
            guard round.value <= max(roundState.round.value, 0) + config.maxFutureRounds else {
                counters.roundTooFar += 1
                return false
            }
            return true
        }
        let next = phase == .running ? current.next : current
        if height == next {
            if buffered.count < config.maxBufferedMessages {
                buffered.append(input)
                counters.bufferedMessages += 1
            } else {
                counters.bufferOverflow += 1
            }
        } else {
            counters.staleMessages += 1
        }
        return false
    }

    private mutating func begin(height: Height, validators: ValidatorSet) {
        phase = .running
        roundState = RoundState(height: height)
        votes = VoteKeeper(height: height, validators: validators)
        proposers = ProposerSchedule(validators)
        proposals = [:]
        signedVotes = [:]
        signedProposals = [:]
        certificates = []
    }

    private var isValidator: Bool { votes?.validators.contains(config.address) ?? false }

    private mutating func storeProposal(_ p: Proposal, valid: Bool) {
        var list = proposals[p.round] ?? []
        if list.contains(where: { $0.proposal == p }) {
            counters.duplicateProposals += 1
            return
        }
        if let first = list.first {
            counters.conflictingProposals += 1
            effects.append(.evidence(.conflictingProposals(first: first.proposal, second: p)))
            guard list.count < config.maxProposalsPerRound else {
                counters.proposalsOverLimit += 1
                return
            }
        }
        list.append(StoredProposal(proposal: p, valid: valid))
        proposals[p.round] = list
    }

    // MARK: Upon rules

    /// Feeds the state machine every rule whose condition holds, until none does. Each event
    /// returned by `nextEvent` changes the round state, so this ends.
    private mutating func evaluate() {
        while phase == .running, let event = nextEvent() { apply(event) }
    }

    private func nextEvent() -> RoundEvent? {
        guard let votes, !roundState.round.isNone else { return nil }
        let s = roundState
        let current = proposals[s.round] ?? []
        // line 49: a proposal and 2f + 1 precommits for its value, in any round (counted here, or
        // received as a certificate).
        func committed(_ round: Round, _ id: ValueID) -> Proposal? {
            guard let stored = proposals[round]?.first(where: { $0.proposal.value.id == id }), stored.valid else {
                return nil
            }
            return stored.proposal
        }
        for quorum in votes.commitQuorums {
            if let p = committed(quorum.round, quorum.valueID) { return .proposalAndCommit(p, valid: true) }
        }
        for c in certificates {
            if let p = committed(c.round, c.valueID) { return .proposalAndCommit(p, valid: true) }
        }
        // line 55: f + 1 of a higher round.
        if votes.highestRoundWithOneThird > s.round { return .roundSkip(votes.highestRoundWithOneThird) }
        if s.step == .propose {
            for stored in current {
                let p = stored.proposal
                // line 22: vr = −1.
                if p.validRound.isNone { return .proposal(p, valid: stored.valid) }
                // line 28: 0 ≤ vr < round_p and a polka for id(v) in vr.
                if p.validRound < s.round, votes.hasPolka(round: p.validRound, for: p.value.id) {
                    return .proposalAndPolkaPrevious(p, valid: stored.valid)
                }
            }
        }
        // line 36: valid(v), polka for id(v) in round_p, step_p ≥ prevote, first time.
        if s.step >= .prevote, !s.polkaValueHandled {
            for stored in current where stored.valid && votes.hasPolka(round: s.round, for: stored.proposal.value.id) {
                return .proposalAndPolkaCurrent(stored.proposal)
            }
        }
        // line 44: polka for nil while step_p = prevote.
        if s.step == .prevote, votes.hasPolkaNil(round: s.round) { return .polkaNil }
        // line 34: polka for anything while step_p = prevote, first time.
        if s.step == .prevote, !s.prevoteTimeoutScheduled, votes.hasPolkaAny(round: s.round) { return .polkaAny }
        // line 47: 2f + 1 precommits for anything, first time.
        if !s.precommitTimeoutScheduled, votes.hasPrecommitAny(round: s.round) { return .precommitAny }
        return nil
    }

    private mutating func apply(_ event: RoundEvent) {
        let outputs = roundState.apply(event, address: config.address)
        for output in outputs { perform(output) }
    }

    /// `StartRound(round)` (line 11), with the proposer of that round.
    private mutating func enterRound(_ round: Round) {
        guard let proposer = proposers?.proposer(round) else { return }
        apply(.startRound(round, isProposer: proposer == config.address && isValidator))
    }

    private func timeout(_ kind: TimeoutKind) -> Timeout {
        Timeout(
            kind: kind, height: roundState.height, round: roundState.round,
            durationMs: config.timeouts.duration(kind, round: roundState.round))
    }

    private mutating func perform(_ output: RoundOutput) {
        switch output {
        case .propose(let p):
            guard isValidator else { return }
            if let signed = signedProposals[p.round] {
                // Never a second, different proposal for one (height, round).
                if signed != p { counters.doubleSignRefused += 1 }
                return
            }
            signedProposals[p.round] = p
            effects.append(.persistSigned(.proposal(p)))
            effects.append(.broadcastProposal(p))
            storeProposal(p, valid: true)
        case .getValue:
            requestedValue = (roundState.height, roundState.round)
            effects.append(.getValue(height: roundState.height, round: roundState.round))
        case .vote(let v):
            guard isValidator else { return }
            let key = SignKey(round: v.round, type: v.type)
            if let signed = signedVotes[key] {
                // Never a second, different vote for one (height, round, type).
                if signed != v { counters.doubleSignRefused += 1 }
                return
            }
            signedVotes[key] = v
            // A precommit for a value is the lock: persist the value with it (line 40).
            let locked = v.type == .precommit && v.valueID != nil ? roundState.valid?.value : nil
            effects.append(.persistSigned(.vote(v, value: locked?.id == v.valueID ? locked : nil)))
            effects.append(.broadcastVote(v))
            _ = votes?.add(v)
        case .scheduleTimeout(let kind):
            effects.append(.scheduleTimeout(timeout(kind)))
        case .decide(let round, let value):
            let precommits = votes?.votes(.precommit, round: round, for: value.id) ?? []
            var certificate = CommitCertificate(
                height: roundState.height, round: round, valueID: value.id, precommits: precommits)
            if let set = votes?.validators, (try? certificate.verify(against: set)) == nil,
                let received = certificates.first(where: { $0.round == round && $0.valueID == value.id })
            {
                certificate = received
            }
            effects.append(.decide(height: roundState.height, round: round, value: value, certificate: certificate))
            phase = .decided
        case .startRound(let r):
            enterRound(r)
        }
    }
}

extension Driver.Input {
    /// The height a peer message is for (nil for the host's own inputs).
    var messageHeight: Height? {
        switch self {
        case .proposal(let p, _): p.height
        case .vote(let v): v.height
        case .commitCertificate(let c): c.height
        default: nil
        }
    }
}

// Test hooks (white-box tests of the double-sign guard).
extension Driver {
    /// Forces the step, as a damaged restart record might; only for tests.
    mutating func _forceStep(_ step: Step) { roundState.step = step }
}
