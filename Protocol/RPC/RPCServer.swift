import Logging
import NIOCore
import NIOPosix
import Synchronization
import Wire

/// Raw unary handler: request message bytes in, response message bytes out.
public typealias RPCUnaryHandler = @Sendable ([UInt8], RPCContext) async throws -> [UInt8]
/// Raw synchronous handler: runs directly on the connection's event loop (no task, no thread
/// hop). For cheap, non-blocking work only.
public typealias RPCSyncHandler = @Sendable ([UInt8], RPCContext) throws -> [UInt8]
/// Raw handler answering with a future: called on the connection's event loop (no task, no
/// thread hop), for a call that only waits on other event-loop I/O (a call forwarded to another
/// service). Its deadline answers the caller `deadlineExceeded`; the work is not cancelled.
public typealias RPCFutureHandler = @Sendable ([UInt8], RPCContext) -> EventLoopFuture<[UInt8]>
/// Raw server-streaming handler: sends items through the writer; returning ends the stream,
/// throwing ends it with an error.
public typealias RPCStreamHandler = @Sendable ([UInt8], RPCContext, RPCStreamWriter) async throws -> Void

enum RPCHandlerEntry: Sendable {
    case unary(RPCUnaryHandler)
    case sync(RPCSyncHandler)
    case future(RPCFutureHandler)
    case stream(RPCStreamHandler)
}

/// Framed-TCP RPC server (DESIGN §3).
///
/// Register handlers, then `start()`; `shutdown()` closes the listener and every connection.
/// Calls on one connection run concurrently and their replies go out as they finish (clients
/// match them by call id). Per connection:
/// - unknown method → `unimplemented` error frame, the connection stays open;
/// - malformed input (bad frame, oversized length, unexpected frame kind, duplicate call id) →
///   an error frame with call id 0, then the connection is closed;
/// - more than `maxConcurrentCallsPerConnection` async calls in flight → `resourceExhausted`;
/// - a handler's deadline (from the request frame, capped by `maxTimeout`) cancels its task and
///   answers `deadlineExceeded`; a `cancel` frame cancels its task silently;
/// - reading pauses while the socket's send buffer is full (a client that does not read its
///   replies cannot make the server buffer without bound).
public final class RPCServer: Sendable {
    public struct Configuration: Sendable {
        /// Loopback by default (DESIGN §3: local RPC binds to loopback).
        public var host: String
        /// 0 picks a free port; see `port` after `start()`.
        public var port: Int
        /// Cap on a frame's length field, both directions.
        public var maxFrameSize: Int
        public var maxConcurrentCallsPerConnection: Int
        /// Connections beyond this are closed as soon as they are accepted.
        public var maxConnections: Int
        /// Upper bound on any call's deadline, also applied to calls that carry none.
        public var maxTimeout: TimeAmount?
        public var backlog: Int32

        public init(
            host: String = "127.0.0.1", port: Int = 0, maxFrameSize: Int = FrameLayout.defaultMaxFrameSize,
            maxConcurrentCallsPerConnection: Int = 1024, maxConnections: Int = 1024, maxTimeout: TimeAmount? = nil,
            backlog: Int32 = 256
        ) {
            self.host = host
            self.port = port
            self.maxFrameSize = maxFrameSize
            self.maxConcurrentCallsPerConnection = maxConcurrentCallsPerConnection
            self.maxConnections = maxConnections
            self.maxTimeout = maxTimeout
            self.backlog = backlog
        }
    }

    /// Counters for `/metrics`.
    public struct Stats: Sendable, Equatable {
        public var connectionsAccepted: UInt64
        public var connectionsOpen: Int
        public var calls: UInt64
        public var protocolErrors: UInt64
    }

    private struct State: Sendable {
        var handlers: [UInt16: RPCHandlerEntry] = [:]
        var started = false
        var shuttingDown = false
        var serverChannel: (any Channel)?
        var connections: [ConnectionID: any Channel] = [:]
        var onConnectionOpened: (@Sendable (ConnectionID, SocketAddress?) -> Void)?
        var onConnectionClosed: (@Sendable (ConnectionID) -> Void)?
        var boundPort: Int?
    }

    public let configuration: Configuration
    public let group: any EventLoopGroup
    let logger: Logger
    private let state = Mutex(State())
    let counters = ServerCounters()

    public init(
        configuration: Configuration = Configuration(), group: any EventLoopGroup,
        logger: Logger = Logger(label: "vn.rpc.server")
    ) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        // Built-in application-level ping (Empty → Empty); may be replaced.
        state.withLock { $0.handlers[MethodID.ping] = .sync { _, _ in [] } }
    }

    // MARK: Registration (before `start()`)

    private func add(_ method: UInt16, _ entry: RPCHandlerEntry) {
        state.withLock { s in
            precondition(!s.started, "register handlers before start()")
            precondition(
                s.handlers[method] == nil || method == MethodID.ping,
                "method \(MethodID.name(method)) registered twice")
            s.handlers[method] = entry
        }
    }

    /// Registers an async unary handler (runs in its own task; deadlines and `cancel` frames
    /// cancel that task).
    public func registerUnary(_ method: UInt16, _ handler: @escaping RPCUnaryHandler) {
        add(method, .unary(handler))
    }

    /// Registers a synchronous unary handler that runs on the event loop: the fast path for
    /// cheap, non-blocking work. It must not block or take long; deadlines are not enforced.
    public func registerSync(_ method: UInt16, _ handler: @escaping RPCSyncHandler) {
        add(method, .sync(handler))
    }

    /// Registers a handler that answers with a future (see `RPCFutureHandler`).
    public func registerFuture(_ method: UInt16, _ handler: @escaping RPCFutureHandler) {
        add(method, .future(handler))
    }

    /// Registers a server-streaming handler.
    public func registerStream(_ method: UInt16, _ handler: @escaping RPCStreamHandler) {
        add(method, .stream(handler))
    }

    /// Typed unary handler; an undecodable request is answered `invalidArgument`.
    public func register<Request: WireMessage, Response: WireMessage>(
        _ method: UInt16, request: Request.Type,
        handler: @escaping @Sendable (Request, RPCContext) async throws -> Response
    ) {
        registerUnary(method) { bytes, context in
            try await handler(try Self.decodeRequest(Request.self, bytes), context).encoded()
        }
    }

    /// Typed synchronous unary handler (see `registerSync(_:_:)`).
    public func registerSync<Request: WireMessage, Response: WireMessage>(
        _ method: UInt16, request: Request.Type,
        handler: @escaping @Sendable (Request, RPCContext) throws -> Response
    ) {
        registerSync(method) { bytes, context in
            try handler(try Self.decodeRequest(Request.self, bytes), context).encoded()
        }
    }

    /// Typed server-streaming handler; send items with `writer.send(_: some WireMessage)`.
    public func registerStream<Request: WireMessage>(
        _ method: UInt16, request: Request.Type,
        handler: @escaping @Sendable (Request, RPCContext, RPCStreamWriter) async throws -> Void
    ) {
        registerStream(method) { bytes, context, writer in
            try await handler(try Self.decodeRequest(Request.self, bytes), context, writer)
        }
    }

    static func decodeRequest<Request: WireMessage>(_: Request.Type, _ bytes: [UInt8]) throws(RPCError) -> Request {
        do {
            return try Request.decode(bytes)
        } catch {
            throw RPCError(.invalidArgument, "invalid \(Request.self): \(error)")
        }
    }

    // MARK: Callbacks

    /// Called (on the connection's event loop) when a connection is accepted.
    public var onConnectionOpened: (@Sendable (ConnectionID, SocketAddress?) -> Void)? {
        get { state.withLock { $0.onConnectionOpened } }
        set { state.withLock { $0.onConnectionOpened = newValue } }
    }

    /// Called (on the connection's event loop) once a connection has closed, for whatever reason;
    /// e.g. the consensus-manager marks the service registered on it as disconnected.
    public var onConnectionClosed: (@Sendable (ConnectionID) -> Void)? {
        get { state.withLock { $0.onConnectionClosed } }
        set { state.withLock { $0.onConnectionClosed = newValue } }
    }

    // MARK: Lifecycle

    /// The bound port, once started.
    public var port: Int? { state.withLock { $0.boundPort } }

    /// Open connections.
    public var connectionCount: Int { state.withLock { $0.connections.count } }

    public var stats: Stats {
        Stats(
            connectionsAccepted: counters.connectionsAccepted.load(ordering: .relaxed),
            connectionsOpen: connectionCount,
            calls: counters.calls.load(ordering: .relaxed),
            protocolErrors: counters.protocolErrors.load(ordering: .relaxed))
    }

    /// Binds and starts accepting. Returns the bound port.
    @discardableResult
    public func start() async throws -> Int {
        let handlers = state.withLock { s in
            precondition(!s.started, "start() called twice")
            s.started = true
            return s.handlers
        }
        let configuration = configuration
        let logger = logger
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let id = ConnectionID(
                        rawValue: counters.nextConnectionID.wrappingAdd(1, ordering: .relaxed).oldValue)
                    let handler = ServerConnectionHandler(
                        connectionID: id, eventLoop: channel.eventLoop, handlers: handlers,
                        configuration: configuration,
                        logger: logger, counters: counters)
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(FrameByteDecoder(maxFrameSize: configuration.maxFrameSize)))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameByteEncoder()))
                    try channel.pipeline.syncOperations.addHandler(handler)
                    self.connectionOpened(id, channel)
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch {
            state.withLock { $0.started = false }
            throw error
        }
        let port = channel.localAddress?.port ?? configuration.port
        state.withLock { s in
            s.serverChannel = channel
            s.boundPort = port
        }
        logger.info("rpc server listening", metadata: ["host": "\(configuration.host)", "port": "\(port)"])
        return port
    }

    private func connectionOpened(_ id: ConnectionID, _ channel: any Channel) {
        counters.connectionsAccepted.wrappingAdd(1, ordering: .relaxed)
        let (accept, opened) = state.withLock { s -> (Bool, (@Sendable (ConnectionID, SocketAddress?) -> Void)?) in
            guard !s.shuttingDown, s.connections.count < configuration.maxConnections else { return (false, nil) }
            s.connections[id] = channel
            return (true, s.onConnectionOpened)
        }
        guard accept else {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [self] _ in
            let closed = state.withLock { s in
                s.connections[id] = nil
                return s.onConnectionClosed
            }
            closed?(id)
        }
        opened?(id, channel.remoteAddress)
    }

    /// Stops accepting, closes every connection, cancels their in-flight handlers and waits until
    /// the connections are closed and the handlers' tasks have returned (at most `gracePeriod`
    /// for handlers that ignore cancellation). Call it before shutting down the event loop group.
    public func shutdown(gracePeriod: Duration = .seconds(5)) async {
        let (server, children) = state.withLock { s in
            s.shuttingDown = true
            return (s.serverChannel, Array(s.connections.values))
        }
        if let server { try? await server.close() }
        for child in children { child.close(promise: nil) }
        for child in children { try? await child.closeFuture.get() }
        state.withLock { $0.serverChannel = nil }
        let deadline = ContinuousClock.now + gracePeriod
        while counters.runningTasks.load(ordering: .acquiring) > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
        if counters.runningTasks.load(ordering: .acquiring) > 0 {
            logger.warning("handlers still running after shutdown grace period")
        }
    }
}

final class ServerCounters: Sendable {
    let nextConnectionID = Atomic<UInt64>(1)
    let connectionsAccepted = Atomic<UInt64>(0)
    let calls = Atomic<UInt64>(0)
    let protocolErrors = Atomic<UInt64>(0)
    /// Handler tasks not yet finished (shutdown waits for them).
    let runningTasks = Atomic<Int>(0)
}

/// Sends the items of a server-streaming call. Each `send` completes once the item was written
/// to the socket, which paces a producer to the connection. After the call ended (cancelled,
/// deadline, connection closed) `send` throws `cancelled`.
public struct RPCStreamWriter: Sendable {
    let connection: NIOLoopBound<ServerConnectionHandler>
    let callID: UInt64
    let token: UInt64

    public func send(_ item: [UInt8]) async throws(RPCError) {
        let connection = connection
        let callID = callID
        let token = token
        do {
            try await connection.eventLoop.flatSubmit {
                connection.value.sendStreamItem(callID: callID, token: token, item: item)
            }.get()
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(.cancelled, "stream closed: \(error)")
        }
    }

    public func send<Item: WireMessage>(_ item: Item) async throws(RPCError) {
        try await send(item.encoded())
    }
}
