import CryptoPrimitives
import Dispatch
import MPCMath
import Synchronization

extension KeygenPreParams {
    /// Fresh pre-params for one party: two distinct safe primes p, q of `modulusBits / 2` bits
    /// (`BigNum.generateSafePrime`, the combined sieve; the two are drawn on two threads at once)
    /// and one modulus N = pq that is both the Paillier key and the ring-Pedersen modulus, as in
    /// CGGMP21's auxiliary-info round (Fig. 6: "sample safe primes p_i, q_i, set N_i = p_i q_i,
    /// t_i = r² mod N_i, s_i = t_i^λ"). One modulus instead of two halves the safe primes per
    /// party, and a verifier that owns the setup checks range proofs modulo its own primes
    /// (`Factorization`). s, t and λ come from the system generator.
    public static func generate(modulusBits: Int = PaillierPublicKey.minimumModulusBits) throws -> KeygenPreParams {
        guard modulusBits >= PaillierPublicKey.minimumModulusBits, modulusBits % 2 == 0,
            modulusBits <= PaillierPublicKey.maximumModulusBits
        else { throw MPCMathError.invalidParameter("pre-params modulus size") }
        while true {
            let primes = PrimePair()
            DispatchQueue.concurrentPerform(iterations: 2) { i in
                primes.set(i, Result { try BigNum.generateSafePrime(bits: modulusBits / 2) })
            }
            let (p, q) = try primes.get()
            guard p != q else { continue }  // probability ≈ 2^-1000; draw again rather than fail
            var rng = SecureRandomNumberGenerator()
            return try make(p: p, q: q, using: &rng)
        }
    }

    /// As `generate(modulusBits:)` with every draw from `rng`, one prime after the other (tests and
    /// simulations with a seeded source).
    public static func generate<R: RandomSource>(
        modulusBits: Int = PaillierPublicKey.minimumModulusBits, using rng: inout R
    ) throws -> KeygenPreParams {
        guard modulusBits >= PaillierPublicKey.minimumModulusBits, modulusBits % 2 == 0,
            modulusBits <= PaillierPublicKey.maximumModulusBits
        else { throw MPCMathError.invalidParameter("pre-params modulus size") }
        while true {
            let p = try BigNum.generateSafePrime(bits: modulusBits / 2, using: &rng)
            let q = try BigNum.generateSafePrime(bits: modulusBits / 2, using: &rng)
            guard p != q else { continue }
            return try make(p: p, q: q, using: &rng)
        }
    }

    /// Pre-params on N = pq for known safe primes (not re-checked: the generator checked them).
    static func make<R: RandomSource>(p: BigNum, q: BigNum, using rng: inout R) throws -> KeygenPreParams {
        KeygenPreParams(
            paillier: try PaillierSecretKey(p: p, q: q, validatingPrimes: false),
            ringPedersen: try RingPedersenSecret(p: p, q: q, using: &rng, validatingPrimes: false))
    }
}

/// The two primes drawn on two threads.
private final class PrimePair: Sendable {
    private let slots = Mutex<[Result<BigNum, any Error>?]>([nil, nil])

    func set(_ i: Int, _ r: Result<BigNum, any Error>) { slots.withLock { $0[i] = r } }

    func get() throws -> (BigNum, BigNum) {
        let (a, b) = slots.withLock { ($0[0], $0[1]) }
        guard let a, let b else { throw MPCMathError.invalidParameter("prime missing") }
        return (try a.get(), try b.get())
    }
}
