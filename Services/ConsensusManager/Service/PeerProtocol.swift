import Foundation
import NodeKit
import RPC
import Secp256k1
import Synchronization
import Wire

/// The signed-envelope exchange between consensus-managers (DESIGN §3): today a hello that proves
/// each side holds the key of a genesis validator, and ping/pong for liveness.
///
/// Every envelope names its session — requests (a dialer's hello and pings) and responses travel in
/// two sessions, each one ordered stream per link, so the replay guard never sees a late but honest
/// message — carries a sequence number above any this process sent before (seeded from the wall
/// clock at start, so a restart never reuses one), and is verified
/// by the receiver: sender ∈ genesis validators → signature recovers to the sender → chain id →
/// session → replay guard. Failures are dropped, counted, and answered `unauthenticated`.
public final class PeerProtocol: Sendable {
    public enum Session: Sendable {
        /// A dialer's hello and pings, and their answers.
        case request, response
        /// Consensus gossip (`ConsensusTransport`): its own ordered stream per sender, since it is
        /// written by the engine while pings are written by the link's task.
        case consensus

        public var bytes: [UInt8] {
            switch self {
            case .request: Array("vn/p2p/v1/request".utf8)
            case .response: Array("vn/p2p/v1/response".utf8)
            case .consensus: Array("vn/p2p/v1/consensus".utf8)
            }
        }
    }

    let chainID: String
    let key: PrivateKey
    let selfAddress: Address
    let validators: Set<Address>
    private let nextSequence: Atomic<UInt64>
    private let verifier: Mutex<EnvelopeVerifier>

    public init(chainID: String, key: PrivateKey, selfAddress: Address, validators: Set<Address>) {
        self.chainID = chainID
        self.key = key
        self.selfAddress = selfAddress
        self.validators = validators
        let ns = UInt64(max(0, Date().timeIntervalSince1970 * 1_000_000_000))
        self.nextSequence = Atomic(ns)
        self.verifier = Mutex(
            EnvelopeVerifier(
                chainID: chainID,
                sessions: .only([Session.request.bytes, Session.response.bytes, Session.consensus.bytes])))
    }

    public var counters: EnvelopeCounters { verifier.withLock { $0.counters } }

    /// Signs `payload` as the next envelope of this process.
    public func seal<P: WireMessage>(_ payload: P, type: UInt16, session: Session) throws -> Envelope {
        let sequence = nextSequence.wrappingAdd(1, ordering: .relaxed).newValue
        return try Envelope.signed(
            chainID: chainID, session: session.bytes, round: 0, sequence: sequence, payloadType: type,
            payload: payload, key: key)
    }

    public enum OpenError: Error, CustomStringConvertible {
        case notAValidator(Address)
        case fromSelf
        case rejected(EnvelopeRejection)
        case unexpectedSender(expected: Address, got: Address)
        case wrongPayloadType(expected: UInt16, got: UInt16)
        case wrongSession
        case malformedPayload(String)

        public var description: String {
            switch self {
            case .notAValidator(let a): "sender \(a) is not a genesis validator"
            case .fromSelf: "envelope claims to come from this node"
            case .rejected(let r): "envelope rejected: \(r)"
            case .unexpectedSender(let e, let g): "expected an envelope from \(e), got one from \(g)"
            case .wrongPayloadType(let e, let g):
                "expected payload type \(MethodID.name(e)), got \(MethodID.name(g))"
            case .malformedPayload(let why): "malformed payload: \(why)"
            case .wrongSession: "envelope sent in the wrong p2p session"
            }
        }
    }

    /// Verifies an envelope and decodes its payload. `from`, if given, is the only acceptable sender.
    public func open<P: WireMessage>(
        _ envelope: Envelope, type: UInt16, session: Session, as: P.Type, from: Address? = nil
    ) throws(OpenError) -> P {
        // Cheap checks first, so that non-validators cannot fill the replay guard.
        guard validators.contains(envelope.sender) else { throw .notAValidator(envelope.sender) }
        guard envelope.sender != selfAddress else { throw .fromSelf }
        if let from, envelope.sender != from { throw .unexpectedSender(expected: from, got: envelope.sender) }
        guard envelope.session == session.bytes else { throw .wrongSession }
        guard envelope.payloadType == type else {
            throw .wrongPayloadType(expected: type, got: envelope.payloadType)
        }
        let verdict = verifier.withLock { $0.verify(envelope) }
        if case .rejected(let reason) = verdict { throw .rejected(reason) }
        do {
            return try P.decode(envelope.payload)
        } catch {
            throw .malformedPayload("\(error)")
        }
    }
}
