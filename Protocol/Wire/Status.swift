/// Outcome of a call (DESIGN §3). The raw values follow gRPC's numbering so operators can read
/// them without a table; values gRPC has and we do not (unknown, aborted, outOfRange, dataLoss) are
/// not part of the protocol and are refused on decode.
public enum StatusCode: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case ok = 0
    /// The caller cancelled the call.
    case cancelled = 1
    case invalidArgument = 3
    case deadlineExceeded = 4
    case notFound = 5
    case alreadyExists = 6
    case permissionDenied = 7
    case resourceExhausted = 8
    case failedPrecondition = 9
    case unimplemented = 12
    case `internal` = 13
    case unavailable = 14
    case unauthenticated = 16

    public var description: String {
        switch self {
        case .ok: "ok"
        case .cancelled: "cancelled"
        case .invalidArgument: "invalidArgument"
        case .deadlineExceeded: "deadlineExceeded"
        case .notFound: "notFound"
        case .alreadyExists: "alreadyExists"
        case .permissionDenied: "permissionDenied"
        case .resourceExhausted: "resourceExhausted"
        case .failedPrecondition: "failedPrecondition"
        case .unimplemented: "unimplemented"
        case .internal: "internal"
        case .unavailable: "unavailable"
        case .unauthenticated: "unauthenticated"
        }
    }
}

/// Payload of an `error` frame: `u8 code · string message`.
public struct RPCErrorPayload: WireMessage {
    /// Longest message accepted on decode (and kept by senders, who truncate).
    public static let maxMessageLength = 4096

    public var code: StatusCode
    public var message: String

    /// A message longer than `maxMessageLength` UTF-8 bytes is cut at a scalar boundary, so the
    /// encoding is always decodable.
    public init(code: StatusCode, message: String) {
        self.code = code
        self.message = Self.truncated(message, to: Self.maxMessageLength)
    }

    static func truncated(_ text: String, to limit: Int) -> String {
        if text.utf8.count <= limit { return text }
        var used = 0
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let size = UTF8.width(scalar)
            if used + size > limit { break }
            used += size
            scalars.append(scalar)
        }
        return String(scalars)
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeTag(code)
        writer.writeString(message)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        code = try reader.readTag()
        message = try reader.readString(maxLength: Self.maxMessageLength)
    }
}
