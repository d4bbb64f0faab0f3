import CryptoPrimitives
import MPCMath
import Secp256k1
import Testing

/// Fixtures and checks shared by the `Proof*Tests` suites.
enum ZK {
    static let session: [UInt8] = Array("zk-session-1".utf8)
    static let tag = "vn/test/zk"

    /// The transcript a proof is made and verified under: (tag, session, prover party index).
    static func transcript(session: [UInt8] = session, party: UInt32 = 1, tag: String = tag) -> Transcript {
        Transcript(protocolTag: tag, sessionID: session, partyIndex: party)
    }

    /// Transcripts a proof made under `transcript()` must not verify under: it replayed in another
    /// session, attributed to another party, or under another protocol tag.
    static var foreignTranscripts: [(String, Transcript)] {
        [
            ("other session", transcript(session: Array("zk-session-2".utf8))),
            ("other party", transcript(party: 2)),
            ("other tag", transcript(tag: "vn/test/zk-other")),
            ("session id with an extra byte", transcript(session: session + [0])),
        ]
    }

    /// The prover's Paillier key (N₀) and another party's (N₁).
    static var proverKey: PaillierSecretKey { MPCFixtures.paillierKeys[0] }
    static var otherKey: PaillierSecretKey { MPCFixtures.paillierKeys[1] }
    /// The verifier's ring-Pedersen setup (Ñ, s, t), and another verifier's.
    static var setup: RingPedersenParameters { MPCFixtures.ringPedersen[1].parameters }
    static var otherSetup: RingPedersenParameters { MPCFixtures.ringPedersen[2].parameters }

    /// A named change to a proof.
    typealias Mutation<P> = (String, (inout P) throws -> Void)

    /// Verifies a copy of `proof` changed by each mutation and expects every one to be refused.
    static func expectRejected<P>(
        _ proof: P, _ mutations: [Mutation<P>], verify: (P) throws -> Void,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        for (name, mutate) in mutations {
            var bad = proof
            try mutate(&bad)
            #expect(throws: ProofError.self, "tampered \(name) accepted", sourceLocation: sourceLocation) {
                try verify(bad)
            }
        }
    }

    /// Hostile encodings of a valid proof's bytes must all be refused by `decode`: every
    /// truncation (all of them for small proofs, a spread for large ones), trailing bytes, wrong
    /// tag or version, and — when the first field is an integer — a non-minimal (leading zero)
    /// form, a length over the cap and a length past the end.
    static func expectHostileBytesRejected(
        _ bytes: [UInt8], firstFieldIsInteger: Bool, decode: ([UInt8]) throws -> Void,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        try decode(bytes)  // the original decodes
        let lengths: [Int] =
            bytes.count <= 4096
            ? Array(0..<bytes.count)
            : Array(0..<300) + stride(from: 300, to: bytes.count, by: 97) + [bytes.count - 2, bytes.count - 1]
        for length in lengths {
            #expect(throws: ProofError.self, "truncation to \(length) accepted", sourceLocation: sourceLocation) {
                try decode(Array(bytes.prefix(length)))
            }
        }
        var variants: [(String, [UInt8])] = [
            ("one trailing byte", bytes + [0]),
            ("many trailing bytes", bytes + [UInt8](repeating: 0xAB, count: 1000)),
            ("wrong tag", [bytes[0] ^ 0x40] + bytes.dropFirst()),
            ("wrong version", [bytes[0], bytes[1] &+ 1] + bytes.dropFirst(2)),
            ("empty", []),
        ]
        if firstFieldIsInteger {
            let length = Int(bytes[2]) << 8 | Int(bytes[3])
            let body = Array(bytes.dropFirst(4))
            let longer = length + 1
            variants.append(
                ("leading zero", [bytes[0], bytes[1], UInt8(longer >> 8), UInt8(longer & 0xff), 0] + body))
            variants.append(("length 0xFFFF", [bytes[0], bytes[1], 0xFF, 0xFF] + body))
            variants.append(("length past the end", [bytes[0], bytes[1], 0x7F, 0xFF] + body.prefix(10)))
        }
        for (name, variant) in variants {
            #expect(throws: ProofError.self, "\(name) accepted", sourceLocation: sourceLocation) {
                try decode(variant)
            }
        }
    }

    /// x + 1 mod n, kept a unit (adds 1 again in the negligible case it is not).
    static func nextUnit(_ x: BigNum, _ n: BigNum) throws -> BigNum {
        var y = try (x + .one).mod(n)
        while y.isZero || !y.isCoprime(to: n) { y = try (y + .one).mod(n) }
        return y
    }
}

/// The codec shared by all proofs: canonical forms only.
@Suite("Proofs: codec and parameters")
struct ProofCodecTests {
    @Test func parametersAreThePapers() throws {
        #expect(ProofParameters.ell == 256 && ProofParameters.ell == CurveOrder.bits)
        #expect(ProofParameters.ellPrime == 5 * 256)
        #expect(ProofParameters.epsilon == 2 * 256)
        #expect(ProofParameters.repetitions >= 80)
        #expect(ProofParameters.twoToEllPlusEpsilon == (try BigNum.powerOfTwo(768)))
        // MtA does not wrap modulo the smallest accepted N: 2^(2(ℓ+ε)) + 2^(ℓ'+ε) < N/2.
        let worst =
            ProofParameters.twoToEllPlusEpsilon * ProofParameters.twoToEllPlusEpsilon
            + ProofParameters.twoToEllPrimePlusEpsilon
        #expect(worst < (try BigNum.powerOfTwo(ProofParameters.minimumModulusBits - 2)))
    }

    /// Signed fields: a negative zero and an unknown sign byte are refused; so is a proof of one
    /// kind decoded as another.
    @Test func signedFieldsAndCrossKindDecoding() throws {
        var rng = SeededRandom(seed: "codec")
        let x = Scalar.random(using: &rng)
        var t = ZK.transcript()
        let schnorr = try SchnorrProof.prove(
            secret: x, publicPoint: .generatorMul(x), transcript: &t, rng: &rng)
        let bytes = schnorr.encode()
        #expect(throws: ProofError.self) { try ModulusProof(decoding: bytes) }
        #expect(throws: ProofError.self) { try EncryptionProof(decoding: bytes) }

        // An Π^enc encoding: S, A, C unsigned, then z₁ signed.
        let key = ZK.proverKey.publicKey
        let k = try BigNum.random(below: CurveOrder.q, using: &rng)
        let (c, rho) = try key.encrypt(k, using: &rng)
        var pt = ZK.transcript()
        let proof = try EncryptionProof.prove(
            statement: .init(key: key, ciphertext: c), plaintext: k, randomness: rho, setup: ZK.setup,
            transcript: &pt, rng: &rng)
        var encoded = proof.encode()
        // Locate z₁'s sign byte: after three unsigned integers.
        var offset = 2
        for _ in 0..<3 { offset += 2 + (Int(encoded[offset]) << 8 | Int(encoded[offset + 1])) }
        #expect(encoded[offset] == (proof.z1.isNegative ? 1 : 0))
        encoded[offset] = 2
        #expect(throws: ProofError.malformed("z1 has sign byte 2")) { try EncryptionProof(decoding: encoded) }
        // Negative zero: sign 1, length 0.
        var negativeZero = proof
        negativeZero.z1 = .zero
        var zeroBytes = negativeZero.encode()
        zeroBytes[offset] = 1
        #expect(throws: ProofError.malformed("z1 is a negative zero")) { try EncryptionProof(decoding: zeroBytes) }
        // Encoding is canonical: decode ∘ encode is the identity on bytes.
        #expect(try EncryptionProof(decoding: proof.encode()).encode() == proof.encode())
    }
}
