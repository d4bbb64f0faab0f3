import CryptoPrimitives
import Secp256k1
import Synchronization
import Wire

/// The round bookkeeping of the signing protocols: inboxes per round, our own broadcasts, header
/// checks, signed broadcasts with the echo of the previous round, and the echo check.
struct Rounds: Sendable {
    let kind: ProtocolKind
    let sessionID: [UInt8]
    let me: PartyIndex
    let parties: [PartyIndex]
    let identities: [PartyIndex: PublicKey]
    let identity: PrivateKey
    let rounds: ClosedRange<UInt8>
    /// Rounds that carry a direct message from every peer (besides the broadcast).
    let directRounds: Set<UInt8>
    var inboxes: [UInt8: RoundInbox] = [:]
    var mine: [UInt8: Message] = [:]
    /// Per round, the peers whose broadcast of that round carries complaints (or a failure
    /// marker) instead of a body: they send no direct message in it, and nobody waits for one.
    var excused: [UInt8: Set<PartyIndex>] = [:]
    var droppedCount = 0

    var peers: [PartyIndex] { parties.filter { $0 != me } }

    /// Stores a message; false when it is dropped (stranger, stale or duplicate).
    mutating func accept(_ message: Message, from sender: PartyIndex, current: UInt8) throws(Abort) -> Bool {
        let header = HeaderCheck(
            kind: kind, sessionID: sessionID, me: me, parties: parties, identities: identities, rounds: rounds)
        guard try header.check(message, from: sender), message.round >= current else {
            droppedCount += 1
            return false
        }
        if case .party = message.to, !directRounds.contains(message.round) {
            throw .blame(sender, .malformed("direct message in round \(message.round)"))
        }
        guard try inboxes[message.round, default: RoundInbox()].add(message) else {
            droppedCount += 1
            return false
        }
        return true
    }

    func isComplete(_ round: UInt8) -> Bool {
        let inbox = inboxes[round, default: RoundInbox()]
        let needsDirect = directRounds.contains(round)
        let excusedPeers = excused[round, default: []]
        return peers.allSatisfy { j in
            inbox.broadcasts[j] != nil && (!needsDirect || inbox.direct[j] != nil || excusedPeers.contains(j))
        }
    }

    func inbox(_ round: UInt8) -> RoundInbox { inboxes[round, default: RoundInbox()] }

    /// A signed broadcast of `round`, prefixed with our echo of round `echoOf`.
    mutating func broadcast(
        round: UInt8, echoOf: UInt8?, _ body: (inout WireWriter) -> Void
    ) throws(Abort) -> Message {
        var w = WireWriter()
        if let echoOf { EchoEntry.write(echoView(echoOf), to: &w) }
        body(&w)
        let payload = w.bytes
        let message = try local("sign broadcast") {
            try Message(kind: kind, sessionID: sessionID, round: round, from: me, to: .broadcast, payload: payload)
                .signed(with: identity)
        }
        mine[round] = message
        return message
    }

    /// A signed direct message of `round` to `j` (signed so that `j` can show it to everyone in
    /// a complaint).
    func direct(round: UInt8, to j: PartyIndex, _ body: (inout WireWriter) -> Void) throws(Abort) -> Message {
        var w = WireWriter()
        body(&w)
        let payload = w.bytes
        return try local("sign direct") {
            try Message(kind: kind, sessionID: sessionID, round: round, from: me, to: .party(j), payload: payload)
                .signed(with: identity)
        }
    }

    func echoView(_ round: UInt8) -> [EchoEntry] {
        parties.map { j in EchoEntry(j == me ? mine[round]! : inboxes[round]!.broadcasts[j]!) }
    }

    /// Reads the echo prefix of `message`, checks it against our view of round `round`, and
    /// returns the reader positioned after it.
    func checkEcho(_ message: Message, of round: UInt8, view: [EchoEntry]) throws(Abort) -> WireReader {
        var r = WireReader(message.payload)
        let entries: [EchoEntry]
        do { entries = try EchoEntry.read(from: &r, count: parties.count) } catch {
            throw .blame(message.from, .malformed("echo: \(error)"))
        }
        let mine = Dictionary(uniqueKeysWithValues: view.map { ($0.party, $0) })
        try EchoEntry.verify(
            entries, echoer: message.from, mine: mine, parties: parties, identities: identities, kind: kind,
            sessionID: sessionID, round: round)
        return r
    }
}

/// Reads the rest of a payload, blaming the sender for any malformed field or trailing bytes.
func decodeRest<T>(
    _ reader: WireReader, from sender: PartyIndex, _ body: (inout WireReader) throws(WireError) -> T
) throws(Abort) -> T {
    var r = reader
    do {
        let value = try body(&r)
        try r.finish()
        return value
    } catch {
        throw .blame(sender, .malformed(String(describing: error)))
    }
}

/// A slot filled once and taken once, shared by every copy of its owner: a copy of a state
/// machine that finishes again cannot produce a second presignature from the same nonces.
final class OnceSlot<Value: Sendable>: Sendable {
    enum State { case pending, ready(Value), taken }
    private let state = Mutex<State>(.pending)
    init() {}
    /// False when the slot was filled before.
    func fill(_ value: Value) -> Bool {
        state.withLock { s in
            guard case .pending = s else { return false }
            s = .ready(value)
            return true
        }
    }
    func take() -> Value? {
        state.withLock { s in
            guard case .ready(let v) = s else { return nil }
            s = .taken
            return v
        }
    }
}

// MARK: Complaints about direct messages

/// A complaint: the signed direct message `accused` sent to the complainer in `round`, shown to
/// everyone. The header is implied (this protocol, this session, that round, accused → the
/// complainer), so only the payload and the signature travel; a third party rebuilds the message,
/// checks the accused's signature and re-runs the recipient's check on public values.
struct Complaint: Sendable, Equatable {
    var accused: PartyIndex
    var payload: [UInt8]
    var signature: [UInt8]
    /// What the judges need besides the message, when the recipient's check used a secret (an
    /// opening of a ciphertext under the complainer's key); empty otherwise.
    var evidence: [UInt8]

    static let maximumEvidenceBytes = 1 << 12

    init(accused: PartyIndex, payload: [UInt8], signature: [UInt8], evidence: [UInt8] = []) {
        self.accused = accused
        self.payload = payload
        self.signature = signature
        self.evidence = evidence
    }

    init(_ message: Message, evidence: [UInt8] = []) {
        self.init(accused: message.from, payload: message.payload, signature: message.signature, evidence: evidence)
    }

    /// The direct message the complaint shows, with its header rebuilt.
    func message(kind: ProtocolKind, sessionID: [UInt8], round: UInt8, complainer: PartyIndex) -> Message {
        Message(
            kind: kind, sessionID: sessionID, round: round, from: accused, to: .party(complainer), payload: payload,
            signature: signature)
    }

    /// count ‖ (u32 accused ‖ bytes payload ‖ bytes signature ‖ bytes evidence)*.
    static func write(_ complaints: [Complaint], to w: inout WireWriter) {
        w.writeArray(complaints) { w, c in
            w.writeUInt32(c.accused)
            w.writeBytes(c.payload)
            w.writeBytes(c.signature)
            w.writeBytes(c.evidence)
        }
    }

    static func read(from r: inout WireReader, maxCount: Int) throws(WireError) -> [Complaint] {
        try r.readArray(maxCount: maxCount, minimumElementSize: 16) { r throws(WireError) in
            Complaint(
                accused: try r.readUInt32(), payload: try r.readBytes(maxLength: Message.maximumPayloadBytes),
                signature: try r.readBytes(maxLength: 64), evidence: try r.readBytes(maxLength: maximumEvidenceBytes))
        }
    }
}
