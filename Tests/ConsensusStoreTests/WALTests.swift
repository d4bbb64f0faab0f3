import CryptoPrimitives
import LevelDB
import Testing
import Wire

@testable import ConsensusStore
@testable import Tendermint

@Suite("ConsensusStore: WAL")
struct WALTests {
    /// A proposal, a prevote and a locking precommit of validator 1 at height 1, round 0.
    let three: [SignedMessage] = [
        .proposal(proposal(0, A, from: 1)),
        .vote(prevote(0, A, from: 1)),
        .vote(precommit(0, A, from: 1), value: A),
    ]

    func written(_ messages: [SignedMessage]) throws -> TempDB {
        let tmp = TempDB()
        let (db, store, replay) = try tmp.open()
        defer { db.close() }
        #expect(replay == WALReplay(height: nil, records: [], droppedTail: nil, lastSigned: nil))
        for m in messages { try store.appendSigned(m) }
        return tmp
    }

    @Test("the record format: version ‖ kind ‖ length ‖ payload ‖ first 8 bytes of SHA-256 of the rest")
    func recordFormat() throws {
        let record = WALRecord.endHeight(height: 7, round: 2, valueID: A.id)
        var expected: [UInt8] = [1, 2, 0, 0, 0, 48]
        expected += [0, 0, 0, 0, 0, 0, 0, 7] + [0, 0, 0, 0, 0, 0, 0, 2] + A.id.bytes
        expected += SHA256.hash(expected).prefix(8)
        #expect(record.encoded() == expected)
        #expect(WALRecord.decode(expected, height: 7) == .success(record))
        #expect(
            WALRecord.decode(expected, height: 8)
                == .failure(.undecodable("record of height 7 under a key of height 8")))
        #expect(WALRecord.key(height: 7, sequence: 3) == Array("wal/".utf8) + [0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 3])
        for m in three {
            #expect(WALRecord.decode(WALRecord.signed(m).encoded(), height: 1) == .success(.signed(m)))
        }
    }

    @Test("append and replay: the records of the open height come back in order, with the guard")
    func roundTrip() throws {
        let tmp = try written(three)
        let (db, _, replay) = try tmp.open()
        defer { db.close() }
        #expect(replay.height == 1)
        #expect(replay.records == three)
        #expect(replay.droppedTail == nil)
        #expect(replay.lastSigned == SignedStep(three[2]))
        #expect(try walEntries(db).map(\.sequence) == [0, 1, 2])
    }

    @Test("a truncated last record is dropped and deleted; the earlier records are intact")
    func truncatedTail() throws {
        for cut in [1, 9, 20, 100] {
            let tmp = try written(three)
            try tmp.raw { db in
                let last = try walEntries(db).last!
                let key = WALRecord.key(height: last.height, sequence: last.sequence)
                try db.put(key, Array(last.value.prefix(max(0, last.value.count - cut))))
            }
            let (db, store, replay) = try tmp.open()
            #expect(replay.records == Array(three.prefix(2)), "cut \(cut)")
            guard case .truncated? = replay.droppedTail?.defect else {
                Issue.record("cut \(cut): expected a truncated tail, got \(String(describing: replay.droppedTail))")
                db.close()
                continue
            }
            #expect(replay.droppedTail?.sequence == 2)
            // The guard was written in the same batch as the lost record: it still knows the
            // precommit, so a conflicting one is refused, and the same one may be written again.
            #expect(replay.lastSigned == SignedStep(three[2]))
            #expect(
                isDoubleSignRefusal(
                    #expect(throws: ConsensusStoreError.self) {
                        try store.appendSigned(.vote(precommit(0, nil, from: 1)))
                    }))
            try store.appendSigned(three[2])
            db.close()

            let (db2, _, again) = try tmp.open()
            #expect(again.droppedTail == nil, "the damaged record was deleted at the first open")
            #expect(again.records == three)
            db2.close()
        }
    }

    @Test("a last record with a bad checksum is dropped; everything before it is kept")
    func badChecksumTail() throws {
        // Flip a payload byte, then a checksum byte.
        for position in [10, -1] {
            let tmp = try written(three)
            try tmp.raw { db in
                let last = try walEntries(db).last!
                var bytes = last.value
                bytes[position >= 0 ? position : bytes.count + position] ^= 0x01
                try db.put(WALRecord.key(height: last.height, sequence: last.sequence), bytes)
            }
            let (db, _, replay) = try tmp.open()
            defer { db.close() }
            #expect(replay.records == Array(three.prefix(2)))
            #expect(replay.droppedTail == WALDamage(height: 1, sequence: 2, defect: .checksumMismatch))
            #expect(try walEntries(db).count == 2)
        }
    }

    @Test("a damaged record before the last one is corruption, never skipped")
    func badRecordInTheMiddle() throws {
        let damages: [([UInt8]) -> [UInt8]] = [
            {
                var b = $0; b[12] ^= 0x80; return b
            },  // bad checksum
            { Array($0.prefix(5)) },  // truncated
            {
                var b = $0; b[0] = 9; return b
            },  // unknown version
        ]
        for (i, damage) in damages.enumerated() {
            let tmp = try written(three)
            try tmp.raw { db in
                let first = try walEntries(db)[1]
                try db.put(WALRecord.key(height: 1, sequence: first.sequence), damage(first.value))
            }
            do {
                let (db, _, replay) = try tmp.open()
                db.close()
                Issue.record("damage \(i): opened with \(replay)")
            } catch let error as ConsensusStoreError {
                guard case .corruption(let key, _) = error else {
                    Issue.record("damage \(i): \(error)")
                    continue
                }
                #expect(key == "wal/1/1")
            }
            // Nothing was deleted: the operator gets the data as it was.
            try tmp.raw { db in
                let count = try walEntries(db).count
                #expect(count == 3)
            }
        }
    }

    @Test("the guard refuses a conflicting or lower step and permits re-sends and higher steps")
    func guardTable() {
        let last = SignedStep(.vote(prevote(1, A, from: 1)))
        let persisted: Set = [SignedStep(.proposal(proposal(1, A, from: 1))), last]
        let rows: [(SignedMessage, GuardVerdict)] = [
            (.vote(prevote(1, A, from: 1)), .resend),
            (.proposal(proposal(1, A, from: 1)), .resend),
            (
                .vote(prevote(1, B, from: 1)),
                .conflict(last: last, candidate: SignedStep(.vote(prevote(1, B, from: 1))))
            ),
            (
                .vote(prevote(1, nil, from: 1)),
                .conflict(last: last, candidate: SignedStep(.vote(prevote(1, nil, from: 1))))
            ),
            (
                .proposal(proposal(1, B, from: 1)),
                .regression(last: last, candidate: SignedStep(.proposal(proposal(1, B, from: 1))))
            ),
            (
                .vote(precommit(0, A, from: 1)),
                .regression(last: last, candidate: SignedStep(.vote(precommit(0, A, from: 1))))
            ),
            (.vote(precommit(1, nil, from: 1)), .permitted),
            (.vote(prevote(2, B, from: 1)), .permitted),
            (.vote(prevote(0, A, from: 1, h: 2)), .permitted),
        ]
        for (message, expected) in rows {
            #expect(
                LastSignedGuard.check(SignedStep(message), last: last, persisted: persisted) == expected, "\(message)")
        }
        // A proposal with the same value but another validRound has other sign bytes.
        let p = proposal(2, A, vr: 1, from: 1)
        let q = proposal(2, A, vr: 0, from: 1)
        #expect(
            !LastSignedGuard.check(SignedStep(.proposal(q)), last: SignedStep(.proposal(p)), persisted: []).isPermitted)
        #expect(LastSignedGuard.check(SignedStep(.proposal(p)), last: nil, persisted: []) == .permitted)
    }

    @Test("appendSigned refuses a conflicting message and writes nothing")
    func appendRefused() throws {
        let tmp = try written(three)
        let (db, store, _) = try tmp.open()
        defer { db.close() }
        let conflicting = SignedMessage.vote(precommit(0, B, from: 1), value: B)
        #expect(throws: ConsensusStoreError.doubleSignRefused(store.verdict(for: conflicting))) {
            try store.appendSigned(conflicting)
        }
        #expect(
            isDoubleSignRefusal(
                #expect(throws: ConsensusStoreError.self) { try store.appendSigned(.vote(prevote(0, nil, from: 1))) }))
        try store.appendSigned(three[1])  // already in the WAL: a no-op
        #expect(try walEntries(db).count == 3)
        #expect(store.lastSigned == SignedStep(three[2]))
    }
}
