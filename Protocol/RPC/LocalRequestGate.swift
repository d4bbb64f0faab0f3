import CryptoPrimitives
import Secp256k1
import Synchronization
import Wire

extension LocalRequest {
    /// How far a request's stamp may be from the receiver's clock.
    public static let maxSkewMs: UInt64 = 120_000

    /// A fresh request (random id) for `method`, tagged with `key`.
    public static func seal<Request: WireMessage>(
        _ request: Request, method: UInt16, chainID: String, key: LocalRequestKey, nowUnixMs: UInt64
    ) throws(WireError) -> LocalRequest {
        let id = SecureRandom.bytes(idLength)
        let payload = request.encoded()
        let tag = key.tag(
            authenticatedBytes(
                chainID: chainID, method: method, requestID: id, timestampMs: nowUnixMs, payload: payload))
        return try LocalRequest(
            chainID: chainID, method: method, requestID: id, timestampMs: nowUnixMs, payload: payload, tag: tag)
    }

    /// The same request with other fields, the tag kept (tests: tampering).
    public func replacing(
        chainID: String? = nil, method: UInt16? = nil, timestampMs: UInt64? = nil, payload: [UInt8]? = nil,
        tag: [UInt8]? = nil
    ) throws(WireError) -> LocalRequest {
        try LocalRequest(
            chainID: chainID ?? self.chainID, method: method ?? self.method, requestID: requestID,
            timestampMs: timestampMs ?? self.timestampMs, payload: payload ?? self.payload, tag: tag ?? self.tag)
    }
}

/// The key that tags a node's local requests: HKDF-SHA256 of the node's validator private key
/// (info: the domain tag and the chain id), so it differs per node and per chain and reveals
/// nothing of the validator key. Both the consensus-manager and the service derive it at start.
public struct LocalRequestKey: Sendable {
    private let key: SecretBytes

    public init(validatorKey: PrivateKey, chainID: String) throws {
        var derived = try validatorKey.withRawBytes { ikm in
            try HKDF.sha256(
                ikm: ikm, salt: [], info: Array("\(LocalRequest.domainTag)/\(chainID)".utf8), outputLength: 32)
        }
        key = SecretBytes(zeroing: &derived)
    }

    func tag(_ bytes: [UInt8]) -> [UInt8] {
        var raw = key.copyBytes()
        defer { secureZero(&raw) }
        return HMACSHA256.authenticate(key: raw, message: bytes)
    }
}

/// The receiving side of `LocalRequest`: thread-safe, one per service.
public final class LocalRequestGate: Sendable {
    public let chainID: String
    let key: LocalRequestKey
    /// Request ids accepted within the skew window, with their timestamps.
    private let seen = Mutex<[[UInt8]: UInt64]>([:])
    public static let maxRemembered = 65_536

    public init(chainID: String, key: LocalRequestKey) {
        self.chainID = chainID
        self.key = key
    }

    /// The decoded request, or `permissionDenied` (another chain, a bad tag, a clock out of the
    /// window, a replay) / `invalidArgument` (another method, an undecodable request).
    public func open<Request: WireMessage>(
        _ request: LocalRequest, method: UInt16, as type: Request.Type, nowUnixMs: UInt64
    ) throws(RPCError) -> Request {
        guard request.chainID == chainID else {
            throw RPCError(.permissionDenied, "request for chain \(request.chainID)")
        }
        guard request.method == method else {
            throw RPCError(.invalidArgument, "request made for another method")
        }
        // Compared in constant time (SecretBytes ==).
        guard SecretBytes(request.tag) == SecretBytes(key.tag(request.authenticatedBytes)) else {
            throw RPCError(.permissionDenied, "only this node's consensus-manager may send this request")
        }
        let skew = LocalRequest.maxSkewMs
        let stamp = request.timestampMs
        // (No addition that could overflow: the stamp is the sender's word.)
        let tooOld = nowUnixMs > skew && stamp < nowUnixMs - skew
        let tooNew = stamp > nowUnixMs && stamp - nowUnixMs > skew
        guard !tooOld, !tooNew else {
            throw RPCError(.permissionDenied, "request timestamp outside ±\(skew / 1000) s of this host's clock")
        }
        let fresh = seen.withLock { seen -> Bool in
            if seen.count >= Self.maxRemembered || seen.count % 256 == 0 {
                seen = seen.filter { $0.value + 2 * skew >= nowUnixMs }
            }
            guard seen[request.requestID] == nil, seen.count < Self.maxRemembered else { return false }
            seen[request.requestID] = stamp
            return true
        }
        guard fresh else { throw RPCError(.permissionDenied, "request replayed") }
        do {
            return try Request.decode(request.payload)
        } catch {
            throw RPCError(.invalidArgument, "malformed request: \(error)")
        }
    }
}
