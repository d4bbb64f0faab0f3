import CryptoPrimitives

/// The factorisation of one's own modulus N = pq (the Paillier key, and the ring-Pedersen setup
/// when Ñ = N as in CGGMP21's auxiliary-info round, Fig. 6). A verifier that owns the modulus a
/// proof is checked against tests each equation modulo p and modulo q (for equations mod N) or
/// modulo p² and q² (for equations mod N²) instead: by the CRT the equation holds modulo N (N²)
/// if and only if it holds modulo both factors, so the check is exactly as sound, and with
/// 1024-bit moduli and exponents reduced modulo p − 1 it is several times faster. The residues
/// and reduced exponents depend on the secret primes, so everything here runs constant time and
/// results are compared with `constantTimeEquals`.
public final class Factorization: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// N (public).
    public let n: BigNum
    let p: MontgomeryContext
    let q: MontgomeryContext
    let pSquared: MontgomeryContext
    let qSquared: MontgomeryContext
    /// φ(p) = p − 1, φ(q), φ(p²) = p(p − 1), φ(q²) (secret).
    let phiP: BigNum
    let phiQ: BigNum
    let phiP2: BigNum
    let phiQ2: BigNum
    /// q mod (p − 1), p mod (q − 1) (secret): for `nthPowers`.
    let qModPMinusOne: BigNum
    let pModQMinusOne: BigNum

    /// p and q distinct odd primes of equal size (not re-checked: callers hold them as keys).
    public init(p: BigNum, q: BigNum) throws {
        let p = p.withSecrecy(true)
        let q = q.withSecrecy(true)
        guard p.isOdd, q.isOdd, p != q, p.bitLength == q.bitLength else {
            throw MPCMathError.invalidKey("factorisation needs distinct odd primes of equal size")
        }
        n = (p * q).declassified()
        self.p = try MontgomeryContext(modulus: p)
        self.q = try MontgomeryContext(modulus: q)
        pSquared = try MontgomeryContext(modulus: p * p)
        qSquared = try MontgomeryContext(modulus: q * q)
        phiP = p - .one
        phiQ = q - .one
        phiP2 = p * phiP
        phiQ2 = q * phiQ
        qModPMinusOne = try q.mod(phiP)
        pModQMinusOne = try p.mod(phiQ)
    }

    /// One factor of a product: base^exponent, base a unit modulo N (callers check membership in
    /// Z*_N or Z*_{N²} before), exponent any sign.
    public typealias Term = (base: BigNum, exponent: BigNum)

    /// ∏ lhs ≡ ∏ rhs (mod N), checked modulo p and modulo q.
    public func equalModN(_ lhs: [Term], _ rhs: [Term]) throws -> Bool {
        try equal(lhs, rhs, p, phiP, q, phiQ)
    }

    /// ∏ lhs · w^N ≡ ∏ rhs (mod N²), checked modulo p² and modulo q². The N-th power of a
    /// Paillier randomness w (the Enc equations of the range proofs) is given separately, for
    /// `nthPowers`' half-size exponents; nil: no such factor.
    public func equalModNSquared(_ lhs: [Term], _ rhs: [Term], timesNthPowerOf w: BigNum? = nil) throws -> Bool {
        try equal(lhs, rhs, pSquared, phiP2, qSquared, phiQ2, extra: w.map { try nthPowers($0) })
    }

    /// (w^N mod p², w^N mod q²) for a unit w, with exponents of |p| bits instead of |N|: for
    /// u ≡ v (mod p), u^p ≡ v^p (mod p²) (binomial expansion: every further term carries p·p), and
    /// w^N = (w^q)^p with w^q ≡ w^(q mod (p−1)) (mod p) (Fermat), so w^N mod p² =
    /// ((w mod p)^(q mod (p−1)) mod p)^p mod p²; likewise for q. Constant time (secret moduli).
    func nthPowers(_ w: BigNum) throws -> (BigNum, BigNum) {
        let secretW = w.withSecrecy(true)
        let (wq, wp) = try MontgomeryContext.expConstantTimePair(
            p, secretW.mod(p.modulus), qModPMinusOne, q, secretW.mod(q.modulus), pModQMinusOne)
        return try MontgomeryContext.expConstantTimePair(pSquared, wq, p.modulus, qSquared, wp, q.modulus)
    }

    func equal(
        _ lhs: [Term], _ rhs: [Term], _ m1: MontgomeryContext, _ phi1: BigNum, _ m2: MontgomeryContext,
        _ phi2: BigNum, extra: (BigNum, BigNum)? = nil
    ) throws -> Bool {
        // A factor with a negative exponent moves to the other side with the opposite one
        // (b^(−e) · L = R ⟺ L = b^e · R for a unit b): no inversion modulo the secret p², q².
        // Which factors move depends on the exponents' public signs only.
        let left =
            lhs.filter { !$0.exponent.isNegative } + rhs.filter(\.exponent.isNegative).map { ($0.base, -$0.exponent) }
        let right =
            rhs.filter { !$0.exponent.isNegative } + lhs.filter(\.exponent.isNegative).map { ($0.base, -$0.exponent) }
        var (l1, l2) = try product(left, m1, phi1, m2, phi2)
        if let (x1, x2) = extra {
            l1 = try m1.mul(l1, x1)
            l2 = try m2.mul(l2, x2)
        }
        let (r1, r2) = try product(right, m1, phi1, m2, phi2)
        let w1 = m1.modulus.byteLength
        let w2 = m2.modulus.byteLength
        // Both comparisons always run: no early exit on the first factor.
        let same1 = l1.constantTimeEquals(r1, width: w1)
        let same2 = l2.constantTimeEquals(r2, width: w2)
        return same1 && same2
    }

    /// (∏ bᵢ^eᵢ mod m₁, ∏ bᵢ^eᵢ mod m₂). For a unit b, b^e ≡ b^(e mod φ) and b^(−e) ≡ (b⁻¹)^e; an
    /// exponent at least as long as φ is reduced modulo φ (the decision depends on public lengths
    /// only), a negative one (`equal` passes none) turns into the inverse's power.
    func product(
        _ terms: [Term], _ m1: MontgomeryContext, _ phi1: BigNum, _ m2: MontgomeryContext, _ phi2: BigNum
    ) throws -> (BigNum, BigNum) {
        var acc1 = BigNum.one.withSecrecy(true)
        var acc2 = BigNum.one.withSecrecy(true)
        for (base, exponent) in terms {
            let b1 = try base.mod(m1.modulus)
            let b2 = try base.mod(m2.modulus)
            if exponent.isOne {
                acc1 = try m1.mul(acc1, b1)
                acc2 = try m2.mul(acc2, b2)
                continue
            }
            let negative = exponent.isNegative
            let magnitude = exponent.magnitude
            let e1 = magnitude.bitLength >= phi1.bitLength ? try magnitude.withSecrecy(true).mod(phi1) : magnitude
            let e2 = magnitude.bitLength >= phi2.bitLength ? try magnitude.withSecrecy(true).mod(phi2) : magnitude
            let (x1, x2) = try MontgomeryContext.expConstantTimePair(
                m1, negative ? try b1.modInverse(m1.modulus) : b1, e1, m2,
                negative ? try b2.modInverse(m2.modulus) : b2,
                e2)
            acc1 = try m1.mul(acc1, x1)
            acc2 = try m2.mul(acc2, x2)
        }
        return (acc1, acc2)
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "Factorization(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }
}
