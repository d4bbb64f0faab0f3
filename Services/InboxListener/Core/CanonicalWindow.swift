import EVM

/// A block as the tracker sees it: number, hash and parent hash (from `eth_getBlockByNumber`).
public struct BlockRef: Hashable, Sendable, CustomStringConvertible {
    public var number: UInt64
    public var hash: Hash32
    public var parentHash: Hash32

    public init(number: UInt64, hash: Hash32, parentHash: Hash32) {
        self.number = number
        self.hash = hash
        self.parentHash = parentHash
    }

    public init(_ block: Block) {
        self.init(number: block.number, hash: block.hash, parentHash: block.parentHash)
    }

    public var description: String { "#\(number) \(hash)" }
}

/// The hashes of the most recent verified blocks: consecutive numbers from `base`, each block
/// linked to the one before it by its parent hash.
struct CanonicalWindow: Hashable, Sendable {
    private(set) var base: UInt64
    private(set) var hashes: [Hash32]

    init(base: UInt64 = 0, hashes: [Hash32] = []) {
        self.base = base
        self.hashes = hashes
    }

    var isEmpty: Bool { hashes.isEmpty }

    /// The highest verified block; nil when empty.
    var tip: UInt64? { hashes.isEmpty ? nil : base + UInt64(hashes.count - 1) }

    var tipHash: Hash32? { hashes.last }

    func hash(at number: UInt64) -> Hash32? {
        guard number >= base, number - base < UInt64(hashes.count) else { return nil }
        return hashes[Int(number - base)]
    }

    /// Appends the block after the tip (or the first block of an empty window). The caller has
    /// checked the parent link.
    mutating func append(_ block: BlockRef) {
        if hashes.isEmpty { base = block.number }
        precondition(block.number == base + UInt64(hashes.count), "non-consecutive block appended")
        hashes.append(block.hash)
    }

    /// Keeps the newest `window` hashes.
    mutating func trim(to window: Int) {
        guard hashes.count > window else { return }
        let drop = hashes.count - window
        hashes.removeFirst(drop)
        base += UInt64(drop)
    }

    /// Forgets every block above `number` (the fork point, which must be in the window).
    mutating func truncate(after number: UInt64) {
        precondition(hash(at: number) != nil, "fork point outside the window")
        hashes.removeLast(hashes.count - Int(number - base + 1))
    }
}
