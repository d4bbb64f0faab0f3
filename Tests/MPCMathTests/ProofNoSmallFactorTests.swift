import CryptoPrimitives
import MPCMath
import Testing

@Suite("Proofs: Π^fac (CGGMP21 Fig. 28)")
struct ProofNoSmallFactorTests {
    static var key: PaillierSecretKey { ZK.proverKey }
    static let proof: NoSmallFactorProof = {
        var rng = SeededRandom(seed: "fac-fixed")
        var t = ZK.transcript()
        return try! NoSmallFactorProof.prove(key: key, setup: ZK.setup, transcript: &t, rng: &rng)
    }()

    static func verify(
        _ proof: NoSmallFactorProof, modulus: BigNum = key.publicKey.n, setup: RingPedersenParameters = ZK.setup
    ) throws {
        var t = ZK.transcript()
        try proof.verify(modulus: modulus, setup: setup, transcript: &t)
    }

    @Test func honestProofsVerifyAndRoundTrip() throws {
        try Self.verify(Self.proof)
        let bytes = Self.proof.encode()
        let decoded = try NoSmallFactorProof(decoding: bytes)
        #expect(decoded == Self.proof && decoded.encode() == bytes)
        try Self.verify(decoded)
        // Other keys and setups, through the (modulus, p, q) entry point; the factor order does
        // not matter.
        for i in 2..<4 {
            let key = MPCFixtures.paillierKeys[i]
            let setup = MPCFixtures.ringPedersen[i].parameters
            var rng = SeededRandom(seed: "fac-\(i)")
            var t = ZK.transcript()
            let proof = try NoSmallFactorProof.prove(
                modulus: key.publicKey.n, p: key.primes.q, q: key.primes.p, setup: setup, transcript: &t, rng: &rng)
            try Self.verify(proof, modulus: key.publicKey.n, setup: setup)
        }
    }

    @Test func tamperedFieldsFail() throws {
        let setup = ZK.setup
        let n0 = Self.key.publicKey.n
        let bound = try NoSmallFactorProof.responseBound(modulus: n0)
        let mutations: [ZK.Mutation<NoSmallFactorProof>] = [
            ("P·s", { $0.commitment.p = try $0.commitment.p.modMul(setup.s, setup.n) }),
            ("P = 0", { $0.commitment.p = .zero }),
            ("Q·s", { $0.commitment.q = try $0.commitment.q.modMul(setup.s, setup.n) }),
            ("A·t", { $0.commitment.a = try $0.commitment.a.modMul(setup.t, setup.n) }),
            ("B·t", { $0.commitment.b = try $0.commitment.b.modMul(setup.t, setup.n) }),
            ("T·t", { $0.commitment.t = try $0.commitment.t.modMul(setup.t, setup.n) }),
            ("T = Ñ", { $0.commitment.t = setup.n }),
            ("σ + 1", { $0.commitment.sigma = $0.commitment.sigma + .one }),
            (
                "σ out of range",
                {
                    $0.commitment.sigma = ProofParameters.twoToEll * n0 * setup.n + .one
                }
            ),
            ("z1 + 1", { $0.z1 = $0.z1 + .one }),
            ("z1 out of range", { $0.z1 = bound + .one }),
            ("z2 + 1", { $0.z2 = $0.z2 + .one }),
            ("z2 out of range", { $0.z2 = bound.negated() - .one }),
            ("w1 + 1", { $0.w1 = $0.w1 + .one }),
            ("w2 − 1", { $0.w2 = $0.w2 - .one }),
            ("w2 over the cap", { $0.w2 = try BigNum.powerOfTwo(770) * setup.n }),
            ("v + 1", { $0.v = $0.v + .one }),
            ("v over the cap", { $0.v = try BigNum.powerOfTwo(770) * setup.n * n0 }),
            ("z1 and z2 swapped", { swap(&$0.z1, &$0.z2) }),
        ]
        try ZK.expectRejected(Self.proof, mutations, verify: { try Self.verify($0) })
        var bad = Self.proof
        bad.z1 = bound + .one
        #expect(throws: ProofError.outOfRange("z1 ∉ ±2^(ℓ+ε)·√N0")) { try Self.verify(bad) }
        // Statement changes: another N₀, another verifier setup, an even N₀.
        #expect(throws: ProofError.self) { try Self.verify(Self.proof, modulus: ZK.otherKey.publicKey.n) }
        #expect(throws: ProofError.self) { try Self.verify(Self.proof, setup: ZK.otherSetup) }
        #expect(throws: ProofError.invalidStatement("N0 must be odd and positive")) {
            try Self.verify(Self.proof, modulus: n0 - .one)
        }
    }

    @Test func boundToSessionAndParty() throws {
        for (name, transcript) in ZK.foreignTranscripts {
            var t = transcript
            #expect(throws: ProofError.self, "\(name)") {
                try Self.proof.verify(modulus: Self.key.publicKey.n, setup: ZK.setup, transcript: &t)
            }
        }
    }

    @Test func proverRefusesWrongFactorisation() throws {
        var rng = SeededRandom(seed: "fac-witness")
        var t = ZK.transcript()
        let (p, q) = Self.key.primes
        #expect(throws: ProofError.invalidWitness("N0 is not p·q")) {
            try NoSmallFactorProof.prove(
                modulus: Self.key.publicKey.n, p: p, q: q + 2, setup: ZK.setup, transcript: &t, rng: &rng)
        }
        #expect(throws: ProofError.invalidWitness("N0 is not p·q")) {
            try NoSmallFactorProof.prove(
                modulus: Self.key.publicKey.n, p: .one, q: Self.key.publicKey.n, setup: ZK.setup, transcript: &t,
                rng: &rng)
        }
    }

    @Test func hostileEncodings() throws {
        let bytes = Self.proof.encode()
        try ZK.expectHostileBytesRejected(bytes, firstFieldIsInteger: true) { _ = try NoSmallFactorProof(decoding: $0) }
    }
}
