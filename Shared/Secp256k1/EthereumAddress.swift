import CryptoPrimitives

/// EIP-55 mixed-case checksum encoding: `0x` + hex, where each letter is upper case when the
/// matching nibble of keccak256(lower-case hex) is ≥ 8. Meant for 20-byte addresses; other
/// lengths are encoded by the same rule.
public func eip55Checksum(addressBytes: [UInt8]) -> String {
    let lower = Array(hexEncode(addressBytes).utf8)
    let hash = Keccak256.hash(lower)
    var out = Array("0x".utf8)
    for (i, c) in lower.enumerated() {
        let nibble = i % 2 == 0 ? hash[i / 2] >> 4 : hash[i / 2] & 0x0f
        out.append(c >= UInt8(ascii: "a") && nibble >= 8 ? c - 32 : c)
    }
    return String(decoding: out, as: UTF8.self)
}

/// Parses a `0x`-prefixed 40-hex-digit address. All-lower or all-upper case is accepted as is;
/// mixed case must match the EIP-55 checksum.
public func parseEthereumAddress(_ string: String) throws -> [UInt8] {
    let chars = Array(string.utf8)
    guard chars.count == 42, chars[0] == UInt8(ascii: "0"),
        chars[1] == UInt8(ascii: "x") || chars[1] == UInt8(ascii: "X")
    else { throw Secp256k1Error.invalidAddress }
    var out: [UInt8] = []
    out.reserveCapacity(20)
    var hasLower = false, hasUpper = false
    func nibble(_ c: UInt8) throws -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): hasLower = true; return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): hasUpper = true; return c - UInt8(ascii: "A") + 10
        default: throw Secp256k1Error.invalidAddress
        }
    }
    for i in stride(from: 2, to: 42, by: 2) {
        out.append(try nibble(chars[i]) << 4 | nibble(chars[i + 1]))
    }
    if hasLower && hasUpper && eip55Checksum(addressBytes: out) != "0x" + String(decoding: chars[2...], as: UTF8.self) {
        throw Secp256k1Error.invalidAddress
    }
    return out
}
