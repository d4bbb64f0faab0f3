import Wire

/// How a block travels: split into parts of at most `partSize` bytes, each provable against the
/// part set's Merkle root (CometBFT's `PartSetHeader` / `Part`), so that a receiver checks every
/// part on arrival and never buffers bytes that do not belong to the announced block.
///
/// Wire layout: `u32 total · 32-byte root`.
public struct PartSetHeader: Hashable, Sendable, WireMessage, CustomStringConvertible {
    public let total: UInt32
    public let root: [UInt8]

    public init(total: UInt32, root: [UInt8]) {
        precondition(root.count == Merkle.hashCount)
        self.total = total
        self.root = root
    }

    public var description: String { "parts(\(total), \(Hex.encode(root.prefix(4))))" }

    public func encode(to writer: inout WireWriter) {
        writer.writeUInt32(total)
        writer.writeFixedBytes(root)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        total = try reader.readUInt32()
        guard total >= 1 else { throw .invalidValue("a part set has at least one part") }
        root = try reader.readFixedBytes(count: Merkle.hashCount)
    }
}

/// One part: its index, bytes and the Merkle audit path of its leaf.
///
/// Wire layout: `u32 index · bytes (≤ PartSet.maxPartSize) · array of 32-byte hashes (≤ 32)`.
public struct BlockPart: Hashable, Sendable, WireMessage {
    public let index: UInt32
    public let bytes: [UInt8]
    public let proof: [[UInt8]]

    public init(index: UInt32, bytes: [UInt8], proof: [[UInt8]]) {
        self.index = index
        self.bytes = bytes
        self.proof = proof
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeUInt32(index)
        writer.writeBytes(bytes)
        writer.writeArray(proof) { $0.writeFixedBytes($1) }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        index = try reader.readUInt32()
        bytes = try reader.readBytes(maxLength: PartSet.maxPartSize)
        proof = try reader.readArray(maxCount: 32, minimumElementSize: Merkle.hashCount) {
            (r: inout WireReader) throws(WireError) in try r.readFixedBytes(count: Merkle.hashCount)
        }
    }
}

public enum PartSet {
    /// The largest part a decoder accepts.
    public static let maxPartSize = 1 << 20
    /// CometBFT's `BlockPartSizeBytes`.
    public static let defaultPartSize = 64 << 10

    /// Splits `bytes` into parts of `partSize` (the last may be shorter; an empty value is one
    /// empty part).
    public static func split(_ bytes: [UInt8], partSize: Int = defaultPartSize) -> (PartSetHeader, [BlockPart]) {
        precondition(partSize > 0 && partSize <= maxPartSize)
        var chunks: [[UInt8]] = []
        var i = 0
        repeat {
            let end = min(bytes.count, i + partSize)
            chunks.append(Array(bytes[i..<end]))
            i = end
        } while i < bytes.count
        let leaves = chunks.map { Merkle.leafHash($0) }
        let root = Merkle.rootOfLeafHashes(leaves)
        let parts = chunks.enumerated().map { n, chunk in
            BlockPart(index: UInt32(n), bytes: chunk, proof: Merkle.proof(leaves, index: n))
        }
        return (PartSetHeader(total: UInt32(chunks.count), root: root), parts)
    }
}

/// Collects the parts of one announced part set, checking each against the header.
public struct PartSetAssembler: Sendable {
    public enum Outcome: Hashable, Sendable {
        case added(have: Int, of: Int)
        /// Every part is here: the whole value.
        case complete([UInt8])
        case duplicate
        case invalid(String)
    }

    public let header: PartSetHeader
    public let partSize: Int
    public let maxBytes: Int
    private var parts: [UInt32: [UInt8]] = [:]
    private var done = false

    /// `header` as announced; `partSize` and `maxBytes` are the receiver's own limits (a header
    /// promising more than `maxBytes` is refused by `accepts`).
    public init(header: PartSetHeader, partSize: Int, maxBytes: Int) {
        self.header = header
        self.partSize = partSize
        self.maxBytes = maxBytes
    }

    /// Whether a header is within the receiver's limits.
    public static func accepts(_ header: PartSetHeader, partSize: Int, maxBytes: Int) -> Bool {
        UInt64(header.total) <= UInt64(maxBytes / partSize + 1)
    }

    public var received: Int { parts.count }
    public var isComplete: Bool { done }

    public mutating func add(_ part: BlockPart) -> Outcome {
        guard !done else { return .duplicate }
        guard part.index < header.total else { return .invalid("part \(part.index) of \(header.total)") }
        guard parts[part.index] == nil else { return .duplicate }
        guard part.bytes.count <= partSize else { return .invalid("part of \(part.bytes.count) bytes > \(partSize)") }
        // All parts but the last are full: the split is canonical, so a part set names one value.
        if part.index + 1 < header.total, part.bytes.count != partSize {
            return .invalid("part \(part.index) of \(part.bytes.count) bytes is not full")
        }
        guard
            Merkle.verify(
                leafHash: Merkle.leafHash(part.bytes), index: Int(part.index), count: Int(header.total),
                path: part.proof, root: header.root)
        else { return .invalid("part \(part.index) does not prove against the root") }
        parts[part.index] = part.bytes
        guard parts.count == Int(header.total) else { return .added(have: parts.count, of: Int(header.total)) }
        var out: [UInt8] = []
        for i in 0..<header.total { out += parts[i] ?? [] }
        guard out.count <= maxBytes else { return .invalid("value of \(out.count) bytes > \(maxBytes)") }
        done = true
        parts = [:]
        return .complete(out)
    }
}
