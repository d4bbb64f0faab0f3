import CryptoPrimitives
import Testing

/// A deterministic byte stream (SplitMix64) so a seed names one run of the generator.
private struct SplitMix: RandomSource {
    var state: UInt64
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for i in 0..<buffer.count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            buffer[i] = UInt8(truncatingIfNeeded: z ^ (z >> 31))
        }
    }
}

@Suite("Safe-prime generation (combined sieve)")
struct SafePrimeTests {
    @Test(
        "results are safe primes of exactly the size asked, top two bits set, ≡ 3 mod 4",
        arguments: [64, 65, 66, 67, 71, 256, 512])
    func shape(bits: Int) throws {
        var rng = SplitMix(state: UInt64(bits))
        for _ in 0..<3 {
            let p = try BigNum.generateSafePrime(bits: bits, using: &rng)
            #expect(p.isSecret)
            #expect(p.bitLength == bits)
            #expect(p.isBitSet(bits - 2), "second-highest bit set")
            #expect(p.isSafePrime)
            #expect(try p.mod(BigNum(4 as UInt64)) == BigNum(3 as UInt64))
            // Top two bits set ⇒ a product of two such primes has exactly 2·bits bits.
            #expect((p * p).bitLength == 2 * bits)
        }
    }

    @Test("one 1024-bit safe prime from the system generator (the Paillier size)")
    func paillierSize() throws {
        let p = try BigNum.generateSafePrime(bits: 1024)
        #expect(p.bitLength == 1024)
        #expect(p.isSafePrime)
    }

    @Test("the same seed gives the same prime; different seeds differ")
    func deterministic() throws {
        var a = SplitMix(state: 7)
        var b = SplitMix(state: 7)
        var c = SplitMix(state: 8)
        let pa = try BigNum.generateSafePrime(bits: 256, using: &a)
        #expect(pa == (try BigNum.generateSafePrime(bits: 256, using: &b)))
        #expect(pa != (try BigNum.generateSafePrime(bits: 256, using: &c)))
    }

    @Test("sizes outside 64…65536 bits are refused")
    func sizes() {
        var rng = SplitMix(state: 1)
        #expect(throws: CryptoError.self) { try BigNum.generateSafePrime(bits: 63, using: &rng) }
        #expect(throws: CryptoError.self) { try BigNum.generateSafePrime(bits: 70_000, using: &rng) }
    }
}
