// Messages of the tss-signer service (issue 4):
//
// - operator requests, consensus-manager → its tss-signer (`MethodID.tssKeygen` …), each inside an
//   `Envelope` signed with the node's validator key so that a tss-signer obeys its own
//   consensus-manager only;
// - `TSSAuthorizeRequest`, tss-signer → its consensus-manager, before the tss-signer takes part in
//   any session;
// - `TSSSessionProposal`, tss-signer → peers' tss-signers (`MethodID.tssPropose`): what a session
//   is, so that each peer can ask its own consensus-manager before joining;
// - `TSSAbandon`, a coordinator → the peers that joined (`MethodID.tssAbandon`): the session will
//   not complete (another participant refused), so they end it now instead of at the deadline;
// - the consensus-manager's local operator API (`MethodID.consensusTSSApprove` …).

/// Caps enforced on decode.
public enum TSSWireLimits {
    /// A key id: 1…128 characters of `A-Z a-z 0-9 . _ -` (it is part of a store key).
    public static let maxKeyIDBytes = 128
    public static let maxPurposeBytes = 128
    public static let maxParties = 64
    public static let maxReasonBytes = 1024
    public static let maxKeys = 4096
    /// A reshare's key data: the group key and up to `maxParties` (share id, public share) pairs.
    public static let maxKeyDataBytes = 33 + 4 + maxParties * (32 + 33) + 64

    /// True for a valid key id or keygen session name (`A-Z a-z 0-9 . _ -`, 1…128 bytes).
    public static func isValidName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= maxKeyIDBytes
            && s.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2e
                    || c == 0x5f || c == 0x2d
            }
    }

    static func readName(
        _ reader: inout WireReader, _ what: String, allowEmpty: Bool = false
    ) throws(WireError)
        -> String
    {
        let s = try reader.readString(maxLength: maxKeyIDBytes)
        if allowEmpty, s.isEmpty { return s }
        guard isValidName(s) else { throw .invalidValue("\(what) must be 1-128 characters of A-Z a-z 0-9 . _ -") }
        return s
    }

    static func readParties(_ reader: inout WireReader, allowEmpty: Bool = false) throws(WireError) -> [Address] {
        let list = try reader.readArray(maxCount: maxParties, minimumElementSize: 20) {
            (r: inout WireReader) throws(WireError) in try r.readAddress()
        }
        guard allowEmpty || !list.isEmpty else { throw .invalidValue("empty party list") }
        guard Set(list).count == list.count else { throw .invalidValue("a party appears twice") }
        return list
    }

    static func cut(_ text: String) -> String {
        var cut = Substring(text)
        while cut.utf8.count > maxReasonBytes { cut = cut.dropLast() }
        return String(cut)
    }
}

/// What a session does.
public enum TSSSessionKind: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// A new key (also re-key: a fresh key under the same key id).
    case keygen = 1
    /// Presigning for the presignature pool (no message yet).
    case presign = 2
    /// One signature (presigning first unless a pooled presignature is named).
    case sign = 3
    /// The key's shares moved to a new committee and threshold.
    case reshare = 4

    public var description: String {
        switch self {
        case .keygen: "keygen"
        case .presign: "presign"
        case .sign: "sign"
        case .reshare: "reshare"
        }
    }

    public init?(name: String) {
        guard let kind = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = kind
    }
}

/// A session, as its coordinator announces it to the other participants (`MethodID.tssPropose`).
/// Every participant derives the same session id from it (`sessionID(chainID:)`), asks its own
/// consensus-manager `TSSAuthorizeRequest` with it, and only then takes part.
public struct TSSSessionProposal: WireMessage, Hashable {
    public var kind: TSSSessionKind
    public var keyID: String
    /// The key record the session uses (`<keyId>:<keygenSession>` in the key store); empty for
    /// keygen.
    public var keygenSession: String
    public var purpose: String
    /// 32 bytes: the digest to sign (sign), else zeros.
    public var messageHash: [UInt8]
    /// keygen: every party; presign and sign: the signers; reshare: the dealers (old holders).
    public var parties: [Address]
    /// keygen: t; reshare: the new t; else the key's t.
    public var threshold: UInt16
    /// reshare: the new committee; else empty.
    public var newParties: [Address]
    /// sign: the presigning session whose presignature is used (32 bytes), or empty for a full
    /// signing (presigning, then the online round).
    public var presignSession: [UInt8]
    /// reshare: the key's public data the newcomers need (the group key and the dealers' share ids
    /// and public shares, as the tss-signer encodes them); else empty. Old holders check it
    /// against their own share.
    public var keyData: [UInt8]
    public var coordinator: Address
    /// Makes repeated sessions with the same content distinct (the coordinator's counter).
    public var nonce: UInt64

    public init(
        kind: TSSSessionKind, keyID: String, keygenSession: String = "", purpose: String = "",
        messageHash: [UInt8] = [UInt8](repeating: 0, count: 32), parties: [Address], threshold: UInt16,
        newParties: [Address] = [], presignSession: [UInt8] = [], keyData: [UInt8] = [], coordinator: Address,
        nonce: UInt64
    ) {
        self.kind = kind
        self.keyID = keyID
        self.keygenSession = keygenSession
        self.purpose = purpose
        self.messageHash = messageHash
        self.parties = parties
        self.threshold = threshold
        self.newParties = newParties
        self.presignSession = presignSession
        self.keyData = keyData
        self.coordinator = coordinator
        self.nonce = nonce
    }

    /// What the session id hashes (`sessionID(chainID:)` in the RPC module: SHA-256 of this):
    /// "vn/tss/session/v1" ‖ chainID ‖ encoding, each length-prefixed where variable.
    public func sessionIDPreimage(chainID: String) -> [UInt8] {
        var w = WireWriter()
        w.writeString("vn/tss/session/v1")
        w.writeString(chainID)
        w.writeMessage(self)
        return w.bytes
    }

    /// Everyone taking part: the parties, then newcomers of a reshare.
    public var participants: [Address] { parties + newParties.filter { !parties.contains($0) } }

    public func encode(to writer: inout WireWriter) {
        writer.writeTag(kind)
        writer.writeString(keyID)
        writer.writeString(keygenSession)
        writer.writeString(purpose)
        writer.writeFixedBytes(messageHash)
        writer.writeArray(parties) { $0.writeAddress($1) }
        writer.writeUInt16(threshold)
        writer.writeArray(newParties) { $0.writeAddress($1) }
        writer.writeBytes(presignSession)
        writer.writeBytes(keyData)
        writer.writeAddress(coordinator)
        writer.writeUInt64(nonce)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        kind = try reader.readTag(TSSSessionKind.self)
        keyID = try TSSWireLimits.readName(&reader, "key id")
        keygenSession = try TSSWireLimits.readName(&reader, "keygen session", allowEmpty: true)
        purpose = try reader.readString(maxLength: TSSWireLimits.maxPurposeBytes)
        messageHash = try reader.readFixedBytes(count: 32)
        parties = try TSSWireLimits.readParties(&reader)
        threshold = try reader.readUInt16()
        newParties = try TSSWireLimits.readParties(&reader, allowEmpty: true)
        presignSession = try reader.readBytes(maxLength: 32)
        keyData = try reader.readBytes(maxLength: TSSWireLimits.maxKeyDataBytes)
        coordinator = try reader.readAddress()
        nonce = try reader.readUInt64()
        guard presignSession.isEmpty || presignSession.count == 32 else {
            throw .invalidValue("presign session must be empty or 32 bytes")
        }
        guard (kind == .keygen) == keygenSession.isEmpty else {
            throw .invalidValue("keygen names no key record; every other session names one")
        }
        guard (kind == .reshare) != newParties.isEmpty else {
            throw .invalidValue("only a reshare names a new committee")
        }
        guard presignSession.isEmpty || kind == .sign else { throw .invalidValue("only a signing uses a presignature") }
        guard (kind == .reshare) != keyData.isEmpty else { throw .invalidValue("only a reshare carries key data") }
        switch kind {
        case .keygen:
            guard parties.count >= 2, threshold >= 1, Int(threshold) < parties.count else {
                throw .invalidValue("keygen needs n ≥ 2 parties and 1 ≤ t < n")
            }
        case .reshare:
            guard newParties.count >= 2, threshold >= 1, Int(threshold) < newParties.count else {
                throw .invalidValue("reshare needs n' ≥ 2 parties and 1 ≤ t' < n'")
            }
        case .presign, .sign:
            guard threshold >= 1, parties.count == Int(threshold) + 1 else {
                throw .invalidValue("exactly t + 1 signers")
            }
        }
    }
}

/// tss-signer → its consensus-manager (`MethodID.consensusTSSAuthorize`): may this node take part
/// in the session? Asked by every participant, the coordinator included.
public struct TSSAuthorizeRequest: WireMessage, Hashable {
    public var sessionID: [UInt8]
    public var kind: TSSSessionKind
    public var keyID: String
    public var purpose: String
    public var messageHash: [UInt8]

    public init(sessionID: [UInt8], kind: TSSSessionKind, keyID: String, purpose: String, messageHash: [UInt8]) {
        self.sessionID = sessionID
        self.kind = kind
        self.keyID = keyID
        self.purpose = purpose
        self.messageHash = messageHash
    }

    public init(_ proposal: TSSSessionProposal, sessionID: [UInt8]) {
        self.init(
            sessionID: sessionID, kind: proposal.kind, keyID: proposal.keyID, purpose: proposal.purpose,
            messageHash: proposal.messageHash)
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeFixedBytes(sessionID)
        writer.writeTag(kind)
        writer.writeString(keyID)
        writer.writeString(purpose)
        writer.writeFixedBytes(messageHash)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        sessionID = try reader.readFixedBytes(count: 32)
        kind = try reader.readTag(TSSSessionKind.self)
        keyID = try TSSWireLimits.readName(&reader, "key id")
        purpose = try reader.readString(maxLength: TSSWireLimits.maxPurposeBytes)
        messageHash = try reader.readFixedBytes(count: 32)
    }
}

/// The consensus-manager's answer to `TSSAuthorizeRequest` (also the answer to its operator's
/// `TSSApproveRequest`).
public struct TSSAuthorizeReply: WireMessage, Hashable {
    public var approved: Bool
    public var reason: String

    public init(approved: Bool, reason: String) {
        self.approved = approved
        self.reason = TSSWireLimits.cut(reason)
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeBool(approved)
        writer.writeString(reason)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        approved = try reader.readBool()
        reason = try reader.readString(maxLength: TSSWireLimits.maxReasonBytes)
    }
}

/// The operator approves sessions at its consensus-manager (`MethodID.consensusTSSApprove`):
/// `kind` on `keyID`, for `purpose` and `messageHash` when signing (zeros otherwise), until
/// `ttlSeconds` from now. Until the PoS application exists this is the only source of approvals.
public struct TSSApproveRequest: WireMessage, Hashable {
    public var kind: TSSSessionKind
    public var keyID: String
    public var purpose: String
    public var messageHash: [UInt8]
    public var ttlSeconds: UInt32

    public static let maxTTLSeconds: UInt32 = 7 * 24 * 3600

    public init(
        kind: TSSSessionKind, keyID: String, purpose: String = "",
        messageHash: [UInt8] = [UInt8](repeating: 0, count: 32), ttlSeconds: UInt32 = 600
    ) {
        self.kind = kind
        self.keyID = keyID
        self.purpose = purpose
        self.messageHash = messageHash
        self.ttlSeconds = ttlSeconds
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeTag(kind)
        writer.writeString(keyID)
        writer.writeString(purpose)
        writer.writeFixedBytes(messageHash)
        writer.writeUInt32(ttlSeconds)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        kind = try reader.readTag(TSSSessionKind.self)
        keyID = try TSSWireLimits.readName(&reader, "key id")
        purpose = try reader.readString(maxLength: TSSWireLimits.maxPurposeBytes)
        messageHash = try reader.readFixedBytes(count: 32)
        ttlSeconds = try reader.readUInt32()
        guard ttlSeconds >= 1, ttlSeconds <= Self.maxTTLSeconds else {
            throw .invalidValue("ttl must be 1…\(Self.maxTTLSeconds) seconds")
        }
    }
}

/// `Keygen(keyId, parties, threshold)`.
public struct TSSKeygenRequest: WireMessage, Hashable {
    public var keyID: String
    public var parties: [Address]
    public var threshold: UInt16

    public init(keyID: String, parties: [Address], threshold: UInt16) {
        self.keyID = keyID
        self.parties = parties
        self.threshold = threshold
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeString(keyID)
        writer.writeArray(parties) { $0.writeAddress($1) }
        writer.writeUInt16(threshold)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        keyID = try TSSWireLimits.readName(&reader, "key id")
        parties = try TSSWireLimits.readParties(&reader)
        threshold = try reader.readUInt16()
        guard parties.count >= 2, threshold >= 1, Int(threshold) < parties.count else {
            throw .invalidValue("keygen needs n ≥ 2 parties and 1 ≤ t < n")
        }
    }
}

/// `Sign(keyId, messageHash, purpose, signers?)`. Empty `signers`: the tss-signer picks t+1
/// (itself first, then responsive peers, preferring a set with a pooled presignature).
/// `keygenSession` names a key record explicitly (empty: the key's READY record).
public struct TSSSignRequest: WireMessage, Hashable {
    public var keyID: String
    public var messageHash: [UInt8]
    public var purpose: String
    public var signers: [Address]
    public var keygenSession: String

    public init(
        keyID: String, messageHash: [UInt8], purpose: String, signers: [Address] = [], keygenSession: String = ""
    ) {
        self.keyID = keyID
        self.messageHash = messageHash
        self.purpose = purpose
        self.signers = signers
        self.keygenSession = keygenSession
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeString(keyID)
        writer.writeFixedBytes(messageHash)
        writer.writeString(purpose)
        writer.writeArray(signers) { $0.writeAddress($1) }
        writer.writeString(keygenSession)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        keyID = try TSSWireLimits.readName(&reader, "key id")
        messageHash = try reader.readFixedBytes(count: 32)
        purpose = try reader.readString(maxLength: TSSWireLimits.maxPurposeBytes)
        signers = try TSSWireLimits.readParties(&reader, allowEmpty: true)
        keygenSession = try TSSWireLimits.readName(&reader, "keygen session", allowEmpty: true)
    }
}

/// `Reshare(keyId, newParties, newThreshold)`.
public struct TSSReshareRequest: WireMessage, Hashable {
    public var keyID: String
    public var newParties: [Address]
    public var newThreshold: UInt16

    public init(keyID: String, newParties: [Address], newThreshold: UInt16) {
        self.keyID = keyID
        self.newParties = newParties
        self.newThreshold = newThreshold
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeString(keyID)
        writer.writeArray(newParties) { $0.writeAddress($1) }
        writer.writeUInt16(newThreshold)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        keyID = try TSSWireLimits.readName(&reader, "key id")
        newParties = try TSSWireLimits.readParties(&reader)
        newThreshold = try reader.readUInt16()
        guard newParties.count >= 2, newThreshold >= 1, Int(newThreshold) < newParties.count else {
            throw .invalidValue("reshare needs n' ≥ 2 parties and 1 ≤ t' < n'")
        }
    }
}

/// `Rekey(keyId)`, `GetKey(keyId)`, and `ListKeys` (empty `keyID`).
public struct TSSKeyQuery: WireMessage, Hashable {
    public var keyID: String

    public init(keyID: String) { self.keyID = keyID }

    public func encode(to writer: inout WireWriter) { writer.writeString(keyID) }

    public init(from reader: inout WireReader) throws(WireError) {
        keyID = try TSSWireLimits.readName(&reader, "key id", allowEmpty: true)
    }
}

/// One key record, public part.
public struct TSSKeyInfo: WireMessage, Hashable {
    public var keyID: String
    public var keygenSession: String
    /// `KeyStatus` raw value: 1 PENDING, 2 READY, 3 RETIRED, 4 ERROR.
    public var status: UInt8
    public var threshold: UInt16
    public var parties: [Address]
    /// 33 bytes (compressed) once READY, else empty.
    public var publicKey: [UInt8]
    /// 20 bytes once READY, else empty.
    public var address: [UInt8]
    /// Presignatures of this record ready in the pool.
    public var presignatures: UInt32
    /// Why the record is in ERROR, else empty.
    public var reason: String

    public init(
        keyID: String, keygenSession: String, status: UInt8, threshold: UInt16, parties: [Address], publicKey: [UInt8],
        address: [UInt8], presignatures: UInt32, reason: String = ""
    ) {
        self.keyID = keyID
        self.keygenSession = keygenSession
        self.status = status
        self.threshold = threshold
        self.parties = parties
        self.publicKey = publicKey
        self.address = address
        self.presignatures = presignatures
        self.reason = TSSWireLimits.cut(reason)
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeString(keyID)
        writer.writeString(keygenSession)
        writer.writeUInt8(status)
        writer.writeUInt16(threshold)
        writer.writeArray(parties) { $0.writeAddress($1) }
        writer.writeBytes(publicKey)
        writer.writeBytes(address)
        writer.writeUInt32(presignatures)
        writer.writeString(reason)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        keyID = try TSSWireLimits.readName(&reader, "key id")
        keygenSession = try TSSWireLimits.readName(&reader, "keygen session")
        status = try reader.readUInt8()
        threshold = try reader.readUInt16()
        parties = try TSSWireLimits.readParties(&reader, allowEmpty: true)
        publicKey = try reader.readBytes(maxLength: 33)
        address = try reader.readBytes(maxLength: 20)
        presignatures = try reader.readUInt32()
        reason = try reader.readString(maxLength: TSSWireLimits.maxReasonBytes)
        guard publicKey.isEmpty || publicKey.count == 33, address.isEmpty || address.count == 20 else {
            throw .invalidValue("public key must be 33 bytes and address 20 bytes when present")
        }
    }

    /// `0x…` (lower case) or nil before the key is READY.
    public var addressHex: String? { address.isEmpty ? nil : "0x" + Hex.encode(address) }
}

/// `ListKeys` and `GetKey` answers: every record of the key (GetKey) or of every key (ListKeys).
public struct TSSKeyList: WireMessage, Hashable {
    public var keys: [TSSKeyInfo]

    public init(keys: [TSSKeyInfo]) { self.keys = keys }

    public func encode(to writer: inout WireWriter) { writer.writeArray(keys) { $0.writeMessage($1) } }

    public init(from reader: inout WireReader) throws(WireError) {
        keys = try reader.readArray(maxCount: TSSWireLimits.maxKeys, minimumElementSize: 16) {
            (r: inout WireReader) throws(WireError) in try r.readMessage(TSSKeyInfo.self)
        }
    }
}

/// A threshold signature: verified against the group key and recovered to it before release.
public struct TSSSignature: WireMessage, Hashable {
    public var keyID: String
    public var keygenSession: String
    public var messageHash: [UInt8]
    public var r: [UInt8]
    public var s: [UInt8]
    /// Recovery id, 0 or 1.
    public var v: UInt8
    public var signers: [Address]
    public var sessionID: [UInt8]
    /// True when a pooled presignature was used (only the online round ran).
    public var pooled: Bool

    public init(
        keyID: String, keygenSession: String, messageHash: [UInt8], r: [UInt8], s: [UInt8], v: UInt8,
        signers: [Address], sessionID: [UInt8], pooled: Bool
    ) {
        self.keyID = keyID
        self.keygenSession = keygenSession
        self.messageHash = messageHash
        self.r = r
        self.s = s
        self.v = v
        self.signers = signers
        self.sessionID = sessionID
        self.pooled = pooled
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeString(keyID)
        writer.writeString(keygenSession)
        writer.writeFixedBytes(messageHash)
        writer.writeFixedBytes(r)
        writer.writeFixedBytes(s)
        writer.writeUInt8(v)
        writer.writeArray(signers) { $0.writeAddress($1) }
        writer.writeFixedBytes(sessionID)
        writer.writeBool(pooled)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        keyID = try TSSWireLimits.readName(&reader, "key id")
        keygenSession = try TSSWireLimits.readName(&reader, "keygen session")
        messageHash = try reader.readFixedBytes(count: 32)
        r = try reader.readFixedBytes(count: 32)
        s = try reader.readFixedBytes(count: 32)
        v = try reader.readUInt8()
        signers = try TSSWireLimits.readParties(&reader)
        sessionID = try reader.readFixedBytes(count: 32)
        pooled = try reader.readBool()
        guard v <= 1 else { throw .invalidValue("recovery id must be 0 or 1") }
    }
}

/// `Status`: the tss-signer's state in numbers, and its whole `/status` object as JSON text.
public struct TSSStatusReply: WireMessage, Hashable {
    public var keysReady: UInt32
    public var sessionsRunning: UInt32
    public var preparamsReady: UInt32
    public var presignatures: UInt32
    public var peersKnown: UInt32
    public var peersConnected: UInt32
    /// The `/status` object (JSON), at most `maxStatusBytes`.
    public var json: String

    public static let maxStatusBytes = 1 << 20

    public init(
        keysReady: UInt32, sessionsRunning: UInt32, preparamsReady: UInt32, presignatures: UInt32, peersKnown: UInt32,
        peersConnected: UInt32, json: String
    ) {
        self.keysReady = keysReady
        self.sessionsRunning = sessionsRunning
        self.preparamsReady = preparamsReady
        self.presignatures = presignatures
        self.peersKnown = peersKnown
        self.peersConnected = peersConnected
        self.json = json.utf8.count <= Self.maxStatusBytes ? json : "{}"
    }

    public func encode(to writer: inout WireWriter) {
        for value in [keysReady, sessionsRunning, preparamsReady, presignatures, peersKnown, peersConnected] {
            writer.writeUInt32(value)
        }
        writer.writeString(json)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        keysReady = try reader.readUInt32()
        sessionsRunning = try reader.readUInt32()
        preparamsReady = try reader.readUInt32()
        presignatures = try reader.readUInt32()
        peersKnown = try reader.readUInt32()
        peersConnected = try reader.readUInt32()
        json = try reader.readString(maxLength: Self.maxStatusBytes)
    }
}

/// A coordinator gives up a session it proposed (`MethodID.tssAbandon`, in an `Envelope` signed by
/// the coordinator whose `session` is the session id): a participant refused or could not be
/// reached, so the peers that joined end their part now, not at the deadline. Only the session's
/// own coordinator is obeyed.
public struct TSSAbandon: WireMessage, Hashable {
    /// Why, for the peers' logs (at most `TSSWireLimits.maxReasonBytes`, truncated when built).
    public var reason: String

    public init(reason: String) {
        var text = reason
        while text.utf8.count > TSSWireLimits.maxReasonBytes { text.removeLast() }
        self.reason = text
    }

    public func encode(to writer: inout WireWriter) { writer.writeString(reason) }

    public init(from reader: inout WireReader) throws(WireError) {
        reason = try reader.readString(maxLength: TSSWireLimits.maxReasonBytes)
    }
}
