import CryptoPrimitives
import MPCMath
import Secp256k1
import Synchronization
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
/// The manager only routes: each session processes its messages in the task that runs it (the
/// service gives each session a task of its own, a signing at a higher priority than background
/// presigning, pool refills on the background executor), so one session's proof checks never
/// hold up another's; cancelling that task ends the session. Datagrams for a session that has not started here yet (a
/// faster peer) are kept, bounded, and replayed when it starts. The routing table sits behind a
/// lock, so the network's event loop hands an authenticated datagram straight to its session's
/// stream (no task or actor hop between the socket and the session: each hop is a thread wake-up
/// on the online signing's critical path).
public final class TSSSessionManager: Sendable {
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

    /// What a session's task processes, in order.
    enum Event: Sendable {
        case envelope(Address, Envelope)
        /// The peer's node accepted our datagram with this sequence (sessions that finish on
        /// delivery only).
        case acknowledged(Address, UInt64)
        case tick
        case cancel(TSSSessionError)
    }

    /// A running session as the router sees it.
    struct Route: Sendable {
        let events: AsyncStream<Event>.Continuation
    }

    /// One session's state: touched only by the task that runs it (`runSession`), so it needs no lock.
    final class Session<Machine, Output: Sendable>: @unchecked Sendable {
        var machine: Machine
        var transport: SessionTransport
        let receive: (inout Machine, PartyIndex, Message) -> Action<Output>
        /// Set for a session that ends once what it sent is acknowledged (`SessionTransport.isDelivered`).
        let delivered: ((inout Machine) -> Action<Output>)?
        let partyOf: [Address: PartyIndex]
        let addressOf: [PartyIndex: Address]
        let outcome = ResultSlot<Output>()
        var ended = false

        init(
            machine: Machine, transport: SessionTransport, partyOf: [Address: PartyIndex],
            receive: @escaping (inout Machine, PartyIndex, Message) -> Action<Output>,
            delivered: ((inout Machine) -> Action<Output>)?
        ) {
            self.delivered = delivered
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
            outcome.finish(result.mapError { $0 as any Error })
        }

        func deliver(from peer: Address, _ envelope: Envelope, nowMs: UInt64) -> [SessionTransport.Datagram] {
            guard let party = partyOf[peer], envelope.round <= UInt32(UInt8.max) else { return [] }
            let received = transport.receive(
                envelope.payload, from: party, round: UInt8(envelope.round), sequence: envelope.sequence)
            guard case .deliver(let message) = received, !ended else { return [] }
            return act(receive(&machine, party, message))
        }

        /// `peer`'s node accepted our datagram `sequence`.
        func acknowledged(by peer: Address, sequence: UInt64) -> [SessionTransport.Datagram] {
            guard let party = partyOf[peer], let delivered, !ended,
                transport.acknowledged(sequence: sequence, by: party)
            else { return [] }
            return act(delivered(&machine))
        }

        /// Carries out what the machine decided; returns the datagrams to send.
        func act(_ action: Action<Output>) -> [SessionTransport.Datagram] {
            var out: [Message] = []
            switch action {
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

        /// Retransmissions due now; finishes the session when its deadline passed.
        func tick(nowMs: UInt64) -> [SessionTransport.Datagram] {
            switch transport.tick(nowMs: nowMs) {
            case .idle: return []
            case .resend(let datagrams): return datagrams
            case .expired(let silent):
                finish(.failure(.unresponsive(silent.compactMap { addressOf[$0] })))
                return []
            }
        }
    }

    let network: TSSPeerNetwork
    let identity: PrivateKey
    public let me: Address
    let configuration: SessionTransport.Configuration
    let clock = ContinuousClock()
    let epoch: ContinuousClock.Instant

    /// Running sessions, datagrams kept for sessions not started yet (and which ended here), and
    /// sessions cancelled before they started. A reserved session (`reserve`) has its route in
    /// `sessions` already and its stream in `reserved` until `runSession` adopts it.
    struct Routing {
        var sessions: [[UInt8]: Route] = [:]
        var reserved: [[UInt8]: (AsyncStream<Event>, AsyncStream<Event>.Continuation)] = [:]
        var early: EarlyDatagrams<Address, (Address, Envelope)>
        var cancelledEarly: [[UInt8]: TSSSessionError] = [:]
    }
    let routing: Mutex<Routing>
    static let maxEarlySessions = 64

    public init(network: TSSPeerNetwork, identity: PrivateKey, configuration: SessionTransport.Configuration) {
        self.network = network
        self.identity = identity
        self.me = network.me
        self.configuration = configuration
        self.epoch = clock.now
        // A session not started here within its deadline will not start: its early datagrams
        // may go when room is needed.
        self.routing = Mutex(
            Routing(
                early: EarlyDatagrams(
                    maxSessions: Self.maxEarlySessions,
                    maxAgeMs: configuration.deadlineMs + 2 * configuration.resendIntervalMs)))
    }

    var nowMs: UInt64 {
        let elapsed = clock.now - epoch
        return UInt64(elapsed.components.seconds) * 1000
            + UInt64(elapsed.components.attoseconds / 1_000_000_000_000_000)
    }

    public var runningSessions: Int { routing.withLock { $0.sessions.count } }

    /// Ends every running session with `error` (the service stops).
    public func cancelAll(_ error: TSSSessionError) {
        let running = routing.withLock { r in
            defer {
                r.sessions = [:]
                r.early.removeAll()
            }
            return r.sessions
        }
        for route in running.values { route.events.yield(.cancel(error)) }
    }

    /// Drops the datagrams kept for a session that will not start here (it was refused).
    public func discardEarly(_ sessionID: [UInt8]) { routing.withLock { $0.early.drop(sessionID) } }

    /// Ends a running session with `error` (its awaiting caller throws it). False if no such session.
    /// A session cancelled before it registered here is refused when it tries (bounded).
    @discardableResult
    public func cancel(_ sessionID: [UInt8], _ error: TSSSessionError) -> Bool {
        let route = routing.withLock { r -> Route? in
            guard let route = r.sessions.removeValue(forKey: sessionID) else {
                if r.cancelledEarly.count >= Self.maxEarlySessions { r.cancelledEarly.removeAll() }
                r.cancelledEarly[sessionID] = error
                r.early.markEnded(sessionID)
                return nil
            }
            r.early.markEnded(sessionID)
            return route
        }
        guard let route else { return false }
        route.events.yield(.cancel(error))
        return true
    }

    /// An envelope from `peer` (authenticated by the network). Synchronous and short: the network
    /// calls it on its event loop.
    public func deliver(from peer: Address, _ envelope: Envelope) {
        let now = nowMs
        let route = routing.withLock { r -> Route? in
            guard let route = r.sessions[envelope.session] else {
                // Not started here yet: keep it (bounded) for when it does; dropped when the
                // session already ended or was cancelled here.
                r.early.keep((peer, envelope), from: peer, session: envelope.session, nowMs: now)
                return nil
            }
            return route
        }
        route?.events.yield(.envelope(peer, envelope))
    }

    /// Registers a session's route; returns the datagrams that arrived before it, or nil when a
    /// session with this id runs already.
    func register(_ sessionID: [UInt8], _ route: Route) throws(TSSSessionError) -> [(Address, Envelope)]? {
        try routing.withLock { (r: inout Routing) throws(TSSSessionError) -> [(Address, Envelope)]? in
            if let error = r.cancelledEarly.removeValue(forKey: sessionID) { throw error }
            guard r.sessions[sessionID] == nil else { return nil }
            r.sessions[sessionID] = route
            return r.early.take(sessionID)
        }
    }

    /// Opens session `sessionID`'s route before the session runs here: what arrives for it from
    /// now on waits in its stream, not among the early datagrams, until `runSession` adopts it.
    /// The coordinator of a signing reserves before proposing, so that a share its node
    /// acknowledges is one its session will process (see `runSigning(combiner:)`). Every
    /// reservation is ended by `runSession` (adopted) or `release`.
    public func reserve(_ sessionID: [UInt8]) throws(TSSSessionError) {
        let (events, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .unbounded)
        try routing.withLock { (r: inout Routing) throws(TSSSessionError) in
            if let error = r.cancelledEarly.removeValue(forKey: sessionID) { throw error }
            guard r.sessions[sessionID] == nil, r.reserved[sessionID] == nil else {
                throw TSSSessionError.duplicateSession
            }
            r.sessions[sessionID] = Route(events: continuation)
            r.reserved[sessionID] = (events, continuation)
            for (peer, envelope) in r.early.take(sessionID) { continuation.yield(.envelope(peer, envelope)) }
        }
    }

    /// Ends a reservation no session adopted (the coordinator gave up before running its part):
    /// its route goes, and what arrives for it later is dropped. Nothing when it was adopted.
    public func release(_ sessionID: [UInt8]) {
        let continuation = routing.withLock { r -> AsyncStream<Event>.Continuation? in
            guard let (_, continuation) = r.reserved.removeValue(forKey: sessionID) else { return nil }
            r.sessions[sessionID] = nil
            r.early.markEnded(sessionID)
            return continuation
        }
        continuation?.finish()
    }

    /// The reserved stream of `sessionID`, taken by the session that runs it (nil: not reserved).
    func adopt(_ sessionID: [UInt8]) -> (AsyncStream<Event>, AsyncStream<Event>.Continuation)? {
        routing.withLock { $0.reserved.removeValue(forKey: sessionID) }
    }

    /// The session ended here: its route goes, and datagrams that still arrive for it (a peer's
    /// retransmissions) are dropped instead of kept as early ones.
    func remove(_ sessionID: [UInt8]) {
        routing.withLock { r in
            r.sessions[sessionID] = nil
            r.early.markEnded(sessionID)
        }
    }

    /// Sends each datagram in a task of its own; `acknowledge` (sessions that end on delivery)
    /// hears of each one the peer's node accepted.
    func send(
        _ datagrams: [SessionTransport.Datagram], session: [UInt8], to addressOf: [PartyIndex: Address],
        acknowledge: AsyncStream<Event>.Continuation? = nil
    ) {
        for datagram in datagrams {
            guard let peer = addressOf[datagram.to] else { continue }
            let network = self.network
            Task {
                let accepted = await network.send(
                    to: peer, session: session, round: datagram.round, sequence: datagram.sequence,
                    bytes: datagram.bytes)
                if accepted { acknowledge?.yield(.acknowledged(peer, datagram.sequence)) }
            }
        }
    }

    /// Runs one session among `participants`; `start` builds our machine (given our party index)
    /// and its first messages. Returns the protocol's output, or throws `TSSSessionError`.
    public func run<Machine: Sendable, Output: Sendable>(
        sessionID: [UInt8], participants: [Participant], protocolSessionID: [UInt8]? = nil,
        priority: TaskPriority = .medium, start: (PartyIndex) throws -> (Machine, [Message]),
        receive: @escaping (inout Machine, PartyIndex, Message) -> Action<Output>
    ) async throws -> Output {
        try await runSession(
            sessionID: sessionID, participants: participants, protocolSessionID: protocolSessionID, priority: priority,
            start: start, receive: receive
        ).output
    }

    /// The online signing round of `presignature` (consumed) over `digest`, among its signers, in
    /// session `sessionID`: the signature, verified and recovered to the key by `OnlineSigning`.
    /// Every signer sends its share to every other one and combines (GG20's broadcast round).
    public func runSigning(
        sessionID: [UInt8], participants: [Participant], presignature: consuming Presignature, digest: [UInt8],
        identityKey: PrivateKey, priority: TaskPriority = .high
    ) async throws -> RecoverableSignature {
        let protocolSession = presignature.sessionID
        let (online, message) = try presignature.sign(digest: digest, identityKey: identityKey)
        return try await run(
            sessionID: sessionID, participants: participants, protocolSessionID: protocolSession, priority: priority,
            start: { _ in (online, [message]) },
            receive: { machine, from, message in machine.receive(from: from, message) })
    }

    /// The online round with one combiner (the session's coordinator): the other signers send
    /// their shares to it alone, and only it combines, checks and returns the signature (nil at
    /// every other signer). Nothing the combiner needs changes: it still receives every share
    /// with its echo of the presigning's last round and the sender's signature, and names a bad
    /// share's sender (type 7) or a silent signer. What goes is the traffic nobody uses: in GG20's
    /// broadcast round each of t + 1 signers sends to t others and combines and verifies for
    /// itself, then drops the result; here t shares travel, not t(t + 1), and one party
    /// verifies. (`runSigning` without a combiner keeps the broadcast round.)
    ///
    /// The combiner must have reserved `sessionID` (`reserve`) before any signer could learn of
    /// the session: then its node accepts a share only into the running session (or drops it
    /// because the session is over there), and that acceptance is the signer's acknowledgement
    /// (`ShareHandover`). A signer sends its share again every resend interval until its
    /// combiner's node accepts it, and names the combiner at the deadline.
    public func runSigning(
        sessionID: [UInt8], participants: [Participant], presignature: consuming Presignature, digest: [UInt8],
        identityKey: PrivateKey, combiner: PartyIndex, priority: TaskPriority = .high
    ) async throws -> RecoverableSignature? {
        guard let mine = participants.first(where: { $0.address == self.me }),
            participants.contains(where: { $0.party == combiner })
        else {
            throw TSSSessionError.invalidArguments("this validator or the combiner is not a participant")
        }
        let protocolSession = presignature.sessionID
        // The combiner's own share goes nowhere: its message is not signed.
        let (online, message) = try presignature.sign(
            digest: digest, identityKey: identityKey, sent: mine.party != combiner)
        if mine.party == combiner {
            // The round is still ours (its unsigned message counts, unsent), so a silent signer is named.
            return try await runSession(
                sessionID: sessionID, participants: participants, protocolSessionID: protocolSession,
                priority: priority, broadcastTo: [], reserved: true,
                start: { _ in (online, [message]) },
                receive: { machine, from, message in machine.receive(from: from, message) }
            ).output
        }
        let handover = ShareHandover(combiner: combiner)
        _ = try await runSession(
            sessionID: sessionID, participants: participants, protocolSessionID: protocolSession,
            priority: priority, broadcastTo: [combiner], awaiting: [combiner],
            start: { _ in (handover, [message]) },
            receive: { machine, from, message in machine.receive(from: from, message) },
            delivered: { machine in machine.delivered() })
        return nil
    }

    /// GG20 presigning by `participants` (the signers, with their key indices) with our `share`:
    /// the finished machine, from which the caller takes the presignature (exactly once).
    /// `nonces`: precomputed Paillier randomizers to take from (a presigning on the spot); nil:
    /// every encryption draws its own (background refills, which nobody waits for).
    public func runPresigning(
        sessionID: [UInt8], participants: [Participant], share: KeyShare, identityKey: PrivateKey,
        priority: TaskPriority = .medium, nonces: (any PaillierNonceSource)? = nil
    ) async throws -> Presigning {
        let signers = participants.map(\.party).sorted()
        return try await runSession(
            sessionID: sessionID, participants: participants, priority: priority,
            start: { _ in
                var rng = NonceCarryingRandom(paillierNonces: nonces)
                return try Presigning.start(
                    keyShare: share, params: PresignParameters(sessionID: sessionID, signers: signers),
                    identityKey: identityKey, rng: &rng)
            },
            receive: { machine, from, message in
                var rng = NonceCarryingRandom(paillierNonces: nonces)
                return machine.receive(from: from, message, rng: &rng)
            }
        ).machine
    }

    /// Where background sessions (pool refills) do their work: the service runs their tasks with
    /// this executor preference.
    let background = BackgroundExecutor(name: "vn-tss-background")

    /// Runs one session in the calling task (its priority and executor are the session's);
    /// `priority` is that of the session's retransmission ticker. `reserved`: the session must
    /// have been reserved (`reserve`); `delivered`: the session ends through it once everything
    /// it sent to the peers it awaits was accepted by their nodes.
    func runSession<Machine: Sendable, Output: Sendable>(
        sessionID: [UInt8], participants: [Participant], protocolSessionID: [UInt8]? = nil,
        priority: TaskPriority, broadcastTo: Set<PartyIndex>? = nil, awaiting: Set<PartyIndex>? = nil,
        reserved: Bool = false, start: (PartyIndex) throws -> (Machine, [Message]),
        receive: @escaping (inout Machine, PartyIndex, Message) -> Action<Output>,
        delivered: ((inout Machine) -> Action<Output>)? = nil
    ) async throws -> (output: Output, machine: Machine) {
        guard let mine = participants.first(where: { $0.address == self.me }) else {
            throw TSSSessionError.invalidArguments("this validator is not a participant")
        }
        guard Set(participants.map(\.address)).count == participants.count,
            Set(participants.map(\.party)).count == participants.count
        else { throw TSSSessionError.invalidArguments("participants or party indices repeat") }
        let myIndex = mine.party
        let partyOf = Dictionary(uniqueKeysWithValues: participants.map { ($0.address, $0.party) })
        let identities = Dictionary(uniqueKeysWithValues: participants.map { ($0.party, $0.identity) })
        // The first round's work (proofs) runs here, in the caller's task.
        let (machine, initial) = try start(myIndex)
        var transport = SessionTransport(
            sessionID: sessionID, me: myIndex, parties: participants.map(\.party).sorted(), identity: identity,
            identities: identities, configuration: configuration, nowMs: nowMs, protocolSessionID: protocolSessionID)
        transport.awaiting = awaiting
        let first = try transport.send(initial, broadcastTo: broadcastTo)
        let session = Session(
            machine: machine, transport: transport, partyOf: partyOf, receive: receive, delivered: delivered)
        let events: AsyncStream<Event>
        let continuation: AsyncStream<Event>.Continuation
        let early: [(Address, Envelope)]
        if let reserved = adopt(sessionID) {
            // Reserved by our coordinator: everything that arrived is in its stream already.
            (events, continuation) = reserved
            early = []
        } else if reserved {
            // A combiner's acceptance is its signers' acknowledgement only with the route open
            // from before they learnt of the session (`runSigning(combiner:)`).
            throw TSSSessionError.invalidArguments("the combiner's session was not reserved before it was proposed")
        } else {
            (events, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .unbounded)
            guard let kept = try register(sessionID, Route(events: continuation)) else {
                throw TSSSessionError.duplicateSession
            }
            early = kept
        }
        let hardDeadline = nowMs + configuration.deadlineMs + 2 * configuration.resendIntervalMs
        let interval = Duration.milliseconds(Int64(max(10, configuration.resendIntervalMs / 2)))
        let ticker = Task(priority: priority) {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                continuation.yield(.tick)
            }
        }
        // The session's messages are processed right here, in the caller's task (at its priority
        // and on its executor), not in a task of its own: one thread wake-up less at the start
        // and at the end of every session.
        let addressOf = session.addressOf
        let acknowledge = delivered == nil ? nil : continuation
        func send(_ datagrams: [SessionTransport.Datagram]) {
            self.send(datagrams, session: sessionID, to: addressOf, acknowledge: acknowledge)
        }
        send(first)
        for (peer, envelope) in early where !session.ended {
            send(session.deliver(from: peer, envelope, nowMs: nowMs))
        }
        if !session.ended {
            for await event in events {
                switch event {
                case .envelope(let peer, let envelope):
                    send(session.deliver(from: peer, envelope, nowMs: nowMs))
                case .acknowledged(let peer, let sequence):
                    send(session.acknowledged(by: peer, sequence: sequence))
                case .tick:
                    send(session.tick(nowMs: nowMs))
                    if !session.ended, nowMs >= hardDeadline {
                        session.finish(.failure(.cancelled("the session's deadline passed")))
                    }
                case .cancel(let error):
                    session.finish(.failure(error))
                }
                if session.ended { break }
            }
        }
        // The stream ends early only when the caller's task is cancelled.
        if !session.ended { session.finish(.failure(.cancelled("the session's task was cancelled"))) }
        ticker.cancel()
        continuation.finish()
        remove(sessionID)
        let output = try await session.outcome.value()
        return (output, session.machine)
    }
}

/// System randomness that also offers the node's precomputed Paillier randomizers
/// (`PaillierPublicKey.nonce(using:)` takes those first).
struct NonceCarryingRandom: RandomSource, PaillierNonceCarrier {
    let paillierNonces: (any PaillierNonceSource)?
    var system = SecureRandomNumberGenerator()
    mutating func next() -> UInt64 { system.next() }
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) { system.fill(buffer) }
}
