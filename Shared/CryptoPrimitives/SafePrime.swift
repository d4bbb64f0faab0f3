import COpenSSL

/// Safe-prime generation with a combined sieve (M. Wiener, "Safe Prime Generation with a Combined
/// Sieve", 2003): candidates q = q₀ + 2k are sieved at once against q ≡ 0 and 2q + 1 ≡ 0 modulo
/// every odd prime below `sieveBound`, so only pairs with no small factor on either side reach a
/// modular exponentiation. The survivors go through
///
///   1. a Fermat test of p = 2q + 1 to base 2 (one exponentiation: most survivors stop here),
///   2. a Fermat test of q to base 2,
///   3. OpenSSL's Miller–Rabin (`BN_check_prime`) on q and then on p.
///
/// Given q prime, step 1 already proves p prime (Pocklington with a = 2: p − 1 = 2q, q > √p and
/// gcd(2² − 1, p) = 1 since 3 was sieved); step 3 re-checks both anyway.
///
/// OpenSSL's `BN_generate_prime_ex2(safe: 1)` sieves with 2048 primes and runs Miller–Rabin
/// rounds on q before it looks at p; at 1024 bits it takes ≈ 1.6 s on average here with a long
/// tail. This one is several times faster (see `make bench-tss`, `tss.preparams`).
///
/// Timing: like OpenSSL's generator this is variable time in the candidates it rejects, which are
/// random numbers unrelated to the prime it returns; the returned prime is marked secret.
enum SafePrimeSieve {
    /// Odd primes below 2^18 (23,000 of them): the sieve removes ≈ 96% more candidates than a
    /// bound of 2^11, at ≈ 1 ms per window to compute the residues of q₀.
    static let sieveBound = 1 << 18
    /// Candidates k = 0 ..< window per random q₀. Each window holds a safe prime with probability
    /// ≈ 1/3 at 1024 bits; a fresh q₀ is drawn when it does not.
    static let window = 1 << 16

    static let smallPrimes: [UInt32] = {
        var composite = [Bool](repeating: false, count: sieveBound)
        var primes: [UInt32] = []
        var i = 3
        while i < sieveBound {
            if !composite[i] {
                primes.append(UInt32(i))
                var j = i * i
                while j < sieveBound {
                    composite[j] = true
                    j += 2 * i
                }
            }
            i += 2
        }
        return primes
    }()
}

extension BigNum {
    /// A safe prime p = 2q + 1 (q prime) of exactly `bits` bits with its top two bits set, so a
    /// product of two has exactly 2·bits bits; p ≡ 3 (mod 4) (a Blum prime) follows from q odd.
    /// Randomness from `rng` (production: `SecureRandomNumberGenerator`). The result is secret.
    public static func generateSafePrime<R: RandomSource>(bits: Int, using rng: inout R) throws -> BigNum {
        guard (64...maxBits).contains(bits) else { throw CryptoError.invalidParameter("safe prime size out of range") }
        let primes = SafePrimeSieve.smallPrimes
        let window = SafePrimeSieve.window
        var residues = [UInt32](repeating: 0, count: primes.count)
        var sieve = [Bool](repeating: false, count: window)
        // The residues of q₀ determine q₀ (CRT over 23,000 primes), and the sieve locates k: wipe
        // both, as the random bytes are.
        defer {
            residues.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
            sieve.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
        }
        while true {
            // q₀: bits − 1 bits, top two set (so p = 2q + 1 has its top two set), odd.
            var raw = rng.bytes((bits - 1 + 7) / 8)
            defer { secureZero(&raw) }
            let excess = raw.count * 8 - (bits - 1)
            raw[0] &= UInt8(0xFF >> excess)
            // Bits bits−2 and bits−3 (counted from 0 at the least significant end) may fall in
            // different bytes: set each where it lies.
            for bit in [bits - 2, bits - 3] { raw[raw.count - 1 - bit / 8] |= UInt8(1 << (bit % 8)) }
            raw[raw.count - 1] |= 1
            // Public while it is a candidate: OpenSSL's word-base exponentiation refuses constant-time
            // operands, and rejected candidates say nothing about the prime returned.
            let q0 = BigNum(bytes: raw, secret: false)

            // Residues of q₀ (BN_mod_word: one pass over the limbs per prime).
            for (i, s) in primes.enumerated() {
                let r = BN_mod_word(q0.bn, UInt(s))  // BN_ULONG is unsigned long (64-bit Linux)
                guard r != UInt.max else { throw opensslError("BN_mod_word") }
                residues[i] = UInt32(r)
            }
            // Mark k with s | q₀ + 2k or s | 2(q₀ + 2k) + 1 = 2q₀ + 1 + 4k.
            for i in sieve.indices { sieve[i] = false }
            for (i, s32) in primes.enumerated() {
                let s = Int(s32)
                let r = Int(residues[i])
                // k ≡ −r · 2⁻¹ and k ≡ −(2r + 1) · 4⁻¹ (mod s); 2⁻¹ = (s + 1)/2, 4⁻¹ = 2⁻¹·2⁻¹.
                let inv2 = (s + 1) / 2
                let inv4 = inv2 * inv2 % s
                let k1 = (s - r) % s * inv2 % s
                let k2 = (s - (2 * r + 1) % s) % s * inv4 % s
                var k = k1
                while k < window {
                    sieve[k] = true
                    k += s
                }
                k = k2
                while k < window {
                    sieve[k] = true
                    k += s
                }
            }
            for k in 0..<window where !sieve[k] {
                let q = q0 + BigNum(UInt64(2 * k))
                let p = try q.shiftedLeft(by: 1) + .one
                guard p.bitLength == bits else { break }  // ran past 2^bits: draw again
                guard try fermatBase2(p), try fermatBase2(q) else { continue }
                guard q.isProbablePrime, p.isProbablePrime else { continue }
                return p.withSecrecy(true)
            }
        }
    }

    /// A safe prime from the system DRBG.
    public static func generateSafePrime(bits: Int) throws -> BigNum {
        var rng = SecureRandomNumberGenerator()
        return try generateSafePrime(bits: bits, using: &rng)
    }

    /// 2^(n−1) ≡ 1 (mod n), n odd > 2 (a Fermat probable prime to base 2).
    static func fermatBase2(_ n: BigNum) throws -> Bool {
        let e = n - .one
        let result = try make(secret: false, "BN_mod_exp_mont_word") { r, ctx in
            BN_mod_exp_mont_word(r, 2, e.bn, n.bn, ctx, nil)
        }
        return result.isOne
    }
}
