import Foundation
import NIOCore
import NIOPosix
@_exported import TestSupport
import Wire

/// Loads `Fixtures/<name>.hex`: `#` lines are comments, whitespace is ignored.
func fixture(_ name: String) throws -> [UInt8] {
    guard let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
        throw FixtureError.missing("Fixtures")
    }
    let url = dir.appendingPathComponent(name + ".hex")
    let text = try String(contentsOf: url, encoding: .utf8)
    let hex = text.split(separator: "\n")
        .filter { !$0.hasPrefix("#") }
        .joined()
        .filter { !$0.isWhitespace }
    return try Hex.decode(hex)
}

enum FixtureError: Error { case missing(String) }

let testAddress = try! Address(hex: "0x00112233445566778899aabbccddeeff00112233")

/// Encodes one frame.
func frameBytes(_ kind: FrameKind, callID: UInt64, method: UInt16 = 0, payload: [UInt8] = []) -> [UInt8] {
    FrameEncoder.encode(Frame(kind: kind, callID: callID, method: method, payload: payload))
}

/// The bytes of a request frame: `message` after the request's timeout prefix (0: none).
func requestBytes(callID: UInt64, method: UInt16, timeoutMs: UInt32, message: [UInt8] = []) -> [UInt8] {
    frameBytes(
        .request, callID: callID, method: method, payload: RequestPayload.make(timeoutMs: timeoutMs, message: message))
}

/// A plain TCP connection that sends raw bytes and records everything it receives, for feeding
/// malformed input to a real server.
final class RawConnection: Sendable {
    let channel: any Channel
    private let collector: NIOLoopBound<Collector>

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var received: [UInt8] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += unwrapInboundIn(data).readableBytesView
        }
    }

    private init(channel: any Channel, collector: NIOLoopBound<Collector>) {
        self.channel = channel
        self.collector = collector
    }

    /// With `autoRead: false` nothing is read: the server's writes pile up in the socket buffers.
    static func connect(port: Int, autoRead: Bool = true) async throws -> RawConnection {
        // The collector is captured as it is added: a server that closes the connection at once
        // (e.g. over its connection limit) tears the pipeline down before any later lookup.
        let (channel, collector) = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: autoRead)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let collector = Collector()
                    try channel.pipeline.syncOperations.addHandler(collector)
                    return (channel, NIOLoopBound(collector, eventLoop: channel.eventLoop))
                }
            }
        return RawConnection(channel: channel, collector: collector)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    var received: [UInt8] {
        get async throws {
            let collector = collector
            return try await channel.eventLoop.submit { collector.value.received }.get()
        }
    }

    /// Waits for the server to close the connection (fails after `timeout`).
    func waitForClose(timeout: Duration = .seconds(5)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while channel.isActive {
            if ContinuousClock.now > deadline { return false }
            try await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    /// Frames received so far.
    func frames() async throws -> [Frame] {
        var decoder = FrameDecoder()
        decoder.feed(try await received)
        var out: [Frame] = []
        while let frame = try decoder.nextFrame() { out.append(frame) }
        return out
    }
}

/// Polls `condition` until true or `timeout`.
func eventually(timeout: Duration = .seconds(5), _ condition: @Sendable () async throws -> Bool) async rethrows -> Bool
{
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return try await condition()
}
