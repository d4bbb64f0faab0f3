import Wire

/// The consensus-manager's intake of inbox requests (issue 6), pure: batches from the local
/// inbox-listener go in, a plan comes out; the shell stores the plan's new records durably and
/// only then commits it and answers.
///
/// Rules:
/// - Idempotent by `(chainID, requestID)`: a request already known with the same body (every
///   field but where it was read, `InboxRequestRecord.sameRequest`) is acknowledged again and
///   counted as a duplicate (the listener delivers at least once).
/// - A different body under a known id is refused with the reason and counted as a conflict:
///   the first body stays (the listener only forwards confirmed requests, so a second body
///   means a reorg deeper than the confirmations asked for, or a faulty listener).
/// - The pending pool (accepted, not yet taken by the consensus) holds at most `capacity`
///   requests. New requests that do not fit are left out of the answer (the listener sends them
///   again); when none of a batch's new requests fits, the shell answers `resourceExhausted`.
public struct InboxIntake: Sendable {
    public struct Counters: Hashable, Sendable {
        /// Requests accepted for the first time (since start, plus those restored).
        public var accepted: UInt64 = 0
        /// Known requests sent again with the same body.
        public var duplicates: UInt64 = 0
        /// Known ids sent again with another body (refused).
        public var conflicts: UInt64 = 0
        /// New requests left out because the pool was full.
        public var deferred: UInt64 = 0
    }

    /// What one batch would do.
    public struct Plan: Sendable, Equatable {
        /// New requests: store these durably, then `commit`.
        public var store: [InboxRequestRecord]
        /// The answer once stored.
        public var ack: SubmitInboxRequestsAck
        /// Known with the same body.
        public var duplicates: Int
        /// New requests that did not fit.
        public var deferred: Int
        /// True when the batch had new requests and none of them fit: answer `resourceExhausted`.
        public var exhausted: Bool
    }

    public let capacity: Int
    private var requests: [InboxRequestKey: InboxRequestRecord] = [:]
    private var pendingKeys: Set<InboxRequestKey> = []
    public private(set) var counters = Counters()

    public init(capacity: Int) {
        precondition(capacity >= 1, "the pool holds at least one request")
        self.capacity = capacity
    }

    /// After a restart: the stored requests come back (pending, as nothing takes them yet).
    public mutating func restore(_ records: [InboxRequestRecord]) {
        for record in records where requests.updateValue(record, forKey: record.key) == nil {
            pendingKeys.insert(record.key)
            counters.accepted += 1
        }
    }

    public var count: Int { requests.count }
    public var pendingCount: Int { pendingKeys.count }

    public func request(_ key: InboxRequestKey) -> InboxRequestRecord? { requests[key] }

    /// Every accepted request, by chain then id.
    public var sorted: [InboxRequestRecord] { requests.keys.sorted().map { requests[$0]! } }

    /// Decides a batch without changing anything.
    public func plan(_ batch: [InboxRequestRecord]) -> Plan {
        var store: [InboxRequestRecord] = []
        var accepted: [InboxRequestKey] = []
        var refused: [InboxRequestRefusal] = []
        var duplicates = 0
        var deferred = 0
        var inBatch: [InboxRequestKey: InboxRequestRecord] = [:]
        var free = capacity - pendingKeys.count
        for record in batch {
            let key = record.key
            let known = requests[key] ?? inBatch[key]
            if let known {
                if known.sameRequest(as: record) {
                    duplicates += 1
                    accepted.append(key)
                } else {
                    refused.append(
                        InboxRequestRefusal(
                            key: key,
                            reason: "request \(key) is already known with another body "
                                + "(\(Self.differences(known, record).joined(separator: ", ")) differ)"))
                }
                continue
            }
            guard free > 0 else {
                deferred += 1
                continue
            }
            free -= 1
            inBatch[key] = record
            store.append(record)
            accepted.append(key)
        }
        return Plan(
            store: store, ack: SubmitInboxRequestsAck(accepted: accepted, refused: refused), duplicates: duplicates,
            deferred: deferred, exhausted: deferred > 0 && store.isEmpty)
    }

    /// Applies a plan once its records are stored.
    public mutating func commit(_ plan: Plan) {
        for record in plan.store where requests.updateValue(record, forKey: record.key) == nil {
            pendingKeys.insert(record.key)
            counters.accepted += 1
        }
        counters.duplicates += UInt64(plan.duplicates)
        counters.conflicts += UInt64(plan.ack.refused.count)
        counters.deferred += UInt64(plan.deferred)
    }

    /// The consensus took these requests: they leave the pending pool (they stay known, so a
    /// late duplicate is still acknowledged and a conflicting body still refused).
    public mutating func taken(_ keys: [InboxRequestKey]) {
        for key in keys { pendingKeys.remove(key) }
    }

    /// The names of the fields in which two bodies under one id differ.
    static func differences(_ a: InboxRequestRecord, _ b: InboxRequestRecord) -> [String] {
        var fields: [String] = []
        if a.sender != b.sender { fields.append("sender") }
        if a.containerURL != b.containerURL { fields.append("containerURL") }
        if a.params != b.params { fields.append("params") }
        if a.sourceURLs != b.sourceURLs { fields.append("sourceURLs") }
        if a.targetChainID != b.targetChainID { fields.append("targetChainId") }
        if a.fee != b.fee { fields.append("fee") }
        if a.confirmations != b.confirmations { fields.append("confirmations") }
        if a.requestingChainID != b.requestingChainID { fields.append("requestingChainId") }
        return fields
    }
}
