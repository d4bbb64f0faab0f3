import CSecp256k1
import CryptoPrimitives

/// A secp256k1 private key (0 < k < n). The scalar lives in `SecretBytes` (zeroed when freed);
/// it never prints (`description` is `<redacted>`) and leaves only through `withRawBytes`.
public struct PrivateKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let secret: SecretBytes
    /// The matching public key (computed once at creation).
    public let publicKey: PublicKey

    /// `bytes` must be 32 big-endian bytes with 0 < k < n (`secp256k1_ec_seckey_verify`).
    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else { throw Secp256k1Error.invalidPrivateKey }
        try self.init(secret: SecretBytes(bytes))
    }

    /// Takes ownership of 32 secret bytes without another copy.
    public init(secret: SecretBytes) throws {
        guard secret.count == 32 else { throw Secp256k1Error.invalidPrivateKey }
        let valid = secret.withUnsafeBytes {
            secp256k1_ec_seckey_verify(context, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 1
        }
        guard valid else { throw Secp256k1Error.invalidPrivateKey }
        var pubkey = secp256k1_pubkey()
        let created = secret.withUnsafeBytes {
            secp256k1_ec_pubkey_create(context, &pubkey, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 1
        }
        guard created else { throw Secp256k1Error.invalidPrivateKey }
        self.secret = secret
        self.publicKey = PublicKey(serializing: pubkey)
    }

    /// A fresh key from `SecureRandom` (retries in the ~2^-128 case of an out-of-range draw).
    public static func generate() -> PrivateKey {
        while true {
            var candidate = SecureRandom.bytes(32)
            defer { secureZero(&candidate) }
            if let key = try? PrivateKey(bytes: candidate) { return key }
        }
    }

    /// The raw 32-byte scalar, for sealed persistence only. The array handed to `body` is zeroed
    /// afterwards; do not let copies of it escape.
    public func withRawBytes<R>(_ body: ([UInt8]) throws -> R) rethrows -> R {
        var raw = secret.copyBytes()
        defer { secureZero(&raw) }
        return try body(raw)
    }

    private func withScalar<R>(_ body: (UnsafePointer<UInt8>) throws -> R) rethrows -> R {
        try secret.withUnsafeBytes { try body($0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
    }

    /// ECDSA over a 32-byte digest: RFC 6979 deterministic nonce, low-s output.
    public func sign(digest: [UInt8]) throws -> ECDSASignature {
        guard digest.count == 32 else { throw Secp256k1Error.invalidDigestLength }
        var sig = secp256k1_ecdsa_signature()
        let ok = withScalar { key in
            secp256k1_ecdsa_sign(context, &sig, digest, key, secp256k1_nonce_function_rfc6979, nil) == 1
        }
        guard ok else { throw Secp256k1Error.signingFailed }
        var compact = [UInt8](repeating: 0, count: 64)
        _ = secp256k1_ecdsa_signature_serialize_compact(context, &compact, &sig)
        return try ECDSASignature(compact: compact)
    }

    /// Recoverable ECDSA (r ‖ s ‖ v with v ∈ {0, 1}), RFC 6979, low-s.
    public func signRecoverable(digest: [UInt8]) throws -> RecoverableSignature {
        guard digest.count == 32 else { throw Secp256k1Error.invalidDigestLength }
        var sig = secp256k1_ecdsa_recoverable_signature()
        let ok = withScalar { key in
            secp256k1_ecdsa_sign_recoverable(context, &sig, digest, key, secp256k1_nonce_function_rfc6979, nil) == 1
        }
        guard ok else { throw Secp256k1Error.signingFailed }
        var compact = [UInt8](repeating: 0, count: 64)
        var recid: Int32 = 0
        _ = secp256k1_ecdsa_recoverable_signature_serialize_compact(context, &compact, &recid, &sig)
        return try RecoverableSignature(bytes65: compact + [UInt8(recid)])
    }

    /// ECDH with libsecp256k1's default hash: SHA-256 of the compressed shared point (32 bytes).
    /// Symmetric: `a.sharedSecret(with: b.publicKey) == b.sharedSecret(with: a.publicKey)`.
    /// Feed the result to HKDF before using it as a key.
    public func sharedSecret(with peer: PublicKey) throws -> [UInt8] {
        var point = try peer.parsed()
        var out = [UInt8](repeating: 0, count: 32)
        let ok = withScalar { key in
            secp256k1_ecdh(context, &out, &point, key, nil, nil) == 1
        }
        guard ok else {
            secureZero(&out)
            throw Secp256k1Error.ecdhFailed
        }
        return out
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "PrivateKey(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// A point on secp256k1 (never the point at infinity). Stored in uncompressed form, so equal
/// points compare and hash equal whichever encoding they were parsed from.
public struct PublicKey: Hashable, Sendable, CustomStringConvertible {
    /// 0x04 ‖ X ‖ Y.
    public let uncompressed: [UInt8]

    /// 33-byte compressed (0x02/0x03 ‖ X) or 65-byte uncompressed (0x04 ‖ X ‖ Y). The hybrid
    /// 0x06/0x07 form and anything off the curve are rejected.
    public init(bytes: [UInt8]) throws {
        switch (bytes.count, bytes.first) {
        case (33, 0x02), (33, 0x03), (65, 0x04): break
        default: throw Secp256k1Error.invalidPublicKey
        }
        var pubkey = secp256k1_pubkey()
        guard secp256k1_ec_pubkey_parse(context, &pubkey, bytes, bytes.count) == 1 else {
            throw Secp256k1Error.invalidPublicKey
        }
        self.init(serializing: pubkey)
    }

    init(serializing pubkey: secp256k1_pubkey) {
        var key = pubkey
        var out = [UInt8](repeating: 0, count: 65)
        var length = 65
        _ = secp256k1_ec_pubkey_serialize(context, &out, &length, &key, vn_secp256k1_ec_uncompressed())
        uncompressed = out
    }

    func parsed() throws -> secp256k1_pubkey {
        var pubkey = secp256k1_pubkey()
        guard secp256k1_ec_pubkey_parse(context, &pubkey, uncompressed, uncompressed.count) == 1 else {
            throw Secp256k1Error.invalidPublicKey
        }
        return pubkey
    }

    /// 0x02/0x03 (parity of Y) ‖ X.
    public var compressed: [UInt8] {
        [0x02 | (uncompressed[64] & 1)] + uncompressed[1...32]
    }

    /// The 20-byte Ethereum address: the last 20 bytes of keccak256(X ‖ Y).
    public var ethereumAddressBytes: [UInt8] {
        Array(Keccak256.hash(uncompressed[1...]).suffix(20))
    }

    /// The EIP-55 checksummed address string (`0x…`).
    public var ethereumAddress: String { eip55Checksum(addressBytes: ethereumAddressBytes) }

    /// Verifies a signature over a 32-byte digest. High-s signatures, wrong-length digests and
    /// mismatches all return false.
    public func verify(_ signature: ECDSASignature, digest: [UInt8]) -> Bool {
        guard digest.count == 32, var pubkey = try? parsed() else { return false }
        var sig = secp256k1_ecdsa_signature()
        guard secp256k1_ecdsa_signature_parse_compact(context, &sig, signature.compact) == 1 else { return false }
        return secp256k1_ecdsa_verify(context, &sig, digest, &pubkey) == 1
    }

    /// The public key that produced `signature` over `digest` (Ethereum's ecrecover, with
    /// EIP-2's low-s rule: a high-s signature throws `highS`).
    public static func recover(_ signature: RecoverableSignature, digest: [UInt8]) throws -> PublicKey {
        guard digest.count == 32 else { throw Secp256k1Error.invalidDigestLength }
        guard signature.signature.isLowS else { throw Secp256k1Error.highS }
        var sig = secp256k1_ecdsa_recoverable_signature()
        let parsed = signature.bytes65.withUnsafeBufferPointer {
            secp256k1_ecdsa_recoverable_signature_parse_compact(context, &sig, $0.baseAddress!, signature.recoveryID)
        }
        guard parsed == 1 else { throw Secp256k1Error.invalidSignature }
        var pubkey = secp256k1_pubkey()
        guard secp256k1_ecdsa_recover(context, &pubkey, &sig, digest) == 1 else {
            throw Secp256k1Error.recoveryFailed
        }
        return PublicKey(serializing: pubkey)
    }

    public var description: String { "PublicKey(0x\(hexEncode(compressed)))" }
}
