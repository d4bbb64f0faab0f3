import CSecp256k1
import CryptoPrimitives

/// Errors of the group arithmetic (`Scalar`, `Point`); none carries secret material.
public enum GroupError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not 32 bytes, or not below the group order n.
    case invalidScalar
    /// Not a 33-byte compressed encoding of a point on the curve.
    case invalidPoint
    /// The point at infinity where a finite point is required.
    case pointAtInfinity
    /// Zero has no inverse.
    case notInvertible

    public var description: String {
        switch self {
        case .invalidScalar: "invalid scalar (must be 32 bytes below the group order)"
        case .invalidPoint: "invalid point encoding or point not on the curve"
        case .pointAtInfinity: "point at infinity where a finite point is required"
        case .notInvertible: "zero scalar has no inverse"
        }
    }
}

/// An element of Z_n, n the order of secp256k1 (zero included), stored as 32 big-endian bytes
/// in `SecretBytes` (zeroed when freed, printed as `<redacted>`).
///
/// Arithmetic goes through libsecp256k1's constant-time scalar code (`seckey_tweak_add`,
/// `seckey_tweak_mul`, `seckey_negate`). Those reject zero operands, so zero is handled by an
/// explicit branch: the timing of `+`, `*`, negation and `inverse` reveals whether an operand is
/// zero, and nothing else. The inverse is Fermat's a^(n−2) by a fixed 4-bit window over the public
/// exponent (≈ 250 squarings and 60 multiplications, every one constant time): this module cannot
/// reach OpenSSL's BIGNUM inversion, and needs none.
public struct Scalar: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// Exactly 32 bytes holding a value below n.
    let storage: SecretBytes

    /// n, big-endian.
    public static let orderBytes: [UInt8] = groupOrder
    public static let byteCount = 32

    public static let zero = Scalar(validated: [UInt8](repeating: 0, count: 32))
    public static let one = Scalar(UInt64(1))

    /// Copies 32 bytes already known to be below n (the caller's array is not zeroed: use
    /// `init(taking:)` or `init(consuming:)` for bytes that are secret).
    init(validated bytes: [UInt8]) {
        var copy = bytes
        storage = SecretBytes(zeroing: &copy)
    }

    init(taking bytes: inout [UInt8]) {
        storage = SecretBytes(zeroing: &bytes)
    }

    /// 32 big-endian bytes of a value below n (zero allowed), taken from `bytes`, which is zeroed
    /// whether or not they are accepted: for decoding secrets without leaving a copy behind.
    public init(consuming bytes: inout [UInt8]) throws {
        guard bytes.count == 32, Scalar.isBelowOrder(bytes) else {
            secureZero(&bytes)
            throw GroupError.invalidScalar
        }
        self.init(taking: &bytes)
    }

    /// 32 big-endian bytes of a value below n (zero allowed).
    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32, Scalar.isBelowOrder(bytes) else { throw GroupError.invalidScalar }
        self.init(validated: bytes)
    }

    /// 32 big-endian bytes reduced mod n (values ≥ n lose n once; 2^256 < 2n). The reduction is
    /// branch-free.
    public init(reducing bytes: [UInt8]) throws {
        guard bytes.count == 32 else { throw GroupError.invalidScalar }
        var reduced = Scalar.reduceOnce(bytes)
        self.init(taking: &reduced)
    }

    public init(_ value: UInt64) {
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in 0..<8 { bytes[31 - i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        self.init(taking: &bytes)
    }

    /// The private key's scalar.
    public init(_ privateKey: PrivateKey) {
        var bytes = privateKey.withRawBytes { $0 }
        self.init(taking: &bytes)
    }

    /// A uniformly random non-zero scalar (rejection sampling over 32-byte draws; a draw is
    /// rejected with probability ≈ 2^-128).
    public static func random<R: RandomSource>(using rng: inout R) -> Scalar {
        while true {
            var candidate = rng.bytes(32)
            if isBelowOrder(candidate) && candidate.contains(where: { $0 != 0 }) {
                return Scalar(taking: &candidate)
            }
            secureZero(&candidate)
        }
    }

    /// A uniformly random non-zero scalar from the system DRBG.
    public static func random() -> Scalar {
        var rng = SecureRandomNumberGenerator()
        return random(using: &rng)
    }

    /// Hash-to-scalar: SHA-256 over an injective framing of (domain, message, counter),
    /// `u32(len(domain)) ‖ domain ‖ u64(len(message)) ‖ message ‖ u32(counter)` under the fixed
    /// prefix `"vn/hash-to-scalar/v1"`; the first digest below n is taken (rejection, so the
    /// result is uniform; a retry happens with probability ≈ 2^-128). Distinct domains give
    /// independent functions.
    public static func hash(domain: String, message: [UInt8]) -> Scalar {
        let domainBytes = Array(domain.utf8)
        var framed = Array("vn/hash-to-scalar/v1".utf8)
        framed += bigEndian(UInt32(domainBytes.count)) + domainBytes
        framed += bigEndian(UInt64(message.count)) + message
        var counter: UInt32 = 0
        while true {
            var digest = SHA256.hash(framed + bigEndian(counter))
            if isBelowOrder(digest) { return Scalar(taking: &digest) }
            counter += 1
        }
    }

    /// The 32 big-endian bytes. This copies the value out of its protected storage: for public
    /// scalars (challenges, signature parts, transcripts) or deliberate export.
    public var bytes: [UInt8] { storage.copyBytes() }

    /// Read access without a copy; the pointer must not escape.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes(body)
    }

    /// The private key with this scalar (throws for zero).
    public func privateKey() throws -> PrivateKey {
        guard !isZero else { throw GroupError.invalidScalar }
        return try PrivateKey(secret: storage)
    }

    /// Branch-free over the bytes.
    public var isZero: Bool {
        storage.withUnsafeBytes { raw in raw.reduce(0 as UInt8) { $0 | $1 } == 0 }
    }

    // MARK: Arithmetic mod n

    public static func + (a: Scalar, b: Scalar) -> Scalar {
        if a.isZero { return b }
        if b.isZero { return a }
        var out = a.bytes
        let ok = b.withPointer { secp256k1_ec_seckey_tweak_add(context, &out, $0) }
        // With valid operands the only failure is a zero sum (b = −a).
        guard ok == 1 else {
            secureZero(&out)
            return .zero
        }
        return Scalar(taking: &out)
    }

    public static prefix func - (a: Scalar) -> Scalar {
        if a.isZero { return a }
        var out = a.bytes
        guard secp256k1_ec_seckey_negate(context, &out) == 1 else {
            fatalError("secp256k1_ec_seckey_negate rejected a valid scalar")
        }
        return Scalar(taking: &out)
    }

    public static func - (a: Scalar, b: Scalar) -> Scalar { a + (-b) }

    public static func * (a: Scalar, b: Scalar) -> Scalar {
        if a.isZero || b.isZero { return .zero }
        var out = a.bytes
        let ok = b.withPointer { secp256k1_ec_seckey_tweak_mul(context, &out, $0) }
        // n is prime: a product of non-zero scalars is non-zero, so this cannot fail.
        guard ok == 1 else { fatalError("secp256k1_ec_seckey_tweak_mul rejected valid scalars") }
        return Scalar(taking: &out)
    }

    public static func += (a: inout Scalar, b: Scalar) { a = a + b }
    public static func -= (a: inout Scalar, b: Scalar) { a = a - b }
    public static func *= (a: inout Scalar, b: Scalar) { a = a * b }

    /// a⁻¹ = a^(n−2) mod n (Fermat). Throws for zero.
    public func inverse() throws -> Scalar {
        guard !isZero else { throw GroupError.notInvertible }
        // table[i] = a^i for i in 1...15.
        var table = [[UInt8]](repeating: [], count: 16)
        defer {
            for i in table.indices { secureZero(&table[i]) }
        }
        table[1] = bytes
        for i in 2..<16 { table[i] = Scalar.mulRaw(table[i - 1], table[1]) }
        let nibbles = Scalar.orderMinusTwoNibbles
        var acc = table[Int(nibbles[0])]
        for digit in nibbles.dropFirst() {
            for _ in 0..<4 {
                let square = Scalar.mulRaw(acc, acc)
                secureZero(&acc)
                acc = square
            }
            // The exponent is public, so skipping zero digits leaks nothing.
            if digit != 0 {
                let product = Scalar.mulRaw(acc, table[Int(digit)])
                secureZero(&acc)
                acc = product
            }
        }
        return Scalar(taking: &acc)
    }

    /// Constant-time comparison.
    public static func == (a: Scalar, b: Scalar) -> Bool { a.storage == b.storage }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "Scalar(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    // MARK: Helpers

    private func withPointer<R>(_ body: (UnsafePointer<UInt8>) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { try body($0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
    }

    /// x·y for non-zero 32-byte scalars (inverse's inner loop, without wrapper allocations).
    private static func mulRaw(_ x: [UInt8], _ y: [UInt8]) -> [UInt8] {
        var out = x
        guard secp256k1_ec_seckey_tweak_mul(context, &out, y) == 1 else {
            fatalError("secp256k1_ec_seckey_tweak_mul rejected valid scalars")
        }
        return out
    }

    /// The hex digits of n − 2, most significant first.
    private static let orderMinusTwoNibbles: [UInt8] = {
        var e = groupOrder
        e[31] -= 2  // n ends in 0x41: no borrow.
        return e.flatMap { [$0 >> 4, $0 & 0x0f] }
    }()

    /// Whether 32 big-endian bytes are below n (public inputs, or rejection sampling).
    static func isBelowOrder(_ bytes: [UInt8]) -> Bool {
        guard bytes.count == 32 else { return false }
        for (x, y) in zip(bytes, groupOrder) where x != y { return x < y }
        return false
    }

    /// x − n if x ≥ n, else x; branch-free over 64-bit limbs.
    private static func reduceOnce(_ x: [UInt8]) -> [UInt8] {
        func limbs(_ b: [UInt8]) -> [UInt64] {
            (0..<4).map { i in (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(b[8 * i + $1]) } }
        }
        var a = limbs(x)
        let n = limbs(groupOrder)
        var difference = [UInt64](repeating: 0, count: 4)
        var borrow: UInt64 = 0
        for i in (0..<4).reversed() {
            let (d1, o1) = a[i].subtractingReportingOverflow(n[i])
            let (d2, o2) = d1.subtractingReportingOverflow(borrow)
            difference[i] = d2
            borrow = (o1 ? 1 : 0) | (o2 ? 1 : 0)
        }
        // borrow = 1 ⇔ x < n: keep x; otherwise take the difference.
        let keep = 0 &- borrow
        var out = [UInt8](repeating: 0, count: 32)
        for i in 0..<4 {
            let limb = (a[i] & keep) | (difference[i] & ~keep)
            for j in 0..<8 { out[8 * i + j] = UInt8(truncatingIfNeeded: limb >> (8 * UInt64(7 - j))) }
        }
        for i in 0..<4 {
            a[i] = 0
            difference[i] = 0
        }
        return out
    }
}

func bigEndian(_ value: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32(3 - $0))) }
}

func bigEndian(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(7 - $0))) }
}
