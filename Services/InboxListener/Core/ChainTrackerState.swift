import EVM
import Wire

/// The durable state of one chain's tracker: what `.persist` hands to the shell and
/// `ChainTracker(config:restoring:)` takes back. Written atomically as one value (one LevelDB
/// key per chain), it survives a `kill -9` at any point: a restart re-forwards what was not
/// acknowledged (at-least-once; the consensus-manager deduplicates by id) and never re-forwards
/// what was.
public struct ChainTrackerState: Hashable, Sendable {
    /// An acknowledged request id and the block it was read from (for eviction).
    public struct Seen: Hashable, Sendable {
        public var id: UInt256
        public var blockNumber: UInt64
        public init(id: UInt256, blockNumber: UInt64) {
            self.id = id
            self.blockNumber = blockNumber
        }
    }

    public var chainID: UInt64
    /// The last block whose logs were fully scanned; nil before the first scan.
    public var cursor: UInt64?
    /// Number of the first hash of `canonicalHashes`.
    public var canonicalBase: UInt64
    /// The recent canonical chain, consecutive blocks from `canonicalBase`, each linked to its
    /// parent (at most `window` of them).
    public var canonicalHashes: [Hash32]
    /// Read, waiting for their confirmations, in (block, log index) order.
    public var pending: [InboxRequest]
    /// Confirmed, forwarded or to be forwarded, not yet acknowledged.
    public var queued: [InboxRequest]
    /// Acknowledged ids, ascending by id.
    public var seen: [Seen]

    public init(
        chainID: UInt64, cursor: UInt64?, canonicalBase: UInt64, canonicalHashes: [Hash32], pending: [InboxRequest],
        queued: [InboxRequest], seen: [Seen]
    ) {
        self.chainID = chainID
        self.cursor = cursor
        self.canonicalBase = canonicalBase
        self.canonicalHashes = canonicalHashes
        self.pending = pending
        self.queued = queued
        self.seen = seen
    }
}

extension ChainTrackerState: WireMessage {
    static let maxHashes = 1 << 16
    static let maxRequests = 1 << 20

    public func encode(to writer: inout WireWriter) {
        writer.writeUInt64(chainID)
        writer.writeOptional(cursor) { $0.writeUInt64($1) }
        writer.writeUInt64(canonicalBase)
        writer.writeArray(canonicalHashes) { $0.writeHash($1) }
        writer.writeArray(pending) { $0.writeMessage($1) }
        writer.writeArray(queued) { $0.writeMessage($1) }
        writer.writeArray(seen) {
            $0.writeUInt256($1.id)
            $0.writeUInt64($1.blockNumber)
        }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        chainID = try reader.readUInt64()
        cursor = try reader.readOptional { (r: inout WireReader) throws(WireError) in try r.readUInt64() }
        canonicalBase = try reader.readUInt64()
        canonicalHashes = try reader.readArray(maxCount: Self.maxHashes, minimumElementSize: 32) {
            (r: inout WireReader) throws(WireError) in try r.readHash()
        }
        pending = try reader.readArray(maxCount: Self.maxRequests, minimumElementSize: 64) {
            (r: inout WireReader) throws(WireError) in try r.readMessage(InboxRequest.self)
        }
        queued = try reader.readArray(maxCount: Self.maxRequests, minimumElementSize: 64) {
            (r: inout WireReader) throws(WireError) in try r.readMessage(InboxRequest.self)
        }
        seen = try reader.readArray(maxCount: Self.maxRequests, minimumElementSize: 40) {
            (r: inout WireReader) throws(WireError) in
            Seen(id: try r.readUInt256(), blockNumber: try r.readUInt64())
        }
        // Canonical form: seen strictly ascending by id (one encoding per set).
        for (a, b) in zip(seen, seen.dropFirst()) where !(a.id < b.id) {
            throw .invalidValue("seen ids not strictly ascending")
        }
        let (_, overflow) = canonicalBase.addingReportingOverflow(UInt64(canonicalHashes.count))
        guard !overflow else { throw .invalidValue("canonical window overflows") }
        for r in pending + queued where r.origin.chainID != chainID {
            throw .invalidValue("request \(r.id) of chain \(r.origin.chainID) in the state of chain \(chainID)")
        }
    }
}
