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
        inboxes[round, default: RoundInbox()].isComplete(
            peers: peers, broadcast: true, direct: directRounds.contains(round))
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

    func direct(round: UInt8, to j: PartyIndex, _ body: (inout WireWriter) -> Void) -> Message {
        var w = WireWriter()
        body(&w)
        return Message(kind: kind, sessionID: sessionID, round: round, from: me, to: .party(j), payload: w.bytes)
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
        let mine = Dictionary(uniqueKeysWithValues: view.map { ($0.party, $0.digest) })
        try EchoEntry.verify(entries, echoer: message.from, mine: mine, parties: parties, identities: identities)
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
