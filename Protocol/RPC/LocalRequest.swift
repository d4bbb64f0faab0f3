import CryptoPrimitives
import Secp256k1
import Synchronization
import Wire

/// A request from a node's consensus-manager to a local service that must obey that
/// consensus-manager only (the tss-signer: DESIGN §2, issue 4). Loopback alone would not do: several
/// nodes may share a host (the devnet does). Both processes hold the node's validator key, so the
/// request carries an HMAC-SHA256 tag under a key derived from it (`LocalRequestKey`): only a
/// holder of that validator key can make one, as with a signature, at a fraction of the cost (no
/// ECDSA signing in the consensus-manager nor recovery in the service on a signing's path).
///
/// Wire layout: `string chainID · u16 method · request id (32) · u64 timestamp (Unix ms) ·
/// bytes payload · tag (32)`; the tag covers `string "vn/local-request/v1"` and every field before
/// it. The method id is authenticated, so a request made for one method cannot be replayed at
/// another; the receiver (`LocalRequestGate`) refuses a clock more than `maxSkewMs` away and any
/// request id seen in that window.
public struct LocalRequest: WireMessage {
    public static let domainTag = "vn/local-request/v1"
    public static let maxSkewMs: UInt64 = 120_000
    public static let idLength = 32

    public let chainID: String
    public let method: UInt16
    public let requestID: [UInt8]
    public let timestampMs: UInt64
    public let payload: [UInt8]
    public let tag: [UInt8]

    /// A fresh request (random id) for `method`, tagged with `key`.
    public static func seal<Request: WireMessage>(
        _ request: Request, method: UInt16, chainID: String, key: LocalRequestKey, nowUnixMs: UInt64
    ) -> LocalRequest {
        let untagged = LocalRequest(
            chainID: chainID, method: method, requestID: SecureRandom.bytes(idLength), timestampMs: nowUnixMs,
            payload: request.encoded(), tag: [])
        return untagged.replacing(tag: key.tag(untagged.authenticatedBytes))
    }

    private init(
        chainID: String, method: UInt16, requestID: [UInt8], timestampMs: UInt64, payload: [UInt8], tag: [UInt8]
    ) {
        self.chainID = chainID
        self.method = method
        self.requestID = requestID
        self.timestampMs = timestampMs
        self.payload = payload
        self.tag = tag
    }

    /// The same request with other fields (tests: tampering).
    public func replacing(
        chainID: String? = nil, method: UInt16? = nil, timestampMs: UInt64? = nil, payload: [UInt8]? = nil,
        tag: [UInt8]? = nil
    ) -> LocalRequest {
        LocalRequest(
            chainID: chainID ?? self.chainID, method: method ?? self.method, requestID: requestID,
            timestampMs: timestampMs ?? self.timestampMs, payload: payload ?? self.payload, tag: tag ?? self.tag)
    }

    /// What the tag covers: the domain tag, then every field but the tag.
    var authenticatedBytes: [UInt8] {
        var w = WireWriter(reservingCapacity: 96 + payload.count)
        w.writeString(Self.domainTag)
        encodeFields(to: &w)
        return w.take()
    }

    private func encodeFields(to w: inout WireWriter) {
        w.writeString(chainID)
        w.writeUInt16(method)
        w.writeFixedBytes(requestID)
        w.writeUInt64(timestampMs)
        w.writeBytes(payload)
    }

    public func encode(to writer: inout WireWriter) {
        encodeFields(to: &writer)
        writer.writeFixedBytes(tag)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        chainID = try reader.readString(maxLength: WireLimits.maxShortString)
        method = try reader.readUInt16()
        requestID = try reader.readFixedBytes(count: Self.idLength)
        timestampMs = try reader.readUInt64()
        payload = try reader.readBytes()
        tag = try reader.readFixedBytes(count: HMACSHA256.macByteCount)
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
