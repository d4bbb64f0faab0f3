import MPCTestSupport
import Testing

@testable import CryptoPrimitives
@testable import MPCMath

/// The constant-time fixed-base tables (secret, signed exponents: ring-Pedersen commitments under
/// a peer's setup) against OpenSSL's exponentiation on the same modulus.
@Suite struct FixedBaseSecretExponentiationTests {
    @Test func agreesWithModExpForSignedExponentsOfEverySize() throws {
        let n = MPCFixtures.sharedModulusRingPedersen[0].parameters.n
        let context = try MontgomeryContext(modulus: n)
        var rng = SeededRandom(seed: "fixed-base-secret")
        let base = try BigNum.random(bits: n.bitLength - 1, using: &rng, secret: false)
        let inverse = try base.modInverse(n)
        let maxBits = n.bitLength + 770
        let table = try FixedBaseSecretExponentiation(base: base, context: context, maxExponentBits: maxBits)
        // Edges: zero, ±1, word boundaries (the offset 2^K changes at multiples of 64 bits), the
        // largest magnitude the table takes.
        var magnitudes: [BigNum] = [0, 1, 2, 15, 16, 17]
        for bits in [63, 64, 65, 127, 128, 256, 769, 1792, n.bitLength, maxBits - 1, maxBits] {
            magnitudes.append(try BigNum.powerOfTwo(bits) - .one)
            magnitudes.append(try BigNum.random(bits: bits, using: &rng, secret: false))
        }
        magnitudes.append(try BigNum.powerOfTwo(maxBits - 1))
        for m in magnitudes {
            for e in m.isZero ? [m] : [m, m.negated()] {
                let expected = e.isNegative ? try context.exp(inverse, m) : try context.exp(base, m)
                let got = try table.power(e.withSecrecy(true))
                #expect(got == expected, "e of \(m.bitLength) bits, negative: \(e.isNegative)")
                #expect(got.isSecret)
            }
        }
        // A base not reduced mod m is reduced first.
        let unreduced = try FixedBaseSecretExponentiation(base: base + n, context: context, maxExponentBits: 64)
        #expect(try unreduced.power(BigNum(-12345, secret: true)) == context.exp(inverse, 12345))
    }

    /// Moduli whose width is not whole words, or not whole bytes: the entries are read back as
    /// |m| bytes, every one with a non-zero top byte (so `BN_lebin2bn` strips nothing).
    @Test(arguments: [1001, 1024, 1031, 2040, 2048])
    func oddWidthModuli(_ bits: Int) throws {
        var rng = SeededRandom(seed: "fixed-base-width-\(bits)")
        var m = try BigNum.random(bits: bits, using: &rng, secret: false)
        if !m.isOdd { m = m + .one }
        let context = try MontgomeryContext(modulus: m)
        var base: BigNum
        repeat { base = try BigNum.random(bits: bits - 3, using: &rng, secret: false) } while !base.isCoprime(to: m)
        let table = try FixedBaseSecretExponentiation(base: base, context: context, maxExponentBits: bits + 100)
        #expect(table.entriesWithZeroTopByte == 0)
        for eBits in [1, 63, 64, 200, bits, bits + 99] {
            let e = try BigNum.random(bits: eBits, using: &rng, secret: false)
            #expect(try table.power(e.withSecrecy(true)) == context.exp(base, e), "m \(bits), e \(eBits)")
            #expect(
                try table.power(e.negated().withSecrecy(true)) == context.exp(base.modInverse(m), e),
                "m \(bits), e −\(eBits)")
        }
    }

    @Test func refusesSecretBasesAndLongExponents() throws {
        let n = MPCFixtures.sharedModulusRingPedersen[1].parameters.n
        let context = try MontgomeryContext(modulus: n)
        let table = try FixedBaseSecretExponentiation(base: 7, context: context, maxExponentBits: 100)
        #expect(throws: CryptoError.self) { try table.power(try BigNum.powerOfTwo(100)) }
        #expect(throws: CryptoError.self) { try table.power(try BigNum.powerOfTwo(100).negated()) }
        #expect(try table.power(try BigNum.powerOfTwo(99)) == context.exp(7, try BigNum.powerOfTwo(99)))
        #expect(throws: CryptoError.self) {
            try FixedBaseSecretExponentiation(base: BigNum(7, secret: true), context: context, maxExponentBits: 128)
        }
        #expect(throws: CryptoError.self) {
            try FixedBaseSecretExponentiation(base: 7, context: context, maxExponentBits: 0)
        }
    }

    /// A prover's commitment (secret exponents: the tables) equals the verifier's (public
    /// exponents: the ladder), for exponents of every size the proofs use and beyond the tables.
    @Test func ringPedersenCommitmentsAgreeBetweenTablesAndLadder() throws {
        let setup = MPCFixtures.sharedModulusRingPedersen[2].parameters
        var rng = SeededRandom(seed: "commit-tables")
        let nBits = setup.n.bitLength
        // Twice over: the first commitments under a setup take the ladder (below the threshold
        // for building tables), the second pass takes the tables.
        let sizes = [(256, 2304), (768, 2816), (1792, 2817), (1, 1), (2000, nBits + 900)]
        for (xBits, yBits) in sizes + sizes {
            for signs in 0..<4 {
                var x = try BigNum.random(bits: xBits, using: &rng, secret: false)
                var y = try BigNum.random(bits: yBits, using: &rng, secret: false)
                if signs & 1 == 1 { x = x.negated() }
                if signs & 2 == 2 { y = y.negated() }
                let public_ = try setup.commit(x, y)
                let secret = try setup.commit(x.withSecrecy(true), y.withSecrecy(true))
                #expect(public_ == secret, "x \(xBits) bits, y \(yBits) bits, signs \(signs)")
            }
        }
        // 40 secret commitments under this setup: past the threshold, so the tables exist.
        #expect(RingPedersenTables.tables(for: setup) != nil)
    }
}
