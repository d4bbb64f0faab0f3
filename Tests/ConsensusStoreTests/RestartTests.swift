import LevelDB
import Testing
import Wire

@testable import ConsensusStore
@testable import Tendermint

@Suite("ConsensusStore: restart, pruning, block store")
struct RestartTests {
    @Test(
        "crash between persisting and sending: the guard refuses a conflicting vote, the restored driver re-sends the same one"
    )
    func crashBetweenSigningAndSending() throws {
        let tmp = TempDB()
        // Validator 2 at height 1 (proposer of round 0 is validator 1, of round 1 validator 2).
        var (db, store, replay) = try tmp.open()
        #expect(replay.height == nil)
        var host = Host(store: store)
        var driver = Driver(config: config(2), height: 1)
        try host.perform(try driver.handle(.newHeight(fourEqual)))
        try host.perform(try driver.handle(.proposal(proposal(0, A, from: 1), valid: true)))
        try host.perform(try driver.handle(.vote(prevote(0, A, from: 1))))
        #expect(host.sent == [.vote(prevote(0, A, from: 2))])
        // The polka (line 36): the driver locks on A and precommits; the process dies after the
        // record is durable and before the precommit leaves.
        let effects = try driver.handle(.vote(prevote(0, A, from: 3)))
        let precommitA = precommit(0, A, from: 2)
        #expect(effects.contains(.persistSigned(.vote(precommitA, value: A))))
        try host.perform(effects, crashBeforeSending: true)
        #expect(host.sent == [.vote(prevote(0, A, from: 2))], "the precommit was never sent")
        db.close()

        // Restart: nothing of the process survives but the database.
        (db, store, replay) = try tmp.open()
        defer { db.close() }
        #expect(replay.height == 1)
        #expect(replay.records == [.vote(prevote(0, A, from: 2)), .vote(precommitA, value: A)])
        #expect(replay.droppedTail == nil)
        #expect(replay.lastSigned == SignedStep(.vote(precommitA)))

        // The guard refuses every conflicting signature for the step and below it.
        for conflicting in [precommit(0, nil, from: 2), precommit(0, B, from: 2), prevote(0, nil, from: 2)] {
            #expect(!store.verdict(for: .vote(conflicting)).isPermitted, "\(conflicting)")
            #expect(
                isDoubleSignRefusal(
                    #expect(throws: ConsensusStoreError.self) { try store.appendSigned(.vote(conflicting)) }))
        }

        // The driver restored from the WAL re-sends the same votes: same sign bytes as before.
        let restoration = Driver.restore(
            config: config(2), height: replay.height!, validators: fourEqual, signed: replay.records)
        var restored = restoration.0
        let resent = restoration.1
        #expect(resent.contains(.broadcastVote(precommitA)))
        #expect(!resent.contains { if case .persistSigned = $0 { true } else { false } }, "no new signature")
        host = Host(store: store)
        try host.perform(resent)
        #expect(host.refused == [])
        #expect(host.sent == [.vote(prevote(0, A, from: 2)), .vote(precommitA)])
        #expect(
            host.sent.last.map { if case .vote(let v, _) = $0 { v.signBytes(chainID: chainID) } else { [] } }
                == precommitA.signBytes(chainID: chainID))
        #expect(restored.roundState.locked == Lock(round: 0, valueID: A.id))

        // It goes on above the guard: round 1, where it proposes the value it is locked on.
        try host.perform(try restored.handle(.timeout(.precommit, height: 1, round: 0)))
        let reproposal = proposal(1, A, vr: 0, from: 2)
        #expect(host.sent.last == .proposal(reproposal))
        #expect(store.lastSigned == SignedStep(.proposal(reproposal)))
        #expect(restored.counters.doubleSignRefused == 0)
    }

    @Test("commit ends the height and prunes the WAL of older heights in the same batch")
    func pruning() throws {
        let tmp = TempDB()
        let (db, store, _) = try tmp.open()
        try store.appendSigned(.vote(prevote(0, A, from: 1, h: 1)))
        try store.appendSigned(.vote(precommit(0, A, from: 1, h: 1), value: A))
        try store.commit(value: A, certificate: certificate(A, h: 1), state: [1])
        #expect(try walEntries(db).map { [$0.height.value, UInt64($0.sequence)] } == [[1, 0], [1, 1], [1, 2]])
        #expect(
            isOutOfOrder(
                #expect(throws: ConsensusStoreError.self) {
                    try store.appendSigned(.vote(prevote(1, A, from: 1, h: 1)))
                }))

        try store.appendSigned(.proposal(proposal(0, B, from: 1, h: 2)))
        try store.appendSigned(.vote(prevote(0, B, from: 1, h: 2)))
        try store.commit(value: B, certificate: certificate(B, h: 2), state: [2])
        #expect(try walEntries(db).map { [$0.height.value, UInt64($0.sequence)] } == [[2, 0], [2, 1], [2, 2]])
        try store.appendSigned(.vote(prevote(0, A, from: 1, h: 3)))
        db.close()

        let (db2, _, replay) = try tmp.open()
        defer { db2.close() }
        #expect(replay.height == 3)
        #expect(replay.records == [.vote(prevote(0, A, from: 1, h: 3))])
        #expect(try walEntries(db2).map(\.height) == [2, 2, 2, 3])
    }

    @Test("a damaged end-of-height marker at the tail is dropped: the block store proves the commit")
    func damagedEndMarker() throws {
        let tmp = TempDB()
        var (db, store, _) = try tmp.open()
        try store.appendSigned(.vote(prevote(0, A, from: 1, h: 1)))
        try store.commit(value: A, certificate: certificate(A, h: 1), state: [])
        let marker = WALRecord.key(height: 1, sequence: 1)
        try db.put(marker, Array(try db.get(marker)!.dropLast()))
        db.close()

        var replay: WALReplay
        (db, store, replay) = try tmp.open()
        #expect(replay.droppedTail == WALDamage(height: 1, sequence: 1, defect: .truncated(have: 61, need: 62)))
        #expect(replay.height == 2)
        #expect(replay.records == [])
        #expect(
            isOutOfOrder(
                #expect(throws: ConsensusStoreError.self) {
                    try store.appendSigned(.vote(prevote(1, A, from: 1, h: 1)))
                }))
        try store.appendSigned(.vote(prevote(0, A, from: 1, h: 2)))
        db.close()
    }

    @Test("a committed height whose WAL has signed records but no end marker is corruption")
    func missingEndMarker() throws {
        let tmp = TempDB()
        let (db, store, _) = try tmp.open()
        try store.appendSigned(.vote(prevote(0, A, from: 1, h: 1)))
        try store.commit(value: A, certificate: certificate(A, h: 1), state: [])
        try db.delete(WALRecord.key(height: 1, sequence: 1))
        db.close()
        #expect(isCorruption(#expect(throws: ConsensusStoreError.self) { _ = try tmp.open() }))
    }

    @Test("block store: blocks, certificates and state round-trip; latestHeight survives a reopen")
    func blockStore() throws {
        let tmp = TempDB()
        var (db, store, _) = try tmp.open()
        #expect(store.latestHeight == nil)
        #expect(try store.chainState() == nil)
        try store.commit(value: A, certificate: certificate(A, h: 1), state: Array("state 1".utf8))
        try store.commit(value: B, certificate: certificate(B, h: 2, r: 3), state: Array("state 2".utf8))
        #expect(throws: ConsensusStoreError.self) {
            try store.commit(value: A, certificate: certificate(A, h: 4), state: [])
        }
        #expect(throws: ConsensusStoreError.self) {
            try store.commit(value: A, certificate: certificate(B, h: 3), state: [])
        }
        db.close()

        var replay: WALReplay
        (db, store, replay) = try tmp.open()
        defer { db.close() }
        #expect(store.latestHeight == 2)
        #expect(replay.height == 3)
        #expect(replay.records == [])
        #expect(try store.block(at: 1) == StoredBlock(height: 1, value: A, certificate: certificate(A, h: 1)))
        #expect(try store.block(at: 2) == StoredBlock(height: 2, value: B, certificate: certificate(B, h: 2, r: 3)))
        #expect(try store.block(at: 3) == nil)
        #expect(try store.chainState() == ChainState(height: 2, bytes: Array("state 2".utf8)))
        try store.commit(value: A, certificate: certificate(A, h: 3), state: [])
        #expect(store.latestHeight == 3)
    }

    @Test("a block whose certificate names another value is refused; a stored mismatch is corruption")
    func blockChecks() throws {
        let tmp = TempDB()
        let (db, store, _) = try tmp.open()
        defer { db.close() }
        #expect(throws: ConsensusStoreError.invalidBlock("certificate for \(B.id), block \(A.id)")) {
            try store.commit(value: A, certificate: certificate(B, h: 1), state: [])
        }
        try store.commit(value: A, certificate: certificate(A, h: 1), state: [])
        try db.put(BlockRecords.blockKey(1), BlockRecords.encode(B))
        #expect(throws: ConsensusStoreError.self) { try store.block(at: 1) }
    }

    @Test("the store shares its database: other key prefixes are left alone")
    func sharedDatabase() throws {
        let tmp = TempDB()
        try tmp.raw { db in try db.put(Array("inbox/req/x".utf8), [7]) }
        let (db, store, _) = try tmp.open()
        defer { db.close() }
        try store.appendSigned(.vote(prevote(0, A, from: 1, h: 1)))
        try store.commit(value: A, certificate: certificate(A, h: 1), state: [])
        try store.appendSigned(.vote(prevote(0, A, from: 1, h: 2)))
        try store.commit(value: A, certificate: certificate(A, h: 2), state: [])
        #expect(try db.get(Array("inbox/req/x".utf8)) == [7])
    }
}
