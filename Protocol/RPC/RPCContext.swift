import Logging
import NIOCore
import Wire

/// Identifies one accepted connection for the lifetime of the server.
public struct ConnectionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static func < (a: ConnectionID, b: ConnectionID) -> Bool { a.rawValue < b.rawValue }

    public var description: String { "conn-\(rawValue)" }
}

/// What a handler knows about the call it serves.
public struct RPCContext: Sendable {
    public let connectionID: ConnectionID
    public let remoteAddress: SocketAddress?
    public let callID: UInt64
    public let method: UInt16
    /// When the caller stops waiting (`nil`: no deadline). Async handlers are cancelled at it.
    public let deadline: NIODeadline?
    /// The connection's event loop (synchronous handlers run on it).
    public let eventLoop: any EventLoop
    public let logger: Logger

    /// True once the call was cancelled by the client, its deadline passed, or the connection
    /// closed.
    public var isCancelled: Bool {
        Task.isCancelled || (deadline.map { $0 <= .now() } ?? false)
    }

    /// Throws `deadlineExceeded` or `cancelled` when the handler should stop.
    public func checkCancellation() throws(RPCError) {
        if let deadline, deadline <= .now() { throw RPCError(.deadlineExceeded, "deadline exceeded") }
        if Task.isCancelled { throw RPCError(.cancelled, "cancelled") }
    }

    /// Time left until the deadline (`nil`: none; may be negative).
    public var timeRemaining: TimeAmount? { deadline.map { $0 - .now() } }
}
