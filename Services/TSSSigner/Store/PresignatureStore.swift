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
public struct PresignatureEntry: Sendable, Equatable {
    /// The presigning session (what the signing proposal names).
    public var session: [UInt8]
    public var signers: [PartyIndex]
    public var createdMs: UInt64
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

    static func presignaturePublicPart(createdMs: UInt64, signers: [PartyIndex]) -> [UInt8] {
        var w = WireWriter()
        w.writeUInt8(presignatureVersion)
        w.writeUInt64(createdMs)
        w.writeArray(signers) { $0.writeUInt32($1) }
        return w.take()
    }

    /// Stores a presignature of `record` (READY) made in `presignSession` by `signers`; one synced
    /// write. Refuses an id already present.
    public func putPresignature(
        record: KeyRecordID, presignSession: [UInt8], signers: [PartyIndex], sealedBytes: SecretBytes
    ) throws(KeyStoreError) {
        guard presignSession.count == 32 else { throw .invalidArgument("presigning session id must be 32 bytes") }
        let key = Self.presignatureKey(record, presignSession)
        try locked { () throws(KeyStoreError) in
            guard try header(record).status == .ready else {
                throw .invalidTransition("\(record) is not READY; no presignatures for it")
            }
            guard try io({ try db.get(key) }) == nil else { throw .conflict("presignature exists") }
            let publicPart = Self.presignaturePublicPart(createdMs: clock(), signers: signers)
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
            try io { try db.write(batch, sync: true) }
        }
    }

    /// The presignatures of `record` (public parts only; nothing is opened). Entries that do not
    /// decode are skipped (and never taken).
    public func presignatures(record: KeyRecordID) throws(KeyStoreError) -> [PresignatureEntry] {
        let prefix = Self.presignaturePrefix(record)
        var out: [PresignatureEntry] = []
        try io {
            try db.forEach(prefix: prefix) { key, value in
                if let entry = try? Self.decodeEntry(key: key, value: value, prefix: prefix) { out.append(entry.0) }
                return true
            }
        }
        return out.sorted { $0.createdMs < $1.createdMs }
    }

    public func presignatureCount(record: KeyRecordID) throws(KeyStoreError) -> Int {
        try presignatures(record: record).count
    }

    /// Takes (deletes, synced) and returns the sealed presignature bytes. A second take of the
    /// same id throws `notFound`; an entry that fails authentication is deleted too and throws
    /// `tampered` (it could never be used).
    public func takePresignature(record: KeyRecordID, presignSession: [UInt8]) throws(KeyStoreError) -> SecretBytes {
        let key = Self.presignatureKey(record, presignSession)
        return try locked { () throws(KeyStoreError) -> SecretBytes in
            guard let value = try io({ try db.get(key) }) else {
                throw .notFound("presignature \(Hex.encode(presignSession.prefix(8))) of \(record)")
            }
            var batch = WriteBatch()
            batch.delete(key)
            try io { try db.write(batch, sync: true) }
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
            try io {
                try db.forEach(prefix: prefix) { key, _ in
                    batch.delete(key)
                    return true
                }
            }
            if !batch.isEmpty { try io { try db.write(batch, sync: true) } }
            return batch.count
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
