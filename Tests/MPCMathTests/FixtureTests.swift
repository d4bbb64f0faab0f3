import CryptoPrimitives
import MPCMath
import Testing

@Suite("MPC fixtures")
struct FixtureTests {
    /// Every fixture prime is a 1024-bit safe prime, no prime is used twice, and every modulus
    /// has exactly 2048 bits: the tests may then build keys without re-checking.
    @Test func primesAreSafeAndDistinct() throws {
        let material = MPCFixtures.material
        #expect(material.paillier.count >= 8 && material.ringPedersen.count >= 8)
        let all = (material.paillier + material.ringPedersen).flatMap { [$0.p, $0.q] }
        #expect(Set(all).count == all.count)
        for p in all {
            #expect(p.bitLength == 1024)
            #expect(p.isSafePrime)
        }
        for pair in material.paillier + material.ringPedersen {
            #expect((pair.p * pair.q).bitLength == 2048)
        }
        #expect(Set(MPCFixtures.paillierKeys.map(\.publicKey.n)).count == MPCFixtures.paillierKeys.count)
    }
}
