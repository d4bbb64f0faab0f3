import Wire

/// A block selector for JSON-RPC (execution-apis `BlockNumberOrTag`).
public enum BlockTag: Hashable, Sendable, CustomStringConvertible {
    case latest, earliest, pending, safe, finalized
    case number(UInt64)

    public var json: JSONValue {
        switch self {
        case .latest: .string("latest")
        case .earliest: .string("earliest")
        case .pending: .string("pending")
        case .safe: .string("safe")
        case .finalized: .string("finalized")
        case .number(let n): .string(EVMHex.quantity(n))
        }
    }

    public var description: String { json.stringValue! }
}

/// A response that does not have the shape the method promises.
public struct RPCDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Typed reads of a JSON object's fields; every failure names the field.
struct JSONFields {
    let object: [String: JSONValue]
    let what: String

    init(_ value: JSONValue, _ what: String) throws(RPCDecodingError) {
        guard case .object(let o) = value else { throw RPCDecodingError("\(what) is not an object") }
        object = o
        self.what = what
    }

    func string(_ key: String) throws(RPCDecodingError) -> String {
        guard let s = object[key]?.stringValue else { throw RPCDecodingError("\(what).\(key) missing or not a string") }
        return s
    }

    /// nil when absent or null.
    func optionalString(_ key: String) throws(RPCDecodingError) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw RPCDecodingError("\(what).\(key) is not a string")
        }
    }

    func wrap<T>(_ key: String, _ body: (String) throws -> T) throws(RPCDecodingError) -> T {
        let s = try string(key)
        do { return try body(s) } catch { throw RPCDecodingError("\(what).\(key): \(error)") }
    }

    func wrapOptional<T>(_ key: String, _ body: (String) throws -> T) throws(RPCDecodingError) -> T? {
        guard let s = try optionalString(key) else { return nil }
        do { return try body(s) } catch { throw RPCDecodingError("\(what).\(key): \(error)") }
    }

    func uint64(_ key: String) throws(RPCDecodingError) -> UInt64 { try wrap(key) { try EVMHex.uint64($0) } }
    func uint256(_ key: String) throws(RPCDecodingError) -> UInt256 { try wrap(key) { try EVMHex.uint256($0) } }
    func hash(_ key: String) throws(RPCDecodingError) -> Hash32 { try wrap(key) { try Hash32(hex: $0) } }
    func data(_ key: String) throws(RPCDecodingError) -> [UInt8] { try wrap(key) { try EVMHex.data($0) } }
    func address(_ key: String) throws(RPCDecodingError) -> Address {
        try wrap(key) { try Address(bytes: EVMHex.data($0)) }
    }
    func optionalUInt64(_ key: String) throws(RPCDecodingError) -> UInt64? {
        try wrapOptional(key) { try EVMHex.uint64($0) }
    }
    func optionalUInt256(_ key: String) throws(RPCDecodingError) -> UInt256? {
        try wrapOptional(key) { try EVMHex.uint256($0) }
    }
    func optionalHash(_ key: String) throws(RPCDecodingError) -> Hash32? {
        try wrapOptional(key) { try Hash32(hex: $0) }
    }
    func optionalAddress(_ key: String) throws(RPCDecodingError) -> Address? {
        try wrapOptional(key) { try Address(bytes: EVMHex.data($0)) }
    }

    func array(_ key: String) throws(RPCDecodingError) -> [JSONValue] {
        guard let a = object[key]?.arrayValue else { throw RPCDecodingError("\(what).\(key) missing or not an array") }
        return a
    }
}

/// A block header as returned by `eth_getBlockByNumber` (with transaction hashes).
public struct Block: Hashable, Sendable {
    public var number: UInt64
    public var hash: Hash32
    public var parentHash: Hash32
    public var timestamp: UInt64
    public var gasLimit: UInt64
    public var gasUsed: UInt64
    /// Absent before London.
    public var baseFeePerGas: UInt256?
    public var miner: Address?
    public var stateRoot: Hash32?
    public var transactionsRoot: Hash32?
    public var receiptsRoot: Hash32?
    public var logsBloom: [UInt8]?
    /// Hashes of the block's transactions, in order (full transaction objects are reduced to
    /// their `hash`).
    public var transactionHashes: [Hash32]

    public init(json: JSONValue) throws(RPCDecodingError) {
        let f = try JSONFields(json, "block")
        number = try f.uint64("number")
        hash = try f.hash("hash")
        parentHash = try f.hash("parentHash")
        timestamp = try f.uint64("timestamp")
        gasLimit = try f.uint64("gasLimit")
        gasUsed = try f.uint64("gasUsed")
        baseFeePerGas = try f.optionalUInt256("baseFeePerGas")
        miner = try f.optionalAddress("miner")
        stateRoot = try f.optionalHash("stateRoot")
        transactionsRoot = try f.optionalHash("transactionsRoot")
        receiptsRoot = try f.optionalHash("receiptsRoot")
        logsBloom = try f.wrapOptional("logsBloom") { try EVMHex.data($0) }
        var hashes: [Hash32] = []
        for (i, item) in try f.array("transactions").enumerated() {
            let text: String?
            switch item {
            case .string(let s): text = s
            case .object(let o): text = o["hash"]?.stringValue
            default: text = nil
            }
            guard let text, let h = try? Hash32(hex: text) else {
                throw RPCDecodingError("block.transactions[\(i)] is not a transaction hash")
            }
            hashes.append(h)
        }
        transactionHashes = hashes
    }
}

/// One log entry (`eth_getLogs`, receipts). Pending logs (no block yet) are not accepted.
public struct Log: Hashable, Sendable {
    public var address: Address
    /// 0 to 4 topics.
    public var topics: [Hash32]
    public var data: [UInt8]
    public var blockNumber: UInt64
    public var blockHash: Hash32
    public var transactionHash: Hash32
    public var transactionIndex: UInt64
    /// Position in the block.
    public var logIndex: UInt64
    /// True when a reorg removed the log (absent means false; some servers never send it).
    public var removed: Bool

    public init(
        address: Address, topics: [Hash32], data: [UInt8], blockNumber: UInt64, blockHash: Hash32,
        transactionHash: Hash32, transactionIndex: UInt64, logIndex: UInt64, removed: Bool = false
    ) {
        self.address = address
        self.topics = topics
        self.data = data
        self.blockNumber = blockNumber
        self.blockHash = blockHash
        self.transactionHash = transactionHash
        self.transactionIndex = transactionIndex
        self.logIndex = logIndex
        self.removed = removed
    }

    public init(json: JSONValue) throws(RPCDecodingError) {
        let f = try JSONFields(json, "log")
        address = try f.address("address")
        let rawTopics = try f.array("topics")
        guard rawTopics.count <= 4 else { throw RPCDecodingError("log has \(rawTopics.count) topics (at most 4)") }
        var topics: [Hash32] = []
        for (i, t) in rawTopics.enumerated() {
            guard let s = t.stringValue, let h = try? Hash32(hex: s) else {
                throw RPCDecodingError("log.topics[\(i)] is not a 32-byte hex string")
            }
            topics.append(h)
        }
        self.topics = topics
        data = try f.data("data")
        blockNumber = try f.uint64("blockNumber")
        blockHash = try f.hash("blockHash")
        transactionHash = try f.hash("transactionHash")
        transactionIndex = try f.uint64("transactionIndex")
        logIndex = try f.uint64("logIndex")
        switch f.object["removed"] {
        case nil, .null?: removed = false
        case .bool(let b)?: removed = b
        default: throw RPCDecodingError("log.removed is not a boolean")
        }
    }
}

/// An `eth_getLogs` filter.
public struct LogFilter: Hashable, Sendable {
    public enum Range: Hashable, Sendable {
        case blocks(from: BlockTag, to: BlockTag)
        case blockHash(Hash32)
    }

    public var range: Range
    /// Logs from any of these contracts (empty: any contract).
    public var addresses: [Address]
    /// Position i matches any of `topics[i]`; nil matches anything.
    public var topics: [[Hash32]?]

    public init(range: Range, addresses: [Address] = [], topics: [[Hash32]?] = []) {
        self.range = range
        self.addresses = addresses
        self.topics = topics
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = [:]
        switch range {
        case .blocks(let from, let to):
            o["fromBlock"] = from.json
            o["toBlock"] = to.json
        case .blockHash(let h):
            o["blockHash"] = .string(h.description)
        }
        if addresses.count == 1 {
            o["address"] = .string(addresses[0].description)
        } else if !addresses.isEmpty {
            o["address"] = .array(addresses.map { .string($0.description) })
        }
        var positions = topics
        while let last = positions.last, last == nil { positions.removeLast() }
        if !positions.isEmpty {
            o["topics"] = .array(
                positions.map { alternatives in
                    guard let alternatives else { return .null }
                    if alternatives.count == 1 { return .string(alternatives[0].description) }
                    return .array(alternatives.map { .string($0.description) })
                })
        }
        return .object(o)
    }
}

/// `eth_getTransactionReceipt`'s result.
public struct TransactionReceipt: Hashable, Sendable {
    public var transactionHash: Hash32
    public var transactionIndex: UInt64
    public var blockHash: Hash32
    public var blockNumber: UInt64
    public var from: Address
    public var to: Address?
    public var cumulativeGasUsed: UInt64
    public var gasUsed: UInt64
    public var effectiveGasPrice: UInt256?
    public var contractAddress: Address?
    public var logs: [Log]
    /// true = success (status 1); nil before Byzantium (state root receipts).
    public var status: Bool?
    public var type: UInt64?

    public init(json: JSONValue) throws(RPCDecodingError) {
        let f = try JSONFields(json, "receipt")
        transactionHash = try f.hash("transactionHash")
        transactionIndex = try f.uint64("transactionIndex")
        blockHash = try f.hash("blockHash")
        blockNumber = try f.uint64("blockNumber")
        from = try f.address("from")
        to = try f.optionalAddress("to")
        cumulativeGasUsed = try f.uint64("cumulativeGasUsed")
        gasUsed = try f.uint64("gasUsed")
        effectiveGasPrice = try f.optionalUInt256("effectiveGasPrice")
        contractAddress = try f.optionalAddress("contractAddress")
        var logs: [Log] = []
        for item in try f.array("logs") { logs.append(try Log(json: item)) }
        self.logs = logs
        switch try f.optionalUInt64("status") {
        case nil: status = nil
        case 0?: status = false
        case 1?: status = true
        default: throw RPCDecodingError("receipt.status is neither 0x0 nor 0x1")
        }
        type = try f.optionalUInt64("type")
    }
}

/// The call object of `eth_call` and `eth_estimateGas`.
public struct CallRequest: Hashable, Sendable {
    public var from: Address?
    public var to: Address?
    public var gas: UInt64?
    public var gasPrice: UInt256?
    public var maxFeePerGas: UInt256?
    public var maxPriorityFeePerGas: UInt256?
    public var value: UInt256?
    public var data: [UInt8]

    public init(
        from: Address? = nil, to: Address?, gas: UInt64? = nil, gasPrice: UInt256? = nil,
        maxFeePerGas: UInt256? = nil, maxPriorityFeePerGas: UInt256? = nil, value: UInt256? = nil, data: [UInt8] = []
    ) {
        self.from = from
        self.to = to
        self.gas = gas
        self.gasPrice = gasPrice
        self.maxFeePerGas = maxFeePerGas
        self.maxPriorityFeePerGas = maxPriorityFeePerGas
        self.value = value
        self.data = data
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["data": .string(EVMHex.encode(data))]
        if let from { o["from"] = .string(from.description) }
        if let to { o["to"] = .string(to.description) }
        if let gas { o["gas"] = .string(EVMHex.quantity(gas)) }
        if let gasPrice { o["gasPrice"] = .string(gasPrice.quantityHex) }
        if let maxFeePerGas { o["maxFeePerGas"] = .string(maxFeePerGas.quantityHex) }
        if let maxPriorityFeePerGas { o["maxPriorityFeePerGas"] = .string(maxPriorityFeePerGas.quantityHex) }
        if let value { o["value"] = .string(value.quantityHex) }
        return .object(o)
    }
}

/// `eth_feeHistory`'s result.
public struct FeeHistory: Hashable, Sendable {
    public var oldestBlock: UInt64
    /// One more entry than blocks: the last is the next block's base fee.
    public var baseFeePerGas: [UInt256]
    public var gasUsedRatio: [Double]
    /// Per block, one entry per requested percentile (empty when none were requested, or when
    /// the server does not report rewards).
    public var reward: [[UInt256]]

    public init(json: JSONValue) throws(RPCDecodingError) {
        let f = try JSONFields(json, "feeHistory")
        oldestBlock = try f.uint64("oldestBlock")
        baseFeePerGas = try f.array("baseFeePerGas").enumerated().map { (i, v) throws(RPCDecodingError) in
            guard let s = v.stringValue, let q = try? EVMHex.uint256(s) else {
                throw RPCDecodingError("feeHistory.baseFeePerGas[\(i)] is not a quantity")
            }
            return q
        }
        gasUsedRatio = try f.array("gasUsedRatio").enumerated().map { (i, v) throws(RPCDecodingError) in
            guard let d = v.doubleValue, d >= 0, d.isFinite else {
                throw RPCDecodingError("feeHistory.gasUsedRatio[\(i)] is not a number")
            }
            return d
        }
        var reward: [[UInt256]] = []
        switch f.object["reward"] {
        case nil, .null?: break
        case .array(let rows)?:
            for (i, row) in rows.enumerated() {
                guard let cells = row.arrayValue else {
                    throw RPCDecodingError("feeHistory.reward[\(i)] is not an array")
                }
                var parsed: [UInt256] = []
                for cell in cells {
                    guard let s = cell.stringValue, let q = try? EVMHex.uint256(s) else {
                        throw RPCDecodingError("feeHistory.reward[\(i)] holds a non-quantity")
                    }
                    parsed.append(q)
                }
                reward.append(parsed)
            }
        default: throw RPCDecodingError("feeHistory.reward is not an array")
        }
        self.reward = reward
    }
}
