import CryptoPrimitives
import Synchronization

/// Ring-Pedersen parameters (Ñ, s, t) (CGGMP21 Definition 3.3; generated as in the auxiliary-info
/// round, Fig. 6: τ ← Z*_Ñ, t = τ² mod Ñ, λ ← Z_φ(Ñ), s = t^λ mod Ñ). A commitment to x with
/// randomness y is s^x · t^y mod Ñ; the range proofs of GG20/CGGMP21 verify equations in it.
///
/// `init(n:s:t:)` checks the shape only (odd Ñ of at least 2048 bits, s, t ∈ Z*_Ñ and not 0, 1);
/// that s lies in ⟨t⟩ is what the prover shows with Π^prm, in the proof layer.
public struct RingPedersenParameters: Sendable, Hashable, CustomStringConvertible {
    public let n: BigNum
    public let s: BigNum
    public let t: BigNum
    let context: MontgomeryContext

    public static let minimumModulusBits = PaillierPublicKey.minimumModulusBits

    public init(n: BigNum, s: BigNum, t: BigNum) throws {
        guard !n.isNegative, n.isOdd else {
            throw MPCMathError.invalidKey("ring-Pedersen modulus must be odd and positive")
        }
        guard n.bitLength >= Self.minimumModulusBits, n.bitLength <= PaillierPublicKey.maximumModulusBits else {
            throw MPCMathError.invalidKey("ring-Pedersen modulus size out of range")
        }
        for x in [s, t] {
            guard !x.isNegative, x < n, !x.isZero, !x.isOne, x.isCoprime(to: n) else {
                throw MPCMathError.invalidRingPedersenElement
            }
        }
        guard s != t else { throw MPCMathError.invalidRingPedersenElement }
        self.n = n.declassified()
        self.s = s.declassified()
        self.t = t.declassified()
        context = try MontgomeryContext(modulus: self.n)
    }

    /// s^x · t^y mod Ñ; x and y may be negative (the signed responses of range proofs). Secret
    /// exponents (the prover's side, always under a peer's setup) go through the fixed-base tables
    /// of s and t (`FixedBaseSecretExponentiation`: constant time in the digits and the sign, about
    /// four times faster than the ladder), public ones through `power`.
    public func commit(_ x: BigNum, _ y: BigNum) throws -> BigNum {
        if x.isSecret || y.isSecret, let tables = RingPedersenTables.tables(for: self) {
            let sx =
                x.magnitude.bitLength <= tables.s.maxExponentBits
                ? try tables.s.power(x.withSecrecy(true)) : try power(s, x.withSecrecy(true))
            let ty =
                y.magnitude.bitLength <= tables.t.maxExponentBits
                ? try tables.t.power(y.withSecrecy(true)) : try power(t, y.withSecrecy(true))
            return try context.mul(sx, ty)
        }
        return try context.mul(power(s, x), power(t, y))
    }

    /// base^e mod Ñ for signed e (secret e: constant time).
    public func power(_ base: BigNum, _ e: BigNum) throws -> BigNum {
        let b = e.isNegative ? try base.modInverse(n) : base
        return e.isSecret ? try context.expConstantTime(b, e.magnitude) : try context.exp(b, e.magnitude)
    }

    /// An element of Z*_Ñ given by a peer (a commitment in a proof): 0 < x < Ñ, gcd(x, Ñ) = 1.
    public func isUnit(_ x: BigNum) -> Bool {
        !x.isNegative && !x.isZero && x < n && x.isCoprime(to: n)
    }

    public static func == (a: RingPedersenParameters, b: RingPedersenParameters) -> Bool {
        a.n == b.n && a.s == b.s && a.t == b.t
    }
    public func hash(into hasher: inout Hasher) { hasher.combine(n) }
    public var description: String { "RingPedersenParameters(\(n.bitLength) bits)" }

    /// s^x · t^y ≡ a · b^e (mod Ñ), the verification equation of every range proof. `owner`: the
    /// verifier's own factorisation; when it factors this Ñ the check runs modulo p and q
    /// (`Factorization.equalModN`), otherwise, or without it, modulo Ñ on public values.
    public func holds(
        _ x: BigNum, _ y: BigNum, equals a: BigNum, times b: BigNum, toThe e: BigNum, owner: Factorization?
    ) throws -> Bool {
        if let owner, owner.n == n {
            return try owner.equalModN([(s, x), (t, y)], [(a, .one), (b, e)])
        }
        return try commit(x, y) == context.mul(a, power(b, e))
    }
}

/// The fixed-base tables of one setup's s and t, for provers committing under a peer's
/// parameters. Exponent sizes: s carries the committed values (at most ±2^(ℓ'+ε), Bob's β in
/// Π^aff-g), t the randomness (at most ±2^(ℓ+ε+1)·Ñ, `ProofParameters.ringPedersenResponseBound`);
/// anything longer takes the ladder. About 5 MB per 2048-bit setup; building them costs about as
/// much as ten commitments on the ladder, so a setup gets tables only from its
/// `buildThreshold`-th secret commitment on: keygen's few commitments per fresh setup (Π^fac)
/// never pay for a table, presigning's dozens per peer and signing do.
///
/// Kept in a process-wide cache (the last `capacity` setups used): a key share is decoded again
/// for every session, and a peer's setup lives as long as the key. The cache holds only public
/// values (powers of public bases) and use counts, and never changes a result, so simulations stay
/// deterministic.
final class RingPedersenTables: Sendable {
    let s: FixedBaseSecretExponentiation
    let t: FixedBaseSecretExponentiation

    static let capacity = 8
    static let buildThreshold = 8
    static let maximumModulusBits = 4096

    private struct Entry {
        let parameters: RingPedersenParameters
        var uses: Int
        var tables: RingPedersenTables?
    }

    private static let cache = Mutex<[Entry]>([])

    init(_ parameters: RingPedersenParameters) throws {
        s = try FixedBaseSecretExponentiation(
            base: parameters.s, context: parameters.context,
            maxExponentBits: ProofParameters.ellPrime + ProofParameters.epsilon + 1)
        t = try FixedBaseSecretExponentiation(
            base: parameters.t, context: parameters.context,
            maxExponentBits: parameters.n.bitLength + ProofParameters.ell + ProofParameters.epsilon + 2)
    }

    /// Counts one secret commitment under `parameters` and returns their tables, built now if this
    /// use reaches the threshold; nil while below it (or if they cannot be built): the ladder.
    static func tables(for parameters: RingPedersenParameters) -> RingPedersenTables? {
        // Tables grow with |Ñ|² (≈ 5 MB at 2048 bits, 16 MB at 4096): larger setups take the ladder.
        guard parameters.n.bitLength <= maximumModulusBits else { return nil }
        let (tables, build) = cache.withLock { list -> (RingPedersenTables?, Bool) in
            var entry = Entry(parameters: parameters, uses: 0, tables: nil)
            if let i = list.firstIndex(where: { $0.parameters == parameters }) { entry = list.remove(at: i) }
            entry.uses += 1
            list.append(entry)
            if list.count > capacity { list.removeFirst(list.count - capacity) }
            return (entry.tables, entry.tables == nil && entry.uses >= buildThreshold)
        }
        guard build else { return tables }
        // Built outside the lock: two threads may build the same tables once each.
        guard let built = try? RingPedersenTables(parameters) else { return nil }
        cache.withLock { list in
            if let i = list.firstIndex(where: { $0.parameters == parameters }) { list[i].tables = built }
        }
        return built
    }
}

/// The secret side of ring-Pedersen parameters: the factorisation of Ñ and λ with s = t^λ, kept
/// for the Π^prm prover. Secret numbers are wiped when the object is freed; prints `<redacted>`.
public final class RingPedersenSecret: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    public let parameters: RingPedersenParameters
    let p: BigNum
    let q: BigNum
    /// λ ∈ Z_φ(Ñ) with s = t^λ mod Ñ.
    public let lambda: BigNum
    /// φ(Ñ) = (p − 1)(q − 1).
    public let phi: BigNum
    /// p and q as a `Factorization` (for verifying proofs made against these parameters).
    public let factorization: Factorization

    /// Parameters on Ñ = pq for two distinct safe primes of equal size (CGGMP21 Fig. 6): τ ← Z*_Ñ,
    /// t = τ² mod Ñ, λ ← Z_φ(Ñ), s = t^λ mod Ñ (constant time: λ is secret). Draws again in the
    /// negligible case that t or s is degenerate.
    public init<R: RandomSource>(p: BigNum, q: BigNum, using rng: inout R, validatingPrimes: Bool = true) throws {
        let p = p.withSecrecy(true)
        let q = q.withSecrecy(true)
        guard !p.isNegative, !q.isNegative, p.isOdd, q.isOdd, p != q, p.bitLength == q.bitLength else {
            throw MPCMathError.invalidKey("ring-Pedersen primes must be distinct odd primes of equal size")
        }
        if validatingPrimes {
            guard p.isSafePrime, q.isSafePrime else {
                throw MPCMathError.invalidKey("ring-Pedersen primes must be safe primes")
            }
        }
        let n = (p * q).declassified()
        let phi = (p - .one) * (q - .one)
        let context = try MontgomeryContext(modulus: n)
        while true {
            var tau: BigNum
            repeat { tau = try BigNum.random(below: n, using: &rng) } while tau.isZero || !tau.isCoprime(to: n)
            let t = try context.expConstantTime(tau, BigNum(2 as UInt64)).declassified()
            let lambda = try BigNum.random(below: phi, using: &rng)
            let s = try context.expConstantTime(t, lambda).declassified()
            guard let parameters = try? RingPedersenParameters(n: n, s: s, t: t) else { continue }
            self.parameters = parameters
            self.p = p
            self.q = q
            self.lambda = lambda
            self.phi = phi
            self.factorization = try Factorization(p: p, q: q)
            return
        }
    }

    /// The prime factors of Ñ (secret).
    public var primes: (p: BigNum, q: BigNum) { (p, q) }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "RingPedersenSecret(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }
}
