import ConsensusManagerCore
import LevelDB
import Logging
import NodeKit
import RPC
import Synchronization
import Wire

/// The shell of `InboxIntake`: requests accepted from the local inbox-listener are written to the
/// consensus store (`<home>/data/consensus`, one key per request, one synced batch per call)
/// before they are acknowledged, and read back at start, so a restart or a `kill -9` keeps them.
final class InboxIntakeStore: Sendable {
    /// Key layout: `inbox/req/` ‖ chain id (8 bytes, big-endian) ‖ request id (32 bytes): the
    /// store's order is the `/inbox/requests` order.
    static let prefix = Array("inbox/req/".utf8)
    /// Accepted requests not yet taken by consensus, at most (the pool's backpressure bound).
    static let capacity = 100_000

    private let store: LevelDBStore
    private let intake: Mutex<InboxIntake>
    private let logger: Logger

    init(store: LevelDBStore, logger: Logger, capacity: Int = InboxIntakeStore.capacity) throws {
        self.store = store
        self.logger = logger
        var records: [InboxRequestRecord] = []
        try store.forEach(prefix: Self.prefix) { key, value in
            do {
                records.append(try InboxRequestRecord.decode(value))
            } catch {
                // A record this version cannot read is reported, never silently dropped.
                throw StoreError.unreadable(key: Hex.encode(key), reason: "\(error)")
            }
            return true
        }
        var intake = InboxIntake(capacity: capacity)
        intake.restore(records)
        self.intake = Mutex(intake)
        if !records.isEmpty { logger.info("inbox requests restored", metadata: ["count": "\(records.count)"]) }
    }

    enum StoreError: Error, CustomStringConvertible {
        case unreadable(key: String, reason: String)
        var description: String {
            switch self {
            case .unreadable(let key, let reason): "stored inbox request \(key) is unreadable: \(reason)"
            }
        }
    }

    static func key(_ k: InboxRequestKey) -> [UInt8] {
        var out = prefix
        for i in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: k.chainID >> (8 * UInt64(i)))) }
        return out + k.requestID
    }

    /// Decides, stores and commits one batch (under the lock, so two batches never interleave
    /// between the decision and the write).
    func submit(_ batch: SubmitInboxRequests) throws(RPCError) -> SubmitInboxRequestsAck {
        let outcome: Result<InboxIntake.Plan, RPCError> = intake.withLock { intake in
            let plan = intake.plan(batch.requests)
            if !plan.store.isEmpty {
                var writes = WriteBatch()
                for record in plan.store { writes.put(Self.key(record.key), record.encoded()) }
                do {
                    try store.write(writes, sync: true)
                } catch {
                    return .failure(RPCError(.unavailable, "cannot store inbox requests: \(error)"))
                }
            }
            intake.commit(plan)
            return .success(plan)
        }
        let plan = try outcome.get()
        for refusal in plan.ack.refused {
            logger.error(
                "inbox request refused", metadata: ["request": "\(refusal.key)", "reason": "\(refusal.reason)"])
        }
        if plan.exhausted {
            throw RPCError(
                .resourceExhausted, "the inbox request pool is full (\(intake.withLock { $0.capacity }) pending)")
        }
        return plan.ack
    }

    var counters: InboxIntake.Counters { intake.withLock { $0.counters } }

    /// What a batch would do now, without doing it (for tests and diagnostics).
    func plan(after batch: [InboxRequestRecord]) -> InboxIntake.Plan { intake.withLock { $0.plan(batch) } }

    /// `/status`'s `"inbox"` object.
    var statusJSON: JSONValue {
        let (c, count, pending) = intake.withLock { ($0.counters, $0.count, $0.pendingCount) }
        return .object([
            "accepted": .uint(UInt64(count)), "duplicates": .uint(c.duplicates), "conflicts": .uint(c.conflicts),
            "pending": .uint(UInt64(pending)), "deferred": .uint(c.deferred),
        ])
    }

    /// `GET /inbox/requests`: every accepted request, by chain then id.
    var requestsJSON: JSONValue {
        let records = intake.withLock { $0.sorted }
        return .object([
            "count": .uint(UInt64(records.count)),
            "requests": .array(records.map(Self.json)),
        ])
    }

    static func json(_ r: InboxRequestRecord) -> JSONValue {
        func hex(_ b: [UInt8]) -> JSONValue { .string("0x" + Hex.encode(b)) }
        return .object([
            "chainId": .uint(r.chainID),
            "id": hex(r.requestID),
            "blockNumber": .uint(r.blockNumber),
            "blockHash": hex(r.blockHash),
            "txHash": hex(r.transactionHash),
            "logIndex": .uint(r.logIndex),
            "sender": .string(checksummedAddress(r.sender)),
            "requestingChainId": .uint(r.requestingChainID),
            "containerURL": .string(r.containerURL),
            "params": hex(r.params),
            "sourceURLs": .array(r.sourceURLs.map { .string($0) }),
            "targetChainId": .string(decimal(r.targetChainID)),
            "fee": .string(decimal(r.fee)),
            "confirmations": .uint(r.confirmations),
        ])
    }

    /// A 256-bit big-endian integer in decimal (exact; JSON numbers that wide lose precision in
    /// most readers, so it travels as a string).
    static func decimal(_ bytes: [UInt8]) -> String {
        var limbs = bytes.map { UInt32($0) }
        var digits: [UInt8] = []
        while limbs.contains(where: { $0 != 0 }) {
            var remainder: UInt32 = 0
            for i in limbs.indices {
                let v = remainder << 8 | limbs[i]
                limbs[i] = v / 10
                remainder = v % 10
            }
            digits.append(UInt8(ascii: "0") + UInt8(remainder))
        }
        return digits.isEmpty ? "0" : String(decoding: digits.reversed(), as: UTF8.self)
    }
}
