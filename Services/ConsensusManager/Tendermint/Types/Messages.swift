import Wire

/// `⟨PROPOSAL, h, r, v, vr⟩` (Algorithm 1, line 19), sent by `proposer(h, r)`.
///
/// Wire layout: `u64 height · i64 round (≥ 0) · Value value · i64 validRound (−1 ≤ vr < round) ·
/// address proposer (20)`.
///
/// Sign bytes (`signBytes(chainID:)`): `string "vn/tendermint/proposal/v1" · string chainID ·
/// u64 height · i64 round · 32-byte id(v) · i64 validRound · address proposer`. Like a CometBFT
/// proposal, the signature covers the value's id, not its bytes; the domain tag keeps these
/// signatures apart from votes and from everything else the validator key signs.
public struct Proposal: Hashable, Sendable, WireMessage, CustomStringConvertible {
    public static let domainTag = "vn/tendermint/proposal/v1"

    public let height: Height
    public let round: Round
    public let value: Value
    /// `vr`: the round of the polka that justifies re-proposing `value`, or `Round.none`.
    public let validRound: Round
    public let proposer: Address

    /// `round` must be defined and `validRound` below it.
    public init(height: Height, round: Round, value: Value, validRound: Round, proposer: Address) {
        precondition(!round.isNone, "a proposal needs a defined round")
        precondition(validRound < round, "validRound \(validRound) must be below round \(round)")
        self.height = height
        self.round = round
        self.value = value
        self.validRound = validRound
        self.proposer = proposer
    }

    public func signBytes(chainID: String) -> [UInt8] {
        var writer = WireWriter(reservingCapacity: 128)
        writer.writeString(Self.domainTag)
        writer.writeString(chainID)
        writer.writeMessage(height)
        writer.writeMessage(round)
        writer.writeMessage(value.id)
        writer.writeMessage(validRound)
        writer.writeAddress(proposer)
        return writer.take()
    }

    public var description: String {
        "proposal(h=\(height) r=\(round) \(value.id) vr=\(validRound) from \(proposer))"
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeMessage(height)
        writer.writeMessage(round)
        writer.writeMessage(value)
        writer.writeMessage(validRound)
        writer.writeAddress(proposer)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        let height = try reader.readMessage(Height.self)
        let round = try Round.readDefined(&reader, field: "proposal round")
        let value = try reader.readMessage(Value.self)
        let validRound = try reader.readMessage(Round.self)
        guard validRound < round else { throw .invalidValue("validRound \(validRound) not below round \(round)") }
        let proposer = try reader.readAddress()
        self.init(height: height, round: round, value: value, validRound: validRound, proposer: proposer)
    }
}

/// `⟨PREVOTE, h, r, id(v)⟩` or `⟨PRECOMMIT, h, r, id(v)⟩`, where `valueID == nil` is a vote for nil.
///
/// Wire layout: `u8 type · u64 height · i64 round (≥ 0) · optional 32-byte valueID ·
/// address validator (20)`.
///
/// Sign bytes (`signBytes(chainID:)`): `string "vn/tendermint/vote/v1" · string chainID` followed by
/// the wire layout.
public struct Vote: Hashable, Sendable, WireMessage, CustomStringConvertible {
    public static let domainTag = "vn/tendermint/vote/v1"

    public let type: VoteType
    public let height: Height
    public let round: Round
    /// `id(v)`, or nil for a vote for nil.
    public let valueID: ValueID?
    public let validator: Address

    public init(type: VoteType, height: Height, round: Round, valueID: ValueID?, validator: Address) {
        precondition(!round.isNone, "a vote needs a defined round")
        self.type = type
        self.height = height
        self.round = round
        self.valueID = valueID
        self.validator = validator
    }

    public static func prevote(_ height: Height, _ round: Round, _ valueID: ValueID?, from validator: Address) -> Vote {
        Vote(type: .prevote, height: height, round: round, valueID: valueID, validator: validator)
    }

    public static func precommit(_ height: Height, _ round: Round, _ valueID: ValueID?, from validator: Address) -> Vote
    {
        Vote(type: .precommit, height: height, round: round, valueID: valueID, validator: validator)
    }

    public func signBytes(chainID: String) -> [UInt8] {
        var writer = WireWriter(reservingCapacity: 128)
        writer.writeString(Self.domainTag)
        writer.writeString(chainID)
        encode(to: &writer)
        return writer.take()
    }

    public var description: String {
        "\(type)(h=\(height) r=\(round) \(valueID.map { $0.description } ?? "nil") from \(validator))"
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeTag(type)
        writer.writeMessage(height)
        writer.writeMessage(round)
        writer.writeOptional(valueID) { $0.writeMessage($1) }
        writer.writeAddress(validator)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        type = try reader.readTag(VoteType.self)
        height = try reader.readMessage(Height.self)
        round = try Round.readDefined(&reader, field: "vote round")
        valueID = try reader.readOptional { (r: inout WireReader) throws(WireError) in try r.readMessage(ValueID.self) }
        validator = try reader.readAddress()
    }
}

/// What a validator signed, as persisted before it is sent (the WAL rule): the last signed
/// `(height, round, step)` and the message itself, so that a restart can never sign a different
/// message for the same step. A precommit for a value (line 40) carries the value too: it is the
/// lock *and* the valid value a restarted node needs (without the value it would stay locked on a
/// value it can no longer propose, and one crash could stall the chain).
///
/// Wire layout: `u8 tag (1 proposal, 2 vote) · the message`, and for a vote
/// `optional Value` (present only for a precommit for a value, whose id it must match).
public enum SignedMessage: Hashable, Sendable, WireMessage, CustomStringConvertible {
    case proposal(Proposal)
    case vote(Vote, value: Value? = nil)

    public var height: Height {
        switch self {
        case .proposal(let p): p.height
        case .vote(let v, _): v.height
        }
    }

    public var round: Round {
        switch self {
        case .proposal(let p): p.round
        case .vote(let v, _): v.round
        }
    }

    /// The step the message was signed in: a proposal in `propose`, a vote in its own step.
    public var step: Step {
        switch self {
        case .proposal: .propose
        case .vote(let v, _): v.type == .prevote ? .prevote : .precommit
        }
    }

    public var description: String {
        switch self {
        case .proposal(let p): p.description
        case .vote(let v, let value): v.description + (value == nil ? "" : " with the value")
        }
    }

    public func encode(to writer: inout WireWriter) {
        switch self {
        case .proposal(let p):
            writer.writeUInt8(1)
            writer.writeMessage(p)
        case .vote(let v, let value):
            writer.writeUInt8(2)
            writer.writeMessage(v)
            writer.writeOptional(value) { $0.writeMessage($1) }
        }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        switch try reader.readUInt8() {
        case 1: self = .proposal(try reader.readMessage())
        case 2:
            let v = try reader.readMessage(Vote.self)
            let value = try reader.readOptional { (r: inout WireReader) throws(WireError) in
                try r.readMessage(Value.self)
            }
            if let value, v.type != .precommit || v.valueID != value.id {
                throw .invalidValue("a vote record's value must be that of a precommit")
            }
            self = .vote(v, value: value)
        case let tag: throw .unknownTag(type: "SignedMessage", tag: UInt64(tag))
        }
    }
}

/// Proof of misbehaviour: two different signed messages from one validator for the same
/// `(height, round, type)`. The first one seen is the one the vote keeper kept.
///
/// Wire layout: `u8 tag (1 votes, 2 proposals) · first · second`.
public enum Evidence: Hashable, Sendable, WireMessage, CustomStringConvertible {
    case conflictingVotes(first: Vote, second: Vote)
    case conflictingProposals(first: Proposal, second: Proposal)

    /// The validator to blame.
    public var culprit: Address {
        switch self {
        case .conflictingVotes(let a, _): a.validator
        case .conflictingProposals(let a, _): a.proposer
        }
    }

    public var height: Height {
        switch self {
        case .conflictingVotes(let a, _): a.height
        case .conflictingProposals(let a, _): a.height
        }
    }

    public var description: String {
        switch self {
        case .conflictingVotes(let a, let b): "equivocation: \(a) vs \(b)"
        case .conflictingProposals(let a, let b): "equivocation: \(a) vs \(b)"
        }
    }

    public func encode(to writer: inout WireWriter) {
        switch self {
        case .conflictingVotes(let a, let b):
            writer.writeUInt8(1)
            writer.writeMessage(a)
            writer.writeMessage(b)
        case .conflictingProposals(let a, let b):
            writer.writeUInt8(2)
            writer.writeMessage(a)
            writer.writeMessage(b)
        }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        switch try reader.readUInt8() {
        case 1:
            let a = try reader.readMessage(Vote.self)
            let b = try reader.readMessage(Vote.self)
            guard a.type == b.type, a.height == b.height, a.round == b.round, a.validator == b.validator,
                a.valueID != b.valueID
            else { throw .invalidValue("votes do not conflict") }
            self = .conflictingVotes(first: a, second: b)
        case 2:
            let a = try reader.readMessage(Proposal.self)
            let b = try reader.readMessage(Proposal.self)
            guard a.height == b.height, a.round == b.round, a.proposer == b.proposer, a != b else {
                throw .invalidValue("proposals do not conflict")
            }
            self = .conflictingProposals(first: a, second: b)
        case let tag: throw .unknownTag(type: "Evidence", tag: UInt64(tag))
        }
    }
}
