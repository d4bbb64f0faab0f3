import EVM
import Wire

/// Where a request was read: the `RequestCreated` log that carried it.
public struct RequestOrigin: Hashable, Sendable {
    /// The chain the log was read from (EIP-155 chain id).
    public var chainID: UInt64
    public var blockNumber: UInt64
    public var blockHash: Hash32
    public var transactionHash: Hash32
    /// Position of the log in its block.
    public var logIndex: UInt64

    public init(chainID: UInt64, blockNumber: UInt64, blockHash: Hash32, transactionHash: Hash32, logIndex: UInt64) {
        self.chainID = chainID
        self.blockNumber = blockNumber
        self.blockHash = blockHash
        self.transactionHash = transactionHash
        self.logIndex = logIndex
    }
}

/// A request of the oracle, typed (whitepaper §3.5.1.2): `Request = [message sender address,
/// Requesting chain ID, container URL, container params, Source URLs, target chain ID, fee,
/// confirmations]`, plus the inbox's id and where it was read.
///
/// `id` is the idempotency key everywhere downstream: `(chainid << 128) | n`, n ≥ 1 (the Inbox
/// contract, `Deploy/devchain/README.md`).
public struct InboxRequest: Hashable, Sendable {
    public var id: UInt256
    public var sender: Address
    /// Always the chain the log was read from (checked when decoding).
    public var requestingChainID: UInt64
    /// Well-formed UTF-8, 1 … `RequestLimits.maxContainerURLBytes` bytes.
    public var containerURL: String
    public var containerParams: [UInt8]
    public var sourceURLs: [String]
    /// Non-zero.
    public var targetChainID: UInt256
    /// Wei paid with the request (`msg.value`).
    public var fee: UInt256
    /// As requested on chain; the wait actually applied is `ChainTrackerConfig.confirmationsToWait`.
    public var confirmations: UInt64
    public var origin: RequestOrigin

    public init(
        id: UInt256, sender: Address, requestingChainID: UInt64, containerURL: String, containerParams: [UInt8],
        sourceURLs: [String], targetChainID: UInt256, fee: UInt256, confirmations: UInt64, origin: RequestOrigin
    ) {
        self.id = id
        self.sender = sender
        self.requestingChainID = requestingChainID
        self.containerURL = containerURL
        self.containerParams = containerParams
        self.sourceURLs = sourceURLs
        self.targetChainID = targetChainID
        self.fee = fee
        self.confirmations = confirmations
        self.origin = origin
    }

    /// The chain id in the high 128 bits of a request id.
    public static func chainID(ofRequestID id: UInt256) -> UInt256 {
        UInt256(bigEndian: id.bigEndianBytes[0..<16])!
    }

    /// The per-inbox counter n in the low 128 bits of a request id.
    public static func counter(ofRequestID id: UInt256) -> UInt256 {
        UInt256(bigEndian: id.bigEndianBytes[16..<32])!
    }

    /// `(chainID << 128) | counter`.
    public static func requestID(chainID: UInt64, counter: UInt64) -> UInt256 {
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in 0..<8 {
            bytes[15 - i] = UInt8(truncatingIfNeeded: chainID >> (8 * UInt64(i)))
            bytes[31 - i] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(i)))
        }
        return UInt256(bigEndian: bytes)!
    }
}

/// Size caps on a request's variable fields. The defaults are the Inbox contract's own limits;
/// `wireMaximum` bounds what the wire decoder accepts at all.
public struct RequestLimits: Hashable, Sendable {
    public var maxContainerURLBytes: Int
    public var maxSourceURLBytes: Int
    public var maxSourceURLs: Int
    public var maxParamsBytes: Int

    public init(maxContainerURLBytes: Int, maxSourceURLBytes: Int, maxSourceURLs: Int, maxParamsBytes: Int) {
        self.maxContainerURLBytes = maxContainerURLBytes
        self.maxSourceURLBytes = maxSourceURLBytes
        self.maxSourceURLs = maxSourceURLs
        self.maxParamsBytes = maxParamsBytes
    }

    /// The Inbox contract's limits (container URL 1–512 bytes, source URLs ≤ 512 bytes, at most
    /// 16 of them, params ≤ 4096 bytes).
    public static let inboxContract = RequestLimits(
        maxContainerURLBytes: 512, maxSourceURLBytes: 512, maxSourceURLs: 16, maxParamsBytes: 4096)

    /// The most any configuration may allow, and what `InboxRequest`'s wire decoder accepts.
    public static let wireMaximum = RequestLimits(
        maxContainerURLBytes: 2048, maxSourceURLBytes: 2048, maxSourceURLs: 64, maxParamsBytes: 65_536)

    /// Whether every cap is within `other`'s.
    public func isWithin(_ other: RequestLimits) -> Bool {
        maxContainerURLBytes <= other.maxContainerURLBytes && maxSourceURLBytes <= other.maxSourceURLBytes
            && maxSourceURLs <= other.maxSourceURLs && maxParamsBytes <= other.maxParamsBytes
    }

    /// The largest canonical ABI encoding of the event's data within these caps: anything longer
    /// is refused before the ABI decoder runs.
    public var maxLogDataBytes: Int {
        func padded(_ n: Int) -> Int { (n + 31) / 32 * 32 }
        let head = 7 * 32
        let url = 32 + padded(maxContainerURLBytes)
        let params = 32 + padded(maxParamsBytes)
        let sources = 32 + maxSourceURLs * (32 + 32 + padded(maxSourceURLBytes))
        return head + url + params + sources
    }
}

/// A field of a request, to name it in a rejection.
public enum RequestField: Hashable, Sendable, CustomStringConvertible {
    case containerURL
    case containerParams
    case sourceURL(index: Int)

    public var description: String {
        switch self {
        case .containerURL: "containerURL"
        case .containerParams: "params"
        case .sourceURL(let i): "sourceURLs[\(i)]"
        }
    }
}

/// Why a log was not accepted as a request. Every case names the culprit; a rejected log is
/// reported and counted, never forwarded, never a crash.
public enum InboxLogRejection: Error, Equatable, Sendable, CustomStringConvertible {
    /// The node flagged the log as removed by a reorg.
    case removed
    /// Emitted by another contract than the configured inbox (anyone can emit the same event).
    case wrongContract(Address)
    /// Not three topics (topic 0, id, sender).
    case wrongTopicCount(Int)
    /// Topic 0 is not `RequestCreated`'s.
    case notRequestCreated(topic0: Hash32)
    /// The sender topic has non-zero high 12 bytes.
    case senderTopicNotAnAddress(Hash32)
    /// The id's high 128 bits name another chain than the one being read.
    case idOfOtherChain(idChainID: UInt256, expected: UInt64)
    /// The id's counter (low 128 bits) is zero; the inbox counts from 1.
    case zeroCounter(UInt256)
    /// Longer than any request within the configured caps could encode to.
    case dataTooLarge(length: Int, limit: Int)
    /// The data is not an ABI encoding of the event's non-indexed fields.
    case abi(ABIError)
    /// `requestingChainId` differs from the chain being read.
    case requestingChainMismatch(UInt256, expected: UInt64)
    case emptyContainerURL
    case invalidUTF8(RequestField)
    case fieldTooLong(RequestField, length: Int, limit: Int)
    case tooManySourceURLs(count: Int, limit: Int)
    case zeroTargetChain
    /// Above 2^64 − 1 (the inbox caps it at 10,000).
    case confirmationsOutOfRange(UInt256)
    /// A second log with the id of another log of the same scan.
    case duplicateID(UInt256)
    /// A log outside the block range it was fetched for (a server bug).
    case outsideFetchedRange(block: UInt64)

    public var description: String {
        switch self {
        case .removed: "log marked removed"
        case .wrongContract(let a): "log from \(a), not the inbox"
        case .wrongTopicCount(let n): "\(n) topics, RequestCreated has 3"
        case .notRequestCreated(let t): "topic0 \(t) is not RequestCreated"
        case .senderTopicNotAnAddress(let t): "sender topic \(t) is not an address"
        case .idOfOtherChain(let c, let e): "request id of chain \(c), reading chain \(e)"
        case .zeroCounter(let id): "request id \(id) has counter 0"
        case .dataTooLarge(let n, let l): "log data of \(n) bytes exceeds \(l)"
        case .abi(let e): "data: \(e)"
        case .requestingChainMismatch(let c, let e): "requestingChainId \(c), reading chain \(e)"
        case .emptyContainerURL: "empty containerURL"
        case .invalidUTF8(let f): "\(f) is not UTF-8"
        case .fieldTooLong(let f, let n, let l): "\(f) of \(n) bytes exceeds \(l)"
        case .tooManySourceURLs(let n, let l): "\(n) source URLs, at most \(l)"
        case .zeroTargetChain: "targetChainId is zero"
        case .confirmationsOutOfRange(let c): "confirmations \(c) out of range"
        case .duplicateID(let id): "second log with request id \(id)"
        case .outsideFetchedRange(let b): "log of block \(b) outside the fetched range"
        }
    }
}

/// Decodes `RequestCreated` logs of one inbox on one chain (pure; checks are ordered cheapest
/// first, and the data's size is bounded before the ABI decoder runs).
public struct InboxLogDecoder: Hashable, Sendable {
    public var chainID: UInt64
    public var inbox: Address
    public var limits: RequestLimits

    public init(chainID: UInt64, inbox: Address, limits: RequestLimits = .inboxContract) {
        self.chainID = chainID
        self.inbox = inbox
        self.limits = limits
    }

    /// The event as the Inbox contract declares it (`Deploy/devchain/README.md`).
    public static let requestCreated: ABIEvent = try! ABIEvent(
        declaration:
            "event RequestCreated(uint256 indexed id, address indexed sender, uint256 requestingChainId, "
            + "string containerURL, bytes params, string[] sourceURLs, uint256 targetChainId, uint256 fee, "
            + "uint256 confirmations)")

    /// topic 0 of `RequestCreated`: the `eth_getLogs` filter the shell uses.
    public static let topic0: Hash32 = requestCreated.topic0

    /// The non-indexed fields with `string` read as `bytes` (the same ABI encoding), so that
    /// invalid UTF-8 is reported per field instead of as a bare offset.
    private static let dataTypes: [ABIType] = [
        .uint256, .bytes, .bytes, .dynamicArray(.bytes), .uint256, .uint256, .uint256,
    ]

    public func decode(_ log: Log) throws(InboxLogRejection) -> InboxRequest {
        guard !log.removed else { throw .removed }
        guard log.address == inbox else { throw .wrongContract(log.address) }
        guard log.topics.count == 3 else { throw .wrongTopicCount(log.topics.count) }
        guard log.topics[0] == Self.topic0 else { throw .notRequestCreated(topic0: log.topics[0]) }

        let senderWord = log.topics[2].bytes
        guard senderWord[0..<12].allSatisfy({ $0 == 0 }) else { throw .senderTopicNotAnAddress(log.topics[2]) }
        let sender = try! Address(bytes: Array(senderWord[12...]))

        let id = UInt256(bigEndian: log.topics[1].bytes)!
        let idChain = InboxRequest.chainID(ofRequestID: id)
        guard idChain == UInt256(chainID) else { throw .idOfOtherChain(idChainID: idChain, expected: chainID) }
        guard !InboxRequest.counter(ofRequestID: id).isZero else { throw .zeroCounter(id) }

        let limit = limits.maxLogDataBytes
        guard log.data.count <= limit else { throw .dataTooLarge(length: log.data.count, limit: limit) }
        let values: [ABIValue]
        do { values = try ABI.decode(log.data, types: Self.dataTypes) } catch { throw .abi(error) }
        guard values.count == 7, case .uint(let requestingChain) = values[0], case .bytes(let urlBytes) = values[1],
            case .bytes(let params) = values[2], case .array(let sourceValues) = values[3],
            case .uint(let target) = values[4], case .uint(let fee) = values[5],
            case .uint(let confirmations) = values[6]
        else { throw .abi(.typeMismatch(path: "", type: "RequestCreated data")) }

        guard requestingChain == UInt256(chainID) else {
            throw .requestingChainMismatch(requestingChain, expected: chainID)
        }
        guard !urlBytes.isEmpty else { throw .emptyContainerURL }
        let containerURL = try text(urlBytes, .containerURL, limit: limits.maxContainerURLBytes)
        guard params.count <= limits.maxParamsBytes else {
            throw .fieldTooLong(.containerParams, length: params.count, limit: limits.maxParamsBytes)
        }
        guard sourceValues.count <= limits.maxSourceURLs else {
            throw .tooManySourceURLs(count: sourceValues.count, limit: limits.maxSourceURLs)
        }
        var sourceURLs: [String] = []
        sourceURLs.reserveCapacity(sourceValues.count)
        for (i, value) in sourceValues.enumerated() {
            guard case .bytes(let b) = value else { throw .abi(.typeMismatch(path: "[3][\(i)]", type: "string")) }
            sourceURLs.append(try text(b, .sourceURL(index: i), limit: limits.maxSourceURLBytes))
        }
        guard !target.isZero else { throw .zeroTargetChain }
        guard let confirmationCount = confirmations.uint64 else { throw .confirmationsOutOfRange(confirmations) }

        return InboxRequest(
            id: id, sender: sender, requestingChainID: chainID, containerURL: containerURL, containerParams: params,
            sourceURLs: sourceURLs, targetChainID: target, fee: fee, confirmations: confirmationCount,
            origin: RequestOrigin(
                chainID: chainID, blockNumber: log.blockNumber, blockHash: log.blockHash,
                transactionHash: log.transactionHash, logIndex: log.logIndex))
    }

    private func text(_ bytes: [UInt8], _ field: RequestField, limit: Int) throws(InboxLogRejection) -> String {
        guard bytes.count <= limit else { throw .fieldTooLong(field, length: bytes.count, limit: limit) }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8(field) }
        return s
    }
}
