import CryptoPrimitives
import MPCTestSupport
import Testing

/// Yao's fixed-base exponentiation (public exponents, used to verify Π^prm) against OpenSSL's
/// BN_mod_exp_mont on the same modulus.
@Suite struct FixedBaseExponentiationTests {
    @Test func agreesWithModExpForEveryWindowAndEdgeExponents() throws {
        let n = MPCFixtures.sharedModulusRingPedersen[0].parameters.n
        let context = try MontgomeryContext(modulus: n)
        var rng = SeededRandom(seed: "fixed-base")
        let base = try BigNum.random(bits: n.bitLength - 1, using: &rng, secret: false)
        for window in 1...8 {
            let table = try FixedBaseExponentiation(
                base: base, context: context, maxExponentBits: n.bitLength, window: window)
            var exponents: [BigNum] = [0, 1, 2, 31, 32, 33, n - 1]
            for bits in [5, 64, 255, 1024, n.bitLength - 1, n.bitLength] {
                exponents.append(try BigNum.random(bits: bits, using: &rng, secret: false))
            }
            for e in exponents {
                #expect(try table.power(e) == context.exp(base, e), "window \(window), e of \(e.bitLength) bits")
            }
        }
        // A base not reduced mod m is reduced first.
        let big = try FixedBaseExponentiation(base: base + n, context: context, maxExponentBits: 64)
        #expect(try big.power(12345) == context.exp(base, 12345))
    }

    @Test func refusesSecretsAndLongExponents() throws {
        let n = MPCFixtures.sharedModulusRingPedersen[1].parameters.n
        let context = try MontgomeryContext(modulus: n)
        let table = try FixedBaseExponentiation(base: 7, context: context, maxExponentBits: 128)
        #expect(throws: CryptoError.self) { try table.power(try BigNum(1).shiftedLeft(by: 128)) }
        #expect(throws: CryptoError.self) { try table.power(BigNum(5, secret: true)) }
        #expect(throws: CryptoError.self) { try table.power(-3) }
        #expect(throws: CryptoError.self) {
            try FixedBaseExponentiation(base: BigNum(7, secret: true), context: context, maxExponentBits: 128)
        }
    }
}
