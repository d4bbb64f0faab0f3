import Wire

/// An unsigned 256-bit integer: the EVM word (wei amounts, ABI `uint<M>`). Only the operations the
/// chain layer needs: byte and text conversions, comparison, and arithmetic that reports overflow.
public struct UInt256: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// Little-endian 64-bit limbs: `limbs.0` is the least significant.
    var limbs: (UInt64, UInt64, UInt64, UInt64)

    public static let zero = UInt256(limbs: (0, 0, 0, 0))
    public static let max = UInt256(limbs: (.max, .max, .max, .max))

    init(limbs: (UInt64, UInt64, UInt64, UInt64)) { self.limbs = limbs }

    public init(_ value: UInt64) { limbs = (value, 0, 0, 0) }

    public init(integerLiteral value: UInt64) { self.init(value) }

    /// Big-endian bytes, at most 32 (leading zeros allowed here; callers that need canonical
    /// forms check them).
    public init?<C: Collection>(bigEndian bytes: C) where C.Element == UInt8 {
        guard bytes.count <= 32 else { return nil }
        var words: [UInt64] = [0, 0, 0, 0]
        var shift = 0
        for byte in bytes.reversed() {
            words[shift / 64] |= UInt64(byte) << UInt64(shift % 64)
            shift += 8
        }
        limbs = (words[0], words[1], words[2], words[3])
    }

    /// Decimal digits only (no sign, no separators); nil when empty, not decimal or ≥ 2^256.
    public init?(decimal text: String) {
        guard !text.isEmpty else { return nil }
        var value = UInt256.zero
        for c in text.utf8 {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt256(UInt64(c - UInt8(ascii: "0"))))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        self = value
    }

    var words: [UInt64] { [limbs.0, limbs.1, limbs.2, limbs.3] }

    init(words w: [UInt64]) { limbs = (w[0], w[1], w[2], w[3]) }

    /// 32 big-endian bytes.
    public var bigEndianBytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32)
        for word in words.reversed() {
            for i in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: word >> UInt64(i))) }
        }
        return out
    }

    /// Big-endian bytes without leading zeros (empty for zero): the RLP integer form.
    public var minimalBytes: [UInt8] { Array(bigEndianBytes.drop { $0 == 0 }) }

    /// Number of significant bits (0 for zero).
    public var bitWidth: Int {
        let w = words
        for i in stride(from: 3, through: 0, by: -1) where w[i] != 0 {
            return i * 64 + (64 - w[i].leadingZeroBitCount)
        }
        return 0
    }

    public var isZero: Bool { self == .zero }

    /// The value as a UInt64, when it fits.
    public var uint64: UInt64? { limbs.1 == 0 && limbs.2 == 0 && limbs.3 == 0 ? limbs.0 : nil }

    public static func == (a: UInt256, b: UInt256) -> Bool {
        a.limbs.0 == b.limbs.0 && a.limbs.1 == b.limbs.1 && a.limbs.2 == b.limbs.2 && a.limbs.3 == b.limbs.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(limbs.0)
        hasher.combine(limbs.1)
        hasher.combine(limbs.2)
        hasher.combine(limbs.3)
    }

    public static func < (a: UInt256, b: UInt256) -> Bool {
        if a.limbs.3 != b.limbs.3 { return a.limbs.3 < b.limbs.3 }
        if a.limbs.2 != b.limbs.2 { return a.limbs.2 < b.limbs.2 }
        if a.limbs.1 != b.limbs.1 { return a.limbs.1 < b.limbs.1 }
        return a.limbs.0 < b.limbs.0
    }

    public func addingReportingOverflow(_ other: UInt256) -> (partialValue: UInt256, overflow: Bool) {
        let a = words, b = other.words
        var out = [UInt64](repeating: 0, count: 4)
        var carry: UInt64 = 0
        for i in 0..<4 {
            let (s1, o1) = a[i].addingReportingOverflow(b[i])
            let (s2, o2) = s1.addingReportingOverflow(carry)
            out[i] = s2
            carry = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
        return (UInt256(words: out), carry != 0)
    }

    public func subtractingReportingOverflow(_ other: UInt256) -> (partialValue: UInt256, overflow: Bool) {
        let a = words, b = other.words
        var out = [UInt64](repeating: 0, count: 4)
        var borrow: UInt64 = 0
        for i in 0..<4 {
            let (d1, o1) = a[i].subtractingReportingOverflow(b[i])
            let (d2, o2) = d1.subtractingReportingOverflow(borrow)
            out[i] = d2
            borrow = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
        return (UInt256(words: out), borrow != 0)
    }

    public func multipliedReportingOverflow(by other: UInt256) -> (partialValue: UInt256, overflow: Bool) {
        let a = words, b = other.words
        var out = [UInt64](repeating: 0, count: 8)
        for i in 0..<4 where a[i] != 0 {
            var carry: UInt64 = 0
            for j in 0..<4 {
                let (high, low) = a[i].multipliedFullWidth(by: b[j])
                let (s1, o1) = out[i + j].addingReportingOverflow(low)
                let (s2, o2) = s1.addingReportingOverflow(carry)
                out[i + j] = s2
                carry = high &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)  // high ≤ 2^64 − 2: no wrap
            }
            out[i + 4] = carry
        }
        let overflow = out[4...].contains { $0 != 0 }
        return (UInt256(words: Array(out[0..<4])), overflow)
    }

    /// Division by a small divisor: quotient and remainder.
    public func quotientAndRemainder(dividingBy divisor: UInt64) -> (quotient: UInt256, remainder: UInt64) {
        precondition(divisor != 0, "division by zero")
        var out = [UInt64](repeating: 0, count: 4)
        var remainder: UInt64 = 0
        let w = words
        for i in stride(from: 3, through: 0, by: -1) {
            let (q, r) = divisor.dividingFullWidth((remainder, w[i]))
            out[i] = q
            remainder = r
        }
        return (UInt256(words: out), remainder)
    }

    /// Bitwise NOT (used for two's complement).
    public static prefix func ~ (a: UInt256) -> UInt256 {
        UInt256(limbs: (~a.limbs.0, ~a.limbs.1, ~a.limbs.2, ~a.limbs.3))
    }

    /// 2^k for k in 0..<256.
    public static func powerOfTwo(_ k: Int) -> UInt256 {
        precondition((0..<256).contains(k))
        var w: [UInt64] = [0, 0, 0, 0]
        w[k / 64] = 1 << UInt64(k % 64)
        return UInt256(words: w)
    }

    /// Decimal.
    public var description: String {
        if isZero { return "0" }
        var digits: [UInt8] = []
        var value = self
        while !value.isZero {
            let (q, r) = value.quotientAndRemainder(dividingBy: 10)
            digits.append(UInt8(ascii: "0") + UInt8(r))
            value = q
        }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }

    /// `0x`-prefixed lower-case hex without leading zeros (`0x0` for zero): a JSON-RPC quantity.
    public var quantityHex: String {
        let hex = Hex.encode(minimalBytes)
        let trimmed = hex.drop { $0 == "0" }
        return "0x" + (trimmed.isEmpty ? "0" : trimmed)
    }
}

/// A signed 256-bit integer in two's complement (ABI `int<M>`).
public struct Int256: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The two's complement bit pattern.
    public let bitPattern: UInt256

    public init(bitPattern: UInt256) { self.bitPattern = bitPattern }

    public init(_ value: Int64) {
        let magnitude = UInt256(value.magnitude)
        self.bitPattern = value < 0 ? Int256.negate(magnitude) : magnitude
    }

    public init(integerLiteral value: Int64) { self.init(value) }

    /// From a sign and magnitude; nil when out of range (−2^255 … 2^255 − 1).
    public init?(negative: Bool, magnitude: UInt256) {
        let limit = UInt256.powerOfTwo(255)
        if negative {
            guard magnitude <= limit else { return nil }
            bitPattern = Int256.negate(magnitude)
        } else {
            guard magnitude < limit else { return nil }
            bitPattern = magnitude
        }
    }

    /// Optional `-` then decimal digits.
    public init?(decimal text: String) {
        let negative = text.hasPrefix("-")
        guard let magnitude = UInt256(decimal: negative ? String(text.dropFirst()) : text) else { return nil }
        self.init(negative: negative, magnitude: magnitude)
    }

    static func negate(_ value: UInt256) -> UInt256 { (~value).addingReportingOverflow(1).partialValue }

    public var isNegative: Bool { bitPattern.limbs.3 >> 63 == 1 }

    public var magnitude: UInt256 { isNegative ? Int256.negate(bitPattern) : bitPattern }

    /// Bits needed to hold this value as a signed integer (sign bit included): `int<M>` holds it
    /// when this is ≤ M.
    public var signedBitWidth: Int {
        isNegative ? (~bitPattern).bitWidth + 1 : bitPattern.bitWidth + 1
    }

    public static func < (a: Int256, b: Int256) -> Bool {
        switch (a.isNegative, b.isNegative) {
        case (true, false): true
        case (false, true): false
        default: a.bitPattern < b.bitPattern
        }
    }

    public var description: String { (isNegative ? "-" : "") + magnitude.description }
}
