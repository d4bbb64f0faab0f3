import CryptoPrimitives
import MPCMath
import Secp256k1
import Testing

/// Verification by the owner of the modulus (`Factorization`): the same accept/reject decisions
/// as the public check, prime by prime.
@Suite("Owner-side verification modulo p and q")
struct OwnerVerificationTests {
    /// The verifier's setup on its own Paillier modulus (Ñ = N, CGGMP21 Fig. 6) and its secrets.
    static let verifierKey = MPCFixtures.paillierKeys[1]
    static let verifierSetupSecret: RingPedersenSecret = {
        var rng = SeededRandom(seed: "owner-setup")
        let (p, q) = verifierKey.primes
        return try! RingPedersenSecret(p: p, q: q, using: &rng, validatingPrimes: false)
    }()
    static var setup: RingPedersenParameters { verifierSetupSecret.parameters }
    static var owner: Factorization { verifierKey.factorization }

    @Test("the verifier's setup is on its own Paillier modulus, so its factorisation applies")
    func ownerFactorsTheSetup() {
        // Without this, `holds` would silently take the public path and the tests below would
        // not exercise the owner path at all.
        #expect(Self.owner.n == Self.setup.n)
        #expect(Self.owner.n == Self.verifierKey.publicKey.n)
        #expect(MPCFixtures.paillierKeys[3].factorization.n != Self.setup.n)
    }

    @Test("equalModN / equalModNSquared agree with the products computed modulo N and N²")
    func factorizationAgreesWithDirectComputation() throws {
        var rng = SeededRandom(seed: "owner-products")
        let n = Self.verifierKey.publicKey.n
        let n2 = Self.verifierKey.publicKey.nSquared
        for round in 0..<12 {
            // Random units, exponents of assorted sizes and signs (some longer than φ).
            func unit(_ m: BigNum) throws -> BigNum {
                while true {
                    let x = try BigNum.random(below: m, using: &rng, secret: false)
                    if !x.isZero && x.isCoprime(to: n) { return x }
                }
            }
            let bits = [1, 200, 1023, 1024, 2047, 2100, 3000][round % 7]
            let a = try unit(n2)
            let b = try unit(n2)
            var e = try BigNum.random(bits: bits, using: &rng, secret: false)
            if round % 2 == 1 { e = e.negated() }
            let f = try BigNum.random(bits: 300, using: &rng, secret: false)
            for (modulus, check) in [
                (n, Self.owner.equalModN), (n2, { try Self.owner.equalModNSquared($0, $1) }),
            ] as [(BigNum, ([Factorization.Term], [Factorization.Term]) throws -> Bool)] {
                let ctx = try MontgomeryContext(modulus: modulus)
                let lhs = try ctx.mul(ctx.expSigned(a, e), ctx.exp(b, f))
                // rhs = lhs as one term: must be equal; lhs·a must not.
                #expect(try check([(a, e), (b, f)], [(lhs, .one)]), "round \(round)")
                #expect(try !check([(a, e), (b, f)], [(ctx.mul(lhs, a), .one)]), "round \(round)")
                // The same with the sides swapped (a negative exponent on the right moves left).
                #expect(try check([(lhs, .one)], [(a, e), (b, f)]), "round \(round) swapped")
                #expect(try !check([(ctx.mul(lhs, b), .one)], [(a, e), (b, f)]), "round \(round) swapped")
            }
        }
    }

    @Test("the N-th power factor (half-size exponents modulo p² and q²) agrees with w^N mod N²")
    func nthPowerFactor() throws {
        var rng = SeededRandom(seed: "owner-nth-power")
        let key = Self.verifierKey.publicKey
        let ctx = try MontgomeryContext(modulus: key.nSquared)
        for _ in 0..<6 {
            let w = try key.randomUnit(using: &rng)
            let a = try key.randomUnit(using: &rng)
            let wToN = try ctx.exp(w.declassified(), key.n)
            let rhs = try ctx.mul(a, wToN)
            #expect(try Self.owner.equalModNSquared([(a, .one)], [(rhs, .one)], timesNthPowerOf: w))
            // Another w, or w^N missing: refused.
            #expect(try !Self.owner.equalModNSquared([(a, .one)], [(rhs, .one)], timesNthPowerOf: a))
            #expect(try !Self.owner.equalModNSquared([(a, .one)], [(rhs, .one)]))
            #expect(try Self.owner.equalModNSquared([(a, .one), (w, key.n)], [(rhs, .one)]))
        }
    }

    @Test("Π^enc: the owner accepts the honest proof and refuses tampered ones, like the public check")
    func encryption() throws {
        var rng = SeededRandom(seed: "owner-enc")
        let prover = MPCFixtures.paillierKeys[0]
        let k = try BigNum.random(bits: 250, using: &rng)
        let (kc, rho) = try prover.publicKey.encrypt(k, using: &rng)
        let st = EncryptionProof.Statement(key: prover.publicKey, ciphertext: kc)
        var t = ZK.transcript()
        let proof = try EncryptionProof.prove(
            statement: st, plaintext: k, randomness: rho, setup: Self.setup, transcript: &t, rng: &rng,
            proverSecret: prover)
        func verify(_ p: EncryptionProof, owner: Factorization?) throws {
            var t = ZK.transcript()
            try p.verify(statement: st, setup: Self.setup, transcript: &t, owner: owner)
        }
        try verify(proof, owner: nil)
        try verify(proof, owner: Self.owner)
        try verify(proof, owner: MPCFixtures.paillierKeys[3].factorization)  // not this Ñ: public path
        let mutations: [ZK.Mutation<EncryptionProof>] = [
            ("z1 + 1", { $0.z1 = $0.z1 + .one }),
            ("z3 + 1", { $0.z3 = $0.z3 + .one }),
            ("C·s", { $0.commitment.c = try $0.commitment.c.modMul(Self.setup.s, Self.setup.n) }),
            ("S·t", { $0.commitment.s = try $0.commitment.s.modMul(Self.setup.t, Self.setup.n) }),
        ]
        try ZK.expectRejected(proof, mutations, verify: { try verify($0, owner: Self.owner) })
    }

    @Test("Π^aff-g: the owner of N₀ and Ñ accepts the honest MtA response and refuses tampered ones")
    func affineGroup() throws {
        var rng = SeededRandom(seed: "owner-aff")
        let alice = Self.verifierKey
        let bob = MPCFixtures.paillierKeys[2]
        let (kc, _) = try alice.publicKey.encrypt(try BigNum.random(bits: 250, using: &rng), using: &rng)
        let x = try Scalar(reducing: try BigNum.random(bits: 256, using: &rng))
        var t = ZK.transcript()
        let response = try MtAResponse.respond(
            aliceKey: alice.publicKey, aliceCiphertext: kc, aliceSetup: Self.setup, bobKey: bob.publicKey,
            bobSecret: x, transcript: &t, rng: &rng, bobPaillierSecret: bob)
        // Bob's CRT encryption is the same ciphertext his public key would make: for random signed
        // plaintexts and randomness, the owner path and the public path agree (and the key of
        // another party falls back to the public path).
        for _ in 0..<4 {
            let m = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPrime, using: &rng)
            let r = try bob.publicKey.randomUnit(using: &rng)
            let publicPath = try bob.publicKey.encrypt(signed: m, randomness: r)
            #expect(try bob.publicKey.encrypt(signed: m, randomness: r, owner: bob) == publicPath)
            #expect(try bob.publicKey.encrypt(signed: m, randomness: r, owner: alice) == publicPath)
            #expect(try bob.decryptSigned(publicPath) == m)
        }
        // Alice decrypts k·x + β' from D (the MtA relation the proof is about).
        #expect(try alice.decryptSigned(response.d) != .zero)
        let st = AffineGroupProof.Statement(
            verifierKey: alice.publicKey, proverKey: bob.publicKey, c: kc, d: response.d, y: response.y,
            x: Point.generatorMul(x))
        func verify(_ p: AffineGroupProof, owner: Factorization?) throws {
            var t = ZK.transcript()
            try p.verify(statement: st, setup: Self.setup, transcript: &t, owner: owner)
        }
        try verify(response.proof, owner: nil)
        try verify(response.proof, owner: Self.owner)
        let n0 = alice.publicKey.nSquared
        let mutations: [ZK.Mutation<AffineGroupProof>] = [
            ("z1 + 1", { $0.z1 = $0.z1 + .one }),
            ("z2 + 1", { $0.z2 = $0.z2 + .one }),
            ("z3 + 1", { $0.z3 = $0.z3 + .one }),
            ("z4 − 1", { $0.z4 = $0.z4 - .one }),
            ("A·(1+N)", { $0.commitment.a = try $0.commitment.a.modMul(alice.publicKey.n + .one, n0) }),
            ("w·2", { $0.w = try $0.w.modMul(BigNum(2 as UInt64), alice.publicKey.n) }),
            ("E·s", { $0.commitment.e = try $0.commitment.e.modMul(Self.setup.s, Self.setup.n) }),
            ("T·t", { $0.commitment.t = try $0.commitment.t.modMul(Self.setup.t, Self.setup.n) }),
        ]
        try ZK.expectRejected(response.proof, mutations, verify: { try verify($0, owner: Self.owner) })
        try ZK.expectRejected(response.proof, mutations, verify: { try verify($0, owner: nil) })
    }

    @Test("Π^log* and Π^fac: the owner of Ñ accepts honest proofs and refuses tampered ones")
    func logStarAndNoSmallFactor() throws {
        var rng = SeededRandom(seed: "owner-log")
        let prover = MPCFixtures.paillierKeys[0]
        let x = try BigNum.random(bits: 250, using: &rng)
        let (c, rho) = try prover.publicKey.encrypt(x, using: &rng)
        let base = Point.generatorMul(try Scalar(reducing: BigNum(7 as UInt64)))
        let st = LogStarProof.Statement(
            key: prover.publicKey, ciphertext: c, point: base.multipliedVartime(by: try Scalar(reducing: x)), base: base
        )
        var t = ZK.transcript()
        let log = try LogStarProof.prove(
            statement: st, secret: x, randomness: rho, setup: Self.setup, transcript: &t, rng: &rng,
            proverSecret: prover)
        func verifyLog(_ p: LogStarProof) throws {
            var t = ZK.transcript()
            try p.verify(statement: st, setup: Self.setup, transcript: &t, owner: Self.owner)
        }
        try verifyLog(log)
        try ZK.expectRejected(
            log, [("z1 + 1", { $0.z1 = $0.z1 + .one }), ("z3 + 1", { $0.z3 = $0.z3 + .one })], verify: verifyLog)

        var tf = ZK.transcript()
        let fac = try NoSmallFactorProof.prove(key: prover, setup: Self.setup, transcript: &tf, rng: &rng)
        func verifyFac(_ p: NoSmallFactorProof) throws {
            var t = ZK.transcript()
            try p.verify(modulus: prover.publicKey.n, setup: Self.setup, transcript: &t, owner: Self.owner)
        }
        try verifyFac(fac)
        try ZK.expectRejected(
            fac,
            [
                ("z1 + 1", { $0.z1 = $0.z1 + .one }), ("w1 + 1", { $0.w1 = $0.w1 + .one }),
                ("v + 1", { $0.v = $0.v + .one }),
                ("σ + 1", { $0.commitment.sigma = $0.commitment.sigma + .one }),
            ], verify: verifyFac)
    }
}
