import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization
import Wire

// MARK: - Readiness

/// The outcome of one readiness check.
public struct ReadinessResult: Sendable, Equatable {
    public var ok: Bool
    public var detail: String

    public init(ok: Bool, detail: String) {
        self.ok = ok
        self.detail = detail
    }

    public static func ready(_ detail: String = "ok") -> ReadinessResult { ReadinessResult(ok: true, detail: detail) }
    public static func notReady(_ detail: String) -> ReadinessResult { ReadinessResult(ok: false, detail: detail) }
}

/// A named dependency check behind `/readyz` (database open, peers connected, chain RPC
/// reachable, ...). Checks run concurrently, each under a timeout; one that does not answer in
/// time counts as not ready.
public struct ReadinessCheck: Sendable {
    public let name: String
    public let check: @Sendable () async -> ReadinessResult

    public init(name: String, check: @escaping @Sendable () async -> ReadinessResult) {
        self.name = name
        self.check = check
    }

    /// The outcome of one check in a `/readyz` round.
    public struct Report: Sendable, Equatable {
        public let name: String
        public let result: ReadinessResult
        public let durationMs: Int64

        public var json: JSONValue {
            [
                "name": .string(name), "ok": .bool(result.ok), "detail": .string(result.detail),
                "duration_ms": .int(durationMs),
            ]
        }
    }

    /// Runs every check concurrently, each limited to `timeout`, and returns the reports in the
    /// order of `checks`. A check that has not answered in time is reported as not ready and left
    /// to finish (or notice its cancellation) in the background; it never delays the answer.
    public static func runAll(_ checks: [ReadinessCheck], timeout: Duration) async -> [Report] {
        await withTaskGroup(of: (Int, Report).self) { group in
            for (index, check) in checks.enumerated() {
                group.addTask {
                    let clock = ContinuousClock()
                    let start = clock.now
                    let result = await NodeRuntime.withTimeout(
                        timeout, onTimeout: ReadinessResult.notReady("no answer within \(timeout)")
                    ) { await check.check() }
                    let elapsed = clock.now - start
                    let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
                    return (index, Report(name: check.name, result: result, durationMs: ms))
                }
            }
            var reports = [Report?](repeating: nil, count: checks.count)
            for await (index, report) in group { reports[index] = report }
            return reports.compactMap { $0 }
        }
    }
}

extension NodeRuntime {
    /// Runs `operation` in its own task and returns its result, or `onTimeout` if it takes longer
    /// than `timeout` (the operation is then cancelled but not awaited: a hung operation cannot hang
    /// the caller).
    public static func withTimeout<T: Sendable>(
        _ timeout: Duration, onTimeout: T, _ operation: @escaping @Sendable () async -> T
    ) async -> T {
        let race = Race<T>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
                race.start(continuation)
                race.add(Task { race.finish(await operation()) })
                race.add(
                    Task {
                        try? await Task.sleep(for: timeout)
                        race.finish(onTimeout)
                    })
            }
        } onCancel: {
            race.finish(onTimeout)
        }
    }
}

/// The first `finish` wins: it resumes the continuation and cancels every registered task.
private final class Race<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, Never>?
        var pending: T?
        var finished = false
        var tasks: [Task<Void, Never>] = []
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T, Never>) {
        let early: T? = state.withLock { s in
            if let value = s.pending {
                s.pending = nil
                return value
            }
            s.continuation = continuation
            return nil
        }
        if let early { continuation.resume(returning: early) }
    }

    func add(_ task: Task<Void, Never>) {
        let cancelNow = state.withLock { s in
            if s.finished { return true }
            s.tasks.append(task)
            return false
        }
        if cancelNow { task.cancel() }
    }

    func finish(_ value: T) {
        let (continuation, tasks): (CheckedContinuation<T, Never>?, [Task<Void, Never>]) = state.withLock { s in
            guard !s.finished else { return (nil, []) }
            s.finished = true
            let c = s.continuation
            s.continuation = nil
            if c == nil { s.pending = value }  // cancelled before the continuation was installed
            let t = s.tasks
            s.tasks = []
            return (c, t)
        }
        for task in tasks { task.cancel() }
        continuation?.resume(returning: value)
    }
}

// MARK: - Server

/// A small HTTP/1.1 server for the operational endpoints every service exposes (DESIGN §7):
///
/// - `GET /healthz` — 200 `{"status":"ok"}` while the process runs;
/// - `GET /readyz` — runs the readiness checks: 200 when all pass, else 503; the body lists
///   each check (`name`, `ok`, `detail`, `duration_ms`);
/// - `GET /metrics` — Prometheus text exposition;
/// - `GET /status` — the service's JSON status object.
///
/// - `GET` each path of `routes` — its JSON document.
///
/// Other paths get 404, other methods 405. Requests with bodies over 4 KiB, oversized headers,
/// more than `maxConnections` concurrent connections and idle connections are refused or closed.
/// Runs as a swift-service-lifecycle `Service` until graceful shutdown or cancellation.
public final class HealthHTTPServer: Service, Sendable, CustomStringConvertible {
    public struct Configuration: Sendable {
        public var listen: HostPort
        public var readinessChecks: [ReadinessCheck]
        /// How long one readiness check (or the status provider) may take.
        public var checkTimeout: Duration
        public var status: @Sendable () async -> [String: JSONValue]
        public var metrics: @Sendable () -> String
        public var maxConnections: Int
        public var idleTimeout: Duration
        public var maxRequestBodyBytes: Int
        /// Extra `GET` paths answering a JSON document (e.g. the consensus-manager's
        /// `/inbox/requests`), bounded by `checkTimeout` like `/status`.
        public var routes: [String: @Sendable () async -> JSONValue]

        public init(
            listen: HostPort,
            readinessChecks: [ReadinessCheck] = [],
            checkTimeout: Duration = .seconds(2),
            status: @escaping @Sendable () async -> [String: JSONValue] = { [:] },
            metrics: @escaping @Sendable () -> String = { NodeMetrics.render() },
            maxConnections: Int = 64,
            idleTimeout: Duration = .seconds(30),
            maxRequestBodyBytes: Int = 4096,
            routes: [String: @Sendable () async -> JSONValue] = [:]
        ) {
            self.listen = listen
            self.readinessChecks = readinessChecks
            self.checkTimeout = checkTimeout
            self.status = status
            self.metrics = metrics
            self.maxConnections = maxConnections
            self.idleTimeout = idleTimeout
            self.maxRequestBodyBytes = maxRequestBodyBytes
            self.routes = routes
        }
    }

    public enum ServerError: Error, CustomStringConvertible {
        case bindFailed(HostPort, String)
        case alreadyStarted
        case stopped

        public var description: String {
            switch self {
            case .bindFailed(let address, let reason): "cannot listen for HTTP on \(address): \(reason)"
            case .alreadyStarted: "the HTTP server was already started"
            case .stopped: "the HTTP server stopped before it was listening"
            }
        }
    }

    private enum Phase {
        case idle
        case starting
        case listening(Int)
        case stopped(String?)
    }

    private struct State {
        var phase = Phase.idle
        var waiters: [CheckedContinuation<Int, any Error>] = []
        var extraChecks: [ReadinessCheck] = []
        var connections = 0
    }

    public let configuration: Configuration
    private let logger: Logger
    private let group: any EventLoopGroup
    private let state = Mutex(State())

    public init(
        configuration: Configuration, logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.logger = logger
        self.group = eventLoopGroup
    }

    /// The endpoints of `service` on its `http_listen` address from `config`.
    public convenience init(
        service: ServiceKind, config: NodeConfig, readinessChecks: [ReadinessCheck] = [],
        status: @escaping @Sendable () async -> [String: JSONValue] = { [:] },
        routes: [String: @Sendable () async -> JSONValue] = [:], logger: Logger
    ) {
        self.init(
            configuration: Configuration(
                listen: config.listen(service).httpListen, readinessChecks: readinessChecks, status: status,
                routes: routes),
            logger: logger)
    }

    public var description: String { "HealthHTTPServer(\(configuration.listen))" }

    /// Adds a readiness check (before or while running).
    public func addReadinessCheck(_ check: ReadinessCheck) {
        state.withLock { $0.extraChecks.append(check) }
    }

    var readinessChecks: [ReadinessCheck] {
        configuration.readinessChecks + state.withLock { $0.extraChecks }
    }

    /// The bound port once listening (the real one when configured with port 0), else nil.
    public var boundPort: Int? {
        state.withLock { s in
            if case .listening(let port) = s.phase { return port }
            return nil
        }
    }

    /// Waits until the server listens and returns its port; throws if binding failed or the
    /// server stopped.
    public func waitUntilListening() async throws -> Int {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
            let outcome: Result<Int, any Error>? = state.withLock { s in
                switch s.phase {
                case .listening(let port): return .success(port)
                case .stopped(let reason):
                    return .failure(
                        reason.map { ServerError.bindFailed(configuration.listen, $0) } ?? ServerError.stopped)
                case .idle, .starting:
                    s.waiters.append(continuation)
                    return nil
                }
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    private func transition(to phase: Phase) {
        let waiters: [CheckedContinuation<Int, any Error>] = state.withLock { s in
            s.phase = phase
            switch phase {
            case .listening, .stopped:
                defer { s.waiters = [] }
                return s.waiters
            case .idle, .starting:
                return []
            }
        }
        for waiter in waiters {
            switch phase {
            case .listening(let port): waiter.resume(returning: port)
            case .stopped(let reason):
                waiter.resume(
                    throwing: reason.map { ServerError.bindFailed(configuration.listen, $0) } ?? ServerError.stopped)
            case .idle, .starting: break
            }
        }
    }

    public func run() async throws {
        let started = state.withLock { s in
            guard case .idle = s.phase else { return false }
            s.phase = .starting
            return true
        }
        guard started else { throw ServerError.alreadyStarted }

        let idle = TimeAmount.nanoseconds(Backoff.nanoseconds(configuration.idleTimeout))
        let serverChannel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
        do {
            serverChannel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 128)
                .bind(host: configuration.listen.host, port: configuration.listen.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        var limits = NIOHTTPDecoderLimitConfiguration()
                        limits.maxHeaderFieldSize = 8 * 1024
                        limits.maxHeaderListSize = 16 * 1024
                        limits.maxHeaderFieldCount = 100
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idle))
                        try channel.pipeline.syncOperations.addHandler(CloseOnIdleHandler())
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                            withPipeliningAssistance: true, withErrorHandling: true,
                            withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                            wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            transition(to: .stopped("\(error)"))
            throw ServerError.bindFailed(configuration.listen, "\(error)")
        }

        let port = serverChannel.channel.localAddress?.port ?? configuration.listen.port
        transition(to: .listening(port))
        logger.info("HTTP endpoints listening", metadata: ["address": "\(configuration.listen.host):\(port)"])
        defer {
            transition(to: .stopped(nil))
            logger.info("HTTP endpoints stopped", metadata: ["port": "\(port)"])
        }

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await serverChannel.executeThenClose { inbound in
                    for try await connection in inbound {
                        let admitted = state.withLock { s in
                            guard s.connections < configuration.maxConnections else { return false }
                            s.connections += 1
                            return true
                        }
                        guard admitted else {
                            logger.warning(
                                "HTTP connection refused: too many connections",
                                metadata: ["limit": "\(configuration.maxConnections)"])
                            connection.channel.close(promise: nil)
                            continue
                        }
                        group.addTask {
                            await self.serve(connection)
                            self.state.withLock { $0.connections -= 1 }
                        }
                    }
                }
                // The listener is closed (graceful shutdown): end the open connections too.
                group.cancelAll()
            }
        } onGracefulShutdown: {
            serverChannel.channel.close(promise: nil)
        }
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var bodyBytes = 0
                for try await part in inbound {
                    switch part {
                    case .head(let h):
                        head = h
                        bodyBytes = 0
                    case .body(let chunk):
                        bodyBytes += chunk.readableBytes
                        if bodyBytes > configuration.maxRequestBodyBytes, let h = head {
                            let response = HTTPResponse.json(.payloadTooLarge, ["error": "request body too large"])
                            try await write(response, for: h, keepAlive: false, to: outbound)
                            return
                        }
                    case .end:
                        guard let h = head else { return }
                        head = nil
                        let response = await respond(method: h.method, uri: h.uri)
                        try await write(response, for: h, keepAlive: h.isKeepAlive, to: outbound)
                        if !h.isKeepAlive { return }
                    }
                }
            }
        } catch is CancellationError {
            // Shutdown.
        } catch {
            logger.debug("HTTP connection ended", metadata: ["error": "\(error)"])
        }
    }

    private func write(
        _ response: HTTPResponse, for request: HTTPRequestHead, keepAlive: Bool,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "Cache-Control", value: "no-store")
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let head = HTTPResponseHead(version: request.version, status: response.status, headers: headers)
        try await outbound.write(.head(head))
        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
        try await outbound.write(.end(nil))
    }

    /// The response to `method uri` (exposed for tests; the socket path calls the same function).
    func respond(method: HTTPMethod, uri: String) async -> HTTPResponse {
        let path = String(uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        let known = ["/healthz", "/readyz", "/metrics", "/status"] + configuration.routes.keys.sorted()
        guard known.contains(path) else {
            return .json(.notFound, ["error": "not found", "paths": .array(known.map { .string($0) })])
        }
        guard method == .GET else {
            var response = HTTPResponse.json(.methodNotAllowed, ["error": "method not allowed"])
            response.headers.append(("Allow", "GET"))
            return response
        }
        switch path {
        case "/healthz":
            return .json(.ok, ["status": "ok"])
        case "/readyz":
            let reports = await ReadinessCheck.runAll(readinessChecks, timeout: configuration.checkTimeout)
            let ready = reports.allSatisfy { $0.result.ok }
            return .json(
                ready ? .ok : .serviceUnavailable,
                [
                    "status": .string(ready ? "ok" : "unavailable"),
                    "checks": .array(reports.map(\.json)),
                ])
        case _ where configuration.routes[path] != nil:
            let provider = configuration.routes[path]!
            let value: JSONValue? = await NodeRuntime.withTimeout(configuration.checkTimeout, onTimeout: nil) {
                await provider()
            }
            guard let value else {
                return .json(
                    .serviceUnavailable,
                    ["error": .string("\(path) not available within \(configuration.checkTimeout)")])
            }
            return .json(.ok, value)
        case "/metrics":
            return HTTPResponse(
                status: .ok, contentType: NodeMetrics.contentType, body: Array(configuration.metrics().utf8))
        default:  // "/status"
            let provider = configuration.status
            let status: [String: JSONValue]? = await NodeRuntime.withTimeout(configuration.checkTimeout, onTimeout: nil)
            {
                await provider()
            }
            guard let status else {
                return .json(
                    .serviceUnavailable, ["error": .string("status not available within \(configuration.checkTimeout)")]
                )
            }
            return .json(.ok, .object(status))
        }
    }
}

/// One HTTP response, before encoding.
struct HTTPResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]
    var headers: [(String, String)] = []

    static func json(_ status: HTTPResponseStatus, _ value: JSONValue) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: Array((value.serialized() + "\n").utf8))
    }
}

/// Closes a connection when `IdleStateHandler` reports it idle.
private final class CloseOnIdleHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
