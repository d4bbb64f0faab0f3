import CryptoPrimitives
import LevelDB
import TSSCore
import Wire

/// The presignature pool of each key record (issue 4), in the key store's database:
///
///   `presig/<keyId>:<keygenSessionId>/<64 hex: presigning session id>`
///     u8 version ‖ created ms (u64) ‖ signers (u32 array) ‖ sealed box
///
/// The box is AES-256-GCM under the store's master key (its own HKDF salt and nonce) with the
/// LevelDB key and the public part as associated data, so an entry cannot be moved to another
/// record, session or signer set. A presignature is *taken*: its entry is deleted in a synced
/// write before its plaintext is returned, so a crash afterwards loses it and never reuses it.
///
/// Leases take that synced write off the signing's critical path:
///
///   `meta/presig-lease-epoch`                          u64: the running process's lease epoch
///   `presig-lease/<keyId>:<keygenSessionId>/<64 hex>`  u64: the epoch that leased the entry
///
/// The service starts a new epoch when it opens the store (`beginLeaseEpoch`): one synced batch
/// that raises the epoch and deletes every leased entry of the earlier ones (that process may have
/// used them). A lease is written synced, in the background (or in the batch that stores the
/// presignature), so its entry may then be taken by an unsynced delete: if that delete is lost in a
/// crash, the surviving lease makes the next epoch drop the entry. An entry and its lease are
/// always deleted in one batch, so an entry never outlives its lease. Within an epoch the
/// store's write lock and LevelDB's ordering make a second take of the same id fail, as before.
public struct PresignatureEntry: Sendable, Equatable {
    /// The presigning session (what the signing proposal names).
    public var session: [UInt8]
    public var signers: [PartyIndex]
    public var createdMs: UInt64
    /// Leased in the running epoch: taking it needs no synced write.
    public var leased: Bool = false

    /// The pool's order: by creation time, then by session id.
    static func oldestFirst(_ a: PresignatureEntry, _ b: PresignatureEntry) -> Bool {
        a.createdMs != b.createdMs ? a.createdMs < b.createdMs : a.session.lexicographicallyPrecedes(b.session)
    }
}

extension KeyStore {
    static let presignaturePrefix = Array("presig/".utf8)
    static let presignatureInfo = "vn/tss/keystore/presignature/v1"
    static let presignatureVersion: UInt8 = 1

    static func presignaturePrefix(_ record: KeyRecordID) -> [UInt8] {
        presignaturePrefix + Array(record.description.utf8) + [0x2f]
    }

    static func presignatureKey(_ record: KeyRecordID, _ session: [UInt8]) -> [UInt8] {
        presignaturePrefix(record) + Array(Hex.encode(session).utf8)
    }

    static let leasePrefix = Array("presig-lease/".utf8)
    static let leaseEpochKey = Array("meta/presig-lease-epoch".utf8)

    /// The lease key of a presignature key: the same suffix under `presig-lease/`.
    static func leaseKey(ofPresignatureKey key: [UInt8]) -> [UInt8] {
        leasePrefix + key.dropFirst(presignaturePrefix.count)
    }

    static func encodeEpoch(_ epoch: UInt64) -> [UInt8] {
        var w = WireWriter()
        w.writeUInt64(epoch)
        return w.take()
    }

    static func decodeEpoch(_ bytes: [UInt8]) -> UInt64? {
        var r = WireReader(bytes)
        guard let epoch = try? r.readUInt64(), (try? r.finish()) != nil else { return nil }
        return epoch
    }

    /// Starts this process's lease epoch (the service calls it once, when it opens the store):
    /// raises the stored epoch and deletes every leased presignature of the earlier epochs, with
    /// their leases, in one synced batch. Returns the new epoch and how many entries it dropped.
    @discardableResult
    public func beginLeaseEpoch() throws(KeyStoreError) -> (epoch: UInt64, dropped: Int) {
        try locked { () throws(KeyStoreError) -> (epoch: UInt64, dropped: Int) in
            var previous: UInt64 = 0
            if let bytes = try io({ try db.get(Self.leaseEpochKey) }) {
                guard let stored = Self.decodeEpoch(bytes), stored < UInt64.max else {
                    throw .corrupt("presignature lease epoch")
                }
                previous = stored
            }
            let epoch = previous + 1
            var batch = WriteBatch()
            batch.put(Self.leaseEpochKey, Self.encodeEpoch(epoch))
            var leases: [[UInt8]] = []
            try io {
                try db.forEach(prefix: Self.leasePrefix) { key, _ in
                    leases.append(key)
                    return true
                }
            }
            var dropped = 0
            for key in leases {
                let entry = Self.presignaturePrefix + key.dropFirst(Self.leasePrefix.count)
                batch.delete(key)
                if try io({ try db.get(entry) }) != nil {
                    batch.delete(entry)
                    dropped += 1
                }
            }
            try io { try db.write(batch, sync: true) }
            leaseEpoch.store(epoch, ordering: .sequentiallyConsistent)
            presignatureIndex.withLock { $0.removeAll() }
            return (epoch, dropped)
        }
    }

    /// The running lease epoch, or nil when `beginLeaseEpoch` was not called (every take is then
    /// a synced delete).
    var currentLeaseEpoch: UInt64? {
        let epoch = leaseEpoch.load(ordering: .sequentiallyConsistent)
        return epoch == 0 ? nil : epoch
    }

    /// Leases the oldest unleased presignatures of `record` made by `signers` until `count` of
    /// theirs are leased in this epoch (one synced batch; none without an epoch). Returns how many
    /// it leased.
    @discardableResult
    public func leasePresignatures(
        record: KeyRecordID, signers: [PartyIndex], upTo count: Int
    ) throws(KeyStoreError) -> Int {
        guard let epoch = currentLeaseEpoch, count > 0 else { return 0 }
        return try locked { () throws(KeyStoreError) -> Int in
            let entries = try indexedPresignatures(record).filter { $0.signers == signers }
            var missing = count - entries.filter(\.leased).count
            guard missing > 0 else { return 0 }
            var batch = WriteBatch()
            var leased: Set<[UInt8]> = []
            for entry in entries where !entry.leased && missing > 0 {
                batch.put(
                    Self.leaseKey(ofPresignatureKey: Self.presignatureKey(record, entry.session)),
                    Self.encodeEpoch(epoch))
                leased.insert(entry.session)
                missing -= 1
            }
            guard !batch.isEmpty else { return 0 }
            try io { try db.write(batch, sync: true) }
            presignatureIndex.withLock { index in
                guard var list = index[record] else { return }
                for i in list.indices where leased.contains(list[i].session) { list[i].leased = true }
                index[record] = list
            }
            return batch.count
        }
    }

    static func presignaturePublicPart(createdMs: UInt64, signers: [PartyIndex]) -> [UInt8] {
        var w = WireWriter()
        w.writeUInt8(presignatureVersion)
        w.writeUInt64(createdMs)
        w.writeArray(signers) { $0.writeUInt32($1) }
        return w.take()
    }

    /// Stores a presignature of `record` (READY) made in `presignSession` by `signers`; one synced
    /// write. Refuses an id already present. With `leaseAhead` > 0 and fewer than that many of the
    /// signers' presignatures leased in this epoch, the same batch leases the new one.
    public func putPresignature(
        record: KeyRecordID, presignSession: [UInt8], signers: [PartyIndex], sealedBytes: SecretBytes,
        leaseAhead: Int = 0
    ) throws(KeyStoreError) {
        guard presignSession.count == 32 else { throw .invalidArgument("presigning session id must be 32 bytes") }
        let key = Self.presignatureKey(record, presignSession)
        try locked { () throws(KeyStoreError) in
            guard try header(record).status == .ready else {
                throw .invalidTransition("\(record) is not READY; no presignatures for it")
            }
            guard try io({ try db.get(key) }) == nil else { throw .conflict("presignature exists") }
            let createdMs = clock()
            let publicPart = Self.presignaturePublicPart(createdMs: createdMs, signers: signers)
            var plain = sealedBytes.copyBytes()
            defer { secureZero(&plain) }
            var rng = SecureRandomNumberGenerator()
            let box = try SealedBox.seal(
                plain, master: master, info: Self.presignatureInfo, aad: key + publicPart, using: &rng)
            var w = WireWriter()
            w.writeFixedBytes(publicPart)
            box.write(to: &w)
            var batch = WriteBatch()
            batch.put(key, w.take())
            var entry = PresignatureEntry(session: presignSession, signers: signers, createdMs: createdMs)
            if leaseAhead > 0, let epoch = currentLeaseEpoch,
                try indexedPresignatures(record).filter({ $0.signers == signers && $0.leased }).count < leaseAhead
            {
                batch.put(Self.leaseKey(ofPresignatureKey: key), Self.encodeEpoch(epoch))
                entry.leased = true
            }
            try io { try db.write(batch, sync: true) }
            presignatureIndex.withLock { index in
                guard index[record] != nil else { return }
                index[record]!.append(entry)
                index[record]!.sort(by: PresignatureEntry.oldestFirst)
            }
        }
    }

    /// The presignatures of `record` (public parts only; nothing is opened), oldest first. Entries
    /// that do not decode are skipped (and never taken). Served from an in-memory index of the
    /// pool, read from the database once per record and kept by every write of this store (all
    /// under its write lock), so choosing and counting presignatures scans nothing.
    public func presignatures(record: KeyRecordID) throws(KeyStoreError) -> [PresignatureEntry] {
        if let cached = presignatureIndex.withLock({ $0[record] }) { return cached }
        return try locked { () throws(KeyStoreError) -> [PresignatureEntry] in try indexedPresignatures(record) }
    }

    /// `presignatures(record:)` with the write lock held: loads the record's index if needed.
    func indexedPresignatures(_ record: KeyRecordID) throws(KeyStoreError) -> [PresignatureEntry] {
        if let cached = presignatureIndex.withLock({ $0[record] }) { return cached }
        let loaded = try scanPresignatures(record)
        presignatureIndex.withLock { $0[record] = loaded }
        return loaded
    }

    /// The presignatures of `record` as the database holds them.
    func scanPresignatures(_ record: KeyRecordID) throws(KeyStoreError) -> [PresignatureEntry] {
        let prefix = Self.presignaturePrefix(record)
        var out: [PresignatureEntry] = []
        try io {
            try db.forEach(prefix: prefix) { key, value in
                if let entry = try? Self.decodeEntry(key: key, value: value, prefix: prefix) { out.append(entry.0) }
                return true
            }
        }
        if let epoch = currentLeaseEpoch {
            let leasePrefix = Self.leaseKey(ofPresignatureKey: prefix)
            var leased = Set<[UInt8]>()
            try io {
                try db.forEach(prefix: leasePrefix) { key, value in
                    if Self.decodeEpoch(value) == epoch,
                        let session = try? Hex.decode(String(decoding: key.dropFirst(leasePrefix.count), as: UTF8.self))
                    {
                        leased.insert(session)
                    }
                    return true
                }
            }
            for i in out.indices where leased.contains(out[i].session) { out[i].leased = true }
        }
        return out.sorted(by: PresignatureEntry.oldestFirst)
    }

    public func presignatureCount(record: KeyRecordID) throws(KeyStoreError) -> Int {
        try presignatures(record: record).count
    }

    /// The sealed presignature bytes without taking them (nothing is written): a participant
    /// prepares its part while its consensus-manager is still deciding, and takes the entry only
    /// once approved. Throws `notFound` when absent, `tampered` when it fails authentication.
    public func peekPresignature(record: KeyRecordID, presignSession: [UInt8]) throws(KeyStoreError) -> SecretBytes {
        let key = Self.presignatureKey(record, presignSession)
        guard let value = try io({ try db.get(key) }) else {
            throw .notFound("presignature \(Hex.encode(presignSession.prefix(8))) of \(record)")
        }
        let (_, publicPart, box) = try Self.decodeEntry(key: key, value: value, prefix: Self.presignaturePrefix(record))
        var plain = try box.open(master: master, info: Self.presignatureInfo, aad: key + publicPart)
        return SecretBytes(zeroing: &plain)
    }

    /// Takes (deletes) and returns the sealed presignature bytes: an entry leased in this epoch by
    /// an unsynced delete, any other by a synced one. A second take of the same id throws
    /// `notFound`; an entry leased by an earlier epoch is deleted and throws `notFound` (that
    /// process may have used it); an entry that fails authentication is deleted too and throws
    /// `tampered` (it could never be used).
    public func takePresignature(record: KeyRecordID, presignSession: [UInt8]) throws(KeyStoreError) -> SecretBytes {
        let key = Self.presignatureKey(record, presignSession)
        let leaseKey = Self.leaseKey(ofPresignatureKey: key)
        return try locked { () throws(KeyStoreError) -> SecretBytes in
            guard let value = try io({ try db.get(key) }) else {
                throw .notFound("presignature \(Hex.encode(presignSession.prefix(8))) of \(record)")
            }
            var batch = WriteBatch()
            batch.delete(key)
            var leasedNow = false
            func forget() { presignatureIndex.withLock { $0[record]?.removeAll { $0.session == presignSession } } }
            if let lease = try io({ try db.get(leaseKey) }) {
                batch.delete(leaseKey)
                guard let epoch = Self.decodeEpoch(lease), epoch == currentLeaseEpoch else {
                    try io { try db.write(batch, sync: true) }
                    forget()
                    throw .notFound(
                        "presignature \(Hex.encode(presignSession.prefix(8))) of \(record) was leased by an earlier run (dropped)"
                    )
                }
                leasedNow = true
            }
            // Leased in this epoch: its lease (synced) already makes a crash drop it.
            try io { try db.write(batch, sync: !leasedNow) }
            forget()
            let (_, publicPart, box) = try Self.decodeEntry(
                key: key, value: value, prefix: Self.presignaturePrefix(record))
            var plain = try box.open(master: master, info: Self.presignatureInfo, aad: key + publicPart)
            return SecretBytes(zeroing: &plain)
        }
    }

    /// Deletes every presignature of `record` (the key was reshared, re-keyed or retired) in one
    /// synced batch; returns how many.
    @discardableResult
    public func dropPresignatures(record: KeyRecordID) throws(KeyStoreError) -> Int {
        let prefix = Self.presignaturePrefix(record)
        return try locked { () throws(KeyStoreError) -> Int in
            var batch = WriteBatch()
            var count = 0
            try io {
                try db.forEach(prefix: prefix) { key, _ in
                    batch.delete(key)
                    count += 1
                    return true
                }
                try db.forEach(prefix: Self.leaseKey(ofPresignatureKey: prefix)) { key, _ in
                    batch.delete(key)
                    return true
                }
            }
            if !batch.isEmpty { try io { try db.write(batch, sync: true) } }
            presignatureIndex.withLock { $0[record] = [] }
            return count
        }
    }

    static func decodeEntry(
        key: [UInt8], value: [UInt8], prefix: [UInt8]
    ) throws(KeyStoreError) -> (
        PresignatureEntry, [UInt8], SealedBox
    ) {
        let hex = String(decoding: key.dropFirst(prefix.count), as: UTF8.self)
        guard let session = try? Hex.decode(hex), session.count == 32 else {
            throw .corrupt("presignature key \(String(decoding: key, as: UTF8.self))")
        }
        var r = WireReader(value)
        do {
            guard try r.readUInt8() == presignatureVersion else { throw KeyStoreError.corrupt("presignature version") }
            let created = try r.readUInt64()
            let signers = try r.readArray(maxCount: 255, minimumElementSize: 4) {
                (r: inout WireReader) throws(WireError) in try r.readUInt32()
            }
            let publicPart = presignaturePublicPart(createdMs: created, signers: signers)
            let box = try SealedBox(from: &r)
            try r.finish()
            return (PresignatureEntry(session: session, signers: signers, createdMs: created), publicPart, box)
        } catch let error as KeyStoreError {
            throw error
        } catch {
            throw .corrupt("presignature entry: \(error)")
        }
    }
}
