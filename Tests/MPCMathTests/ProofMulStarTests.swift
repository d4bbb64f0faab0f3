import CryptoPrimitives
import MPCMath
import Secp256k1
import Testing

/// The type-7 blame proofs: Π^mul* (CGGMP21 Fig. 31) and Π^log*(σ) (Fig. 25 with the wide range
/// ℓσ).
@Suite("Proofs: Π^mul* and Π^log*(σ)")
struct ProofMulStarTests {
    struct MulHonest {
        let statement: MulStarProof.Statement
        let proof: MulStarProof
    }

    /// C = Enc(k), D = C^x·ρ^N, X = x·G (GG20's H_i = K_i^{w_i} for the type-7 blame).
    static func mulHonest(seed: String, x given: BigNum? = nil) throws -> MulHonest {
        var rng = SeededRandom(seed: seed)
        let key = ZK.proverKey.publicKey
        let k = try BigNum.random(below: CurveOrder.q, using: &rng)
        let x = try given ?? BigNum.random(below: CurveOrder.q, using: &rng)
        let (c, _) = try key.encrypt(k, using: &rng)
        let rho = try key.randomUnit(using: &rng)
        let d = try MulStarProof.multiply(key: key, c, by: x, randomness: rho)
        let statement = MulStarProof.Statement(key: key, c: c, d: d, x: try Scalar(reducing: x) * .generator)
        var t = ZK.transcript()
        let proof = try MulStarProof.prove(
            statement: statement, secret: x, randomness: rho, setup: ZK.setup, transcript: &t, rng: &rng)
        return MulHonest(statement: statement, proof: proof)
    }

    static let mulFixed = try! mulHonest(seed: "mulstar-fixed")

    static func verify(_ proof: MulStarProof, _ statement: MulStarProof.Statement = mulFixed.statement) throws {
        var t = ZK.transcript()
        try proof.verify(statement: statement, setup: ZK.setup, transcript: &t)
    }

    @Test func mulStarHonestProofsVerifyAndRoundTrip() throws {
        try Self.verify(Self.mulFixed.proof)
        for (i, x) in [BigNum.one, BigNum(-5), CurveOrder.q - .one].enumerated() {
            let h = try Self.mulHonest(seed: "mulstar-\(i)", x: x)
            try Self.verify(h.proof, h.statement)
            let decoded = try MulStarProof(decoding: h.proof.encode())
            #expect(decoded == h.proof && decoded.encode() == h.proof.encode())
            try Self.verify(decoded, h.statement)
        }
    }

    @Test func mulStarTamperedFieldsFail() throws {
        let setup = ZK.setup
        let key = ZK.proverKey.publicKey
        let mutations: [ZK.Mutation<MulStarProof>] = [
            ("A·(1+N)", { $0.a = try $0.a.modMul(key.n + .one, key.nSquared) }),
            ("A = 0", { $0.a = .zero }),
            ("Bx + G", { $0.bx = $0.bx + .generator }),
            ("Bx at infinity", { $0.bx = .infinity }),
            ("E·t", { $0.e = try $0.e.modMul(setup.t, setup.n) }),
            ("S·s", { $0.s = try $0.s.modMul(setup.s, setup.n) }),
            ("S = Ñ", { $0.s = setup.n }),
            ("z1 + 1", { $0.z1 = $0.z1 + .one }),
            ("z1 + q", { $0.z1 = $0.z1 + CurveOrder.q }),
            ("z1 out of range", { $0.z1 = ProofParameters.twoToEllPlusEpsilon + .one }),
            ("z2 + 1", { $0.z2 = $0.z2 + .one }),
            ("w·2", { $0.w = try $0.w.modMul(BigNum(2), key.n) }),
            ("w = 0", { $0.w = .zero }),
        ]
        try ZK.expectRejected(Self.mulFixed.proof, mutations) { try Self.verify($0) }
    }

    @Test func mulStarWrongStatementOrContextFails() throws {
        let s = Self.mulFixed.statement
        let key = ZK.proverKey.publicKey
        var otherX = s
        otherX.x = s.x + .generator
        var otherD = s
        otherD.d = try key.add(s.d, key.encrypt(.one, randomness: BigNum(3)))
        var otherC = s
        otherC.c = try key.add(s.c, key.encrypt(.one, randomness: BigNum(3)))
        for statement in [otherX, otherD, otherC] {
            #expect(throws: ProofError.self) { try Self.verify(Self.mulFixed.proof, statement) }
        }
        for (name, foreign) in ZK.foreignTranscripts {
            var t = foreign
            #expect(throws: ProofError.self, "\(name) accepted") {
                try Self.mulFixed.proof.verify(statement: s, setup: ZK.setup, transcript: &t)
            }
        }
        var t = ZK.transcript()
        #expect(throws: ProofError.self) {
            try Self.mulFixed.proof.verify(statement: s, setup: ZK.otherSetup, transcript: &t)
        }
    }

    @Test func mulStarProverRefusesAWrongWitness() throws {
        var rng = SeededRandom(seed: "mulstar-witness")
        let s = Self.mulFixed.statement
        var t = ZK.transcript()
        // x that does not open D (a cheating type-7 prover cannot make a proof at all).
        #expect(throws: (any Error).self) {
            try MulStarProof.prove(
                statement: s, secret: BigNum(7), randomness: BigNum(3), setup: ZK.setup, transcript: &t, rng: &rng)
        }
    }

    @Test func mulStarHostileEncodingsRejected() throws {
        try ZK.expectHostileBytesRejected(Self.mulFixed.proof.encode(), firstFieldIsInteger: true) {
            _ = try MulStarProof(decoding: $0)
        }
        // A Π^log* encoding is not a Π^mul* one (distinct tags).
        #expect(throws: ProofError.self) { try MulStarProof(decoding: Self.sigmaFixed.proof.encode()) }
    }

    // MARK: Π^log*(σ)

    struct SigmaHonest {
        let statement: SigmaLogStarProof.Statement
        let proof: SigmaLogStarProof
    }

    static let base = Point.generatorMul(Scalar.hash(domain: "test", message: [9]))

    /// x in the wide range (a Σ_i plaintext), C = Enc(x), X = x·R.
    static func sigmaHonest(seed: String, x given: BigNum? = nil) throws -> SigmaHonest {
        var rng = SeededRandom(seed: seed)
        let key = ZK.proverKey.publicKey
        let x = try given ?? BigNum.random(inSymmetricRange: ProofParameters.twoToEllSigma, using: &rng)
        let (c, rho) = try key.encrypt(signed: x, using: &rng)
        let statement = SigmaLogStarProof.Statement(
            key: key, ciphertext: c, point: try Scalar(reducing: x) * base, base: base)
        var t = ZK.transcript()
        let proof = try SigmaLogStarProof.prove(
            statement: statement, secret: x, randomness: rho, setup: ZK.setup, transcript: &t, rng: &rng)
        return SigmaHonest(statement: statement, proof: proof)
    }

    static let sigmaFixed = try! sigmaHonest(seed: "sigmalog-fixed")

    static func verify(
        _ proof: SigmaLogStarProof, _ statement: SigmaLogStarProof.Statement = sigmaFixed.statement
    ) throws {
        var t = ZK.transcript()
        try proof.verify(statement: statement, setup: ZK.setup, transcript: &t)
    }

    @Test func sigmaLogStarHonestProofsVerify() throws {
        try Self.verify(Self.sigmaFixed.proof)
        for (i, x) in [ProofParameters.twoToEllSigma, ProofParameters.twoToEllSigma.negated(), BigNum(3)].enumerated() {
            let h = try Self.sigmaHonest(seed: "sigmalog-\(i)", x: x)
            try Self.verify(h.proof, h.statement)
            let decoded = try SigmaLogStarProof(decoding: h.proof.encode())
            #expect(decoded == h.proof)
            try Self.verify(decoded, h.statement)
        }
    }

    @Test func sigmaLogStarTamperedOrMisusedFails() throws {
        let setup = ZK.setup
        let key = ZK.proverKey.publicKey
        let mutations: [ZK.Mutation<SigmaLogStarProof>] = [
            ("S·s", { $0.commitment.s = try $0.commitment.s.modMul(setup.s, setup.n) }),
            ("A·(1+N)", { $0.commitment.a = try $0.commitment.a.modMul(key.n + .one, key.nSquared) }),
            ("Y + G", { $0.commitment.y = $0.commitment.y + .generator }),
            ("D·t", { $0.commitment.d = try $0.commitment.d.modMul(setup.t, setup.n) }),
            ("z1 + 1", { $0.z1 = $0.z1 + .one }),
            ("z1 out of range", { $0.z1 = ProofParameters.twoToEllSigmaPlusEpsilon + .one }),
            ("z2·2", { $0.z2 = try $0.z2.modMul(BigNum(2), key.n) }),
            ("z3 + 1", { $0.z3 = $0.z3 + .one }),
        ]
        try ZK.expectRejected(Self.sigmaFixed.proof, mutations) { try Self.verify($0) }
        // X = (x+1)·R: the type-7 lie (S_i not σ_i·R for the σ_i inside Σ_i).
        var lie = Self.sigmaFixed.statement
        lie.point = lie.point + Self.base
        #expect(throws: ProofError.self) { try Self.verify(Self.sigmaFixed.proof, lie) }
        for (name, foreign) in ZK.foreignTranscripts {
            var t = foreign
            #expect(throws: ProofError.self, "\(name) accepted") {
                try Self.sigmaFixed.proof.verify(statement: Self.sigmaFixed.statement, setup: ZK.setup, transcript: &t)
            }
        }
        // A plaintext beyond ±2^ℓσ cannot be proven.
        var rng = SeededRandom(seed: "sigmalog-range")
        let big = ProofParameters.twoToEllSigma + .one
        let (c, rho) = try key.encrypt(signed: big, using: &rng)
        let statement = SigmaLogStarProof.Statement(
            key: key, ciphertext: c, point: try Scalar(reducing: big) * Self.base, base: Self.base)
        var t = ZK.transcript()
        #expect(throws: (any Error).self) {
            try SigmaLogStarProof.prove(
                statement: statement, secret: big, randomness: rho, setup: ZK.setup, transcript: &t, rng: &rng)
        }
    }

    @Test func sigmaLogStarIsNotLogStar() throws {
        // Same statement shape, different label and tag: neither proof passes as the other.
        #expect(throws: ProofError.self) { try LogStarProof(decoding: Self.sigmaFixed.proof.encode()) }
        try ZK.expectHostileBytesRejected(Self.sigmaFixed.proof.encode(), firstFieldIsInteger: true) {
            _ = try SigmaLogStarProof(decoding: $0)
        }
    }
}
