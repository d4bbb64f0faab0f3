import Logging
import NIOCore
import RPC
import Secp256k1
import ServiceKit
import Synchronization
import Wire

/// MPC datagrams between tss-signers (issue 4). Each datagram travels as a signed envelope
/// (DESIGN §3: chain id · sender · session · round · sequence · payload, signed with the sender's
/// validator key) in a `tss.deliver` call to the peer's p2p listener.
///
/// Receiving: the envelope must name our chain, its signature must recover to its sender, and the
/// sender must be a known validator; anything else is refused `unauthenticated` and counted.
/// Duplicates are not refused here: retransmissions reuse their sequence numbers on purpose, and
/// the session's `SessionTransport` delivers each message to the protocol once.
///
/// Sending: one connection per peer, dialled on demand and re-dialled after a failure. A send that
/// fails is dropped: the session retransmits until its deadline.
public final class TSSPeerNetwork: Sendable {
    public let chainID: String
    let key: PrivateKey
    public let me: Address
    /// Known validators' p2p endpoints (`host:port`).
    private let endpointTable: Mutex<[Address: (host: String, port: Int)]>
    let group: any EventLoopGroup
    let logger: Logger
    private let clients = Mutex<[Address: RPCClient]>([:])
    private let rejectedCount = Atomic<Int>(0)
    private let sentCount = Atomic<Int>(0)
    private let failedSends = Atomic<Int>(0)
    private let lastContact = Mutex<[Address: UInt64]>([:])

    public init(
        chainID: String, key: PrivateKey, endpoints: [Address: (host: String, port: Int)], group: any EventLoopGroup,
        logger: Logger
    ) throws {
        self.chainID = chainID
        self.key = key
        self.me = try Address(bytes: key.publicKey.ethereumAddressBytes)
        self.endpointTable = Mutex(endpoints)
        self.group = group
        self.logger = logger
    }

    /// Sets (or replaces) a validator's p2p endpoint.
    public func setEndpoint(_ peer: Address, host: String, port: Int) {
        endpointTable.withLock { $0[peer] = (host, port) }
    }

    func endpoint(_ peer: Address) -> (host: String, port: Int)? { endpointTable.withLock { $0[peer] } }

    public var counters: (sent: Int, failedSends: Int, rejected: Int) {
        (
            sentCount.load(ordering: .relaxed), failedSends.load(ordering: .relaxed),
            rejectedCount.load(ordering: .relaxed)
        )
    }

    /// Serves `tss.deliver` on `server`; `deliver` gets every authenticated envelope.
    public func register(on server: RPCServer, deliver: @escaping @Sendable (Address, Envelope) -> Void) {
        // On the event loop (no hop to the task pool before the answer): the checks are one
        // signature recovery; `deliver` only hands the envelope to its session's stream, whose
        // task does the work.
        server.registerSync(MethodID.tssDeliver, request: Envelope.self) { [self] envelope, _ in
            func refuse(_ why: String) -> RPCError {
                rejectedCount.add(1, ordering: .relaxed)
                return RPCError(.unauthenticated, why)
            }
            guard envelope.chainID == chainID else { throw refuse("envelope of chain \(envelope.chainID)") }
            guard envelope.payloadType == MethodID.tssDatagram else { throw refuse("not an MPC datagram") }
            let signer: Address
            do { signer = try envelope.recoverSigner() } catch { throw refuse("bad signature") }
            guard signer == envelope.sender, endpoint(signer) != nil, signer != me else {
                throw refuse("sender is not a known validator")
            }
            // Hand it to its session's stream and acknowledge at once: processing (proof checks)
            // runs in the session's task and can take longer than the sender's call timeout; the
            // session transport orders and deduplicates anyway.
            deliver(signer, envelope)
            return Empty()
        }
    }

    /// Serves `tss.propose`: `handle` gets every authenticated proposal and its sender; its
    /// error (a refusal) goes back to the coordinator.
    public func registerProposals(
        on server: RPCServer,
        handle: @escaping @Sendable (TSSSessionProposal, Address) async throws(RPCError) -> Void
    ) {
        server.register(MethodID.tssPropose, request: Envelope.self) { [self] envelope, _ in
            let signer = try authenticate(envelope, payloadType: MethodID.tssProposal, "a session proposal")
            let proposal: TSSSessionProposal
            do { proposal = try TSSSessionProposal.decode(envelope.payload) } catch {
                throw RPCError(.invalidArgument, "malformed proposal: \(error)")
            }
            guard envelope.session == proposal.sessionID(chainID: chainID) else {
                throw RPCError(.invalidArgument, "the envelope's session is not the proposal's id")
            }
            try await handle(proposal, signer)
            return Empty()
        }
    }

    /// The validator that signed `envelope` (this chain, `payloadType`, a known peer), or
    /// `unauthenticated`.
    func authenticate(_ envelope: Envelope, payloadType: UInt16, _ what: String) throws(RPCError) -> Address {
        func refuse(_ why: String) -> RPCError {
            rejectedCount.add(1, ordering: .relaxed)
            return RPCError(.unauthenticated, why)
        }
        guard envelope.chainID == chainID else { throw refuse("envelope of chain \(envelope.chainID)") }
        guard envelope.payloadType == payloadType else { throw refuse("not \(what)") }
        let signer: Address
        do { signer = try envelope.recoverSigner() } catch { throw refuse("bad signature") }
        guard signer == envelope.sender, endpoint(signer) != nil, signer != me else {
            throw refuse("sender is not a known validator")
        }
        return signer
    }

    /// Serves `tss.abandon`: `handle` gets the session id, the notice and its (authenticated)
    /// sender; whether the sender coordinates that session is for `handle` to check.
    public func registerAbandons(
        on server: RPCServer,
        handle: @escaping @Sendable ([UInt8], TSSAbandon, Address) async throws(RPCError) -> Void
    ) {
        server.register(MethodID.tssAbandon, request: Envelope.self) { [self] envelope, _ in
            let signer = try authenticate(envelope, payloadType: MethodID.tssAbandonNotice, "an abandon notice")
            let notice: TSSAbandon
            do { notice = try TSSAbandon.decode(envelope.payload) } catch {
                throw RPCError(.invalidArgument, "malformed abandon notice: \(error)")
            }
            try await handle(envelope.session, notice, signer)
            return Empty()
        }
    }

    /// Tells `peer` that the session `sessionID` (which we coordinate) is given up. Best effort:
    /// a peer that does not hear it ends the session at its deadline.
    public func abandon(sessionID: [UInt8], reason: String, nonce: UInt64, to peer: Address) async {
        guard let endpoint = endpoint(peer), let client = try? await self.client(for: peer, endpoint),
            let envelope = try? Envelope.signed(
                chainID: chainID, session: sessionID, round: 0, sequence: nonce,
                payloadType: MethodID.tssAbandonNotice, payload: TSSAbandon(reason: reason), key: key)
        else { return }
        let _: Empty? = try? await client.call(method: MethodID.tssAbandon, request: envelope, timeout: .seconds(5))
    }

    /// The signed envelope of a proposal: the same bytes go to every participant (an envelope
    /// names no recipient), so one signature serves them all.
    public func proposalEnvelope(_ proposal: TSSSessionProposal, sessionID: [UInt8]) throws(RPCError) -> Envelope {
        do {
            return try Envelope.signed(
                chainID: chainID, session: sessionID, round: 0, sequence: proposal.nonce,
                payloadType: MethodID.tssProposal, payload: proposal, key: key)
        } catch {
            throw RPCError(.internal, "cannot sign the proposal: \(error)")
        }
    }

    /// Proposes a session to `peer` with its envelope (`proposalEnvelope`); returns when it
    /// joined, throws its refusal (`RPCError`) or `unavailable` when it cannot be reached.
    public func propose(_ envelope: Envelope, to peer: Address) async throws(RPCError) {
        guard let endpoint = endpoint(peer) else { throw RPCError(.failedPrecondition, "no endpoint for \(peer)") }
        let client: RPCClient
        do {
            client = try await self.client(for: peer, endpoint)
        } catch {
            throw RPCError(.unavailable, "cannot connect to \(peer) at \(endpoint.host):\(endpoint.port)")
        }
        do {
            let _: Empty = try await client.call(method: MethodID.tssPropose, request: envelope, timeout: .seconds(20))
            lastContact.withLock { $0[peer] = Monotonic.nowMs() }
        } catch {
            if error.code == .unavailable || error.code == .deadlineExceeded {
                let stale = clients.withLock { $0.removeValue(forKey: peer) }
                if let stale { await stale.close() }
            }
            throw error
        }
    }

    /// Peers that answered a call in the last 60 s.
    public var connectedPeers: Int {
        let now = Monotonic.nowMs()
        return lastContact.withLock { $0.values.filter { $0 + 60_000 >= now }.count }
    }

    /// Sends one datagram; returns false when it could not be handed to the peer (the caller's
    /// retransmission covers it).
    @discardableResult
    public func send(
        to peer: Address, session: [UInt8], round: UInt8, sequence: UInt64, bytes: [UInt8]
    ) async -> Bool {
        guard let endpoint = endpoint(peer) else { return false }
        do {
            let envelope = try Envelope.signed(
                chainID: chainID, session: session, round: UInt32(round), sequence: sequence,
                payloadType: MethodID.tssDatagram, payload: bytes, key: key)
            let client = try await client(for: peer, endpoint)
            let _: Empty = try await client.call(
                method: MethodID.tssDeliver, request: envelope, timeout: .seconds(5))
            sentCount.add(1, ordering: .relaxed)
            lastContact.withLock { $0[peer] = Monotonic.nowMs() }
            return true
        } catch {
            failedSends.add(1, ordering: .relaxed)
            // Drop the connection: the next send dials again.
            let stale = clients.withLock { $0.removeValue(forKey: peer) }
            if let stale { await stale.close() }
            return false
        }
    }

    func client(for peer: Address, _ endpoint: (host: String, port: Int)) async throws -> RPCClient {
        if let existing = clients.withLock({ $0[peer] }), existing.isActive { return existing }
        let fresh = try await RPCClient.connect(
            host: endpoint.host, port: endpoint.port, group: group, connectTimeout: .seconds(2), logger: logger)
        let winner = clients.withLock { clients -> RPCClient in
            if let other = clients[peer], other.isActive { return other }
            clients[peer] = fresh
            return fresh
        }
        if winner !== fresh { await fresh.close() }
        return winner
    }

    public func close() async {
        let all = clients.withLock { clients -> [RPCClient] in
            defer { clients = [:] }
            return Array(clients.values)
        }
        for client in all { await client.close() }
    }
}
