import Wire

/// A consensus instance: the index of the block being decided (`h_p` in Algorithm 1).
public struct Height: Hashable, Comparable, Sendable, WireMessage, CustomStringConvertible,
    ExpressibleByIntegerLiteral
{
    public let value: UInt64

    public init(_ value: UInt64) { self.value = value }
    public init(integerLiteral value: UInt64) { self.value = value }

    /// `h + 1`; traps at `UInt64.max` (a chain cannot get there).
    public var next: Height { Height(value + 1) }

    public static func < (a: Height, b: Height) -> Bool { a.value < b.value }
    public var description: String { String(value) }

    public func encode(to writer: inout WireWriter) { writer.writeUInt64(value) }
    public init(from reader: inout WireReader) throws(WireError) { value = try reader.readUInt64() }
}

/// A round within a height (`round_p`), or `Round.none` (−1): "no round", the initial value of
/// `lockedRound_p` / `validRound_p` and the `validRound` of a fresh proposal (Algorithm 1, lines 7, 9).
///
/// Encoded as an `i64`; the decoder refuses anything below −1 or above `Round.max`.
public struct Round: Hashable, Comparable, Sendable, WireMessage, CustomStringConvertible,
    ExpressibleByIntegerLiteral
{
    public let value: Int64

    /// −1: no round.
    public static let none = Round(-1)
    /// Rounds above this are refused on decode (CometBFT keeps rounds in an `int32`).
    public static let max = Round(Int64(Int32.max))

    public init(_ value: Int64) {
        precondition(value >= -1, "round \(value) below -1")
        self.value = value
    }
    public init(integerLiteral value: Int64) { self.init(value) }

    public var isNone: Bool { value < 0 }
    /// `round + 1`.
    public var next: Round { Round(value + 1) }

    public static func < (a: Round, b: Round) -> Bool { a.value < b.value }
    public var description: String { isNone ? "nil" : String(value) }

    public func encode(to writer: inout WireWriter) { writer.writeInt64(value) }
    public init(from reader: inout WireReader) throws(WireError) {
        let raw = try reader.readInt64()
        guard raw >= -1, raw <= Round.max.value else { throw .invalidValue("round \(raw) out of range") }
        value = raw
    }

    /// Reads a round that must be defined (≥ 0).
    static func readDefined(_ reader: inout WireReader, field: String) throws(WireError) -> Round {
        let round = try reader.readMessage(Round.self)
        guard !round.isNone else { throw .invalidValue("\(field) must be a defined round") }
        return round
    }
}

/// The two vote types of Algorithm 1.
public enum VoteType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case prevote = 1
    case precommit = 2

    public var description: String { self == .prevote ? "prevote" : "precommit" }
}

/// `step_p ∈ {propose, prevote, precommit}` (line 4), ordered as the algorithm uses it
/// (`step_p ≥ prevote`, line 36).
public enum Step: UInt8, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    case propose = 1
    case prevote = 2
    case precommit = 3

    public static func < (a: Step, b: Step) -> Bool { a.rawValue < b.rawValue }
    public var description: String {
        switch self {
        case .propose: "propose"
        case .prevote: "prevote"
        case .precommit: "precommit"
        }
    }
}

/// The three timeouts of Algorithm 1 (lines 57, 61, 65).
public enum TimeoutKind: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case propose = 1
    case prevote = 2
    case precommit = 3

    public var description: String {
        switch self {
        case .propose: "propose"
        case .prevote: "prevote"
        case .precommit: "precommit"
        }
    }
}
