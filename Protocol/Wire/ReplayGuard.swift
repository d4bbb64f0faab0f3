/// Replay protection for envelopes: per `(sender, session)` the sequence number must be strictly
/// greater than the last one accepted (gaps are allowed; duplicates and older numbers are not).
///
/// Memory is bounded by `capacity` streams. When full, the least recently *accepted* stream is
/// forgotten (counted in `counters.evicted`); a forgotten stream would accept its old sequence
/// numbers again, so hosts must also reject sessions that are no longer current
/// (`EnvelopeCheck`'s session policy) and size `capacity` above the number of live sessions ×
/// validators. Pure: no clock, no I/O; every operation is O(1) amortized.
public struct ReplayGuard: Sendable {
    public struct Key: Hashable, Sendable {
        public let sender: Address
        public let session: [UInt8]

        public init(sender: Address, session: [UInt8]) {
            self.sender = sender
            self.session = session
        }
    }

    public enum Verdict: Equatable, Sendable {
        case accept
        /// `sequence` is not above `lastAccepted`.
        case replay(lastAccepted: UInt64)
    }

    public struct Counters: Equatable, Sendable {
        public var accepted: UInt64 = 0
        /// Dropped because the sequence was not above the last accepted one.
        public var replayed: UInt64 = 0
        /// Streams forgotten to stay within `capacity`.
        public var evicted: UInt64 = 0

        public init(accepted: UInt64 = 0, replayed: UInt64 = 0, evicted: UInt64 = 0) {
            self.accepted = accepted
            self.replayed = replayed
            self.evicted = evicted
        }
    }

    private struct Entry {
        var lastSequence: UInt64
        /// Logical time of the last acceptance (the LRU order).
        var stamp: UInt64
    }

    public let capacity: Int
    public private(set) var counters = Counters()
    private var entries: [Key: Entry] = [:]
    /// Acceptance log, oldest first; an item is stale when its stamp differs from the entry's.
    private var order: [(key: Key, stamp: UInt64)] = []
    private var orderHead = 0
    private var clock: UInt64 = 0

    public init(capacity: Int = 4096) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Streams currently remembered.
    public var count: Int { entries.count }

    /// The last sequence accepted for the stream, if it is remembered.
    public func lastAccepted(sender: Address, session: [UInt8]) -> UInt64? {
        entries[Key(sender: sender, session: session)]?.lastSequence
    }

    /// What `admit` would answer, without recording anything.
    public func check(sender: Address, session: [UInt8], sequence: UInt64) -> Verdict {
        if let entry = entries[Key(sender: sender, session: session)], sequence <= entry.lastSequence {
            return .replay(lastAccepted: entry.lastSequence)
        }
        return .accept
    }

    /// Accepts and records `sequence`, or counts a replay.
    public mutating func admit(sender: Address, session: [UInt8], sequence: UInt64) -> Verdict {
        let key = Key(sender: sender, session: session)
        clock &+= 1
        if var entry = entries[key] {
            guard sequence > entry.lastSequence else {
                counters.replayed &+= 1
                return .replay(lastAccepted: entry.lastSequence)
            }
            entry.lastSequence = sequence
            entry.stamp = clock
            entries[key] = entry
        } else {
            if entries.count >= capacity { evictOldest() }
            entries[key] = Entry(lastSequence: sequence, stamp: clock)
        }
        order.append((key, clock))
        counters.accepted &+= 1
        compactIfNeeded()
        return .accept
    }

    /// Forgets every stream of `session` (e.g. once the session is closed and its messages are
    /// refused by the session policy anyway). O(n).
    public mutating func forget(session: [UInt8]) {
        entries = entries.filter { $0.key.session != session }
    }

    private mutating func evictOldest() {
        while orderHead < order.count {
            let item = order[orderHead]
            orderHead += 1
            if let entry = entries[item.key], entry.stamp == item.stamp {
                entries[item.key] = nil
                counters.evicted &+= 1
                return
            }
        }
        // Unreachable while `order` holds every live entry's latest stamp; stay safe regardless.
        if let victim = entries.min(by: { $0.value.stamp < $1.value.stamp }) {
            entries[victim.key] = nil
            counters.evicted &+= 1
        }
    }

    private mutating func compactIfNeeded() {
        let live = order.count - orderHead
        if live > 2 * capacity + 64 {
            order = entries.map { ($0.key, $0.value.stamp) }.sorted { $0.stamp < $1.stamp }
            orderHead = 0
        } else if orderHead > 1024 && orderHead * 2 > order.count {
            order.removeSubrange(0..<orderHead)
            orderHead = 0
        }
    }
}
