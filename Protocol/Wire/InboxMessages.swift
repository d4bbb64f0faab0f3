// Messages of the inbox-listener → consensus-manager protocol (`MethodID.submitInboxRequests`).
// 256-bit integers and hashes travel as 32 raw big-endian bytes (Wire has no 256-bit type);
// the field order is `InboxRequest`'s own canonical encoding (Services/InboxListener/Core),
// so a request encodes to the same bytes either way.

/// Caps of the inbox messages, enforced on decode. The per-field caps equal the inbox-listener's
/// `RequestLimits.wireMaximum`.
public enum InboxWireLimits {
    public static let maxContainerURLBytes = 2048
    public static let maxSourceURLBytes = 2048
    public static let maxSourceURLs = 64
    public static let maxParamsBytes = 65_536
    /// Requests per `SubmitInboxRequests`: 64 requests at the field caps stay under the default
    /// 16 MiB frame.
    public static let maxBatch = 64
    /// Bytes of a refusal's reason.
    public static let maxReasonBytes = 512
    /// Bytes every request takes at least (fixed fields and empty lengths).
    static let minimumRecordBytes = 32 + 20 + 8 + 4 + 4 + 4 + 32 + 32 + 8 + 8 + 8 + 32 + 32 + 8
}

/// The idempotency key of a request: the chain it was read from and its inbox id.
public struct InboxRequestKey: WireMessage, Hashable, Comparable, CustomStringConvertible {
    public var chainID: UInt64
    /// The inbox id, a uint256 as 32 big-endian bytes: `(chainID << 128) | n`, n ≥ 1.
    public let requestID: [UInt8]

    /// `requestID` must be 32 bytes.
    public init(chainID: UInt64, requestID: [UInt8]) {
        precondition(requestID.count == 32, "a request id is 32 bytes")
        self.chainID = chainID
        self.requestID = requestID
    }

    /// By chain, then by id (numerically: both are fixed-width big-endian).
    public static func < (a: InboxRequestKey, b: InboxRequestKey) -> Bool {
        if a.chainID != b.chainID { return a.chainID < b.chainID }
        return a.requestID.lexicographicallyPrecedes(b.requestID)
    }

    /// `0x` + 64 hex digits.
    public var requestIDHex: String { "0x" + Hex.encode(requestID) }

    public var description: String { "\(chainID)/\(requestIDHex)" }

    public func encode(to writer: inout WireWriter) {
        writer.writeUInt64(chainID)
        writer.writeFixedBytes(requestID)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        chainID = try reader.readUInt64()
        requestID = try reader.readFixedBytes(count: 32)
    }
}

/// One request of an inbox contract (whitepaper §3.5.1.2: sender, requesting chain, container URL,
/// container params, source URLs, target chain, fee, confirmations) and the log that carried it.
///
/// The decoder checks what the contract guarantees: the id names the origin chain with a
/// non-zero counter, the requesting chain is the origin chain, the container URL is non-empty,
/// the target chain is non-zero.
public struct InboxRequestRecord: WireMessage, Hashable {
    public var requestID: [UInt8]
    public var sender: Address
    public var requestingChainID: UInt64
    public var containerURL: String
    public var params: [UInt8]
    public var sourceURLs: [String]
    /// uint256, 32 big-endian bytes.
    public var targetChainID: [UInt8]
    /// Wei, uint256, 32 big-endian bytes.
    public var fee: [UInt8]
    public var confirmations: UInt64
    // Origin: the `RequestCreated` log.
    public var chainID: UInt64
    public var blockNumber: UInt64
    public var blockHash: [UInt8]
    public var transactionHash: [UInt8]
    public var logIndex: UInt64

    public init(
        requestID: [UInt8], sender: Address, requestingChainID: UInt64, containerURL: String, params: [UInt8],
        sourceURLs: [String], targetChainID: [UInt8], fee: [UInt8], confirmations: UInt64, chainID: UInt64,
        blockNumber: UInt64, blockHash: [UInt8], transactionHash: [UInt8], logIndex: UInt64
    ) {
        precondition(
            [requestID, targetChainID, fee, blockHash, transactionHash].allSatisfy { $0.count == 32 },
            "256-bit fields are 32 bytes")
        self.requestID = requestID
        self.sender = sender
        self.requestingChainID = requestingChainID
        self.containerURL = containerURL
        self.params = params
        self.sourceURLs = sourceURLs
        self.targetChainID = targetChainID
        self.fee = fee
        self.confirmations = confirmations
        self.chainID = chainID
        self.blockNumber = blockNumber
        self.blockHash = blockHash
        self.transactionHash = transactionHash
        self.logIndex = logIndex
    }

    public var key: InboxRequestKey { InboxRequestKey(chainID: chainID, requestID: requestID) }

    /// Whether `other` is the same request: every field but where it was read. A request
    /// re-mined unchanged in another block after a reorg is the same request; anything else
    /// under the same id is a conflict.
    public func sameRequest(as other: InboxRequestRecord) -> Bool {
        requestID == other.requestID && sender == other.sender && requestingChainID == other.requestingChainID
            && containerURL == other.containerURL && params == other.params && sourceURLs == other.sourceURLs
            && targetChainID == other.targetChainID && fee == other.fee && confirmations == other.confirmations
            && chainID == other.chainID
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeFixedBytes(requestID)
        writer.writeAddress(sender)
        writer.writeUInt64(requestingChainID)
        writer.writeString(containerURL)
        writer.writeBytes(params)
        writer.writeArray(sourceURLs) { $0.writeString($1) }
        writer.writeFixedBytes(targetChainID)
        writer.writeFixedBytes(fee)
        writer.writeUInt64(confirmations)
        writer.writeUInt64(chainID)
        writer.writeUInt64(blockNumber)
        writer.writeFixedBytes(blockHash)
        writer.writeFixedBytes(transactionHash)
        writer.writeUInt64(logIndex)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        requestID = try reader.readFixedBytes(count: 32)
        sender = try reader.readAddress()
        requestingChainID = try reader.readUInt64()
        containerURL = try reader.readString(maxLength: InboxWireLimits.maxContainerURLBytes)
        params = try reader.readBytes(maxLength: InboxWireLimits.maxParamsBytes)
        sourceURLs = try reader.readArray(maxCount: InboxWireLimits.maxSourceURLs, minimumElementSize: 4) {
            (r: inout WireReader) throws(WireError) in try r.readString(maxLength: InboxWireLimits.maxSourceURLBytes)
        }
        targetChainID = try reader.readFixedBytes(count: 32)
        fee = try reader.readFixedBytes(count: 32)
        confirmations = try reader.readUInt64()
        chainID = try reader.readUInt64()
        blockNumber = try reader.readUInt64()
        blockHash = try reader.readFixedBytes(count: 32)
        transactionHash = try reader.readFixedBytes(count: 32)
        logIndex = try reader.readUInt64()

        // id = (chainID << 128) | n: the high 16 bytes are the chain id, the counter is non-zero.
        var chainBytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 { chainBytes[15 - i] = UInt8(truncatingIfNeeded: chainID >> (8 * UInt64(i))) }
        guard Array(requestID[0..<16]) == chainBytes else {
            throw .invalidValue("request id of another chain than its origin")
        }
        guard requestID[16..<32].contains(where: { $0 != 0 }) else { throw .invalidValue("request id counter 0") }
        guard requestingChainID == chainID else { throw .invalidValue("requesting chain is not the origin") }
        guard !containerURL.utf8.isEmpty else { throw .invalidValue("empty container URL") }
        guard targetChainID.contains(where: { $0 != 0 }) else { throw .invalidValue("zero target chain") }
    }
}

/// `MethodID.submitInboxRequests`: 1 … `InboxWireLimits.maxBatch` confirmed requests.
public struct SubmitInboxRequests: WireMessage, Hashable {
    public var requests: [InboxRequestRecord]

    public init(requests: [InboxRequestRecord]) { self.requests = requests }

    public func encode(to writer: inout WireWriter) {
        writer.writeArray(requests) { $0.writeMessage($1) }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        requests = try reader.readArray(
            maxCount: InboxWireLimits.maxBatch, minimumElementSize: InboxWireLimits.minimumRecordBytes
        ) { (r: inout WireReader) throws(WireError) in try r.readMessage(InboxRequestRecord.self) }
        guard !requests.isEmpty else { throw .invalidValue("empty batch") }
    }
}

/// A request the consensus-manager will not take, and why (e.g. another body is already known
/// under its id).
public struct InboxRequestRefusal: WireMessage, Hashable {
    public var key: InboxRequestKey
    public var reason: String

    public init(key: InboxRequestKey, reason: String) {
        self.key = key
        self.reason = reason
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeMessage(key)
        writer.writeString(reason)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        key = try reader.readMessage()
        reason = try reader.readString(maxLength: InboxWireLimits.maxReasonBytes)
    }
}

/// The answer to `SubmitInboxRequests`. `accepted`: stored durably (new, or already known with
/// the same body); the sender may forget them. `refused`: never stored, with the reason.
/// Requests of the batch in neither list were not taken now (the pool is full): send them again
/// later.
public struct SubmitInboxRequestsAck: WireMessage, Hashable {
    public var accepted: [InboxRequestKey]
    public var refused: [InboxRequestRefusal]

    public init(accepted: [InboxRequestKey], refused: [InboxRequestRefusal]) {
        self.accepted = accepted
        self.refused = refused
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeArray(accepted) { $0.writeMessage($1) }
        writer.writeArray(refused) { $0.writeMessage($1) }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        accepted = try reader.readArray(maxCount: InboxWireLimits.maxBatch, minimumElementSize: 40) {
            (r: inout WireReader) throws(WireError) in try r.readMessage(InboxRequestKey.self)
        }
        refused = try reader.readArray(maxCount: InboxWireLimits.maxBatch, minimumElementSize: 44) {
            (r: inout WireReader) throws(WireError) in try r.readMessage(InboxRequestRefusal.self)
        }
    }
}
