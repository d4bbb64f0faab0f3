import Wire

/// Errors of the chain layer's pure parts (RLP has its own `RLPError`, ABI `ABIError`).
public enum EVMError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidAddress(String)
    case invalidHex(String)
    case invalidQuantity(String)

    public var description: String {
        switch self {
        case .invalidAddress(let s): "invalid address \(s)"
        case .invalidHex(let s): "invalid hex data: \(s)"
        case .invalidQuantity(let s): "invalid quantity: \(s)"
        }
    }
}

/// JSON-RPC's two hex forms (execution-apis "hex encoding"): a *quantity* is `0x` + lower- or
/// upper-case hex digits without leading zeros (`0x0` for zero); *data* is `0x` + an even number
/// of hex digits. Both are parsed strictly: no missing prefix, no whitespace, no sign.
public enum EVMHex {
    static func shorten(_ s: String) -> String { s.count > 80 ? String(s.prefix(80)) + "…" : s }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `0x` + even-length hex → bytes.
    public static func data(_ text: String) throws(EVMError) -> [UInt8] {
        let u = Array(text.utf8)
        guard u.count >= 2, u[0] == UInt8(ascii: "0"), u[1] == UInt8(ascii: "x"), u.count % 2 == 0 else {
            throw .invalidHex(shorten(text))
        }
        var out = [UInt8]()
        out.reserveCapacity((u.count - 2) / 2)
        var i = 2
        while i < u.count {
            guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { throw .invalidHex(shorten(text)) }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    /// A quantity's significant hex digits (after validation).
    private static func quantityDigits(_ text: String) throws(EVMError) -> ArraySlice<UInt8> {
        let u = Array(text.utf8)
        guard u.count >= 3, u[0] == UInt8(ascii: "0"), u[1] == UInt8(ascii: "x") else {
            throw .invalidQuantity(shorten(text))
        }
        let digits = u[2...]
        guard digits.allSatisfy({ nibble($0) != nil }) else { throw .invalidQuantity(shorten(text)) }
        // No leading zeros, except "0x0" itself.
        if digits.count > 1, digits.first == UInt8(ascii: "0") { throw .invalidQuantity(shorten(text)) }
        return digits
    }

    public static func uint64(_ text: String) throws(EVMError) -> UInt64 {
        let digits = try quantityDigits(text)
        guard digits.count <= 16 else { throw .invalidQuantity(shorten(text)) }
        return digits.reduce(UInt64(0)) { $0 << 4 | UInt64(nibble($1)!) }
    }

    public static func uint256(_ text: String) throws(EVMError) -> UInt256 {
        let digits = try quantityDigits(text)
        guard digits.count <= 64 else { throw .invalidQuantity(shorten(text)) }
        var bytes = [UInt8]()
        var padded = Array(digits)
        if padded.count % 2 == 1 { padded.insert(UInt8(ascii: "0"), at: 0) }
        var i = 0
        while i < padded.count {
            bytes.append(nibble(padded[i])! << 4 | nibble(padded[i + 1])!)
            i += 2
        }
        return UInt256(bigEndian: bytes)!
    }

    /// `0x` + lower-case hex.
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        "0x" + Hex.encode(bytes)
    }

    public static func quantity(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
}
