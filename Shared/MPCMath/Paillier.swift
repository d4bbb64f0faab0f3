import CryptoPrimitives

// Paillier encryption (P. Paillier, "Public-Key Cryptosystems Based on Composite Degree
// Residuosity Classes", EUROCRYPT 1999) with g = 1 + N, as used by GG20 §3 (MtA) and by CGGMP21
// §3 (Definition 3.1: Paillier-Blum modulus N = pq, p ≡ q ≡ 3 mod 4).
//
//   Enc(m; r) = (1 + N)^m · r^N mod N² = (1 + m·N) · r^N mod N²   (binomial theorem: N² | N²·…)
//   Dec(c)    = L(c^λ mod N²) · μ mod N, L(x) = (x − 1)/N           (Paillier 1999, Scheme 1)
//   CRT Dec   = m_p, m_q from L_p(c^(p−1) mod p²)·h_p mod p, …      (Paillier 1999, §7)

/// A Paillier public key: the modulus N (odd, at least `minimumModulusBits` bits) with N² and a
/// cached Montgomery context for N² (every encryption and homomorphic operation uses it).
///
/// `init(n:)` only checks the shape of N. That N is a product of two large primes is established
/// by the zero-knowledge proofs of the keygen (Π^mod, Π^fac), not here.
public struct PaillierPublicKey: Sendable, Hashable, CustomStringConvertible {
    public let n: BigNum
    public let nSquared: BigNum
    let nSquaredContext: MontgomeryContext
    /// (N − 1)/2: the largest magnitude of a signed plaintext.
    let halfN: BigNum

    /// |N| ≥ 2048 bits (CGGMP21 §C, and the BitForge small-modulus fix).
    public static let minimumModulusBits = 2048
    /// Larger moduli are refused, to bound the work a peer can make us do.
    public static let maximumModulusBits = 8192

    public init(n: BigNum) throws {
        guard !n.isNegative, n.isOdd else { throw MPCMathError.invalidKey("Paillier modulus must be odd and positive") }
        guard n.bitLength >= Self.minimumModulusBits else {
            throw MPCMathError.invalidKey("Paillier modulus has fewer than \(Self.minimumModulusBits) bits")
        }
        guard n.bitLength <= Self.maximumModulusBits else {
            throw MPCMathError.invalidKey("Paillier modulus has more than \(Self.maximumModulusBits) bits")
        }
        let n = n.declassified()
        self.n = n
        nSquared = n * n
        nSquaredContext = try MontgomeryContext(modulus: nSquared)
        halfN = try n.shiftedRight(by: 1)
    }

    // MARK: Validation of peer values

    /// `value` as a ciphertext of this key: 0 < c < N² and gcd(c, N) = 1, i.e. c ∈ Z*_{N²}.
    public func validate(ciphertext value: BigNum) throws -> PaillierCiphertext {
        guard !value.isNegative, !value.isZero, value < nSquared, value.isCoprime(to: n) else {
            throw MPCMathError.invalidCiphertext
        }
        return PaillierCiphertext(value: value.declassified())
    }

    /// Whether r ∈ Z*_N (0 < r < N, gcd(r, N) = 1).
    public func isUnit(_ r: BigNum) -> Bool {
        !r.isNegative && !r.isZero && r < n && r.isCoprime(to: n)
    }

    /// A uniformly random element of Z*_N (rejection sampling; a non-unit draw would factor N).
    public func randomUnit<R: RandomSource>(using rng: inout R) throws -> BigNum {
        while true {
            let r = try BigNum.random(below: n, using: &rng)
            if isUnit(r) { return r }
        }
    }

    /// The randomizer of a fresh encryption under this key: one precomputed for N by the
    /// randomness source's pool when it carries one (`PaillierNonceCarrier`) and has one left,
    /// else a fresh uniform r ∈ Z*_N whose N-th power the encryption computes. Either way r is
    /// uniform in Z*_N and used once.
    public func nonce<R: RandomSource>(using rng: inout R) throws -> PaillierNonce {
        if let source = (rng as? any PaillierNonceCarrier)?.paillierNonces,
            let pooled = source.takeNonce(modulus: n), pooled.modulus == n
        {
            return pooled
        }
        return PaillierNonce(modulus: n, r: try randomUnit(using: &rng), rToN: nil)
    }

    /// A randomizer with r^N mod N² computed now, for a pool that serves `nonce(using:)` later
    /// (`PaillierNoncePool.precompute`, the only caller: a precomputed randomizer never exists
    /// outside a pool until it is taken): by CRT when `owner` holds this key's factorisation, else
    /// on the N² ladder.
    func precomputeNonce<R: RandomSource>(
        using rng: inout R, owner: PaillierSecretKey?
    ) throws
        -> PaillierNonce
    {
        let r = try randomUnit(using: &rng)
        let rToN =
            if let owner, owner.publicKey.n == n {
                try owner.nthPower(r)
            } else {
                try nSquaredContext.exp(r.withSecrecy(true), n)
            }
        return PaillierNonce(modulus: n, r: r, rToN: rToN)
    }

    // MARK: Encryption

    /// Enc(m; r) = (1 + m·N) · r^N mod N² for 0 ≤ m < N and r ∈ Z*_N (both checked). The
    /// r^N term runs on the cached Montgomery context in OpenSSL's constant-time ladder (r is
    /// secret: it opens the ciphertext).
    public func encrypt(_ m: BigNum, randomness r: BigNum) throws -> PaillierCiphertext {
        guard isUnit(r) else { throw MPCMathError.invalidRandomness }
        return try encrypt(m, unit: r)
    }

    /// `encrypt(_:randomness:)` for an r that `randomUnit` has just drawn (its unit check is not
    /// repeated: each costs an inversion modulo N).
    func encrypt(_ m: BigNum, unit r: BigNum) throws -> PaillierCiphertext {
        guard !m.isNegative, m < n else { throw MPCMathError.plaintextOutOfRange }
        let rToN = try nSquaredContext.exp(r.withSecrecy(true), n)
        // (1 + N)^m = 1 + m·N mod N² (binomial expansion; all higher terms carry N²).
        let gToM = BigNum.one + m * n
        let c = try nSquaredContext.mul(gToM, rToN)
        return PaillierCiphertext(value: c.declassified())
    }

    /// Enc(m; r) with a randomizer from `nonce(using:)`: its precomputed r^N when it has one.
    func encrypt(_ m: BigNum, nonce: PaillierNonce) throws -> PaillierCiphertext {
        guard nonce.modulus == n else { throw MPCMathError.invalidRandomness }
        guard let rToN = nonce.rToN else { return try encrypt(m, unit: nonce.r) }
        guard !m.isNegative, m < n else { throw MPCMathError.plaintextOutOfRange }
        let c = try nSquaredContext.mul(.one + m * n, rToN)
        return PaillierCiphertext(value: c.declassified())
    }

    /// Encrypts under fresh randomness r ← Z*_N (`nonce(using:)`) and returns r too (the proofs
    /// need it).
    public func encrypt<R: RandomSource>(
        _ m: BigNum, using rng: inout R
    ) throws
        -> (ciphertext: PaillierCiphertext, randomness: BigNum)
    {
        let nonce = try nonce(using: &rng)
        return (try encrypt(m, nonce: nonce), nonce.r)
    }

    /// A signed plaintext |m| ≤ (N − 1)/2 encoded as m mod N (the MtA shares of GG20 §3 and the
    /// ±2^ℓ ranges of CGGMP21 live there); `PaillierSecretKey.decryptSigned` undoes it.
    public func encodeSigned(_ m: BigNum) throws -> BigNum {
        guard m.magnitude <= halfN else { throw MPCMathError.plaintextOutOfRange }
        return try m.mod(n)
    }

    public func encrypt(signed m: BigNum, randomness r: BigNum) throws -> PaillierCiphertext {
        try encrypt(encodeSigned(m), randomness: r)
    }

    /// Enc(m; r) for a signed m, by CRT when `owner` holds this key's factorisation (the owner
    /// encrypting under its own key), else as above. Same result either way.
    public func encrypt(signed m: BigNum, randomness r: BigNum, owner: PaillierSecretKey?) throws -> PaillierCiphertext
    {
        if let owner, owner.publicKey.n == n { return try owner.encrypt(signed: m, randomness: r) }
        return try encrypt(signed: m, randomness: r)
    }

    /// `encrypt(signed:randomness:owner:)` for an r that `randomUnit` has just drawn.
    func encrypt(signed m: BigNum, unit r: BigNum, owner: PaillierSecretKey?) throws -> PaillierCiphertext {
        if let owner, owner.publicKey.n == n { return try owner.encrypt(encodeSigned(m), unit: r) }
        return try encrypt(encodeSigned(m), unit: r)
    }

    /// `encrypt(signed:randomness:owner:)` with a randomizer from `nonce(using:)`.
    func encrypt(signed m: BigNum, nonce: PaillierNonce, owner: PaillierSecretKey?) throws -> PaillierCiphertext {
        if nonce.rToN == nil, nonce.modulus == n, let owner, owner.publicKey.n == n {
            return try owner.encrypt(encodeSigned(m), unit: nonce.r)
        }
        return try encrypt(encodeSigned(m), nonce: nonce)
    }

    public func encrypt<R: RandomSource>(
        signed m: BigNum, using rng: inout R
    ) throws
        -> (ciphertext: PaillierCiphertext, randomness: BigNum)
    {
        try encrypt(encodeSigned(m), using: &rng)
    }

    // MARK: Homomorphic operations

    /// Enc(m₁) ⊕ Enc(m₂) = c₁ · c₂ mod N² = Enc(m₁ + m₂ mod N).
    public func add(_ a: PaillierCiphertext, _ b: PaillierCiphertext) throws -> PaillierCiphertext {
        PaillierCiphertext(value: try nSquaredContext.mul(a.value, b.value).declassified())
    }

    /// k ⊙ Enc(m) = c^k mod N² = Enc(k·m mod N). k may be negative (via c⁻¹) and secret (Bob's
    /// share in MtA): a secret k takes the constant-time ladder.
    public func multiply(_ c: PaillierCiphertext, by k: BigNum) throws -> PaillierCiphertext {
        let base = k.isNegative ? try c.value.modInverse(nSquared) : c.value
        let e = k.magnitude
        let result = k.isSecret ? try nSquaredContext.expConstantTime(base, e) : try nSquaredContext.exp(base, e)
        return PaillierCiphertext(value: result.declassified())
    }

    /// Enc(m) ⊕ Enc(0; r) with fresh r: the same plaintext under new randomness.
    public func rerandomize<R: RandomSource>(_ c: PaillierCiphertext, using rng: inout R) throws -> PaillierCiphertext {
        try add(c, encrypt(.zero, using: &rng).ciphertext)
    }

    public static func == (a: PaillierPublicKey, b: PaillierPublicKey) -> Bool { a.n == b.n }
    public func hash(into hasher: inout Hasher) { hasher.combine(n) }
    public var description: String { "PaillierPublicKey(\(n.bitLength) bits)" }
}

/// A Paillier randomizer: r ∈ Z*_N for modulus N and, when it was computed ahead of time (a
/// signer's idle-time pool), r^N mod N²; nil: the encryption computes it. Secret (r opens every
/// ciphertext made with it): a source hands each out once, and its numbers are wiped when dropped.
/// Made only by `PaillierPublicKey.nonce(using:)` and, inside a `PaillierNoncePool`, by
/// `precomputeNonce(using:owner:)`, so r^N always belongs to r and a precomputed one is handed
/// out once.
public struct PaillierNonce: Sendable, CustomStringConvertible, CustomReflectable {
    public let modulus: BigNum
    public let r: BigNum
    let rToN: BigNum?

    init(modulus: BigNum, r: BigNum, rToN: BigNum?) {
        self.modulus = modulus
        self.r = r.withSecrecy(true)
        self.rToN = rToN?.withSecrecy(true)
    }

    public var description: String { "PaillierNonce(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// Randomizers computed ahead for given moduli (a tss-signer's pool, filled while it is idle).
public protocol PaillierNonceSource: Sendable {
    /// One randomizer for modulus n, removed from the source (each is handed out once), or nil.
    func takeNonce(modulus n: BigNum) -> PaillierNonce?
}

/// A randomness source that also offers precomputed randomizers: `PaillierPublicKey.nonce(using:)`
/// takes from `paillierNonces` before drawing a fresh r.
public protocol PaillierNonceCarrier {
    var paillierNonces: (any PaillierNonceSource)? { get }
}

/// A Paillier ciphertext, an element of Z*_{N²}: made by encryption and the homomorphic
/// operations, or from a peer's integer by `PaillierPublicKey.validate(ciphertext:)`. It does not
/// remember its key: use it with the key that validated it.
public struct PaillierCiphertext: Sendable, Hashable, CustomStringConvertible {
    public let value: BigNum

    init(value: BigNum) { self.value = value }

    public var description: String { "PaillierCiphertext(\(value.bitLength) bits)" }
}

/// A Paillier secret key from two safe primes p ≠ q of equal size (so N is a Paillier-Blum
/// modulus, CGGMP21 Definition 3.1), with the CRT decryption constants precomputed:
/// Montgomery contexts for p² and q², h_p = L_p(g^(p−1) mod p²)⁻¹ mod p (and h_q), and q⁻¹ mod p.
///
/// Every number here is a secret `BigNum` (constant-time flag, wiped when freed), so dropping the
/// key zeroes all of it; the key prints as `<redacted>` and mirrors no children.
public final class PaillierSecretKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    public let publicKey: PaillierPublicKey
    let p: BigNum
    let q: BigNum
    let pMinusOne: BigNum
    let qMinusOne: BigNum
    let pSquared: MontgomeryContext
    /// p and q as a `Factorization`: the owner verifies proofs addressed to it prime by prime.
    public let factorization: Factorization
    let qSquared: MontgomeryContext
    let hp: BigNum
    let hq: BigNum
    let qInverseModP: BigNum
    /// q mod (p − 1), p mod (q − 1), (q²)⁻¹ mod p²: for `encrypt` by CRT.
    let qModPMinusOne: BigNum
    let pModQMinusOne: BigNum
    let qSquaredInverseModPSquared: BigNum

    /// `validatingPrimes`: check that p and q are safe primes (four BN_check_prime runs, tens of
    /// milliseconds at 1024 bits). Keys built from trusted storage or the test fixtures may skip it;
    /// the cheap structural checks (odd, distinct, equal size, ≡ 3 mod 4, |N| ≥ 2048) always run.
    public init(p: BigNum, q: BigNum, validatingPrimes: Bool = true) throws {
        let p = p.withSecrecy(true)
        let q = q.withSecrecy(true)
        guard !p.isNegative, !q.isNegative, p.isOdd, q.isOdd, p != q else {
            throw MPCMathError.invalidKey("Paillier primes must be distinct odd positive integers")
        }
        guard p.bitLength == q.bitLength else { throw MPCMathError.invalidKey("Paillier primes differ in size") }
        // Blum: p ≡ q ≡ 3 (mod 4).
        guard p.isBitSet(1), q.isBitSet(1) else { throw MPCMathError.invalidKey("Paillier primes must be ≡ 3 mod 4") }
        if validatingPrimes {
            guard p.isSafePrime, q.isSafePrime else {
                throw MPCMathError.invalidKey("Paillier primes must be safe primes")
            }
        }
        publicKey = try PaillierPublicKey(n: p * q)
        self.p = p
        self.q = q
        pMinusOne = p - .one
        qMinusOne = q - .one
        pSquared = try MontgomeryContext(modulus: p * p)
        factorization = try Factorization(p: p, q: q)
        qSquared = try MontgomeryContext(modulus: q * q)
        // h_p = L_p(g^(p−1) mod p²)⁻¹ mod p with g = 1 + N (Paillier 1999, §7).
        let g = publicKey.n + .one
        hp = try Self.lFunction(pSquared.expConstantTime(g, pMinusOne), p).modInverse(p)
        hq = try Self.lFunction(qSquared.expConstantTime(g, qMinusOne), q).modInverse(q)
        qInverseModP = try q.modInverse(p)
        qModPMinusOne = try q.mod(pMinusOne)
        pModQMinusOne = try p.mod(qMinusOne)
        qSquaredInverseModPSquared = try qSquared.modulus.modInverse(pSquared.modulus)
    }

    /// A fresh key: two distinct safe primes of `modulusBits / 2` bits from the combined sieve
    /// (`BigNum.generateSafePrime`; ≈ 0.2 s each at 1024 bits on average here).
    public static func generate(modulusBits: Int = PaillierPublicKey.minimumModulusBits) throws -> PaillierSecretKey {
        guard modulusBits >= PaillierPublicKey.minimumModulusBits, modulusBits <= PaillierPublicKey.maximumModulusBits,
            modulusBits % 2 == 0
        else { throw MPCMathError.invalidParameter("Paillier modulus size") }
        let p = try BigNum.generateSafePrime(bits: modulusBits / 2)
        var q = try BigNum.generateSafePrime(bits: modulusBits / 2)
        while q == p { q = try BigNum.generateSafePrime(bits: modulusBits / 2) }
        return try PaillierSecretKey(p: p, q: q, validatingPrimes: false)
    }

    /// The prime factors (secret; for the Π^mod / Π^fac provers and for sealed storage).
    public var primes: (p: BigNum, q: BigNum) { (p, q) }

    /// φ(N) = (p − 1)(q − 1) (secret).
    public var phi: BigNum { pMinusOne * qMinusOne }

    // MARK: Encryption by the key owner

    /// Enc(m; r) as `PaillierPublicKey.encrypt` computes it, but with the factorisation (the owner
    /// encrypting under its own key: k_i and γ_i in GG20's MtA, the Π^enc prover): r^N mod N² by
    /// CRT from x_p = r^N mod p² and x_q = r^N mod q², recombined as
    /// x_q + q² · ((x_p − x_q) · (q²)⁻¹ mod p²).
    ///
    /// x_p costs one half-size and one quarter-size exponentiation instead of a 2048-bit exponent
    /// modulo p²: for u ≡ v (mod p), u^p ≡ v^p (mod p²) (binomial expansion: every term after the
    /// first carries p·p), and r^N = (r^q)^p with r^q ≡ r^(q mod (p−1)) (mod p) (Fermat; r is a
    /// unit), so x_p = ((r mod p)^(q mod (p−1)) mod p)^p mod p² — exponents of |p| bits, the first
    /// modulo p. The two primes' halves run as pairs (`expConstantTimePair`). Tested against
    /// `PaillierPublicKey.encrypt`, the N-th power modulo N².
    public func encrypt(_ m: BigNum, randomness r: BigNum) throws -> PaillierCiphertext {
        guard publicKey.isUnit(r) else { throw MPCMathError.invalidRandomness }
        return try encrypt(m, unit: r)
    }

    /// `encrypt(_:randomness:)` for an r that `randomUnit` has just drawn.
    func encrypt(_ m: BigNum, unit r: BigNum) throws -> PaillierCiphertext {
        let pk = publicKey
        guard !m.isNegative, m < pk.n else { throw MPCMathError.plaintextOutOfRange }
        let c = try pk.nSquaredContext.mul(.one + m * pk.n, nthPower(r))
        return PaillierCiphertext(value: c.declassified())
    }

    /// r^N mod N² for a unit r, by CRT as described at `encrypt(_:randomness:)` (secret).
    func nthPower(_ r: BigNum) throws -> BigNum {
        let secretR = r.withSecrecy(true)
        let (rqModP, rpModQ) = try MontgomeryContext.expConstantTimePair(
            factorization.p, secretR.mod(p), qModPMinusOne, factorization.q, secretR.mod(q), pModQMinusOne)
        let (xp, xq) = try MontgomeryContext.expConstantTimePair(pSquared, rqModP, p, qSquared, rpModQ, q)
        let h = try xp.modSub(xq, pSquared.modulus).modMul(qSquaredInverseModPSquared, pSquared.modulus)
        return xq + h * qSquared.modulus
    }

    /// Owner-side encryption of a signed plaintext |m| ≤ (N − 1)/2 (as `encodeSigned`).
    public func encrypt(signed m: BigNum, randomness r: BigNum) throws -> PaillierCiphertext {
        try encrypt(publicKey.encodeSigned(m), randomness: r)
    }

    /// Owner-side encryption under fresh randomness r ← Z*_N (`PaillierPublicKey.nonce(using:)`);
    /// returns r too.
    public func encrypt<R: RandomSource>(
        _ m: BigNum, using rng: inout R
    ) throws
        -> (ciphertext: PaillierCiphertext, randomness: BigNum)
    {
        let nonce = try publicKey.nonce(using: &rng)
        if nonce.rToN != nil { return (try publicKey.encrypt(m, nonce: nonce), nonce.r) }
        return (try encrypt(m, unit: nonce.r), nonce.r)
    }

    // MARK: Decryption

    /// Dec(c) ∈ [0, N) by CRT (Paillier 1999, §7):
    ///   m_p = L_p(c^(p−1) mod p²) · h_p mod p,  m_q likewise,
    ///   m   = m_q + q · ((m_p − m_q) · q⁻¹ mod p).
    /// The exponentiations use the constant-time ladder (secret exponents p − 1, q − 1).
    public func decrypt(_ c: PaillierCiphertext) throws -> BigNum {
        let mp = try Self.lFunction(pSquared.expConstantTime(c.value, pMinusOne), p).modMul(hp, p)
        let mq = try Self.lFunction(qSquared.expConstantTime(c.value, qMinusOne), q).modMul(hq, q)
        let h = try mp.modSub(mq, p).modMul(qInverseModP, p)
        return mq + h * q
    }

    /// Dec(c) as a signed value in [−(N − 1)/2, (N − 1)/2] (inverse of `encodeSigned`).
    public func decryptSigned(_ c: PaillierCiphertext) throws -> BigNum {
        let m = try decrypt(c)
        return m > publicKey.halfN ? m - publicKey.n : m
    }

    /// The textbook decryption m = L(c^λ mod N²) · μ mod N with λ = lcm(p − 1, q − 1) and
    /// μ = L(g^λ mod N²)⁻¹ mod N (Paillier 1999, Scheme 1). About four times slower than
    /// `decrypt`; kept as the reference the CRT path is tested against.
    public func decryptTextbook(_ c: PaillierCiphertext) throws -> BigNum {
        let n = publicKey.n
        let nn = publicKey.nSquaredContext
        let (lambda, _) = try phi.quotientAndRemainder(dividingBy: pMinusOne.gcd(qMinusOne))
        let mu = try Self.lFunction(nn.expConstantTime(n + .one, lambda), n).modInverse(n)
        return try Self.lFunction(nn.expConstantTime(c.value, lambda), n).modMul(mu, n)
    }

    /// L_d(x) = (x − 1) / d (exact for the arguments it is given).
    static func lFunction(_ x: BigNum, _ d: BigNum) throws -> BigNum {
        try (x - .one).quotientAndRemainder(dividingBy: d).quotient
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "PaillierSecretKey(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }
}
