/// Local RPC of the consensus engine (issue 5), on the consensus-manager's `consensus.rpc_listen`.

/// `consensus.submitTx`: one transaction for the mempool.
///
/// Wire layout: `bytes tx` (≤ 1 MiB; the engine applies its own, smaller cap).
public struct ConsensusSubmitTx: WireMessage {
    public static let maxTxBytes = 1 << 20
    public var tx: [UInt8]

    public init(tx: [UInt8]) { self.tx = tx }

    public func encode(to writer: inout WireWriter) { writer.writeBytes(tx) }

    public init(from reader: inout WireReader) throws(WireError) {
        tx = try reader.readBytes(maxLength: Self.maxTxBytes)
    }
}

/// The answer to `ConsensusSubmitTx`: the transaction's hash (SHA-256) and whether the mempool
/// already knew it. A malformed transaction is `invalidArgument`, a full mempool
/// `resourceExhausted`.
///
/// Wire layout: `32-byte hash · bool duplicate`.
public struct ConsensusSubmitTxAck: WireMessage {
    public var hash: [UInt8]
    public var duplicate: Bool

    public init(hash: [UInt8], duplicate: Bool) {
        self.hash = hash
        self.duplicate = duplicate
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeFixedBytes(hash)
        writer.writeBool(duplicate)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        hash = try reader.readFixedBytes(count: 32)
        duplicate = try reader.readBool()
    }
}

/// `consensus.getBlock`: the committed block at `height` (0: the latest).
///
/// Wire layout: `u64 height`.
public struct ConsensusBlockQuery: WireMessage {
    public var height: UInt64

    public init(height: UInt64) { self.height = height }

    public func encode(to writer: inout WireWriter) { writer.writeUInt64(height) }

    public init(from reader: inout WireReader) throws(WireError) { height = try reader.readUInt64() }
}

/// A committed block: its height, hash (the consensus value id), and its canonical bytes (the
/// consensus-manager's `Block` encoding). `notFound` when the height is not committed.
///
/// Wire layout: `u64 height · 32-byte hash · bytes block (≤ 16 MiB)`.
public struct ConsensusBlockReply: WireMessage {
    public static let maxBlockBytes = 16 << 20
    public var height: UInt64
    public var hash: [UInt8]
    public var block: [UInt8]

    public init(height: UInt64, hash: [UInt8], block: [UInt8]) {
        self.height = height
        self.hash = hash
        self.block = block
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeUInt64(height)
        writer.writeFixedBytes(hash)
        writer.writeBytes(block)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        height = try reader.readUInt64()
        hash = try reader.readFixedBytes(count: 32)
        block = try reader.readBytes(maxLength: Self.maxBlockBytes)
    }
}
