import CryptoPrimitives
import Secp256k1

/// Π^aff-g: Paillier affine operation with group commitment in range (CGGMP21 Fig. 15) — Bob's
/// MtA / MtAwc response. Statement, with N₀ the verifier's (Alice's) Paillier key and N₁ the
/// prover's (Bob's):
///   D = C^x · (1 + N₀)^y · ρ^N₀ mod N₀²,  Y = (1 + N₁)^y · ρ_y^N₁ mod N₁²,  X = x·G,
///   x ∈ ±2^ℓ,  y ∈ ±2^ℓ'  (y is Bob's mask β', drawn from the wide range, see `MtAResponse`)
/// against Alice's ring-Pedersen setup (Ñ, s, t).
///
/// Prover:
///   step 1  α ← ±2^(ℓ+ε), β ← ±2^(ℓ'+ε), r ← Z*_N₀, r_y ← Z*_N₁, γ ← ±2^(ℓ+ε)·Ñ, m ← ±2^ℓ·Ñ,
///           δ ← ±2^(ℓ+ε)·Ñ, μ ← ±2^ℓ·Ñ;
///           A = C^α (1 + N₀)^β r^N₀ mod N₀², B_x = α·G, B_y = (1 + N₁)^β r_y^N₁ mod N₁²,
///           E = s^α t^γ, S = s^x t^m, F = s^β t^δ, T = s^y t^μ (mod Ñ)
///   step 2  e ← ±q (from the transcript)
///   step 3  z₁ = α + e·x, z₂ = β + e·y, z₃ = γ + e·m, z₄ = δ + e·μ, w = r·ρ^e mod N₀,
///           w_y = r_y·ρ_y^e mod N₁
/// Verifier: z₁ ∈ ±2^(ℓ+ε), z₂ ∈ ±2^(ℓ'+ε);
///   C^z₁ (1 + N₀)^z₂ w^N₀ = A·D^e mod N₀²;   z₁·G = B_x + e·X;
///   (1 + N₁)^z₂ w_y^N₁ = B_y·Y^e mod N₁²;   s^z₁ t^z₃ = E·S^e;   s^z₂ t^z₄ = F·T^e (mod Ñ).
/// Also: A ∈ Z*_{N₀²}, B_y ∈ Z*_{N₁²}, E, S, F, T ∈ Z*_Ñ, B_x finite, w ∈ Z*_N₀, w_y ∈ Z*_N₁,
/// |z₃|, |z₄| ≤ 2^(ℓ+ε+1)·Ñ; the statement's ciphertexts in their Z*_{N²}, X finite.
///
/// Encoding: tag 0x06 ‖ version ‖ A ‖ B_x (33 bytes) ‖ B_y ‖ E ‖ S ‖ F ‖ T ‖ z₁ ‖ z₂ ‖ z₃ ‖ z₄ ‖ w ‖ w_y.
public struct AffineGroupProof: Sendable, Equatable {
    public struct Statement: Sendable, Equatable {
        /// N₀: the verifier's Paillier key (C and D are under it).
        public var verifierKey: PaillierPublicKey
        /// N₁: the prover's Paillier key (Y is under it).
        public var proverKey: PaillierPublicKey
        /// C: the verifier's ciphertext (Enc_N₀(k)).
        public var c: PaillierCiphertext
        /// D = C^x · Enc_N₀(y; ρ).
        public var d: PaillierCiphertext
        /// Y = Enc_N₁(y; ρ_y).
        public var y: PaillierCiphertext
        /// X = x·G.
        public var x: Point

        public init(
            verifierKey: PaillierPublicKey, proverKey: PaillierPublicKey, c: PaillierCiphertext, d: PaillierCiphertext,
            y: PaillierCiphertext, x: Point
        ) {
            self.verifierKey = verifierKey
            self.proverKey = proverKey
            self.c = c
            self.d = d
            self.y = y
            self.x = x
        }
    }

    /// The witness: x, y and the two encryption randomnesses.
    public struct Witness: Sendable {
        public var x: BigNum
        public var y: BigNum
        /// ρ ∈ Z*_N₀ (D's randomness).
        public var rho: BigNum
        /// ρ_y ∈ Z*_N₁ (Y's randomness).
        public var rhoY: BigNum

        public init(x: BigNum, y: BigNum, rho: BigNum, rhoY: BigNum) {
            self.x = x.withSecrecy(true)
            self.y = y.withSecrecy(true)
            self.rho = rho.withSecrecy(true)
            self.rhoY = rhoY.withSecrecy(true)
        }
    }

    /// The first message (Fig. 15, step 1).
    public struct Commitment: Sendable, Equatable {
        public var a: BigNum
        public var bx: Point
        public var by: BigNum
        public var e: BigNum
        public var s: BigNum
        public var f: BigNum
        public var t: BigNum

        public init(a: BigNum, bx: Point, by: BigNum, e: BigNum, s: BigNum, f: BigNum, t: BigNum) {
            self.a = a
            self.bx = bx
            self.by = by
            self.e = e
            self.s = s
            self.f = f
            self.t = t
        }
    }

    public var commitment: Commitment
    public var z1: BigNum
    public var z2: BigNum
    public var z3: BigNum
    public var z4: BigNum
    public var w: BigNum
    public var wy: BigNum

    static let label = "cggmp21/aff-g/v1"

    public init(commitment: Commitment, z1: BigNum, z2: BigNum, z3: BigNum, z4: BigNum, w: BigNum, wy: BigNum) {
        self.commitment = commitment
        self.z1 = z1
        self.z2 = z2
        self.z3 = z3
        self.z4 = z4
        self.w = w
        self.wy = wy
    }

    // MARK: Prover

    /// Proves the statement. Checks the ranges of x and y, the randomnesses' groups and X = x·G
    /// (cheap); the ciphertexts are not recomputed (a wrong opening fails verification).
    public static func prove<R: RandomSource>(
        statement: Statement, witness: Witness, setup: RingPedersenParameters, transcript: inout Transcript,
        rng: inout R, proverSecret: PaillierSecretKey? = nil
    ) throws -> AffineGroupProof {
        let n0 = statement.verifierKey
        let n1 = statement.proverKey
        guard !statement.x.isInfinity else { throw ProofError.invalidStatement("X is the point at infinity") }
        guard witness.x.hasMagnitude(atMost: ProofParameters.twoToEll) else {
            throw ProofError.invalidWitness("x outside ±2^ℓ")
        }
        guard witness.y.hasMagnitude(atMost: ProofParameters.twoToEllPrime) else {
            throw ProofError.invalidWitness("y outside ±2^ℓ'")
        }
        guard n0.isUnit(witness.rho), n1.isUnit(witness.rhoY) else {
            throw ProofError.invalidWitness("randomness outside Z*_N")
        }
        guard try Scalar(reducing: witness.x) * .generator == statement.x else {
            throw ProofError.invalidWitness("X ≠ x·G")
        }
        return try proveUnchecked(
            statement: statement, witness: witness, setup: setup, transcript: &transcript, rng: &rng,
            proverSecret: proverSecret)
    }

    /// Fig. 15 without the witness checks: only for misbehaviour tests (a Bob whose mask exceeds
    /// ±2^ℓ' but still passes, which Π^aff-g's slack allows up to about 2^(ℓ'+ε−ℓ)).
    static func proveUnchecked<R: RandomSource>(
        statement: Statement, witness: Witness, setup: RingPedersenParameters, transcript: inout Transcript,
        rng: inout R, proverSecret: PaillierSecretKey?
    ) throws -> AffineGroupProof {
        let n0 = statement.verifierKey
        let n1 = statement.proverKey
        let nHat = setup.n
        let twoL = ProofParameters.twoToEll
        let twoLE = ProofParameters.twoToEllPlusEpsilon
        // Fig. 15, step 1: sample.
        let alpha = try BigNum.random(inSymmetricRange: twoLE, using: &rng)
        let beta = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPrimePlusEpsilon, using: &rng)
        let r = try n0.nonce(using: &rng)
        let ry = try n1.nonce(using: &rng)
        let gamma = try BigNum.random(inSymmetricRange: twoLE * nHat, using: &rng)
        let m = try BigNum.random(inSymmetricRange: twoL * nHat, using: &rng)
        let delta = try BigNum.random(inSymmetricRange: twoLE * nHat, using: &rng)
        let mu = try BigNum.random(inSymmetricRange: twoL * nHat, using: &rng)
        // Fig. 15, step 1: A = C^α (1 + N₀)^β r^N₀, B_x = g^α, B_y = (1 + N₁)^β r_y^N₁,
        // E = s^α t^γ, S = s^x t^m, F = s^β t^δ, T = s^y t^μ.
        let a = try n0.add(n0.multiply(statement.c, by: alpha), n0.encrypt(signed: beta, nonce: r, owner: nil))
        let commitment = Commitment(
            a: a.value,
            bx: Point.generatorMul(try Scalar(reducing: alpha)),
            by: try n1.encrypt(signed: beta, nonce: ry, owner: proverSecret).value,
            e: try setup.commit(alpha, gamma).declassified(),
            s: try setup.commit(witness.x, m).declassified(),
            f: try setup.commit(beta, delta).declassified(),
            t: try setup.commit(witness.y, mu).declassified())
        // Fig. 15, step 2: e ← ±q.
        let e = try challenge(statement: statement, setup: setup, commitment: commitment, transcript: &transcript)
        // Fig. 15, step 3.
        let w = try r.r.modMul(witness.rho.modExpSigned(e, n0.n), n0.n)
        let wy = try ry.r.modMul(witness.rhoY.modExpSigned(e, n1.n), n1.n)
        return AffineGroupProof(
            commitment: commitment,
            z1: (alpha + e * witness.x).declassified(),
            z2: (beta + e * witness.y).declassified(),
            z3: (gamma + e * m).declassified(),
            z4: (delta + e * mu).declassified(),
            w: w.declassified(), wy: wy.declassified())
    }

    /// e ∈ ±q after absorbing the label, the setup, the statement and the first message
    /// (Fig. 15, step 2).
    public static func challenge(
        statement: Statement, setup: RingPedersenParameters, commitment: Commitment, transcript: inout Transcript
    ) throws -> BigNum {
        transcript.beginProof(label)
        setup.absorb(into: &transcript)
        transcript.append("N0", integer: statement.verifierKey.n)
        transcript.append("N1", integer: statement.proverKey.n)
        transcript.append("C", integer: statement.c.value)
        transcript.append("D", integer: statement.d.value)
        transcript.append("Y", integer: statement.y.value)
        transcript.append("X", point: statement.x)
        transcript.append("A", integer: commitment.a)
        transcript.append("Bx", point: commitment.bx)
        transcript.append("By", integer: commitment.by)
        transcript.append("E", integer: commitment.e)
        transcript.append("S", integer: commitment.s)
        transcript.append("F", integer: commitment.f)
        transcript.append("T", integer: commitment.t)
        return try transcript.challengeSigned("e", magnitudeAtMost: CurveOrder.q)
    }

    // MARK: Verifier

    /// `owner`: the verifier's own factorisation, of N₀ (its Paillier key) and/or of its setup's
    /// Ñ; each equation modulo a modulus it factors is checked prime by prime (same check, faster).
    public func verify(
        statement: Statement, setup: RingPedersenParameters, transcript: inout Transcript, owner: Factorization? = nil
    ) throws(ProofError) {
        let n0 = statement.verifierKey
        let n1 = statement.proverKey
        var units = UnitChecks()
        let c = try units.ciphertext(statement.c.value, n0, "C", statement: true)
        let d = try units.ciphertext(statement.d.value, n0, "D", statement: true)
        let y = try units.ciphertext(statement.y.value, n1, "Y", statement: true)
        guard !statement.x.isInfinity else { throw .invalidStatement("X is the point at infinity") }
        let cm = commitment
        let a = try units.ciphertext(cm.a, n0, "A", statement: false)
        let by = try units.ciphertext(cm.by, n1, "By", statement: false)
        guard !cm.bx.isInfinity else { throw .notInGroup("Bx") }
        for (value, name) in [(cm.e, "E"), (cm.s, "S"), (cm.f, "F"), (cm.t, "T")] {
            try units.element(value, modulo: setup.n, name)
        }
        // Fig. 15, verification: z₁ ∈ ±2^(ℓ+ε), z₂ ∈ ±2^(ℓ'+ε).
        guard z1.hasMagnitude(atMost: ProofParameters.twoToEllPlusEpsilon) else { throw .outOfRange("z1 ∉ ±2^(ℓ+ε)") }
        guard z2.hasMagnitude(atMost: ProofParameters.twoToEllPrimePlusEpsilon) else {
            throw .outOfRange("z2 ∉ ±2^(ℓ'+ε)")
        }
        let bound = ProofParameters.ringPedersenResponseBound(setup.n)
        guard z3.hasMagnitude(atMost: bound) else { throw .outOfRange("z3 ∉ ±2^(ℓ+ε+1)·Ñ") }
        guard z4.hasMagnitude(atMost: bound) else { throw .outOfRange("z4 ∉ ±2^(ℓ+ε+1)·Ñ") }
        try units.element(w, modulo: n0.n, "w")
        try units.element(wy, modulo: n1.n, "wy")
        try units.finish()
        try withProofErrors {
            let e = try Self.challenge(statement: statement, setup: setup, commitment: cm, transcript: &transcript)
            // Fig. 15, check 1: C^z₁ (1 + N₀)^z₂ w^N₀ = A·D^e mod N₀².
            let check1: Bool
            if let owner, owner.n == n0.n {
                // (1 + N₀)^z₂ ≡ 1 + z₂·N₀ (mod N₀²), for either sign of z₂.
                let plain = try (BigNum.one + z2 * n0.n).mod(n0.nSquared)
                check1 = try owner.equalModNSquared([(c, z1), (plain, .one)], [(a, .one), (d, e)], timesNthPowerOf: w)
            } else {
                let lhs0 = try n0.mulModNSquared(
                    n0.publicPower(c, z1), n0.publicEncryption(signed: z2, randomness: w))
                check1 = try lhs0 == n0.mulModNSquared(a, n0.publicPower(d, e))
            }
            guard check1 else {
                throw ProofError.equationFailed("Fig. 15: C^z1·(1+N0)^z2·w^N0 = A·D^e")
            }
            // Fig. 15, check 2: g^z₁ = B_x·X^e.
            let gz = Point.generatorMul(try Scalar(reducing: z1))
            let xe = statement.x.multipliedVartime(by: try Scalar(reducing: e))
            guard gz == cm.bx + xe else {
                throw ProofError.equationFailed("Fig. 15: g^z1 = Bx·X^e")
            }
            // Fig. 15, check 3: (1 + N₁)^z₂ w_y^N₁ = B_y·Y^e mod N₁².
            guard try n1.publicEncryption(signed: z2, randomness: wy) == n1.mulModNSquared(by, n1.publicPower(y, e))
            else {
                throw ProofError.equationFailed("Fig. 15: (1+N1)^z2·wy^N1 = By·Y^e")
            }
            // Fig. 15, check 4: s^z₁ t^z₃ = E·S^e mod Ñ.
            guard try setup.holds(z1, z3, equals: cm.e, times: cm.s, toThe: e, owner: owner) else {
                throw ProofError.equationFailed("Fig. 15: s^z1·t^z3 = E·S^e")
            }
            // Fig. 15, check 5: s^z₂ t^z₄ = F·T^e mod Ñ.
            guard try setup.holds(z2, z4, equals: cm.f, times: cm.t, toThe: e, owner: owner) else {
                throw ProofError.equationFailed("Fig. 15: s^z2·t^z4 = F·T^e")
            }
        }
    }

    public func isValid(statement: Statement, setup: RingPedersenParameters, transcript: inout Transcript) -> Bool {
        (try? verify(statement: statement, setup: setup, transcript: &transcript)) != nil
    }

    // MARK: Encoding

    public func encode() -> [UInt8] {
        var writer = ProofWriter(.affineGroup)
        writer.unsigned(commitment.a)
        writer.point(commitment.bx)
        for value in [commitment.by, commitment.e, commitment.s, commitment.f, commitment.t] { writer.unsigned(value) }
        for value in [z1, z2, z3, z4] { writer.signed(value) }
        writer.unsigned(w)
        writer.unsigned(wy)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(ProofError) {
        var reader = try ProofReader(bytes, tag: .affineGroup)
        let a = try reader.unsigned("A", maxBits: FieldBits.modulusSquared)
        let bx = try reader.point("Bx")
        let by = try reader.unsigned("By", maxBits: FieldBits.modulusSquared)
        let e = try reader.unsigned("E", maxBits: FieldBits.modulus)
        let s = try reader.unsigned("S", maxBits: FieldBits.modulus)
        let f = try reader.unsigned("F", maxBits: FieldBits.modulus)
        let t = try reader.unsigned("T", maxBits: FieldBits.modulus)
        commitment = Commitment(a: a, bx: bx, by: by, e: e, s: s, f: f, t: t)
        z1 = try reader.signed("z1", maxBits: FieldBits.ellPlusEpsilon)
        guard z1.hasMagnitude(atMost: ProofParameters.twoToEllPlusEpsilon) else { throw .outOfRange("z1 ∉ ±2^(ℓ+ε)") }
        z2 = try reader.signed("z2", maxBits: FieldBits.ellPrimePlusEpsilon)
        guard z2.hasMagnitude(atMost: ProofParameters.twoToEllPrimePlusEpsilon) else {
            throw .outOfRange("z2 ∉ ±2^(ℓ'+ε)")
        }
        z3 = try reader.signed("z3", maxBits: FieldBits.ringPedersenResponse)
        z4 = try reader.signed("z4", maxBits: FieldBits.ringPedersenResponse)
        w = try reader.unsigned("w", maxBits: FieldBits.modulus)
        wy = try reader.unsigned("wy", maxBits: FieldBits.modulus)
        try reader.finish()
    }
}

/// Bob's side of MtA / MtAwc (GG20 §3, with CGGMP21 Fig. 7's ranges): given Alice's ciphertext
/// C = Enc_N₀(k), Bob's secret x (his γ_j or w_j, a scalar) with X = x·G, Bob draws his mask
/// β' ← ±2^ℓ' (the *wide* range CGGMP21 requires, not Z_N as in GG20's original MtA: the
/// range proof needs it and Alice's decryption k·x + β' then never wraps modulo N₀), and answers
///   D = C^x · Enc_N₀(β'; ρ)   (to Alice, who decrypts α = k·x + β')
///   Y = Enc_N₁(β'; ρ_y)       (under Bob's own key, for the proof and for blame)
/// with a Π^aff-g proof against Alice's ring-Pedersen setup. Bob's additive share is β = −β'.
public struct MtAResponse: Sendable {
    public let d: PaillierCiphertext
    public let y: PaillierCiphertext
    public let proof: AffineGroupProof
    /// β = −β' mod q, Bob's share of k·x (α + β = k·x mod q). Secret.
    public let beta: Scalar
    /// β' (secret; kept for the blame procedures, which open Bob's values).
    public let betaPrime: BigNum
    /// The randomness of Enc_N₀(β') inside D and of Y (secret): with x and β', the witness for
    /// proving (D, Y) again against other verifiers' setups (type-7 blame).
    public let rho: BigNum
    public let rhoY: BigNum

    public static func respond<R: RandomSource>(
        aliceKey: PaillierPublicKey, aliceCiphertext c: PaillierCiphertext, aliceSetup: RingPedersenParameters,
        bobKey: PaillierPublicKey, bobSecret x: Scalar, transcript: inout Transcript, rng: inout R,
        bobPaillierSecret: PaillierSecretKey? = nil
    ) throws -> MtAResponse {
        let xInteger = BigNum(x)
        // β' ← ±2^ℓ' (CGGMP21 Fig. 7, round 2: β ← J = ±2^ℓ').
        let betaPrime = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPrime, using: &rng)
        let (mask, rho) = try aliceKey.encrypt(signed: betaPrime, using: &rng)
        let d = try aliceKey.add(aliceKey.multiply(c, by: xInteger), mask)
        let nonceY = try bobKey.nonce(using: &rng)
        let rhoY = nonceY.r
        let y = try bobKey.encrypt(signed: betaPrime, nonce: nonceY, owner: bobPaillierSecret)
        let statement = AffineGroupProof.Statement(
            verifierKey: aliceKey, proverKey: bobKey, c: c, d: d, y: y, x: Point.generatorMul(x))
        let proof = try AffineGroupProof.prove(
            statement: statement, witness: .init(x: xInteger, y: betaPrime, rho: rho, rhoY: rhoY), setup: aliceSetup,
            transcript: &transcript, rng: &rng, proverSecret: bobPaillierSecret)
        let betaPrimeModQ = try Scalar(reducing: betaPrime)
        return MtAResponse(
            d: d, y: y, proof: proof, beta: -betaPrimeModQ, betaPrime: betaPrime, rho: rho, rhoY: rhoY)
    }
}
