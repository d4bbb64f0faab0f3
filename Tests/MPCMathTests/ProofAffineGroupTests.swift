import CryptoPrimitives
import MPCMath
import Secp256k1
import Testing

/// Alice (verifier) owns N₀ and the ring-Pedersen setup; Bob (prover) owns N₁.
@Suite("Proofs: Π^aff-g (CGGMP21 Fig. 15) and MtA")
struct ProofAffineGroupTests {
    static var alice: PaillierSecretKey { ZK.otherKey }
    static var bob: PaillierSecretKey { ZK.proverKey }

    struct Exchange {
        let k: BigNum
        let c: PaillierCiphertext
        let x: Scalar
        let response: MtAResponse
        var statement: AffineGroupProof.Statement {
            .init(
                verifierKey: ProofAffineGroupTests.alice.publicKey, proverKey: ProofAffineGroupTests.bob.publicKey,
                c: c, d: response.d, y: response.y, x: .generatorMul(x))
        }
    }

    /// Alice sends C = Enc_N₀(k); Bob answers with `MtAResponse.respond` for his secret x.
    static func exchange(seed: String) throws -> Exchange {
        var rng = SeededRandom(seed: seed)
        let k = try BigNum.random(below: CurveOrder.q, using: &rng)
        let (c, _) = try alice.encrypt(k, using: &rng)
        let x = Scalar.random(using: &rng)
        var t = ZK.transcript()
        let response = try MtAResponse.respond(
            aliceKey: alice.publicKey, aliceCiphertext: c, aliceSetup: ZK.setup, bobKey: bob.publicKey, bobSecret: x,
            transcript: &t, rng: &rng)
        return Exchange(k: k, c: c, x: x, response: response)
    }

    static let fixed = try! exchange(seed: "affg-fixed")

    static func verify(_ proof: AffineGroupProof, _ statement: AffineGroupProof.Statement = fixed.statement) throws {
        var t = ZK.transcript()
        try proof.verify(statement: statement, setup: ZK.setup, transcript: &t)
    }

    /// The proof verifies and MtA gives additive shares: α = Dec(D) = k·x + β', β = −β', so
    /// α + β = k·x (mod q); β' is in the wide range ±2^ℓ' and Y encrypts it under Bob's key.
    @Test func mtaSharesAndProofVerify() throws {
        for i in 0..<3 {
            let ex = try i == 0 ? Self.fixed : Self.exchange(seed: "affg-\(i)")
            try Self.verify(ex.response.proof, ex.statement)
            let alpha = try Self.alice.decryptSigned(ex.response.d)
            #expect(alpha == BigNum(ex.x) * ex.k + ex.response.betaPrime)
            let sum = try Scalar(reducing: alpha) + ex.response.beta
            #expect(sum == (try Scalar(reducing: ex.k)) * ex.x)
            #expect(ex.response.betaPrime.hasMagnitudeAtMost(ProofParameters.twoToEllPrime))
            #expect(ex.response.betaPrime.bitLength > 1000)  // drawn from the wide range, not a scalar's
            #expect(try Self.bob.decryptSigned(ex.response.y) == ex.response.betaPrime)
            let decoded = try AffineGroupProof(decoding: ex.response.proof.encode())
            #expect(decoded == ex.response.proof)
            try Self.verify(decoded, ex.statement)
        }
        #expect(String(describing: Self.fixed.response.betaPrime) == "<redacted>")
    }

    @Test func tamperedFieldsFail() throws {
        let setup = ZK.setup
        let n0 = Self.alice.publicKey
        let n1 = Self.bob.publicKey
        let mutations: [ZK.Mutation<AffineGroupProof>] = [
            ("A·(1+N0)", { $0.commitment.a = try $0.commitment.a.modMul(n0.n + .one, n0.nSquared) }),
            ("A = N0", { $0.commitment.a = n0.n }),
            ("Bx + G", { $0.commitment.bx = $0.commitment.bx + .generator }),
            ("Bx at infinity", { $0.commitment.bx = .infinity }),
            ("By·(1+N1)", { $0.commitment.by = try $0.commitment.by.modMul(n1.n + .one, n1.nSquared) }),
            ("By = 0", { $0.commitment.by = .zero }),
            ("E·s", { $0.commitment.e = try $0.commitment.e.modMul(setup.s, setup.n) }),
            ("S·s", { $0.commitment.s = try $0.commitment.s.modMul(setup.s, setup.n) }),
            ("F·t", { $0.commitment.f = try $0.commitment.f.modMul(setup.t, setup.n) }),
            ("T·t", { $0.commitment.t = try $0.commitment.t.modMul(setup.t, setup.n) }),
            ("T = Ñ", { $0.commitment.t = setup.n }),
            ("z1 + 1", { $0.z1 = $0.z1 + .one }),
            ("z1 out of range", { $0.z1 = ProofParameters.twoToEllPlusEpsilon + .one }),
            ("z2 + 1", { $0.z2 = $0.z2 + .one }),
            ("z2 out of range", { $0.z2 = ProofParameters.twoToEllPrimePlusEpsilon.negated() - .one }),
            ("z3 + 1", { $0.z3 = $0.z3 + .one }),
            ("z4 + 1", { $0.z4 = $0.z4 + .one }),
            ("z4 over the cap", { $0.z4 = try BigNum.powerOfTwo(771) * setup.n }),
            ("w next unit", { $0.w = try ZK.nextUnit($0.w, n0.n) }),
            ("w = N0", { $0.w = n0.n }),
            ("wy next unit", { $0.wy = try ZK.nextUnit($0.wy, n1.n) }),
            ("wy = 0", { $0.wy = .zero }),
            ("w and wy swapped", { swap(&$0.w, &$0.wy) }),
        ]
        try ZK.expectRejected(Self.fixed.response.proof, mutations, verify: { try Self.verify($0) })
        // Statement changes: D of another value, Y of another value, another X, keys swapped.
        let statement = Self.fixed.statement
        var rng = SeededRandom(seed: "affg-statement")
        var other = statement
        other.d = try n0.add(statement.d, n0.encrypt(.one, using: &rng).ciphertext)
        #expect(throws: ProofError.self) { try Self.verify(Self.fixed.response.proof, other) }
        other = statement
        other.y = try n1.add(statement.y, n1.encrypt(.one, using: &rng).ciphertext)
        #expect(throws: ProofError.self) { try Self.verify(Self.fixed.response.proof, other) }
        other = statement
        other.x = statement.x + .generator
        #expect(throws: ProofError.self) { try Self.verify(Self.fixed.response.proof, other) }
        other = statement
        other.x = .infinity
        #expect(throws: ProofError.invalidStatement("X is the point at infinity")) {
            try Self.verify(Self.fixed.response.proof, other)
        }
        var t = ZK.transcript()
        #expect(throws: ProofError.self) {
            try Self.fixed.response.proof.verify(statement: statement, setup: ZK.otherSetup, transcript: &t)
        }
    }

    @Test func boundToSessionAndParty() throws {
        for (name, transcript) in ZK.foreignTranscripts {
            var t = transcript
            #expect(throws: ProofError.self, "\(name)") {
                try Self.fixed.response.proof.verify(statement: Self.fixed.statement, setup: ZK.setup, transcript: &t)
            }
        }
    }

    /// GG20's original MtA drew β' from Z_N. A Bob doing that (running Fig. 15 step by step with
    /// y ← Z_N) gets z₂ far outside ±2^(ℓ'+ε): the proof is refused, so only the wide-range
    /// ±2^ℓ' mask is accepted. The honest prover refuses to start.
    @Test func maskOutsideTheWideRangeIsRefused() throws {
        var rng = SeededRandom(seed: "affg-wide")
        let n0 = Self.alice.publicKey
        let n1 = Self.bob.publicKey
        let setup = ZK.setup
        let k = try BigNum.random(below: CurveOrder.q, using: &rng)
        let (c, _) = try n0.encrypt(k, using: &rng)
        let x = try BigNum.random(below: CurveOrder.q, using: &rng)
        let y = try BigNum.random(below: n0.n, using: &rng)  // β' ← Z_N (GG20 §3)
        let (mask, rho) = try n0.encrypt(y, using: &rng)
        let d = try n0.add(n0.multiply(c, by: x), mask)
        let (bigY, rhoY) = try n1.encrypt(y.mod(n1.n), using: &rng)
        let statement = AffineGroupProof.Statement(
            verifierKey: n0, proverKey: n1, c: c, d: d, y: bigY, x: .generatorMul(try Scalar(reducing: x)))
        var t0 = ZK.transcript()
        #expect(throws: ProofError.invalidWitness("y outside ±2^ℓ'")) {
            try AffineGroupProof.prove(
                statement: statement, witness: .init(x: x, y: y, rho: rho, rhoY: rhoY), setup: setup,
                transcript: &t0, rng: &rng)
        }
        // The cheating prover, Fig. 15 step by step.
        let alpha = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPlusEpsilon, using: &rng)
        let beta = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPrimePlusEpsilon, using: &rng)
        let gamma = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPlusEpsilon * setup.n, using: &rng)
        let m = try BigNum.random(inSymmetricRange: ProofParameters.twoToEll * setup.n, using: &rng)
        let delta = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPlusEpsilon * setup.n, using: &rng)
        let mu = try BigNum.random(inSymmetricRange: ProofParameters.twoToEll * setup.n, using: &rng)
        let (betaUnder0, r) = try n0.encrypt(signed: beta, using: &rng)
        let (betaUnder1, ry) = try n1.encrypt(signed: beta, using: &rng)
        let commitment = AffineGroupProof.Commitment(
            a: try n0.add(n0.multiply(c, by: alpha), betaUnder0).value,
            bx: .generatorMul(try Scalar(reducing: alpha)), by: betaUnder1.value,
            e: try setup.commit(alpha, gamma), s: try setup.commit(x, m), f: try setup.commit(beta, delta),
            t: try setup.commit(y, mu))
        var t1 = ZK.transcript()
        let e = try AffineGroupProof.challenge(
            statement: statement, setup: setup, commitment: commitment, transcript: &t1)
        let proof = AffineGroupProof(
            commitment: commitment, z1: alpha + e * x, z2: beta + e * y, z3: gamma + e * m, z4: delta + e * mu,
            w: try r.modMul(rho.modExpSigned(e, n0.n), n0.n), wy: try ry.modMul(rhoY.modExpSigned(e, n1.n), n1.n))
        var t2 = ZK.transcript()
        #expect(throws: ProofError.outOfRange("z2 ∉ ±2^(ℓ'+ε)")) {
            try proof.verify(statement: statement, setup: setup, transcript: &t2)
        }
    }

    @Test func hostileEncodings() throws {
        let bytes = Self.fixed.response.proof.encode()
        try ZK.expectHostileBytesRejected(bytes, firstFieldIsInteger: true) { _ = try AffineGroupProof(decoding: $0) }
    }
}

extension BigNum {
    func hasMagnitudeAtMost(_ bound: BigNum) -> Bool { magnitude <= bound }
}
