import CryptoPrimitives
import MPCMath
import PropertyBased
import Secp256k1
import Testing

@Suite("Proofs: Π^sch (CGGMP21 Fig. 22)")
struct ProofSchnorrTests {
    static func honest(seed: String, base: Point = .generator) throws -> (x: Scalar, point: Point, proof: SchnorrProof)
    {
        var rng = SeededRandom(seed: seed)
        let x = Scalar.random(using: &rng)
        let point = x * base
        var t = ZK.transcript()
        let proof = try SchnorrProof.prove(secret: x, publicPoint: point, base: base, transcript: &t, rng: &rng)
        return (x, point, proof)
    }

    @Test func honestProofsVerifyAndRoundTrip() async throws {
        await propertyCheck(count: 40, input: Gen.uint8().array(of: 32), Gen.uint64()) { bytes, seed in
            let x = try Scalar(reducing: bytes)
            guard !x.isZero else { return }
            var rng = SeededRandom(seed: "sch-\(seed)")
            // Another base too (GG20 proves knowledge relative to R as well as G).
            let base = seed % 2 == 0 ? Point.generator : Point.generatorMul(Scalar(seed | 1))
            let point = x * base
            var t = ZK.transcript()
            let proof = try SchnorrProof.prove(secret: x, publicPoint: point, base: base, transcript: &t, rng: &rng)
            var v = ZK.transcript()
            try proof.verify(publicPoint: point, base: base, transcript: &v)
            let bytes = proof.encode()
            #expect(bytes.count == 67)
            let decoded = try SchnorrProof(decoding: bytes)
            #expect(decoded == proof)
            #expect(decoded.encode() == bytes)
            var v2 = ZK.transcript()
            #expect(decoded.isValid(publicPoint: point, base: base, transcript: &v2))
        }
    }

    @Test func tamperedFieldsFail() throws {
        let (_, point, proof) = try Self.honest(seed: "sch-tamper")
        let verify: (SchnorrProof) throws -> Void = { p in
            var t = ZK.transcript()
            try p.verify(publicPoint: point, transcript: &t)
        }
        let mutations: [ZK.Mutation<SchnorrProof>] = [
            ("A", { $0.commitment = $0.commitment + .generator }),
            ("A negated", { $0.commitment = -$0.commitment }),
            ("A at infinity", { $0.commitment = .infinity }),
            ("z", { $0.response = $0.response + .one }),
            ("z negated", { $0.response = -$0.response }),
            ("z zero", { $0.response = .zero }),
        ]
        try ZK.expectRejected(proof, mutations, verify: verify)
        // Statement changes: another X, another base, X at infinity.
        var t1 = ZK.transcript()
        #expect(throws: ProofError.self) { try proof.verify(publicPoint: point + .generator, transcript: &t1) }
        var t2 = ZK.transcript()
        #expect(throws: ProofError.self) {
            try proof.verify(publicPoint: point, base: .generatorMul(Scalar(2)), transcript: &t2)
        }
        var t3 = ZK.transcript()
        #expect(throws: ProofError.invalidStatement("point at infinity")) {
            try proof.verify(publicPoint: .infinity, transcript: &t3)
        }
    }

    @Test func boundToSessionAndParty() throws {
        let (_, point, proof) = try Self.honest(seed: "sch-binding")
        for (name, transcript) in ZK.foreignTranscripts {
            var t = transcript
            #expect(throws: ProofError.equationFailed("Fig. 22: g^z = A·X^e"), "\(name)") {
                try proof.verify(publicPoint: point, transcript: &t)
            }
        }
        // The same transcript after an extra item (a different round) also fails.
        var t = ZK.transcript()
        t.append("round", uint64: 2)
        #expect(!proof.isValid(publicPoint: point, transcript: &t))
    }

    @Test func hostileEncodings() throws {
        let (_, _, proof) = try Self.honest(seed: "sch-decode")
        let bytes = proof.encode()
        try ZK.expectHostileBytesRejected(bytes, firstFieldIsInteger: false) { _ = try SchnorrProof(decoding: $0) }
        // A at infinity (33 zero bytes), off the curve, a bad prefix; z = q and z = 2^256 − 1.
        let z = Array(bytes.suffix(32))
        // An x with no point on the curve (about half of all x are): step from G's x until one.
        var offCurve = Point.generator.encoded
        repeat { offCurve[32] &+= 1 } while (try? Point(compressed: offCurve)) != nil
        let q = Scalar.orderBytes
        for bad in [
            [0x01, 0x01] + [UInt8](repeating: 0, count: 33) + z,
            [0x01, 0x01] + offCurve + z,
            [0x01, 0x01, 0x04] + Array(bytes[3..<35]) + z,
            Array(bytes.prefix(35)) + q,
            Array(bytes.prefix(35)) + [UInt8](repeating: 0xFF, count: 32),
        ] {
            #expect(throws: ProofError.self) { try SchnorrProof(decoding: bad) }
        }
    }

    @Test func proverRefusesWrongWitness() throws {
        var rng = SeededRandom(seed: "sch-witness")
        let x = Scalar.random(using: &rng)
        var t = ZK.transcript()
        #expect(throws: ProofError.self) {
            try SchnorrProof.prove(secret: x, publicPoint: .generatorMul(x + .one), transcript: &t, rng: &rng)
        }
        #expect(throws: ProofError.self) {
            try SchnorrProof.prove(secret: .zero, publicPoint: .infinity, transcript: &t, rng: &rng)
        }
    }
}
