/// A value with one canonical wire encoding (see `WireWriter` for the rules).
///
/// Laws every conformance keeps (and the property tests and fuzzer check):
/// `decode(x.encoded()) == x`, and for every byte string `b` that `decode` accepts,
/// `decode(b).encoded() == b`.
///
/// Note on strings: Swift compares `String`s by Unicode canonical equivalence, while the wire
/// keeps the exact UTF-8 bytes. Where identity matters (hashing, signing, chain ids) compare
/// encoded bytes, not `==`.
public protocol WireMessage: Sendable, Equatable {
    /// Appends the fields, in order, with no framing.
    func encode(to writer: inout WireWriter)
    /// Reads the fields, in order; must refuse anything `encode` could not have produced.
    init(from reader: inout WireReader) throws(WireError)
}

extension WireMessage {
    /// The canonical bytes of this value.
    @inlinable
    public func encoded() -> [UInt8] {
        var writer = WireWriter()
        encode(to: &writer)
        return writer.take()
    }

    /// Decodes exactly one value from `bytes`; trailing bytes are refused.
    @inlinable
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> Self {
        var reader = WireReader(bytes)
        let value = try Self(from: &reader)
        try reader.finish()
        return value
    }

    /// Decodes exactly one value from `bytes[range]`; trailing bytes are refused.
    @inlinable
    public static func decode(_ bytes: [UInt8], range: Range<Int>) throws(WireError) -> Self {
        var reader = WireReader(bytes, range: range)
        let value = try Self(from: &reader)
        try reader.finish()
        return value
    }
}
