import CryptoPrimitives

/// Π^fac: the modulus N₀ has no small factor (CGGMP21 Fig. 28, §C.5): N₀ = p·q with
/// p, q ∈ ±2^ℓ·√N₀, hence, since the responses are bounded by 2^(ℓ+ε)·√N₀, both factors exceed
/// N₀ / (2^(ℓ+ε)·√N₀) ≈ 2^(|N₀|/2 − ℓ − ε) (2^255 for a 2048-bit N₀). This is the fix for
/// BitForge (Fireblocks, eprint 2023/1234, "6ix1een"): a Paillier modulus with a small prime
/// factor leaks the MtA partner's share; such an N₀ satisfies Π^mod but not this proof. Proven
/// against the *verifier's* ring-Pedersen setup (Ñ, s, t).
///
/// √N₀ is taken as 2^⌈|N₀|/2⌉ ≥ √N₀ (the bound is then at most 2^0.5 looser than the paper's).
///
/// Prover (knows p, q):
///   step 1  α, β ← ±2^(ℓ+ε)·√N₀; μ, ν ← ±2^ℓ·Ñ; σ ← ±2^ℓ·N₀·Ñ; r ← ±2^(ℓ+ε)·N₀·Ñ;
///           x, y ← ±2^(ℓ+ε)·Ñ; P = s^p t^μ, Q = s^q t^ν, A = s^α t^x, B = s^β t^y, T = Q^α t^r
///           (mod Ñ); sends (P, Q, A, B, T, σ)
///   step 2  e ← ±q (from the transcript, after every value of step 1, σ included)
///   step 3  σ̂ = σ − ν·p; z₁ = α + e·p, z₂ = β + e·q, w₁ = x + e·μ, w₂ = y + e·ν, v = r + e·σ̂
/// Verifier: with R = s^N₀ t^σ mod Ñ: s^z₁ t^w₁ = A·P^e, s^z₂ t^w₂ = B·Q^e, Q^z₁ t^v = T·R^e
///           (mod Ñ); z₁, z₂ ∈ ±2^(ℓ+ε)·√N₀.
///
/// Encoding: tag 0x03 ‖ version ‖ P ‖ Q ‖ A ‖ B ‖ T ‖ σ ‖ z₁ ‖ z₂ ‖ w₁ ‖ w₂ ‖ v.
public struct NoSmallFactorProof: Sendable, Equatable {
    /// The first message (Fig. 28, step 1).
    public struct Commitment: Sendable, Equatable {
        public var p: BigNum
        public var q: BigNum
        public var a: BigNum
        public var b: BigNum
        public var t: BigNum
        /// σ ← ±2^ℓ·N₀·Ñ, sent in the clear (the verifier forms R = s^N₀ t^σ).
        public var sigma: BigNum

        public init(p: BigNum, q: BigNum, a: BigNum, b: BigNum, t: BigNum, sigma: BigNum) {
            self.p = p
            self.q = q
            self.a = a
            self.b = b
            self.t = t
            self.sigma = sigma
        }
    }

    public var commitment: Commitment
    public var z1: BigNum
    public var z2: BigNum
    public var w1: BigNum
    public var w2: BigNum
    public var v: BigNum

    static let label = "cggmp21/fac/v1"

    public init(commitment: Commitment, z1: BigNum, z2: BigNum, w1: BigNum, w2: BigNum, v: BigNum) {
        self.commitment = commitment
        self.z1 = z1
        self.z2 = z2
        self.w1 = w1
        self.w2 = w2
        self.v = v
    }

    /// 2^⌈|N₀|/2⌉, the stand-in for √N₀.
    static func sqrtBound(_ n0: BigNum) throws -> BigNum { try BigNum.powerOfTwo((n0.bitLength + 1) / 2) }

    /// The range of z₁, z₂: ±2^(ℓ+ε)·√N₀.
    public static func responseBound(modulus n0: BigNum) throws -> BigNum {
        try ProofParameters.twoToEllPlusEpsilon * sqrtBound(n0)
    }

    // MARK: Prover

    /// Proves that the owner's Paillier modulus has no small factor, against the verifier's setup.
    public static func prove<R: RandomSource>(
        key: PaillierSecretKey, setup: RingPedersenParameters, transcript: inout Transcript, rng: inout R
    ) throws -> NoSmallFactorProof {
        try prove(modulus: key.publicKey.n, p: key.p, q: key.q, setup: setup, transcript: &transcript, rng: &rng)
    }

    /// Runs the prover with the factorisation N₀ = p·q. Only p·q = N₀ is checked: the sizes are
    /// the statement, and a witness with a small factor yields a proof the verifier refuses.
    public static func prove<R: RandomSource>(
        modulus n0: BigNum, p: BigNum, q: BigNum, setup: RingPedersenParameters, transcript: inout Transcript,
        rng: inout R
    ) throws -> NoSmallFactorProof {
        let n0 = n0.declassified()
        try checkModulusShape(n0, "N0")
        let p = p.withSecrecy(true)
        let q = q.withSecrecy(true)
        guard !p.isNegative, !q.isNegative, p > .one, q > .one, p * q == n0 else {
            throw ProofError.invalidWitness("N0 is not p·q")
        }
        let nHat = setup.n
        let twoL = ProofParameters.twoToEll
        let twoLE = ProofParameters.twoToEllPlusEpsilon
        // Fig. 28, step 1: sample.
        let alpha = try BigNum.random(inSymmetricRange: responseBound(modulus: n0), using: &rng)
        let beta = try BigNum.random(inSymmetricRange: responseBound(modulus: n0), using: &rng)
        let mu = try BigNum.random(inSymmetricRange: twoL * nHat, using: &rng)
        let nu = try BigNum.random(inSymmetricRange: twoL * nHat, using: &rng)
        let sigma = try BigNum.random(inSymmetricRange: twoL * n0 * nHat, using: &rng)
        let r = try BigNum.random(inSymmetricRange: twoLE * n0 * nHat, using: &rng)
        let x = try BigNum.random(inSymmetricRange: twoLE * nHat, using: &rng)
        let y = try BigNum.random(inSymmetricRange: twoLE * nHat, using: &rng)
        // Fig. 28, step 1: P = s^p t^μ, Q = s^q t^ν, A = s^α t^x, B = s^β t^y, T = Q^α t^r mod Ñ.
        let bigP = try setup.commit(p, mu).declassified()
        let bigQ = try setup.commit(q, nu).declassified()
        let bigA = try setup.commit(alpha, x).declassified()
        let bigB = try setup.commit(beta, y).declassified()
        let bigT = try setup.mul(setup.power(bigQ, alpha), setup.power(setup.t, r)).declassified()
        let commitment = Commitment(p: bigP, q: bigQ, a: bigA, b: bigB, t: bigT, sigma: sigma.declassified())
        // Fig. 28, step 2: e ← ±q.
        let e = try challenge(modulus: n0, setup: setup, commitment: commitment, transcript: &transcript)
        // Fig. 28, step 3.
        let sigmaHat = sigma - nu * p
        return NoSmallFactorProof(
            commitment: commitment,
            z1: (alpha + e * p).declassified(),
            z2: (beta + e * q).declassified(),
            w1: (x + e * mu).declassified(),
            w2: (y + e * nu).declassified(),
            v: (r + e * sigmaHat).declassified())
    }

    /// e ∈ ±q after absorbing the label, N₀, the setup and the first message (Fig. 28, step 2).
    public static func challenge(
        modulus n0: BigNum, setup: RingPedersenParameters, commitment: Commitment, transcript: inout Transcript
    ) throws -> BigNum {
        transcript.beginProof(label)
        transcript.append("N0", integer: n0)
        setup.absorb(into: &transcript)
        transcript.append("P", integer: commitment.p)
        transcript.append("Q", integer: commitment.q)
        transcript.append("A", integer: commitment.a)
        transcript.append("B", integer: commitment.b)
        transcript.append("T", integer: commitment.t)
        transcript.append("sigma", integer: commitment.sigma)
        return try transcript.challengeSigned("e", magnitudeAtMost: CurveOrder.q)
    }

    // MARK: Verifier

    /// `owner`: the verifier's factorisation of its setup's Ñ, if it has it (faster, same check).
    public func verify(
        modulus n0: BigNum, setup: RingPedersenParameters, transcript: inout Transcript, owner: Factorization? = nil
    ) throws(ProofError) {
        try checkModulusShape(n0, "N0")
        let c = commitment
        for (value, name) in [(c.p, "P"), (c.q, "Q"), (c.a, "A"), (c.b, "B"), (c.t, "T")] {
            try setup.checkedElement(value, name)
        }
        let nHat = setup.n
        try withProofErrors {
            // Ranges (Fig. 28, verification: z₁, z₂ ∈ ±2^(ℓ+ε)·√N₀), then the size caps of
            // σ (its sampling range) and of w₁, w₂, v (see `ProofParameters.ringPedersenResponseBound`;
            // |v| ≤ 2^(ℓ+ε)·N₀Ñ + q·2^(ℓ+1)·N₀Ñ ≤ 2^(ℓ+ε+1)·N₀·Ñ).
            let bound = try Self.responseBound(modulus: n0)
            guard z1.hasMagnitude(atMost: bound) else { throw ProofError.outOfRange("z1 ∉ ±2^(ℓ+ε)·√N0") }
            guard z2.hasMagnitude(atMost: bound) else { throw ProofError.outOfRange("z2 ∉ ±2^(ℓ+ε)·√N0") }
            guard c.sigma.hasMagnitude(atMost: ProofParameters.twoToEll * n0 * nHat) else {
                throw ProofError.outOfRange("sigma ∉ ±2^ℓ·N0·Ñ")
            }
            let wBound = ProofParameters.ringPedersenResponseBound(nHat)
            guard w1.hasMagnitude(atMost: wBound) else { throw ProofError.outOfRange("w1 ∉ ±2^(ℓ+ε+1)·Ñ") }
            guard w2.hasMagnitude(atMost: wBound) else { throw ProofError.outOfRange("w2 ∉ ±2^(ℓ+ε+1)·Ñ") }
            guard v.hasMagnitude(atMost: wBound * n0) else { throw ProofError.outOfRange("v ∉ ±2^(ℓ+ε+1)·N0·Ñ") }

            let e = try Self.challenge(modulus: n0, setup: setup, commitment: c, transcript: &transcript)
            // Fig. 28, check 1: s^z₁ t^w₁ = A·P^e mod Ñ.
            guard try setup.holds(z1, w1, equals: c.a, times: c.p, toThe: e, owner: owner) else {
                throw ProofError.equationFailed("Fig. 28: s^z1·t^w1 = A·P^e")
            }
            // Fig. 28, check 2: s^z₂ t^w₂ = B·Q^e mod Ñ.
            guard try setup.holds(z2, w2, equals: c.b, times: c.q, toThe: e, owner: owner) else {
                throw ProofError.equationFailed("Fig. 28: s^z2·t^w2 = B·Q^e")
            }
            // Fig. 28, check 3: Q^z₁ t^v = T·R^e mod Ñ with R = s^N₀ t^σ.
            let check3: Bool
            if let owner, owner.n == nHat {
                // R^e = s^(N₀·e) · t^(σ·e).
                check3 = try owner.equalModN(
                    [(c.q, z1), (setup.t, v)], [(c.t, .one), (setup.s, n0 * e), (setup.t, c.sigma * e)])
            } else {
                let bigR = try setup.commit(n0, c.sigma)
                let lhs = try setup.mul(setup.power(c.q, z1), setup.power(setup.t, v))
                check3 = try lhs == setup.mul(c.t, setup.power(bigR, e))
            }
            guard check3 else {
                throw ProofError.equationFailed("Fig. 28: Q^z1·t^v = T·R^e")
            }
        }
    }

    public func isValid(modulus n0: BigNum, setup: RingPedersenParameters, transcript: inout Transcript) -> Bool {
        (try? verify(modulus: n0, setup: setup, transcript: &transcript)) != nil
    }

    // MARK: Encoding

    public func encode() -> [UInt8] {
        var writer = ProofWriter(.noSmallFactor)
        for value in [commitment.p, commitment.q, commitment.a, commitment.b, commitment.t] { writer.unsigned(value) }
        writer.signed(commitment.sigma)
        for value in [z1, z2, w1, w2, v] { writer.signed(value) }
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(ProofError) {
        var reader = try ProofReader(bytes, tag: .noSmallFactor)
        let modulus = FieldBits.modulus
        let p = try reader.unsigned("P", maxBits: modulus)
        let q = try reader.unsigned("Q", maxBits: modulus)
        let a = try reader.unsigned("A", maxBits: modulus)
        let b = try reader.unsigned("B", maxBits: modulus)
        let t = try reader.unsigned("T", maxBits: modulus)
        // Caps: σ ∈ ±2^ℓ·N₀·Ñ; z ∈ ±2^(ℓ+ε)·√N₀; w ∈ ±2^(ℓ+ε+1)·Ñ; v ∈ ±2^(ℓ+ε+1)·N₀·Ñ.
        let sigma = try reader.signed("sigma", maxBits: ProofParameters.ell + 2 * modulus + 1)
        commitment = Commitment(p: p, q: q, a: a, b: b, t: t, sigma: sigma)
        z1 = try reader.signed("z1", maxBits: FieldBits.ellPlusEpsilon + modulus / 2 + 1)
        z2 = try reader.signed("z2", maxBits: FieldBits.ellPlusEpsilon + modulus / 2 + 1)
        w1 = try reader.signed("w1", maxBits: FieldBits.ringPedersenResponse)
        w2 = try reader.signed("w2", maxBits: FieldBits.ringPedersenResponse)
        v = try reader.signed("v", maxBits: FieldBits.ringPedersenResponse + modulus)
        try reader.finish()
    }
}
