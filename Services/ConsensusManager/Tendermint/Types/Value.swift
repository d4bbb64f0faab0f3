import CryptoPrimitives
import Wire

/// `id(v)` (Algorithm 1): the 32-byte hash that votes carry instead of the value.
///
/// Held as four words so that vote tallies hash and compare it without touching the heap.
public struct ValueID: Hashable, Comparable, Sendable, WireMessage, CustomStringConvertible {
    public static let byteCount = 32
    let w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    /// Exactly 32 bytes.
    public init(bytes: [UInt8]) {
        precondition(bytes.count == Self.byteCount, "a value id is 32 bytes, got \(bytes.count)")
        func word(_ i: Int) -> UInt64 {
            var w: UInt64 = 0
            for b in bytes[(i * 8)..<(i * 8 + 8)] { w = w << 8 | UInt64(b) }
            return w
        }
        (w0, w1, w2, w3) = (word(0), word(1), word(2), word(3))
    }

    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Self.byteCount)
        for w in [w0, w1, w2, w3] {
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: w >> UInt64(shift)))
            }
        }
        return out
    }

    public static func < (a: ValueID, b: ValueID) -> Bool { (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3) }

    /// The first 8 hex digits: enough to tell values apart in logs.
    public var description: String { Hex.encode(bytes.prefix(4)) }

    public func encode(to writer: inout WireWriter) {
        writer.writeUInt64(w0)
        writer.writeUInt64(w1)
        writer.writeUInt64(w2)
        writer.writeUInt64(w3)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        w0 = try reader.readUInt64()
        w1 = try reader.readUInt64()
        w2 = try reader.readUInt64()
        w3 = try reader.readUInt64()
    }
}

/// A proposed value: opaque bytes (a block, to the application) and their id.
///
/// `id = SHA-256(string "vn/tendermint/value/v1" · bytes value)` in the canonical encoding: the
/// id is always recomputed from the bytes (also on decode), so a value cannot carry a wrong id.
/// On the wire only the bytes travel.
public struct Value: Hashable, Sendable, WireMessage, CustomStringConvertible {
    public static let domainTag = "vn/tendermint/value/v1"
    /// Largest value the decoder accepts (the gossip layer splits blocks into smaller parts).
    public static let maxByteCount = 16 << 20

    public let bytes: [UInt8]
    public let id: ValueID

    public init(bytes: [UInt8]) {
        precondition(bytes.count <= Self.maxByteCount, "value of \(bytes.count) bytes exceeds the limit")
        self.bytes = bytes
        self.id = Self.id(of: bytes)
    }

    public static func id(of bytes: [UInt8]) -> ValueID {
        var writer = WireWriter(reservingCapacity: 32 + bytes.count)
        writer.writeString(domainTag)
        writer.writeBytes(bytes)
        return ValueID(bytes: SHA256.hash(writer.take()))
    }

    public static func == (a: Value, b: Value) -> Bool { a.id == b.id && a.bytes == b.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    public var description: String { "value(\(id), \(bytes.count) B)" }

    public func encode(to writer: inout WireWriter) { writer.writeBytes(bytes) }
    public init(from reader: inout WireReader) throws(WireError) {
        self.init(bytes: try reader.readBytes(maxLength: Self.maxByteCount))
    }
}
