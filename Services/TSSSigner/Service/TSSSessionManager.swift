import CryptoPrimitives
import Secp256k1
import TSSCore
import Wire

/// Why a networked session ended without output.
public enum TSSSessionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The protocol aborted; `culprits` are validator addresses.
    case aborted(culprits: [Address], reason: String)
    /// The deadline passed while these validators had not sent what the round needed.
    case unresponsive([Address])
    /// A session with this id already runs here.
    case duplicateSession
    /// Bad arguments (not a participant, unknown peer, ...).
    case invalidArguments(String)
    /// Ended here before its outcome (a participant refused to join, or the node stops).
    case cancelled(String)

    public var description: String {
        switch self {
        case .aborted(let culprits, let reason): "aborted: \(reason) (culprits: \(culprits.map(\.description)))"
        case .unresponsive(let silent): "unresponsive: \(silent.map(\.description))"
        case .duplicateSession: "a session with this id is already running"
        case .invalidArguments(let why): "invalid arguments: \(why)"
        case .cancelled(let why): "cancelled: \(why)"
        }
    }
}

/// The MPC sessions of one tss-signer (issue 4): each protocol machine (keygen, presigning,
/// signing, resharing) runs behind a `SessionTransport`, its datagrams go through the
/// `TSSPeerNetwork`, and a ticker drives retransmission and the deadline. Participants are
/// numbered by their position in the (agreed, sorted) participant list, so every party maps
/// validator addresses to the same party indices.
///
/// Datagrams for a session that has not started here yet (a faster peer) are kept, bounded, and
/// replayed when it starts.
public actor TSSSessionManager {
    /// A validator taking part, and its party index in the protocol (keygen: its position in the
    /// agreed list; presigning and signing: its index in the key).
    public struct Participant: Sendable, Hashable {
        public var address: Address
        public var identity: PublicKey
        public var party: PartyIndex
        public init(address: Address, identity: PublicKey, party: PartyIndex) {
            self.address = address
            self.identity = identity
            self.party = party
        }
    }

    /// One running session, type-erased for the routing table.
    protocol Running: AnyObject {
        func deliver(from peer: Address, _ envelope: Envelope, nowMs: UInt64) -> [SessionTransport.Datagram]
        func tick(nowMs: UInt64) -> (resend: [SessionTransport.Datagram], finished: Bool)
        var addressOf: [PartyIndex: Address] { get }
        func cancel(_ error: TSSSessionError)
    }

    final class Session<Machine, Output: Sendable>: Running {
        var machine: Machine
        var transport: SessionTransport
        let receive: (inout Machine, PartyIndex, Message) -> Action<Output>
        let partyOf: [Address: PartyIndex]
        let addressOf: [PartyIndex: Address]
        var continuation: CheckedContinuation<Output, any Error>?
        /// The outcome, when it came before anyone awaited it.
        var result: Result<Output, TSSSessionError>?
        var ended = false

        init(
            machine: Machine, transport: SessionTransport, partyOf: [Address: PartyIndex],
            receive: @escaping (inout Machine, PartyIndex, Message) -> Action<Output>
        ) {
            self.machine = machine
            self.transport = transport
            self.partyOf = partyOf
            self.addressOf = Dictionary(uniqueKeysWithValues: partyOf.map { ($1, $0) })
            self.receive = receive
        }

        func finish(_ result: Result<Output, TSSSessionError>) {
            guard !ended else { return }
            ended = true
            transport.isSettled = true
            if let continuation {
                continuation.resume(with: result.mapError { $0 as any Error })
                self.continuation = nil
            } else {
                self.result = result
            }
        }

        func deliver(from peer: Address, _ envelope: Envelope, nowMs: UInt64) -> [SessionTransport.Datagram] {
            guard let party = partyOf[peer], envelope.round <= UInt32(UInt8.max) else { return [] }
            let received = transport.receive(
                envelope.payload, from: party, round: UInt8(envelope.round), sequence: envelope.sequence)
            guard case .deliver(let message) = received, !ended else { return [] }
            var out: [Message] = []
            switch receive(&machine, party, message) {
            case .wait: break
            case .send(let messages): out = messages
            case .finished(let output, let messages):
                out = messages
                finish(.success(output))
            case .aborted(let abort):
                finish(
                    .failure(
                        .aborted(
                            culprits: abort.culprits.compactMap { addressOf[$0] }, reason: abort.reason.description)))
            }
            return (try? transport.send(out)) ?? []
        }

        func cancel(_ error: TSSSessionError) { finish(.failure(error)) }

        func tick(nowMs: UInt64) -> (resend: [SessionTransport.Datagram], finished: Bool) {
            switch transport.tick(nowMs: nowMs) {
            case .idle: return ([], false)
            case .resend(let datagrams): return (datagrams, false)
            case .expired(let silent):
                finish(.failure(.unresponsive(silent.compactMap { addressOf[$0] })))
                return ([], true)
            }
        }
    }

    let network: TSSPeerNetwork
    let identity: PrivateKey
    public nonisolated let me: Address
    let configuration: SessionTransport.Configuration
    let clock = ContinuousClock()
    let epoch: ContinuousClock.Instant
    var sessions: [[UInt8]: any Running] = [:]
    var deadlines: [[UInt8]: UInt64] = [:]
    var early: [[UInt8]: [(Address, Envelope)]] = [:]
    static let maxEarlySessions = 64
    static let maxEarlyPerSession = 512

    public init(network: TSSPeerNetwork, identity: PrivateKey, configuration: SessionTransport.Configuration) {
        self.network = network
        self.identity = identity
        self.me = network.me
        self.configuration = configuration
        self.epoch = clock.now
    }

    var nowMs: UInt64 {
        let elapsed = clock.now - epoch
        return UInt64(elapsed.components.seconds) * 1000
            + UInt64(elapsed.components.attoseconds / 1_000_000_000_000_000)
    }

    public var runningSessions: Int { sessions.count }

    /// Ends every running session with `error` (the service stops).
    public func cancelAll(_ error: TSSSessionError) {
        let running = sessions
        sessions = [:]
        deadlines = [:]
        early = [:]
        for session in running.values { session.cancel(error) }
    }

    /// Drops the datagrams kept for a session that will not start here (it was refused).
    public func discardEarly(_ sessionID: [UInt8]) { early[sessionID] = nil }

    /// Ends a running session with `error` (its awaiting caller throws it). False if no such session.
    @discardableResult
    public func cancel(_ sessionID: [UInt8], _ error: TSSSessionError) -> Bool {
        guard let session = sessions.removeValue(forKey: sessionID) else { return false }
        deadlines[sessionID] = nil
        session.cancel(error)
        return true
    }

    /// An envelope from `peer` (authenticated by the network).
    public func deliver(from peer: Address, _ envelope: Envelope) {
        guard let session = sessions[envelope.session] else {
            // Not started here yet: keep it (bounded) for when it does.
            if early[envelope.session] == nil, early.count >= Self.maxEarlySessions { return }
            if early[envelope.session, default: []].count < Self.maxEarlyPerSession {
                early[envelope.session, default: []].append((peer, envelope))
            }
            return
        }
        send(session.deliver(from: peer, envelope, nowMs: nowMs), session: envelope.session, via: session)
    }

    func send(_ datagrams: [SessionTransport.Datagram], session: [UInt8], via running: any Running) {
        for datagram in datagrams {
            guard let peer = running.addressOf[datagram.to] else { continue }
            let network = self.network
            Task {
                await network.send(
                    to: peer, session: session, round: datagram.round, sequence: datagram.sequence,
                    bytes: datagram.bytes)
            }
        }
    }

    func tick(_ sessionID: [UInt8]) -> Bool {
        guard let session = sessions[sessionID] else { return false }
        let (resend, finished) = session.tick(nowMs: nowMs)
        send(resend, session: sessionID, via: session)
        if finished || nowMs >= deadlines[sessionID, default: 0] {
            sessions[sessionID] = nil
            deadlines[sessionID] = nil
            return false
        }
        return true
    }

    /// Runs one session among `participants`; `start` builds our machine (given our party index)
    /// and its first messages. Returns the protocol's output, or throws `TSSSessionError`.
    public func run<Machine: Sendable, Output: Sendable>(
        sessionID: [UInt8], participants: [Participant], protocolSessionID: [UInt8]? = nil,
        start: (PartyIndex) throws -> (Machine, [Message]),
        receive: @escaping (inout Machine, PartyIndex, Message) -> Action<Output>
    ) async throws -> Output {
        try await runSession(
            sessionID: sessionID, participants: participants, protocolSessionID: protocolSessionID, start: start,
            receive: receive
        ).output
    }

    /// The online signing round of `presignature` (consumed) over `digest`, among its signers, in
    /// session `sessionID`: the signature, verified and recovered to the key by `OnlineSigning`.
    public func runSigning(
        sessionID: [UInt8], participants: [Participant], presignature: consuming Presignature, digest: [UInt8],
        identityKey: PrivateKey
    ) async throws -> RecoverableSignature {
        let protocolSession = presignature.sessionID
        let (online, message) = try presignature.sign(digest: digest, identityKey: identityKey)
        return try await run(
            sessionID: sessionID, participants: participants, protocolSessionID: protocolSession,
            start: { _ in (online, [message]) },
            receive: { machine, from, message in machine.receive(from: from, message) })
    }

    /// GG20 presigning by `participants` (the signers, with their key indices) with our `share`:
    /// the finished machine, from which the caller takes the presignature (exactly once).
    public func runPresigning(
        sessionID: [UInt8], participants: [Participant], share: KeyShare, identityKey: PrivateKey
    ) async throws -> Presigning {
        let signers = participants.map(\.party).sorted()
        return try await runSession(
            sessionID: sessionID, participants: participants,
            start: { _ in
                var rng = SecureRandomNumberGenerator()
                return try Presigning.start(
                    keyShare: share, params: PresignParameters(sessionID: sessionID, signers: signers),
                    identityKey: identityKey, rng: &rng)
            },
            receive: { machine, from, message in
                var rng = SecureRandomNumberGenerator()
                return machine.receive(from: from, message, rng: &rng)
            }
        ).machine
    }

    func runSession<Machine: Sendable, Output: Sendable>(
        sessionID: [UInt8], participants: [Participant], protocolSessionID: [UInt8]? = nil,
        start: (PartyIndex) throws -> (Machine, [Message]),
        receive: @escaping (inout Machine, PartyIndex, Message) -> Action<Output>
    ) async throws -> (output: Output, machine: Machine) {
        guard sessions[sessionID] == nil else { throw TSSSessionError.duplicateSession }
        guard let mine = participants.first(where: { $0.address == self.me }) else {
            throw TSSSessionError.invalidArguments("this validator is not a participant")
        }
        guard Set(participants.map(\.address)).count == participants.count,
            Set(participants.map(\.party)).count == participants.count
        else { throw TSSSessionError.invalidArguments("participants or party indices repeat") }
        let myIndex = mine.party
        let partyOf = Dictionary(uniqueKeysWithValues: participants.map { ($0.address, $0.party) })
        let identities = Dictionary(uniqueKeysWithValues: participants.map { ($0.party, $0.identity) })
        let (machine, initial) = try start(myIndex)
        var transport = SessionTransport(
            sessionID: sessionID, me: myIndex, parties: participants.map(\.party).sorted(), identity: identity,
            identities: identities, configuration: configuration, nowMs: nowMs, protocolSessionID: protocolSessionID)
        let first = try transport.send(initial)
        let session = Session(machine: machine, transport: transport, partyOf: partyOf, receive: receive)
        sessions[sessionID] = session
        deadlines[sessionID] = nowMs + configuration.deadlineMs + configuration.resendIntervalMs
        send(first, session: sessionID, via: session)
        for (peer, envelope) in early.removeValue(forKey: sessionID) ?? [] {
            send(session.deliver(from: peer, envelope, nowMs: nowMs), session: sessionID, via: session)
        }
        let interval = Duration.milliseconds(Int64(max(10, configuration.resendIntervalMs / 2)))
        Task { [weak self] in
            while let self, await self.tick(sessionID) {
                try? await Task.sleep(for: interval)
            }
        }
        let output: Output
        if let result = session.result {
            output = try result.get()
        } else {
            output = try await withCheckedThrowingContinuation { continuation in
                session.continuation = continuation
            }
        }
        return (output, session.machine)
    }
}
