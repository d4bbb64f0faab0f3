import CryptoPrimitives
import Secp256k1
import Wire

extension Envelope {
    /// keccak-256 of `signingBytes`: what the node key signs.
    public var signingDigest: [UInt8] { Keccak256.hash(signingBytes) }

    /// Builds and signs an envelope; `sender` is the key's address.
    public static func signed(
        chainID: String, session: [UInt8], round: UInt32, sequence: UInt64, payloadType: UInt16, payload: [UInt8],
        key: PrivateKey
    ) throws -> Envelope {
        let sender = try Address(bytes: key.publicKey.ethereumAddressBytes)
        let unsigned = try Envelope(
            chainID: chainID, sender: sender, session: session, round: round, sequence: sequence,
            payloadType: payloadType, payload: payload)
        let signature = try key.signRecoverable(digest: unsigned.signingDigest)
        return try unsigned.withSignature(signature.bytes65)
    }

    /// Typed payload convenience.
    public static func signed<Payload: WireMessage>(
        chainID: String, session: [UInt8], round: UInt32, sequence: UInt64, payloadType: UInt16, payload: Payload,
        key: PrivateKey
    ) throws -> Envelope {
        try signed(
            chainID: chainID, session: session, round: round, sequence: sequence, payloadType: payloadType,
            payload: payload.encoded(), key: key)
    }

    /// The address whose key produced `signature` over `signingDigest`. Malformed signatures,
    /// `v` outside {0, 1} and high-s signatures (malleable copies) are refused.
    public func recoverSigner() throws(EnvelopeRejection) -> Address {
        do {
            let signature = try RecoverableSignature(bytes65: self.signature)
            let key = try PublicKey.recover(signature, digest: signingDigest)
            return try Address(bytes: key.ethereumAddressBytes)
        } catch {
            throw .badSignature("\(error)")
        }
    }
}

/// Verifies envelopes from other validators (DESIGN §3): recover the signer from the signature →
/// it must be the sender → chain id → session → replay guard. Rejections are returned (and
/// counted), never thrown: the caller drops the message and may keep it as blame evidence, since
/// every reason after `badSignature` is attributable to the signer.
///
/// Not thread-safe (a value type): keep one per connection handler / actor.
public struct EnvelopeVerifier: Sendable {
    public private(set) var check: EnvelopeCheck

    public init(chainID: String, sessions: EnvelopeCheck.SessionPolicy = .any, replayCapacity: Int = 4096) {
        check = EnvelopeCheck(chainID: chainID, sessions: sessions, replayCapacity: replayCapacity)
    }

    /// Rejection counters by reason.
    public var counters: EnvelopeCounters { check.counters }

    public mutating func openSession(_ session: [UInt8]) { check.openSession(session) }
    public mutating func closeSession(_ session: [UInt8]) { check.closeSession(session) }

    /// Checks one envelope; `.accepted` also records its sequence number.
    public mutating func verify(_ envelope: Envelope) -> EnvelopeVerdict {
        let signer: Address
        do {
            signer = try envelope.recoverSigner()
        } catch {
            return check.record(error)
        }
        return check.check(envelope, recoveredSigner: signer)
    }
}
