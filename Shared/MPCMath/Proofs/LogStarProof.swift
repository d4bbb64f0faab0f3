import CryptoPrimitives
import Secp256k1

/// Π^log*: knowledge of exponent vs Paillier encryption (CGGMP21 Fig. 25). The prover knows
/// x ∈ ±2^ℓ and ρ with C = (1 + N₀)^x · ρ^N₀ mod N₀² and X = x·g, for a base point g (G, or Γ
/// for CGGMP21's Δ_i = Γ^k_i, or R for GG20's R̄_i = R^k_i consistency check), against the
/// verifier's ring-Pedersen setup (Ñ, s, t).
///
/// Prover:
///   step 1  α ← ±2^(ℓ+ε), μ ← ±2^ℓ·Ñ, r ← Z*_N₀, γ ← ±2^(ℓ+ε)·Ñ;
///           S = s^x t^μ mod Ñ, A = (1 + N₀)^α · r^N₀ mod N₀², Y = α·g, D = s^α t^γ mod Ñ
///   step 2  e ← ±q (from the transcript)
///   step 3  z₁ = α + e·x, z₂ = r·ρ^e mod N₀, z₃ = γ + e·μ
/// Verifier: z₁ ∈ ±2^(ℓ+ε); (1 + N₀)^z₁ · z₂^N₀ = A·C^e mod N₀²; z₁·g = Y + e·X;
///           s^z₁ t^z₃ = D·S^e mod Ñ. Also: S, D ∈ Z*_Ñ, A ∈ Z*_{N₀²}, Y finite, z₂ ∈ Z*_N₀,
///           |z₃| ≤ 2^(ℓ+ε+1)·Ñ; the statement's g and X finite.
///
/// Encoding: tag 0x07 ‖ version ‖ S ‖ A ‖ Y (33 bytes) ‖ D ‖ z₁ ‖ z₂ ‖ z₃.
public struct LogStarProof: Sendable, Equatable {
    public struct Statement: Sendable, Equatable {
        /// N₀, the prover's Paillier key.
        public var key: PaillierPublicKey
        /// C = Enc_N₀(x; ρ).
        public var ciphertext: PaillierCiphertext
        /// X = x·g.
        public var point: Point
        /// g.
        public var base: Point

        public init(key: PaillierPublicKey, ciphertext: PaillierCiphertext, point: Point, base: Point = .generator) {
            self.key = key
            self.ciphertext = ciphertext
            self.point = point
            self.base = base
        }
    }

    /// The first message (Fig. 25, step 1).
    public struct Commitment: Sendable, Equatable {
        public var s: BigNum
        public var a: BigNum
        public var y: Point
        public var d: BigNum

        public init(s: BigNum, a: BigNum, y: Point, d: BigNum) {
            self.s = s
            self.a = a
            self.y = y
            self.d = d
        }
    }

    public var commitment: Commitment
    public var z1: BigNum
    public var z2: BigNum
    public var z3: BigNum

    static let label = "cggmp21/log*/v1"

    public init(commitment: Commitment, z1: BigNum, z2: BigNum, z3: BigNum) {
        self.commitment = commitment
        self.z1 = z1
        self.z2 = z2
        self.z3 = z3
    }

    // MARK: Prover

    /// Proves C = Enc(x; ρ) and X = x·g with |x| ≤ 2^ℓ. Checks the range and X = x·g (cheap);
    /// the encryption is not recomputed.
    public static func prove<R: RandomSource>(
        statement: Statement, secret x: BigNum, randomness rho: BigNum, setup: RingPedersenParameters,
        transcript: inout Transcript, rng: inout R, proverSecret: PaillierSecretKey? = nil
    ) throws -> LogStarProof {
        let key = statement.key
        guard !statement.base.isInfinity, !statement.point.isInfinity else {
            throw ProofError.invalidStatement("point at infinity")
        }
        guard x.hasMagnitude(atMost: ProofParameters.twoToEll) else {
            throw ProofError.invalidWitness("x outside ±2^ℓ")
        }
        guard key.isUnit(rho) else { throw ProofError.invalidWitness("randomness outside Z*_N0") }
        let xScalar = try Scalar(reducing: x)
        guard xScalar * statement.base == statement.point else {
            throw ProofError.invalidWitness("X ≠ x·g")
        }
        let x = x.withSecrecy(true)
        let rho = rho.withSecrecy(true)
        let nHat = setup.n
        // Fig. 25, step 1: α ← ±2^(ℓ+ε), μ ← ±2^ℓ·Ñ, r ← Z*_N₀, γ ← ±2^(ℓ+ε)·Ñ.
        let alpha = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPlusEpsilon, using: &rng)
        let mu = try BigNum.random(inSymmetricRange: ProofParameters.twoToEll * nHat, using: &rng)
        let r = try key.nonce(using: &rng)
        let gamma = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPlusEpsilon * nHat, using: &rng)
        // Fig. 25, step 1: S = s^x t^μ, A = (1 + N₀)^α r^N₀, Y = g^α, D = s^α t^γ.
        let commitment = Commitment(
            s: try setup.commit(x, mu).declassified(),
            a: try key.encrypt(signed: alpha, nonce: r, owner: proverSecret).value,
            y: try Scalar(reducing: alpha) * statement.base,
            d: try setup.commit(alpha, gamma).declassified())
        // Fig. 25, step 2: e ← ±q.
        let e = try challenge(statement: statement, setup: setup, commitment: commitment, transcript: &transcript)
        // Fig. 25, step 3: z₁ = α + e·x, z₂ = r·ρ^e mod N₀, z₃ = γ + e·μ.
        let z2 = try r.r.modMul(rho.modExpSigned(e, key.n), key.n)
        return LogStarProof(
            commitment: commitment, z1: (alpha + e * x).declassified(), z2: z2.declassified(),
            z3: (gamma + e * mu).declassified())
    }

    /// e ∈ ±q after absorbing the label, the setup, the statement and the first message
    /// (Fig. 25, step 2).
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

    // MARK: Verifier

    /// `owner`: the verifier's factorisation of its setup's Ñ, if it has it (faster, same check).
    public func verify(
        statement: Statement, setup: RingPedersenParameters, transcript: inout Transcript, owner: Factorization? = nil
    ) throws(ProofError) {
        let key = statement.key
        guard !statement.base.isInfinity, !statement.point.isInfinity else {
            throw .invalidStatement("point at infinity")
        }
        var units = UnitChecks()
        let c = try units.ciphertext(statement.ciphertext.value, key, "C", statement: true)
        try units.element(commitment.s, modulo: setup.n, "S")
        try units.element(commitment.d, modulo: setup.n, "D")
        let a = try units.ciphertext(commitment.a, key, "A", statement: false)
        guard !commitment.y.isInfinity else { throw .notInGroup("Y") }
        // Fig. 25, verification: z₁ ∈ ±2^(ℓ+ε).
        guard z1.hasMagnitude(atMost: ProofParameters.twoToEllPlusEpsilon) else {
            throw .outOfRange("z1 ∉ ±2^(ℓ+ε)")
        }
        try units.element(z2, modulo: key.n, "z2")
        guard z3.hasMagnitude(atMost: ProofParameters.ringPedersenResponseBound(setup.n)) else {
            throw .outOfRange("z3 ∉ ±2^(ℓ+ε+1)·Ñ")
        }
        try units.finish()
        try withProofErrors {
            let e = try Self.challenge(
                statement: statement, setup: setup, commitment: commitment, transcript: &transcript)
            // Fig. 25, check 1: (1 + N₀)^z₁ · z₂^N₀ = A·C^e mod N₀².
            let lhs = try key.publicEncryption(signed: z1, randomness: z2)
            guard try lhs == key.mulModNSquared(a, key.publicPower(c, e)) else {
                throw ProofError.equationFailed("Fig. 25: (1+N0)^z1·z2^N0 = A·C^e")
            }
            // Fig. 25, check 2: g^z₁ = Y·X^e (public scalars: variable-time products).
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

    // MARK: Encoding

    public func encode() -> [UInt8] {
        var writer = ProofWriter(.logStar)
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
        var reader = try ProofReader(bytes, tag: .logStar)
        let s = try reader.unsigned("S", maxBits: FieldBits.modulus)
        let a = try reader.unsigned("A", maxBits: FieldBits.modulusSquared)
        let y = try reader.point("Y")
        let d = try reader.unsigned("D", maxBits: FieldBits.modulus)
        commitment = Commitment(s: s, a: a, y: y, d: d)
        z1 = try reader.signed("z1", maxBits: FieldBits.ellPlusEpsilon)
        guard z1.hasMagnitude(atMost: ProofParameters.twoToEllPlusEpsilon) else { throw .outOfRange("z1 ∉ ±2^(ℓ+ε)") }
        z2 = try reader.unsigned("z2", maxBits: FieldBits.modulus)
        z3 = try reader.signed("z3", maxBits: FieldBits.ringPedersenResponse)
        try reader.finish()
    }
}
