import Wire

/// Round-dependent timeouts: `base + round × delta` milliseconds (saturating), so that after GST
/// some round's timeouts exceed the message delay (the paper's liveness argument).
public struct TimeoutConfig: Hashable, Sendable {
    public var propose: UInt64
    public var proposeDelta: UInt64
    public var prevote: UInt64
    public var prevoteDelta: UInt64
    public var precommit: UInt64
    public var precommitDelta: UInt64

    public init(
        propose: UInt64 = 3000, proposeDelta: UInt64 = 500, prevote: UInt64 = 1000, prevoteDelta: UInt64 = 500,
        precommit: UInt64 = 1000, precommitDelta: UInt64 = 500
    ) {
        self.propose = propose
        self.proposeDelta = proposeDelta
        self.prevote = prevote
        self.prevoteDelta = prevoteDelta
        self.precommit = precommit
        self.precommitDelta = precommitDelta
    }

    /// `timeoutPropose(r)`, `timeoutPrevote(r)`, `timeoutPrecommit(r)` in milliseconds.
    public func duration(_ kind: TimeoutKind, round: Round) -> UInt64 {
        let (base, delta) =
            switch kind {
            case .propose: (propose, proposeDelta)
            case .prevote: (prevote, prevoteDelta)
            case .precommit: (precommit, precommitDelta)
            }
        let r = UInt64(max(0, round.value))
        let (grown, o1) = delta.multipliedReportingOverflow(by: r)
        let (sum, o2) = base.addingReportingOverflow(grown)
        return o1 || o2 ? .max : sum
    }
}

/// A timer the host is asked to start; when it fires the host feeds `.timeout(kind, height:, round:)`.
public struct Timeout: Hashable, Sendable, CustomStringConvertible {
    public let kind: TimeoutKind
    public let height: Height
    public let round: Round
    public let durationMs: UInt64

    public init(kind: TimeoutKind, height: Height, round: Round, durationMs: UInt64) {
        self.kind = kind
        self.height = height
        self.round = round
        self.durationMs = durationMs
    }

    public var description: String { "timeout(\(kind) h=\(height) r=\(round) \(durationMs) ms)" }
}

/// Everything the driver needs to know about its node and chain.
public struct DriverConfig: Hashable, Sendable {
    /// Part of every sign-bytes (the host signs; the core only names the chain).
    public var chainID: String
    /// This node's validator address. A node outside a height's set follows without signing.
    public var address: Address
    public var timeouts: TimeoutConfig
    /// Messages for rounds further than this above the current round are dropped (and counted):
    /// they bound the memory a faulty validator can make us spend; gossip resends them later.
    public var maxFutureRounds: Int64
    /// Distinct proposals kept per round (more than one only from an equivocating proposer).
    public var maxProposalsPerRound: Int
    /// Messages for the next height kept until it starts.
    public var maxBufferedMessages: Int

    public init(
        chainID: String, address: Address, timeouts: TimeoutConfig = TimeoutConfig(), maxFutureRounds: Int64 = 1000,
        maxProposalsPerRound: Int = 4, maxBufferedMessages: Int = 4096
    ) {
        self.chainID = chainID
        self.address = address
        self.timeouts = timeouts
        self.maxFutureRounds = maxFutureRounds
        self.maxProposalsPerRound = maxProposalsPerRound
        self.maxBufferedMessages = maxBufferedMessages
    }
}

/// A host's mistake: the driver enters its failed state and refuses every later input.
/// (Peers' faults are never errors: their messages are dropped and counted.)
public indirect enum DriverError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `.newHeight` arrived while a height was still undecided.
    case newHeightBeforeDecision(running: Height)
    /// `.proposeValue` answers a `.getValue` the driver never emitted.
    case unrequestedValue(height: Height, round: Round)
    /// An input after the driver failed.
    case failed(DriverError)

    public var description: String {
        switch self {
        case .newHeightBeforeDecision(let h): "newHeight while height \(h) is undecided"
        case .unrequestedValue(let h, let r): "proposeValue for h=\(h) r=\(r), which was never requested"
        case .failed(let e): "refused: the driver failed earlier (\(e))"
        }
    }
}

extension Driver {
    /// What the host feeds in. Messages must already be verified (signature by the named
    /// validator or proposer); the driver checks everything else.
    public enum Input: Hashable, Sendable {
        /// Start the next height with its validator set (line 10 for the first height; lines
        /// 52–54 after a decision, once the host has committed the block).
        case newHeight(ValidatorSet)
        /// A proposal and the application's verdict on its value (`valid(v)`).
        case proposal(Proposal, valid: Bool)
        case vote(Vote)
        /// A timer started by `.scheduleTimeout` fired.
        case timeout(TimeoutKind, height: Height, round: Round)
        /// The answer to `.getValue` (line 18).
        case proposeValue(Value, height: Height, round: Round)
        /// Precommits of more than 2/3 of the power for one value, received as a whole (block
        /// sync, a lagging node): line 49's `2f + 1 ⟨PRECOMMIT, h_p, r, id(v)⟩`, checked against the
        /// height's validator set. With the proposal of that value it decides. Needed because the
        /// vote keeper keeps an equivocator's first vote: a node that saw an equivocator's other
        /// vote could never count the quorum the others counted.
        case commitCertificate(CommitCertificate)
    }

    /// What the host must do, in order. `persistSigned` always precedes the broadcast of the same
    /// message: the host makes it durable first, then signs `signBytes(chainID:)` with the
    /// validator key and sends (the WAL rule; the signature never leaves before the record).
    public enum Effect: Hashable, Sendable, CustomStringConvertible {
        /// Ask the application for a value to propose; answer with `.proposeValue`.
        case getValue(height: Height, round: Round)
        case scheduleTimeout(Timeout)
        /// Durably record what is about to be signed.
        case persistSigned(SignedMessage)
        /// Sign and send to every validator (and deliver to ourselves: already done).
        case broadcastProposal(Proposal)
        /// Sign and send to every validator (already counted in our own vote keeper).
        case broadcastVote(Vote)
        /// `decision_p[h] = v` (line 51), with the precommits that prove it.
        case decide(height: Height, round: Round, value: Value, certificate: CommitCertificate)
        /// A validator equivocated.
        case evidence(Evidence)

        public var description: String {
            switch self {
            case .getValue(let h, let r): "getValue(h=\(h) r=\(r))"
            case .scheduleTimeout(let t): "schedule \(t)"
            case .persistSigned(let m): "persist \(m)"
            case .broadcastProposal(let p): "broadcast \(p)"
            case .broadcastVote(let v): "broadcast \(v)"
            case .decide(let h, let r, let v, _): "decide(h=\(h) r=\(r) \(v.id))"
            case .evidence(let e): "evidence \(e)"
            }
        }
    }

    /// Where the driver is.
    public enum Phase: Hashable, Sendable {
        /// Waiting for `.newHeight` to start `height`.
        case awaitingHeight(Height)
        /// Running Algorithm 1 for `roundState.height`.
        case running
        /// `roundState.height` is decided; waiting for `.newHeight`.
        case decided
        /// A host error happened; every input is refused.
        case failed(DriverError)
    }

    /// Dropped and counted input (none of it is an error).
    public struct Counters: Hashable, Sendable {
        public var staleMessages: UInt64 = 0
        public var bufferedMessages: UInt64 = 0
        public var bufferOverflow: UInt64 = 0
        public var roundTooFar: UInt64 = 0
        public var wrongProposer: UInt64 = 0
        public var duplicateProposals: UInt64 = 0
        public var conflictingProposals: UInt64 = 0
        public var proposalsOverLimit: UInt64 = 0
        public var staleTimeouts: UInt64 = 0
        public var staleValues: UInt64 = 0
        /// Certificates that do not verify against the height's validator set (a peer's fault).
        public var invalidCertificates: UInt64 = 0
        /// Times the state machine asked for a second, different signature for one step and the
        /// driver refused (never expected; a restart from a damaged record could cause it).
        public var doubleSignRefused: UInt64 = 0
    }
}
