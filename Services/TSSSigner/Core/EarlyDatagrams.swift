/// Datagrams that arrive for a session that has not started here yet (a faster peer's first
/// round), kept until it does, and what to forget. Pure: the caller passes the time.
///
/// Bounded three ways, so that nothing stale or hostile can use up the room a live session needs:
/// - a session buffered longer than `maxAgeMs` (the session deadline) will not start here any
///   more: it is dropped when room is needed;
/// - at most `maxSessionsPerPeer` sessions opened by one peer: a peer that sends for sessions
///   that never start (a bug, or an authenticated but hostile validator) evicts its own oldest,
///   not another peer's;
/// - at most `maxSessions` in all (then the oldest goes) and `maxPerSession` datagrams each.
/// Sessions that ended or were cancelled here are remembered (the last `endedMemory` of them) and
/// their late datagrams dropped: a peer's retransmission after our part finished must not take a
/// slot (before this, such leftovers filled the buffer for good and every later session's early
/// datagrams were dropped, to be recovered only by the peer's retransmission).
public struct EarlyDatagrams<Peer: Hashable, Item> {
    public let maxSessions: Int
    public let maxSessionsPerPeer: Int
    public let maxPerSession: Int
    public let maxAgeMs: UInt64
    public let endedMemory: Int

    struct Entry {
        let firstMs: UInt64
        let openedBy: Peer
        var items: [Item]
    }
    var entries: [[UInt8]: Entry] = [:]
    var ended: Set<[UInt8]> = []
    var endedOrder: [[UInt8]] = []

    public init(
        maxSessions: Int = 64, maxSessionsPerPeer: Int = 16, maxPerSession: Int = 512, maxAgeMs: UInt64,
        endedMemory: Int = 1024
    ) {
        self.maxSessions = max(1, maxSessions)
        self.maxSessionsPerPeer = max(1, maxSessionsPerPeer)
        self.maxPerSession = max(1, maxPerSession)
        self.maxAgeMs = maxAgeMs
        self.endedMemory = max(1, endedMemory)
    }

    /// Sessions with datagrams kept.
    public var sessionCount: Int { entries.count }

    /// How many datagrams are kept for `session`.
    public func count(_ session: [UInt8]) -> Int { entries[session]?.items.count ?? 0 }

    /// Keeps `item` from `peer` for `session`; false when it is dropped (the session ended here,
    /// or its buffer is full).
    @discardableResult
    public mutating func keep(_ item: Item, from peer: Peer, session: [UInt8], nowMs: UInt64) -> Bool {
        guard !ended.contains(session) else { return false }
        if entries[session] == nil {
            makeRoom(for: peer, nowMs: nowMs)
            entries[session] = Entry(firstMs: nowMs, openedBy: peer, items: [])
        }
        guard entries[session]!.items.count < maxPerSession else { return false }
        entries[session]!.items.append(item)
        return true
    }

    /// The session starts here: its kept datagrams, in arrival order (and it is no longer
    /// treated as ended, should its id have been seen before).
    public mutating func take(_ session: [UInt8]) -> [Item] {
        ended.remove(session)
        return entries.removeValue(forKey: session)?.items ?? []
    }

    /// The session will not start here (refused): its datagrams go.
    public mutating func drop(_ session: [UInt8]) { entries[session] = nil }

    /// The session ended or was cancelled here: its datagrams go, and later ones are dropped.
    public mutating func markEnded(_ session: [UInt8]) {
        entries[session] = nil
        guard ended.insert(session).inserted else { return }
        endedOrder.append(session)
        if endedOrder.count > endedMemory {
            let excess = endedOrder.count - endedMemory
            for id in endedOrder.prefix(excess) { ended.remove(id) }
            endedOrder.removeFirst(excess)
        }
    }

    /// Everything kept goes (the service stops); what ended is still remembered.
    public mutating func removeAll() { entries = [:] }

    mutating func makeRoom(for peer: Peer, nowMs: UInt64) {
        // Sessions buffered past the deadline will not start here.
        entries = entries.filter { nowMs < $0.value.firstMs || nowMs - $0.value.firstMs < maxAgeMs }
        let own = entries.filter { $0.value.openedBy == peer }
        if own.count >= maxSessionsPerPeer, let oldest = Self.oldest(own) { entries[oldest] = nil }
        if entries.count >= maxSessions, let oldest = Self.oldest(entries) { entries[oldest] = nil }
    }

    /// The entry buffered first (ties: the smaller session id, so the choice is deterministic).
    static func oldest(_ entries: [[UInt8]: Entry]) -> [UInt8]? {
        entries.min { a, b in
            a.value.firstMs != b.value.firstMs
                ? a.value.firstMs < b.value.firstMs : a.key.lexicographicallyPrecedes(b.key)
        }?.key
    }
}
