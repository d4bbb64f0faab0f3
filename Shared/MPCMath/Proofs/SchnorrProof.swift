import CryptoPrimitives
import Secp256k1

/// Π^sch: Schnorr proof of knowledge of a discrete logarithm on secp256k1 (CGGMP21 Fig. 22),
/// non-interactive by Fiat–Shamir over the caller's transcript.
///
/// Statement: X = x·g for a finite base g (G unless given) and a finite X. Witness: x ≠ 0.
/// Proof: A = α·g and z = α + e·x mod q, with e ∈ Z_q drawn from the transcript after
/// (label, g, X, A).
///
/// Encoding (67 bytes): tag 0x01 ‖ version ‖ A (33-byte compressed, finite) ‖ z (32 bytes, < q).
public struct SchnorrProof: Sendable, Equatable {
    /// A = α·g (Fig. 22, step 1).
    public var commitment: Point
    /// z = α + e·x mod q (Fig. 22, step 3).
    public var response: Scalar

    static let label = "cggmp21/sch/v1"

    public init(commitment: Point, response: Scalar) {
        self.commitment = commitment
        self.response = response
    }

    /// Proves knowledge of `secret` with `publicPoint = secret·base`.
    public static func prove<R: RandomSource>(
        secret x: Scalar, publicPoint: Point, base: Point = .generator, transcript: inout Transcript,
        rng: inout R
    ) throws -> SchnorrProof {
        guard !base.isInfinity, !publicPoint.isInfinity else { throw ProofError.invalidStatement("point at infinity") }
        guard !x.isZero, x * base == publicPoint else {
            throw ProofError.invalidWitness("secret does not match the public point")
        }
        // Fig. 22, step 1: α ← F_q, A = g^α.
        let alpha = Scalar.random(using: &rng)
        let a = base == .generator ? Point.generatorMul(alpha) : alpha * base
        // Fig. 22, step 2: e ← F_q (Fiat–Shamir).
        let e = challenge(publicPoint: publicPoint, base: base, commitment: a, transcript: &transcript)
        // Fig. 22, step 3: z = α + e·x mod q.
        return SchnorrProof(commitment: a, response: alpha + e * x)
    }

    /// The Fiat–Shamir challenge e ∈ Z_q after absorbing the label, g, X and A.
    public static func challenge(
        publicPoint: Point, base: Point, commitment: Point, transcript: inout Transcript
    ) -> Scalar {
        transcript.beginProof(label)
        transcript.append("g", point: base)
        transcript.append("X", point: publicPoint)
        transcript.append("A", point: commitment)
        return transcript.challengeScalar("e")
    }

    /// Verifies the proof for `publicPoint` (and `base`); throws the reason on failure.
    public func verify(publicPoint: Point, base: Point = .generator, transcript: inout Transcript) throws(ProofError) {
        guard !base.isInfinity, !publicPoint.isInfinity else { throw .invalidStatement("point at infinity") }
        guard !commitment.isInfinity else { throw .notInGroup("A") }
        let e = Self.challenge(publicPoint: publicPoint, base: base, commitment: commitment, transcript: &transcript)
        // Fig. 22, verification: g^z = A · X^e (public scalars: variable-time products).
        let lhs = base == .generator ? Point.generatorMul(response) : base.multipliedVartime(by: response)
        guard lhs == commitment + publicPoint.multipliedVartime(by: e) else {
            throw .equationFailed("Fig. 22: g^z = A·X^e")
        }
    }

    public func isValid(publicPoint: Point, base: Point = .generator, transcript: inout Transcript) -> Bool {
        (try? verify(publicPoint: publicPoint, base: base, transcript: &transcript)) != nil
    }

    // MARK: Encoding

    public func encode() -> [UInt8] {
        var writer = ProofWriter(.schnorr)
        writer.point(commitment)
        writer.scalar(response)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(ProofError) {
        var reader = try ProofReader(bytes, tag: .schnorr)
        commitment = try reader.point("A")
        response = try reader.scalar("z")
        try reader.finish()
    }
}
