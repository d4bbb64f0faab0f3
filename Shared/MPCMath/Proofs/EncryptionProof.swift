import CryptoPrimitives

/// Π^enc: Paillier encryption in range (CGGMP21 Fig. 14). The prover knows k ∈ ±2^ℓ and ρ with
/// K = (1 + N₀)^k · ρ^N₀ mod N₀², and proves it against the verifier's ring-Pedersen setup
/// (Ñ, s, t). Alice's range proof for her MtA ciphertext (GG20's K_i = Enc(k_i)).
///
/// Prover:
///   step 1  α ← ±2^(ℓ+ε), μ ← ±2^ℓ·Ñ, r ← Z*_N₀, γ ← ±2^(ℓ+ε)·Ñ;
///           S = s^k t^μ mod Ñ, A = (1 + N₀)^α · r^N₀ mod N₀², C = s^α t^γ mod Ñ
///   step 2  e ← ±q (from the transcript)
///   step 3  z₁ = α + e·k, z₂ = r·ρ^e mod N₀, z₃ = γ + e·μ
/// Verifier: z₁ ∈ ±2^(ℓ+ε); (1 + N₀)^z₁ · z₂^N₀ = A·K^e mod N₀²; s^z₁ t^z₃ = C·S^e mod Ñ.
/// Also checked: S, C ∈ Z*_Ñ, A ∈ Z*_{N₀²}, z₂ ∈ Z*_N₀, |z₃| ≤ 2^(ℓ+ε+1)·Ñ.
///
/// Encoding: tag 0x05 ‖ version ‖ S ‖ A ‖ C ‖ z₁ ‖ z₂ ‖ z₃.
public struct EncryptionProof: Sendable, Equatable {
    /// The public statement: K is an encryption under N₀ of a value in ±2^ℓ.
    public struct Statement: Sendable, Equatable {
        /// N₀, the prover's Paillier key.
        public var key: PaillierPublicKey
        /// K.
        public var ciphertext: PaillierCiphertext

        public init(key: PaillierPublicKey, ciphertext: PaillierCiphertext) {
            self.key = key
            self.ciphertext = ciphertext
        }
    }

    /// The first message (Fig. 14, step 1).
    public struct Commitment: Sendable, Equatable {
        public var s: BigNum
        public var a: BigNum
        public var c: BigNum

        public init(s: BigNum, a: BigNum, c: BigNum) {
            self.s = s
            self.a = a
            self.c = c
        }
    }

    public var commitment: Commitment
    public var z1: BigNum
    public var z2: BigNum
    public var z3: BigNum

    static let label = "cggmp21/enc/v1"

    public init(commitment: Commitment, z1: BigNum, z2: BigNum, z3: BigNum) {
        self.commitment = commitment
        self.z1 = z1
        self.z2 = z2
        self.z3 = z3
    }

    // MARK: Prover

    /// Proves that `statement.ciphertext` = Enc(plaintext; randomness) with |plaintext| ≤ 2^ℓ.
    /// The ciphertext is not re-encrypted to check the opening (that would double the cost): a
    /// wrong opening gives a proof that fails verification.
    public static func prove<R: RandomSource>(
        statement: Statement, plaintext k: BigNum, randomness rho: BigNum, setup: RingPedersenParameters,
        transcript: inout Transcript, rng: inout R, proverSecret: PaillierSecretKey? = nil
    ) throws -> EncryptionProof {
        let key = statement.key
        guard k.hasMagnitude(atMost: ProofParameters.twoToEll) else {
            throw ProofError.invalidWitness("plaintext outside ±2^ℓ")
        }
        guard key.isUnit(rho) else { throw ProofError.invalidWitness("randomness outside Z*_N0") }
        let k = k.withSecrecy(true)
        let rho = rho.withSecrecy(true)
        let nHat = setup.n
        // Fig. 14, step 1: α ← ±2^(ℓ+ε), μ ← ±2^ℓ·Ñ, r ← Z*_N₀, γ ← ±2^(ℓ+ε)·Ñ.
        let alpha = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPlusEpsilon, using: &rng)
        let mu = try BigNum.random(inSymmetricRange: ProofParameters.twoToEll * nHat, using: &rng)
        let r = try key.nonce(using: &rng)
        let gamma = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPlusEpsilon * nHat, using: &rng)
        // Fig. 14, step 1: S = s^k t^μ, A = (1 + N₀)^α r^N₀, C = s^α t^γ.
        let commitment = Commitment(
            s: try setup.commit(k, mu).declassified(),
            a: try key.encrypt(signed: alpha, nonce: r, owner: proverSecret).value,
            c: try setup.commit(alpha, gamma).declassified())
        // Fig. 14, step 2: e ← ±q.
        let e = try challenge(statement: statement, setup: setup, commitment: commitment, transcript: &transcript)
        // Fig. 14, step 3: z₁ = α + e·k, z₂ = r·ρ^e mod N₀, z₃ = γ + e·μ.
        let z2 = try r.r.modMul(rho.modExpSigned(e, key.n), key.n)
        return EncryptionProof(
            commitment: commitment, z1: (alpha + e * k).declassified(), z2: z2.declassified(),
            z3: (gamma + e * mu).declassified())
    }

    /// e ∈ ±q after absorbing the label, the setup, N₀, K and the first message (Fig. 14, step 2).
    public static func challenge(
        statement: Statement, setup: RingPedersenParameters, commitment: Commitment, transcript: inout Transcript
    ) throws -> BigNum {
        transcript.beginProof(label)
        setup.absorb(into: &transcript)
        transcript.append("N0", integer: statement.key.n)
        transcript.append("K", integer: statement.ciphertext.value)
        transcript.append("S", integer: commitment.s)
        transcript.append("A", integer: commitment.a)
        transcript.append("C", integer: commitment.c)
        return try transcript.challengeSigned("e", magnitudeAtMost: CurveOrder.q)
    }

    // MARK: Verifier

    /// `owner`: the verifier's factorisation of its setup's Ñ, if it has it (faster, same check).
    public func verify(
        statement: Statement, setup: RingPedersenParameters, transcript: inout Transcript, owner: Factorization? = nil
    ) throws(ProofError) {
        let key = statement.key
        var units = UnitChecks()
        let k = try units.ciphertext(statement.ciphertext.value, key, "K", statement: true)
        try units.element(commitment.s, modulo: setup.n, "S")
        try units.element(commitment.c, modulo: setup.n, "C")
        let a = try units.ciphertext(commitment.a, key, "A", statement: false)
        // Fig. 14, verification: z₁ ∈ ±2^(ℓ+ε).
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
            // Fig. 14, check 1: (1 + N₀)^z₁ · z₂^N₀ = A·K^e mod N₀².
            let lhs = try key.publicEncryption(signed: z1, randomness: z2)
            guard try lhs == key.mulModNSquared(a, key.publicPower(k, e)) else {
                throw ProofError.equationFailed("Fig. 14: (1+N0)^z1·z2^N0 = A·K^e")
            }
            // Fig. 14, check 2: s^z₁ t^z₃ = C·S^e mod Ñ.
            guard try setup.holds(z1, z3, equals: commitment.c, times: commitment.s, toThe: e, owner: owner) else {
                throw ProofError.equationFailed("Fig. 14: s^z1·t^z3 = C·S^e")
            }
        }
    }

    public func isValid(statement: Statement, setup: RingPedersenParameters, transcript: inout Transcript) -> Bool {
        (try? verify(statement: statement, setup: setup, transcript: &transcript)) != nil
    }

    // MARK: Encoding

    public func encode() -> [UInt8] {
        var writer = ProofWriter(.encryption)
        writer.unsigned(commitment.s)
        writer.unsigned(commitment.a)
        writer.unsigned(commitment.c)
        writer.signed(z1)
        writer.unsigned(z2)
        writer.signed(z3)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(ProofError) {
        var reader = try ProofReader(bytes, tag: .encryption)
        let s = try reader.unsigned("S", maxBits: FieldBits.modulus)
        let a = try reader.unsigned("A", maxBits: FieldBits.modulusSquared)
        let c = try reader.unsigned("C", maxBits: FieldBits.modulus)
        commitment = Commitment(s: s, a: a, c: c)
        z1 = try reader.signed("z1", maxBits: FieldBits.ellPlusEpsilon)
        guard z1.hasMagnitude(atMost: ProofParameters.twoToEllPlusEpsilon) else { throw .outOfRange("z1 ∉ ±2^(ℓ+ε)") }
        z2 = try reader.unsigned("z2", maxBits: FieldBits.modulus)
        z3 = try reader.signed("z3", maxBits: FieldBits.ringPedersenResponse)
        try reader.finish()
    }
}
