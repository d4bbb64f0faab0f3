import CryptoPrimitives
import Foundation
import LevelDB
import Testing
import Wire

@testable import TSSCore
@testable import TSSStore

@Suite("KeyStore")
struct KeyStoreTests {
    @Test func sealOpenRoundTripAcrossReopen() throws {
        let dir = TempDir()
        let share = Shares.all[0]
        do {
            let (db, store) = try openStore(dir.path)
            defer { db.close() }
            try store.createPending(recordID("k1"), threshold: 1, parties: [0, 1], me: 0)
            let header = try store.markReady(recordID("k1"), share: share)
            #expect(header.status == .ready)
            #expect(header.groupPublicKey == share.groupPublicKey.compressed)
            #expect(header.address == share.groupPublicKey.ethereumAddressBytes)
        }
        let (db, store) = try openStore(dir.path)
        defer { db.close() }
        let restored = try store.share(recordID("k1"))
        #expect(restored.encode() == share.encode())
        #expect(restored.keyID == share.keyID)
        #expect(store.scryptParameters == testScrypt)
        // Public metadata is readable without the passphrase.
        let headers = try KeyStore.publicHeaders(db).map { try $0.get() }
        #expect(headers.map(\.id) == [recordID("k1")])
        #expect(headers[0].threshold == 1 && headers[0].parties == [0, 1] && headers[0].n == 2)
        #expect(headers[0].addressHex == "0x" + Hex.encode(share.groupPublicKey.ethereumAddressBytes))
        #expect(headers[0].createdMs == 1_700_000_000_000)
    }

    @Test func defaultScryptParametersOpen() throws {
        let dir = TempDir()
        let db = try LevelDBStore(path: dir.path)
        defer { db.close() }
        let store = try KeyStore.open(db: db, passphrase: passA)
        #expect(store.scryptParameters == ScryptParameters.default)
        #expect(store.scryptParameters.n == 1 << 15 && store.scryptParameters.r == 8 && store.scryptParameters.p == 1)
        #expect(throws: KeyStoreError.self) { try KeyStore.open(db: db, passphrase: passB) }
    }

    /// A wrong passphrase fails at once with a clear error and changes no stored byte: the table
    /// files are byte-identical and the database holds exactly the same keys and values. (LevelDB
    /// itself rewrites its own bookkeeping files — LOG, MANIFEST, the empty write-ahead log —
    /// on every open, whatever the passphrase; those are compared by content where meaningful.)
    @Test func wrongPassphraseFailsAndWritesNothing() throws {
        let dir = TempDir()
        do {
            let (db, store) = try openStore(dir.path)
            try store.markReady(recordID("k1"), share: Shares.all[0])
            let pool = try PreParamsPool(store: store, target: 1)
            try pool.add(storedPreParams(0))
            db.close()
        }
        // Settle: the first reopen moves the write-ahead log into a table file.
        do {
            let (db, _) = try openStore(dir.path)
            db.close()
        }
        let beforeFiles = files(under: dir.path)
        let db1 = try LevelDBStore(path: dir.path)
        let beforeDump = try dump(db1)
        var caught: KeyStoreError?
        do {
            _ = try KeyStore.open(db: db1, passphrase: passB, scrypt: testScrypt)
        } catch {
            caught = error
        }
        let afterDump = try dump(db1)
        db1.close()
        let afterFiles = files(under: dir.path)

        guard case .wrongPassphrase(let message) = caught else {
            Issue.record("expected wrongPassphrase, got \(String(describing: caught))")
            return
        }
        #expect(message.contains(dir.path))
        #expect("\(caught!)".hasPrefix("wrong keystore passphrase"))
        #expect(afterDump == beforeDump)
        #expect(beforeDump.count == 4, "meta, one record, one pool item, the pool counter")
        func tables(_ f: [String: [UInt8]]) -> [String: [UInt8]] { f.filter { $0.key.hasSuffix(".ldb") } }
        #expect(!tables(beforeFiles).isEmpty)
        #expect(tables(afterFiles) == tables(beforeFiles))
        func walBytes(_ f: [String: [UInt8]]) -> [UInt8] {
            f.filter { $0.key.hasSuffix(".log") }.sorted { $0.key < $1.key }.flatMap(\.value)
        }
        #expect(walBytes(afterFiles) == walBytes(beforeFiles))
        #expect(walBytes(afterFiles).isEmpty)

        // The right passphrase still opens everything.
        let (db, store) = try openStore(dir.path)
        defer { db.close() }
        #expect(try store.share(recordID("k1")).encode() == Shares.all[0].encode())
    }

    /// No file of the LevelDB directory holds x_i, p or q (nor any 16-byte piece of them), before
    /// and after compaction. The scan is shown to work on a store where they are in the clear.
    @Test func noSecretBytesInTheFiles() throws {
        let dir = TempDir()
        let share = Shares.all[0]
        let item = try storedPreParams(3)
        let (ip, iq) = item.preParams.paillier.primes
        let secrets = Shares.secrets(share) + [("pool p", ip.magnitudeBytes()), ("pool q", iq.magnitudeBytes())]
        func pieces(_ s: [UInt8]) -> [[UInt8]] {
            stride(from: 0, to: s.count - 15, by: 8).map { Array(s[$0..<($0 + 16)]) }
        }
        func leaks(_ path: String) -> [String] {
            var found: [String] = []
            for (name, bytes) in files(under: path) {
                for (label, secret) in secrets where pieces(secret).contains(where: { contains(bytes, $0) }) {
                    found.append("\(label) in \(name)")
                }
            }
            return found
        }
        do {
            let (db, store) = try openStore(dir.sub("tss.db"))
            try store.markReady(recordID("k1"), share: share)
            try store.retire(recordID("k1"))
            try store.markReady(recordID("k1", "sess-2"), share: share)
            try PreParamsPool(store: store, target: 1).add(item)
            #expect(leaks(dir.sub("tss.db")).isEmpty)  // in the write-ahead log
            db.close()
        }
        do {
            let (db, _) = try openStore(dir.sub("tss.db"))  // compacts the log into a table
            db.close()
        }
        #expect(files(under: dir.sub("tss.db")).keys.contains { $0.hasSuffix(".ldb") })
        #expect(leaks(dir.sub("tss.db")) == [])

        // Control: the same scan finds the plaintext encoding stored in the clear.
        let clear = try LevelDBStore(path: dir.sub("clear.db"))
        try clear.put(Array("share".utf8), share.encode())
        try clear.put(Array("pool".utf8), item.encode())
        clear.close()
        #expect(Set(leaks(dir.sub("clear.db")).map { $0.split(separator: " in ")[0] }).count == secrets.count)
    }

    @Test func statusTable() {
        let allowed: Set<[KeyStatus]> = [
            [.pending, .ready], [.pending, .error], [.ready, .retired], [.ready, .error],
        ]
        for from in KeyStatus.allCases {
            for to in KeyStatus.allCases {
                #expect(from.canMove(to: to) == allowed.contains([from, to]), "\(from) → \(to)")
            }
        }
    }

    @Test func statusTransitionsPersistAndGuardSigning() throws {
        let dir = TempDir()
        let share = Shares.all[1]
        let id = recordID("k2")
        do {
            let (db, store) = try openStore(dir.path)
            defer { db.close() }
            let pending = try store.createPending(id, threshold: 1, parties: [0, 1], me: 1)
            #expect(pending.status == .pending && pending.groupPublicKey == nil)
            #expect(throws: KeyStoreError.conflict("record k2:sess-1 exists")) {
                try store.createPending(id, threshold: 1, parties: [0, 1], me: 1)
            }
            #expect(throws: KeyStoreError.self) { try store.share(id) }  // PENDING does not sign
            // A share that is not the one the record expects (other index) is refused.
            #expect(throws: KeyStoreError.self) { try store.markReady(id, share: Shares.all[0]) }
            try store.markReady(id, share: share)
            #expect(try store.share(id).me == 1)
            #expect(try store.retire(id).status == .retired)
        }
        let (db, store) = try openStore(dir.path)
        defer { db.close() }
        #expect(try store.header(id).status == .retired)
        #expect(throws: KeyStoreError.self) { try store.share(id) }
        #expect(throws: KeyStoreError.invalidTransition("k2:sess-1: RETIRED → READY")) {
            try store.markReady(id, share: share)
        }
        #expect(throws: KeyStoreError.self) { try store.retire(id) }
        #expect(throws: KeyStoreError.self) { try store.markError(id, reason: "late") }

        let failed = recordID("k3")
        try store.createPending(failed, threshold: 1, parties: [0, 1], me: 0)
        let error = try store.markError(failed, reason: "party 1 unresponsive")
        #expect(error.status == .error && error.errorReason == "party 1 unresponsive")
        #expect(throws: KeyStoreError.self) { try store.markReady(failed, share: Shares.all[0]) }
        #expect(throws: KeyStoreError.notFound("record nope:sess-1")) { try store.share(recordID("nope")) }
        // A long reason is cut at a character boundary within the header's limit.
        try store.createPending(recordID("k4"), threshold: 1, parties: [0, 1], me: 0)
        let long = try store.markError(recordID("k4"), reason: String(repeating: "é", count: 600))
        #expect(long.errorReason == String(repeating: "é", count: 512))
        let listed = try store.records().map { try $0.get() }
        #expect(listed.map(\.id.keyID) == ["k2", "k3", "k4"])
        #expect(listed.map(\.status) == [.retired, .error, .error])
    }

    /// Any one byte flipped anywhere in a stored record makes it unusable (never a wrong share).
    @Test func everyFlippedByteIsRefused() throws {
        let dir = TempDir()
        let (db, store) = try openStore(dir.path)
        defer { db.close() }
        let id = recordID("k1")
        try store.markReady(id, share: Shares.all[0])
        let key = KeyStore.recordKey(id)
        let original = try #require(try db.get(key))
        var accepted: [Int] = []
        for i in original.indices {
            var bad = original
            bad[i] ^= 0x01
            try db.put(key, bad, sync: false)
            if (try? store.share(id)) != nil { accepted.append(i) }
        }
        #expect(accepted == [])
        try db.put(key, original)
        #expect(try store.share(id).encode() == Shares.all[0].encode())
    }

    /// Records swapped between two keys, a sealed share moved under another header, and a header
    /// edited (RETIRED made READY) are all refused.
    @Test func swappedAndEditedRecordsAreRefused() throws {
        let dir = TempDir()
        let (db, store) = try openStore(dir.path)
        defer { db.close() }
        let a = recordID("ka")
        let b = recordID("kb")
        try store.markReady(a, share: Shares.all[0])
        try store.markReady(b, share: Shares.all[1])
        let bytesA = try #require(try db.get(KeyStore.recordKey(a)))
        let bytesB = try #require(try db.get(KeyStore.recordKey(b)))

        // Whole values swapped.
        try db.put(KeyStore.recordKey(a), bytesB)
        try db.put(KeyStore.recordKey(b), bytesA)
        #expect(throws: KeyStoreError.tampered("record stored under ka:sess-1 claims to be kb:sess-1")) {
            try store.share(a)
        }
        #expect(throws: KeyStoreError.self) { try store.share(b) }

        // A's header with B's sealed share.
        let recA = try KeyRecord(decoding: bytesA, expected: a)
        let recB = try KeyRecord(decoding: bytesB, expected: b)
        try db.put(KeyStore.recordKey(a), KeyRecord(header: recA.header, box: recB.box).encode())
        #expect(throws: KeyStoreError.tampered("authentication failed")) { try store.share(a) }

        // A retired record edited back to READY.
        try db.put(KeyStore.recordKey(a), bytesA)
        try db.put(KeyStore.recordKey(b), bytesB)
        try store.retire(a)
        let retired = try KeyRecord(decoding: try #require(try db.get(KeyStore.recordKey(a))), expected: a)
        var edited = retired.header
        edited.status = .ready
        try db.put(KeyStore.recordKey(a), KeyRecord(header: edited, box: retired.box).encode())
        #expect(throws: KeyStoreError.tampered("authentication failed")) { try store.share(a) }
        #expect(try store.share(b).encode() == Shares.all[1].encode())
    }

    @Test func exportImport() throws {
        let dir = TempDir()
        let id = recordID("k1")
        let (db1, store1) = try openStore(dir.sub("one"))
        defer { db1.close() }
        try store1.markReady(id, share: Shares.all[0])
        let blob = try store1.export(id)
        #expect(blob.starts(with: Array("VNTSSKEY".utf8)))
        for (_, secret) in Shares.secrets(Shares.all[0]) {
            #expect(!contains(blob, Array(secret.prefix(16))))
        }

        // Into another store (its own salt): needs the passphrase it was sealed with.
        let (db2, store2) = try openStore(dir.sub("two"), passB)
        defer { db2.close() }
        #expect(throws: KeyStoreError.self) { try store2.importRecord(blob) }
        let before = try dump(db2)
        #expect(throws: KeyStoreError.wrongPassphrase("the passphrase does not open this backup (nothing was written)"))
        {
            try store2.importRecord(blob, passphrase: passB)
        }
        #expect(try dump(db2) == before)
        let header = try store2.importRecord(blob, passphrase: passA)
        #expect(header.id == id && header.status == .ready)
        #expect(try store2.share(id).encode() == Shares.all[0].encode())
        // Re-sealed under store two: its passphrase opens it after a restart, the old one does not matter.
        #expect(try store2.importRecord(blob, passphrase: passA) == header)  // identical: accepted, no change

        // Same store: the record exists and is identical.
        #expect(try store1.importRecord(blob).status == .ready)
        // Once retired, the READY backup would resurrect it: refused, nothing overwritten.
        try store1.retire(id)
        #expect(throws: KeyStoreError.conflict("record k1:sess-1 exists with other contents; not overwritten")) {
            try store1.importRecord(blob)
        }
        #expect(try store1.header(id).status == .retired)

        // A damaged backup is refused.
        var bad = blob
        bad[bad.count - 3] ^= 0x80
        #expect(throws: KeyStoreError.self) { try store2.importRecord(bad, passphrase: passA) }
        #expect(throws: KeyStoreError.self) { try store2.importRecord(Array(blob.dropLast()), passphrase: passA) }
    }

    @Test func refusesOrphanedRecordsAndBadIDs() throws {
        let dir = TempDir()
        do {
            let (db, store) = try openStore(dir.path)
            try store.markReady(recordID("k1"), share: Shares.all[0])
            try db.delete(KeyStore.metaKey)
            db.close()
        }
        #expect(throws: KeyStoreError.self) { try openStore(dir.path) }
        #expect(throws: KeyStoreError.self) { try KeyRecordID(keyID: "a:b", sessionID: "s") }
        #expect(throws: KeyStoreError.self) { try KeyRecordID(keyID: "", sessionID: "s") }
        #expect(throws: KeyStoreError.self) { try KeyRecordID(keyID: "k/1", sessionID: "s") }
        #expect(try KeyRecordID(parsing: "key-1:0a1b").sessionID == "0a1b")
    }

    @Test func secretsPrintRedacted() throws {
        let dir = TempDir()
        let (db, store) = try openStore(dir.path)
        defer { db.close() }
        #expect("\(store)".contains("<redacted>"))
        let item = try storedPreParams(0)
        var dumped = ""
        dump(item, to: &dumped)
        for text in [String(describing: item), String(reflecting: item), dumped] {
            #expect(text.contains("<redacted>"))
            let p = item.preParams.paillier.primes.p.magnitudeBytes()
            #expect(!text.lowercased().contains(Hex.encode(Array(p.suffix(8)))))
        }
    }
}
