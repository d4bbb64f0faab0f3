/// Reads the canonical encoding written by `WireWriter`, refusing every byte string that
/// `WireWriter` could not have produced: out-of-range bools and presence bytes, invalid UTF-8,
/// unknown enum tags, lengths and counts that the remaining input cannot hold (checked before
/// anything is allocated), and, in `finish()`, trailing bytes.
public struct WireReader: Sendable {
    @usableFromInline
    let bytes: [UInt8]
    @usableFromInline
    let end: Int
    @usableFromInline
    var position: Int

    /// Index of the next unread byte.
    public var offset: Int { position }

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.position = 0
        self.end = bytes.count
    }

    /// Reads `bytes[range]` only (no copy of the array is made).
    public init(_ bytes: [UInt8], range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count)
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
    }

    /// Bytes not read yet.
    @inlinable
    public var remaining: Int { end - position }

    /// Throws `.trailingBytes` unless every byte was consumed.
    public func finish() throws(WireError) {
        if remaining != 0 { throw .trailingBytes(count: remaining) }
    }

    @inlinable
    mutating func need(_ n: Int) throws(WireError) {
        if n > end - position { throw .truncated(needed: n, remaining: end - position) }
    }

    @inlinable
    mutating func readBigEndian<I: FixedWidthInteger>(_: I.Type) throws(WireError) -> I {
        let size = MemoryLayout<I>.size
        try need(size)
        let value = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: I.self) }
        position &+= size
        return I(bigEndian: value)
    }

    @inlinable
    public mutating func readUInt8() throws(WireError) -> UInt8 {
        try need(1)
        defer { position &+= 1 }
        return bytes[position]
    }

    @inlinable
    public mutating func readUInt16() throws(WireError) -> UInt16 { try readBigEndian(UInt16.self) }

    @inlinable
    public mutating func readUInt32() throws(WireError) -> UInt32 { try readBigEndian(UInt32.self) }

    @inlinable
    public mutating func readUInt64() throws(WireError) -> UInt64 { try readBigEndian(UInt64.self) }

    @inlinable
    public mutating func readInt64() throws(WireError) -> Int64 { Int64(bitPattern: try readBigEndian(UInt64.self)) }

    /// Exactly 0 (false) or 1 (true).
    @inlinable
    public mutating func readBool() throws(WireError) -> Bool {
        switch try readUInt8() {
        case 0: return false
        case 1: return true
        case let b: throw .invalidBool(b)
        }
    }

    /// `count` raw bytes (a fixed-length field).
    @inlinable
    public mutating func readFixedBytes(count: Int) throws(WireError) -> [UInt8] {
        guard count >= 0 else { throw .invalidValue("negative length \(count)") }
        try need(count)
        defer { position &+= count }
        return Array(bytes[position..<(position + count)])
    }

    /// `u32 length · bytes`, refused if the length exceeds `maxLength`.
    @inlinable
    public mutating func readBytes(maxLength: Int = .max) throws(WireError) -> [UInt8] {
        let n = try readLength(limit: maxLength)
        return try readFixedBytes(count: n)
    }

    /// `u32 length · UTF-8`, refused if the length exceeds `maxLength` (in bytes) or the bytes are
    /// not well-formed UTF-8 (overlong forms and surrogates included).
    public mutating func readString(maxLength: Int = .max) throws(WireError) -> String {
        let n = try readLength(limit: maxLength)
        try need(n)
        let slice = bytes[position..<(position + n)]
        guard let string = String(validating: slice, as: UTF8.self) else { throw .invalidUTF8 }
        position &+= n
        return string
    }

    /// A raw 20-byte address.
    @inlinable
    public mutating func readAddress() throws(WireError) -> Address {
        let raw = try readFixedBytes(count: 20)
        do { return try Address(bytes: raw) } catch { throw .invalidValue("address") }
    }

    /// `u32 count · elements`. The count is checked against the remaining input (each element
    /// takes at least `minimumElementSize` bytes, at least 1) and against `maxCount` before any
    /// storage is reserved, so a hostile count cannot force a large allocation.
    /// Arrays of zero-sized elements are therefore not representable.
    @inlinable
    public mutating func readArray<T>(
        maxCount: Int = .max,
        minimumElementSize: Int = 1,
        _ readElement: (inout WireReader) throws(WireError) -> T
    ) throws(WireError) -> [T] {
        let count = try readLength(limit: maxCount)
        let minSize = max(1, minimumElementSize)
        if count > remaining / minSize {
            throw .lengthTooLarge(length: count, limit: remaining / minSize)
        }
        var out = [T]()
        out.reserveCapacity(count)
        for _ in 0..<count { out.append(try readElement(&self)) }
        return out
    }

    /// Presence byte 0 (nil) or 1 followed by the value.
    @inlinable
    public mutating func readOptional<T>(_ readValue: (inout WireReader) throws(WireError) -> T) throws(WireError) -> T?
    {
        switch try readUInt8() {
        case 0: return nil
        case 1: return try readValue(&self)
        case let b: throw .invalidPresence(b)
        }
    }

    /// A nested message, inline.
    @inlinable
    public mutating func readMessage<M: WireMessage>(_: M.Type = M.self) throws(WireError) -> M {
        try M(from: &self)
    }

    /// A one-byte enum tag; unknown tags are refused.
    @inlinable
    public mutating func readTag<E: RawRepresentable>(_: E.Type = E.self) throws(WireError) -> E
    where E.RawValue == UInt8 {
        let raw = try readUInt8()
        guard let value = E(rawValue: raw) else {
            throw .unknownTag(type: String(describing: E.self), tag: UInt64(raw))
        }
        return value
    }

    /// A u32 length, refused above `limit` or above the remaining input.
    @inlinable
    mutating func readLength(limit: Int) throws(WireError) -> Int {
        let n = Int(try readUInt32())
        if n > limit { throw .lengthTooLarge(length: n, limit: limit) }
        return n
    }
}
