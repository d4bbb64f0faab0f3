import CSecp256k1
import CryptoPrimitives

/// The one libsecp256k1 context of the process: created on first use, randomized once
/// (side-channel blinding, `secp256k1_context_randomize`), then only used through `const` APIs,
/// which the library documents as safe from many threads at once.
final class Secp256k1Context: @unchecked Sendable {
    let pointer: OpaquePointer

    private init() {
        guard let ctx = secp256k1_context_create(vn_secp256k1_context_none()) else {
            fatalError("secp256k1_context_create failed")
        }
        vn_secp256k1_install_quiet_illegal_callback(ctx)
        var seed = SecureRandom.bytes(32)
        defer { secureZero(&seed) }
        guard secp256k1_context_randomize(ctx, seed) == 1 else {
            fatalError("secp256k1_context_randomize failed")
        }
        pointer = ctx
    }

    static let shared = Secp256k1Context()
}

var context: OpaquePointer { Secp256k1Context.shared.pointer }

/// Errors from this module; none carries key material.
public enum Secp256k1Error: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not 32 bytes, zero, or not below the group order n.
    case invalidPrivateKey
    /// Wrong length or prefix, or the point is not on the curve.
    case invalidPublicKey
    /// Wrong length, r or s zero or not below n, or not canonical DER.
    case invalidSignature
    /// A recovery id outside {0, 1}.
    case invalidRecoveryID
    /// Digests must be exactly 32 bytes.
    case invalidDigestLength
    /// s is in the upper half of the order (malleable form); only low-s is accepted.
    case highS
    /// No public key could be recovered from this signature and digest.
    case recoveryFailed
    /// libsecp256k1 refused to sign (cannot happen with a valid key and digest).
    case signingFailed
    /// ECDH failed (cannot happen with a valid key pair).
    case ecdhFailed
    /// Not a 20-byte hex address, or its EIP-55 mixed case does not match the checksum.
    case invalidAddress

    public var description: String {
        switch self {
        case .invalidPrivateKey: "invalid private key (must be 32 bytes with 0 < k < n)"
        case .invalidPublicKey: "invalid public key (must be 33 or 65 bytes and on the curve)"
        case .invalidSignature: "invalid signature encoding or range"
        case .invalidRecoveryID: "invalid recovery id (must be 0 or 1)"
        case .invalidDigestLength: "digest must be 32 bytes"
        case .highS: "signature s is not in low-s form"
        case .recoveryFailed: "public key recovery failed"
        case .signingFailed: "signing failed"
        case .ecdhFailed: "ECDH failed"
        case .invalidAddress: "invalid Ethereum address or EIP-55 checksum"
        }
    }
}

/// Lower-case hex without prefix.
func hexEncode(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}
