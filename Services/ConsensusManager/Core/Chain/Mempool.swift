import CryptoPrimitives
import Wire

/// A transaction's id: SHA-256 of its bytes (CometBFT's `TxKey`).
public struct TxHash: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(of tx: [UInt8]) { bytes = SHA256.hash(tx) }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { Hex.encode(bytes.prefix(6)) }
}

/// The pool of transactions waiting for a block (CometBFT's CList mempool, reduced): pure, so
/// the engine and the simulation drive it the same way.
///
/// - Admission: at most `maxTxBytes` per transaction, `maxCount` transactions and `maxBytes`
///   in total (a full pool refuses; it never evicts, so an attacker cannot push honest
///   transactions out); a transaction already pooled, or committed or refused recently (the
///   `cacheSize` last hashes), is a duplicate; otherwise the application's `checkTx` decides.
/// - `reap`: in arrival order, up to a byte and a count cap.
/// - `update` after a commit: the block's transactions leave the pool (and enter the cache), and
///   every remaining transaction is checked again against the new state (recheck), since the
///   block may have made some invalid.
public struct Mempool: Sendable {
    public struct Limits: Hashable, Sendable {
        public var maxCount: Int
        public var maxBytes: Int
        public var maxTxBytes: Int
        public var cacheSize: Int

        public init(
            maxCount: Int = 10_000, maxBytes: Int = 64 << 20, maxTxBytes: Int = 64 << 10, cacheSize: Int = 100_000
        ) {
            self.maxCount = maxCount
            self.maxBytes = maxBytes
            self.maxTxBytes = maxTxBytes
            self.cacheSize = cacheSize
        }
    }

    public enum AddResult: Hashable, Sendable {
        case added(TxHash)
        case duplicate(TxHash)
        case rejected(TxHash, String)
        case tooLarge(Int)
        case full
    }

    public struct Counters: Hashable, Sendable {
        public var added: UInt64 = 0
        public var duplicates: UInt64 = 0
        public var rejected: UInt64 = 0
        public var full: UInt64 = 0
        public var tooLarge: UInt64 = 0
        public var committed: UInt64 = 0
        public var evictedByRecheck: UInt64 = 0
    }

    public let limits: Limits
    public private(set) var counters = Counters()
    public private(set) var bytes = 0
    private var txs: [TxHash: [UInt8]] = [:]
    /// Arrival order; may hold hashes already removed (skipped, compacted in `update`).
    private var order: [TxHash] = []
    /// Recently committed or refused hashes, oldest first, with a set for lookups.
    private var cache: Set<TxHash> = []
    private var cacheOrder: [TxHash] = []
    private var cacheHead = 0

    public init(limits: Limits = Limits()) {
        precondition(limits.maxCount > 0 && limits.maxBytes > 0 && limits.maxTxBytes > 0)
        self.limits = limits
    }

    public var count: Int { txs.count }
    public func contains(_ hash: TxHash) -> Bool { txs[hash] != nil }

    public mutating func add(_ tx: [UInt8], check: (_ tx: [UInt8]) -> TxVerdict) -> AddResult {
        guard !tx.isEmpty, tx.count <= limits.maxTxBytes else {
            counters.tooLarge += 1
            return .tooLarge(tx.count)
        }
        let hash = TxHash(of: tx)
        if txs[hash] != nil || cache.contains(hash) {
            counters.duplicates += 1
            return .duplicate(hash)
        }
        guard txs.count < limits.maxCount, bytes + tx.count <= limits.maxBytes else {
            counters.full += 1
            return .full
        }
        if case .reject(let why) = check(tx) {
            counters.rejected += 1
            remember(hash)
            return .rejected(hash, why)
        }
        txs[hash] = tx
        order.append(hash)
        bytes += tx.count
        counters.added += 1
        return .added(hash)
    }

    /// Pooled transactions in arrival order: at most `maxCount` of them and `maxBytes` bytes, each
    /// counted with `perTxOverhead` more (its length prefix in a block).
    public func reap(maxBytes: Int, maxCount: Int = .max, perTxOverhead: Int = 0) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var total = 0
        for hash in order {
            guard out.count < maxCount else { break }
            guard let tx = txs[hash] else { continue }
            guard total + tx.count + perTxOverhead <= maxBytes else { break }
            total += tx.count + perTxOverhead
            out.append(tx)
        }
        return out
    }

    /// After a block was committed: removes its transactions, then rechecks the rest.
    /// Returns the hashes the recheck evicted.
    @discardableResult
    public mutating func update(committed: [[UInt8]], recheck: (_ tx: [UInt8]) -> TxVerdict) -> [TxHash] {
        for tx in committed {
            let hash = TxHash(of: tx)
            if let removed = txs.removeValue(forKey: hash) {
                bytes -= removed.count
                counters.committed += 1
            }
            remember(hash)
        }
        var evicted: [TxHash] = []
        var kept: [TxHash] = []
        kept.reserveCapacity(txs.count)
        for hash in order {
            guard let tx = txs[hash] else { continue }
            if case .reject = recheck(tx) {
                txs[hash] = nil
                bytes -= tx.count
                evicted.append(hash)
                remember(hash)
            } else {
                kept.append(hash)
            }
        }
        order = kept
        counters.evictedByRecheck += UInt64(evicted.count)
        return evicted
    }

    private mutating func remember(_ hash: TxHash) {
        guard limits.cacheSize > 0, cache.insert(hash).inserted else { return }
        cacheOrder.append(hash)
        if cache.count > limits.cacheSize {
            cache.remove(cacheOrder[cacheHead])
            cacheHead += 1
            if cacheHead > 4096, cacheHead * 2 > cacheOrder.count {
                cacheOrder.removeSubrange(0..<cacheHead)
                cacheHead = 0
            }
        }
    }
}
