import CryptoPrimitives
import Secp256k1

// The two proofs of the type-7 blame procedure (GG20 §4.3 "identifying the culprit when the
// Phase 6 check fails", done the CGGMP21 way, §4.3 "identification" with Fig. 31 and Fig. 25):
//
//   Π^mul*      H_i = K_i^{w_i} · ρ^N_i is k_i·w_i under N_i, for the w_i of W_i = w_i·G
//   Π^log*(σ)   Σ_i (a ciphertext everyone can compute from H_i and the MtAwc ciphertexts)
//               encrypts some σ with σ·R = S_i, σ in the wide range ±2^ℓσ
//
// Neither reveals anything about x_i (both are zero-knowledge), and both are verifiable by any
// party given the public values, so every honest party reaches the same verdict.

extension ProofParameters {
    /// ℓσ = 1300: the range of the plaintext of Σ_i = Enc(k_i·w_i) · Π D̂_ij · Π Ŷ_ji⁻¹, whose
    /// magnitude is below 2^(2ℓ) + (n − 1)·(2^(ℓ'+1) + 2^ℓ') < 2^(ℓ'+ 20) for n < 2^16 parties:
    /// each α̂_ij = Dec(D̂_ij) is below 2^(ℓ'+1) because Alice checks it (Π^aff-g alone lets a
    /// mask up to 2^(ℓ'+ε) through; a larger one is answered by a complaint with its opening,
    /// `Presigning.maskInRange`), and each own mask β̂'_ji is drawn below 2^ℓ'.
    /// With ε = 512, responses stay below 2^(ℓσ+ε+1) = 2^1813 < N/2 for every accepted N
    /// (≥ 2048 bits), so the Paillier equation cannot wrap (the soundness argument of Fig. 25).
    public static let ellSigma = 1300
    /// 2^ℓσ.
    public static let twoToEllSigma = try! BigNum.powerOfTwo(ellSigma)
    /// 2^(ℓσ+ε).
    public static let twoToEllSigmaPlusEpsilon = try! BigNum.powerOfTwo(ellSigma + epsilon)
    /// 2^(ℓσ+ε+1)·Ñ: the cap on the ring-Pedersen randomness response of Π^log*(σ).
    static func sigmaRingPedersenResponseBound(_ nHat: BigNum) -> BigNum {
        (try! BigNum.powerOfTwo(ellSigma + epsilon + 1)) * nHat
    }
}

extension FieldBits {
    static let ellSigmaPlusEpsilon = ProofParameters.ellSigma + ProofParameters.epsilon + 1
    static let sigmaRingPedersenResponse = ProofParameters.ellSigma + ProofParameters.epsilon + 2 + modulus
}

/// Π^mul*: multiplication Paillier operation with group commitment in range (CGGMP21 Fig. 31,
/// Appendix C.6). The prover knows x ∈ ±2^ℓ and ρ ∈ Z*_N₀ with D = C^x · ρ^N₀ mod N₀² and
/// X = x·G, for a ciphertext C under its own key N₀, against the verifier's ring-Pedersen
/// setup (Ñ, s, t).
///
/// Prover:
///   step 1  α ← ±2^(ℓ+ε), r ← Z*_N₀, γ ← ±2^(ℓ+ε)·Ñ, m ← ±2^ℓ·Ñ;
///           A = C^α · r^N₀ mod N₀², B_x = α·G, E = s^α t^γ, S = s^x t^m mod Ñ
///   step 2  e ← ±q (from the transcript)
///   step 3  z₁ = α + e·x, z₂ = γ + e·m, w = r·ρ^e mod N₀
/// Verifier: z₁ ∈ ±2^(ℓ+ε); C^z₁ · w^N₀ = A·D^e mod N₀²; z₁·G = B_x + e·X; s^z₁ t^z₂ = E·S^e.
///           Also: C, D, A ∈ Z*_{N₀²}, E, S ∈ Z*_Ñ, B_x and X finite, w ∈ Z*_N₀,
///           |z₂| ≤ 2^(ℓ+ε+1)·Ñ.
///
/// Encoding: tag 0x08 ‖ version ‖ A ‖ B_x (33 bytes) ‖ E ‖ S ‖ z₁ ‖ z₂ ‖ w.
public struct MulStarProof: Sendable, Equatable {
    public struct Statement: Sendable, Equatable {
        /// N₀, the prover's Paillier key.
        public var key: PaillierPublicKey
        /// C, a ciphertext under N₀ (GG20's K_i).
        public var c: PaillierCiphertext
        /// D = C^x · ρ^N₀ (the type-7 H_i).
        public var d: PaillierCiphertext
        /// X = x·G (W_i).
        public var x: Point

        public init(key: PaillierPublicKey, c: PaillierCiphertext, d: PaillierCiphertext, x: Point) {
            self.key = key
            self.c = c
            self.d = d
            self.x = x
        }
    }

    public var a: BigNum
    public var bx: Point
    public var e: BigNum
    public var s: BigNum
    public var z1: BigNum
    public var z2: BigNum
    public var w: BigNum

    static let label = "cggmp21/mul*/v1"

    public init(a: BigNum, bx: Point, e: BigNum, s: BigNum, z1: BigNum, z2: BigNum, w: BigNum) {
        self.a = a
        self.bx = bx
        self.e = e
        self.s = s
        self.z1 = z1
        self.z2 = z2
        self.w = w
    }

    /// D = C^x · ρ^N₀ for the prover (x secret: constant-time ladder, negative x via C⁻¹).
    public static func multiply(
        key: PaillierPublicKey, _ c: PaillierCiphertext, by x: BigNum, randomness rho: BigNum
    ) throws -> PaillierCiphertext {
        let cx = try key.multiply(c, by: x.withSecrecy(true))
        let rhoN = try key.nSquaredContext.expConstantTime(rho.withSecrecy(true), key.n)
        return PaillierCiphertext(value: try key.nSquaredContext.mul(cx.value, rhoN).declassified())
    }

    // MARK: Prover

    public static func prove<R: RandomSource>(
        statement: Statement, secret x: BigNum, randomness rho: BigNum, setup: RingPedersenParameters,
        transcript: inout Transcript, rng: inout R
    ) throws -> MulStarProof {
        let key = statement.key
        guard !statement.x.isInfinity else { throw ProofError.invalidStatement("point at infinity") }
        guard x.hasMagnitude(atMost: ProofParameters.twoToEll) else {
            throw ProofError.invalidWitness("x outside ±2^ℓ")
        }
        guard key.isUnit(rho) else { throw ProofError.invalidWitness("randomness outside Z*_N0") }
        guard try Scalar(reducing: x) * Point.generator == statement.x else {
            throw ProofError.invalidWitness("X ≠ x·G")
        }
        guard try multiply(key: key, statement.c, by: x, randomness: rho) == statement.d else {
            throw ProofError.invalidWitness("D ≠ C^x·ρ^N0")
        }
        let x = x.withSecrecy(true)
        let rho = rho.withSecrecy(true)
        let nHat = setup.n
        // Fig. 31, step 1: α ← ±2^(ℓ+ε), r ← Z*_N₀, γ ← ±2^(ℓ+ε)·Ñ, m ← ±2^ℓ·Ñ.
        let alpha = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPlusEpsilon, using: &rng)
        let r = try key.randomUnit(using: &rng)
        let gamma = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPlusEpsilon * nHat, using: &rng)
        let m = try BigNum.random(inSymmetricRange: ProofParameters.twoToEll * nHat, using: &rng)
        // Fig. 31, step 1: A = C^α r^N₀, B_x = g^α, E = s^α t^γ, S = s^x t^m.
        let a = try multiply(key: key, statement.c, by: alpha, randomness: r).value
        let bx = try Scalar(reducing: alpha) * Point.generator
        let e = try setup.commit(alpha, gamma).declassified()
        let s = try setup.commit(x, m).declassified()
        // Fig. 31, step 2: e ← ±q.
        let challenge = try challenge(
            statement: statement, setup: setup, a: a, bx: bx, e: e, s: s, transcript: &transcript)
        // Fig. 31, step 3: z₁ = α + e·x, z₂ = γ + e·m, w = r·ρ^e mod N₀.
        let w = try r.modMul(rho.modExpSigned(challenge, key.n), key.n)
        return MulStarProof(
            a: a, bx: bx, e: e, s: s, z1: (alpha + challenge * x).declassified(),
            z2: (gamma + challenge * m).declassified(), w: w.declassified())
    }

    /// e ∈ ±q after the label, the setup, the statement and the first message (Fig. 31, step 2).
    public static func challenge(
        statement: Statement, setup: RingPedersenParameters, a: BigNum, bx: Point, e: BigNum, s: BigNum,
        transcript: inout Transcript
    ) throws -> BigNum {
        transcript.beginProof(label)
        setup.absorb(into: &transcript)
        transcript.append("N0", integer: statement.key.n)
        transcript.append("C", integer: statement.c.value)
        transcript.append("D", integer: statement.d.value)
        transcript.append("X", point: statement.x)
        transcript.append("A", integer: a)
        transcript.append("Bx", point: bx)
        transcript.append("E", integer: e)
        transcript.append("S", integer: s)
        return try transcript.challengeSigned("e", magnitudeAtMost: CurveOrder.q)
    }

    // MARK: Verifier

    /// `owner`: the verifier's factorisation of its setup's Ñ, if it has it (faster, same check).
    public func verify(
        statement: Statement, setup: RingPedersenParameters, transcript: inout Transcript, owner: Factorization? = nil
    ) throws(ProofError) {
        let key = statement.key
        guard !statement.x.isInfinity else { throw .invalidStatement("point at infinity") }
        let c = try key.checkedCiphertext(statement.c.value, "C", statement: true)
        let d = try key.checkedCiphertext(statement.d.value, "D", statement: true)
        let a = try key.checkedCiphertext(a, "A", statement: false)
        try setup.checkedElement(e, "E")
        try setup.checkedElement(s, "S")
        guard !bx.isInfinity else { throw .notInGroup("Bx") }
        // Fig. 31, verification: z₁ ∈ ±2^(ℓ+ε).
        guard z1.hasMagnitude(atMost: ProofParameters.twoToEllPlusEpsilon) else {
            throw .outOfRange("z1 ∉ ±2^(ℓ+ε)")
        }
        guard z2.hasMagnitude(atMost: ProofParameters.ringPedersenResponseBound(setup.n)) else {
            throw .outOfRange("z2 ∉ ±2^(ℓ+ε+1)·Ñ")
        }
        guard w.isUnit(modulo: key.n) else { throw .notInGroup("w") }
        try withProofErrors {
            let challenge = try Self.challenge(
                statement: statement, setup: setup, a: a, bx: bx, e: e, s: s, transcript: &transcript)
            // Fig. 31, check 1: C^z₁ · w^N₀ = A·D^e mod N₀².
            let lhs = try key.mulModNSquared(
                key.publicPower(c, z1), key.publicEncryption(signed: .zero, randomness: w))
            guard try lhs == key.mulModNSquared(a, key.publicPower(d, challenge)) else {
                throw ProofError.equationFailed("Fig. 31: C^z1·w^N0 = A·D^e")
            }
            // Fig. 31, check 2: g^z₁ = B_x·X^e.
            let gz = Point.generator.multipliedVartime(by: try Scalar(reducing: z1))
            let xe = statement.x.multipliedVartime(by: try Scalar(reducing: challenge))
            guard gz == bx + xe else { throw ProofError.equationFailed("Fig. 31: g^z1 = Bx·X^e") }
            // Fig. 31, check 3: s^z₁ t^z₂ = E·S^e mod Ñ.
            guard try setup.holds(z1, z2, equals: e, times: s, toThe: challenge, owner: owner) else {
                throw ProofError.equationFailed("Fig. 31: s^z1·t^z2 = E·S^e")
            }
        }
    }

    public func isValid(statement: Statement, setup: RingPedersenParameters, transcript: inout Transcript) -> Bool {
        (try? verify(statement: statement, setup: setup, transcript: &transcript)) != nil
    }

    // MARK: Encoding

    public func encode() -> [UInt8] {
        var writer = ProofWriter(.mulStar)
        writer.unsigned(a)
        writer.point(bx)
        writer.unsigned(e)
        writer.unsigned(s)
        writer.signed(z1)
        writer.signed(z2)
        writer.unsigned(w)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(ProofError) {
        var reader = try ProofReader(bytes, tag: .mulStar)
        a = try reader.unsigned("A", maxBits: FieldBits.modulusSquared)
        bx = try reader.point("Bx")
        e = try reader.unsigned("E", maxBits: FieldBits.modulus)
        s = try reader.unsigned("S", maxBits: FieldBits.modulus)
        z1 = try reader.signed("z1", maxBits: FieldBits.ellPlusEpsilon)
        guard z1.hasMagnitude(atMost: ProofParameters.twoToEllPlusEpsilon) else { throw .outOfRange("z1 ∉ ±2^(ℓ+ε)") }
        z2 = try reader.signed("z2", maxBits: FieldBits.ringPedersenResponse)
        w = try reader.unsigned("w", maxBits: FieldBits.modulus)
        try reader.finish()
    }
}

/// Π^log*(σ): CGGMP21's Π^log* (Fig. 25) with the plaintext range widened from ±2^ℓ to ±2^ℓσ,
/// for the type-7 blame: C = Enc_N₀(x; ρ) (the homomorphically computed Σ_i) and X = x·g with
/// g = R and X = S_i, so x ≡ σ_i (mod q) without revealing it. Same steps and checks as
/// `LogStarProof` with ℓ → ℓσ: α ← ±2^(ℓσ+ε), μ ← ±2^ℓσ·Ñ, γ ← ±2^(ℓσ+ε)·Ñ; the verifier
/// requires z₁ ∈ ±2^(ℓσ+ε) and |z₃| ≤ 2^(ℓσ+ε+1)·Ñ. A separate label and tag keep its
/// challenges apart from Π^log*'s.
///
/// Encoding: tag 0x09 ‖ version ‖ S ‖ A ‖ Y (33 bytes) ‖ D ‖ z₁ ‖ z₂ ‖ z₃.
public struct SigmaLogStarProof: Sendable, Equatable {
    public typealias Statement = LogStarProof.Statement
    public typealias Commitment = LogStarProof.Commitment

    public var commitment: Commitment
    public var z1: BigNum
    public var z2: BigNum
    public var z3: BigNum

    static let label = "cggmp21/log*-sigma/v1"

    public init(commitment: Commitment, z1: BigNum, z2: BigNum, z3: BigNum) {
        self.commitment = commitment
        self.z1 = z1
        self.z2 = z2
        self.z3 = z3
    }

    public static func prove<R: RandomSource>(
        statement: Statement, secret x: BigNum, randomness rho: BigNum, setup: RingPedersenParameters,
        transcript: inout Transcript, rng: inout R
    ) throws -> SigmaLogStarProof {
        let key = statement.key
        guard !statement.base.isInfinity, !statement.point.isInfinity else {
            throw ProofError.invalidStatement("point at infinity")
        }
        guard x.hasMagnitude(atMost: ProofParameters.twoToEllSigma) else {
            throw ProofError.invalidWitness("x outside ±2^ℓσ")
        }
        guard key.isUnit(rho) else { throw ProofError.invalidWitness("randomness outside Z*_N0") }
        guard try Scalar(reducing: x) * statement.base == statement.point else {
            throw ProofError.invalidWitness("X ≠ x·g")
        }
        let x = x.withSecrecy(true)
        let rho = rho.withSecrecy(true)
        let nHat = setup.n
        // Fig. 25, step 1 (ℓ → ℓσ): α ← ±2^(ℓσ+ε), μ ← ±2^ℓσ·Ñ, r ← Z*_N₀, γ ← ±2^(ℓσ+ε)·Ñ.
        let alpha = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllSigmaPlusEpsilon, using: &rng)
        let mu = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllSigma * nHat, using: &rng)
        let r = try key.randomUnit(using: &rng)
        let gamma = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllSigmaPlusEpsilon * nHat, using: &rng)
        // Fig. 25, step 1: S = s^x t^μ, A = (1 + N₀)^α r^N₀, Y = g^α, D = s^α t^γ.
        let commitment = Commitment(
            s: try setup.commit(x, mu).declassified(),
            a: try key.encrypt(signed: alpha, randomness: r).value,
            y: try Scalar(reducing: alpha) * statement.base,
            d: try setup.commit(alpha, gamma).declassified())
        // Fig. 25, step 2: e ← ±q.
        let e = try challenge(statement: statement, setup: setup, commitment: commitment, transcript: &transcript)
        // Fig. 25, step 3: z₁ = α + e·x, z₂ = r·ρ^e mod N₀, z₃ = γ + e·μ.
        let z2 = try r.modMul(rho.modExpSigned(e, key.n), key.n)
        return SigmaLogStarProof(
            commitment: commitment, z1: (alpha + e * x).declassified(), z2: z2.declassified(),
            z3: (gamma + e * mu).declassified())
    }

    public static func challenge(
        statement: Statement, setup: RingPedersenParameters, commitment: Commitment, transcript: inout Transcript
    ) throws -> BigNum {
        transcript.beginProof(label)
        setup.absorb(into: &transcript)
        transcript.append("N0", integer: statement.key.n)
        transcript.append("C", integer: statement.ciphertext.value)
        transcript.append("X", point: statement.point)
        transcript.append("g", point: statement.base)
        transcript.append("S", integer: commitment.s)
        transcript.append("A", integer: commitment.a)
        transcript.append("Y", point: commitment.y)
        transcript.append("D", integer: commitment.d)
        return try transcript.challengeSigned("e", magnitudeAtMost: CurveOrder.q)
    }

    /// `owner`: the verifier's factorisation of its setup's Ñ, if it has it (faster, same check).
    public func verify(
        statement: Statement, setup: RingPedersenParameters, transcript: inout Transcript, owner: Factorization? = nil
    ) throws(ProofError) {
        let key = statement.key
        guard !statement.base.isInfinity, !statement.point.isInfinity else {
            throw .invalidStatement("point at infinity")
        }
        let c = try key.checkedCiphertext(statement.ciphertext.value, "C", statement: true)
        try setup.checkedElement(commitment.s, "S")
        try setup.checkedElement(commitment.d, "D")
        let a = try key.checkedCiphertext(commitment.a, "A", statement: false)
        guard !commitment.y.isInfinity else { throw .notInGroup("Y") }
        // Fig. 25, verification (ℓ → ℓσ): z₁ ∈ ±2^(ℓσ+ε).
        guard z1.hasMagnitude(atMost: ProofParameters.twoToEllSigmaPlusEpsilon) else {
            throw .outOfRange("z1 ∉ ±2^(ℓσ+ε)")
        }
        guard z2.isUnit(modulo: key.n) else { throw .notInGroup("z2") }
        guard z3.hasMagnitude(atMost: ProofParameters.sigmaRingPedersenResponseBound(setup.n)) else {
            throw .outOfRange("z3 ∉ ±2^(ℓσ+ε+1)·Ñ")
        }
        try withProofErrors {
            let e = try Self.challenge(
                statement: statement, setup: setup, commitment: commitment, transcript: &transcript)
            // Fig. 25, check 1: (1 + N₀)^z₁ · z₂^N₀ = A·C^e mod N₀².
            let lhs = try key.publicEncryption(signed: z1, randomness: z2)
            guard try lhs == key.mulModNSquared(a, key.publicPower(c, e)) else {
                throw ProofError.equationFailed("Fig. 25: (1+N0)^z1·z2^N0 = A·C^e")
            }
            // Fig. 25, check 2: g^z₁ = Y·X^e.
            let gz = statement.base.multipliedVartime(by: try Scalar(reducing: z1))
            let xe = statement.point.multipliedVartime(by: try Scalar(reducing: e))
            guard gz == commitment.y + xe else { throw ProofError.equationFailed("Fig. 25: g^z1 = Y·X^e") }
            // Fig. 25, check 3: s^z₁ t^z₃ = D·S^e mod Ñ.
            guard try setup.holds(z1, z3, equals: commitment.d, times: commitment.s, toThe: e, owner: owner) else {
                throw ProofError.equationFailed("Fig. 25: s^z1·t^z3 = D·S^e")
            }
        }
    }

    public func isValid(statement: Statement, setup: RingPedersenParameters, transcript: inout Transcript) -> Bool {
        (try? verify(statement: statement, setup: setup, transcript: &transcript)) != nil
    }

    public func encode() -> [UInt8] {
        var writer = ProofWriter(.sigmaLogStar)
        writer.unsigned(commitment.s)
        writer.unsigned(commitment.a)
        writer.point(commitment.y)
        writer.unsigned(commitment.d)
        writer.signed(z1)
        writer.unsigned(z2)
        writer.signed(z3)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(ProofError) {
        var reader = try ProofReader(bytes, tag: .sigmaLogStar)
        let s = try reader.unsigned("S", maxBits: FieldBits.modulus)
        let a = try reader.unsigned("A", maxBits: FieldBits.modulusSquared)
        let y = try reader.point("Y")
        let d = try reader.unsigned("D", maxBits: FieldBits.modulus)
        commitment = Commitment(s: s, a: a, y: y, d: d)
        z1 = try reader.signed("z1", maxBits: FieldBits.ellSigmaPlusEpsilon)
        guard z1.hasMagnitude(atMost: ProofParameters.twoToEllSigmaPlusEpsilon) else {
            throw .outOfRange("z1 ∉ ±2^(ℓσ+ε)")
        }
        z2 = try reader.unsigned("z2", maxBits: FieldBits.modulus)
        z3 = try reader.signed("z3", maxBits: FieldBits.sigmaRingPedersenResponse)
        try reader.finish()
    }
}
