/// Lower-case hexadecimal, the one textual form of bytes used in configs, logs and fixtures.
public enum Hex {
    public enum DecodingError: Error, Equatable, CustomStringConvertible {
        case oddLength(Int)
        case invalidCharacter(offset: Int)

        public var description: String {
            switch self {
            case .oddLength(let n): "hex string has odd length \(n)"
            case .invalidCharacter(let offset): "invalid hex character at offset \(offset)"
            }
        }
    }

    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex (either case); an optional `0x` prefix is accepted.
    public static func decode(_ text: String) throws(DecodingError) -> [UInt8] {
        var utf8 = Array(text.utf8)
        var base = 0
        if utf8.count >= 2, utf8[0] == UInt8(ascii: "0"), utf8[1] | 0x20 == UInt8(ascii: "x") {
            utf8.removeFirst(2)
            base = 2
        }
        guard utf8.count % 2 == 0 else { throw .oddLength(utf8.count) }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]) else { throw .invalidCharacter(offset: base + i) }
            guard let lo = nibble(utf8[i + 1]) else { throw .invalidCharacter(offset: base + i + 1) }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    @inline(__always)
    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// A 20-byte account address (Ethereum style: the last 20 bytes of keccak-256 of the
/// uncompressed public key without its 0x04 prefix). Validators are named by it.
public struct Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public enum Error: Swift.Error, Equatable { case invalidLength(Int) }

    public init(bytes: [UInt8]) throws(Address.Error) {
        guard bytes.count == 20 else { throw .invalidLength(bytes.count) }
        self.bytes = bytes
    }

    /// Parses `0x`-prefixed or bare hex (any case; checksum casing is not verified here).
    public init(hex: String) throws {
        try self.init(bytes: Hex.decode(hex))
    }

    /// `0x` + lower-case hex. (EIP-55 checksummed form: `Secp256k1` module, it needs keccak.)
    public var description: String { "0x" + Hex.encode(bytes) }

    public static func < (a: Address, b: Address) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}
