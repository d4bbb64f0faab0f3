import CryptoPrimitives
import MPCMath
import Testing

@Suite("Ring-Pedersen")
struct RingPedersenTests {
    @Test func parametersAreWellFormed() throws {
        for secret in MPCFixtures.ringPedersen.prefix(3) {
            let params = secret.parameters
            #expect(params.n.bitLength == 2048)
            #expect(params.n == secret.primes.p * secret.primes.q)
            // s = t^λ mod Ñ and t is a square (t = τ²): (t/p) = (t/q) = 1.
            #expect(try params.t.modExp(secret.lambda, params.n) == params.s)
            #expect(try params.t.jacobi(secret.primes.p.declassified()) == 1)
            #expect(try params.t.jacobi(secret.primes.q.declassified()) == 1)
            #expect(params.isUnit(params.s) && params.isUnit(params.t))
            #expect(secret.lambda < secret.phi && secret.lambda.isSecret)
            #expect(secret.description == "<redacted>")
        }
        // Fixtures are deterministic: the same seed gives the same (s, t).
        let (p, q) = MPCFixtures.material.ringPedersen[0]
        var rng = SeededRandom(seed: "ring-pedersen-0")
        let again = try RingPedersenSecret(p: p, q: q, using: &rng)
        #expect(again.parameters == MPCFixtures.ringPedersen[0].parameters)
        // Distinct moduli across parties.
        #expect(Set(MPCFixtures.ringPedersen.map(\.parameters.n)).count == MPCFixtures.ringPedersen.count)
    }

    @Test func commitments() throws {
        let secret = MPCFixtures.ringPedersen[1]
        let params = secret.parameters
        var rng = SeededRandom(seed: "commit")
        let x = try BigNum.random(bits: 256, using: &rng)
        let y = try BigNum.random(bits: 2100, using: &rng)
        let c = try params.commit(x, y)
        #expect(c == (try params.s.modExp(x, params.n).modMul(params.t.modExp(y, params.n), params.n)))
        // Homomorphic: C(x₁, y₁) · C(x₂, y₂) = C(x₁ + x₂, y₁ + y₂), signed exponents included.
        let x2 = try BigNum.random(bits: 300, using: &rng).negated()
        let y2 = try BigNum.random(bits: 300, using: &rng).negated()
        #expect(try params.commit(x, y).modMul(params.commit(x2, y2), params.n) == params.commit(x + x2, y + y2))
        // With the trapdoor λ: s^x t^y = t^(λx + y).
        #expect(try params.commit(x, y) == params.t.modExp(secret.lambda * x + y, params.n))
        // Public and secret exponents agree.
        #expect(try params.commit(x.declassified(), y.declassified()) == params.commit(x, y))
    }

    @Test func malformedParametersRejected() throws {
        let good = MPCFixtures.ringPedersen[2].parameters
        let n = good.n
        #expect(throws: MPCMathError.self) { try RingPedersenParameters(n: n + .one, s: good.s, t: good.t) }
        #expect(throws: MPCMathError.self) { try RingPedersenParameters(n: BigNum(1_000_003), s: 2, t: 3) }
        for bad in [BigNum.zero, .one, n, n + 5, BigNum(-2), MPCFixtures.ringPedersen[2].primes.p.declassified()] {
            #expect(throws: MPCMathError.invalidRingPedersenElement) {
                try RingPedersenParameters(n: n, s: bad, t: good.t)
            }
            #expect(throws: MPCMathError.invalidRingPedersenElement) {
                try RingPedersenParameters(n: n, s: good.s, t: bad)
            }
        }
        #expect(throws: MPCMathError.invalidRingPedersenElement) {
            try RingPedersenParameters(n: n, s: good.t, t: good.t)
        }
        #expect(try RingPedersenParameters(n: n, s: good.s, t: good.t) == good)
    }
}
