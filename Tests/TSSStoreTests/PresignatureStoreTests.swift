import CryptoPrimitives
import Foundation
import LevelDB
import Secp256k1
import Synchronization
import Testing
import Wire

@testable import TSSCore
@testable import TSSStore

/// Presignatures as the tss-signer pools them (issue 4): the codec (`Presignature.sealedBytes` /
/// `decode`, checked against the key share) and the sealed, take-once pool in the key store.
@Suite("PresignatureStore", .serialized)
struct PresignatureStoreTests {
    static let keys = (0..<2).map { try! PrivateKey(bytes: SHA256.hash(Array("store-identity-\($0)".utf8))) }

    /// One presigning by both parties of `Shares.all` (t = 1, n = 2): each party's sealed bytes.
    static func presign(_ seed: String) throws -> [SecretBytes] {
        var cluster = try LocalCluster(
            threshold: 1, identityKeys: keys, rngs: (0..<2).map { ClusterRandom(seed: "\(seed)-\($0)") })
        let set = try cluster.presign(shares: Shares.all, signers: [0, 1], sessionID: SHA256.hash(Array(seed.utf8)))
        return set.machines.map { $0.takePresignature()!.sealedBytes() }
    }

    static func record(_ key: String = "k") -> KeyRecordID { try! KeyRecordID(keyID: key, sessionID: "s1") }

    /// A store holding `Shares.all[me]` READY under `record()`.
    static func store(_ dir: TempDir, me: Int = 0) throws -> (LevelDBStore, KeyStore) {
        let (db, store) = try openStore(dir.path)
        if (try? store.header(record())) == nil {
            try store.markReady(record(), share: Shares.all[me])
        }
        return (db, store)
    }

    /// Both parties' online round on decoded presignatures: the signature, recovered to the key.
    @Test func decodedPresignaturesSign() throws {
        let sealed = try Self.presign("codec")
        var machines: [OnlineSigning] = []
        var messages: [Message] = []
        let digest = SHA256.hash(Array("signed after a round trip".utf8))
        for i in 0..<2 {
            let presignature = try Presignature.decode(sealed[i], keyShare: Shares.all[i])
            #expect(presignature.signers == [0, 1])
            let (machine, message) = try presignature.sign(digest: digest, identityKey: Self.keys[i])
            machines.append(machine)
            messages.append(message)
        }
        for i in 0..<2 {
            guard case .finished(let signature, _) = machines[i].receive(from: PartyIndex(1 - i), messages[1 - i])
            else {
                Issue.record("party \(i) did not finish")
                continue
            }
            #expect(try PublicKey.recover(signature, digest: digest) == Shares.all[0].groupPublicKey)
        }
    }

    @Test func decodeRefusesTamperingAndOtherShares() throws {
        let sealed = try Self.presign("tamper")
        // The other party's share: not ours.
        #expect(throws: Abort.self) { _ = try Presignature.decode(sealed[0], keyShare: Shares.all[1]) }
        // Every flipped byte of what decoding can check is refused: version, key id, lengths,
        // signers, index, R, k_i, σ_i, R̄_j and S_j. (The session id and the echoed signatures are
        // checked by the peers in the online round; in the pool the AEAD seal covers every byte.)
        let bytes = sealed[0].copyBytes()
        let checked = Array(0..<37) + Array(69..<(69 + 12 + 4 + 33 + 64 + 4 * 33))
        for position in checked {
            var flipped = bytes
            flipped[position] ^= 0x01
            let candidate = SecretBytes(flipped)
            #expect(throws: Abort.self, "byte \(position)") {
                _ = try Presignature.decode(candidate, keyShare: Shares.all[0])
            }
        }
        #expect(throws: Abort.self) { _ = try Presignature.decode(SecretBytes(bytes + [0]), keyShare: Shares.all[0]) }
        #expect(throws: Abort.self) {
            _ = try Presignature.decode(SecretBytes(Array(bytes.dropLast())), keyShare: Shares.all[0])
        }
    }

    @Test func takenOnceAcrossReopen() throws {
        let dir = TempDir()
        let sealed = try Self.presign("pool-a") + Self.presign("pool-b")
        let sessions = [SHA256.hash(Array("a".utf8)), SHA256.hash(Array("b".utf8))]
        do {
            let (db, store) = try Self.store(dir)
            defer { db.close() }
            try store.putPresignature(
                record: Self.record(), presignSession: sessions[0], signers: [0, 1], sealedBytes: sealed[0])
            try store.putPresignature(
                record: Self.record(), presignSession: sessions[1], signers: [0, 1], sealedBytes: sealed[2])
            #expect(throws: KeyStoreError.self) {
                try store.putPresignature(
                    record: Self.record(), presignSession: sessions[0], signers: [0, 1], sealedBytes: sealed[0])
            }
            #expect(
                try store.presignatures(record: Self.record()).map(\.session).sorted {
                    $0.lexicographicallyPrecedes($1)
                }
                    == sessions.sorted { $0.lexicographicallyPrecedes($1) })
            let taken = try store.takePresignature(record: Self.record(), presignSession: sessions[0])
            #expect(taken == sealed[0])
            #expect(throws: KeyStoreError.notFound("presignature \(Hex.encode(sessions[0].prefix(8))) of k:s1")) {
                try store.takePresignature(record: Self.record(), presignSession: sessions[0])
            }
        }
        // Reopened: the taken one stays gone, the other is still there and decodes.
        let (db, store) = try Self.store(dir)
        defer { db.close() }
        #expect(try store.presignatures(record: Self.record()).map(\.session) == [sessions[1]])
        let other = try store.takePresignature(record: Self.record(), presignSession: sessions[1])
        #expect(try Presignature.decode(other, keyShare: Shares.all[0]).signers == [0, 1])
        #expect(try store.presignatureCount(record: Self.record()) == 0)
    }

    /// Leases: taken without a synced write within the epoch that leased them, dropped by the next
    /// epoch (a crashed run may have used them), never handed out twice.
    @Test func leasedPresignaturesAreDroppedByTheNextEpoch() throws {
        let dir = TempDir()
        let sealed = try Self.presign("lease-a") + Self.presign("lease-b")
        let sessions = (0..<4).map { SHA256.hash([UInt8($0)]) }
        let ticks = Atomic<UInt64>(1_700_000_000_000)
        let clock: @Sendable () -> UInt64 = { ticks.add(1, ordering: .relaxed).newValue }
        do {
            let (db, store) = try openStore(dir.path, clock: clock)
            defer { db.close() }
            try store.markReady(Self.record(), share: Shares.all[0])
            #expect(try store.beginLeaseEpoch() == (epoch: 1, dropped: 0))
            for (i, session) in sessions.enumerated() {
                try store.putPresignature(
                    record: Self.record(), presignSession: session, signers: [0, 1], sealedBytes: sealed[i % 2 * 2],
                    leaseAhead: 2)
            }
            // The first two stored were leased in the batch that stored them.
            #expect(try store.presignatures(record: Self.record()).map(\.leased) == [true, true, false, false])
            // peek reads without taking.
            #expect(try store.peekPresignature(record: Self.record(), presignSession: sessions[0]) == sealed[0])
            #expect(try store.presignatureCount(record: Self.record()) == 4)
            // A leased one is taken once.
            #expect(try store.takePresignature(record: Self.record(), presignSession: sessions[0]) == sealed[0])
            #expect(throws: KeyStoreError.self) {
                try store.takePresignature(record: Self.record(), presignSession: sessions[0])
            }
            // Topping up leases the oldest unleased one; a second call has nothing to do.
            #expect(try store.leasePresignatures(record: Self.record(), signers: [0, 1], upTo: 2) == 1)
            #expect(try store.leasePresignatures(record: Self.record(), signers: [0, 1], upTo: 2) == 0)
            #expect(try store.presignatures(record: Self.record()).map(\.leased) == [true, true, false])
            // Another signer set's count is its own.
            #expect(try store.leasePresignatures(record: Self.record(), signers: [0, 2], upTo: 2) == 0)
        }
        do {
            // Opened again without an epoch (a CLI): an entry leased by the earlier run is dropped
            // when asked for, never handed out; an unleased one is taken by a synced delete.
            let (db, store) = try openStore(dir.path, clock: clock)
            defer { db.close() }
            #expect(try store.presignatures(record: Self.record()).map(\.leased) == [false, false, false])
            #expect(throws: KeyStoreError.self) {
                try store.takePresignature(record: Self.record(), presignSession: sessions[1])
            }
            #expect(try store.presignatureCount(record: Self.record()) == 2)
            #expect(try store.leasePresignatures(record: Self.record(), signers: [0, 1], upTo: 2) == 0)
        }
        // The next service run: its epoch drops the other entry the first run leased.
        let (db, store) = try openStore(dir.path, clock: clock)
        defer { db.close() }
        #expect(try store.beginLeaseEpoch() == (epoch: 2, dropped: 1))
        #expect(try store.presignatures(record: Self.record()).map(\.session) == [sessions[3]])
        #expect(try store.takePresignature(record: Self.record(), presignSession: sessions[3]) == sealed[2])
        #expect(try Self.leaseCount(db) == 0)
    }

    /// Lease entries in the database (`presig-lease/…`).
    static func leaseCount(_ db: LevelDBStore) throws -> Int {
        var count = 0
        try db.forEach(prefix: KeyStore.leasePrefix) { _, _ in
            count += 1
            return true
        }
        return count
    }

    @Test func droppingARecordDropsItsLeases() throws {
        let dir = TempDir()
        let (db, store) = try Self.store(dir)
        defer { db.close() }
        try store.beginLeaseEpoch()
        let sealed = try Self.presign("drop-leases")
        for i in 0..<3 {
            try store.putPresignature(
                record: Self.record(), presignSession: SHA256.hash([UInt8(i)]), signers: [0, 1], sealedBytes: sealed[0],
                leaseAhead: 2)
        }
        #expect(try Self.leaseCount(db) == 2)
        #expect(try store.dropPresignatures(record: Self.record()) == 3)
        #expect(try Self.leaseCount(db) == 0)
    }

    @Test func droppedWithTheRecordAndRefusedForOthers() throws {
        let dir = TempDir()
        let (db, store) = try Self.store(dir)
        defer { db.close() }
        let sealed = try Self.presign("drop")
        for i in 0..<3 {
            try store.putPresignature(
                record: Self.record(), presignSession: SHA256.hash([UInt8(i)]), signers: [0, 1], sealedBytes: sealed[0])
        }
        #expect(try store.dropPresignatures(record: Self.record()) == 3)
        #expect(try store.presignatureCount(record: Self.record()) == 0)
        // Not READY (retired) → no new presignatures.
        try store.retire(Self.record())
        #expect(throws: KeyStoreError.self) {
            try store.putPresignature(
                record: Self.record(), presignSession: SHA256.hash([9]), signers: [0, 1], sealedBytes: sealed[0])
        }
    }

    @Test func anEntryMovedToAnotherSessionIsRefused() throws {
        let dir = TempDir()
        let (db, store) = try Self.store(dir)
        defer { db.close() }
        let sealed = try Self.presign("move")
        let a = SHA256.hash(Array("a".utf8))
        let b = SHA256.hash(Array("b".utf8))
        try store.putPresignature(record: Self.record(), presignSession: a, signers: [0, 1], sealedBytes: sealed[0])
        let value = try #require(try db.get(KeyStore.presignatureKey(Self.record(), a)))
        try db.put(KeyStore.presignatureKey(Self.record(), b), value)
        #expect(throws: KeyStoreError.tampered("authentication failed")) {
            try store.takePresignature(record: Self.record(), presignSession: b)
        }
        // The moved copy is gone (it could never be used) and the original still opens.
        #expect(try store.presignatures(record: Self.record()).map(\.session) == [a])
        _ = try store.takePresignature(record: Self.record(), presignSession: a)
    }

    @Test func noPresignatureSecretInTheFiles() throws {
        let dir = TempDir()
        let sealed = try Self.presign("scan")
        do {
            let (db, store) = try Self.store(dir)
            defer { db.close() }
            try store.putPresignature(
                record: Self.record(), presignSession: SHA256.hash([1]), signers: [0, 1], sealedBytes: sealed[0])
        }
        // k_i and σ_i sit at fixed offsets of the encoding: after version, key id, session id,
        // signers, me and R.
        let plain = sealed[0].copyBytes()
        let offset = 1 + 32 + (4 + 32) + (4 + 2 * 4) + 4 + 33
        let k = Array(plain[offset..<(offset + 32)])
        let sigma = Array(plain[(offset + 32)..<(offset + 64)])
        for (name, bytes) in files(under: dir.path) {
            for secret in [k, sigma, plain] {
                #expect(!contains(bytes, secret.count > 64 ? Array(secret[0..<64]) : secret), "\(name) holds a secret")
            }
        }
    }

    func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }
}
