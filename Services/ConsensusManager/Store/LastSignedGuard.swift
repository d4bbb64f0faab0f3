import Tendermint
import Wire

/// What a signature commits to, apart from the chain id and our own address (constant for a
/// node): `(height, round, step)` and the message's content — `id(v)` (nil for a vote for nil)
/// and, for a proposal, its `validRound` (both are in the sign bytes, `Messages.swift`). Two
/// signed messages with the same `SignedStep` have the same sign bytes.
///
/// Stored under `guard/last-signed` as `u8 version (1) ‖ u64 height ‖ i64 round ‖ u8 step ‖
/// optional 32-byte value id ‖ i64 validRound (−1 for votes)`, in the same synced batch as the
/// WAL record of the message (LevelDB checksums the value; an unreadable one stops the node).
public struct SignedStep: Hashable, Sendable, CustomStringConvertible {
    public let height: Height
    public let round: Round
    public let step: Step
    public let valueID: ValueID?
    public let validRound: Round

    public init(_ message: SignedMessage) {
        height = message.height
        round = message.round
        step = message.step
        switch message {
        case .proposal(let p):
            valueID = p.value.id
            validRound = p.validRound
        case .vote(let v, _):
            valueID = v.valueID
            validRound = .none
        }
    }

    init(height: Height, round: Round, step: Step, valueID: ValueID?, validRound: Round) {
        self.height = height
        self.round = round
        self.step = step
        self.valueID = valueID
        self.validRound = validRound
    }

    /// `(height, round, step)` in the order a node signs: a proposal, then the round's prevote, then
    /// its precommit.
    public func precedes(_ other: SignedStep) -> Bool {
        (height, round, step) < (other.height, other.round, other.step)
    }

    public func sameStep(as other: SignedStep) -> Bool {
        height == other.height && round == other.round && step == other.step
    }

    public var description: String {
        "h=\(height) r=\(round) \(step) \(valueID.map { $0.description } ?? "nil")"
            + (validRound.isNone ? "" : " vr=\(validRound)")
    }

    static let version: UInt8 = 1
    static let key = Array("guard/last-signed".utf8)

    func encoded() -> [UInt8] {
        var w = WireWriter(reservingCapacity: 64)
        w.writeUInt8(Self.version)
        w.writeMessage(height)
        w.writeMessage(round)
        w.writeTag(step)
        w.writeOptional(valueID) { $0.writeMessage($1) }
        w.writeMessage(validRound)
        return w.take()
    }

    static func decode(_ bytes: [UInt8]) throws(WireError) -> SignedStep {
        var r = WireReader(bytes)
        let version = try r.readUInt8()
        guard version == Self.version else { throw .invalidValue("unknown last-signed version \(version)") }
        let height = try r.readMessage(Height.self)
        let round = try r.readMessage(Round.self)
        guard !round.isNone else { throw .invalidValue("last-signed round must be defined") }
        let step = try r.readTag(Step.self)
        let valueID = try r.readOptional { (r: inout WireReader) throws(WireError) in try r.readMessage(ValueID.self) }
        let validRound = try r.readMessage(Round.self)
        try r.finish()
        return SignedStep(height: height, round: round, step: step, valueID: valueID, validRound: validRound)
    }
}

/// The answer to "may this node sign this message?".
public enum GuardVerdict: Hashable, Sendable, CustomStringConvertible {
    /// Above everything signed so far: sign it (after the WAL record is durable).
    case permitted
    /// Exactly a message already in the WAL of this height: signing it again gives the same
    /// sign bytes, so re-sending it (after a restart) is no double sign.
    case resend
    /// The same `(height, round, step)` as `last` with other content: a double sign.
    case conflict(last: SignedStep, candidate: SignedStep)
    /// Below `last`: the node has moved past this step; signing now could contradict what it
    /// signed later (e.g. a prevote after its own precommit of the round).
    case regression(last: SignedStep, candidate: SignedStep)

    public var isPermitted: Bool {
        switch self {
        case .permitted, .resend: true
        case .conflict, .regression: false
        }
    }

    public var description: String {
        switch self {
        case .permitted: "permitted"
        case .resend: "permitted (re-send of a persisted message)"
        case .conflict(let last, let c): "refused: \(c) conflicts with the signed \(last)"
        case .regression(let last, let c): "refused: \(c) is below the last signed \(last)"
        }
    }
}

/// The double-sign guard (pure): the last signed step of this node, and the messages of the
/// current height already in the WAL.
public enum LastSignedGuard {
    /// A message may be signed if it is one already persisted (a re-send), or if it lies strictly
    /// above the last signed `(height, round, step)`; the same step with the same content (a
    /// record that reached the guard but not the WAL) is a re-send too. Everything else is refused.
    public static func check(
        _ candidate: SignedStep, last: SignedStep?, persisted: Set<SignedStep>
    ) -> GuardVerdict {
        if persisted.contains(candidate) { return .resend }
        guard let last else { return .permitted }
        if last.precedes(candidate) { return .permitted }
        if last.sameStep(as: candidate) {
            return last == candidate ? .resend : .conflict(last: last, candidate: candidate)
        }
        return .regression(last: last, candidate: candidate)
    }
}
