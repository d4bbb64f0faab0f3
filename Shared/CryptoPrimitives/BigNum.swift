import COpenSSL

/// An arbitrary-precision signed integer over OpenSSL's BIGNUM, immutable once made: every
/// operation returns a new value.
///
/// **Secrets.** A value made with `secret: true` (and every result computed from one) carries
/// `BN_FLG_CONSTTIME`, so OpenSSL takes its constant-time paths for it (modular exponentiation,
/// inversion, division), and its operations run on a `BN_CTX_secure_new` context. Every value is
/// wiped (`BN_clear_free`) when freed, public or not. Secrets print as `<redacted>`. Comparisons
/// (`==`, `<`) and `bitLength` are *not* constant time: do not branch on secrets with them.
/// `modExpConstantTime` is the one to use for secret exponents (`modExp` also switches to the
/// constant-time ladder whenever an operand is secret).
///
/// **Threads.** A `BigNum` is never mutated after creation and every operation allocates its own
/// `BN_CTX` for the duration of the call (one small allocation, negligible next to the 2048-bit
/// arithmetic it serves; no context is cached or shared), so values and `MontgomeryContext`s can
/// be shared freely between threads and tasks.
///
/// **Hostile input.** Zero, negative or even moduli where the operation needs a positive or odd
/// one, negative exponents, non-invertible elements and out-of-range sizes all throw
/// `CryptoError.invalidParameter`; nothing here traps on values a peer can choose.
public final class BigNum: @unchecked Sendable {
    /// The owned BIGNUM; never mutated after `init` returns.
    let bn: OpaquePointer
    /// Whether the value is secret (constant-time flag set, redacted when printed).
    public let isSecret: Bool

    /// Takes ownership of `bn`.
    init(owning bn: OpaquePointer, secret: Bool) {
        self.bn = bn
        self.isSecret = secret
        if secret { BN_set_flags(bn, BN_FLG_CONSTTIME) }
    }

    deinit { BN_clear_free(bn) }

    // MARK: Creation

    /// The non-negative integer with big-endian magnitude `bytes` (leading zeros allowed; empty
    /// means zero). The caller's bytes are left as they are: `secureZero` them if they are secret.
    public convenience init(bytes: some Collection<UInt8>, secret: Bool = false) {
        let array = Array(bytes)
        precondition(array.count <= Int(Int32.max), "BigNum: input larger than 2 GiB")
        let bn = newBIGNUM()
        let ok = withNonNilBytes(array) { pointer, count in
            BN_bin2bn(pointer.assumingMemoryBound(to: UInt8.self), Int32(count), bn) != nil
        }
        guard ok else { fatalError("BN_bin2bn: \(opensslError("BN_bin2bn"))") }
        self.init(owning: bn, secret: secret)
    }

    public convenience init(_ value: UInt64, secret: Bool = false) {
        // Through bytes: BN_ULONG's width is a platform macro Swift cannot see.
        self.init(bytes: (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(7 - $0))) }, secret: secret)
    }

    public convenience init(_ value: Int, secret: Bool = false) {
        let magnitude = BigNum(UInt64(value.magnitude))
        let bn = magnitude.duplicateBIGNUM()
        BN_set_negative(bn, value < 0 ? 1 : 0)
        self.init(owning: bn, secret: secret)
    }

    /// Hexadecimal digits (either case, optional leading `-`, optional `0x`). Throws on anything
    /// else, including an empty string.
    public convenience init(hex: String, secret: Bool = false) throws {
        var digits = Substring(hex)
        var negative = false
        if digits.hasPrefix("-") {
            negative = true
            digits = digits.dropFirst()
        }
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
        guard !digits.isEmpty else { throw CryptoError.invalidParameter("empty hex integer") }
        var nibbles: [UInt8] = []
        nibbles.reserveCapacity(digits.utf8.count + 1)
        for c in digits.utf8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibbles.append(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibbles.append(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibbles.append(c - UInt8(ascii: "A") + 10)
            default: throw CryptoError.invalidParameter("bad hex digit in integer")
            }
        }
        if nibbles.count % 2 == 1 { nibbles.insert(0, at: 0) }
        var raw = stride(from: 0, to: nibbles.count, by: 2).map { nibbles[$0] << 4 | nibbles[$0 + 1] }
        defer {
            if secret {
                secureZero(&raw)
                secureZero(&nibbles)
            }
        }
        let magnitude = BigNum(bytes: raw, secret: secret)
        if negative {
            self.init(owning: magnitude.negated().duplicateBIGNUM(), secret: secret)
        } else {
            self.init(owning: magnitude.duplicateBIGNUM(), secret: secret)
        }
    }

    /// 2^k.
    public static func powerOfTwo(_ k: Int) throws -> BigNum {
        guard (0...maxBits).contains(k) else { throw CryptoError.invalidParameter("power of two out of range") }
        let bn = newBIGNUM()
        guard BN_set_bit(bn, Int32(k)) == 1 else {
            BN_free(bn)
            throw opensslError("BN_set_bit")
        }
        return BigNum(owning: bn, secret: false)
    }

    public static let zero = BigNum(0 as UInt64)
    public static let one = BigNum(1 as UInt64)

    /// The largest bit length accepted where a size is a parameter (random draws, primes, shifts).
    public static let maxBits = 1 << 16

    /// A copy of this value with the given secrecy: `declassified()` is the explicit step that
    /// turns a result computed from secrets (a ciphertext, a commitment) into a public value.
    public func withSecrecy(_ secret: Bool) -> BigNum {
        BigNum(owning: duplicateBIGNUM(), secret: secret)
    }

    public func declassified() -> BigNum { isSecret ? withSecrecy(false) : self }

    func duplicateBIGNUM() -> OpaquePointer {
        // BN_copy does not copy BN_FLG_CONSTTIME: the new owner decides the flags.
        let copy = newBIGNUM()
        guard BN_copy(copy, bn) != nil else { fatalError("BN_copy: out of memory") }
        return copy
    }

    // MARK: Inspection

    public var isZero: Bool { BN_is_zero(bn) == 1 }
    public var isOne: Bool { BN_is_one(bn) == 1 }
    public var isOdd: Bool { BN_is_odd(bn) == 1 }
    public var isNegative: Bool { BN_is_negative(bn) == 1 }
    /// −1, 0 or 1.
    public var signum: Int { isZero ? 0 : (isNegative ? -1 : 1) }
    /// Bits in the magnitude (0 for zero). Not constant time.
    public var bitLength: Int { Int(BN_num_bits(bn)) }
    public var byteLength: Int { Int(vn_BN_num_bytes(bn)) }

    /// Whether bit `i` of the magnitude is set.
    public func isBitSet(_ i: Int) -> Bool {
        guard i >= 0, i <= Int(Int32.max) else { return false }
        return BN_is_bit_set(bn, Int32(i)) == 1
    }

    /// The value as a `UInt64` when it is non-negative and fits.
    public var uint64Value: UInt64? {
        guard !isNegative, bitLength <= 64 else { return nil }
        let bytes = magnitudeBytes()
        return bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Big-endian magnitude without leading zeros (empty for zero). The sign is dropped; see
    /// `isNegative`.
    public func magnitudeBytes() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: byteLength)
        if !out.isEmpty {
            out.withUnsafeMutableBufferPointer { _ = BN_bn2bin(bn, $0.baseAddress) }
        }
        return out
    }

    /// Big-endian, left-padded with zeros to exactly `width` bytes. Throws for negative values and
    /// values that do not fit.
    public func bytes(paddedTo width: Int) throws -> [UInt8] {
        guard !isNegative else { throw CryptoError.invalidParameter("negative integer has no unsigned encoding") }
        guard width >= byteLength, width <= Int(Int32.max) else {
            throw CryptoError.invalidParameter("integer does not fit in \(width) bytes")
        }
        var out = [UInt8](repeating: 0, count: width)
        let written = out.withUnsafeMutableBufferPointer { BN_bn2binpad(bn, $0.baseAddress, Int32(width)) }
        guard written == Int32(width) else { throw opensslError("BN_bn2binpad") }
        return out
    }

    /// Lower-case hex of the magnitude with a `-` for negative values ("0" for zero). Secrets
    /// are printed too: this is an explicit export.
    public func hexString() -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = isNegative ? [UInt8(ascii: "-")] : []
        let bytes = magnitudeBytes()
        if bytes.isEmpty { return "0" }
        for (i, b) in bytes.enumerated() {
            if i > 0 || b >> 4 != 0 { out.append(digits[Int(b >> 4)]) }
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Arithmetic (never fails for valid values)

    public static func + (a: BigNum, b: BigNum) -> BigNum {
        infallible(secret: a.isSecret || b.isSecret) { r, _ in BN_add(r, a.bn, b.bn) }
    }

    public static func - (a: BigNum, b: BigNum) -> BigNum {
        infallible(secret: a.isSecret || b.isSecret) { r, _ in BN_sub(r, a.bn, b.bn) }
    }

    public static func * (a: BigNum, b: BigNum) -> BigNum {
        infallible(secret: a.isSecret || b.isSecret) { r, ctx in BN_mul(r, a.bn, b.bn, ctx) }
    }

    public static prefix func - (a: BigNum) -> BigNum { a.negated() }

    public func negated() -> BigNum {
        let copy = duplicateBIGNUM()
        BN_set_negative(copy, isNegative || isZero ? 0 : 1)
        return BigNum(owning: copy, secret: isSecret)
    }

    /// |self|.
    public var magnitude: BigNum { isNegative ? negated() : self }

    public func shiftedLeft(by bits: Int) throws -> BigNum {
        guard (0...Self.maxBits).contains(bits) else { throw CryptoError.invalidParameter("shift out of range") }
        return try BigNum.make(secret: isSecret, "BN_lshift") { r, _ in BN_lshift(r, bn, Int32(bits)) }
    }

    /// Shifts the magnitude right (the sign is kept).
    public func shiftedRight(by bits: Int) throws -> BigNum {
        guard (0...Self.maxBits).contains(bits) else { throw CryptoError.invalidParameter("shift out of range") }
        return try BigNum.make(secret: isSecret, "BN_rshift") { r, _ in BN_rshift(r, bn, Int32(bits)) }
    }

    /// Truncating division: self = q·d + r with |r| < |d| and r having the sign of self.
    public func quotientAndRemainder(dividingBy d: BigNum) throws -> (quotient: BigNum, remainder: BigNum) {
        guard !d.isZero else { throw CryptoError.invalidParameter("division by zero") }
        let secret = isSecret || d.isSecret
        let q = newBIGNUM()
        let r = newBIGNUM()
        let ok = withBNContext(secure: secret) { ctx in BN_div(q, r, bn, d.bn, ctx) }
        guard ok == 1 else {
            BN_clear_free(q)
            BN_clear_free(r)
            throw opensslError("BN_div")
        }
        return (BigNum(owning: q, secret: secret), BigNum(owning: r, secret: secret))
    }

    // MARK: Modular arithmetic (results in [0, m))

    /// self mod m in [0, m). `m` must be positive.
    public func mod(_ m: BigNum) throws -> BigNum {
        try requirePositive(m)
        return try BigNum.make(secret: isSecret || m.isSecret, "BN_nnmod") { r, ctx in BN_nnmod(r, bn, m.bn, ctx) }
    }

    public func modAdd(_ b: BigNum, _ m: BigNum) throws -> BigNum {
        try requirePositive(m)
        return try BigNum.make(secret: isSecret || b.isSecret || m.isSecret, "BN_mod_add") { r, ctx in
            BN_mod_add(r, bn, b.bn, m.bn, ctx)
        }
    }

    public func modSub(_ b: BigNum, _ m: BigNum) throws -> BigNum {
        try requirePositive(m)
        return try BigNum.make(secret: isSecret || b.isSecret || m.isSecret, "BN_mod_sub") { r, ctx in
            BN_mod_sub(r, bn, b.bn, m.bn, ctx)
        }
    }

    public func modMul(_ b: BigNum, _ m: BigNum) throws -> BigNum {
        try requirePositive(m)
        return try BigNum.make(secret: isSecret || b.isSecret || m.isSecret, "BN_mod_mul") { r, ctx in
            BN_mod_mul(r, bn, b.bn, m.bn, ctx)
        }
    }

    /// self⁻¹ mod m. Throws when m < 2 or gcd(self, m) ≠ 1.
    ///
    /// Public operands: GMP's variable-time inverse (`PublicGCD`). A secret value under a public
    /// modulus is blinded first: x⁻¹ = u · (x·u)⁻¹ for a fresh uniform u ∈ [0, m), so GMP sees only
    /// x·u, which for a unit x is uniform and independent of x; should x·u not be invertible (x or
    /// u shares a factor with m) the decision is taken again by the constant-time path. A secret
    /// modulus (p², a prime) takes OpenSSL's branch-free inversion.
    public func modInverse(_ m: BigNum) throws -> BigNum {
        try requirePositive(m)
        guard !m.isOne else { throw CryptoError.invalidParameter("inverse modulo 1") }
        if !m.isSecret {
            if !isSecret {
                guard let inverse = PublicGCD.inverse(self, m) else {
                    throw CryptoError.invalidParameter("element is not invertible modulo m")
                }
                return inverse
            }
            if let (u, blinded) = blinded(modulo: m), let inverse = PublicGCD.inverse(blinded, m) {
                return try u.modMul(inverse, m)
            }
        }
        return try constantTimeInverse(m)
    }

    /// (u, self·u mod m) for a fresh uniform secret u ∈ [0, m): for a unit self, self·u is uniform
    /// and independent of self, so it may go to variable-time code (`PublicGCD`). Nil only when
    /// the system DRBG fails (callers then take the constant-time path).
    func blinded(modulo m: BigNum) -> (u: BigNum, product: BigNum)? {
        guard let u = try? BigNum.random(below: m, secret: true), let product = try? modMul(u, m) else { return nil }
        return (u, product.declassified())
    }

    /// self⁻¹ mod m by OpenSSL (branch-free when self or m is secret).
    func constantTimeInverse(_ m: BigNum) throws -> BigNum {
        let secret = isSecret || m.isSecret
        let r = newBIGNUM()
        let result = withBNContext(secure: secret) { ctx in BN_mod_inverse(r, bn, m.bn, ctx) }
        guard result != nil else {
            BN_clear_free(r)
            ERR_clear_error()
            throw CryptoError.invalidParameter("element is not invertible modulo m")
        }
        return BigNum(owning: r, secret: secret)
    }

    /// self^e mod m for a public, non-negative exponent. Odd moduli use Montgomery
    /// multiplication; when any operand is secret OpenSSL switches to its constant-time ladder
    /// (which needs an odd modulus: an even one then throws). For repeated use of one modulus,
    /// `MontgomeryContext.exp` saves the per-call setup.
    public func modExp(_ e: BigNum, _ m: BigNum) throws -> BigNum {
        try requirePositive(m)
        try requireNonNegativeExponent(e)
        return try BigNum.make(secret: isSecret || e.isSecret || m.isSecret, "BN_mod_exp") { r, ctx in
            BN_mod_exp(r, bn, e.bn, m.bn, ctx)
        }
    }

    /// self^e mod m where e may be negative (self^e = (self⁻¹)^|e|; throws when self is not
    /// invertible). For the s^x·t^y terms of range proofs with signed responses.
    public func modExpSigned(_ e: BigNum, _ m: BigNum) throws -> BigNum {
        if e.isNegative { return try modInverse(m).modExp(e.negated(), m) }
        return try modExp(e, m)
    }

    /// self^e mod m by BN_mod_exp_mont_consttime (fixed window, cache-timing resistant), for secret
    /// exponents or bases. `m` must be odd and greater than 1.
    public func modExpConstantTime(_ e: BigNum, _ m: BigNum) throws -> BigNum {
        try MontgomeryContext(modulus: m).expConstantTime(self, e)
    }

    // MARK: Number theory

    /// gcd(self, b) ≥ 0 (gcd(0, 0) = 0).
    public func gcd(_ b: BigNum) -> BigNum {
        BigNum.infallible(secret: isSecret || b.isSecret) { r, ctx in BN_gcd(r, bn, b.bn, ctx) }
    }

    /// gcd(self, m) = 1. Every encryption checks its randomness and every proof check its
    /// received elements this way, so it is fast: public operands go to GMP's gcd (`PublicGCD`,
    /// variable time); a secret self under a public modulus is blinded by a fresh uniform u first
    /// (gcd(x·u mod m, m) = 1 exactly when both x and u are units, and x·u reveals nothing of a
    /// unit x), a result other than 1 being decided again by the constant-time path; a secret
    /// modulus takes OpenSSL's branch-free inversion (`BN_mod_inverse` under the constant-time
    /// flag; OpenSSL 3's constant-time `BN_gcd` is slower still).
    public func isCoprime(to m: BigNum) -> Bool {
        let modulus = m.magnitude
        if modulus.isZero { return magnitude.isOne }
        if modulus.isOne { return true }
        if !modulus.isSecret {
            if !isSecret { return PublicGCD.isCoprime(self, modulus) }
            if let (_, blinded) = blinded(modulo: modulus), PublicGCD.isCoprime(blinded, modulus) { return true }
        }
        return (try? constantTimeInverse(modulus)) != nil
    }

    /// The Jacobi symbol (self / n) ∈ {−1, 0, 1} for odd n > 0 (throws otherwise). Binary
    /// algorithm (Cohen, "A Course in Computational Algebraic Number Theory", Alg. 1.4.10): strip
    /// factors of two using (2/n) = (−1)^((n²−1)/8), then flip by quadratic reciprocity. Not
    /// constant time: for public values (the Π^mod checks).
    public func jacobi(_ n: BigNum) throws -> Int {
        guard !n.isNegative, !n.isZero, n.isOdd else {
            throw CryptoError.invalidParameter("Jacobi symbol needs an odd positive modulus")
        }
        let a = newBIGNUM()
        let b = newBIGNUM()
        defer {
            BN_clear_free(a)
            BN_clear_free(b)
        }
        return try withBNContext(secure: isSecret || n.isSecret) { ctx in
            guard BN_nnmod(a, bn, n.bn, ctx) == 1, BN_copy(b, n.bn) != nil else { throw opensslError("jacobi") }
            var t = 1
            var x = a
            var y = b
            while BN_is_zero(x) != 1 {
                var shift: Int32 = 0
                while BN_is_bit_set(x, shift) == 0 { shift += 1 }
                guard BN_rshift(x, x, shift) == 1 else { throw opensslError("BN_rshift") }
                let yMod8 = (BN_is_bit_set(y, 2) << 2) | (BN_is_bit_set(y, 1) << 1) | BN_is_bit_set(y, 0)
                if shift % 2 == 1 && (yMod8 == 3 || yMod8 == 5) { t = -t }
                // Reciprocity: both ≡ 3 (mod 4) flips the sign.
                if BN_is_bit_set(x, 1) == 1 && BN_is_bit_set(y, 1) == 1 { t = -t }
                swap(&x, &y)
                guard BN_nnmod(x, x, y, ctx) == 1 else { throw opensslError("BN_nnmod") }
            }
            return BN_is_one(y) == 1 ? t : 0
        }
    }

    /// Probable primality by BN_check_prime (Miller–Rabin with 64 rounds below 2048 bits and 128
    /// from there, error probability ≤ 2^-128). Values below 2 and negative values are not prime.
    public var isProbablePrime: Bool {
        guard !isNegative, bitLength <= Self.maxBits else { return false }
        let result = withBNContext(secure: isSecret) { ctx in BN_check_prime(bn, ctx, nil) }
        if result < 0 { ERR_clear_error() }
        return result == 1
    }

    /// p and (p − 1)/2 both prime.
    public var isSafePrime: Bool {
        guard isProbablePrime, isOdd, bitLength > 2, let half = try? shiftedRight(by: 1) else { return false }
        return half.isProbablePrime
    }

    /// A random prime of exactly `bits` bits (top two bits set, so a product of two has exactly
    /// 2·bits bits) from BN_generate_prime_ex2 and OpenSSL's DRBG (not a passed-in source: key
    /// material always comes from the system generator). `safe`: p = 2p' + 1 with p' prime
    /// (1024 bits: about 1 s on average here, with a tail of several seconds). The result is
    /// secret.
    public static func generatePrime(bits: Int, safe: Bool) throws -> BigNum {
        guard (16...maxBits).contains(bits) else { throw CryptoError.invalidParameter("prime size out of range") }
        ERR_clear_error()
        let r = newBIGNUM()
        let ok = withBNContext(secure: true) { ctx in
            BN_generate_prime_ex2(r, Int32(bits), safe ? 1 : 0, nil, nil, nil, ctx)
        }
        guard ok == 1 else {
            BN_clear_free(r)
            throw opensslError("BN_generate_prime_ex2")
        }
        return BigNum(owning: r, secret: true)
    }

    // MARK: Randomness

    /// Uniform in [0, bound) by rejection sampling on `bound.bitLength` random bits (fewer than two
    /// draws expected). `bound` must be positive. Secret by default.
    public static func random<R: RandomSource>(
        below bound: BigNum, using rng: inout R, secret: Bool = true
    ) throws
        -> BigNum
    {
        try requirePositive(bound)
        let bits = bound.bitLength
        guard bits <= maxBits else { throw CryptoError.invalidParameter("random bound too large") }
        while true {
            let candidate = try random(bits: bits, using: &rng, secret: secret)
            if BN_cmp(candidate.bn, bound.bn) < 0 { return candidate }
        }
    }

    /// Uniform in [−bound, bound] (the ±2^ℓ ranges of CGGMP21's proofs), bound ≥ 0. Secret by
    /// default.
    public static func random<R: RandomSource>(
        inSymmetricRange bound: BigNum, using rng: inout R, secret: Bool = true
    )
        throws -> BigNum
    {
        guard !bound.isNegative, bound.bitLength < maxBits else {
            throw CryptoError.invalidParameter("symmetric range bound must be non-negative")
        }
        let width = bound + bound + .one
        return try random(below: width, using: &rng, secret: secret) - bound.withSecrecy(secret)
    }

    /// Uniform in [0, bound) from the system DRBG.
    public static func random(below bound: BigNum, secret: Bool = true) throws -> BigNum {
        var rng = SecureRandomNumberGenerator()
        return try random(below: bound, using: &rng, secret: secret)
    }

    /// Uniform in [0, 2^bits). Secret by default.
    public static func random<R: RandomSource>(bits: Int, using rng: inout R, secret: Bool = true) throws -> BigNum {
        guard (0...maxBits).contains(bits) else { throw CryptoError.invalidParameter("random size out of range") }
        var raw = rng.bytes((bits + 7) / 8)
        defer { secureZero(&raw) }
        if bits % 8 != 0 { raw[0] &= UInt8((1 << (bits % 8)) - 1) }
        return BigNum(bytes: raw, secret: secret)
    }

    /// Uniform in [0, 2^bits) from the system DRBG.
    public static func random(bits: Int, secret: Bool = true) throws -> BigNum {
        var rng = SecureRandomNumberGenerator()
        return try random(bits: bits, using: &rng, secret: secret)
    }

    // MARK: Helpers

    /// Runs one OpenSSL operation into a fresh BIGNUM; a 0 return becomes a thrown error.
    static func make(secret: Bool, _ call: String, _ body: (OpaquePointer, OpaquePointer) -> Int32) throws -> BigNum {
        let r = newBIGNUM()
        let ok = withBNContext(secure: secret) { ctx in body(r, ctx) }
        guard ok == 1 else {
            BN_clear_free(r)
            throw opensslError(call)
        }
        return BigNum(owning: r, secret: secret)
    }

    /// For operations that fail only when memory runs out.
    static func infallible(secret: Bool, _ body: (OpaquePointer, OpaquePointer) -> Int32) -> BigNum {
        let r = newBIGNUM()
        let ok = withBNContext(secure: secret) { ctx in body(r, ctx) }
        guard ok == 1 else { fatalError("BIGNUM arithmetic failed: \(opensslError("BN"))") }
        return BigNum(owning: r, secret: secret)
    }
}

// MARK: Comparison (not constant time)

extension BigNum: Comparable, Hashable {
    public static func == (a: BigNum, b: BigNum) -> Bool { BN_cmp(a.bn, b.bn) == 0 }
    public static func < (a: BigNum, b: BigNum) -> Bool { BN_cmp(a.bn, b.bn) < 0 }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(isNegative)
        hasher.combine(magnitudeBytes())
    }
}

extension BigNum: ExpressibleByIntegerLiteral {
    public convenience init(integerLiteral value: Int) { self.init(value) }
}

extension BigNum: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `0x…` hex for public values, `<redacted>` for secrets.
    public var description: String {
        guard !isSecret else { return "<redacted>" }
        let hex = hexString()
        return hex.hasPrefix("-") ? "-0x" + hex.dropFirst() : "0x" + hex
    }
    public var debugDescription: String { "BigNum(\(description))" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// A cached Montgomery context (BN_MONT_CTX) for one odd modulus m > 1: exponentiations with the
/// same modulus (Paillier N², p², q², ring-Pedersen Ñ) skip the per-call setup. Immutable after
/// creation, so it may be shared between threads (OpenSSL only reads it during exponentiation).
/// A secret modulus (p², q²) makes the setup itself constant time and the context is wiped when
/// freed (BN_MONT_CTX_free clears its numbers).
public final class MontgomeryContext: @unchecked Sendable {
    let mont: OpaquePointer
    public let modulus: BigNum

    public init(modulus: BigNum) throws {
        guard !modulus.isNegative, modulus.isOdd, !modulus.isOne else {
            throw CryptoError.invalidParameter("Montgomery modulus must be odd and greater than 1")
        }
        guard modulus.bitLength <= BigNum.maxBits else { throw CryptoError.invalidParameter("modulus too large") }
        guard let mont = BN_MONT_CTX_new() else { fatalError("BN_MONT_CTX_new: out of memory") }
        let ok = withBNContext(secure: modulus.isSecret) { ctx in BN_MONT_CTX_set(mont, modulus.bn, ctx) }
        guard ok == 1 else {
            BN_MONT_CTX_free(mont)
            throw opensslError("BN_MONT_CTX_set")
        }
        self.mont = mont
        self.modulus = modulus
    }

    deinit { BN_MONT_CTX_free(mont) }

    /// base^e mod m for a public, non-negative exponent (sliding window; OpenSSL moves to the
    /// constant-time ladder by itself when base, exponent or modulus is secret).
    public func exp(_ base: BigNum, _ e: BigNum) throws -> BigNum {
        try requireNonNegativeExponent(e)
        let secret = base.isSecret || e.isSecret || modulus.isSecret
        return try BigNum.make(secret: secret, "BN_mod_exp_mont") { r, ctx in
            BN_mod_exp_mont(r, base.bn, e.bn, modulus.bn, ctx, mont)
        }
    }

    /// base^e mod m where e may be negative (via base⁻¹).
    public func expSigned(_ base: BigNum, _ e: BigNum) throws -> BigNum {
        if e.isNegative { return try exp(base.modInverse(modulus), e.negated()) }
        return try exp(base, e)
    }

    /// base^e mod m by BN_mod_exp_mont_consttime, for secret exponents (or bases). The result is
    /// secret.
    public func expConstantTime(_ base: BigNum, _ e: BigNum) throws -> BigNum {
        try requireNonNegativeExponent(e)
        // The constant-time ladder expects 0 ≤ base < m.
        let reduced = base.isNegative || base >= modulus ? try base.mod(modulus) : base
        return try BigNum.make(secret: true, "BN_mod_exp_mont_consttime") { r, ctx in
            BN_mod_exp_mont_consttime(r, reduced.bn, e.bn, modulus.bn, ctx, mont)
        }
    }

    /// a·b mod m.
    public func mul(_ a: BigNum, _ b: BigNum) throws -> BigNum { try a.modMul(b, modulus) }
}

// MARK: File-private helpers

private func newBIGNUM() -> OpaquePointer {
    guard let bn = BN_new() else { fatalError("BN_new: out of memory") }
    return bn
}

/// One BN_CTX for the duration of `body` (secure: its scratch numbers are wiped when freed).
private func withBNContext<R>(secure: Bool, _ body: (OpaquePointer) throws -> R) rethrows -> R {
    guard let ctx = secure ? BN_CTX_secure_new() : BN_CTX_new() else { fatalError("BN_CTX_new: out of memory") }
    defer { BN_CTX_free(ctx) }
    return try body(ctx)
}

private func requirePositive(_ m: BigNum) throws {
    guard !m.isNegative, !m.isZero else { throw CryptoError.invalidParameter("modulus must be positive") }
}

private func requireNonNegativeExponent(_ e: BigNum) throws {
    guard !e.isNegative else { throw CryptoError.invalidParameter("exponent must not be negative") }
}
