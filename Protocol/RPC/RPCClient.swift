import Logging
import NIOCore
import NIOPosix
import Synchronization
import Wire

/// Client end of one framed-TCP connection (DESIGN §3). Thread-safe; calls are pipelined on the
/// connection and matched to replies by call id.
///
/// Every failure is an `RPCError`: the server's status, `deadlineExceeded` for the client-side
/// deadline, `cancelled` when the calling task is cancelled (a `cancel` frame tells the server),
/// `unavailable` when the connection cannot be made or is lost.
public final class RPCClient: Sendable {
    public let channel: any Channel
    public let maxFrameSize: Int
    private let connection: NIOLoopBound<ClientConnectionHandler>
    private let nextCallID = Atomic<UInt64>(1)

    private init(channel: any Channel, connection: NIOLoopBound<ClientConnectionHandler>, maxFrameSize: Int) {
        self.channel = channel
        self.connection = connection
        self.maxFrameSize = maxFrameSize
    }

    /// Connects to `host:port`. Failures are `RPCError(.unavailable, …)`.
    public static func connect(
        host: String, port: Int, group: any EventLoopGroup,
        maxFrameSize: Int = FrameLayout.defaultMaxFrameSize,
        connectTimeout: TimeAmount = .seconds(5),
        logger: Logger = Logger(label: "vn.rpc.client")
    ) async throws(RPCError) -> RPCClient {
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = ClientConnectionHandler(maxFrameSize: maxFrameSize, logger: logger)
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(FrameByteDecoder(maxFrameSize: maxFrameSize)))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameByteEncoder()))
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        do {
            let channel = try await bootstrap.connect(host: host, port: port).get()
            let connection = try await channel.eventLoop.submit {
                let handler = try channel.pipeline.syncOperations.handler(type: ClientConnectionHandler.self)
                return NIOLoopBound(handler, eventLoop: channel.eventLoop)
            }.get()
            return RPCClient(channel: channel, connection: connection, maxFrameSize: maxFrameSize)
        } catch {
            throw RPCError(.unavailable, "connect to \(host):\(port) failed: \(error)")
        }
    }

    public var eventLoop: any EventLoop { channel.eventLoop }

    /// Whether the connection is open.
    public var isActive: Bool { channel.isActive }

    /// Completes when the connection has closed.
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    /// Calls `callback` once the connection has closed (at once if it already has).
    public func onClose(_ callback: @escaping @Sendable () -> Void) {
        channel.closeFuture.whenComplete { _ in callback() }
    }

    /// Closes the connection; pending calls fail with `unavailable`.
    public func close() async {
        try? await channel.close()
    }

    private func makeCallID() -> UInt64 {
        nextCallID.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    private func onLoop(_ body: @escaping @Sendable (ClientConnectionHandler) -> Void) {
        let connection = connection
        if connection.eventLoop.inEventLoop {
            body(connection.value)
        } else {
            connection.eventLoop.execute { body(connection.value) }
        }
    }

    // MARK: Unary

    /// Starts a call without `async` (pipelining from event-loop code, benchmarks): the future
    /// fails with an `RPCError`. `timeout` is enforced here and sent to the server.
    public func callFuture(method: UInt16, request: [UInt8], timeout: TimeAmount? = nil) -> EventLoopFuture<[UInt8]> {
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        startUnary(callID: makeCallID(), method: method, request: request, timeout: timeout, promise: promise)
        return promise.futureResult
    }

    private func startUnary(
        callID: UInt64, method: UInt16, request: [UInt8], timeout: TimeAmount?, promise: EventLoopPromise<[UInt8]>
    ) {
        onLoop {
            $0.startCall(callID: callID, method: method, request: request, timeout: timeout, pending: .unary(promise))
        }
    }

    /// Calls `method` with raw request bytes; returns the raw response bytes.
    public func call(method: UInt16, request: [UInt8], timeout: Duration? = nil) async throws(RPCError) -> [UInt8] {
        if Task.isCancelled { throw RPCError(.cancelled, "cancelled before the call started") }
        let callID = makeCallID()
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        startUnary(
            callID: callID, method: method, request: request, timeout: timeout.map(TimeAmount.init), promise: promise)
        do {
            return try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                self.cancel(callID: callID)
            }
        } catch {
            throw Self.asRPCError(error)
        }
    }

    /// Typed unary call; an undecodable response is `internal`.
    public func call<Request: WireMessage, Response: WireMessage>(
        method: UInt16, request: Request, response: Response.Type = Response.self, timeout: Duration? = nil
    ) async throws(RPCError) -> Response {
        let bytes = try await call(method: method, request: request.encoded(), timeout: timeout)
        do {
            return try Response.decode(bytes)
        } catch {
            throw RPCError(.internal, "invalid \(Response.self) in response: \(error)")
        }
    }

    // MARK: Server streaming

    /// Starts a server-streaming call. The stream ends when the server sends `streamEnd`, or
    /// throws an `RPCError`. Dropping or cancelling the consumer cancels the call on the server.
    public func serverStream(
        method: UInt16, request: [UInt8], timeout: Duration? = nil
    ) -> AsyncThrowingStream<[UInt8], any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: [UInt8].self)
        let callID = makeCallID()
        continuation.onTermination = { [self] termination in
            if case .cancelled = termination { cancel(callID: callID) }
        }
        let timeAmount = timeout.map(TimeAmount.init)
        onLoop {
            $0.startCall(
                callID: callID, method: method, request: request, timeout: timeAmount, pending: .stream(continuation))
        }
        return stream
    }

    /// Typed server-streaming call.
    public func serverStream<Request: WireMessage, Item: WireMessage>(
        method: UInt16, request: Request, item: Item.Type = Item.self, timeout: Duration? = nil
    ) -> AsyncThrowingStream<Item, any Error> {
        let raw = serverStream(method: method, request: request.encoded(), timeout: timeout)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: Item.self)
        let pump = Task {
            do {
                for try await bytes in raw {
                    do {
                        continuation.yield(try Item.decode(bytes))
                    } catch {
                        throw RPCError(.internal, "invalid \(Item.self) in stream: \(error)")
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: Self.asRPCError(error))
            }
        }
        continuation.onTermination = { _ in pump.cancel() }
        return stream
    }

    // MARK: Cancellation

    private func cancel(callID: UInt64) {
        onLoop { $0.cancelCall(callID: callID, reason: RPCError(.cancelled, "cancelled by the caller")) }
    }

    static func asRPCError(_ error: any Error) -> RPCError {
        switch error {
        case let rpc as RPCError: rpc
        case is CancellationError: RPCError(.cancelled, "cancelled")
        default: RPCError(.unavailable, "\(error)")
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let nanos = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        self = nanos.overflow ? .nanoseconds(.max) : .nanoseconds(nanos.partialValue + attoseconds / 1_000_000_000)
    }
}

/// Client side of one connection (event loop only).
final class ClientConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    enum Pending {
        case unary(EventLoopPromise<[UInt8]>)
        case stream(AsyncThrowingStream<[UInt8], any Error>.Continuation)
    }

    private struct Call {
        let method: UInt16
        let pending: Pending
        var timer: Scheduled<Void>?
    }

    private let maxFrameSize: Int
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var calls: [UInt64: Call] = [:]
    private var closed = false
    private var closeReason = "connection closed"
    private var flushScheduled = false

    init(maxFrameSize: Int, logger: Logger) {
        self.maxFrameSize = maxFrameSize
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failAll()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closeReason = "connection failed: \(error)"
        logger.debug("closing client connection", metadata: ["error": "\(error)"])
        failAll()
        context.close(promise: nil)
    }

    // MARK: Calls (event loop)

    func startCall(callID: UInt64, method: UInt16, request: [UInt8], timeout: TimeAmount?, pending: Pending) {
        guard !closed, let context else {
            return Self.fail(pending, RPCError(.unavailable, closeReason))
        }
        guard FrameLayout.headerSize + RequestPayload.prefixSize + request.count <= maxFrameSize else {
            return Self.fail(pending, RPCError(.resourceExhausted, "request larger than the frame limit"))
        }
        var timeoutMs: UInt32 = 0
        var call = Call(method: method, pending: pending)
        if let timeout {
            guard timeout.nanoseconds > 0 else {
                return Self.fail(pending, RPCError(.deadlineExceeded, "deadline exceeded before the call started"))
            }
            let ms = (timeout.nanoseconds + 999_999) / 1_000_000
            timeoutMs = UInt32(clamping: ms)
            call.timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
                cancelCall(callID: callID, reason: RPCError(.deadlineExceeded, "deadline exceeded"))
            }
        }
        calls[callID] = call
        var payload = [UInt8]()
        payload.reserveCapacity(RequestPayload.prefixSize + request.count)
        withUnsafeBytes(of: timeoutMs.bigEndian) { payload.append(contentsOf: $0) }
        payload.append(contentsOf: request)
        context.write(
            wrapOutboundOut(Frame(kind: .request, callID: callID, method: method, payload: payload)), promise: nil)
        scheduleFlush()
    }

    /// The caller gave up (task cancelled, stream dropped, client-side deadline).
    func cancelCall(callID: UInt64, reason: RPCError) {
        guard let call = calls.removeValue(forKey: callID) else { return }
        call.timer?.cancel()
        Self.fail(call.pending, reason)
        guard !closed, let context else { return }
        context.write(wrapOutboundOut(Frame(kind: .cancel, callID: callID, method: call.method)), promise: nil)
        scheduleFlush()
    }

    /// Coalesces the flushes of calls started in the same event-loop tick into one syscall.
    private func scheduleFlush() {
        guard !flushScheduled, let context else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            flushScheduled = false
            self.context?.flush()
        }
    }

    // MARK: Replies

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.kind {
        case .response:
            guard let call = calls.removeValue(forKey: frame.callID) else { return }  // cancelled: ignore
            call.timer?.cancel()
            switch call.pending {
            case .unary(let promise): promise.succeed(frame.payload)
            case .stream(let continuation):
                continuation.finish(throwing: RPCError(.internal, "server sent a unary response to a stream call"))
            }
        case .streamItem:
            guard let call = calls[frame.callID] else { return }
            switch call.pending {
            case .stream(let continuation): continuation.yield(frame.payload)
            case .unary(let promise):
                calls[frame.callID] = nil
                call.timer?.cancel()
                promise.fail(RPCError(.internal, "server sent a stream item to a unary call"))
            }
        case .streamEnd:
            guard let call = calls.removeValue(forKey: frame.callID) else { return }
            call.timer?.cancel()
            switch call.pending {
            case .stream(let continuation): continuation.finish()
            case .unary(let promise): promise.fail(RPCError(.internal, "server ended a unary call as a stream"))
            }
        case .error:
            let error: RPCError
            do {
                error = RPCError(try RPCErrorPayload.decode(frame.payload))
            } catch {
                return protocolViolation("undecodable error frame: \(error)")
            }
            if frame.callID == 0 {
                // The server found our connection bad and is closing it.
                closeReason = "closed by server: \(error)"
                return
            }
            guard let call = calls.removeValue(forKey: frame.callID) else { return }
            call.timer?.cancel()
            Self.fail(call.pending, error)
        case .ping:
            context.writeAndFlush(
                wrapOutboundOut(
                    Frame(
                        kind: .pong, callID: frame.callID, method: frame.method,
                        payload: frame.payload)), promise: nil)
        case .pong:
            break
        case .request, .cancel:
            protocolViolation("unexpected \(frame.kind) frame from the server")
        }
    }

    private func protocolViolation(_ reason: String) {
        closeReason = reason
        logger.debug("server broke the protocol", metadata: ["reason": "\(reason)"])
        failAll()
        context?.close(promise: nil)
    }

    private func failAll() {
        closed = true
        guard !calls.isEmpty else { return }
        let all = calls
        calls = [:]
        let error = RPCError(.unavailable, closeReason)
        for call in all.values {
            call.timer?.cancel()
            Self.fail(call.pending, error)
        }
    }

    private static func fail(_ pending: Pending, _ error: RPCError) {
        switch pending {
        case .unary(let promise): promise.fail(error)
        case .stream(let continuation): continuation.finish(throwing: error)
        }
    }
}
