/// Incremental, pure frame decoder: feed bytes as they arrive, pull complete frames.
///
/// The length field is checked as soon as its 4 bytes are present (above `maxFrameSize` or below
/// the 12-byte header → error) and version, kind and per-kind payload limits as soon as the
/// header is present, so a hostile length never makes the decoder wait for (or buffer towards)
/// a huge payload. After the first error the decoder is failed: it drops its buffer, ignores
/// further input and rethrows the same error.
public struct FrameDecoder: Sendable {
    /// Cap on the length field (12 header bytes + payload).
    public let maxFrameSize: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var failure: FrameError?

    public init(maxFrameSize: Int = FrameLayout.defaultMaxFrameSize) {
        precondition(maxFrameSize >= FrameLayout.headerSize, "maxFrameSize below the frame header size")
        self.maxFrameSize = maxFrameSize
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// The error the decoder failed with, if any.
    public var error: FrameError? { failure }

    /// Appends received bytes. (When nothing is pending the array is adopted without copying.)
    public mutating func feed(_ bytes: [UInt8]) {
        guard failure == nil else { return }
        if readIndex == buffer.count {
            buffer = bytes
            readIndex = 0
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    /// Appends received bytes.
    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, `nil` if more bytes are needed.
    public mutating func nextFrame() throws(FrameError) -> Frame? {
        if let failure { throw failure }
        let start = readIndex
        let limit = maxFrameSize
        let result = buffer.withUnsafeBytes { raw in
            Result { () throws(FrameError) in
                try FrameDecoder.parse(UnsafeRawBufferPointer(rebasing: raw[start...]), maxFrameSize: limit)
            }
        }
        let parsed: (frame: Frame, consumed: Int)?
        switch result {
        case .success(let value): parsed = value
        case .failure(let error):
            failure = error
            buffer = []
            readIndex = 0
            throw error
        }
        guard let parsed else {
            compact()
            return nil
        }
        readIndex += parsed.consumed
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 16)
            readIndex = 0
        }
        return parsed.frame
    }

    private mutating func compact() {
        if readIndex > 0 && (readIndex >= 1 << 16 || readIndex * 2 >= buffer.count) {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }

    /// Validates the header fields present in `raw` (length once 4 bytes are there, then version,
    /// kind and the per-kind payload cap once 6 are). Returns the total frame size (length prefix
    /// included) if the length field is present.
    @inline(__always)
    public static func checkHeader(_ raw: UnsafeRawBufferPointer, maxFrameSize: Int) throws(FrameError) -> Int? {
        guard raw.count >= FrameLayout.lengthPrefixSize else { return nil }
        let length = UInt32(bigEndian: raw.loadUnaligned(as: UInt32.self))
        if Int(length) > maxFrameSize { throw .frameTooLarge(length: length, limit: maxFrameSize) }
        if Int(length) < FrameLayout.headerSize { throw .frameTooShort(length: length) }
        if raw.count >= 6 {
            let version = raw[4]
            if version != FrameLayout.version { throw .unsupportedVersion(version) }
            guard let kind = FrameKind(rawValue: raw[5]) else { throw .unknownKind(raw[5]) }
            let payloadLength = Int(length) - FrameLayout.headerSize
            if payloadLength > kind.maxPayload { throw .payloadTooLarge(kind: kind, length: payloadLength) }
        }
        return FrameLayout.lengthPrefixSize + Int(length)
    }

    /// Parses one frame from the start of `raw`. Returns `nil` when `raw` holds only part of a
    /// (so far valid) frame; otherwise the frame and how many bytes it took.
    public static func parse(
        _ raw: UnsafeRawBufferPointer, maxFrameSize: Int
    ) throws(FrameError) -> (frame: Frame, consumed: Int)? {
        guard let total = try checkHeader(raw, maxFrameSize: maxFrameSize), raw.count >= total else { return nil }
        // checkHeader validated version and kind (total >= 16 > 6 bytes present).
        let kind = FrameKind(rawValue: raw[5])!
        let callID = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 6, as: UInt64.self))
        let method = UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 14, as: UInt16.self))
        let payload =
            total == FrameLayout.overhead
            ? [] : Array(UnsafeRawBufferPointer(rebasing: raw[FrameLayout.overhead..<total]))
        return (Frame(kind: kind, callID: callID, method: method, payload: payload), total)
    }
}
