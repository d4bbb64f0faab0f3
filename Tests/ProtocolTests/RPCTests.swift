import NIOCore
import NIOPosix
import Synchronization
import Testing
import Wire

@testable import RPC

/// Records what handlers observed, for assertions from the test.
final class Events: Sendable {
    private let stream: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation

    init() { (stream, continuation) = AsyncStream.makeStream(of: String.self) }

    func record(_ event: String) { continuation.yield(event) }

    /// The next event, or nil after `timeout`.
    func next(within timeout: Duration = .seconds(5)) async -> String? {
        let stream = stream
        return await withTaskGroup(of: String?.self) { group in
            group.addTask {
                var iterator = stream.makeAsyncIterator()
                return await iterator.next()
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}

enum TestMethod {
    static let echo: UInt16 = 0x7001
    static let syncEcho: UInt16 = 0x7002
    static let slow: UInt16 = 0x7003
    static let fails: UInt16 = 0x7004
    static let crashes: UInt16 = 0x7005
    static let heartbeat: UInt16 = 0x7006
    static let count: UInt16 = 0x7007
    static let countThenFail: UInt16 = 0x7008
    static let jitter: UInt16 = 0x7009
    static let whoAmI: UInt16 = 0x700a
    static let big: UInt16 = 0x700b
    static let flood: UInt16 = 0x700c
    static let futureEcho: UInt16 = 0x700d
    static let futureFails: UInt16 = 0x700e
    static let futureLate: UInt16 = 0x700f
}

struct Boom: Error {}

/// A server with the test handlers, bound to 127.0.0.1:0.
func makeServer(
    _ configuration: RPCServer.Configuration = .init(), events: Events = Events()
) async throws -> RPCServer {
    let server = RPCServer(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton)
    server.registerUnary(TestMethod.echo) { request, _ in request }
    server.registerSync(TestMethod.syncEcho) { request, _ in request }
    server.registerUnary(TestMethod.slow) { _, context in
        events.record("started \(context.callID)")
        do {
            try await Task.sleep(for: .seconds(30))
        } catch {
            events.record("cancelled, deadline passed: \(context.timeRemaining.map { $0 <= .zero } ?? false)")
            throw error
        }
        return []
    }
    server.registerUnary(TestMethod.fails) { _, _ in throw RPCError(.notFound, "no such thing") }
    server.registerUnary(TestMethod.crashes) { _, _ in throw Boom() }
    server.register(TestMethod.heartbeat, request: ServiceHeartbeat.self) { heartbeat, _ in
        PeerPong(nonce: heartbeat.sequence + 1)
    }
    server.registerStream(TestMethod.count, request: PeerPing.self) { request, _, writer in
        for i in 0..<request.nonce { try await writer.send(PeerPong(nonce: i)) }
    }
    server.registerStream(TestMethod.countThenFail) { _, _, writer in
        try await writer.send([1])
        try await writer.send([2])
        throw RPCError(.failedPrecondition, "stopped")
    }
    server.registerUnary(TestMethod.jitter) { request, _ in
        try await Task.sleep(for: .microseconds(Int(request.first ?? 0) * 50))
        return request
    }
    server.registerSync(TestMethod.whoAmI) { _, context in
        var w = WireWriter()
        w.writeUInt64(context.connectionID.rawValue)
        return w.bytes
    }
    // Future handlers answering from another event loop, as a forwarded call's answer does.
    server.registerFuture(TestMethod.futureEcho) { request, _ in
        MultiThreadedEventLoopGroup.singleton.next().scheduleTask(in: .milliseconds(1)) { request }.futureResult
    }
    server.registerFuture(TestMethod.futureFails) { _, context in
        context.eventLoop.makeFailedFuture(RPCError(.notFound, "nothing here"))
    }
    server.registerFuture(TestMethod.futureLate) { request, _ in
        MultiThreadedEventLoopGroup.singleton.next().scheduleTask(in: .milliseconds(400)) { request }.futureResult
    }
    server.registerSync(TestMethod.big) { request, _ in Array(repeating: 7, count: Int(request.first ?? 0) * 100) }
    server.registerStream(TestMethod.flood) { _, _, writer in
        let item = [UInt8](repeating: 1, count: 64 << 10)
        do {
            for _ in 0..<100_000 { try await writer.send(item) }
        } catch {
            events.record("send failed: \(error)")
            // A handler that keeps going after its call ended must get errors, not crash the server.
            do {
                try await writer.send([1])
            } catch {
                events.record("send after end failed: \(error)")
            }
            throw error
        }
    }
    try await server.start()
    return server
}

func connect(_ server: RPCServer, maxFrameSize: Int = FrameLayout.defaultMaxFrameSize) async throws -> RPCClient {
    try await RPCClient.connect(
        host: "127.0.0.1", port: server.port!, group: MultiThreadedEventLoopGroup.singleton,
        maxFrameSize: maxFrameSize)
}

@Suite("RPC over loopback")
struct RPCTests {
    @Test func unaryAndSyncCalls() async throws {
        let server = try await makeServer()
        let client = try await connect(server)
        #expect(try await client.call(method: TestMethod.echo, request: [1, 2, 3]) == [1, 2, 3])
        #expect(try await client.call(method: TestMethod.syncEcho, request: []) == [])
        #expect(try await client.call(method: MethodID.ping, request: []) == [])
        let pong = try await client.call(
            method: TestMethod.heartbeat, request: ServiceHeartbeat(kind: .tssSigner, sequence: 41),
            response: PeerPong.self)
        #expect(pong == PeerPong(nonce: 42))
        await client.close()
        await server.shutdown()
    }

    @Test func handlerErrorsMapToStatusCodes() async throws {
        let server = try await makeServer()
        let client = try await connect(server)
        await #expect(throws: RPCError(.notFound, "no such thing")) {
            try await client.call(method: TestMethod.fails, request: [])
        }
        await #expect(throws: RPCError(.internal, "internal error")) {
            try await client.call(method: TestMethod.crashes, request: [])
        }
        // Undecodable typed request → invalidArgument, connection stays usable.
        let error = await #expect(throws: RPCError.self) {
            try await client.call(method: TestMethod.heartbeat, request: [1, 2])
        }
        #expect(error?.code == .invalidArgument)
        #expect(try await client.call(method: TestMethod.echo, request: [9]) == [9])
        await server.shutdown()
    }

    @Test func unknownMethodIsUnimplementedAndTheConnectionStaysOpen() async throws {
        let server = try await makeServer()
        let client = try await connect(server)
        await #expect(throws: RPCError(.unimplemented, "unknown method 0xeeee")) {
            try await client.call(method: 0xeeee, request: [])
        }
        #expect(client.isActive)
        #expect(try await client.call(method: TestMethod.echo, request: [5]) == [5])
        await server.shutdown()
    }

    @Test func serverStreaming() async throws {
        let server = try await makeServer()
        let client = try await connect(server)
        var items: [PeerPong] = []
        for try await item in client.serverStream(
            method: TestMethod.count, request: PeerPing(nonce: 5), item: PeerPong.self)
        {
            items.append(item)
        }
        #expect(items == (0..<5).map { PeerPong(nonce: $0) })

        var raw: [[UInt8]] = []
        do {
            for try await item in client.serverStream(method: TestMethod.countThenFail, request: []) {
                raw.append(item)
            }
            Issue.record("stream should have failed")
        } catch {
            #expect(error as? RPCError == RPCError(.failedPrecondition, "stopped"))
        }
        #expect(raw == [[1], [2]])

        // Unknown method on a stream.
        do {
            for try await _ in client.serverStream(method: 0xeeee, request: []) {}
            Issue.record("stream should have failed")
        } catch {
            #expect((error as? RPCError)?.code == .unimplemented)
        }
        await server.shutdown()
    }

    @Test func deadlineExceededCancelsTheHandler() async throws {
        let events = Events()
        let server = try await makeServer(events: events)
        let client = try await connect(server)
        let start = ContinuousClock.now
        let error = await #expect(throws: RPCError.self) {
            try await client.call(method: TestMethod.slow, request: [], timeout: .milliseconds(150))
        }
        #expect(error?.code == .deadlineExceeded)
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(await events.next()?.hasPrefix("started") == true)
        // Cancelled by the client's `cancel` frame or by the server's own timer, whichever is first.
        #expect(await events.next()?.hasPrefix("cancelled") == true)
        #expect(client.isActive)
        await server.shutdown()
    }

    @Test func serverEnforcesTheDeadlineOnItsOwn() async throws {
        let events = Events()
        let server = try await makeServer(events: events)
        let raw = try await RawConnection.connect(port: server.port!)
        try await raw.send(requestBytes(callID: 11, method: TestMethod.slow, timeoutMs: 100, message: []))
        #expect(await eventually { (try? await raw.frames().count) == 1 })
        let frames = try await raw.frames()
        #expect(frames.first?.kind == .error)
        #expect(frames.first?.callID == 11)
        #expect(try RPCErrorPayload.decode(frames.first!.payload).code == .deadlineExceeded)
        #expect(await events.next()?.hasPrefix("started") == true)
        #expect(await events.next() == "cancelled, deadline passed: true")
        await server.shutdown()
    }

    @Test func futureHandlersAnswerFromAnyEventLoopAndKeepTheirDeadline() async throws {
        let server = try await makeServer()
        let client = try await connect(server)
        #expect(try await client.call(method: TestMethod.futureEcho, request: [4, 5]) == [4, 5])
        await #expect(throws: RPCError(.notFound, "nothing here")) {
            try await client.call(method: TestMethod.futureFails, request: [])
        }
        // The server's own timer answers at the deadline; the late answer is dropped.
        let raw = try await RawConnection.connect(port: server.port!)
        try await raw.send(requestBytes(callID: 12, method: TestMethod.futureLate, timeoutMs: 100, message: [9]))
        #expect(await eventually { (try? await raw.frames().count) == 1 })
        try await Task.sleep(for: .milliseconds(500))
        let frames = try await raw.frames()
        #expect(frames.count == 1)
        #expect(frames.first?.kind == .error && frames.first?.callID == 12)
        #expect(try RPCErrorPayload.decode(frames.first!.payload).code == .deadlineExceeded)
        #expect(try await client.call(method: TestMethod.futureEcho, request: [6]) == [6])
        await client.close()
        await server.shutdown()
    }

    @Test func maxTimeoutCapsCallsWithoutDeadline() async throws {
        let server = try await makeServer(RPCServer.Configuration(maxTimeout: .milliseconds(100)))
        let client = try await connect(server)
        let error = await #expect(throws: RPCError.self) { try await client.call(method: TestMethod.slow, request: []) }
        #expect(error?.code == .deadlineExceeded)
        await server.shutdown()
    }

    @Test func taskCancellationSendsCancelAndStopsTheHandler() async throws {
        let events = Events()
        let server = try await makeServer(events: events)
        let client = try await connect(server)
        let call = Task { try await client.call(method: TestMethod.slow, request: []) }
        #expect(await events.next()?.hasPrefix("started") == true)
        call.cancel()
        let result = await call.result
        #expect(throws: RPCError(.cancelled, "cancelled by the caller")) { try result.get() }
        #expect(await events.next() == "cancelled, deadline passed: false")
        #expect(try await client.call(method: TestMethod.echo, request: [1]) == [1])
        await server.shutdown()
    }

    @Test func cancelFrameStopsTheHandlerSilently() async throws {
        let events = Events()
        let server = try await makeServer(events: events)
        let raw = try await RawConnection.connect(port: server.port!)
        try await raw.send(requestBytes(callID: 5, method: TestMethod.slow, timeoutMs: 0, message: []))
        #expect(await events.next() == "started 5")
        try await raw.send(frameBytes(.cancel, callID: 5, method: TestMethod.slow))
        #expect(await events.next() == "cancelled, deadline passed: false")
        // The call id can be reused, and nothing was sent for the cancelled call.
        try await raw.send(requestBytes(callID: 5, method: TestMethod.syncEcho, timeoutMs: 0, message: [4]))
        #expect(await eventually { (try? await raw.frames().count) == 1 })
        try await Task.sleep(for: .milliseconds(50))
        #expect(
            try await raw.frames() == [Frame(kind: .response, callID: 5, method: TestMethod.syncEcho, payload: [4])])
        await server.shutdown()
    }

    @Test func droppingAStreamCancelsIt() async throws {
        let server = try await makeServer()
        let client = try await connect(server)
        var received = 0
        for try await _ in client.serverStream(method: TestMethod.count, request: PeerPing(nonce: 1_000_000).encoded())
        {
            received += 1
            if received == 3 { break }
        }
        #expect(received == 3)
        #expect(try await client.call(method: TestMethod.echo, request: [2]) == [2])
        await server.shutdown()
    }

    @Test func concurrentPipelinedCallsMatchTheirReplies() async throws {
        let server = try await makeServer()
        let client = try await connect(server)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<300 {
                group.addTask {
                    let request: [UInt8] = [UInt8((i * 37) % 40), UInt8(i & 0xff), UInt8(i >> 8)]
                    let method = i % 3 == 0 ? TestMethod.syncEcho : TestMethod.jitter
                    let response = try await client.call(method: method, request: request)
                    #expect(response == request)
                }
            }
            try await group.waitForAll()
        }
        // Non-async pipelined API.
        let futures = (0..<500).map { i in client.callFuture(method: TestMethod.syncEcho, request: [UInt8(i & 0xff)]) }
        for (i, future) in futures.enumerated() { #expect(try await future.get() == [UInt8(i & 0xff)]) }
        await server.shutdown()
    }

    @Test func tooManyCallsInFlightIsResourceExhausted() async throws {
        let server = try await makeServer(RPCServer.Configuration(maxConcurrentCallsPerConnection: 2))
        let client = try await connect(server)
        let a = client.callFuture(method: TestMethod.slow, request: [], timeout: .seconds(2))
        let b = client.callFuture(method: TestMethod.slow, request: [], timeout: .seconds(2))
        await #expect(throws: RPCError(.resourceExhausted, "too many calls in flight")) {
            try await client.call(method: TestMethod.slow, request: [])
        }
        _ = try? await a.get()
        _ = try? await b.get()
        await server.shutdown()
    }

    @Test func frameSizeLimitsBothWays() async throws {
        let server = try await makeServer(RPCServer.Configuration(maxFrameSize: 1024))
        let client = try await connect(server, maxFrameSize: 1024)
        await #expect(throws: RPCError(.resourceExhausted, "request larger than the frame limit")) {
            try await client.call(method: TestMethod.echo, request: Array(repeating: 0, count: 1024))
        }
        #expect(try await client.call(method: TestMethod.big, request: [10]).count == 1000)
        await #expect(throws: RPCError(.resourceExhausted, "response larger than the frame limit")) {
            try await client.call(method: TestMethod.big, request: [11])
        }
        #expect(client.isActive)
        await server.shutdown()
    }

    @Test func connectionClosedCallbackAndShutdown() async throws {
        let server = try await makeServer()
        let closed = Mutex<[ConnectionID]>([])
        server.onConnectionClosed = { id in closed.withLock { $0.append(id) } }
        let a = try await connect(server)
        let b = try await connect(server)
        var r = WireReader(try await a.call(method: TestMethod.whoAmI, request: []))
        let idA = ConnectionID(rawValue: try r.readUInt64())
        #expect(await eventually { server.connectionCount == 2 })
        await a.close()
        #expect(await eventually { closed.withLock { $0 } == [idA] })

        let bClosed = Events()
        b.onClose { bClosed.record("closed") }
        let pending = b.callFuture(method: TestMethod.slow, request: [])
        try await Task.sleep(for: .milliseconds(50))
        await server.shutdown()
        #expect(await bClosed.next() == "closed")
        #expect(!b.isActive)
        await #expect(throws: RPCError.self) { try await pending.get() }
        let error = await #expect(throws: RPCError.self) { try await b.call(method: TestMethod.echo, request: []) }
        #expect(error?.code == .unavailable)
        #expect(closed.withLock { $0.count } == 2)
        #expect(server.connectionCount == 0)
    }

    @Test func connectFailureIsUnavailable() async throws {
        let server = try await makeServer()
        let port = server.port!
        await server.shutdown()
        let error = await #expect(throws: RPCError.self) {
            try await RPCClient.connect(host: "127.0.0.1", port: port, group: MultiThreadedEventLoopGroup.singleton)
        }
        #expect(error?.code == .unavailable)
    }

    @Test func streamHandlerBlockedOnANonReadingPeerIsReleasedByTheDeadline() async throws {
        let events = Events()
        let server = try await makeServer(events: events)
        let raw = try await RawConnection.connect(port: server.port!, autoRead: false)
        try await raw.send(requestBytes(callID: 1, method: TestMethod.flood, timeoutMs: 300, message: []))
        #expect(await events.next(within: .seconds(10)) == "send failed: cancelled: call ended")
        #expect(await events.next() == "send after end failed: cancelled: call ended")
        await server.shutdown()
    }

    @Test func streamHandlerOutlivingItsConnectionDoesNotCrash() async throws {
        let events = Events()
        let server = try await makeServer(events: events)
        let raw = try await RawConnection.connect(port: server.port!, autoRead: false)
        try await raw.send(requestBytes(callID: 1, method: TestMethod.flood, timeoutMs: 0, message: []))
        try await Task.sleep(for: .milliseconds(100))
        try await raw.channel.close()
        #expect(await events.next(within: .seconds(10)) == "send failed: cancelled: call ended")
        #expect(await events.next() == "send after end failed: cancelled: call ended")
        await server.shutdown()
        #expect(server.connectionCount == 0)
    }

    @Test func connectionsBeyondTheLimitAreClosed() async throws {
        let server = try await makeServer(RPCServer.Configuration(maxConnections: 1))
        let first = try await connect(server)
        #expect(try await first.call(method: TestMethod.echo, request: [1]) == [1])
        let second = try await RawConnection.connect(port: server.port!)
        #expect(try await second.waitForClose())
        #expect(try await first.call(method: TestMethod.echo, request: [2]) == [2])
        await server.shutdown()
    }

    @Test func pingFramesAreAnswered() async throws {
        let server = try await makeServer()
        let raw = try await RawConnection.connect(port: server.port!)
        try await raw.send(frameBytes(.ping, callID: 77, payload: [1, 2, 3]))
        #expect(
            await eventually {
                (try? await raw.frames()) == [Frame(kind: .pong, callID: 77, method: 0, payload: [1, 2, 3])]
            })
        await server.shutdown()
    }
}

/// Malformed input over a real socket: an error frame (call id 0), then the server closes.
@Suite("RPC hostile input")
struct RPCHostileInputTests {
    func expectErrorThenClose(
        _ bytes: [UInt8], code: StatusCode, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let server = try await makeServer()
        let raw = try await RawConnection.connect(port: server.port!)
        try await raw.send(bytes)
        #expect(try await raw.waitForClose(), "server did not close", sourceLocation: sourceLocation)
        let frames = try await raw.frames()
        #expect(frames.count == 1, sourceLocation: sourceLocation)
        #expect(frames.first?.kind == .error && frames.first?.callID == 0, sourceLocation: sourceLocation)
        if let payload = frames.first?.payload {
            #expect(try RPCErrorPayload.decode(payload).code == code, sourceLocation: sourceLocation)
        }
        #expect(server.stats.protocolErrors == 1, sourceLocation: sourceLocation)
        // The server is fine: a new connection works.
        let client = try await connect(server)
        #expect(try await client.call(method: TestMethod.echo, request: [1]) == [1])
        await server.shutdown()
    }

    @Test func httpGarbage() async throws {
        try await expectErrorThenClose(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), code: .resourceExhausted)
    }

    @Test func oversizedLengthIsRefusedFromTheHeader() async throws {
        // Header claims 16 MiB + 1; only the header and one byte are sent.
        try await expectErrorThenClose(hex("01000001 01"), code: .resourceExhausted)
    }

    @Test func lengthShorterThanTheHeader() async throws {
        try await expectErrorThenClose(hex("00000003 010101"), code: .invalidArgument)
    }

    @Test func unknownVersionAndKind() async throws {
        try await expectErrorThenClose(hex("0000000c 02 01 0000000000000001 0001"), code: .invalidArgument)
        try await expectErrorThenClose(hex("0000000c 01 63 0000000000000001 0001"), code: .invalidArgument)
    }

    @Test func truncatedRequestPayload() async throws {
        // A request frame whose payload is too short to hold the timeout prefix.
        try await expectErrorThenClose(
            frameBytes(.request, callID: 1, method: TestMethod.echo, payload: [0, 0]), code: .invalidArgument)
    }

    @Test func reservedCallIDAndUnexpectedKinds() async throws {
        try await expectErrorThenClose(
            frameBytes(.request, callID: 0, method: TestMethod.echo, payload: [0, 0, 0, 0]),
            code: .invalidArgument)
        try await expectErrorThenClose(
            frameBytes(.response, callID: 1, method: TestMethod.echo), code: .invalidArgument)
    }

    @Test func duplicateCallIDInFlight() async throws {
        let request = frameBytes(.request, callID: 9, method: TestMethod.slow, payload: [0, 0, 0, 0])
        try await expectErrorThenClose(request + request, code: .invalidArgument)
    }

    @Test func validFramesBeforeGarbageAreServed() async throws {
        let server = try await makeServer()
        let raw = try await RawConnection.connect(port: server.port!)
        let good = frameBytes(.request, callID: 1, method: TestMethod.syncEcho, payload: [0, 0, 0, 0, 42])
        try await raw.send(good + hex("ffffffff"))
        #expect(try await raw.waitForClose())
        let frames = try await raw.frames()
        #expect(frames.map(\.kind) == [.response, .error])
        #expect(frames.first?.payload == [42])
        await server.shutdown()
    }

    @Test func randomGarbageNeverCrashesTheServer() async throws {
        let server = try await makeServer()
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let raw = try await RawConnection.connect(port: server.port!)
            let garbage = (0..<Int.random(in: 1...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try await raw.send(garbage)
            try await Task.sleep(for: .milliseconds(5))
            raw.channel.close(promise: nil)
        }
        let client = try await connect(server)
        #expect(try await client.call(method: TestMethod.echo, request: [3]) == [3])
        await server.shutdown()
    }
}
