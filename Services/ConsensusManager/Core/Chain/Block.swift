import CryptoPrimitives
import Tendermint
import Wire

/// The header of a block of the native chain (the shape of CometBFT's `Header`, reduced to what
/// this chain uses).
///
/// Wire layout: `string chainID (≤ 64) · u64 height (≥ 1) · i64 round (≥ 0) · u64 timeMs ·
/// address proposer · 32-byte previousBlockHash · 32-byte lastCommitHash · 32-byte txRoot ·
/// 32-byte appHash`.
///
/// - `previousBlockHash`: the hash of block `height − 1`, all zero at height 1;
/// - `lastCommitHash`: `SHA-256` of the canonical `SignedCommit` of block `height − 1` that the
///   block carries (all zero when it carries none, at height 1);
/// - `txRoot`: the `Merkle` root of the transactions;
/// - `appHash`: the application's hash after block `height − 1` (CometBFT's convention: a block
///   can only name the state its predecessors produced).
public struct BlockHeader: Hashable, Sendable, WireMessage {
    public static let maxChainIDLength = 64
    public static let zeroHash = [UInt8](repeating: 0, count: 32)

    public let chainID: String
    public let height: Height
    public let round: Round
    /// The proposer's wall clock (milliseconds since the Unix epoch); informational only.
    public let timeMs: UInt64
    public let proposer: Address
    public let previousBlockHash: [UInt8]
    public let lastCommitHash: [UInt8]
    public let txRoot: [UInt8]
    public let appHash: [UInt8]

    public init(
        chainID: String, height: Height, round: Round, timeMs: UInt64, proposer: Address, previousBlockHash: [UInt8],
        lastCommitHash: [UInt8], txRoot: [UInt8], appHash: [UInt8]
    ) {
        precondition([previousBlockHash, lastCommitHash, txRoot, appHash].allSatisfy { $0.count == 32 })
        self.chainID = chainID
        self.height = height
        self.round = round
        self.timeMs = timeMs
        self.proposer = proposer
        self.previousBlockHash = previousBlockHash
        self.lastCommitHash = lastCommitHash
        self.txRoot = txRoot
        self.appHash = appHash
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeString(chainID)
        writer.writeMessage(height)
        writer.writeMessage(round)
        writer.writeUInt64(timeMs)
        writer.writeAddress(proposer)
        writer.writeFixedBytes(previousBlockHash)
        writer.writeFixedBytes(lastCommitHash)
        writer.writeFixedBytes(txRoot)
        writer.writeFixedBytes(appHash)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        chainID = try reader.readString(maxLength: Self.maxChainIDLength)
        height = try reader.readMessage(Height.self)
        guard height.value >= 1 else { throw .invalidValue("block height 0") }
        round = try reader.readMessage(Round.self)
        guard !round.isNone else { throw .invalidValue("block round must be defined") }
        timeMs = try reader.readUInt64()
        proposer = try reader.readAddress()
        previousBlockHash = try reader.readFixedBytes(count: 32)
        lastCommitHash = try reader.readFixedBytes(count: 32)
        txRoot = try reader.readFixedBytes(count: 32)
        appHash = try reader.readFixedBytes(count: 32)
    }
}

/// A block: header, transactions, and the signed commit of the previous block (CometBFT's
/// `LastCommit`, which lets every validator check the chain it extends).
///
/// Wire layout: `BlockHeader · array of bytes txs · optional SignedCommit lastCommit`.
///
/// The block's hash, which is also its consensus value id, is `Value(bytes: encoded()).id`
/// (`SHA-256("vn/tendermint/value/v1" · bytes)`): votes name blocks by it.
public struct Block: Hashable, Sendable, WireMessage {
    /// Largest single transaction.
    public static let maxTxBytes = 64 << 10
    /// Most transactions in one block.
    public static let maxTxCount = 100_000

    public let header: BlockHeader
    public let txs: [[UInt8]]
    public let lastCommit: SignedCommit?

    public init(header: BlockHeader, txs: [[UInt8]], lastCommit: SignedCommit?) {
        self.header = header
        self.txs = txs
        self.lastCommit = lastCommit
    }

    public var value: Value { Value(bytes: encoded()) }
    public var hash: ValueID { value.id }

    public static func txRoot(_ txs: [[UInt8]]) -> [UInt8] { Merkle.root(txs) }

    public static func commitHash(_ commit: SignedCommit?) -> [UInt8] {
        commit.map { SHA256.hash($0.encoded()) } ?? BlockHeader.zeroHash
    }

    /// Decodes a consensus value as a block (a proposal's bytes, a synced block).
    public static func decode(value: Value) throws(WireError) -> Block { try Block.decode(value.bytes) }

    public func encode(to writer: inout WireWriter) {
        writer.writeMessage(header)
        writer.writeArray(txs) { $0.writeBytes($1) }
        writer.writeOptional(lastCommit) { $0.writeMessage($1) }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        header = try reader.readMessage(BlockHeader.self)
        txs = try reader.readArray(maxCount: Self.maxTxCount, minimumElementSize: 4) {
            (r: inout WireReader) throws(WireError) in try r.readBytes(maxLength: Self.maxTxBytes)
        }
        lastCommit = try reader.readOptional { (r: inout WireReader) throws(WireError) in
            try r.readMessage(SignedCommit.self)
        }
    }
}
