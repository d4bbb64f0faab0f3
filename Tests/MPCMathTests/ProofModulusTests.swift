import CryptoPrimitives
import MPCMath
import Testing

/// Π^mod costs k = 4 full exponentiations and 80 fourth powers to verify (a few ms): the honest proof is made once and
/// every check below reuses it; tampered proofs fail at their first bad round.
@Suite("Proofs: Π^mod (CGGMP21 Fig. 16)")
struct ProofModulusTests {
    static var key: PaillierSecretKey { ZK.proverKey }
    static let proof: ModulusProof = {
        var rng = SeededRandom(seed: "mod-fixed")
        var t = ZK.transcript()
        return try! ModulusProof.prove(key: key, transcript: &t, rng: &rng)
    }()

    /// A 2048-bit prime (`openssl prime -generate -bits 2048`), for the "N is prime" check.
    static let prime2048 = big(
        """
        E454097719A52DF3AF8951C2C2B31AB078C6F97BC4FB8C063553A69FAD8C67E058ED5EB515AB6259FA253DB823C18397A7ADFF111AE5D2CEFF
        407C433C491F0711C407F92DF644F2334658B551C0995421547078C40C2602824B831357D4B9A6952FF7EE93FBE6E75D52EA2543AD58E2DA7C
        53332997C39020E1340A1BC196096E4F5E6EBFF64D023A4F47B70B1D52075EB8AD85F534D52162B498F18BC251E02E7DCC009AA5B87FAB99B1
        9A6D435282413CA82E7D49EF9211AE09B52DD1AC52C50FCADD660363BB84428B426E1B205DCC7D1A979A3FBBDA022800259B538EDD8697CF1C
        81370E10E2DF0D5E9B085A43CF78549C4E83C2772E3FE9A2F2095EDD
        """)

    static func verify(_ proof: ModulusProof, modulus: BigNum = key.publicKey.n) throws {
        var t = ZK.transcript()
        try proof.verify(modulus: modulus, transcript: &t)
    }

    @Test func honestProofVerifiesAndRoundTrips() throws {
        let n = Self.key.publicKey.n
        try Self.verify(Self.proof)
        #expect(Self.proof.rounds.count == 80)
        #expect(Self.proof.roots.count == 4)
        #expect(try Self.proof.w.jacobi(n) == -1)
        // Each of the four (a, b) classes shows up (the quadratic characters of y_i are uniform).
        let classes = Set(Self.proof.rounds.map { ($0.a ? 1 : 0) | ($0.b ? 2 : 0) })
        #expect(classes.count == 4)
        let bytes = Self.proof.encode()
        let decoded = try ModulusProof(decoding: bytes)
        #expect(decoded == Self.proof)
        #expect(decoded.encode() == bytes)
        try Self.verify(decoded)
        // Another fixture key, through the (modulus, p, q) entry point.
        let other = MPCFixtures.paillierKeys[3]
        var rng = SeededRandom(seed: "mod-other")
        var t = ZK.transcript(party: 7)
        let proof = try ModulusProof.prove(
            modulus: other.publicKey.n, p: other.primes.p, q: other.primes.q, transcript: &t, rng: &rng)
        var v = ZK.transcript(party: 7)
        #expect(proof.isValid(modulus: other.publicKey.n, transcript: &v))
        // The ring-Pedersen modulus Ñ is a Blum integer too (CGGMP21 shares N and Ñ; with
        // separate moduli, keygen proves both).
        let rp = MPCFixtures.ringPedersen[0]
        var t2 = ZK.transcript()
        let rpProof = try ModulusProof.prove(
            modulus: rp.parameters.n, p: rp.primes.p, q: rp.primes.q, transcript: &t2, rng: &rng)
        var v2 = ZK.transcript()
        try rpProof.verify(modulus: rp.parameters.n, transcript: &v2)
    }

    @Test func tamperedFieldsFail() throws {
        let n = Self.key.publicKey.n
        let last = ProofParameters.repetitions - 1
        let mutations: [ZK.Mutation<ModulusProof>] = [
            // w·4 keeps Jacobi −1 and unit-ness: new challenges, so round 0 fails.
            ("w·4", { $0.w = try $0.w.modMul(4, n) }),
            ("w squared (Jacobi +1)", { $0.w = try $0.w.modMul($0.w, n) }),
            ("w = 0", { $0.w = .zero }),
            ("w = N + w", { $0.w = n + $0.w }),
            ("x[0] + 1", { $0.rounds[0].x = try ZK.nextUnit($0.rounds[0].x, n) }),
            ("x[last] + 1", { $0.rounds[last].x = try ZK.nextUnit($0.rounds[last].x, n) }),
            ("x[3] = 0", { $0.rounds[3].x = .zero }),
            ("x[3] = N", { $0.rounds[3].x = n }),
            ("z[0] + 1", { $0.roots[0] = try ZK.nextUnit($0.roots[0], n) }),
            ("z[3] = N − z", { $0.roots[3] = n - $0.roots[3] }),
            ("z[2] shares a factor", { $0.roots[2] = Self.key.primes.p.declassified() }),
            ("z[0] = 0", { $0.roots[0] = .zero }),
            ("roots 0 and 1 swapped", { $0.roots.swapAt(0, 1) }),
            ("one root dropped", { $0.roots.removeLast() }),
            ("a fifth root", { $0.roots.append($0.roots[0]) }),
            ("80 roots (Fig. 16's count)", { $0.roots = Array(repeating: $0.roots[0], count: 80) }),
            ("a[0] flipped", { $0.rounds[0].a.toggle() }),
            ("b[0] flipped", { $0.rounds[0].b.toggle() }),
            ("b[last] flipped", { $0.rounds[last].b.toggle() }),
            ("rounds 0 and 1 swapped", { $0.rounds.swapAt(0, 1) }),
            ("one round dropped", { $0.rounds.removeLast() }),
            ("one round repeated", { $0.rounds.append($0.rounds[0]) }),
            ("a single round", { $0.rounds = [$0.rounds[0]] }),
            ("no rounds", { $0.rounds = [] }),
        ]
        try ZK.expectRejected(Self.proof, mutations, verify: { try Self.verify($0) })
        var short = Self.proof
        short.rounds.removeLast()
        #expect(throws: ProofError.wrongRepetitionCount(found: 79, required: 80)) { try Self.verify(short) }
        var fewRoots = Self.proof
        fewRoots.roots.removeLast()
        #expect(throws: ProofError.wrongRepetitionCount(found: 3, required: 4)) { try Self.verify(fewRoots) }
    }

    /// The verifier's checks on N itself: odd, composite, sized.
    @Test func modulusChecks() throws {
        let n = Self.key.publicKey.n
        #expect(Self.prime2048.bitLength == 2048 && Self.prime2048.isProbablePrime)
        #expect(throws: ProofError.invalidStatement("N is prime")) {
            try Self.verify(Self.proof, modulus: Self.prime2048)
        }
        #expect(throws: ProofError.invalidStatement("N must be odd and positive")) {
            try Self.verify(Self.proof, modulus: n + .one)
        }
        #expect(throws: ProofError.invalidStatement("N must be odd and positive")) {
            try Self.verify(Self.proof, modulus: n.negated())
        }
        let smallN = MPCFixtures.material.paillier[0].p.declassified() * 3
        #expect(throws: ProofError.invalidStatement("N size out of range")) {
            try Self.verify(Self.proof, modulus: smallN)
        }
        // Another (valid) modulus: the proof is about N, not any Blum integer.
        #expect(throws: ProofError.self) { try Self.verify(Self.proof, modulus: ZK.otherKey.publicKey.n) }
    }

    @Test func boundToSessionAndParty() throws {
        for (name, transcript) in ZK.foreignTranscripts {
            var t = transcript
            #expect(throws: ProofError.self, "\(name)") {
                try Self.proof.verify(modulus: Self.key.publicKey.n, transcript: &t)
            }
        }
    }

    @Test func proverRefusesBadWitness() throws {
        var rng = SeededRandom(seed: "mod-witness")
        var t = ZK.transcript()
        let (p, q) = Self.key.primes
        #expect(throws: ProofError.self) {
            try ModulusProof.prove(modulus: Self.key.publicKey.n, p: p, q: q + 2, transcript: &t, rng: &rng)
        }
        // p ≡ 1 (mod 4): not a Blum factorisation (N = p·q with p = 13).
        let thirteen = BigNum(13)
        #expect(throws: ProofError.invalidWitness("N is not p·q with p ≡ q ≡ 3 mod 4")) {
            try ModulusProof.prove(
                modulus: thirteen * Self.key.publicKey.n, p: thirteen, q: Self.key.publicKey.n, transcript: &t,
                rng: &rng)
        }
    }

    @Test func hostileEncodings() throws {
        let bytes = Self.proof.encode()
        try ZK.expectHostileBytesRejected(bytes, firstFieldIsInteger: true) { _ = try ModulusProof(decoding: $0) }
        // Offsets: tag ‖ version ‖ w ‖ u16 m ‖ m × (x ‖ flags) ‖ u16 k ‖ k × z, integers as u16
        // length ‖ bytes.
        func integerEnd(_ offset: Int) -> Int { offset + 2 + (Int(bytes[offset]) << 8 | Int(bytes[offset + 1])) }
        let countOffset = integerEnd(2)
        var offset = countOffset + 2
        var lastFlags = 0
        for _ in 0..<80 {
            lastFlags = integerEnd(offset)
            offset = lastFlags + 1
        }
        let rootCountOffset = offset
        // The round count is checked before any round is read: 1, 79, 81 and 0xFFFF rounds; so is
        // the root count (3, 5, Fig. 16's 80).
        for (at, required, counts) in [
            (countOffset, 80, [0, 1, 79, 81, 0xFFFF]), (rootCountOffset, 4, [0, 3, 5, 80]),
        ] {
            for count in counts {
                var bad = bytes
                bad[at] = UInt8(count >> 8)
                bad[at + 1] = UInt8(count & 0xFF)
                #expect(throws: ProofError.wrongRepetitionCount(found: count, required: required)) {
                    try ModulusProof(decoding: bad)
                }
            }
        }
        // Unknown flag bits.
        var flags = bytes
        flags[lastFlags] |= 4
        #expect(throws: ProofError.malformed("flags[79] has unknown bits")) { try ModulusProof(decoding: flags) }
    }
}
