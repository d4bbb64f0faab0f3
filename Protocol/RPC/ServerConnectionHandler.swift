import Logging
import NIOCore
import Wire

/// One server connection: dispatches request frames to handlers and writes their replies.
/// Lives on the channel's event loop; async handlers report back through `NIOLoopBound`.
final class ServerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    private struct Call {
        let token: UInt64
        let method: UInt16
        let deadline: NIODeadline?
        var task: Task<Void, Never>?
        var timer: Scheduled<Void>?
        /// A stream item being written; failed if the call ends first, so a handler blocked on a
        /// peer that does not read is released by cancel, deadline or close.
        var pendingSend: EventLoopPromise<Void>?

        func end() {
            timer?.cancel()
            task?.cancel()
            pendingSend?.fail(RPCError(.cancelled, "call ended"))
        }
    }

    private enum State { case open, closing, closed }

    let connectionID: ConnectionID
    private let eventLoop: any EventLoop
    private let handlers: [UInt16: RPCHandlerEntry]
    private let configuration: RPCServer.Configuration
    private let logger: Logger
    private let counters: ServerCounters

    private var context: ChannelHandlerContext?
    private var loopBound: NIOLoopBound<ServerConnectionHandler>?
    private var remoteAddress: SocketAddress?
    private var calls: [UInt64: Call] = [:]
    private var nextToken: UInt64 = 0
    private var state = State.open
    private var needsFlush = false

    init(
        connectionID: ConnectionID, eventLoop: any EventLoop, handlers: [UInt16: RPCHandlerEntry],
        configuration: RPCServer.Configuration, logger: Logger, counters: ServerCounters
    ) {
        self.connectionID = connectionID
        self.eventLoop = eventLoop
        self.handlers = handlers
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "connection"] = "\(connectionID.rawValue)"
        self.logger = logger
        self.counters = counters
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        if context.channel.isActive { remoteAddress = context.channel.remoteAddress }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelAllCalls()
        self.context = nil
        self.loopBound = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        remoteAddress = context.channel.remoteAddress
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        cancelAllCalls()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard state == .open else { return }
        let frame = unwrapInboundIn(data)
        switch frame.kind {
        case .request: handleRequest(frame)
        case .cancel: handleCancel(frame.callID)
        case .ping: write(Frame(kind: .pong, callID: frame.callID, method: frame.method, payload: frame.payload))
        case .pong: break
        case .response, .streamItem, .streamEnd, .error:
            protocolViolation(.invalidArgument, "unexpected \(frame.kind) frame from a client")
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // Stop reading requests while replies cannot be written: bounded memory per connection.
        context.channel.setOption(ChannelOptions.autoRead, value: context.channel.isWritable).whenFailure { _ in }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let frameError = error as? FrameError {
            switch frameError {
            case .frameTooLarge, .payloadTooLarge: protocolViolation(.resourceExhausted, frameError.description)
            default: protocolViolation(.invalidArgument, frameError.description)
            }
        } else if state == .open {
            logger.debug("connection error", metadata: ["error": "\(error)"])
            state = .closing
            cancelAllCalls()
            context.close(promise: nil)
        }
    }

    // MARK: Requests

    private func handleRequest(_ frame: Frame) {
        let callID = frame.callID
        guard callID != 0 else { return protocolViolation(.invalidArgument, "call id 0 is reserved") }
        guard frame.payload.count >= RequestPayload.prefixSize else {
            return protocolViolation(.invalidArgument, "request frame without timeout prefix")
        }
        guard calls[callID] == nil else {
            return protocolViolation(.invalidArgument, "call id \(callID) already in flight")
        }
        counters.calls.wrappingAdd(1, ordering: .relaxed)
        guard let entry = handlers[frame.method] else {
            return writeError(
                callID: callID, method: frame.method,
                RPCError(.unimplemented, "unknown method \(MethodID.name(frame.method))"))
        }
        let timeoutMs = (try? RequestPayload.timeoutMs(of: frame.payload)) ?? 0
        var deadline: NIODeadline? = timeoutMs == 0 ? nil : .now() + .milliseconds(Int64(timeoutMs))
        if let cap = configuration.maxTimeout {
            let capped = NIODeadline.now() + cap
            deadline = deadline.map { min($0, capped) } ?? capped
        }
        let message =
            frame.payload.count == RequestPayload.prefixSize ? [] : Array(frame.payload[RequestPayload.prefixSize...])
        guard let context, let loopBound else { return }
        let rpcContext = RPCContext(
            connectionID: connectionID, remoteAddress: remoteAddress, callID: callID, method: frame.method,
            deadline: deadline, eventLoop: context.eventLoop, logger: logger)

        switch entry {
        case .sync(let handler):
            do {
                writeResponse(
                    callID: callID, method: frame.method, kind: .response, payload: try handler(message, rpcContext))
            } catch {
                writeError(
                    callID: callID, method: frame.method, mapError(error, method: frame.method, deadline: deadline))
            }

        case .unary(let handler):
            guard let token = admitCall(callID: callID, method: frame.method, deadline: deadline) else { return }
            let counters = counters
            counters.runningTasks.wrappingAdd(1, ordering: .relaxed)
            let task = Task {
                let result: Result<[UInt8], any Error>
                do { result = .success(try await handler(message, rpcContext)) } catch { result = .failure(error) }
                loopBound.eventLoop.execute {
                    loopBound.value.finishCall(callID: callID, token: token, result: result)
                }
                counters.runningTasks.wrappingSubtract(1, ordering: .releasing)
            }
            calls[callID]?.task = task

        case .future(let handler):
            guard let token = admitCall(callID: callID, method: frame.method, deadline: deadline) else { return }
            let answered = handler(message, rpcContext)
            answered.hop(to: loopBound.eventLoop).whenComplete { result in
                loopBound.value.finishCall(callID: callID, token: token, result: result)
            }

        case .stream(let handler):
            guard let token = admitCall(callID: callID, method: frame.method, deadline: deadline) else { return }
            let writer = RPCStreamWriter(connection: loopBound, callID: callID, token: token)
            let counters = counters
            counters.runningTasks.wrappingAdd(1, ordering: .relaxed)
            let task = Task {
                let result: Result<[UInt8], any Error>
                do {
                    try await handler(message, rpcContext, writer)
                    result = .success([])
                } catch {
                    result = .failure(error)
                }
                loopBound.eventLoop.execute {
                    loopBound.value.finishCall(callID: callID, token: token, result: result, streamEnd: true)
                }
                counters.runningTasks.wrappingSubtract(1, ordering: .releasing)
            }
            calls[callID]?.task = task
        }
    }

    /// Records an async call (and arms its deadline); answers `resourceExhausted` when full.
    private func admitCall(callID: UInt64, method: UInt16, deadline: NIODeadline?) -> UInt64? {
        guard calls.count < configuration.maxConcurrentCallsPerConnection else {
            writeError(callID: callID, method: method, RPCError(.resourceExhausted, "too many calls in flight"))
            return nil
        }
        nextToken &+= 1
        let token = nextToken
        var call = Call(token: token, method: method, deadline: deadline)
        if let deadline, let context {
            call.timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
                deadlineFired(callID: callID, token: token)
            }
        }
        calls[callID] = call
        return token
    }

    private func handleCancel(_ callID: UInt64) {
        guard let call = calls.removeValue(forKey: callID) else { return }  // finished already
        call.end()
    }

    private func deadlineFired(callID: UInt64, token: UInt64) {
        guard let call = calls[callID], call.token == token else { return }
        calls[callID] = nil
        call.end()
        writeError(callID: callID, method: call.method, RPCError(.deadlineExceeded, "deadline exceeded"))
        flushNow()
    }

    /// An async handler returned (on the event loop).
    func finishCall(callID: UInt64, token: UInt64, result: Result<[UInt8], any Error>, streamEnd: Bool = false) {
        guard let call = calls[callID], call.token == token else { return }  // cancelled or timed out
        calls[callID] = nil
        call.timer?.cancel()
        switch result {
        case .success(let payload):
            writeResponse(
                callID: callID, method: call.method, kind: streamEnd ? .streamEnd : .response, payload: payload)
        case .failure(let error):
            writeError(
                callID: callID, method: call.method, mapError(error, method: call.method, deadline: call.deadline))
        }
        flushNow()
    }

    /// A streaming handler sent an item (on the event loop).
    func sendStreamItem(callID: UInt64, token: UInt64, item: [UInt8]) -> EventLoopFuture<Void> {
        // May run after the connection closed (the handler's task outlives it): no context then.
        guard state == .open, let context, let call = calls[callID], call.token == token else {
            return eventLoop.makeFailedFuture(RPCError(.cancelled, "call ended"))
        }
        guard FrameLayout.headerSize + item.count <= configuration.maxFrameSize else {
            return eventLoop.makeFailedFuture(RPCError(.resourceExhausted, "stream item larger than the frame limit"))
        }
        let sent = context.eventLoop.makePromise(of: Void.self)
        calls[callID]?.pendingSend = sent
        let written = context.writeAndFlush(
            wrapOutboundOut(Frame(kind: .streamItem, callID: callID, method: call.method, payload: item)))
        written.assumeIsolated().whenComplete { [self] result in
            if calls[callID]?.token == token { calls[callID]?.pendingSend = nil }
            sent.completeWith(result)
        }
        return sent.futureResult
    }

    private func cancelAllCalls() {
        guard !calls.isEmpty else { return }
        let all = calls
        calls = [:]
        for call in all.values { call.end() }
    }

    // MARK: Writing

    private func mapError(_ error: any Error, method: UInt16, deadline: NIODeadline?) -> RPCError {
        let mapped = RPCError.from(handlerError: error, deadline: deadline)
        if mapped.code == .internal, !(error is RPCError) {
            logger.warning("handler failed", metadata: ["method": "\(MethodID.name(method))", "error": "\(error)"])
        }
        return mapped
    }

    private func write(_ frame: Frame) {
        context?.write(wrapOutboundOut(frame), promise: nil)
        needsFlush = true
    }

    private func flushNow() {
        if needsFlush {
            needsFlush = false
            context?.flush()
        }
    }

    private func writeResponse(callID: UInt64, method: UInt16, kind: FrameKind, payload: [UInt8]) {
        guard state == .open else { return }
        guard FrameLayout.headerSize + payload.count <= configuration.maxFrameSize else {
            return writeError(
                callID: callID, method: method, RPCError(.resourceExhausted, "response larger than the frame limit"))
        }
        write(Frame(kind: kind, callID: callID, method: method, payload: payload))
    }

    private func writeError(callID: UInt64, method: UInt16, _ error: RPCError) {
        guard state == .open else { return }
        write(Frame(kind: .error, callID: callID, method: method, payload: error.payload.encoded()))
    }

    /// The peer broke the protocol: cancel everything, send an error frame (call id 0), close.
    private func protocolViolation(_ code: StatusCode, _ message: String) {
        guard state == .open, let context else { return }
        state = .closing
        counters.protocolErrors.wrappingAdd(1, ordering: .relaxed)
        logger.debug("protocol violation, closing", metadata: ["reason": "\(message)"])
        cancelAllCalls()
        let frame = Frame(
            kind: .error, callID: 0, method: 0, payload: RPCErrorPayload(code: code, message: message).encoded())
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(frame), promise: written)
        needsFlush = false
        let channel = context.channel
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        // Backstop: a peer that never reads must not keep the connection open.
        context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }
}
