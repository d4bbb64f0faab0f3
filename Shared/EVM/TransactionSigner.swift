import Secp256k1
import Wire

/// The raw output of an ECDSA signer over a 32-byte digest.
public struct SignatureParts: Sendable, Hashable {
    /// 32 bytes, big-endian.
    public var r: [UInt8]
    /// 32 bytes, big-endian; a high s is accepted here and normalized by the caller.
    public var s: [UInt8]
    /// 0 or 1 when the signer knows it (the parity of R's y); nil lets the caller find it by
    /// recovery.
    public var recoveryID: UInt8?

    public init(r: [UInt8], s: [UInt8], recoveryID: UInt8?) {
        self.r = r
        self.s = s
        self.recoveryID = recoveryID
    }
}

/// Signs transaction digests for one address. The threshold (MPC) key implements this later; the
/// transaction code never sees a private key. Implementations sign exactly the digest given
/// (no extra hashing).
public protocol TransactionSigner: Sendable {
    /// The address whose key signs; every signature is checked to recover to it.
    var address: Address { get }
    func sign(digest: [UInt8]) async throws -> SignatureParts
}

/// A signer over a local secp256k1 key (tests, the dev chain, tools).
public struct LocalKeySigner: TransactionSigner {
    private let key: PrivateKey
    public let address: Address

    public init(privateKey: PrivateKey) {
        key = privateKey
        address = Address(publicKey: privateKey.publicKey)
    }

    public func sign(digest: [UInt8]) async throws -> SignatureParts {
        let signature = try key.signRecoverable(digest: digest)
        let bytes = signature.bytes65
        return SignatureParts(r: Array(bytes[0..<32]), s: Array(bytes[32..<64]), recoveryID: bytes[64])
    }
}
