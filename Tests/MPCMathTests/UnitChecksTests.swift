import CryptoPrimitives
import MPCTestSupport
import Testing

@testable import MPCMath

/// The verifiers' batched membership checks: one inversion per modulus, and on a failure the same
/// culprit and error as separate checks would give.
@Suite struct UnitChecksTests {
    static let key = MPCFixtures.paillierKeys[0].publicKey
    static let other = MPCFixtures.paillierKeys[1].publicKey

    /// Ten good values under two moduli, with `bad` (if any) replaced by a non-unit.
    func run(bad: Int?) throws(ProofError) {
        var rng = SeededRandom(seed: "unit-checks")
        let (p, _) = MPCFixtures.paillierKeys[0].primes
        let (p1, _) = MPCFixtures.paillierKeys[1].primes
        var units = UnitChecks()
        for i in 0..<10 {
            let onKey = i % 2 == 0
            let modulus = onKey ? Self.key.n : Self.other.n
            var value = try! (onKey ? Self.key : Self.other).randomUnit(using: &rng).declassified()
            if i == bad { value = (onKey ? p : p1).declassified() }  // shares a factor with its modulus
            if i < 4 {
                // Ciphertexts: a statement's (invalidStatement) or a proof's (notInGroup).
                _ = try units.ciphertext(value, onKey ? Self.key : Self.other, "c\(i)", statement: i < 2)
            } else {
                try units.element(value, modulo: modulus, "x\(i)")
            }
        }
        try units.finish()
    }

    @Test func allUnitsPass() throws {
        try run(bad: nil)
    }

    @Test(arguments: 0..<10)
    func aNonUnitIsNamed(_ bad: Int) {
        let expected: ProofError =
            bad < 2
            ? .invalidStatement("c\(bad) is not in Z*_{N^2}")
            : bad < 4 ? .notInGroup("c\(bad)") : .notInGroup("x\(bad)")
        #expect(throws: expected) { try run(bad: bad) }
    }

    @Test func rangesAreCheckedAtOnce() {
        var units = UnitChecks()
        #expect(throws: ProofError.notInGroup("zero")) { try units.element(.zero, modulo: Self.key.n, "zero") }
        #expect(throws: ProofError.notInGroup("n")) { try units.element(Self.key.n, modulo: Self.key.n, "n") }
        #expect(throws: ProofError.invalidStatement("C is not in Z*_{N^2}")) {
            _ = try units.ciphertext(Self.key.nSquared, Self.key, "C", statement: true)
        }
        #expect(throws: ProofError.notInGroup("A")) {
            _ = try units.ciphertext(BigNum(-1), Self.key, "A", statement: false)
        }
    }
}
