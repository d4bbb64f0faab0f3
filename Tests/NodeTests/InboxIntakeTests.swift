import ConsensusManagerCore
import Testing
import Wire

/// A request of chain `chain` with counter `n`; `params` tells bodies apart.
func inboxRecord(chain: UInt64 = 1337, n: UInt8, params: [UInt8] = [1], block: UInt64 = 10) -> InboxRequestRecord {
    var id = [UInt8](repeating: 0, count: 32)
    for i in 0..<8 { id[15 - i] = UInt8(truncatingIfNeeded: chain >> (8 * UInt64(i))) }
    id[31] = n
    var target = [UInt8](repeating: 0, count: 32)
    target[31] = 7
    return InboxRequestRecord(
        requestID: id, sender: try! Address(bytes: [UInt8](repeating: 0xaa, count: 20)), requestingChainID: chain,
        containerURL: "docker://vn/echo:1", params: params, sourceURLs: ["https://example.org"], targetChainID: target,
        fee: [UInt8](repeating: 0, count: 32), confirmations: 2, chainID: chain, blockNumber: block,
        blockHash: [UInt8](repeating: UInt8(truncatingIfNeeded: block), count: 32),
        transactionHash: [UInt8](repeating: n, count: 32), logIndex: 0)
}

@Suite("InboxIntake")
struct InboxIntakeTests {
    @Test("new requests are stored then acknowledged; a commit makes them known")
    func acceptsNew() {
        var intake = InboxIntake(capacity: 10)
        let batch = [inboxRecord(n: 1), inboxRecord(n: 2), inboxRecord(chain: 5, n: 1)]
        let plan = intake.plan(batch)
        #expect(plan.store == batch)
        #expect(plan.ack.accepted == batch.map(\.key))
        #expect(plan.ack.refused.isEmpty && !plan.exhausted)
        #expect(intake.count == 0, "planning changes nothing")
        intake.commit(plan)
        #expect(intake.count == 3 && intake.pendingCount == 3)
        #expect(intake.counters.accepted == 3)
        // By chain, then id.
        #expect(
            intake.sorted.map(\.key) == [inboxRecord(chain: 5, n: 1).key, inboxRecord(n: 1).key, inboxRecord(n: 2).key])
    }

    @Test("the same request again is acknowledged again, stored once, counted as a duplicate")
    func duplicates() {
        var intake = InboxIntake(capacity: 10)
        intake.commit(intake.plan([inboxRecord(n: 1)]))
        // Re-mined unchanged in another block after a reorg: still the same request.
        let again = intake.plan([inboxRecord(n: 1), inboxRecord(n: 1, block: 11)])
        #expect(again.store.isEmpty)
        #expect(again.ack.accepted == [inboxRecord(n: 1).key, inboxRecord(n: 1).key])
        intake.commit(again)
        #expect(intake.count == 1 && intake.counters.duplicates == 2 && intake.counters.accepted == 1)
        #expect(intake.request(inboxRecord(n: 1).key)?.blockNumber == 10, "the first copy stays")
        // Twice in one batch: stored once.
        let twice = intake.plan([inboxRecord(n: 2), inboxRecord(n: 2)])
        #expect(twice.store == [inboxRecord(n: 2)] && twice.duplicates == 1)
    }

    @Test("another body under a known id is refused with the differing fields and counted")
    func conflicts() throws {
        var intake = InboxIntake(capacity: 10)
        intake.commit(intake.plan([inboxRecord(n: 1, params: [1])]))
        let plan = intake.plan([inboxRecord(n: 1, params: [2]), inboxRecord(n: 2)])
        #expect(plan.store == [inboxRecord(n: 2)])
        #expect(plan.ack.accepted == [inboxRecord(n: 2).key])
        let refusal = try #require(plan.ack.refused.first)
        #expect(refusal.key == inboxRecord(n: 1).key)
        #expect(refusal.reason.contains("already known with another body") && refusal.reason.contains("params"))
        intake.commit(plan)
        #expect(intake.counters.conflicts == 1)
        #expect(intake.request(inboxRecord(n: 1).key)?.params == [1], "the first body stays")
        // Also within one batch.
        let inBatch = intake.plan([inboxRecord(n: 3, params: [1]), inboxRecord(n: 3, params: [9])])
        #expect(inBatch.store == [inboxRecord(n: 3, params: [1])] && inBatch.ack.refused.count == 1)
    }

    @Test("a full pool takes what fits, leaves the rest unanswered, and is exhausted when nothing fits")
    func backpressure() {
        var intake = InboxIntake(capacity: 3)
        let first = intake.plan([
            inboxRecord(n: 1), inboxRecord(n: 2), inboxRecord(n: 3), inboxRecord(n: 4), inboxRecord(n: 5),
        ])
        #expect(first.store.map(\.key) == [1, 2, 3].map { inboxRecord(n: $0).key })
        #expect(first.ack.accepted.count == 3 && first.deferred == 2 && !first.exhausted)
        intake.commit(first)
        let full = intake.plan([inboxRecord(n: 4)])
        #expect(full.exhausted && full.ack.accepted.isEmpty && full.store.isEmpty)
        // Known requests are still acknowledged when full: they take no room.
        let known = intake.plan([inboxRecord(n: 1)])
        #expect(!known.exhausted && known.ack.accepted == [inboxRecord(n: 1).key])
        // Taken by consensus: room again, and the taken ones stay known.
        intake.taken([inboxRecord(n: 1).key, inboxRecord(n: 2).key])
        let after = intake.plan([inboxRecord(n: 4), inboxRecord(n: 1, params: [9])])
        #expect(after.store == [inboxRecord(n: 4)] && after.ack.refused.count == 1)
        intake.commit(full)
        #expect(intake.counters.deferred == 3)
    }

    @Test("restore brings stored requests back, so a restart still deduplicates and refuses conflicts")
    func restore() {
        var before = InboxIntake(capacity: 10)
        before.commit(before.plan([inboxRecord(n: 1), inboxRecord(n: 2)]))
        var after = InboxIntake(capacity: 10)
        after.restore(before.sorted)
        #expect(after.count == 2 && after.counters.accepted == 2)
        let plan = after.plan([inboxRecord(n: 1), inboxRecord(n: 2, params: [5]), inboxRecord(n: 3)])
        #expect(plan.store == [inboxRecord(n: 3)] && plan.duplicates == 1 && plan.ack.refused.count == 1)
    }

    @Test("keys order by chain, then by id as a number")
    func keyOrder() {
        let keys = [inboxRecord(chain: 9, n: 1), inboxRecord(chain: 2, n: 200), inboxRecord(chain: 2, n: 3)].map(\.key)
        #expect(
            keys.sorted() == [
                inboxRecord(chain: 2, n: 3).key, inboxRecord(chain: 2, n: 200).key, inboxRecord(chain: 9, n: 1).key,
            ])
    }
}
