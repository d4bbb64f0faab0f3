import NIOCore
import NIOPosix
import RPC
import Wire

/// `vn-bench protocol`: frame decoding and RPC over loopback (DESIGN §3, §8).
struct ProtocolBench: BenchArea {
    let name = "protocol"

    static let echo: UInt16 = 0x7f01
    static let asyncEcho: UInt16 = 0x7f02

    func run(_ options: BenchOptions, report: @Sendable (BenchResult) -> Void) async throws {
        report(
            frameDecode(
                payload: 64, totalBytes: 4 << 20, runs: options.scale(60, quick: 5),
                name: "protocol.frame.decode.64B"))
        report(
            frameDecode(
                payload: 1 << 20, totalBytes: 32 << 20, runs: options.scale(30, quick: 3),
                name: "protocol.frame.decode.1MiB"))

        // Server and client on separate event loops (threads), as separate processes would be.
        let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = RPCServer(group: serverGroup)
        server.registerSync(Self.echo) { request, _ in request }
        server.registerUnary(Self.asyncEcho) { request, _ in request }
        let port = try await server.start()
        let client = try await RPCClient.connect(host: "127.0.0.1", port: port, group: clientGroup)
        let request = [UInt8](repeating: 0x5a, count: 64)

        let calls = options.scale(20_000, quick: 500)
        report(
            try await latency(
                client, method: Self.echo, request: request, calls: calls,
                name: "protocol.rpc.unary.latency",
                note: "loopback, 64 B echo, sync handler on the event loop, async client call, sequential"))
        report(
            try await latency(
                client, method: Self.asyncEcho, request: request, calls: calls,
                name: "protocol.rpc.unary.latency.async-handler",
                note: "loopback, 64 B echo, async handler (one task per call), sequential"))

        let total = options.scale(200_000, quick: 5_000)
        let runs = options.scale(7, quick: 2)
        report(
            try await throughput(
                client, method: Self.echo, request: request, inFlight: 128, total: total, runs: runs,
                name: "protocol.rpc.unary.throughput",
                note: "loopback, 64 B echo, sync handler, 128 in flight on one connection"))
        report(
            try await throughput(
                client, method: Self.asyncEcho, request: request, inFlight: 128, total: total / 2, runs: runs,
                name: "protocol.rpc.unary.throughput.async-handler",
                note: "loopback, 64 B echo, async handler, 128 in flight on one connection"))

        await client.close()
        await server.shutdown()
        try await serverGroup.shutdownGracefully()
        try await clientGroup.shutdownGracefully()
    }

    /// Decodes a buffer of frames with the pure incremental decoder; MB/s of wire bytes.
    func frameDecode(payload: Int, totalBytes: Int, runs: Int, name: String) -> BenchResult {
        let frame = FrameEncoder.encode(
            Frame(
                kind: .response, callID: 1, method: 0x0100,
                payload: [UInt8](repeating: 0xa5, count: payload)))
        let count = max(1, totalBytes / frame.count)
        var input = [UInt8]()
        input.reserveCapacity(count * frame.count)
        for _ in 0..<count { input += frame }
        // Fed in 64 KiB reads, like a socket delivers them.
        let chunk = 64 << 10
        let chunks = stride(from: 0, to: input.count, by: chunk).map { Array(input[$0..<min(input.count, $0 + chunk)]) }

        let clock = ContinuousClock()
        var rates: [Double] = []
        var checksum = 0
        for run in -2..<runs {  // two warm-up runs
            var decoder = FrameDecoder()
            var frames = 0
            let elapsed = clock.measure {
                for piece in chunks {
                    decoder.feed(piece)
                    while let frame = try? decoder.nextFrame() {
                        frames += 1
                        checksum &+= Int(frame.payload[frame.payload.count / 2])
                    }
                }
            }
            precondition(frames == count, "decoded \(frames) of \(count) frames")
            if run >= 0 { rates.append(Double(input.count) / 1e6 / elapsed.seconds) }
        }
        precondition(checksum > 0)
        let (p50, p99) = Stats.throughput(rates)
        return BenchResult(
            bench: name, unit: .mbPerSecond, p50: p50, p99: p99, n: runs,
            note: "FrameDecoder, \(count) frames of \(frame.count) B per run, fed in 64 KiB chunks")
    }

    func latency(
        _ client: RPCClient, method: UInt16, request: [UInt8], calls: Int, name: String, note: String
    ) async throws -> BenchResult {
        let clock = ContinuousClock()
        for _ in 0..<min(2_000, calls) { _ = try await client.call(method: method, request: request) }
        var samples: [Double] = []
        samples.reserveCapacity(calls)
        for _ in 0..<calls {
            let start = clock.now
            let response = try await client.call(method: method, request: request)
            samples.append((clock.now - start).seconds * 1e6)
            precondition(response.count == request.count)
        }
        let (p50, p99) = Stats.latency(samples)
        return BenchResult(bench: name, unit: .us, p50: p50, p99: p99, n: calls, note: note)
    }

    /// Keeps `inFlight` calls outstanding from the client's event loop until `total` completed.
    func throughput(
        _ client: RPCClient, method: UInt16, request: [UInt8], inFlight: Int, total: Int, runs: Int, name: String,
        note: String
    ) async throws -> BenchResult {
        var rates: [Double] = []
        for run in -1..<runs {
            let start = ContinuousClock.now
            try await Self.pump(client, method: method, request: request, inFlight: inFlight, total: total).get()
            let elapsed = ContinuousClock.now - start
            if run >= 0 { rates.append(Double(total) / elapsed.seconds) }
        }
        let (p50, p99) = Stats.throughput(rates)
        return BenchResult(
            bench: name, unit: .opsPerSecond, p50: p50, p99: p99, n: runs, note: note + ", \(total) calls per run")
    }

    static func pump(
        _ client: RPCClient, method: UInt16, request: [UInt8], inFlight: Int, total: Int
    ) -> EventLoopFuture<Void> {
        let loop = client.eventLoop
        let done = loop.makePromise(of: Void.self)
        loop.execute {
            final class State {
                var started = 0
                var finished = 0
                var failed = false
            }
            let state = NIOLoopBound(State(), eventLoop: loop)
            func startOne() {
                state.value.started += 1
                client.callFuture(method: method, request: request).assumeIsolated().whenComplete { result in
                    let s = state.value
                    if case .failure(let error) = result, !s.failed {
                        s.failed = true
                        done.fail(error)
                        return
                    }
                    s.finished += 1
                    if s.started < total { startOne() }
                    if s.finished == total { done.succeed(()) }
                }
            }
            for _ in 0..<min(inFlight, total) { startOne() }
        }
        return done.futureResult
    }
}
