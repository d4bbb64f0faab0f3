import CryptoPrimitives
import Secp256k1
import Wire

/// Delivery of one MPC session's messages at one party over a network that drops, duplicates,
/// reorders and reconnects (issue 4), pure: the shell passes the monotonic time in and sends the
/// datagrams it gets back (each in a signed envelope carrying `round` and `sequence`).
///
/// - Broadcasts go to every peer as the signed `Message` encoding; direct messages are sealed to
///   their recipient (`DirectSealing`, AAD = session ‖ round ‖ sequence), so only it can read
///   them. Every received message must name this session, come from the peer it arrived from and
///   be addressed to us (or to all); anything else is rejected and counted.
/// - Duplicates (retransmissions, a replaying network) are delivered to the protocol once.
/// - Acknowledgement is implicit: a peer that sends round r + 1 has finished round r, so it has
///   our round-≤ r messages. Until then ours are sent again every `resendIntervalMs`.
/// - At the deadline the session expires, naming the peers we still wait on: those that have not
///   sent a message of the round we are in (the protocol's own checks blame everything else).
public struct SessionTransport: Sendable {
    public struct Configuration: Sendable {
        public var resendIntervalMs: UInt64
        /// From `init`'s `nowMs`.
        public var deadlineMs: UInt64

        public init(resendIntervalMs: UInt64 = 500, deadlineMs: UInt64 = 60_000) {
            self.resendIntervalMs = resendIntervalMs
            self.deadlineMs = deadlineMs
        }
    }

    /// One transmission to one peer.
    public struct Datagram: Sendable, Equatable {
        public let to: PartyIndex
        public let round: UInt8
        public let sequence: UInt64
        /// u8 0 (plain) or 1 (sealed) ‖ the message encoding or its sealed form.
        public let bytes: [UInt8]
    }

    public enum Received: Sendable, Equatable {
        /// New: feed it to the protocol machine.
        case deliver(Message)
        /// Seen before: ignore.
        case duplicate
        /// Not acceptable (the reason is for logs and counters).
        case rejected(String)
    }

    public enum Tick: Sendable, Equatable {
        case idle
        /// Unacknowledged datagrams to send again.
        case resend([Datagram])
        /// The deadline passed; these peers never sent what we wait for.
        case expired(silent: [PartyIndex])
    }

    let sessionID: [UInt8]
    /// The session id the protocol's messages carry (the online signing round carries its
    /// presigning's); by default the transport's own.
    let protocolSessionID: [UInt8]
    let me: PartyIndex
    let parties: [PartyIndex]
    let identity: PrivateKey
    let identities: [PartyIndex: PublicKey]
    let configuration: Configuration
    let startedMs: UInt64
    var nextSequence: UInt64 = 1
    var lastResendMs: UInt64
    var outstanding: [Datagram] = []
    /// Highest round received from each peer (absent: nothing yet).
    var highestRound: [PartyIndex: UInt8] = [:]
    /// The round of our latest messages (0: none sent yet).
    public private(set) var currentRound: UInt8 = 0
    var delivered: Set<[UInt8]> = []
    public private(set) var rejectedCount = 0
    public private(set) var duplicateCount = 0
    /// Set when the protocol finished or aborted here: nothing is awaited any more (our last
    /// messages are still resent until the deadline, for the peers that need them).
    public var isSettled = false
    /// The peers whose messages this party waits for (nil: every peer); only they can be named at
    /// the deadline. A signer of the service's online round waits for its combiner alone.
    public var awaiting: Set<PartyIndex>?

    public init(
        sessionID: [UInt8], me: PartyIndex, parties: [PartyIndex], identity: PrivateKey,
        identities: [PartyIndex: PublicKey], configuration: Configuration = Configuration(), nowMs: UInt64,
        protocolSessionID: [UInt8]? = nil
    ) {
        self.sessionID = sessionID
        self.protocolSessionID = protocolSessionID ?? sessionID
        self.me = me
        self.parties = parties
        self.identity = identity
        self.identities = identities
        self.configuration = configuration
        self.startedMs = nowMs
        self.lastResendMs = nowMs
    }

    var peers: [PartyIndex] { parties.filter { $0 != me } }

    /// For logs: our round, each peer's highest round, what is unacknowledged, the counters.
    public var diagnostics: String {
        let rounds = peers.map { "\($0):\(highestRound[$0].map(String.init) ?? "-")" }.joined(separator: ",")
        return "party \(me) round \(currentRound) peers [\(rounds)] unacked \(outstanding.count) "
            + "duplicates \(duplicateCount) rejected \(rejectedCount)"
    }

    static func aad(sessionID: [UInt8], round: UInt8, sequence: UInt64) -> [UInt8] {
        var w = WireWriter()
        w.writeBytes(Array("vn/tss/transport/v1".utf8))
        w.writeBytes(sessionID)
        w.writeUInt8(round)
        w.writeUInt64(sequence)
        return w.bytes
    }

    /// Datagrams for the protocol's outgoing `messages` (kept for retransmission).
    /// `broadcastTo` narrows where broadcasts go (nil: every peer); the round still counts as
    /// ours, so a peer that never sends it is named at the deadline. The service's online round
    /// uses it: only the combiner needs the shares.
    public mutating func send(
        _ messages: [Message], broadcastTo: Set<PartyIndex>? = nil
    ) throws(DirectSealing.SealingError) -> [Datagram] {
        var out: [Datagram] = []
        for message in messages {
            currentRound = max(currentRound, message.round)
            let encoded = message.encode()
            switch message.to {
            case .broadcast:
                for peer in peers where broadcastTo?.contains(peer) ?? true {
                    out.append(Datagram(to: peer, round: message.round, sequence: nextSequence, bytes: [0] + encoded))
                    nextSequence += 1
                }
            case .party(let j):
                guard let key = identities[j], j != me else { continue }
                let sequence = nextSequence
                nextSequence += 1
                let sealed = try DirectSealing.seal(
                    encoded, from: identity, to: key, session: sessionID, round: UInt32(message.round),
                    sequence: sequence,
                    header: Self.aad(sessionID: sessionID, round: message.round, sequence: sequence))
                out.append(Datagram(to: j, round: message.round, sequence: sequence, bytes: [1] + sealed))
            }
        }
        outstanding += out
        return out
    }

    /// A datagram from `peer` (the envelope's authenticated sender) with its envelope's round and
    /// sequence.
    public mutating func receive(_ bytes: [UInt8], from peer: PartyIndex, round: UInt8, sequence: UInt64) -> Received {
        func reject(_ why: String) -> Received {
            rejectedCount += 1
            return .rejected(why)
        }
        guard peer != me, let peerKey = identities[peer] else { return reject("sender \(peer) is not in the session") }
        guard let flag = bytes.first, flag <= 1 else { return reject("unknown datagram flag") }
        var encoded = Array(bytes.dropFirst())
        if flag == 1 {
            do {
                encoded = try DirectSealing.open(
                    encoded, at: identity, from: peerKey, session: sessionID, round: UInt32(round), sequence: sequence,
                    header: Self.aad(sessionID: sessionID, round: round, sequence: sequence))
            } catch { return reject("sealed message: \(error)") }
        }
        guard let message = try? Message(decoding: encoded) else { return reject("malformed message") }
        guard message.sessionID == protocolSessionID else { return reject("message of another session") }
        guard message.from == peer else { return reject("message from \(message.from) relayed by \(peer)") }
        guard message.round == round else { return reject("round differs from its envelope") }
        switch message.to {
        case .broadcast: guard flag == 0 else { return reject("sealed broadcast") }
        case .party(let j): guard j == me, flag == 1 else { return reject("direct message not sealed to us") }
        }
        let digest = SHA256.hash(encoded)
        guard delivered.insert(digest).inserted else {
            duplicateCount += 1
            return .duplicate
        }
        if message.round > highestRound[peer, default: 0] {
            highestRound[peer] = message.round
            // The peer is in round `message.round`: it has our messages of every earlier round.
            outstanding.removeAll { $0.to == peer && $0.round < message.round }
        }
        return .deliver(message)
    }

    /// `peer`'s node accepted our datagram `sequence` into the running session there (or that
    /// session had ended there already): it is not sent again. Only a caller whose peer routes
    /// every accepted datagram straight to a live session may report this (the service's online
    /// round, whose combiner holds its session's route before any signer learns of it); anywhere
    /// else acceptance is not delivery, and acknowledgement stays implicit. True when nothing
    /// is left to send to the peers we wait for (`awaiting`, or every peer).
    public mutating func acknowledged(sequence: UInt64, by peer: PartyIndex) -> Bool {
        outstanding.removeAll { $0.to == peer && $0.sequence == sequence }
        return isDelivered
    }

    /// Everything we sent to the peers we wait for was acknowledged (`acknowledged(sequence:by:)`).
    public var isDelivered: Bool {
        currentRound > 0 && !outstanding.contains { awaiting?.contains($0.to) ?? true }
    }

    /// Call regularly with the monotonic time.
    public mutating func tick(nowMs: UInt64) -> Tick {
        if nowMs >= startedMs + configuration.deadlineMs {
            if isSettled { return .idle }
            let silent = peers.filter {
                (awaiting?.contains($0) ?? true) && highestRound[$0, default: 0] < currentRound
            }
            return .expired(silent: silent)
        }
        guard nowMs >= lastResendMs + configuration.resendIntervalMs, !outstanding.isEmpty else { return .idle }
        lastResendMs = nowMs
        return .resend(outstanding)
    }
}
