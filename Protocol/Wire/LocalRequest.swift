/// A request from a node's consensus-manager to a local service that must obey that
/// consensus-manager only (the tss-signer: DESIGN §2, issue 4). Loopback alone would not do: several
/// nodes may share a host (the devnet does). Both processes hold the node's validator key, so the
/// request carries an HMAC-SHA256 tag under a key derived from it (`LocalRequestKey` and
/// `LocalRequestGate` in the `RPC` module): only a holder of that validator key can make one, as
/// with a signature, at a fraction of the cost (no ECDSA signing in the consensus-manager nor
/// recovery in the service on a signing's path).
///
/// Wire layout: `string chainID · u16 method · request id (32) · u64 timestamp (Unix ms) ·
/// bytes payload · tag (32)`; the tag covers `string "vn/local-request/v1"` and every field before
/// it (`authenticatedBytes`). The method id is authenticated, so a request made for one method
/// cannot be replayed at another.
///
/// Fields are immutable: the initializer checks the lengths, so a `LocalRequest` value always
/// encodes to bytes its decoder accepts.
public struct LocalRequest: WireMessage {
    public static let domainTag = "vn/local-request/v1"
    public static let idLength = 32
    public static let tagLength = 32

    public let chainID: String
    public let method: UInt16
    public let requestID: [UInt8]
    public let timestampMs: UInt64
    public let payload: [UInt8]
    public let tag: [UInt8]

    public init(
        chainID: String, method: UInt16, requestID: [UInt8], timestampMs: UInt64, payload: [UInt8], tag: [UInt8]
    ) throws(WireError) {
        guard chainID.utf8.count <= WireLimits.maxShortString else {
            throw .lengthTooLarge(length: chainID.utf8.count, limit: WireLimits.maxShortString)
        }
        guard requestID.count == Self.idLength else {
            throw .invalidValue("request id must be \(Self.idLength) bytes, got \(requestID.count)")
        }
        guard tag.count == Self.tagLength else {
            throw .invalidValue("tag must be \(Self.tagLength) bytes, got \(tag.count)")
        }
        self.chainID = chainID
        self.method = method
        self.requestID = requestID
        self.timestampMs = timestampMs
        self.payload = payload
        self.tag = tag
    }

    /// What the tag covers: the domain tag, then every field but the tag.
    public static func authenticatedBytes(
        chainID: String, method: UInt16, requestID: [UInt8], timestampMs: UInt64, payload: [UInt8]
    ) -> [UInt8] {
        var w = WireWriter(reservingCapacity: 96 + payload.count)
        w.writeString(domainTag)
        encodeFields(chainID, method, requestID, timestampMs, payload, to: &w)
        return w.take()
    }

    /// `authenticatedBytes` of this request's fields.
    public var authenticatedBytes: [UInt8] {
        Self.authenticatedBytes(
            chainID: chainID, method: method, requestID: requestID, timestampMs: timestampMs, payload: payload)
    }

    private static func encodeFields(
        _ chainID: String, _ method: UInt16, _ requestID: [UInt8], _ timestampMs: UInt64, _ payload: [UInt8],
        to w: inout WireWriter
    ) {
        w.writeString(chainID)
        w.writeUInt16(method)
        w.writeFixedBytes(requestID)
        w.writeUInt64(timestampMs)
        w.writeBytes(payload)
    }

    public func encode(to writer: inout WireWriter) {
        Self.encodeFields(chainID, method, requestID, timestampMs, payload, to: &writer)
        writer.writeFixedBytes(tag)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        chainID = try reader.readString(maxLength: WireLimits.maxShortString)
        method = try reader.readUInt16()
        requestID = try reader.readFixedBytes(count: Self.idLength)
        timestampMs = try reader.readUInt64()
        payload = try reader.readBytes()
        tag = try reader.readFixedBytes(count: Self.tagLength)
    }
}
