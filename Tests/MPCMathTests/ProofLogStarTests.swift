import CryptoPrimitives
import MPCMath
import Secp256k1
import Testing

@Suite("Proofs: Π^log* (CGGMP21 Fig. 25)")
struct ProofLogStarTests {
    struct Honest {
        let statement: LogStarProof.Statement
        let proof: LogStarProof
    }

    /// x ← Z_q, C = Enc(x), X = x·g for a base g (G, or a Γ = γ·G as in CGGMP21's Δ_i = Γ^k_i).
    static func honest(seed: String, base: Point = .generator, x given: BigNum? = nil) throws -> Honest {
        var rng = SeededRandom(seed: seed)
        let key = ZK.proverKey
        let x = try given ?? BigNum.random(below: CurveOrder.q, using: &rng)
        let (c, rho) = try key.publicKey.encrypt(signed: x, using: &rng)
        let statement = LogStarProof.Statement(
            key: key.publicKey, ciphertext: c, point: try Scalar(reducing: x) * base, base: base)
        var t = ZK.transcript()
        let proof = try LogStarProof.prove(
            statement: statement, secret: x, randomness: rho, setup: ZK.setup, transcript: &t, rng: &rng)
        return Honest(statement: statement, proof: proof)
    }

    static let gamma = Point.generatorMul(Scalar.hash(domain: "test", message: [7]))
    static let fixed = try! honest(seed: "logstar-fixed", base: gamma)

    static func verify(_ proof: LogStarProof, _ statement: LogStarProof.Statement = fixed.statement) throws {
        var t = ZK.transcript()
        try proof.verify(statement: statement, setup: ZK.setup, transcript: &t)
    }

    @Test func honestProofsVerify() throws {
        try Self.verify(Self.fixed.proof)
        for (i, x) in [BigNum.one, BigNum(-5), ProofParameters.twoToEll, CurveOrder.q - .one].enumerated() {
            let h = try Self.honest(seed: "logstar-\(i)", base: i % 2 == 0 ? .generator : Self.gamma, x: x)
            try Self.verify(h.proof, h.statement)
            let decoded = try LogStarProof(decoding: h.proof.encode())
            #expect(decoded == h.proof && decoded.encode() == h.proof.encode())
            try Self.verify(decoded, h.statement)
        }
    }

    @Test func tamperedFieldsFail() throws {
        let setup = ZK.setup
        let key = ZK.proverKey.publicKey
        let mutations: [ZK.Mutation<LogStarProof>] = [
            ("S·s", { $0.commitment.s = try $0.commitment.s.modMul(setup.s, setup.n) }),
            ("S = 1 − 1", { $0.commitment.s = .zero }),
            ("A·(1+N)", { $0.commitment.a = try $0.commitment.a.modMul(key.n + .one, key.nSquared) }),
            ("A = 0", { $0.commitment.a = .zero }),
            ("Y + G", { $0.commitment.y = $0.commitment.y + .generator }),
            ("Y at infinity", { $0.commitment.y = .infinity }),
            ("D·t", { $0.commitment.d = try $0.commitment.d.modMul(setup.t, setup.n) }),
            ("D = Ñ + 1", { $0.commitment.d = setup.n + .one }),
            ("z1 + 1", { $0.z1 = $0.z1 + .one }),
            ("z1 + q (same point, other integer)", { $0.z1 = $0.z1 + CurveOrder.q }),
            ("z1 out of range", { $0.z1 = ProofParameters.twoToEllPlusEpsilon.negated() - .one }),
            ("z2 next unit", { $0.z2 = try ZK.nextUnit($0.z2, key.n) }),
            ("z2 negative", { $0.z2 = $0.z2.negated() }),
            ("z3 − 1", { $0.z3 = $0.z3 - .one }),
        ]
        try ZK.expectRejected(Self.fixed.proof, mutations, verify: { try Self.verify($0) })
        let statement = Self.fixed.statement
        var other = statement
        other.point = statement.point + .generator
        #expect(throws: ProofError.self) { try Self.verify(Self.fixed.proof, other) }
        other = statement
        other.base = .generator
        #expect(throws: ProofError.self) { try Self.verify(Self.fixed.proof, other) }
        other = statement
        other.point = .infinity
        #expect(throws: ProofError.invalidStatement("point at infinity")) { try Self.verify(Self.fixed.proof, other) }
        var t = ZK.transcript()
        #expect(throws: ProofError.self) {
            try Self.fixed.proof.verify(statement: statement, setup: ZK.otherSetup, transcript: &t)
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

    @Test func proverRefusesBadWitness() throws {
        var rng = SeededRandom(seed: "logstar-witness")
        let key = ZK.proverKey.publicKey
        let x = try BigNum.random(below: CurveOrder.q, using: &rng)
        let (c, rho) = try key.encrypt(x, using: &rng)
        var t = ZK.transcript()
        let wrongPoint = LogStarProof.Statement(
            key: key, ciphertext: c, point: .generatorMul(try Scalar(reducing: x + .one)))
        #expect(throws: ProofError.invalidWitness("X ≠ x·g")) {
            try LogStarProof.prove(
                statement: wrongPoint, secret: x, randomness: rho, setup: ZK.setup, transcript: &t, rng: &rng)
        }
        let big = ProofParameters.twoToEll + .one
        let statement = LogStarProof.Statement(
            key: key, ciphertext: c, point: .generatorMul(try Scalar(reducing: big)))
        #expect(throws: ProofError.invalidWitness("x outside ±2^ℓ")) {
            try LogStarProof.prove(
                statement: statement, secret: big, randomness: rho, setup: ZK.setup, transcript: &t, rng: &rng)
        }
    }

    @Test func hostileEncodings() throws {
        let bytes = Self.fixed.proof.encode()
        try ZK.expectHostileBytesRejected(bytes, firstFieldIsInteger: true) { _ = try LogStarProof(decoding: $0) }
    }
}
