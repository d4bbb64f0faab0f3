import CryptoPrimitives
import Secp256k1

/// The secp256k1 group order q as an integer, for the Paillier / range-proof side of the protocol
/// (where scalars travel as integers) and the conversions between the two worlds.
public enum CurveOrder {
    /// q = n of secp256k1.
    public static let q = BigNum(bytes: Scalar.orderBytes)
    /// Bits of q (256).
    public static let bits = 256
}

extension BigNum {
    /// The scalar as a non-negative integer below q. Secret by default (most scalars are shares
    /// or nonces); pass `secret: false` for public ones.
    public convenience init(_ scalar: Scalar, secret: Bool = true) {
        // `scalar.bytes` is a fresh copy of the (usually secret) value: zero it once BIGNUM has it.
        var bytes = scalar.bytes
        defer { secureZero(&bytes) }
        self.init(bytes: bytes, secret: secret)
    }
}

extension Scalar {
    /// x mod q for any integer x (negative values included), e.g. a decrypted MtA share.
    public init(reducing x: BigNum) throws {
        var bytes = try x.mod(CurveOrder.q).bytes(paddedTo: 32)
        defer { secureZero(&bytes) }
        try self.init(bytes: bytes)
    }
}
