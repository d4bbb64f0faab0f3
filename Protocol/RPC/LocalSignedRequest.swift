import CryptoPrimitives
import Secp256k1
import Synchronization
import Wire

/// A request from a node's consensus-manager to a local service that must obey that
/// consensus-manager only (the tss-signer: DESIGN §2, issue 4). Loopback alone would not do: several
/// nodes may share a host (the devnet does). So the request travels inside an `Envelope` signed
/// with the node's validator key:
///
/// - chain id: the node's chain; sender: the node's validator address;
/// - session: 32 fresh random bytes (the request id); round 0;
/// - sequence: the sender's wall clock in Unix milliseconds;
/// - payload type: the method id, so a request signed for one method cannot be replayed at another.
///
/// The receiver (`LocalRequestGate`) checks all of that, refuses a clock more than
/// `maxSkewMs` away and any request id seen in that window.
public enum LocalSignedRequest {
    public static let maxSkewMs: UInt64 = 120_000

    public static func seal<Request: WireMessage>(
        _ request: Request, method: UInt16, chainID: String, key: PrivateKey, nowUnixMs: UInt64
    ) throws -> Envelope {
        try Envelope.signed(
            chainID: chainID, session: SecureRandom.bytes(32), round: 0, sequence: nowUnixMs, payloadType: method,
            payload: request, key: key)
    }
}

/// The receiving side of `LocalSignedRequest`: thread-safe, one per service.
public final class LocalRequestGate: Sendable {
    public let chainID: String
    public let owner: Address
    /// Request ids accepted within the skew window, with their timestamps.
    private let seen = Mutex<[[UInt8]: UInt64]>([:])
    public static let maxRemembered = 65_536

    public init(chainID: String, owner: Address) {
        self.chainID = chainID
        self.owner = owner
    }

    /// The decoded request, or `permissionDenied` / `unauthenticated` / `invalidArgument`.
    public func open<Request: WireMessage>(
        _ envelope: Envelope, method: UInt16, as type: Request.Type, nowUnixMs: UInt64
    ) throws(RPCError) -> Request {
        guard envelope.chainID == chainID else {
            throw RPCError(.permissionDenied, "request for chain \(envelope.chainID)")
        }
        guard envelope.payloadType == method, envelope.round == 0, envelope.session.count == 32 else {
            throw RPCError(.invalidArgument, "request envelope of another method")
        }
        let signer: Address
        do { signer = try envelope.recoverSigner() } catch {
            throw RPCError(.unauthenticated, "bad request signature")
        }
        guard signer == envelope.sender, signer == owner else {
            throw RPCError(.permissionDenied, "only this node's consensus-manager may send this request")
        }
        let skew = LocalSignedRequest.maxSkewMs
        let stamp = envelope.sequence
        guard stamp + skew >= nowUnixMs, stamp <= nowUnixMs + skew else {
            throw RPCError(.permissionDenied, "request timestamp outside ±\(skew / 1000) s of this host's clock")
        }
        let fresh = seen.withLock { seen -> Bool in
            if seen.count >= Self.maxRemembered || seen.count % 256 == 0 {
                seen = seen.filter { $0.value + 2 * skew >= nowUnixMs }
            }
            guard seen[envelope.session] == nil, seen.count < Self.maxRemembered else { return false }
            seen[envelope.session] = stamp
            return true
        }
        guard fresh else { throw RPCError(.permissionDenied, "request replayed") }
        do {
            return try Request.decode(envelope.payload)
        } catch {
            throw RPCError(.invalidArgument, "malformed request: \(error)")
        }
    }
}
