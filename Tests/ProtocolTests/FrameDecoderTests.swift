import NIOCore
import NIOTestUtils
import Testing
import Wire

@testable import RPC

@Suite("Frame decoder")
struct FrameDecoderTests {
    static let sample: [Frame] = [
        Frame(
            kind: .request, callID: 1, method: 0x0100, payload: RequestPayload.make(timeoutMs: 0, message: [1, 2, 3])),
        Frame(kind: .response, callID: 1, method: 0x0100, payload: []),
        Frame(kind: .streamItem, callID: 2, method: 7, payload: Array(repeating: 0xaa, count: 300)),
        Frame(kind: .streamEnd, callID: 2, method: 7),
        Frame(kind: .error, callID: 3, method: 9, payload: RPCErrorPayload(code: .notFound, message: "x").encoded()),
        Frame(kind: .ping, callID: 99, method: 0, payload: [1]),
        Frame(kind: .pong, callID: 99, method: 0, payload: [1]),
        Frame(kind: .cancel, callID: 4, method: 0x0100),
    ]

    static var sampleBytes: [UInt8] { sample.flatMap(FrameEncoder.encode) }

    func drain(_ decoder: inout FrameDecoder) throws(FrameError) -> [Frame] {
        var frames: [Frame] = []
        while let frame = try decoder.nextFrame() { frames.append(frame) }
        return frames
    }

    @Test func headerLayout() {
        let bytes = FrameEncoder.encode(
            Frame(kind: .request, callID: 0x0102_0304_0506_0708, method: 0xabcd, payload: [0xee]))
        #expect(bytes == hex("0000000d 01 01 0102030405060708 abcd ee"))
    }

    @Test func byteAtATime() throws {
        var decoder = FrameDecoder()
        var frames: [Frame] = []
        for byte in Self.sampleBytes {
            decoder.feed([byte])
            frames += try drain(&decoder)
        }
        #expect(frames == Self.sample)
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test func mergedInOneFeed() throws {
        var decoder = FrameDecoder()
        decoder.feed(Self.sampleBytes)
        #expect(try drain(&decoder) == Self.sample)
    }

    @Test func splitAtEveryOffset() throws {
        let bytes = Self.sampleBytes
        for cut in stride(from: 0, through: bytes.count, by: 7) {
            var decoder = FrameDecoder()
            decoder.feed(Array(bytes[..<cut]))
            var frames = try drain(&decoder)
            decoder.feed(Array(bytes[cut...]))
            frames += try drain(&decoder)
            #expect(frames == Self.sample, "cut at \(cut)")
        }
    }

    @Test func oversizedLengthRejectedFromTheHeaderAlone() {
        var decoder = FrameDecoder(maxFrameSize: 1024)
        decoder.feed(hex("00000401"))  // 1025
        #expect(throws: FrameError.frameTooLarge(length: 1025, limit: 1024)) { try decoder.nextFrame() }
        // Default cap, header + 1 byte only: refused before any payload is buffered.
        var big = FrameDecoder()
        big.feed(hex("01000001 01"))  // 16 MiB + 1
        #expect(throws: FrameError.frameTooLarge(length: 0x0100_0001, limit: 16 << 20)) { try big.nextFrame() }
        #expect(big.bufferedByteCount == 0)
        var huge = FrameDecoder()
        huge.feed(hex("ffffffff"))
        #expect(throws: FrameError.frameTooLarge(length: 0xffff_ffff, limit: 16 << 20)) { try huge.nextFrame() }
    }

    @Test func exactlyMaxIsAccepted() throws {
        var decoder = FrameDecoder(maxFrameSize: 12 + 100)
        decoder.feed(frameBytes(.response, callID: 1, payload: Array(repeating: 1, count: 100)))
        #expect(try decoder.nextFrame()?.payload.count == 100)
    }

    @Test func lengthShorterThanHeaderRejected() {
        for length in 0..<12 {
            var decoder = FrameDecoder()
            decoder.feed([0, 0, 0, UInt8(length)])
            #expect(throws: FrameError.frameTooShort(length: UInt32(length))) { try decoder.nextFrame() }
        }
    }

    @Test func unknownVersionAndKindRejectedBeforeThePayload() {
        var decoder = FrameDecoder()
        decoder.feed(hex("00001000 02"))
        #expect(throws: Never.self) { try decoder.nextFrame() }  // version byte seen only with the kind
        decoder.feed(hex("01"))
        #expect(throws: FrameError.unsupportedVersion(2)) { try decoder.nextFrame() }
        for kind in [UInt8(0), 9, 200] {
            var d = FrameDecoder()
            d.feed([0, 0, 0x10, 0, 1, kind])
            #expect(throws: FrameError.unknownKind(kind)) { try d.nextFrame() }
        }
    }

    @Test func perKindPayloadLimits() {
        var cancel = FrameDecoder()
        cancel.feed(hex("0000000d 01 08"))  // cancel with a 1-byte payload
        #expect(throws: FrameError.payloadTooLarge(kind: .cancel, length: 1)) { try cancel.nextFrame() }
        var ping = FrameDecoder()
        ping.feed(hex("0000004d 01 06"))  // ping with a 65-byte payload
        #expect(throws: FrameError.payloadTooLarge(kind: .ping, length: 65)) { try ping.nextFrame() }
    }

    @Test func failedDecoderStaysFailed() {
        var decoder = FrameDecoder(maxFrameSize: 64)
        decoder.feed(hex("00000100"))
        #expect(throws: FrameError.frameTooLarge(length: 256, limit: 64)) { try decoder.nextFrame() }
        decoder.feed(frameBytes(.ping, callID: 1))
        #expect(throws: FrameError.frameTooLarge(length: 256, limit: 64)) { try decoder.nextFrame() }
        #expect(decoder.bufferedByteCount == 0)
        #expect(decoder.error == .frameTooLarge(length: 256, limit: 64))
    }

    @Test func nioAdapterPassesByteToMessageDecoderVerifier() throws {
        var buffer = ByteBuffer()
        buffer.writeBytes(Self.sampleBytes)
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (buffer, Self.sample),
                (ByteBuffer(bytes: frameBytes(.ping, callID: 5)), [Frame(kind: .ping, callID: 5, method: 0)]),
            ],
            decoderFactory: { FrameByteDecoder() })
    }

    @Test func nioAdapterRejectsOversizedLengthFromTheHeader() {
        var buffer = ByteBuffer(bytes: hex("00000401 01"))
        #expect(throws: FrameError.frameTooLarge(length: 1025, limit: 1024)) {
            try FrameByteDecoder.parse(&buffer, maxFrameSize: 1024)
        }
    }
}
