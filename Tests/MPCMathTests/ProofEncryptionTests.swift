import CryptoPrimitives
import MPCMath
import PropertyBased
import Secp256k1
import Testing

@Suite("Proofs: Π^enc (CGGMP21 Fig. 14)")
struct ProofEncryptionTests {
    struct Honest {
        let statement: EncryptionProof.Statement
        let proof: EncryptionProof
    }

    static func honest(seed: String, plaintext: BigNum? = nil) throws -> Honest {
        var rng = SeededRandom(seed: seed)
        let key = ZK.proverKey
        let k = try plaintext ?? BigNum.random(below: CurveOrder.q, using: &rng)
        let (c, rho) = try key.publicKey.encrypt(signed: k, using: &rng)
        let statement = EncryptionProof.Statement(key: key.publicKey, ciphertext: c)
        var t = ZK.transcript()
        let proof = try EncryptionProof.prove(
            statement: statement, plaintext: k, randomness: rho, setup: ZK.setup, transcript: &t, rng: &rng)
        return Honest(statement: statement, proof: proof)
    }

    static let fixed = try! honest(seed: "enc-fixed")

    static func verify(_ proof: EncryptionProof, _ statement: EncryptionProof.Statement = fixed.statement) throws {
        var t = ZK.transcript()
        try proof.verify(statement: statement, setup: ZK.setup, transcript: &t)
    }

    @Test func honestProofsVerify() async throws {
        // Plaintexts across the whole range ±2^ℓ, the edges included.
        let edges = [BigNum.zero, .one, BigNum(-1), ProofParameters.twoToEll, ProofParameters.twoToEll.negated()]
        for (i, k) in edges.enumerated() {
            let h = try Self.honest(seed: "enc-edge-\(i)", plaintext: k)
            try Self.verify(h.proof, h.statement)
        }
        await propertyCheck(count: 4, input: Gen.uint8().array(of: 0...32), Gen.bool) { bytes, negative in
            let magnitude = BigNum(bytes: bytes)
            let h = try Self.honest(
                seed: "enc-prop-\(bytes)", plaintext: negative ? magnitude.negated() : magnitude)
            try Self.verify(h.proof, h.statement)
            let decoded = try EncryptionProof(decoding: h.proof.encode())
            #expect(decoded == h.proof)
            try Self.verify(decoded, h.statement)
        }
    }

    @Test func tamperedFieldsFail() throws {
        let proof = Self.fixed.proof
        let setup = ZK.setup
        let key = ZK.proverKey.publicKey
        let (p, _) = MPCFixtures.ringPedersen[1].primes
        let mutations: [ZK.Mutation<EncryptionProof>] = [
            ("S·s", { $0.commitment.s = try $0.commitment.s.modMul(setup.s, setup.n) }),
            ("S = 0", { $0.commitment.s = .zero }),
            ("S = Ñ", { $0.commitment.s = setup.n }),
            ("S shares a factor with Ñ", { $0.commitment.s = p.declassified() }),
            ("A·(1+N)", { $0.commitment.a = try $0.commitment.a.modMul(key.n + .one, key.nSquared) }),
            ("A = N²", { $0.commitment.a = key.nSquared }),
            ("A = N", { $0.commitment.a = key.n }),
            ("C·t", { $0.commitment.c = try $0.commitment.c.modMul(setup.t, setup.n) }),
            ("z1 + 1", { $0.z1 = $0.z1 + .one }),
            ("z1 negated", { $0.z1 = $0.z1.negated() }),
            ("z1 just out of range", { $0.z1 = ProofParameters.twoToEllPlusEpsilon + .one }),
            ("z1 far out of range", { $0.z1 = try BigNum.powerOfTwo(1500).negated() }),
            ("z2 next unit", { $0.z2 = try ZK.nextUnit($0.z2, key.n) }),
            ("z2 = 0", { $0.z2 = .zero }),
            ("z2 = N", { $0.z2 = key.n }),
            ("z3 + 1", { $0.z3 = $0.z3 + .one }),
            ("z3 over the cap", { $0.z3 = try BigNum.powerOfTwo(770) * setup.n }),
        ]
        try ZK.expectRejected(proof, mutations, verify: { try Self.verify($0) })
        // Out-of-range z1 is named as such.
        var bad = proof
        bad.z1 = ProofParameters.twoToEllPlusEpsilon + .one
        #expect(throws: ProofError.outOfRange("z1 ∉ ±2^(ℓ+ε)")) { try Self.verify(bad) }
        // Statement changes: K of k + 1, another key, another setup.
        let statement = Self.fixed.statement
        let shifted = try key.validate(ciphertext: statement.ciphertext.value.modMul(key.n + .one, key.nSquared))
        #expect(throws: ProofError.self) { try Self.verify(proof, .init(key: key, ciphertext: shifted)) }
        var rng = SeededRandom(seed: "enc-tamper")
        let otherKey = ZK.otherKey.publicKey
        let underOther = try otherKey.encrypt(.one, using: &rng).ciphertext
        #expect(throws: ProofError.self) { try Self.verify(proof, .init(key: otherKey, ciphertext: underOther)) }
        var t = ZK.transcript()
        #expect(throws: ProofError.self) {
            try proof.verify(statement: statement, setup: ZK.otherSetup, transcript: &t)
        }
        // K outside Z*_{N²} (a value valid under another key, sharing a factor with N): an
        // invalid statement.
        let outside = try otherKey.validate(ciphertext: ZK.proverKey.primes.p.declassified())
        #expect(throws: ProofError.invalidStatement("K is not in Z*_{N^2}")) {
            try Self.verify(proof, .init(key: key, ciphertext: outside))
        }
    }

    @Test func boundToSessionAndParty() throws {
        for (name, transcript) in ZK.foreignTranscripts {
            var t = transcript
            #expect(throws: ProofError.self, "\(name)") {
                try Self.fixed.proof.verify(statement: Self.fixed.statement, setup: ZK.setup, transcript: &t)
            }
        }
    }

    /// A prover following the algorithm with k far outside ±2^ℓ (what an Alpha-Rays style
    /// attacker needs) produces z₁ outside ±2^(ℓ+ε): refused. The honest prover refuses to start.
    @Test func plaintextOutOfRangeCannotBeProven() throws {
        var rng = SeededRandom(seed: "enc-out-of-range")
        let key = ZK.proverKey
        let setup = ZK.setup
        let k = try BigNum.powerOfTwo(ProofParameters.ell + ProofParameters.epsilon + 64)
        let (c, rho) = try key.encrypt(k, using: &rng)
        let statement = EncryptionProof.Statement(key: key.publicKey, ciphertext: c)
        var t0 = ZK.transcript()
        #expect(throws: ProofError.invalidWitness("plaintext outside ±2^ℓ")) {
            try EncryptionProof.prove(
                statement: statement, plaintext: k, randomness: rho, setup: setup, transcript: &t0, rng: &rng)
        }
        // The cheating prover: Fig. 14 step by step with the oversized k.
        let alpha = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPlusEpsilon, using: &rng)
        let mu = try BigNum.random(inSymmetricRange: ProofParameters.twoToEll * setup.n, using: &rng)
        let gamma = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPlusEpsilon * setup.n, using: &rng)
        let (a, r) = try key.publicKey.encrypt(signed: alpha, using: &rng)
        let commitment = EncryptionProof.Commitment(
            s: try setup.commit(k, mu), a: a.value, c: try setup.commit(alpha, gamma))
        var t1 = ZK.transcript()
        let e = try EncryptionProof.challenge(
            statement: statement, setup: setup, commitment: commitment, transcript: &t1)
        let proof = EncryptionProof(
            commitment: commitment, z1: alpha + e * k,
            z2: try r.modMul(rho.modExpSigned(e, key.publicKey.n), key.publicKey.n),
            z3: gamma + e * mu)
        // The equations hold (the cheater computed them honestly) …
        #expect(try setup.commit(proof.z1, proof.z3) == commitment.c.modMul(setup.power(commitment.s, e), setup.n))
        // … but the range check refuses the proof.
        var t2 = ZK.transcript()
        #expect(throws: ProofError.outOfRange("z1 ∉ ±2^(ℓ+ε)")) {
            try proof.verify(statement: statement, setup: setup, transcript: &t2)
        }
        #expect(throws: ProofError.self) { try EncryptionProof(decoding: proof.encode()) }
    }

    @Test func hostileEncodings() throws {
        let bytes = Self.fixed.proof.encode()
        try ZK.expectHostileBytesRejected(bytes, firstFieldIsInteger: true) { _ = try EncryptionProof(decoding: $0) }
    }
}
