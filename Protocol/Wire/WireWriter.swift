/// Appends values in the canonical encoding (DESIGN §3):
///
/// | type            | encoding                                                   |
/// |-----------------|------------------------------------------------------------|
/// | u8/u16/u32/u64  | fixed width, big-endian                                    |
/// | i64             | two's complement, 8 bytes big-endian                       |
/// | bool            | one byte, exactly 0 or 1                                   |
/// | bytes           | u32 length · raw bytes                                     |
/// | string          | u32 length · UTF-8 bytes (exactly as stored, no normalization) |
/// | fixed bytes     | raw bytes, the length is implied by the type (e.g. `Address`) |
/// | array           | u32 count · elements                                        |
/// | optional        | presence byte 0 (absent) or 1 (present) · value             |
/// | enum            | tag (u8 unless stated) · the case's fields                  |
///
/// Messages encode their fields in declaration order with no field tags, no padding and no
/// version bytes, so every value has exactly one encoding.
public struct WireWriter: Sendable {
    @usableFromInline
    var storage: [UInt8]

    public init(reservingCapacity capacity: Int = 64) {
        storage = []
        storage.reserveCapacity(capacity)
    }

    /// The bytes written so far.
    public var bytes: [UInt8] { storage }

    public var count: Int { storage.count }

    /// Hands the written bytes over, leaving the writer empty.
    public mutating func take() -> [UInt8] {
        defer { storage = [] }
        return storage
    }

    @inlinable
    public mutating func writeUInt8(_ value: UInt8) { storage.append(value) }

    @inlinable
    public mutating func writeUInt16(_ value: UInt16) { appendBigEndian(value) }

    @inlinable
    public mutating func writeUInt32(_ value: UInt32) { appendBigEndian(value) }

    @inlinable
    public mutating func writeUInt64(_ value: UInt64) { appendBigEndian(value) }

    @inlinable
    public mutating func writeInt64(_ value: Int64) { appendBigEndian(UInt64(bitPattern: value)) }

    @inlinable
    public mutating func writeBool(_ value: Bool) { storage.append(value ? 1 : 0) }

    /// Raw bytes with no length prefix: only for fields whose length the type fixes.
    @inlinable
    public mutating func writeFixedBytes(_ raw: some Collection<UInt8>) { storage.append(contentsOf: raw) }

    /// `u32 length · bytes`.
    @inlinable
    public mutating func writeBytes(_ raw: some Collection<UInt8>) {
        writeLength(raw.count)
        storage.append(contentsOf: raw)
    }

    /// `u32 length · UTF-8`. The exact code units of `value` are written (no normalization).
    @inlinable
    public mutating func writeString(_ value: String) {
        let utf8 = value.utf8
        writeLength(utf8.count)
        storage.append(contentsOf: utf8)
    }

    /// A 20-byte address, raw.
    @inlinable
    public mutating func writeAddress(_ address: Address) { storage.append(contentsOf: address.bytes) }

    /// `u32 count · elements`.
    @inlinable
    public mutating func writeArray<T>(_ elements: [T], _ writeElement: (inout WireWriter, T) -> Void) {
        writeLength(elements.count)
        for element in elements { writeElement(&self, element) }
    }

    /// Presence byte 0, or 1 followed by the value.
    @inlinable
    public mutating func writeOptional<T>(_ value: T?, _ writeValue: (inout WireWriter, T) -> Void) {
        if let value {
            storage.append(1)
            writeValue(&self, value)
        } else {
            storage.append(0)
        }
    }

    /// A nested message, inline (its own fields, no length prefix).
    @inlinable
    public mutating func writeMessage<M: WireMessage>(_ message: M) { message.encode(to: &self) }

    /// An enum tag (one byte).
    @inlinable
    public mutating func writeTag<E: RawRepresentable>(_ value: E) where E.RawValue == UInt8 {
        storage.append(value.rawValue)
    }

    @inlinable
    mutating func writeLength(_ n: Int) {
        precondition(n <= Int(UInt32.max), "wire length \(n) does not fit in u32")
        appendBigEndian(UInt32(truncatingIfNeeded: n))
    }

    @inlinable
    mutating func appendBigEndian<I: FixedWidthInteger>(_ value: I) {
        withUnsafeBytes(of: value.bigEndian) { storage.append(contentsOf: $0) }
    }
}
