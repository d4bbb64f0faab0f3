import CryptoPrimitives

/// Π^prm: the ring-Pedersen parameters (Ñ, s, t) are well formed, s ∈ ⟨t⟩ (CGGMP21 Fig. 17).
/// The prover knows λ with s = t^λ mod Ñ. Binary challenges, so soundness error 1/2 per round:
/// exactly m = 80 rounds are required. TSSHOCK forged tss-lib's dlnproof with a single round,
/// making the verifier accept an s outside ⟨t⟩; a proof with any other count is refused here,
/// at decoding and again at verification.
///
/// Prover: step 1 a_i ← Z_φ(Ñ), A_i = t^a_i mod Ñ; step 2 e_i ∈ {0, 1} (here: m bits from the
/// transcript after absorbing Ñ, s, t and every A_i); step 3 z_i = a_i + e_i·λ mod φ(Ñ).
/// Verifier: t^z_i = A_i · s^e_i mod Ñ for every i, A_i ∈ Z*_Ñ, 0 ≤ z_i < Ñ.
///
/// Encoding: tag 0x04 ‖ version ‖ u16 m ‖ A_1 … A_m ‖ u16 m ‖ z_1 … z_m.
public struct RingPedersenProof: Sendable, Equatable {
    /// A_i = t^a_i mod Ñ (Fig. 17, step 1).
    public var commitments: [BigNum]
    /// z_i = a_i + e_i·λ mod φ(Ñ) (Fig. 17, step 3).
    public var responses: [BigNum]

    static let label = "cggmp21/prm/v1"

    public init(commitments: [BigNum], responses: [BigNum]) {
        self.commitments = commitments
        self.responses = responses
    }

    /// Proves s ∈ ⟨t⟩ for the owner's parameters.
    public static func prove<R: RandomSource>(
        secret: RingPedersenSecret, transcript: inout Transcript, rng: inout R
    ) throws -> RingPedersenProof {
        let parameters = secret.parameters
        let m = ProofParameters.repetitions
        let crt = try CRTContext(p: secret.p, q: secret.q)
        // Fig. 17, step 1: a_i ← Z_φ(Ñ), A_i = t^a_i mod Ñ (by CRT, constant time).
        var nonces: [BigNum] = []
        var commitments: [BigNum] = []
        for _ in 0..<m {
            let a = try BigNum.random(below: secret.phi, using: &rng)
            nonces.append(a)
            commitments.append(try crt.exp(parameters.t, a).declassified())
        }
        // Fig. 17, step 2: e_i ∈ {0, 1}.
        let bits = try challenges(parameters: parameters, commitments: commitments, transcript: &transcript)
        // Fig. 17, step 3: z_i = a_i + e_i·λ mod φ(Ñ).
        var responses: [BigNum] = []
        for (a, e) in zip(nonces, bits) {
            let z = e ? try a.modAdd(secret.lambda, secret.phi) : a
            responses.append(z.declassified())
        }
        return RingPedersenProof(commitments: commitments, responses: responses)
    }

    /// The m challenge bits after absorbing the label, (Ñ, s, t) and the commitments (Fig. 17, step 2).
    public static func challenges(
        parameters: RingPedersenParameters, commitments: [BigNum], transcript: inout Transcript
    ) throws -> [Bool] {
        transcript.beginProof(label)
        transcript.append("N", integer: parameters.n)
        transcript.append("s", integer: parameters.s)
        transcript.append("t", integer: parameters.t)
        transcript.append("A", integers: commitments)
        let m = ProofParameters.repetitions
        let bytes = try transcript.challengeBytes("e", count: (m + 7) / 8)
        return (0..<m).map { bytes[$0 / 8] >> ($0 % 8) & 1 == 1 }
    }

    public func verify(parameters: RingPedersenParameters, transcript: inout Transcript) throws(ProofError) {
        let m = ProofParameters.repetitions
        for count in [commitments.count, responses.count] where count != m {
            throw .wrongRepetitionCount(found: count, required: m)
        }
        try checkUnits(commitments.enumerated().map { ($1, "A[\($0)]") }, modulo: parameters.n)
        for i in 0..<m where responses[i].isNegative || responses[i] >= parameters.n {
            throw .outOfRange("z[\(i)] ∉ [0, Ñ)")
        }
        try withProofErrors {
            let bits = try Self.challenges(parameters: parameters, commitments: commitments, transcript: &transcript)
            // m exponentiations of the same public base t with public exponents z_i < Ñ: one
            // fixed-base table (Yao's method) instead of m full ladders.
            let powersOfT = try FixedBaseExponentiation(
                base: parameters.t, context: parameters.context, maxExponentBits: parameters.n.bitLength)
            for i in 0..<m {
                // Fig. 17, verification: t^z_i = A_i · s^e_i mod Ñ.
                let lhs = try powersOfT.power(responses[i])
                let rhs = bits[i] ? try parameters.mul(commitments[i], parameters.s) : commitments[i]
                guard lhs == rhs else { throw ProofError.equationFailed("Fig. 17: t^z[\(i)] = A[\(i)]·s^e[\(i)]") }
            }
        }
    }

    public func isValid(parameters: RingPedersenParameters, transcript: inout Transcript) -> Bool {
        (try? verify(parameters: parameters, transcript: &transcript)) != nil
    }

    // MARK: Encoding

    public func encode() -> [UInt8] {
        var writer = ProofWriter(.ringPedersen)
        writer.count(commitments.count)
        for a in commitments { writer.unsigned(a) }
        writer.count(responses.count)
        for z in responses { writer.unsigned(z) }
        return writer.bytes
    }

    /// Decodes; a round count other than m (one round, as in TSSHOCK) is refused before any
    /// round is read.
    public init(decoding bytes: [UInt8]) throws(ProofError) {
        var reader = try ProofReader(bytes, tag: .ringPedersen)
        func list(_ name: String) throws(ProofError) -> [BigNum] {
            let count = try reader.count("m")
            guard count == ProofParameters.repetitions else {
                throw .wrongRepetitionCount(found: count, required: ProofParameters.repetitions)
            }
            var values: [BigNum] = []
            for i in 0..<count { values.append(try reader.unsigned("\(name)[\(i)]", maxBits: FieldBits.modulus)) }
            return values
        }
        commitments = try list("A")
        responses = try list("z")
        try reader.finish()
    }
}
