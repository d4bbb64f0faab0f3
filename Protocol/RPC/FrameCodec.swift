import NIOCore
import Wire

/// NIO adapter around the pure frame parser (`FrameDecoder.parse`): `ByteToMessageHandler`
/// accumulates bytes, this turns them into `Frame`s. A bad length is refused from the first four
/// bytes, before any payload is buffered; the error reaches the connection handler through
/// `errorCaught`.
public struct FrameByteDecoder: ByteToMessageDecoder {
    public typealias InboundOut = Frame

    public let maxFrameSize: Int

    public init(maxFrameSize: Int = FrameLayout.defaultMaxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let (frame, _) = try Self.parse(&buffer, maxFrameSize: maxFrameSize) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        // A partial frame at EOF is dropped with the connection.
        try decode(context: context, buffer: &buffer)
    }

    /// Parses one frame from the readable bytes and consumes it.
    @inlinable
    public static func parse(_ buffer: inout ByteBuffer, maxFrameSize: Int) throws(FrameError) -> (Frame, Int)? {
        let result = buffer.withUnsafeReadableBytes { raw in
            Result { () throws(FrameError) in try FrameDecoder.parse(raw, maxFrameSize: maxFrameSize) }
        }
        guard let parsed = try result.get() else { return nil }
        buffer.moveReaderIndex(forwardBy: parsed.consumed)
        return parsed
    }
}

/// Writes `Frame`s (outbound half of the codec).
public struct FrameByteEncoder: MessageToByteEncoder {
    public typealias OutboundIn = Frame

    public init() {}

    public func encode(data frame: Frame, out: inout ByteBuffer) throws {
        Self.write(frame, to: &out)
    }

    @inlinable
    public static func write(_ frame: Frame, to out: inout ByteBuffer) {
        out.reserveCapacity(minimumWritableBytes: FrameLayout.overhead + frame.payload.count)
        out.writeInteger(UInt32(truncatingIfNeeded: FrameLayout.headerSize + frame.payload.count))
        out.writeInteger(FrameLayout.version)
        out.writeInteger(frame.kind.rawValue)
        out.writeInteger(frame.callID)
        out.writeInteger(frame.method)
        out.writeBytes(frame.payload)
    }
}
