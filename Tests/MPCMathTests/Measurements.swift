import CryptoPrimitives
import Foundation
import MPCMath
import Secp256k1
import Testing

/// Per-operation costs, printed as JSON lines. Off by default (it takes ~20 s):
///
///     MPC_MEASURE=1 swift test --scratch-path .build-mpc --filter MPCMathTests.Measurements
///
/// The big-number work runs in OpenSSL and libsecp256k1, so debug and release builds give
/// nearly the same figures for the Paillier and group operations.
@Suite("Measurements", .enabled(if: ProcessInfo.processInfo.environment["MPC_MEASURE"] != nil))
struct Measurements {
    static func report(_ name: String, iterations: Int, _ body: () throws -> Void) rethrows {
        try body()  // warm-up
        var samples: [Double] = []
        for _ in 0..<iterations { samples.append(try seconds(body)) }
        samples.sort()
        let median = samples[samples.count / 2] * 1e3
        let mean = samples.reduce(0, +) / Double(samples.count) * 1e3
        print(
            String(
                format: "{\"name\": \"%@\", \"median_ms\": %.4f, \"mean_ms\": %.4f, \"n\": %d}", name, median, mean,
                iterations))
    }

    @Test func paillierAndGroup() throws {
        let key = MPCFixtures.paillierKeys[0]
        let pk = key.publicKey
        var rng = SeededRandom(seed: "measure")
        let m = try BigNum.random(below: pk.n, using: &rng)
        let r = try pk.randomUnit(using: &rng)
        let (c, _) = try pk.encrypt(m, using: &rng)
        let k = try BigNum.random(bits: 256, using: &rng)
        let nn = try MontgomeryContext(modulus: pk.nSquared)

        try Self.report("paillier2048.encrypt.core.public_r (r^N mod N^2, sliding window)", iterations: 40) {
            _ = try nn.exp(r.declassified(), pk.n)
        }
        try Self.report("paillier2048.encrypt.core.secret_r (r^N mod N^2, constant time)", iterations: 40) {
            _ = try nn.exp(r, pk.n)
        }
        try Self.report("paillier2048.encrypt (given r)", iterations: 40) { _ = try pk.encrypt(m, randomness: r) }
        try Self.report("paillier2048.encrypt (incl. r <- Z*_N)", iterations: 40) { _ = try pk.encrypt(m, using: &rng) }
        try Self.report("paillier2048.encrypt.owner_crt (given r)", iterations: 40) {
            _ = try key.encrypt(m, randomness: r)
        }
        try Self.report("paillier2048.decrypt.crt", iterations: 40) { _ = try key.decrypt(c) }
        try Self.report("paillier2048.decrypt.textbook", iterations: 10) { _ = try key.decryptTextbook(c) }
        try Self.report("paillier2048.multiply.256bit.public", iterations: 40) {
            _ = try pk.multiply(c, by: k.declassified())
        }
        try Self.report("paillier2048.multiply.256bit.secret", iterations: 40) { _ = try pk.multiply(c, by: k) }
        try Self.report("paillier2048.add", iterations: 200) { _ = try pk.add(c, c) }
        try Self.report("paillier2048.validate_ciphertext", iterations: 200) {
            _ = try pk.validate(ciphertext: c.value)
        }

        let rp = MPCFixtures.ringPedersen[0].parameters
        let x = try BigNum.random(bits: 256, using: &rng)
        let y = try BigNum.random(bits: 2048 + 256, using: &rng)
        try Self.report("ringpedersen2048.commit (256-bit x, 2304-bit y, secret)", iterations: 40) {
            _ = try rp.commit(x, y)
        }
        let modulus2048 = pk.n
        let e2048 = try BigNum.random(below: modulus2048, using: &rng, secret: false)
        try Self.report("bignum.modexp2048 (public)", iterations: 40) { _ = try e2048.modExp(e2048, modulus2048) }
        try Self.report("bignum.modexp2048 (constant time)", iterations: 40) {
            _ = try e2048.modExpConstantTime(e2048, modulus2048)
        }

        let rSecret = r.withSecrecy(true)
        let rPublic = r.declassified()
        Self.report("bignum.gcd2048 (BN_gcd, constant time)", iterations: 40) { _ = rPublic.gcd(modulus2048) }
        Self.report("bignum.isCoprime2048.public (variable-time inverse)", iterations: 40) {
            _ = rPublic.isCoprime(to: modulus2048)
        }
        Self.report("bignum.isCoprime2048.secret", iterations: 40) { _ = rSecret.isCoprime(to: modulus2048) }
        try Self.report("bignum.modInverse2048.secret", iterations: 40) { _ = try rSecret.modInverse(modulus2048) }

        let a = Scalar.random(using: &rng)
        let b = Scalar.random(using: &rng)
        let p = Point.generatorMul(b)
        Self.report("scalar.mul", iterations: 2000) { _ = a * b }
        Self.report("scalar.add", iterations: 2000) { _ = a + b }
        try Self.report("scalar.inverse", iterations: 200) { _ = try a.inverse() }
        Self.report("point.generator_mul", iterations: 500) { _ = Point.generatorMul(a) }
        Self.report("point.mul.constant_time", iterations: 500) { _ = a * p }
        Self.report("point.mul.vartime", iterations: 500) { _ = p.multipliedVartime(by: a) }
        Self.report("point.add", iterations: 2000) { _ = p + p }
        try Self.report("point.decode", iterations: 2000) { _ = try Point(encoded: p.encoded) }
        var transcript = Transcript(protocolTag: "measure", sessionID: [1], partyIndex: 1)
        Self.report("transcript.append_2048bit_and_challenge", iterations: 500) {
            transcript.append("c", integer: pk.n)
            _ = transcript.challengeScalar("e")
        }
    }

    @Test func safePrimeGeneration() throws {
        try Self.report("bignum.safe_prime.1024", iterations: 5) {
            _ = try BigNum.generatePrime(bits: 1024, safe: true)
        }
    }
}
