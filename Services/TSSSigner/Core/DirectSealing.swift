import CryptoPrimitives
import Secp256k1

/// Encryption of direct (party-to-party) MPC messages to their recipient (DESIGN §3, issue 4):
///
///   shared = ECDH(sender identity key, recipient identity key)   (libsecp256k1: SHA-256 of the point)
///   key    = HKDF-SHA256(ikm: shared, salt: session id,
///                        info: "vn/tss/direct/v1" ‖ sender pubkey ‖ recipient pubkey)   (RFC 5869)
///   nonce  = round (u32, big-endian) ‖ sequence (u64, big-endian)                     (96 bits)
///   sealed = AES-256-GCM(key, nonce, plaintext, aad: the envelope header)              (SP 800-38D)
///
/// The key is per session and per *direction* (sender first in `info`), so a nonce is unique
/// as long as a sender never reuses a (round, sequence) pair within a session — the envelope
/// layer's sequence numbers only grow. The AAD binds the ciphertext to its envelope (chain id,
/// sender, session, round, sequence, payload type): moved into another envelope it fails to open.
/// Pure: no randomness, no clock.
public enum DirectSealing {
    static let domain = Array("vn/tss/direct/v1".utf8)

    public enum SealingError: Error, Equatable, CustomStringConvertible {
        /// The session id is empty or longer than 64 bytes.
        case invalidSession
        /// Authentication failed: wrong key, direction, session, nonce, header, or tampered bytes.
        case unauthentic
        /// The peer's key could not be used (ECDH failed).
        case badPeerKey

        public var description: String {
            switch self {
            case .invalidSession: "session id must be 1…64 bytes"
            case .unauthentic: "direct message does not authenticate"
            case .badPeerKey: "peer identity key unusable for ECDH"
            }
        }
    }

    static func key(
        mine: PrivateKey, peer: PublicKey, sender: PublicKey, recipient: PublicKey, session: [UInt8]
    ) throws(SealingError) -> [UInt8] {
        guard (1...64).contains(session.count) else { throw .invalidSession }
        guard var shared = try? mine.sharedSecret(with: peer) else { throw .badPeerKey }
        defer { secureZero(&shared) }
        let info = domain + sender.compressed + recipient.compressed
        guard let key = try? HKDF.sha256(ikm: shared, salt: session, info: info, outputLength: AESGCM.keyByteCount)
        else { throw .badPeerKey }
        return key
    }

    static func nonce(round: UInt32, sequence: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(AESGCM.nonceByteCount)
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: round >> UInt32(shift)))
        }
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: sequence >> UInt64(shift)))
        }
        return bytes
    }

    /// Seals `plaintext` from `sender` to `recipient`; `header` is the envelope's signed header.
    public static func seal(
        _ plaintext: [UInt8], from sender: PrivateKey, to recipient: PublicKey, session: [UInt8], round: UInt32,
        sequence: UInt64, header: [UInt8]
    ) throws(SealingError) -> [UInt8] {
        var key = try key(
            mine: sender, peer: recipient, sender: sender.publicKey, recipient: recipient, session: session)
        defer { secureZero(&key) }
        guard
            let sealed = try? AESGCM.seal(
                key: key, nonce: nonce(round: round, sequence: sequence), plaintext: plaintext, aad: header)
        else { throw .unauthentic }
        return sealed
    }

    /// Opens what `sender` sealed to us (`recipient`); every mismatch is `.unauthentic`.
    public static func open(
        _ sealed: [UInt8], at recipient: PrivateKey, from sender: PublicKey, session: [UInt8], round: UInt32,
        sequence: UInt64, header: [UInt8]
    ) throws(SealingError) -> [UInt8] {
        guard sealed.count >= AESGCM.tagByteCount else { throw .unauthentic }
        var key = try key(
            mine: recipient, peer: sender, sender: sender, recipient: recipient.publicKey, session: session)
        defer { secureZero(&key) }
        guard
            let plaintext = try? AESGCM.open(
                key: key, nonce: nonce(round: round, sequence: sequence), sealed: sealed, aad: header)
        else { throw .unauthentic }
        return plaintext
    }
}
