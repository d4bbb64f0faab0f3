// Frames (DESIGN §3): every connection carries a sequence of
//
//     u32 length (big-endian, of everything after it)
//     u8  version (= 1)
//     u8  kind
//     u64 call id (big-endian)
//     u16 method (big-endian)
//     payload (length - 12 bytes)
//
// Payload per kind (the "call protocol"):
//
// | kind       | sent by | call id            | payload                                            |
// |------------|---------|--------------------|----------------------------------------------------|
// | request    | client  | new, non-zero      | `u32 timeout-ms` · request message (see `RequestPayload`) |
// | response   | server  | the request's      | response message (unary calls)                     |
// | streamItem | server  | the request's      | one item message (server-streaming calls)          |
// | streamEnd  | server  | the request's      | empty: the stream finished successfully            |
// | error      | server  | the request's, or 0| `RPCErrorPayload`; call id 0 = the connection is bad and will be closed |
// | ping       | either  | any (a nonce)      | opaque, at most 64 bytes                           |
// | pong       | either  | the ping's         | the ping's payload, echoed                         |
// | cancel     | client  | the call to cancel | empty; the server cancels the handler and sends nothing more for that id |
//
// A unary call ends with exactly one response or error frame; a streaming call with streamEnd or
// error. Replies may arrive in any order: clients match them by call id.

/// Constants of the frame layout.
public enum FrameLayout {
    /// The only protocol version this code speaks.
    public static let version: UInt8 = 1
    /// Size of the big-endian length prefix.
    public static let lengthPrefixSize = 4
    /// Bytes after the length prefix and before the payload: version, kind, call id, method.
    public static let headerSize = 12
    /// Length prefix + header: the smallest possible frame on the wire.
    public static let overhead = lengthPrefixSize + headerSize
    /// Default cap on the length field (payload + 12 header bytes): 16 MiB.
    public static let defaultMaxFrameSize = 16 << 20
    /// Cap on ping/pong payloads (a pong echoes them, so they must stay small).
    public static let maxPingPayload = 64
}

/// What a frame carries (DESIGN §3). Unknown kinds are refused by the decoder.
public enum FrameKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case request = 1
    case response = 2
    case streamItem = 3
    case streamEnd = 4
    case error = 5
    case ping = 6
    case pong = 7
    /// The client gives up on a call (task cancelled, client-side deadline).
    case cancel = 8

    /// Largest payload this kind may carry, checked from the header before buffering.
    public var maxPayload: Int {
        switch self {
        case .streamEnd, .cancel: 0
        case .ping, .pong: FrameLayout.maxPingPayload
        case .request, .response, .streamItem, .error: .max
        }
    }

    public var description: String {
        switch self {
        case .request: "request"
        case .response: "response"
        case .streamItem: "streamItem"
        case .streamEnd: "streamEnd"
        case .error: "error"
        case .ping: "ping"
        case .pong: "pong"
        case .cancel: "cancel"
        }
    }
}

/// One decoded frame.
public struct Frame: Sendable, Equatable {
    public var kind: FrameKind
    public var callID: UInt64
    public var method: UInt16
    public var payload: [UInt8]

    public init(kind: FrameKind, callID: UInt64, method: UInt16, payload: [UInt8] = []) {
        self.kind = kind
        self.callID = callID
        self.method = method
        self.payload = payload
    }
}

/// Why a byte stream is not a valid frame sequence. After any of these the stream is
/// unrecoverable: the peer gets an error frame and the connection is closed.
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The length field exceeds the configured maximum (detected from the 4 length bytes alone).
    case frameTooLarge(length: UInt32, limit: Int)
    /// The length field is smaller than the 12-byte header.
    case frameTooShort(length: UInt32)
    case unsupportedVersion(UInt8)
    case unknownKind(UInt8)
    /// The kind allows a smaller payload (e.g. a non-empty cancel, an oversized ping).
    case payloadTooLarge(kind: FrameKind, length: Int)

    public var description: String {
        switch self {
        case .frameTooLarge(let length, let limit): "frame length \(length) exceeds limit \(limit)"
        case .frameTooShort(let length):
            "frame length \(length) is shorter than the \(FrameLayout.headerSize)-byte header"
        case .unsupportedVersion(let v): "unsupported protocol version \(v)"
        case .unknownKind(let k): "unknown frame kind \(k)"
        case .payloadTooLarge(let kind, let length):
            "\(kind) frame payload of \(length) bytes exceeds \(kind.maxPayload)"
        }
    }
}

/// Writes frames.
public enum FrameEncoder {
    /// The frame's bytes.
    public static func encode(_ frame: Frame) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(FrameLayout.overhead + frame.payload.count)
        append(kind: frame.kind, callID: frame.callID, method: frame.method, payload: frame.payload, to: &out)
        return out
    }

    /// Appends one frame to `out`.
    public static func append(
        kind: FrameKind, callID: UInt64, method: UInt16, payload: some Collection<UInt8>, to out: inout [UInt8]
    ) {
        appendHeader(kind: kind, callID: callID, method: method, payloadLength: payload.count, to: &out)
        out.append(contentsOf: payload)
    }

    /// Appends a request frame: the payload is `u32 timeout-ms · message` (see `RequestPayload`).
    public static func appendRequest(
        callID: UInt64, method: UInt16, timeoutMs: UInt32, message: some Collection<UInt8>, to out: inout [UInt8]
    ) {
        appendHeader(
            kind: .request, callID: callID, method: method,
            payloadLength: RequestPayload.prefixSize + message.count, to: &out)
        withUnsafeBytes(of: timeoutMs.bigEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: message)
    }

    /// Appends the 16 bytes before a payload of `payloadLength` bytes.
    public static func appendHeader(
        kind: FrameKind, callID: UInt64, method: UInt16, payloadLength: Int, to out: inout [UInt8]
    ) {
        let length = FrameLayout.headerSize + payloadLength
        precondition(length <= Int(UInt32.max), "frame too large to encode")
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: length).bigEndian) { out.append(contentsOf: $0) }
        out.append(FrameLayout.version)
        out.append(kind.rawValue)
        withUnsafeBytes(of: callID.bigEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: method.bigEndian) { out.append(contentsOf: $0) }
    }
}

/// Deadlines travel inside request frames: the payload of every `request` frame starts with a
/// big-endian `u32` timeout in milliseconds, followed by the request message.
///
/// - `0` means "no deadline".
/// - The value is relative (like gRPC's `grpc-timeout`), so client and server clocks need not
///   agree; the server's deadline starts when it decodes the frame, so it never fires before the
///   client's own.
/// - Both sides enforce it: the client fails the call with `deadlineExceeded` and sends `cancel`;
///   the server cancels the handler's task and answers `deadlineExceeded` if it is still running.
/// - Timeouts above `UInt32.max` ms (~49 days) are clamped by senders.
public enum RequestPayload {
    public static let prefixSize = 4

    /// `u32 timeout-ms · message`.
    public static func make(timeoutMs: UInt32, message: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(prefixSize + message.count)
        withUnsafeBytes(of: timeoutMs.bigEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: message)
        return out
    }

    /// The timeout (ms, 0 = none) of a request payload.
    public static func timeoutMs(of payload: [UInt8]) throws(WireError) -> UInt32 {
        guard payload.count >= prefixSize else { throw .truncated(needed: prefixSize, remaining: payload.count) }
        return UInt32(payload[0]) << 24 | UInt32(payload[1]) << 16 | UInt32(payload[2]) << 8 | UInt32(payload[3])
    }

    /// Splits a request payload into its timeout and message bytes.
    public static func split(_ payload: [UInt8]) throws(WireError) -> (timeoutMs: UInt32, message: [UInt8]) {
        let timeout = try timeoutMs(of: payload)
        return (timeout, Array(payload[prefixSize...]))
    }
}
