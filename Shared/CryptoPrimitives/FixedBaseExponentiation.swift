import COpenSSL

/// base^e mod m for many **public** exponents with one base, by Yao's fixed-base windowing
/// (Menezes–van Oorschot–Vanstone, Handbook of Applied Cryptography, Alg. 14.109; Brickell,
/// Gordon, McCurley and Wilson 1992): with the precomputed g_j = base^(2^(w·j)) (Montgomery form)
/// and e = Σ e_j·2^(w·j), base^e = Π_{d=1}^{2^w−1} (Π_{e_j = d} g_j)^d, evaluated as
/// A = B = 1; for d = 2^w−1 … 1 { B ← B·Π_{e_j = d} g_j; A ← A·B }. That is about
/// ⌈bits/w⌉ + 2^(w+1) multiplications per exponent instead of ~bits squarings — for 2048-bit
/// exponents and w = 5, ~475 instead of ~2,450.
///
/// Variable time in the exponent (the digits choose which table entries are multiplied): only
/// for verifying proofs, where every exponent is public. Secret exponents go through
/// `MontgomeryContext.expConstantTime`.
public final class FixedBaseExponentiation: @unchecked Sendable {
    public let context: MontgomeryContext
    public let maxExponentBits: Int
    let window: Int
    /// g_j in Montgomery form, j = 0 ..< ⌈maxExponentBits / window⌉.
    private let table: [OpaquePointer]
    private let oneMont: OpaquePointer

    /// Precomputes the table for `base` (reduced mod m) and exponents of up to `maxExponentBits`.
    public init(base: BigNum, context: MontgomeryContext, maxExponentBits: Int, window: Int = 5) throws {
        guard !base.isSecret, !context.modulus.isSecret else {
            throw CryptoError.invalidParameter("fixed-base tables are for public values only")
        }
        guard (1...8).contains(window), maxExponentBits > 0, maxExponentBits <= BigNum.maxBits else {
            throw CryptoError.invalidParameter("fixed-base window or exponent size out of range")
        }
        self.context = context
        self.maxExponentBits = maxExponentBits
        self.window = window
        let reduced = base.isNegative || base >= context.modulus ? try base.mod(context.modulus) : base
        let count = (maxExponentBits + window - 1) / window
        var entries: [OpaquePointer] = []
        entries.reserveCapacity(count)
        guard let ctx = BN_CTX_new() else { fatalError("BN_CTX_new: out of memory") }
        defer { BN_CTX_free(ctx) }
        guard let one = BN_new(), BN_set_word(one, 1) == 1, BN_to_montgomery(one, one, context.mont, ctx) == 1 else {
            fatalError("BN_to_montgomery failed")
        }
        oneMont = one
        guard let first = BN_new(), BN_to_montgomery(first, reduced.bn, context.mont, ctx) == 1 else {
            fatalError("BN_to_montgomery failed")
        }
        entries.append(first)
        for _ in 1..<max(1, count) {
            guard let next = BN_dup(entries[entries.count - 1]) else { fatalError("BN_dup: out of memory") }
            for _ in 0..<window {
                guard BN_mod_mul_montgomery(next, next, next, context.mont, ctx) == 1 else {
                    fatalError("BN_mod_mul_montgomery failed")
                }
            }
            entries.append(next)
        }
        table = entries
    }

    deinit {
        for entry in table { BN_free(entry) }
        BN_free(oneMont)
    }

    /// base^e mod m for a public 0 ≤ e < 2^maxExponentBits.
    public func power(_ e: BigNum) throws -> BigNum {
        guard !e.isNegative, !e.isSecret, e.bitLength <= maxExponentBits else {
            throw CryptoError.invalidParameter("exponent negative, secret or longer than the table")
        }
        // The w-bit digits of e, least significant first.
        var digits = [Int](repeating: 0, count: table.count)
        for j in 0..<table.count {
            var d = 0
            for b in stride(from: window - 1, through: 0, by: -1) {
                d = d << 1 | (e.isBitSet(j * window + b) ? 1 : 0)
            }
            digits[j] = d
        }
        guard let ctx = BN_CTX_new(), let a = BN_dup(oneMont), let b = BN_dup(oneMont) else {
            fatalError("BN: out of memory")
        }
        defer {
            BN_CTX_free(ctx)
            BN_free(b)
        }
        let mont = context.mont
        var used = false
        for d in stride(from: (1 << window) - 1, through: 1, by: -1) {
            for (j, digit) in digits.enumerated() where digit == d {
                guard BN_mod_mul_montgomery(b, b, table[j], mont, ctx) == 1 else { fatalError("BN_mod_mul_montgomery") }
                used = true
            }
            // A ← A·B once B holds something (until then both are 1).
            if used {
                guard BN_mod_mul_montgomery(a, a, b, mont, ctx) == 1 else { fatalError("BN_mod_mul_montgomery") }
            }
        }
        guard BN_from_montgomery(a, a, mont, ctx) == 1 else { fatalError("BN_from_montgomery failed") }
        return BigNum(owning: a, secret: false)
    }
}
