/// Why a byte string was refused by the canonical decoder. Every case names the culprit so a
/// rejected peer message can be logged (and counted) precisely.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended early: `needed` more bytes were required, only `remaining` were left.
    case truncated(needed: Int, remaining: Int)
    /// A complete value was decoded but `count` bytes followed it.
    case trailingBytes(count: Int)
    /// A bool byte other than 0 or 1.
    case invalidBool(UInt8)
    /// An optional's presence byte other than 0 or 1.
    case invalidPresence(UInt8)
    /// A string field that is not well-formed UTF-8.
    case invalidUTF8
    /// An enum tag the decoder does not know.
    case unknownTag(type: String, tag: UInt64)
    /// A length or count above the field's limit (or above what the remaining input could hold).
    case lengthTooLarge(length: Int, limit: Int)
    /// A field that decoded but violates the message's invariants.
    case invalidValue(String)

    public var description: String {
        switch self {
        case .truncated(let needed, let remaining): "truncated: needed \(needed) bytes, \(remaining) left"
        case .trailingBytes(let count): "\(count) trailing bytes after the message"
        case .invalidBool(let b): "invalid bool byte \(b)"
        case .invalidPresence(let b): "invalid optional presence byte \(b)"
        case .invalidUTF8: "string is not valid UTF-8"
        case .unknownTag(let type, let tag): "unknown \(type) tag \(tag)"
        case .lengthTooLarge(let length, let limit): "length \(length) exceeds limit \(limit)"
        case .invalidValue(let why): "invalid value: \(why)"
        }
    }
}
