import Secp256k1
import TSSCore
import Wire

/// The life of a key share in the store (DESIGN §4, as Metis' PENDING/READY/... states).
///
///   PENDING  keygen under way: parties and threshold known, no share yet
///   READY    keygen finished: the sealed share may sign
///   RETIRED  replaced by a reshare or a re-key: kept sealed, never signs again
///   ERROR    keygen failed (the reason is kept); never signs
public enum KeyStatus: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case pending = 1
    case ready = 2
    case retired = 3
    case error = 4

    public var description: String {
        switch self {
        case .pending: "PENDING"
        case .ready: "READY"
        case .retired: "RETIRED"
        case .error: "ERROR"
        }
    }

    /// The allowed moves. RETIRED and ERROR are final, so a retired share can never be made to
    /// sign again, and READY is reached only from PENDING (with the share).
    public func canMove(to next: KeyStatus) -> Bool {
        switch (self, next) {
        case (.pending, .ready), (.pending, .error), (.ready, .retired), (.ready, .error): true
        default: false
        }
    }
}

/// `"<keyId>:<keygenSessionId>"` (DESIGN §4). Both parts are 1–128 characters of
/// `[A-Za-z0-9._-]`, so the colon is unambiguous and ids never contain a path separator.
public struct KeyRecordID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let keyID: String
    public let sessionID: String

    public static let maxPartLength = 128

    public init(keyID: String, sessionID: String) throws(KeyStoreError) {
        for (name, part) in [("key id", keyID), ("keygen session id", sessionID)] {
            guard Self.isValidPart(part) else {
                throw .invalidArgument(
                    "\(name) must be 1-\(Self.maxPartLength) characters of A-Z a-z 0-9 . _ -, got \(part.debugDescription)"
                )
            }
        }
        self.keyID = keyID
        self.sessionID = sessionID
    }

    /// Parses `"<keyId>:<keygenSessionId>"`.
    public init(parsing text: String) throws(KeyStoreError) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .invalidArgument("record id must be <keyId>:<keygenSessionId>") }
        try self.init(keyID: String(parts[0]), sessionID: String(parts[1]))
    }

    static func isValidPart(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= maxPartLength
            && s.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2e
                    || c == 0x5f || c == 0x2d
            }
    }

    public var description: String { "\(keyID):\(sessionID)" }
    public static func < (a: KeyRecordID, b: KeyRecordID) -> Bool { a.description < b.description }
}

/// The public part of a key record: readable without the passphrase, and the AEAD's associated
/// data, so none of it (status included) can be changed or moved to another record without the
/// seal failing.
public struct KeyRecordHeader: Sendable, Equatable {
    public static let version: UInt8 = 1

    public var id: KeyRecordID
    public var status: KeyStatus
    public var threshold: Int
    public var parties: [PartyIndex]
    public var me: PartyIndex
    /// y, compressed (33 bytes); nil while PENDING.
    public var groupPublicKey: [UInt8]?
    /// The Ethereum address of y (20 bytes); nil while PENDING.
    public var address: [UInt8]?
    /// Milliseconds since the Unix epoch.
    public var createdMs: UInt64
    public var updatedMs: UInt64
    /// Why keygen failed (ERROR only).
    public var errorReason: String?

    public var n: Int { parties.count }

    public init(
        id: KeyRecordID, status: KeyStatus, threshold: Int, parties: [PartyIndex], me: PartyIndex,
        groupPublicKey: [UInt8]?, address: [UInt8]?, createdMs: UInt64, updatedMs: UInt64, errorReason: String?
    ) throws(KeyStoreError) {
        self.id = id
        self.status = status
        self.threshold = threshold
        self.parties = parties
        self.me = me
        self.groupPublicKey = groupPublicKey
        self.address = address
        self.createdMs = createdMs
        self.updatedMs = updatedMs
        self.errorReason = errorReason
        try validate()
    }

    /// The invariants every header satisfies (checked on creation and on decoding).
    func validate() throws(KeyStoreError) {
        guard parties.count >= 2, parties.count <= 255, threshold >= 1, threshold < parties.count,
            zip(parties, parties.dropFirst()).allSatisfy({ $0 < $1 }), parties.contains(me)
        else {
            throw .invalidArgument("parties must be 2-255 ascending indices including ours, with 1 <= t < n")
        }
        guard (groupPublicKey == nil) == (address == nil), groupPublicKey.map({ $0.count == 33 }) ?? true,
            address.map({ $0.count == 20 }) ?? true
        else { throw .invalidArgument("group public key (33 bytes) and address (20 bytes) go together") }
        switch status {
        case .pending:
            guard groupPublicKey == nil else { throw .invalidArgument("a PENDING record has no group key yet") }
        case .ready, .retired:
            guard groupPublicKey != nil else { throw .invalidArgument("a \(status) record needs its group key") }
        case .error:
            break
        }
        guard (status == .error) == (errorReason != nil) else {
            throw .invalidArgument("an error reason belongs to ERROR records only")
        }
        guard (errorReason?.utf8.count ?? 0) <= 1024 else { throw .invalidArgument("error reason too long") }
    }

    public func encode() -> [UInt8] {
        var w = WireWriter()
        w.writeUInt8(Self.version)
        w.writeString(id.keyID)
        w.writeString(id.sessionID)
        w.writeUInt8(status.rawValue)
        w.writeUInt16(UInt16(threshold))
        w.writeArray(parties) { $0.writeUInt32($1) }
        w.writeUInt32(me)
        w.writeOptional(groupPublicKey) { $0.writeFixedBytes($1) }
        w.writeOptional(address) { $0.writeFixedBytes($1) }
        w.writeUInt64(createdMs)
        w.writeUInt64(updatedMs)
        w.writeOptional(errorReason) { $0.writeString($1) }
        return w.take()
    }

    public init(decoding bytes: [UInt8]) throws(KeyStoreError) {
        do {
            var r = WireReader(bytes)
            guard try r.readUInt8() == Self.version else { throw WireError.invalidValue("record header version") }
            let id = try KeyRecordID(
                keyID: r.readString(maxLength: KeyRecordID.maxPartLength),
                sessionID: r.readString(maxLength: KeyRecordID.maxPartLength))
            let status = try r.readTag(KeyStatus.self)
            let threshold = Int(try r.readUInt16())
            let parties = try r.readArray(maxCount: 255, minimumElementSize: 4) { r throws(WireError) in
                try r.readUInt32()
            }
            let me = try r.readUInt32()
            let y = try r.readOptional { r throws(WireError) in try r.readFixedBytes(count: 33) }
            let address = try r.readOptional { r throws(WireError) in try r.readFixedBytes(count: 20) }
            let created = try r.readUInt64()
            let updated = try r.readUInt64()
            let reason = try r.readOptional { r throws(WireError) in try r.readString(maxLength: 1024) }
            try r.finish()
            try self.init(
                id: id, status: status, threshold: threshold, parties: parties, me: me, groupPublicKey: y,
                address: address, createdMs: created, updatedMs: updated, errorReason: reason)
        } catch let error as KeyStoreError {
            throw error
        } catch {
            throw .corrupt("record header: \(error)")
        }
    }

    /// The public metadata as JSON-friendly text fields (for `/status` and listings).
    public var addressHex: String? { address.map { "0x" + Hex.encode($0) } }
    public var groupPublicKeyHex: String? { groupPublicKey.map { Hex.encode($0) } }
}

/// One stored key record: the public header and the sealed share (empty plaintext while PENDING
/// or for a failed keygen, so every record is still authenticated).
///
/// Encoding (version 1): u8 version ‖ bytes header ‖ sealed box.
public struct KeyRecord: Sendable, Equatable {
    public static let version: UInt8 = 1

    public let header: KeyRecordHeader
    let headerBytes: [UInt8]
    let box: SealedBox

    init(header: KeyRecordHeader, box: SealedBox) {
        self.header = header
        self.headerBytes = header.encode()
        self.box = box
    }

    public func encode() -> [UInt8] {
        var w = WireWriter()
        w.writeUInt8(Self.version)
        w.writeBytes(headerBytes)
        box.write(to: &w)
        return w.take()
    }

    /// Decodes the public part and the box (not opened). The header's id must be `expected` (the
    /// LevelDB key it was read under): a record copied to another key is refused before any
    /// decryption.
    public init(decoding bytes: [UInt8], expected: KeyRecordID?) throws(KeyStoreError) {
        var headerBytes: [UInt8] = []
        var box: SealedBox
        do {
            var r = WireReader(bytes)
            guard try r.readUInt8() == Self.version else { throw WireError.invalidValue("record version") }
            headerBytes = try r.readBytes(maxLength: 64 << 10)
            box = try SealedBox(from: &r)
            try r.finish()
        } catch {
            throw .corrupt("key record: \(error)")
        }
        let header = try KeyRecordHeader(decoding: headerBytes)
        if let expected, header.id != expected {
            throw .tampered("record stored under \(expected) claims to be \(header.id)")
        }
        self.header = header
        self.headerBytes = headerBytes
        self.box = box
    }

    /// The associated data of the seal: a domain tag, then the header (which names the record).
    static func associatedData(_ headerBytes: [UInt8]) -> [UInt8] {
        Array("vn/tss/keystore/record/v1".utf8) + headerBytes
    }
    var associatedData: [UInt8] { Self.associatedData(headerBytes) }
}
