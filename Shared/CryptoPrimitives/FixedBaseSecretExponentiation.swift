import COpenSSL
import Synchronization

/// base^e mod m for **secret, signed** exponents and one public base, in time that does not
/// depend on the exponent's digits or sign: the fixed-base windowing of Brickell, Gordon, McCurley
/// and Wilson (1992; Handbook of Applied Cryptography §14.6.3) with every digit's entry read by a
/// full, masked scan of its row.
///
/// Table (public: powers of a public base): T[j][v] = base^(v·16^j) in Montgomery form, for rows
/// j = 0 … ⌈(K_max + 1)/4⌉ and digits v = 0 … 15. With e' = Σ e'_j·16^j, base^e' = Π_j T[j][e'_j]:
/// one Montgomery multiplication per 4 exponent bits and no squarings, against one squaring per bit
/// (plus a multiplication per window) on OpenSSL's constant-time ladder — for the 2,300–2,900-bit
/// exponents of ring-Pedersen commitments about four times fewer multiplications.
///
/// Sign. A negative exponent must not take another path (inverting the base first, as the ladder's
/// callers do, tells the sign by timing). With K = |e| rounded up to whole 64-bit words (the same
/// public length the ladder reveals), e' = e + 2^K lies in [0, 2^(K+1)) for either sign and is
/// formed with masks over fixed-width words; then base^e = base^e' · (base^(2^K))⁻¹, the second
/// factor public and cached per K.
///
/// Constant time with respect to e: the digit count depends only on K; each row's 16 entries are
/// all read and combined with masks; the multiplications are OpenSSL's Montgomery routines on
/// fixed-width operands. The selected entry becomes a BIGNUM through `BN_lebin2bn`, which drops
/// leading zero bytes one by one: so that its time does not depend on which entry was selected,
/// every entry is stored with a non-zero top byte (|m| bytes wide) — x itself, or x + m when x's top
/// byte is zero (the same residue; Montgomery multiplication of a < m by b < 2^|m| stays below 2m
/// before its final subtraction, so the product is exact). Memory: 16 · rows · |m| bytes (3 MB for 2,900-bit exponents modulo a
/// 2048-bit m), so tables are kept for long-lived public bases only (a peer's ring-Pedersen s and
/// t, `RingPedersenParameters`).
public final class FixedBaseSecretExponentiation: @unchecked Sendable {
    public let context: MontgomeryContext
    /// Exponents with |e| < 2^maxExponentBits are accepted.
    public let maxExponentBits: Int
    /// 64-bit words per table entry (the modulus width).
    private let words: Int
    /// The modulus's width in bytes: what each entry is read back as.
    private let bytes: Int
    private let rows: Int
    /// rows × 16 entries × `words` limbs, little-endian limbs (the byte order BN_lebin2bn reads on
    /// a little-endian host; checked at init).
    private let table: UnsafeMutableBufferPointer<UInt64>
    private let oneMont: OpaquePointer
    /// (base^(2^K))⁻¹ in Montgomery form, per K.
    private let inverses = Mutex<[Int: BigNum]>([:])

    static let window = 4

    /// Precomputes the table for `base` (public, reduced mod m) and |e| < 2^maxExponentBits.
    public init(base: BigNum, context: MontgomeryContext, maxExponentBits: Int) throws {
        guard !base.isSecret, !context.modulus.isSecret else {
            throw CryptoError.invalidParameter("fixed-base tables are for public bases and moduli only")
        }
        guard maxExponentBits > 0, maxExponentBits <= BigNum.maxBits else {
            throw CryptoError.invalidParameter("fixed-base exponent size out of range")
        }
        guard UInt16(1).littleEndian == 1 else { throw CryptoError.invalidParameter("big-endian host") }
        self.context = context
        self.maxExponentBits = maxExponentBits
        bytes = context.modulus.byteLength
        words = (bytes + 7) / 8
        // K ≤ maxExponentBits rounded up to words; e' has K + 1 bits.
        rows = Self.roundedBits(maxExponentBits) / Self.window + 1
        let entryCount = rows * 16
        table = .allocate(capacity: entryCount * words)
        table.initialize(repeating: 0)

        guard let ctx = BN_CTX_new() else { fatalError("BN_CTX_new: out of memory") }
        defer { BN_CTX_free(ctx) }
        guard let one = BN_new(), BN_set_word(one, 1) == 1, BN_to_montgomery(one, one, context.mont, ctx) == 1 else {
            fatalError("BN_to_montgomery failed")
        }
        oneMont = one
        let reduced = base.isNegative || base >= context.modulus ? try base.mod(context.modulus) : base
        guard let g = BN_new(), let entry = BN_new() else { fatalError("BN_new: out of memory") }
        defer {
            BN_free(g)
            BN_free(entry)
        }
        guard BN_to_montgomery(g, reduced.bn, context.mont, ctx) == 1 else { fatalError("BN_to_montgomery failed") }
        let mont = context.mont
        for j in 0..<rows {
            // T[j][0] = 1, T[j][v] = T[j][v − 1] · g_j with g_j = base^(16^j).
            guard BN_copy(entry, oneMont) != nil else { fatalError("BN_copy failed") }
            store(entry, row: j, digit: 0)
            for v in 1..<16 {
                guard BN_mod_mul_montgomery(entry, entry, g, mont, ctx) == 1 else {
                    fatalError("BN_mod_mul_montgomery")
                }
                store(entry, row: j, digit: v)
            }
            // g_{j+1} = g_j^16.
            for _ in 0..<Self.window {
                guard BN_mod_mul_montgomery(g, g, g, mont, ctx) == 1 else { fatalError("BN_mod_mul_montgomery") }
            }
        }
    }

    deinit {
        table.deallocate()
        BN_free(oneMont)
    }

    /// Bytes the table holds.
    public var tableBytes: Int { table.count * 8 }

    /// Entries stored with a zero top byte (for tests: 0 unless the modulus's top byte is 0xFF).
    var entriesWithZeroTopByte: Int {
        (0..<table.count / words).filter { entry in
            let limb = table[entry * words + (bytes - 1) / 8]
            return (limb >> UInt64(((bytes - 1) % 8) * 8)) & 0xFF == 0
        }.count
    }

    /// Stores `value` (< m, Montgomery form) as T[row][digit], as value + m if value's top byte
    /// (at |m| bytes) is zero and value + m still fits in |m| bytes. That can fail only when m's top
    /// byte is 0xFF (for N = pq of two 1024-bit primes, both within 0.2 % of 2^1024): value is then
    /// kept as it is, and reading it back takes a step more — the one residue of timing left.
    private func store(_ value: OpaquePointer, row: Int, digit: Int) {
        let start = (row * 16 + digit) * words
        let slice = UnsafeMutableBufferPointer(rebasing: table[start..<start + words])
        func write(_ x: OpaquePointer) -> Bool {
            let written = slice.withMemoryRebound(to: UInt8.self) {
                $0.initialize(repeating: 0)
                return BN_bn2lebinpad(x, $0.baseAddress, Int32(bytes))
            }
            return written == Int32(bytes)
        }
        precondition(write(value), "table entry wider than the modulus")
        let topByteIsZero = slice.withMemoryRebound(to: UInt8.self) { $0[bytes - 1] == 0 }
        guard topByteIsZero, let shifted = BN_new() else { return }
        defer { BN_free(shifted) }
        if BN_add(shifted, value, context.modulus.bn) == 1, BN_num_bits(shifted) <= Int32(bytes * 8) {
            precondition(write(shifted), "table entry wider than the modulus")
        }
    }

    /// bits rounded up to whole 64-bit words (at least one word).
    static func roundedBits(_ bits: Int) -> Int { max(64, (bits + 63) / 64 * 64) }

    /// base^e mod m for a signed e with |e| < 2^maxExponentBits; the result is secret.
    public func power(_ e: BigNum) throws -> BigNum {
        let magnitude = e.magnitude.withSecrecy(true)
        let bitsK = Self.roundedBits(magnitude.bitLength)
        guard bitsK <= Self.roundedBits(maxExponentBits), magnitude.bitLength <= maxExponentBits else {
            throw CryptoError.invalidParameter("exponent longer than the table")
        }
        let limbsK = bitsK / 64
        // |e| as K/64 + 1 little-endian words (the top word is zero: |e| < 2^K).
        var m = [UInt64](repeating: 0, count: limbsK + 1)
        let written = m.withUnsafeMutableBytes {
            BN_bn2lebinpad(magnitude.bn, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(limbsK * 8))
        }
        guard written == Int32(limbsK * 8) else { throw CryptoError.invalidParameter("exponent encoding") }
        // e' = 2^K + |e| (e ≥ 0) or 2^K − |e| (e < 0), selected with a mask.
        let negative: UInt64 = e.isNegative ? ~0 : 0
        var ePrime = [UInt64](repeating: 0, count: limbsK + 1)
        var borrow: UInt64 = 1  // two's complement: ~m + 1 over K bits is 2^K − m for 0 < m < 2^K
        for i in 0..<limbsK {
            let (complement, carry) = (~m[i]).addingReportingOverflow(borrow)
            borrow = carry ? 1 : 0
            ePrime[i] = (m[i] & ~negative) | (complement & negative)
        }
        // Top word: 1 for 2^K + |e|; 0 for 2^K − |e| (|e| > 0 when negative).
        ePrime[limbsK] = 1 & ~negative
        defer {
            for i in m.indices { m[i] = 0 }
            for i in ePrime.indices { ePrime[i] = 0 }
        }

        let digitCount = bitsK / Self.window + 1
        guard let ctx = BN_CTX_new(), let acc = BN_dup(oneMont), let selected = BN_new() else {
            fatalError("BN: out of memory")
        }
        BN_set_flags(selected, BN_FLG_CONSTTIME)
        defer {
            BN_CTX_free(ctx)
            BN_clear_free(selected)
        }
        let mont = context.mont
        var buffer = [UInt64](repeating: 0, count: words)
        defer { for i in buffer.indices { buffer[i] = 0 } }
        for j in 0..<digitCount {
            let digit = (ePrime[j / 16] >> UInt64((j % 16) * Self.window)) & 0xF
            select(row: j, digit: digit, into: &buffer)
            let ok = buffer.withUnsafeBytes {
                BN_lebin2bn($0.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(bytes), selected)
            }
            guard ok != nil, BN_mod_mul_montgomery(acc, acc, selected, mont, ctx) == 1 else {
                BN_clear_free(acc)
                fatalError("BN_mod_mul_montgomery failed")
            }
        }
        let correction = try inverse(bitsK)
        guard BN_mod_mul_montgomery(acc, acc, correction.bn, mont, ctx) == 1,
            BN_from_montgomery(acc, acc, mont, ctx) == 1
        else {
            BN_clear_free(acc)
            fatalError("BN_from_montgomery failed")
        }
        return BigNum(owning: acc, secret: true)
    }

    /// T[row][digit] into `out`, reading all 16 entries of the row and keeping one by mask.
    private func select(row: Int, digit: UInt64, into out: inout [UInt64]) {
        let base = row * 16 * words
        let n = words
        out.withUnsafeMutableBufferPointer { o in
            for k in 0..<n { o[k] = 0 }
            for v in 0..<16 {
                // mask = all ones iff v == digit, without a branch or comparison on the digit.
                let x = UInt64(v) ^ digit
                let mask = ((x | (0 &- x)) >> 63) &- 1
                let entry = base + v * n
                for k in 0..<n { o[k] |= table[entry + k] & mask }
            }
        }
    }

    /// (base^(2^K))⁻¹ in Montgomery form; base^(2^K) = T[K/4][1] (K is a multiple of 4).
    private func inverse(_ bitsK: Int) throws -> BigNum {
        if let cached = inverses.withLock({ $0[bitsK] }) { return cached }
        var buffer = [UInt64](repeating: 0, count: words)
        let start = (bitsK / Self.window * 16 + 1) * words
        for k in 0..<words { buffer[k] = table[start + k] }
        guard let ctx = BN_CTX_new(), let x = BN_new() else { fatalError("BN: out of memory") }
        defer { BN_CTX_free(ctx) }
        let ok = buffer.withUnsafeBytes {
            BN_lebin2bn($0.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(bytes), x)
        }
        guard ok != nil, BN_from_montgomery(x, x, context.mont, ctx) == 1 else { fatalError("BN_from_montgomery") }
        // Public values: the ordinary inversion, then back to Montgomery form.
        let inverse = try BigNum(owning: x, secret: false).modInverse(context.modulus)
        guard let y = BN_new(), BN_to_montgomery(y, inverse.bn, context.mont, ctx) == 1 else {
            fatalError("BN_to_montgomery failed")
        }
        let value = BigNum(owning: y, secret: false)
        inverses.withLock { $0[bitsK] = value }
        return value
    }
}
