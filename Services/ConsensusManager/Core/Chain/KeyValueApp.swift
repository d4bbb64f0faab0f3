import CryptoPrimitives
import Tendermint
import Wire

/// A small key-value application for tests, the devnet and benchmarks (issue 5; the PoS
/// application replaces it later). A transaction is the UTF-8 text `key=value`: a non-empty key of
/// at most 256 bytes without `=`, and a value of at most `Block.maxTxBytes` bytes; it sets the key.
///
/// App hash: a hash chain over the history, `H_h = SHA-256(string "vn/kv/v1" · bytes H_{h−1} ·
/// u64 h · array of bytes txs)`, with `H_0 = SHA-256("vn/kv/v1/genesis")`. It is deterministic
/// and costs O(block) per commit (a Merkle tree over the whole state would cost O(state)); two
/// nodes agree on it exactly when they executed the same blocks in the same order, which is what
/// the engine needs to detect a diverging node.
public struct KeyValueApp: Application {
    public static let maxKeyBytes = 256
    public static let genesisHash = SHA256.hash(Array("vn/kv/v1/genesis".utf8))

    public private(set) var height: Height = 0
    public private(set) var appHash: [UInt8] = KeyValueApp.genesisHash
    private var state: [[UInt8]: [UInt8]] = [:]
    private var pending: (height: Height, writes: [([UInt8], [UInt8])], txs: [[UInt8]])?

    public init() {}

    /// Keys in the committed state.
    public var count: Int { state.count }

    /// `(key, value)` of a well-formed transaction, or why it is not one.
    public static func parse(_ tx: [UInt8]) -> Result<(key: [UInt8], value: [UInt8]), KVTxError> {
        guard let eq = tx.firstIndex(of: UInt8(ascii: "=")) else { return .failure(.noSeparator) }
        let key = Array(tx[..<eq])
        let value = Array(tx[(eq + 1)...])
        guard !key.isEmpty else { return .failure(.emptyKey) }
        guard key.count <= maxKeyBytes else { return .failure(.keyTooLong(key.count)) }
        guard value.count <= Block.maxTxBytes else { return .failure(.valueTooLong(value.count)) }
        guard String(validating: tx, as: UTF8.self) != nil else { return .failure(.notUTF8) }
        return .success((key, value))
    }

    public func checkTx(_ tx: [UInt8]) -> TxVerdict {
        switch Self.parse(tx) {
        case .success: .accept
        case .failure(let e): .reject(e.description)
        }
    }

    public func prepareProposal(height: Height, candidates: [[UInt8]], maxBytes: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var bytes = 0
        for tx in candidates where checkTx(tx).isAccepted {
            guard bytes + tx.count <= maxBytes else { break }
            bytes += tx.count
            out.append(tx)
        }
        return out
    }

    public func processProposal(_ block: Block) -> Bool {
        block.txs.allSatisfy { checkTx($0).isAccepted }
    }

    public mutating func finalizeBlock(_ block: Block) -> [TxVerdict] {
        var writes: [([UInt8], [UInt8])] = []
        var results: [TxVerdict] = []
        for tx in block.txs {
            switch Self.parse(tx) {
            case .success(let kv):
                writes.append((kv.key, kv.value))
                results.append(.accept)
            case .failure(let e):
                results.append(.reject(e.description))
            }
        }
        pending = (block.header.height, writes, block.txs)
        return results
    }

    public mutating func commit() -> [UInt8] {
        guard let p = pending else { return appHash }
        for (k, v) in p.writes { state[k] = v }
        var w = WireWriter(reservingCapacity: 64 + p.txs.reduce(0) { $0 + $1.count + 4 })
        w.writeString("vn/kv/v1")
        w.writeBytes(appHash)
        w.writeUInt64(p.height.value)
        w.writeArray(p.txs) { $0.writeBytes($1) }
        appHash = SHA256.hash(w.take())
        height = p.height
        pending = nil
        return appHash
    }

    /// `path` "key": the value of the key `data`.
    public func query(path: String, data: [UInt8]) -> QueryResult {
        guard path == "key", let v = state[data] else { return QueryResult(found: false, value: [], height: height) }
        return QueryResult(found: true, value: v, height: height)
    }
}

/// Why a key-value transaction is malformed.
public enum KVTxError: Error, Hashable, Sendable, CustomStringConvertible {
    case noSeparator, emptyKey, keyTooLong(Int), valueTooLong(Int), notUTF8

    public var description: String {
        switch self {
        case .noSeparator: "not key=value"
        case .emptyKey: "empty key"
        case .keyTooLong(let n): "key of \(n) bytes exceeds \(KeyValueApp.maxKeyBytes)"
        case .valueTooLong(let n): "value of \(n) bytes exceeds \(Block.maxTxBytes)"
        case .notUTF8: "not UTF-8"
        }
    }
}
