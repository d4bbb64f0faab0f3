import CryptoPrimitives
import LevelDB
import Synchronization
import TSSCore
import Wire

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The tss-signer's sealed key store over `data/tss.db` (DESIGN §4).
///
/// Layout (LevelDB keys):
///   `meta/keystore`                         scrypt parameters + salt + verifier (`KeyStoreMeta`)
///   `shard/<keyId>:<keygenSessionId>`       a `KeyRecord`: public header + sealed `KeyShare`
///   `preparams/<16 hex digits>`             a sealed pool item (`PreParamsPool`)
///   `meta/preparams-next`                   the pool's next item number (never reused)
///
/// The master key is scrypt(passphrase, salt) with the stored parameters; each box (record,
/// pool item, verifier) has its own HKDF salt and nonce, and a record's header is the box's
/// associated data, so a header cannot be edited (a RETIRED share made READY) nor a box moved to
/// another record. Opening with a wrong passphrase fails on the verifier before any write. Every
/// write is one synced LevelDB batch, so a crash leaves the old record or the new one.
public final class KeyStore: Sendable {
    static let metaKey = Array("meta/keystore".utf8)
    static let recordPrefix = Array("shard/".utf8)
    static let recordInfo = "vn/tss/keystore/record/v1"

    public let path: String
    let db: LevelDBStore
    let master: SecretBytes
    let meta: KeyStoreMeta
    let clock: @Sendable () -> UInt64
    /// Serialises read-modify-write sequences (status changes, imports, pool takes).
    let writeLock = Mutex<Void>(())
    /// The presignature lease epoch of this process (0: none begun; `beginLeaseEpoch`).
    let leaseEpoch = Atomic<UInt64>(0)
    /// Bumped after every record write: a reader that noted it before reading the records may
    /// keep what it read while it is unchanged (`generation`).
    let recordWrites = Atomic<UInt64>(0)
    /// The public parts of each record's presignatures, loaded on first use (`presignatures`).
    let presignatureIndex = Mutex<[KeyRecordID: [PresignatureEntry]]>([:])

    private init(db: LevelDBStore, master: SecretBytes, meta: KeyStoreMeta, clock: @escaping @Sendable () -> UInt64) {
        self.db = db
        self.path = db.path
        self.master = master
        self.meta = meta
        self.clock = clock
    }

    /// Milliseconds since the Unix epoch, from the system clock.
    public static let systemClock: @Sendable () -> UInt64 = {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(max(0, ts.tv_sec)) * 1000 + UInt64(max(0, ts.tv_nsec)) / 1_000_000
    }

    /// Opens the store in `db` with `passphrase`. A store without a keystore header gets one
    /// (with `scrypt` and a fresh salt) when `create` is set; a header that the passphrase does
    /// not open throws `wrongPassphrase` and nothing is written.
    public static func open(
        db: LevelDBStore, passphrase: SecretBytes, create: Bool = true, scrypt: ScryptParameters = .default,
        clock: @escaping @Sendable () -> UInt64 = KeyStore.systemClock
    ) throws(KeyStoreError) -> KeyStore {
        guard !passphrase.isEmpty else { throw .invalidArgument("the keystore passphrase is empty") }
        if let bytes = try io({ try db.get(metaKey) }) {
            let meta = try KeyStoreMeta(decoding: bytes)
            let master = try KeyStoreMeta.deriveMaster(passphrase: passphrase, scrypt: meta.scrypt, salt: meta.salt)
            guard meta.verifies(master) else {
                throw .wrongPassphrase(
                    "the passphrase or key file does not open \(db.path) (nothing was read or changed)")
            }
            return KeyStore(db: db, master: master, meta: meta, clock: clock)
        }
        guard create else { throw .notFound("no keystore in \(db.path)") }
        // Records without a header were sealed under a header that is gone: making a new one
        // would strand them, so refuse.
        var orphaned = false
        for prefix in [recordPrefix, PreParamsPool.itemPrefix] {
            try io {
                try db.forEach(prefix: prefix) { _, _ in
                    orphaned = true
                    return false
                }
            }
        }
        guard !orphaned else {
            throw .corrupt(
                "\(db.path) holds sealed records but no keystore header (meta/keystore); refusing to start over")
        }
        var rng = SecureRandomNumberGenerator()
        let salt = rng.bytes(32)
        let master = try KeyStoreMeta.deriveMaster(passphrase: passphrase, scrypt: scrypt, salt: salt)
        let meta = try KeyStoreMeta.make(scrypt: scrypt, salt: salt, master: master, using: &rng)
        var batch = WriteBatch()
        batch.put(metaKey, meta.encode())
        try io { try db.write(batch, sync: true) }
        return KeyStore(db: db, master: master, meta: meta, clock: clock)
    }

    /// True when `db` already holds a keystore header.
    public static func isInitialized(_ db: LevelDBStore) throws(KeyStoreError) -> Bool {
        try io { try db.get(metaKey) } != nil
    }

    public var scryptParameters: ScryptParameters { meta.scrypt }
    public var isClosed: Bool { db.isClosed }

    /// `publicHeaders` of this store's database (unauthenticated, cheap: for `/status`).
    public func publicHeaders() throws(KeyStoreError) -> [Result<KeyRecordHeader, KeyStoreError>] {
        try Self.publicHeaders(db)
    }

    // MARK: Public metadata (no passphrase)

    /// Every record's public header, read without the passphrase (and therefore not
    /// authenticated: use `records()` on an open store for checked headers). Damaged entries are
    /// returned as failures, by LevelDB key.
    public static func publicHeaders(
        _ db: LevelDBStore
    ) throws(KeyStoreError) -> [Result<KeyRecordHeader, KeyStoreError>] {
        var out: [Result<KeyRecordHeader, KeyStoreError>] = []
        try io {
            try db.forEach(prefix: recordPrefix) { key, value in
                let id = try? KeyRecordID(parsing: String(decoding: key.dropFirst(recordPrefix.count), as: UTF8.self))
                out.append(
                    Result { () throws(KeyStoreError) in
                        guard let id else { throw .corrupt("record key \(Hex.encode(key))") }
                        return try KeyRecord(decoding: value, expected: id).header
                    })
                return true
            }
        }
        return out
    }

    /// One record's public header (unauthenticated, as `publicHeaders`), or nil when absent.
    public func publicHeader(_ id: KeyRecordID) throws(KeyStoreError) -> KeyRecordHeader? {
        guard let bytes = try Self.io({ try db.get(Self.recordKey(id)) }) else { return nil }
        return try KeyRecord(decoding: bytes, expected: id).header
    }

    // MARK: Records

    static func recordKey(_ id: KeyRecordID) -> [UInt8] { recordPrefix + Array(id.description.utf8) }

    /// The authenticated headers of every record, ordered by id; a record that fails its check is
    /// reported, not skipped silently.
    public func records() throws(KeyStoreError) -> [Result<KeyRecordHeader, KeyStoreError>] {
        try Self.publicHeaders(db).map { result in
            result.flatMap { header in
                Result { () throws(KeyStoreError) in try self.load(header.id).header }
            }
        }
    }

    /// The authenticated header of `id`.
    public func header(_ id: KeyRecordID) throws(KeyStoreError) -> KeyRecordHeader {
        try load(id).header
    }

    /// Starts a record for a keygen session (PENDING). Refuses an id that exists.
    @discardableResult
    public func createPending(
        _ id: KeyRecordID, threshold: Int, parties: [PartyIndex], me: PartyIndex
    ) throws(KeyStoreError) -> KeyRecordHeader {
        let now = clock()
        let header = try KeyRecordHeader(
            id: id, status: .pending, threshold: threshold, parties: parties, me: me, groupPublicKey: nil,
            address: nil, createdMs: now, updatedMs: now, errorReason: nil)
        try locked { () throws(KeyStoreError) in
            guard try io({ try db.get(Self.recordKey(id)) }) == nil else { throw .conflict("record \(id) exists") }
            try write(header: header, plaintext: [])
        }
        return header
    }

    /// Keygen finished: seals `share` and moves the record to READY (creating it if keygen did not
    /// record PENDING first). The share must match the record's threshold, parties and index.
    @discardableResult
    public func markReady(_ id: KeyRecordID, share: KeyShare) throws(KeyStoreError) -> KeyRecordHeader {
        let y = share.groupPublicKey
        try locked { () throws(KeyStoreError) in
            let now = clock()
            var header: KeyRecordHeader
            if let existing = try loadIfPresent(id) {
                header = existing.header
                guard header.status.canMove(to: .ready) else {
                    throw .invalidTransition("\(id): \(header.status) → READY")
                }
                guard header.threshold == share.threshold, header.parties == share.parties, header.me == share.me else {
                    throw .invalidArgument("\(id): the share's threshold, parties or index differ from the record")
                }
                header.status = .ready
                header.groupPublicKey = y.compressed
                header.address = y.ethereumAddressBytes
                header.updatedMs = now
            } else {
                header = try KeyRecordHeader(
                    id: id, status: .ready, threshold: share.threshold, parties: share.parties, me: share.me,
                    groupPublicKey: y.compressed, address: y.ethereumAddressBytes, createdMs: now, updatedMs: now,
                    errorReason: nil)
            }
            var plain = share.encode()
            defer { secureZero(&plain) }
            try write(header: header, plaintext: plain)
        }
        return try header(id)
    }

    /// Keygen failed (from PENDING) or the share proved unusable (from READY).
    @discardableResult
    public func markError(_ id: KeyRecordID, reason: String) throws(KeyStoreError) -> KeyRecordHeader {
        // Kept whole up to the header's 1,024-byte limit, cut at a character boundary beyond it.
        var kept = ""
        for c in reason {
            guard kept.utf8.count + c.utf8.count <= 1024 else { break }
            kept.append(c)
        }
        let text = kept.isEmpty ? "keygen failed" : kept
        return try move(id, to: .error) { $0.errorReason = text }
    }

    /// The share was replaced (reshare or re-key): it stays sealed and never signs again.
    @discardableResult
    public func retire(_ id: KeyRecordID) throws(KeyStoreError) -> KeyRecordHeader {
        try move(id, to: .retired) { _ in }
    }

    /// The key share of a READY record (authenticated, decoded, checked against the header).
    public func share(_ id: KeyRecordID) throws(KeyStoreError) -> KeyShare {
        let record = try load(id)
        guard record.header.status == .ready else {
            throw .invalidTransition("\(id) is \(record.header.status); only READY shares sign")
        }
        var plain = try record.box.open(master: master, info: Self.recordInfo, aad: record.associatedData)
        defer { secureZero(&plain) }
        return try Self.checkedShare(plain, header: record.header)
    }

    static func checkedShare(_ plain: [UInt8], header: KeyRecordHeader) throws(KeyStoreError) -> KeyShare {
        let share: KeyShare
        do { share = try KeyShare(decoding: plain) } catch { throw .corrupt("\(header.id): key share: \(error)") }
        guard share.threshold == header.threshold, share.parties == header.parties, share.me == header.me,
            share.groupPublicKey.compressed == header.groupPublicKey
        else { throw .tampered("\(header.id): the sealed share does not match its header") }
        return share
    }

    // MARK: Export / import

    static let exportMagic = Array("VNTSSKEY".utf8)
    static let exportVersion: UInt8 = 1

    /// A self-describing backup of one record: magic ‖ version ‖ the keystore header (scrypt
    /// parameters, salt, verifier) ‖ the record as stored. The share stays sealed; opening it needs
    /// this store's passphrase.
    public func export(_ id: KeyRecordID) throws(KeyStoreError) -> [UInt8] {
        let record = try load(id)
        var w = WireWriter()
        w.writeFixedBytes(Self.exportMagic)
        w.writeUInt8(Self.exportVersion)
        w.writeBytes(meta.encode())
        w.writeBytes(record.encode())
        return w.take()
    }

    /// Restores a backup made by `export`, re-sealed under this store. `passphrase` opens the
    /// backup when it came from another store (nil: this store's own backup). An existing record
    /// with the same id must be identical (header and share), or the import is refused.
    @discardableResult
    public func importRecord(_ blob: [UInt8], passphrase: SecretBytes? = nil) throws(KeyStoreError) -> KeyRecordHeader {
        let sourceMeta: KeyStoreMeta
        let recordBytes: [UInt8]
        do {
            var r = WireReader(blob)
            guard try r.readFixedBytes(count: Self.exportMagic.count) == Self.exportMagic,
                try r.readUInt8() == Self.exportVersion
            else { throw WireError.invalidValue("not a key store backup (magic or version)") }
            let metaBytes = try r.readBytes(maxLength: 4096)
            recordBytes = try r.readBytes(maxLength: 1 << 24)
            try r.finish()
            sourceMeta = try KeyStoreMeta(decoding: metaBytes)
        } catch let error as KeyStoreError {
            throw error
        } catch {
            throw .corrupt("backup: \(error)")
        }
        let sourceMaster: SecretBytes
        if sourceMeta.salt == meta.salt, sourceMeta.scrypt == meta.scrypt {
            sourceMaster = master
        } else {
            guard let passphrase else {
                throw .wrongPassphrase("the backup comes from another store: give the passphrase it was sealed with")
            }
            sourceMaster = try KeyStoreMeta.deriveMaster(
                passphrase: passphrase, scrypt: sourceMeta.scrypt, salt: sourceMeta.salt)
        }
        guard sourceMeta.verifies(sourceMaster) else {
            throw .wrongPassphrase("the passphrase does not open this backup (nothing was written)")
        }
        let record = try KeyRecord(decoding: recordBytes, expected: nil)
        var plain = try record.box.open(master: sourceMaster, info: Self.recordInfo, aad: record.associatedData)
        defer { secureZero(&plain) }
        if record.header.groupPublicKey != nil || !plain.isEmpty {
            _ = try Self.checkedShare(plain, header: record.header)
        }
        let id = record.header.id
        try locked { () throws(KeyStoreError) in
            if let existing = try loadIfPresent(id) {
                var current = try existing.box.open(master: master, info: Self.recordInfo, aad: existing.associatedData)
                defer { secureZero(&current) }
                let same =
                    existing.header == record.header && current.count == plain.count
                    && SecretBytes(current) == SecretBytes(plain)
                guard same else { throw .conflict("record \(id) exists with other contents; not overwritten") }
                return
            }
            try write(header: record.header, plaintext: plain)
        }
        return record.header
    }

    // MARK: Internals

    private func move(
        _ id: KeyRecordID, to status: KeyStatus, _ edit: (inout KeyRecordHeader) -> Void
    ) throws(KeyStoreError) -> KeyRecordHeader {
        try locked { () throws(KeyStoreError) -> KeyRecordHeader in
            let record = try load(id)
            guard record.header.status.canMove(to: status) else {
                throw .invalidTransition("\(id): \(record.header.status) → \(status)")
            }
            var plain = try record.box.open(master: master, info: Self.recordInfo, aad: record.associatedData)
            defer { secureZero(&plain) }
            var header = record.header
            header.status = status
            header.updatedMs = max(clock(), header.createdMs)
            edit(&header)
            try header.validate()
            try write(header: header, plaintext: plain)
            return header
        }
    }

    /// Changes whenever a record is written (created, made READY, ERROR or RETIRED, imported).
    /// Read it before reading records: what was read stays current while it is unchanged.
    public var generation: UInt64 { recordWrites.load(ordering: .acquiring) }

    /// Seals `plaintext` under a fresh box with `header` as associated data; one synced write.
    private func write(header: KeyRecordHeader, plaintext: [UInt8]) throws(KeyStoreError) {
        defer { recordWrites.add(1, ordering: .releasing) }
        var rng = SecureRandomNumberGenerator()
        let headerBytes = header.encode()
        let box = try SealedBox.seal(
            plaintext, master: master, info: Self.recordInfo, aad: KeyRecord.associatedData(headerBytes), using: &rng)
        var batch = WriteBatch()
        batch.put(Self.recordKey(header.id), KeyRecord(header: header, box: box).encode())
        try Self.io { try db.write(batch, sync: true) }
    }

    private func loadIfPresent(_ id: KeyRecordID) throws(KeyStoreError) -> KeyRecord? {
        guard let bytes = try Self.io({ try db.get(Self.recordKey(id)) }) else { return nil }
        let record = try KeyRecord(decoding: bytes, expected: id)
        // Authenticate the header now (the box with the header as associated data).
        var plain = try record.box.open(master: master, info: Self.recordInfo, aad: record.associatedData)
        secureZero(&plain)
        return record
    }

    private func load(_ id: KeyRecordID) throws(KeyStoreError) -> KeyRecord {
        guard let record = try loadIfPresent(id) else { throw .notFound("record \(id)") }
        return record
    }

    func locked<T>(_ body: () throws(KeyStoreError) -> T) throws(KeyStoreError) -> T {
        try writeLock.withLock { _ throws(KeyStoreError) in try body() }
    }

    func io<T>(_ body: () throws -> T) throws(KeyStoreError) -> T { try Self.io(body) }

    static func io<T>(_ body: () throws -> T) throws(KeyStoreError) -> T {
        do { return try body() } catch let error as KeyStoreError { throw error } catch {
            throw .io("\(error)")
        }
    }
}

extension KeyStore: CustomStringConvertible {
    public var description: String { "KeyStore(\(path), \(meta.scrypt), master <redacted>)" }
}
