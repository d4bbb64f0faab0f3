import CryptoPrimitives
import MPCMath
import Secp256k1
import Wire

// The message layer shared by the TSS state machines (keygen, presigning, online signing).
//
// Every message carries its protocol, session id, round, sender and recipient, so nothing
// replays across sessions, protocols or rounds (STYLE: round-based's execution id). Broadcasts are
// signed by the sender's identity key over `broadcastDigest`; the next round echoes the
// (digest, signature) of every broadcast received, so a sender who broadcast different payloads
// to different peers (equivocation) is caught with two valid signatures from it as evidence, and
// an echoer who forges an entry is caught by the invalid signature. Direct messages are signed
// too (over `directDigest`, which binds the recipient), so a recipient that finds a fault in one
// can broadcast it as a complaint that every party re-verifies. The transport (issue 4)
// authenticates `from` (the `receive(from:)` argument); a header that disagrees with it is the
// sender's fault.

/// A party's index in a key (also its Fiat–Shamir party index).
public typealias PartyIndex = UInt32

/// Where a message goes.
public enum Recipient: Sendable, Hashable {
    case broadcast
    case party(PartyIndex)
}

/// Which protocol a message belongs to.
public enum ProtocolKind: UInt8, Sendable {
    case keygen = 1
    case presign = 2
    case sign = 3
    case reshare = 4
}

/// One protocol message, as the state machines produce and consume it.
public struct Message: Sendable, Equatable, CustomStringConvertible {
    public var kind: ProtocolKind
    public var sessionID: [UInt8]
    public var round: UInt8
    public var from: PartyIndex
    public var to: Recipient
    public var payload: [UInt8]
    /// 64-byte compact ECDSA signature by `from`'s identity key over `signingDigest`
    /// (`broadcastDigest` for broadcasts, `directDigest` for direct messages).
    public var signature: [UInt8]

    public init(
        kind: ProtocolKind, sessionID: [UInt8], round: UInt8, from: PartyIndex, to: Recipient, payload: [UInt8],
        signature: [UInt8] = []
    ) {
        self.kind = kind
        self.sessionID = sessionID
        self.round = round
        self.from = from
        self.to = to
        self.payload = payload
        self.signature = signature
    }

    /// SHA-256("vn/tss/broadcast/v2" ‖ kind ‖ u32 |sid| ‖ sid ‖ round ‖ u32 from ‖ SHA-256(payload)).
    /// The payload enters by its hash, so an echo (which carries only that hash) lets a third party
    /// rebuild the digest with *its own* session, protocol and round: a signature replayed from
    /// another session never passes as evidence of equivocation in this one.
    public var broadcastDigest: [UInt8] {
        Self.broadcastDigest(
            kind: kind, sessionID: sessionID, round: round, from: from, payloadHash: SHA256.hash(payload))
    }

    /// `broadcastDigest` from the payload's hash.
    public static func broadcastDigest(
        kind: ProtocolKind, sessionID: [UInt8], round: UInt8, from: PartyIndex, payloadHash: [UInt8]
    ) -> [UInt8] {
        var w = WireWriter(reservingCapacity: 128)
        w.writeString("vn/tss/broadcast/v2")
        w.writeUInt8(kind.rawValue)
        w.writeBytes(sessionID)
        w.writeUInt8(round)
        w.writeUInt32(from)
        w.writeFixedBytes(payloadHash)
        return SHA256.hash(w.bytes)
    }

    /// SHA-256("vn/tss/direct/v1" ‖ kind ‖ u32 |sid| ‖ sid ‖ round ‖ u32 from ‖ u32 to ‖ payload):
    /// the recipient is signed, so a direct message cannot be re-addressed to another party
    /// (domain-separated from `broadcastDigest` by the tag).
    public var directDigest: [UInt8] {
        var w = WireWriter(reservingCapacity: payload.count + 64)
        w.writeString("vn/tss/direct/v1")
        w.writeUInt8(kind.rawValue)
        w.writeBytes(sessionID)
        w.writeUInt8(round)
        w.writeUInt32(from)
        if case .party(let j) = to { w.writeUInt32(j) }
        w.writeFixedBytes(payload)
        return SHA256.hash(w.bytes)
    }

    /// The digest `signature` covers.
    public var signingDigest: [UInt8] {
        if case .party = to { return directDigest }
        return broadcastDigest
    }

    /// True when `signature` is `key`'s signature over `signingDigest`.
    public func hasValidSignature(by key: PublicKey) -> Bool {
        guard let sig = try? ECDSASignature(compact: signature) else { return false }
        return key.verify(sig, digest: signingDigest)
    }

    /// This message signed by `key` (broadcasts and direct messages).
    public func signed(with key: PrivateKey) throws -> Message {
        var copy = self
        copy.signature = try key.sign(digest: signingDigest).compact
        return copy
    }

    /// The version byte that starts `encode()`.
    public static let encodingVersion: UInt8 = 2

    /// Canonical encoding for the transport:
    /// version ‖ kind ‖ sid ‖ round ‖ from ‖ to ‖ payload ‖ signature (every variable field
    /// length-prefixed, so the encoding is injective; decode refuses any other version).
    public func encode() -> [UInt8] {
        var w = WireWriter(reservingCapacity: payload.count + 128)
        w.writeUInt8(Self.encodingVersion)
        w.writeUInt8(kind.rawValue)
        w.writeBytes(sessionID)
        w.writeUInt8(round)
        w.writeUInt32(from)
        switch to {
        case .broadcast: w.writeUInt8(0)
        case .party(let j):
            w.writeUInt8(1)
            w.writeUInt32(j)
        }
        w.writeBytes(payload)
        w.writeBytes(signature)
        return w.bytes
    }

    /// Largest payload accepted (a keygen round-1 broadcast is the biggest, ≈ 70 KiB).
    public static let maximumPayloadBytes = 1 << 20

    public init(decoding bytes: [UInt8]) throws(WireError) {
        var r = WireReader(bytes)
        guard try r.readUInt8() == Self.encodingVersion else { throw .invalidValue("message encoding version") }
        guard let kind = ProtocolKind(rawValue: try r.readUInt8()) else { throw .invalidValue("protocol kind") }
        self.kind = kind
        sessionID = try r.readBytes(maxLength: 64)
        round = try r.readUInt8()
        from = try r.readUInt32()
        switch try r.readUInt8() {
        case 0: to = .broadcast
        case 1: to = .party(try r.readUInt32())
        case let b: throw .invalidPresence(b)
        }
        payload = try r.readBytes(maxLength: Self.maximumPayloadBytes)
        signature = try r.readBytes(maxLength: 64)
        try r.finish()
    }

    public var description: String {
        "Message(\(kind) round \(round) \(from)→\(to), \(payload.count) bytes)"
    }
}

/// Why a protocol aborted (cggmp21's `Reason`): each case names the check that failed, never a
/// secret. Peer faults come with `Abort.culprits`; `.unidentified…` cases have none.
public enum Reason: Sendable, Equatable, CustomStringConvertible {
    /// The message is for another session or protocol (a replay from elsewhere).
    case wrongSession
    /// The header's sender disagrees with the authenticated sender, or the recipient is wrong.
    case wrongPartyIndex
    /// Undecodable or non-canonical payload (the text says which field).
    case malformed(String)
    /// A broadcast's signature does not verify under the sender's identity key.
    case badSignature
    /// A value outside its range or group (the text names it).
    case outOfRange(String)
    /// A zero-knowledge proof failed (the text names the proof and the check).
    case invalidProof(String)
    /// A decommitment does not open the round-1 commitment (GG20 Fig. 5, Phase 1).
    case invalidDecommitment
    /// A Feldman vector does not have exactly t+1 entries.
    case wrongCommitmentLength(found: Int, required: Int)
    /// A dealer's share fails the Feldman check (proven by the recipient's complaint).
    case invalidShare
    /// Two parties use the same Paillier or ring-Pedersen modulus.
    case duplicateModulus
    /// A party sent different broadcasts to different peers (two valid signatures as evidence).
    case equivocation
    /// An echo entry carries a signature that the named sender never made.
    case forgedEcho
    /// A complaint that does not hold: the accuser is blamed (GG20 §4.2).
    case falseAccusation
    /// A party's online signature share s_i fails s_i·R = m·R̄_i + r·S_i.
    case invalidSignatureShare
    /// Type-5 blame (GG20 §4.2, Phase 5 check Σ R̄_i ≠ G or δ not invertible): the party's
    /// broadcast δ_i differs from k_iγ_i + Σ(α_ij + β_ij) recomputed from the revealed values.
    case inconsistentDelta
    /// Type-7 blame (GG20 §4.3, Phase 6 check Σ S_i ≠ y): the party's proofs that S_i = σ_i·R
    /// for the σ_i its ciphertexts carry (Π^mul*, Π^log*(σ)) fail.
    case inconsistentSigma
    /// A party's blame-round data (type-5 reveal, type-7 material) is invalid or missing.
    case invalidBlameData(String)
    /// Σ R̄_i ≠ G but the type-5 procedure found no culprit (only possible if a proof failed
    /// soundly, i.e. never with honest parties).
    case unidentifiedNonceInconsistency
    /// Σ S_i ≠ y but the type-7 procedure found no culprit.
    case unidentifiedSigmaInconsistency
    /// Invalid arguments or key share (our side, not a peer's fault).
    case invalidArguments(String)
    /// A local computation failed on checked values (a bug).
    case internalError(String)

    public var description: String {
        switch self {
        case .wrongSession: "message from another session or protocol"
        case .wrongPartyIndex: "wrong party index in the header"
        case .malformed(let why): "malformed payload: \(why)"
        case .badSignature: "broadcast signature invalid"
        case .outOfRange(let what): "value out of range: \(what)"
        case .invalidProof(let why): "invalid proof: \(why)"
        case .invalidDecommitment: "decommitment does not match the commitment"
        case .wrongCommitmentLength(let found, let required):
            "Feldman vector has \(found) entries, exactly \(required) required"
        case .invalidShare: "share fails the Feldman check"
        case .duplicateModulus: "modulus reused across parties"
        case .equivocation: "different broadcasts to different peers"
        case .forgedEcho: "echo carries a forged signature"
        case .falseAccusation: "complaint does not hold"
        case .invalidSignatureShare: "signature share fails its check"
        case .inconsistentDelta: "delta share inconsistent with the revealed values (type-5 blame)"
        case .inconsistentSigma: "sigma share inconsistent with its ciphertexts (type-7 blame)"
        case .invalidBlameData(let why): "invalid blame data: \(why)"
        case .unidentifiedNonceInconsistency: "sum of R_i is not G, no culprit found"
        case .unidentifiedSigmaInconsistency: "sum of S_i is not y, no culprit found"
        case .invalidArguments(let why): "invalid arguments: \(why)"
        case .internalError(let why): "internal error: \(why)"
        }
    }
}

/// A protocol abort: who is blamed (sorted, possibly empty) and why (frost's `culprits()`).
public struct Abort: Error, Sendable, Equatable, CustomStringConvertible {
    public let culprits: [PartyIndex]
    public let reason: Reason

    public init(culprits: [PartyIndex], reason: Reason) {
        self.culprits = Array(Set(culprits)).sorted()
        self.reason = reason
    }

    static func blame(_ party: PartyIndex, _ reason: Reason) -> Abort { Abort(culprits: [party], reason: reason) }

    public var description: String { "aborted(culprits: \(culprits), reason: \(reason))" }
}

/// What a state machine asks its host to do after an input.
public enum Action<Output: Sendable>: Sendable {
    /// Input stored (or dropped as stale/duplicate); nothing to send yet.
    case wait
    /// A round completed: send these.
    case send([Message])
    /// The protocol completed, with final messages to send (possibly none).
    case finished(Output, [Message])
    /// The protocol aborted; the machine refuses further input.
    case aborted(Abort)
}

// MARK: Round bookkeeping

/// The messages of one round, per sender: at most one broadcast and one direct message each.
struct RoundInbox: Sendable {
    var broadcasts: [PartyIndex: Message] = [:]
    var direct: [PartyIndex: Message] = [:]

    /// Stores `message`; an identical duplicate is dropped (returns false), a different second
    /// message of the same kind from the same sender is equivocation towards us.
    mutating func add(_ message: Message) throws(Abort) -> Bool {
        let isBroadcast = message.to == .broadcast
        let existing = isBroadcast ? broadcasts[message.from] : direct[message.from]
        if let existing {
            if existing == message { return false }
            throw .blame(message.from, .equivocation)
        }
        if isBroadcast { broadcasts[message.from] = message } else { direct[message.from] = message }
        return true
    }

    func isComplete(peers: [PartyIndex], broadcast: Bool, direct needsDirect: Bool) -> Bool {
        peers.allSatisfy { (!broadcast || broadcasts[$0] != nil) && (!needsDirect || direct[$0] != nil) }
    }
}

/// Header checks common to every round (sender, session, protocol, recipient, signature).
/// Returns nil when the message must simply be dropped (a stranger: nobody to blame).
struct HeaderCheck {
    let kind: ProtocolKind
    let sessionID: [UInt8]
    let me: PartyIndex
    let parties: [PartyIndex]
    let identities: [PartyIndex: PublicKey]
    let rounds: ClosedRange<UInt8>

    func check(_ message: Message, from sender: PartyIndex) throws(Abort) -> Bool {
        guard sender != me, parties.contains(sender) else { return false }
        guard message.from == sender else { throw .blame(sender, .wrongPartyIndex) }
        guard message.kind == kind, message.sessionID == sessionID else { throw .blame(sender, .wrongSession) }
        guard rounds.contains(message.round) else { throw .blame(sender, .malformed("round \(message.round)")) }
        if case .party(let j) = message.to, j != me { throw .blame(sender, .wrongPartyIndex) }
        // Broadcasts and direct messages alike: a bad signature on a direct message is judged by
        // its recipient alone (an unsigned message is no evidence a third party could check).
        guard let key = identities[sender], message.hasValidSignature(by: key) else {
            throw .blame(sender, .badSignature)
        }
        return true
    }
}

// MARK: Echo (reliable-broadcast check)

/// One echoed broadcast: the sender, the hash of the payload received and the sender's
/// signature (over `broadcastDigest`, which the verifier rebuilds for its own session and round).
struct EchoEntry: Sendable, Equatable {
    var party: PartyIndex
    var payloadHash: [UInt8]
    var signature: [UInt8]

    /// u32 party ‖ 32-byte payload hash ‖ 64-byte signature.
    static let encodedByteCount = 100

    init(party: PartyIndex, payloadHash: [UInt8], signature: [UInt8]) {
        self.party = party
        self.payloadHash = payloadHash
        self.signature = signature
    }

    init(_ message: Message) {
        self.init(party: message.from, payloadHash: SHA256.hash(message.payload), signature: message.signature)
    }

    static func write(_ entries: [EchoEntry], to w: inout WireWriter) {
        w.writeArray(entries) { w, e in
            w.writeUInt32(e.party)
            w.writeFixedBytes(e.payloadHash)
            w.writeFixedBytes(e.signature)
        }
    }

    static func read(from r: inout WireReader, count: Int) throws(WireError) -> [EchoEntry] {
        let entries = try r.readArray(maxCount: count, minimumElementSize: 100) { r throws(WireError) in
            EchoEntry(
                party: try r.readUInt32(), payloadHash: try r.readFixedBytes(count: 32),
                signature: try r.readFixedBytes(count: 64))
        }
        guard entries.count == count else { throw .invalidValue("echo has \(entries.count) entries") }
        return entries
    }

    /// Checks an echo from `echoer` of the broadcasts of (`kind`, `sessionID`, `round`) against
    /// our own view (`mine`: every party's entry as we received it, ours included), in party
    /// order: a signature that is not the party's over *this* session's and round's digest blames
    /// the echoer (forged or replayed from elsewhere); a valid one on a different payload proves
    /// that its signer equivocated. An entry equal to ours byte for byte (hash and signature) is
    /// not verified again: its signature was verified when the broadcast reached us (or is ours).
    static func verify(
        _ entries: [EchoEntry], echoer: PartyIndex, mine: [PartyIndex: EchoEntry], parties: [PartyIndex],
        identities: [PartyIndex: PublicKey], kind: ProtocolKind, sessionID: [UInt8], round: UInt8
    ) throws(Abort) {
        guard entries.map(\.party) == parties else { throw .blame(echoer, .malformed("echo order")) }
        for entry in entries {
            if let seen = mine[entry.party], seen == entry { continue }
            let digest = Message.broadcastDigest(
                kind: kind, sessionID: sessionID, round: round, from: entry.party, payloadHash: entry.payloadHash)
            guard let key = identities[entry.party], let sig = try? ECDSASignature(compact: entry.signature),
                key.verify(sig, digest: digest)
            else { throw .blame(echoer, .forgedEcho) }
            if entry.payloadHash != mine[entry.party]?.payloadHash { throw .blame(entry.party, .equivocation) }
        }
    }
}

// MARK: Payload codec helpers

extension WireWriter {
    /// A non-negative integer: u32 length ‖ minimal big-endian magnitude.
    mutating func writeInteger(_ x: BigNum) {
        precondition(!x.isNegative, "negative integer in a payload")
        writeBytes(x.declassified().magnitudeBytes())
    }

    mutating func writePoint(_ p: Point) { writeFixedBytes(p.encoded) }
}

extension WireReader {
    /// A non-negative integer of at most `maxBits` bits, minimal encoding.
    mutating func readInteger(maxBits: Int) throws(WireError) -> BigNum {
        let raw = try readBytes(maxLength: (maxBits + 7) / 8)
        guard raw.first != 0 else { throw .invalidValue("integer with a leading zero byte") }
        let x = BigNum(bytes: raw)
        guard x.bitLength <= maxBits else { throw .invalidValue("integer too large") }
        return x
    }

    /// A finite curve point (33-byte compressed).
    mutating func readPoint() throws(WireError) -> Point {
        let raw = try readFixedBytes(count: Point.encodedByteCount)
        guard let p = try? Point(compressed: raw), !p.isInfinity else {
            throw .invalidValue("not a finite curve point")
        }
        return p
    }

    /// A scalar below q (32 bytes).
    mutating func readScalar() throws(WireError) -> Scalar {
        // Scalars read here may be secret (a presignature's k_i, σ_i): no copy is left behind.
        var raw = try readFixedBytes(count: Scalar.byteCount)
        guard let s = try? Scalar(consuming: &raw) else { throw .invalidValue("scalar not below q") }
        return s
    }
}

/// Decodes a payload, blaming `sender` for any malformed field.
func decodePayload<T>(_ message: Message, _ body: (inout WireReader) throws(WireError) -> T) throws(Abort) -> T {
    var r = WireReader(message.payload)
    do {
        let value = try body(&r)
        try r.finish()
        return value
    } catch {
        throw .blame(message.from, .malformed(String(describing: error)))
    }
}

/// Maps a proof failure to a blame.
func requireProof(_ party: PartyIndex, _ name: String, _ body: () throws -> Void) throws(Abort) {
    do { try body() } catch let error as ProofError {
        switch error {
        case .outOfRange(let what): throw .blame(party, .outOfRange("\(name): \(what)"))
        default: throw .blame(party, .invalidProof("\(name): \(error)"))
        }
    } catch { throw .blame(party, .invalidProof("\(name): \(error)")) }
}

extension Scalar {
    /// The scalar as a small integer (share ids, for the Lagrange coefficients).
    static func of(_ value: UInt32) -> Scalar { Scalar(UInt64(value)) }
}

/// x mod q of a 32-byte x-coordinate (ECDSA's r).
func scalarReducing(_ bytes: [UInt8]) -> Scalar? { try? Scalar(reducing: bytes) }

/// λ_i = Π_{j ∈ S, j ≠ i} x_j / (x_j − x_i): the Lagrange coefficient at 0 (GG20 §3, "t-out-of-n").
func lagrangeCoefficient(_ i: PartyIndex, signers: [PartyIndex], shareIDs: [PartyIndex: Scalar]) throws -> Scalar {
    guard let xi = shareIDs[i] else { throw Abort(culprits: [], reason: .invalidArguments("unknown signer")) }
    var num = Scalar.one
    var den = Scalar.one
    for j in signers where j != i {
        guard let xj = shareIDs[j] else { throw Abort(culprits: [], reason: .invalidArguments("unknown signer")) }
        num *= xj
        den *= xj - xi
    }
    return num * (try den.inverse())
}
