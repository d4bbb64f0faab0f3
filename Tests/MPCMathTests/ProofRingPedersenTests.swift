import CryptoPrimitives
import MPCMath
import Testing

/// Π^prm costs m = 80 exponentiations to verify: the honest proof is made once and reused.
@Suite("Proofs: Π^prm (CGGMP21 Fig. 17)")
struct ProofRingPedersenTests {
    static var secret: RingPedersenSecret { MPCFixtures.ringPedersen[0] }
    static var parameters: RingPedersenParameters { secret.parameters }
    static let proof: RingPedersenProof = {
        var rng = SeededRandom(seed: "prm-fixed")
        var t = ZK.transcript()
        return try! RingPedersenProof.prove(secret: secret, transcript: &t, rng: &rng)
    }()

    static func verify(_ proof: RingPedersenProof, _ parameters: RingPedersenParameters = parameters) throws {
        var t = ZK.transcript()
        try proof.verify(parameters: parameters, transcript: &t)
    }

    @Test func honestProofVerifiesAndRoundTrips() throws {
        try Self.verify(Self.proof)
        #expect(Self.proof.commitments.count == 80 && Self.proof.responses.count == 80)
        let bytes = Self.proof.encode()
        let decoded = try RingPedersenProof(decoding: bytes)
        #expect(decoded == Self.proof && decoded.encode() == bytes)
        try Self.verify(decoded)
        // Both challenge values occur (a proof answering only e = 0 would prove nothing).
        var t = ZK.transcript()
        let bits = try RingPedersenProof.challenges(
            parameters: Self.parameters, commitments: Self.proof.commitments, transcript: &t)
        #expect(bits.contains(true) && bits.contains(false))
    }

    @Test func tamperedFieldsFail() throws {
        let params = Self.parameters
        let n = params.n
        let last = ProofParameters.repetitions - 1
        let mutations: [ZK.Mutation<RingPedersenProof>] = [
            ("A[0]·t", { $0.commitments[0] = try $0.commitments[0].modMul(params.t, n) }),
            ("A[last]·t", { $0.commitments[last] = try $0.commitments[last].modMul(params.t, n) }),
            ("A[2] = 0", { $0.commitments[2] = .zero }),
            ("A[2] = Ñ", { $0.commitments[2] = n }),
            ("A[2] = p̃", { $0.commitments[2] = Self.secret.primes.p.declassified() }),
            ("z[0] + 1", { $0.responses[0] = $0.responses[0] + .one }),
            ("z[last] + 1", { $0.responses[last] = $0.responses[last] + .one }),
            ("z[1] negative", { $0.responses[1] = $0.responses[1].negated() }),
            ("z[1] = Ñ", { $0.responses[1] = n }),
            ("z[1] + Ñ", { $0.responses[1] = $0.responses[1] + n }),
            (
                "A and z reversed",
                {
                    $0.commitments.reverse()
                    $0.responses.reverse()
                }
            ),
            (
                "one round dropped",
                {
                    $0.commitments.removeLast()
                    $0.responses.removeLast()
                }
            ),
            ("responses shorter", { $0.responses.removeLast() }),
            (
                "a single round",
                {
                    $0.commitments = [$0.commitments[0]]
                    $0.responses = [$0.responses[0]]
                }
            ),
        ]
        try ZK.expectRejected(Self.proof, mutations, verify: { try Self.verify($0) })
        // Statement changes: s and t swapped, another setup, s moved within ⟨t⟩.
        let swapped = try RingPedersenParameters(n: params.n, s: params.t, t: params.s)
        #expect(throws: ProofError.self) { try Self.verify(Self.proof, swapped) }
        #expect(throws: ProofError.self) { try Self.verify(Self.proof, ZK.setup) }
        let moved = try RingPedersenParameters(n: params.n, s: params.s.modMul(params.t, params.n), t: params.t)
        #expect(throws: ProofError.self) { try Self.verify(Self.proof, moved) }
    }

    @Test func boundToSessionAndParty() throws {
        for (name, transcript) in ZK.foreignTranscripts {
            var t = transcript
            #expect(throws: ProofError.self, "\(name)") {
                try Self.proof.verify(parameters: Self.parameters, transcript: &t)
            }
        }
    }

    @Test func hostileEncodings() throws {
        let bytes = Self.proof.encode()
        try ZK.expectHostileBytesRejected(bytes, firstFieldIsInteger: false) {
            _ = try RingPedersenProof(decoding: $0)
        }
        for count in [0, 1, 79, 81, 0xFFFF] {
            var bad = bytes
            bad[2] = UInt8(count >> 8)
            bad[3] = UInt8(count & 0xFF)
            #expect(throws: ProofError.wrongRepetitionCount(found: count, required: 80)) {
                try RingPedersenProof(decoding: bad)
            }
        }
    }
}
