import NIOCore
import Wire

/// A failed call: a status code and a human-readable message. Handlers throw it to choose the
/// status the caller sees; clients throw it for every failure (connection failures are
/// `.unavailable`).
public struct RPCError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String

    public init(_ code: StatusCode, _ message: String = "") {
        self.code = code
        self.message = message
    }

    public init(code: StatusCode, message: String) {
        self.init(code, message)
    }

    init(_ payload: RPCErrorPayload) {
        self.init(payload.code, payload.message)
    }

    var payload: RPCErrorPayload { RPCErrorPayload(code: code, message: message) }

    public var description: String { message.isEmpty ? "\(code)" : "\(code): \(message)" }

    /// The status a handler's thrown error maps to. Only `RPCError`s carry their message to the
    /// peer; anything else is reported as `internal` without details (they are logged instead).
    static func from(handlerError error: any Error, deadline: NIODeadline?) -> RPCError {
        switch error {
        case let rpc as RPCError: rpc
        case let wire as WireError: RPCError(.invalidArgument, "invalid message: \(wire)")
        case is CancellationError:
            if let deadline, deadline <= .now() {
                RPCError(.deadlineExceeded, "deadline exceeded")
            } else {
                RPCError(.cancelled, "cancelled")
            }
        default: RPCError(.internal, "internal error")
        }
    }
}
