import CryptoPrimitives
import Foundation
import Logging
import MPCMath
import NodeKit
import RPC
import Secp256k1
import Synchronization
import TSSCore
import TSSStore
import Wire

/// The tss-signer of one validator (issue 4): it coordinates the sessions its consensus-manager
/// asks for (keygen, sign, reshare, re-key), joins the sessions other validators' tss-signers
/// propose once its *own* consensus-manager authorizes them, keeps the key shards sealed in the
/// store, and keeps a pool of presignatures per key.
///
/// A session is described by a `TSSSessionProposal`; its id is a hash of it, so every participant
/// derives the same id and the same party numbering from the same bytes. The coordinator starts
/// its own part, then proposes to every other participant over `tss.propose`; a participant
/// checks the proposal, asks `consensus.tssAuthorize`, prepares (takes pre-params or a
/// presignature, opens its share) and answers — a refusal comes back to the coordinator as an RPC
/// error and ends the session there at once.
public final class TSSSignerNode: Sendable {
    /// What a finished session leaves.
    enum Outcome: Sendable {
        case key(TSSKeyInfo)
        case signature(TSSSignature)
        /// A signer's share was accepted by the coordinator's node (into its session, or dropped
        /// because that session was over there: `runSigning(combiner:)`); what the signature
        /// became is the coordinator's answer alone.
        case shareSent
        case presigned
        case retiredOnly
    }

    /// Answers `TSSAuthorizeRequest` (the consensus-manager link in the service).
    public typealias Authorizer = @Sendable (TSSAuthorizeRequest) async throws -> TSSAuthorizeReply

    public let chainID: String
    public let me: Address
    let key: PrivateKey
    public let store: KeyStore
    public let pool: PreParamsPool
    public let network: TSSPeerNetwork
    public let sessions: TSSSessionManager
    let authorize: Authorizer
    /// The presignatures this process made, decoded (a signing's shortcut past the store's copy).
    let presignatureCache = PresignatureCache()
    /// Every validator of the chain and its identity key (genesis).
    let validators: [Address: PublicKey]
    let logger: Logger
    let presignTarget: Int
    let sessionTimeoutMs: UInt64
    /// Paillier randomizers computed while idle (`refillNonces`), for presignings on the spot.
    public let nonces = PaillierNoncePool()
    /// On-the-spot presignings' worth of randomizers kept per recently used key (0: none).
    let noncePresignings: Int

    struct Running {
        var task: Task<Outcome, any Error>?
        var proposal: TSSSessionProposal
        var role: String
        var startedMs: UInt64
    }

    struct State {
        var nonce: UInt64 = 0
        var running: [[UInt8]: Running] = [:]
        var shares: [KeyRecordID: KeyShare] = [:]
        /// The validator address of each party of a cached share, in the share's party order.
        var addresses: [KeyRecordID: [Address]] = [:]
        /// The key store's records as last read (`headerView()`).
        var headers: HeaderView?
        /// Who signs: this node's own set, fresh sets, validators avoided after going silent.
        var selection: SignerSelection
        /// Pooled presignatures chosen by a signing this node coordinates and not yet over: a
        /// concurrent signing by the same set picks another one instead of colliding.
        var reservedPresignatures: Set<[UInt8]> = []
        var completed: [String: Int] = [:]
        var failed: [String: Int] = [:]
        var lastErrors: [String] = []
        /// When each key last signed or presigned here, and when the last session ended: the
        /// randomizer pool serves recently used keys and fills only while no session runs.
        var keyUsed: [KeyRecordID: ContinuousClock.Instant] = [:]
        var lastSessionEnd: ContinuousClock.Instant? = nil
    }
    let state: Mutex<State>

    public init(
        chainID: String, key: PrivateKey, store: KeyStore, pool: PreParamsPool, network: TSSPeerNetwork,
        sessions: TSSSessionManager, validators: [Address: PublicKey], presignTarget: Int, sessionTimeoutMs: UInt64,
        noncePresignings: Int = 0, logger: Logger, authorize: @escaping Authorizer
    ) throws {
        self.chainID = chainID
        self.key = key
        self.me = try Address(bytes: key.publicKey.ethereumAddressBytes)
        state = Mutex(State(selection: SignerSelection(me: me)))
        self.store = store
        self.pool = pool
        self.network = network
        self.sessions = sessions
        self.validators = validators
        self.presignTarget = presignTarget
        self.sessionTimeoutMs = sessionTimeoutMs
        self.noncePresignings = noncePresignings
        self.logger = logger
        self.authorize = authorize
    }

    /// Sessions of one coordinator that may run here at once.
    static let maxSessionsPerCoordinator = 32
    /// Presignatures per signer set leased ahead (`KeyStore.leasePresignatures`): taken without a
    /// synced write; a restart drops at most this many per set.
    static let presignatureLeases = 2

    static func nowMs() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }

    /// Records left PENDING by a crash (keygen or reshare interrupted): their sessions are over.
    public func recoverAfterRestart() {
        do {
            let (epoch, dropped) = try store.beginLeaseEpoch()
            logger.info(
                "presignature lease epoch begun",
                metadata: ["epoch": "\(epoch)", "dropped_leased_by_earlier_runs": "\(dropped)"])
        } catch {
            // Without an epoch every take is a synced delete: slower, never unsafe.
            logger.error("cannot begin a presignature lease epoch", metadata: ["error": "\(error)"])
        }
        for case .success(let header) in (try? store.records()) ?? [] where header.status == .pending {
            _ = try? store.markError(header.id, reason: "interrupted: the tss-signer stopped during its session")
            logger.warning("key record left PENDING by a stop marked ERROR", metadata: ["record": "\(header.id)"])
        }
    }

    // MARK: Coordinator: the operator's requests (through the local consensus-manager)

    public func keygen(
        _ request: TSSKeygenRequest, rekeyOf old: KeyRecordHeader? = nil
    ) async throws
        -> TSSKeyInfo
    {
        if old == nil, let ready = try readyRecord(request.keyID, required: false) {
            throw RPCError(
                .alreadyExists, "key \(request.keyID) exists (record \(ready.id)); use rekey for a fresh key")
        }
        let parties = request.parties.sorted()
        guard parties.contains(me) else { throw RPCError(.invalidArgument, "this validator is not one of the parties") }
        try checkKnown(parties)
        let proposal = TSSSessionProposal(
            kind: .keygen, keyID: request.keyID, parties: parties, threshold: request.threshold, coordinator: me,
            nonce: nextNonce())
        guard case .key(let info) = try await coordinate(proposal) else {
            throw RPCError(.internal, "keygen finished without a key")
        }
        return info
    }

    public func rekey(_ keyID: String) async throws -> TSSKeyInfo {
        guard let old = try readyRecord(keyID, required: true) else { throw RPCError(.notFound, "no key \(keyID)") }
        let share = try loadShare(old.id)
        let parties = try share.identities.map { try Address(bytes: $0.ethereumAddressBytes) }
        return try await keygen(
            TSSKeygenRequest(keyID: keyID, parties: parties, threshold: UInt16(share.threshold)), rekeyOf: old)
    }

    public func sign(_ request: TSSSignRequest) async throws -> TSSSignature {
        await waitWhilePending(request.keyID, session: request.keygenSession.isEmpty ? nil : request.keygenSession)
        let header: KeyRecordHeader
        if request.keygenSession.isEmpty {
            guard let ready = try readyRecord(request.keyID, required: true) else {
                throw RPCError(.notFound, "no key \(request.keyID)")
            }
            header = ready
        } else {
            header = try recordHeader(request.keyID, request.keygenSession)
        }
        guard header.status == .ready else {
            throw RPCError(.failedPrecondition, "key record \(header.id) is \(header.status); only READY keys sign")
        }
        let share = try loadShare(header.id)
        let keyParties = try partyAddresses(header.id)
        let t = share.threshold
        var fixed: [Address]? = nil
        if !request.signers.isEmpty {
            let signers = request.signers.sorted()
            guard signers.count == t + 1 else { throw RPCError(.invalidArgument, "exactly t + 1 = \(t + 1) signers") }
            guard signers.allSatisfy(keyParties.contains) else {
                throw RPCError(.invalidArgument, "a signer does not hold a share of \(header.id)")
            }
            guard signers.contains(me) else {
                throw RPCError(.invalidArgument, "the coordinating validator must be one of the signers")
            }
            fixed = signers
        }
        var excluded = Set<Address>()
        var lastError = RPCError(.unavailable, "no signer set could be formed")
        var silentSeen: [Address] = []
        var reserved: [[UInt8]] = []
        defer { releasePresignatures(reserved) }
        for _ in 0..<max(1, keyParties.count - t) {
            let signers: [Address]
            var pooled: [UInt8]? = nil
            if let fixed {
                signers = fixed
                pooled = try? pooledPresignature(header.id, signers: signers)
            } else if let own = SignerSelection.ownSet(parties: keyParties, me: me, threshold: t),
                excluded.isDisjoint(with: own), !isAvoided(own),
                let session = (try? pooledPresignature(header.id, signers: own)) ?? nil
            {
                // The set this node keeps presignatures for: only the online round is left.
                signers = own
                pooled = session
            } else {
                guard let chosen = chooseSigners(keyParties, t: t, excluding: excluded) else { break }
                signers = chosen
                pooled = try? pooledPresignature(header.id, signers: signers)
            }
            var attempt = pooled
            if let pooled { reserved.append(pooled) }
            var tried: Set<[UInt8]> = []
            while true {
                let proposal = TSSSessionProposal(
                    kind: .sign, keyID: request.keyID, keygenSession: header.id.sessionID, purpose: request.purpose,
                    messageHash: request.messageHash, parties: signers, threshold: UInt16(t),
                    presignSession: attempt ?? [], coordinator: me, nonce: nextNonce())
                do {
                    guard case .signature(let signature) = try await coordinate(proposal) else {
                        throw RPCError(.internal, "signing finished without a signature")
                    }
                    return signature
                } catch let error as SessionFailure {
                    lastError = error.rpcError
                    if case .unresponsive(let silent) = error.reason {
                        silentSeen += silent
                        excluded.formUnion(silent)
                        break  // another subset, without the pooled presignature
                    }
                    if case .presignatureMissing = error.reason, let missing = attempt {
                        // A signer lacks it (a restart dropped its leased copies, which are the
                        // oldest of the set everywhere): the next pooled one, as many times as
                        // there are leases, then presigning on the spot. Each try costs one
                        // online round, and the dead copies are used up here and at the peers.
                        tried.insert(missing)
                        attempt =
                            SignerSelection.triesNextPooled(afterMissing: tried.count, leases: Self.presignatureLeases)
                            ? (try? pooledPresignature(header.id, signers: signers, excluding: tried)) ?? nil : nil
                        if let attempt { reserved.append(attempt) }
                        continue
                    }
                    throw error.rpcError
                }
            }
            if fixed != nil { break }
        }
        if !silentSeen.isEmpty {
            throw RPCError(
                .unavailable,
                "signing failed: unresponsive \(Set(silentSeen).sorted().map { checksummedHex($0) }) and no other set of t + 1 = \(t + 1) responsive signers"
            )
        }
        throw lastError
    }

    public func reshare(_ request: TSSReshareRequest) async throws -> TSSKeyInfo {
        guard let old = try readyRecord(request.keyID, required: true) else {
            throw RPCError(.notFound, "no key \(request.keyID)")
        }
        let share = try loadShare(old.id)
        let dealers = try share.identities.map { try Address(bytes: $0.ethereumAddressBytes) }
        let newParties = request.newParties.sorted()
        try checkKnown(newParties)
        guard dealers.contains(me) else { throw RPCError(.failedPrecondition, "this validator holds no share") }
        // Every old holder deals (any t_old + 1 would do; all of them retire their share at the end).
        let keyData = Self.encodeKeyData(share)
        let proposal = TSSSessionProposal(
            kind: .reshare, keyID: request.keyID, keygenSession: old.id.sessionID,
            messageHash: SHA256.hash(keyData), parties: dealers, threshold: request.newThreshold,
            newParties: newParties, keyData: keyData, coordinator: me, nonce: nextNonce())
        switch try await coordinate(proposal) {
        case .key(let info): return info
        case .retiredOnly:
            return try info(try store.header(old.id))
        default: throw RPCError(.internal, "resharing finished without a key")
        }
    }

    public func keys(_ keyID: String) throws -> TSSKeyList {
        var out: [TSSKeyInfo] = []
        for result in try headers() {
            guard case .success(let header) = result else { continue }
            if !keyID.isEmpty, header.id.keyID != keyID { continue }
            out.append(try info(header))
        }
        if !keyID.isEmpty, out.isEmpty { throw RPCError(.notFound, "no key \(keyID)") }
        return TSSKeyList(keys: out)
    }

    /// Runs `body`, turning what it throws into the `RPCError` its caller gets.
    public static func answering<T: Sendable>(_ body: () async throws -> T) async throws(RPCError) -> T {
        do {
            return try await body()
        } catch let error as RPCError {
            throw error
        } catch let failure as SessionFailure {
            throw failure.rpcError
        } catch let error as TSSSessionError {
            throw RPCError(.failedPrecondition, "\(error)")
        } catch {
            throw RPCError(.internal, "\(error)")
        }
    }

    // MARK: Running a session (coordinator and participant)

    /// Why a coordinated session failed, with the reason the signer retry logic needs.
    struct SessionFailure: Error {
        enum Reason {
            case unresponsive([Address])
            case refused(Address, String)
            case presignatureMissing
            case other
        }
        let reason: Reason
        let rpcError: RPCError
    }

    /// Starts our part, proposes to every other participant, and waits for the outcome.
    func coordinate(_ proposal: TSSSessionProposal) async throws -> Outcome {
        let sid = proposal.sessionID(chainID: chainID)
        let others = proposal.participants.filter { $0 != me }
        func proposeToAll() async -> [(Address, RPCError)] {
            let envelope: Envelope
            do { envelope = try network.proposalEnvelope(proposal, sessionID: sid) } catch {
                return others.map { ($0, error) }
            }
            return await withTaskGroup(of: (Address, RPCError?).self) { group in
                for peer in others {
                    group.addTask { [self] in (peer, await propose(envelope, to: peer)) }
                }
                var refusals: [(Address, RPCError)] = []
                for await (peer, error) in group { if let error { refusals.append((peer, error)) } }
                return refusals
            }
        }
        func startLocal() async -> Result<Task<Outcome, any Error>, RPCError> {
            do { return .success(try await begin(proposal, sessionID: sid, role: "coordinator")) } catch {
                return .failure(error as? RPCError ?? RPCError(.internal, "\(error)"))
            }
        }
        if proposal.kind == .sign {
            // We combine the online round, and our node's acceptance of a signer's share is that
            // signer's acknowledgement (`runSigning(combiner:)`): the session's route is open
            // before any signer learns of the session, so no share waits in the early buffer.
            do { try sessions.reserve(sid) } catch {
                throw SessionFailure(
                    reason: .other, rpcError: RPCError(.alreadyExists, "cannot reserve the session: \(error)"))
            }
        }
        defer { if proposal.kind == .sign { sessions.release(sid) } }
        // A signing proposes while it prepares its own part (the proposals go first: the peers'
        // part, with their own authorization, is the longer path); sessions that take pre-params
        // start here first, so that a local failure costs the peers nothing.
        let local: Result<Task<Outcome, any Error>, RPCError>
        let refusals: [(Address, RPCError)]
        if proposal.kind == .sign {
            async let proposed = proposeToAll()
            local = await startLocal()
            refusals = await proposed
        } else {
            local = await startLocal()
            refusals = (try? local.get()) == nil ? [] : await proposeToAll()
        }
        let task: Task<Outcome, any Error>
        switch local {
        case .success(let started): task = started
        case .failure(let error):
            // The proposals went out while our part was being prepared (signing): the peers that
            // joined would otherwise wait for the deadline.
            if proposal.kind == .sign {
                abandon(
                    proposal, sid, joined: others.filter { p in !refusals.contains { $0.0 == p } },
                    "the coordinator could not start: \(error.message)")
            }
            throw SessionFailure(
                reason: error.code == .notFound && proposal.kind == .sign && !proposal.presignSession.isEmpty
                    ? .presignatureMissing : .other, rpcError: error)
        }
        if let (peer, error) = refusals.sorted(by: { $0.0 < $1.0 }).first {
            let unreachable = refusals.filter { $0.1.code == .unavailable || $0.1.code == .deadlineExceeded }
            await cancelLocal(sid, .cancelled("\(checksummedHex(peer)) refused: \(error.message)"))
            abandon(
                proposal, sid, joined: others.filter { p in !refusals.contains { $0.0 == p } },
                "\(checksummedHex(peer)) refused: \(error.message)")
            task.cancel()
            _ = try? await task.value
            noteFailure(proposal, "\(checksummedHex(peer)): \(error.message)")
            if !unreachable.isEmpty, unreachable.count == refusals.count {
                let silent = unreachable.map(\.0).sorted()
                markAvoid(silent)
                throw SessionFailure(
                    reason: .unresponsive(silent),
                    rpcError: RPCError(.unavailable, "unresponsive: \(silent.map { checksummedHex($0) })"))
            }
            // A participant answers `notFound` only for the named presignature (absent or unusable).
            let missing = refusals.contains { $0.1.code == .notFound } && !proposal.presignSession.isEmpty
            throw SessionFailure(
                reason: missing ? .presignatureMissing : .refused(peer, error.message),
                rpcError: RPCError(
                    error.code == .permissionDenied ? .permissionDenied : .failedPrecondition,
                    "refused by \(checksummedHex(peer)): \(error.message)"))
        }
        do {
            return try await task.value
        } catch let error as TSSSessionError {
            switch error {
            case .unresponsive(let silent):
                markAvoid(silent)
                throw SessionFailure(
                    reason: .unresponsive(silent),
                    rpcError: RPCError(.unavailable, "unresponsive: \(silent.map { checksummedHex($0) })"))
            case .aborted(let culprits, let reason):
                throw SessionFailure(
                    reason: .other,
                    rpcError: RPCError(
                        .failedPrecondition, "aborted: \(reason) (culprits: \(culprits.map { checksummedHex($0) }))"))
            default:
                throw SessionFailure(reason: .other, rpcError: RPCError(.internal, "\(error)"))
            }
        } catch let error as RPCError {
            throw SessionFailure(reason: .other, rpcError: error)
        } catch {
            throw SessionFailure(reason: .other, rpcError: RPCError(.internal, "\(error)"))
        }
    }

    /// Sends the proposal's envelope to `peer`; nil when it joined, else its refusal.
    func propose(_ envelope: Envelope, to peer: Address) async -> RPCError? {
        do {
            try await network.propose(envelope, to: peer)
            return nil
        } catch {
            return error
        }
    }

    /// Tells the peers that joined a session we coordinate that it is given up (in the background:
    /// best effort; a peer that does not hear it ends the session at its deadline).
    func abandon(_ proposal: TSSSessionProposal, _ sid: [UInt8], joined: [Address], _ reason: String) {
        guard !joined.isEmpty else { return }
        let nonce = nextNonce()
        Task { [network] in
            await withTaskGroup(of: Void.self) { group in
                for peer in joined {
                    group.addTask { await network.abandon(sessionID: sid, reason: reason, nonce: nonce, to: peer) }
                }
            }
        }
    }

    /// A coordinator's abandon notice (authenticated by the network: `sender` signed it). Only the
    /// session's own coordinator is obeyed; an unknown session (already over, or never joined)
    /// is answered `notFound`.
    public func handleAbandon(_ sid: [UInt8], _ notice: TSSAbandon, from sender: Address) async throws {
        guard let proposal = state.withLock({ $0.running[sid]?.proposal }) else {
            throw RPCError(.notFound, "no session \(Hex.encode(sid.prefix(8))) here")
        }
        guard proposal.coordinator == sender else {
            throw RPCError(.permissionDenied, "\(checksummedHex(sender)) does not coordinate this session")
        }
        await cancelLocal(sid, .cancelled("abandoned by the coordinator \(checksummedHex(sender)): \(notice.reason)"))
    }

    /// A peer's proposal (already authenticated by the network: `sender` signed it).
    public func handleProposal(_ proposal: TSSSessionProposal, from sender: Address) async throws {
        guard proposal.coordinator == sender else {
            throw RPCError(.permissionDenied, "the proposal names another coordinator")
        }
        let sid = proposal.sessionID(chainID: chainID)
        _ = try await begin(proposal, sessionID: sid, role: "participant")
    }

    /// Checks, authorizes and prepares our part of a session, then runs it in a task (returned).
    /// A second call for a running session returns its task.
    func begin(
        _ proposal: TSSSessionProposal, sessionID sid: [UInt8], role: String
    ) async throws -> Task<
        Outcome, any Error
    > {
        enum Slot { case running(Task<Outcome, any Error>), preparing, reserved, full }
        let limit = Self.maxSessionsPerCoordinator
        let slot: Slot = state.withLock { s in
            if let r = s.running[sid] { return r.task.map { .running($0) } ?? .preparing }
            // A peer (even an approved one) cannot make us run sessions without bound.
            guard s.running.values.filter({ $0.proposal.coordinator == proposal.coordinator }).count < limit else {
                return .full
            }
            s.running[sid] = Running(task: nil, proposal: proposal, role: role, startedMs: Self.nowMs())
            return .reserved
        }
        switch slot {
        case .running(let task): return task
        case .preparing: throw RPCError(.alreadyExists, "session is being prepared")
        case .full:
            throw RPCError(.resourceExhausted, "\(limit) sessions of this coordinator are running here already")
        case .reserved: break
        }
        do {
            try checkProposal(proposal)
            if proposal.kind != .keygen {
                // Its keygen or reshare may still be finishing here (the coordinator finished first).
                await waitWhilePending(proposal.keyID, session: proposal.keygenSession)
            }
            if proposal.kind == .sign, !proposal.presignSession.isEmpty,
                let presigning = state.withLock({ $0.running[proposal.presignSession]?.task })
            {
                // The named presignature's presigning may still be storing it here.
                _ = try? await presigning.value
            }
            // A signing prepares its part (the named presignature from this process's cache, or
            // read, opened and checked from the store; the store's copy is not taken, and a
            // refusal drops what was prepared) in a child task while this one asks this node's
            // consensus-manager at once;
            // every other kind is prepared only once approved (keygen and resharing take
            // pre-params from the pool).
            async let preparing: Result<Prepared, any Error>? =
                proposal.kind == .sign ? Result { try prepare(proposal, sessionID: sid) } : nil
            let asked: Result<TSSAuthorizeReply, any Error>
            do { asked = .success(try await authorize(TSSAuthorizeRequest(proposal, sessionID: sid))) } catch {
                asked = .failure(error)
            }
            let early = await preparing
            // A pooled presignature is never proposed again once a member of its set has proposed it
            // (that coordinator took its own copy, or has none), so a signing we do not join drops ours.
            func dropEarly() { if case .success(let prepared)? = early { prepared.discard() } }
            let reply: TSSAuthorizeReply
            switch asked {
            case .success(let answer): reply = answer
            case .failure(let error):
                dropEarly()
                throw RPCError(.unavailable, "cannot ask this node's consensus-manager: \(error)")
            }
            guard reply.approved else {
                dropEarly()
                logger.notice(
                    "session refused: not approved by this node's consensus-manager",
                    metadata: [
                        "session": "\(Hex.encode(sid.prefix(8)))", "kind": "\(proposal.kind)",
                        "key": "\(proposal.keyID)",
                        "coordinator": "\(checksummedHex(proposal.coordinator))", "reason": "\(reply.reason)",
                    ])
                throw RPCError(
                    .permissionDenied, "not approved by the consensus-manager of \(checksummedHex(me)): \(reply.reason)"
                )
            }
            let prepared = try early?.get() ?? prepare(proposal, sessionID: sid)
            // Approved: now take what the session consumes (a pooled presignature).
            try prepared.commit()
            let work = prepared.work
            // A signing waits for nobody; pool refills run behind everything else.
            let priority: TaskPriority = proposal.kind == .sign ? .high : proposal.kind == .presign ? .low : .medium
            // Pool refills also compute their first round (proofs) on the niced background thread.
            let executor: (any TaskExecutor)? = proposal.kind == .presign ? sessions.background : nil
            let task = Task(executorPreference: executor, priority: priority) { [self] () async throws -> Outcome in
                do {
                    let outcome = try await work()
                    finished(sid, proposal, error: nil)
                    return outcome
                } catch {
                    finished(sid, proposal, error: error)
                    throw error
                }
            }
            state.withLock { $0.running[sid]?.task = task }
            logger.info(
                "session started",
                metadata: [
                    "session": "\(Hex.encode(sid.prefix(8)))", "kind": "\(proposal.kind)", "key": "\(proposal.keyID)",
                    "role": "\(role)", "parties": "\(proposal.participants.count)",
                ])
            return task
        } catch {
            _ = state.withLock { $0.running.removeValue(forKey: sid) }
            sessions.discardEarly(sid)
            throw error
        }
    }

    func finished(_ sid: [UInt8], _ proposal: TSSSessionProposal, error: (any Error)?) {
        state.withLock { s in
            s.running[sid] = nil
            s.lastSessionEnd = ContinuousClock.now
            if let error {
                s.failed[proposal.kind.description, default: 0] += 1
                s.lastErrors.append("\(proposal.kind) \(proposal.keyID): \(error)")
                if s.lastErrors.count > 16 { s.lastErrors.removeFirst() }
            } else {
                s.completed[proposal.kind.description, default: 0] += 1
            }
        }
        var metadata: Logger.Metadata = [
            "session": "\(Hex.encode(sid.prefix(8)))", "kind": "\(proposal.kind)", "key": "\(proposal.keyID)",
        ]
        if let error {
            metadata["error"] = "\(error)"
            logger.warning("session failed", metadata: metadata)
        } else {
            logger.info("session finished", metadata: metadata)
        }
    }

    func noteFailure(_ proposal: TSSSessionProposal, _ why: String) {
        state.withLock { s in
            s.lastErrors.append("\(proposal.kind) \(proposal.keyID): \(why)")
            if s.lastErrors.count > 16 { s.lastErrors.removeFirst() }
        }
    }

    /// Structural checks every participant makes on a proposal.
    func checkProposal(_ p: TSSSessionProposal) throws {
        let everyone = p.participants
        guard everyone.contains(me) else { throw RPCError(.invalidArgument, "this validator is not a participant") }
        guard everyone.contains(p.coordinator) else {
            throw RPCError(.invalidArgument, "the coordinator is not a participant")
        }
        try checkKnown(everyone)
    }

    /// Every address must be a validator whose tss-signer we can reach (or us).
    func checkKnown(_ addresses: [Address]) throws {
        for address in addresses where address != me {
            guard validators[address] != nil else {
                throw RPCError(.invalidArgument, "\(checksummedHex(address)) is not a validator of \(chainID)")
            }
            guard network.endpoint(address) != nil else {
                throw RPCError(
                    .failedPrecondition, "no tss.persistent_peers entry for \(checksummedHex(address))")
            }
        }
    }

    func identity(_ address: Address) -> PublicKey? { address == me ? key.publicKey : validators[address] }

    /// Our prepared part of a session: `commit` takes what it consumes (called once approved;
    /// its error is a refusal), then `work` runs it.
    struct Prepared: Sendable {
        var commit: @Sendable () throws -> Void = {}
        /// For a session we will not join: drops what `commit` would have taken, if it can never
        /// be used otherwise (a pooled presignature its coordinator has proposed).
        var discard: @Sendable () -> Void = {}
        let work: @Sendable () async throws -> Outcome
    }

    /// Prepares our part. Only a signing's preparation may run before approval: it takes nothing
    /// from the store until `commit` (the cached decoded copy it takes is dropped by `discard`).
    func prepare(_ p: TSSSessionProposal, sessionID sid: [UInt8]) throws -> Prepared {
        switch p.kind {
        case .keygen: return Prepared(work: try prepareKeygen(p, sid))
        case .presign: return Prepared(work: try prepareSigning(p, sid).work)
        case .sign: return try prepareSigning(p, sid)
        case .reshare: return Prepared(work: try prepareReshare(p, sid))
        }
    }

    static func recordName(_ sid: [UInt8]) -> String { Hex.encode(Array(sid.prefix(16))) }

    /// The presigning sub-session of a full signing session.
    static func presignSessionID(of sid: [UInt8]) -> [UInt8] { SHA256.hash(sid + Array("/presign".utf8)) }

    /// Ends our part of a session (and of its presigning sub-session) at once.
    func cancelLocal(_ sid: [UInt8], _ error: TSSSessionError) async {
        sessions.cancel(sid, error)
        sessions.cancel(Self.presignSessionID(of: sid), error)
    }

    func prepareKeygen(
        _ p: TSSSessionProposal, _ sid: [UInt8]
    ) throws
        -> @Sendable () async throws ->
        Outcome
    {
        let parties = p.parties
        var identities: [PartyIndex: PublicKey] = [:]
        var participants: [TSSSessionManager.Participant] = []
        for (i, address) in parties.enumerated() {
            guard let identity = identity(address) else { throw RPCError(.invalidArgument, "unknown party") }
            identities[PartyIndex(i)] = identity
            participants.append(.init(address: address, identity: identity, party: PartyIndex(i)))
        }
        let myIndex = PartyIndex(parties.firstIndex(of: me)!)
        let previous = try readyRecord(p.keyID, required: false)
        let recordID: KeyRecordID
        do { recordID = try KeyRecordID(keyID: p.keyID, sessionID: Self.recordName(sid)) } catch {
            throw RPCError(.invalidArgument, "\(error)")
        }
        let pre: KeygenPreParams
        do {
            guard let taken = try pool.take() else {
                let s = pool.status
                throw RPCError(
                    .resourceExhausted,
                    "no keygen pre-params ready at \(checksummedHex(me)) (\(s.ready) of \(s.target); generating: \(s.generating))"
                )
            }
            pre = taken
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(.internal, "pre-params pool: \(error)")
        }
        do {
            try store.createPending(
                recordID, threshold: Int(p.threshold), parties: (0..<PartyIndex(parties.count)).map { $0 }, me: myIndex)
        } catch {
            throw RPCError(.alreadyExists, "\(error)")
        }
        let threshold = Int(p.threshold)
        let key = self.key
        let members = participants
        let identityTable = identities
        return { [self] in
            do {
                let share: KeyShare = try await sessions.run(
                    sessionID: sid, participants: members,
                    start: { me in
                        var rng = SecureRandomNumberGenerator()
                        return try Keygen.start(
                            params: KeygenParameters(
                                sessionID: sid, threshold: threshold, parties: members.map(\.party), me: me,
                                identities: identityTable),
                            preParams: pre, identityKey: key, rng: &rng)
                    },
                    receive: { machine, from, message in
                        var rng = SecureRandomNumberGenerator()
                        return machine.receive(from: from, message, rng: &rng)
                    })
                let header = try store.markReady(recordID, share: share)
                state.withLock { $0.shares[recordID] = share }
                if let previous { retire(previous.id, because: "re-keyed by \(recordID)") }
                return .key(try info(header))
            } catch {
                _ = try? store.markError(recordID, reason: "\(error)")
                throw error
            }
        }
    }

    /// A signing (or a pool refill's presigning). A signing that names a pooled presignature reads,
    /// opens and checks it here and takes it (deletes it from the store) in `commit`.
    func prepareSigning(_ p: TSSSessionProposal, _ sid: [UInt8]) throws -> Prepared {
        let header = try recordHeader(p.keyID, p.keygenSession)
        guard header.status == .ready else {
            throw RPCError(
                .failedPrecondition, "key record \(header.id) is \(header.status) here: this share no longer takes part"
            )
        }
        let share = try loadShare(header.id)
        guard Int(p.threshold) == share.threshold else {
            throw RPCError(.invalidArgument, "threshold differs from the key")
        }
        let addresses = try partyAddresses(header.id)
        var participants: [TSSSessionManager.Participant] = []
        for address in p.parties {
            guard let i = addresses.firstIndex(of: address) else {
                throw RPCError(.invalidArgument, "\(checksummedHex(address)) holds no share of \(header.id)")
            }
            participants.append(.init(address: address, identity: share.identities[i], party: share.parties[i]))
        }
        let key = self.key
        let recordID = header.id
        let digest = p.messageHash
        let members = participants
        state.withLock { $0.keyUsed[recordID] = ContinuousClock.now }
        if p.kind == .presign {
            return Prepared { [self] in
                let finished = try await sessions.runPresigning(
                    sessionID: sid, participants: members, share: share, identityKey: key, priority: .low)
                guard let presignature = finished.takePresignature() else {
                    throw TSSSessionError.invalidArguments("presigning left no presignature")
                }
                let bytes = presignature.sealedBytes()
                try store.putPresignature(
                    record: recordID, presignSession: sid, signers: presignature.signers, sealedBytes: bytes,
                    leaseAhead: Self.presignatureLeases)
                presignatureCache.put(presignature, sealed: bytes, record: recordID, session: sid)
                return .presigned
            }
        }
        let signers = members.map(\.address)
        let box = PresignatureBox()
        let pooled = !p.presignSession.isEmpty
        let signerIndices = members.map(\.party).sorted()
        guard let combiner = members.first(where: { $0.address == p.coordinator })?.party else {
            throw RPCError(.invalidArgument, "the coordinator is not one of the signers")
        }
        /// Any problem with the named presignature (absent, dropped by a restart, tampered, made by
        /// other signers) is `notFound`: the coordinator then tries another presignature.
        @Sendable func unavailable(_ error: any Error) -> RPCError {
            let why = (error as? RPCError)?.message ?? "\(error)"
            return RPCError(.notFound, "presignature \(Hex.encode(p.presignSession.prefix(8))) not available: \(why)")
        }
        var commit: @Sendable () throws -> Void = {}
        var discard: @Sendable () -> Void = {}
        if pooled {
            // Read, opened and checked now; taken (deleted from the store) in `commit`, once
            // approved and before it is used: a crash from then on loses it, never reuses it.
            let presignSession = p.presignSession
            let peeked: SecretBytes
            if let cached = presignatureCache.take(record: recordID, session: presignSession),
                cached.signers == signerIndices, let presignature = cached.box.take()
            {
                // Made by this process: checked when it was made; `commit` compares the store's copy.
                peeked = cached.sealed
                box.put(presignature)
            } else {
                do {
                    peeked = try store.peekPresignature(record: recordID, presignSession: presignSession)
                    let presignature = try Presignature.decode(peeked, keyShare: share)
                    guard presignature.signers == signerIndices else {
                        throw RPCError(.notFound, "the presignature was made by other signers")
                    }
                    box.put(presignature)
                } catch {
                    throw unavailable(error)
                }
            }
            commit = { [store] in
                do {
                    let taken = try store.takePresignature(record: recordID, presignSession: presignSession)
                    guard taken == peeked else {
                        throw RPCError(.notFound, "the presignature changed while it was being checked")
                    }
                } catch {
                    _ = box.take()
                    throw unavailable(error)
                }
            }
            discard = { [store, logger] in
                _ = box.take()
                Task(priority: .low) {
                    do {
                        _ = try store.takePresignature(record: recordID, presignSession: presignSession)
                        logger.info(
                            "pooled presignature dropped: its signing was not joined here",
                            metadata: [
                                "presignature": "\(Hex.encode(presignSession.prefix(8)))", "record": "\(recordID)",
                            ])
                    } catch {
                        // Already gone (taken by a concurrent proposal, or dropped by an epoch).
                    }
                }
            }
        }
        return Prepared(commit: commit, discard: discard) { [self] in
            let presignature: Presignature
            if let taken = box.take() {
                presignature = taken
            } else {
                let finished = try await sessions.runPresigning(
                    sessionID: Self.presignSessionID(of: sid), participants: members, share: share, identityKey: key,
                    priority: .high, nonces: nonces)
                guard let fresh = finished.takePresignature() else {
                    throw TSSSessionError.invalidArguments("presigning left no presignature")
                }
                presignature = fresh
            }
            // The coordinator combines; the other signers hand it their shares and are done.
            let signature = try await sessions.runSigning(
                sessionID: sid, participants: members, presignature: presignature, digest: digest, identityKey: key,
                combiner: combiner)
            // The combiner's signature was verified against the group key and recovered to it by
            // `OnlineSigning.combine` just before it was released.
            if pooled {
                // Lease the next presignatures of this set, off the critical path.
                Task(priority: .low) { [store] in
                    _ = try? store.leasePresignatures(
                        record: recordID, signers: signerIndices, upTo: Self.presignatureLeases)
                }
            }
            guard let signature else { return .shareSent }
            let bytes = signature.bytes65
            return .signature(
                TSSSignature(
                    keyID: recordID.keyID, keygenSession: recordID.sessionID, messageHash: digest,
                    r: Array(bytes[0..<32]), s: Array(bytes[32..<64]), v: bytes[64], signers: signers, sessionID: sid,
                    pooled: pooled))
        }
    }

    func prepareReshare(
        _ p: TSSSessionProposal, _ sid: [UInt8]
    ) throws
        -> @Sendable () async throws ->
        Outcome
    {
        let (publicKey, dealerData) = try Self.decodeKeyData(p.keyData, dealers: p.parties.count)
        var dealers: [ResharingDealer] = []
        for (address, data) in zip(p.parties, dealerData) {
            guard let identity = identity(address) else { throw RPCError(.invalidArgument, "unknown dealer") }
            dealers.append(ResharingDealer(identity: identity, shareID: data.0, publicShare: data.1))
        }
        var receivers: [ResharingReceiver] = []
        for (i, address) in p.newParties.enumerated() {
            guard let identity = identity(address) else { throw RPCError(.invalidArgument, "unknown receiver") }
            receivers.append(ResharingReceiver(identity: identity, shareID: Scalar(UInt64(i + 1))))
        }
        let params = ResharingParameters(
            sessionID: sid, publicKey: publicKey, dealers: dealers, newThreshold: Int(p.threshold), receivers: receivers
        )
        var participants: [TSSSessionManager.Participant] = []
        for (i, address) in p.participants.enumerated() {
            participants.append(.init(address: address, identity: identity(address)!, party: PartyIndex(i)))
        }
        let isDealer = p.parties.contains(me)
        let isReceiver = p.newParties.contains(me)
        var oldShare: KeyShare? = nil
        var oldRecord: KeyRecordID? = nil
        if isDealer {
            let header = try recordHeader(p.keyID, p.keygenSession)
            guard header.status == .ready else {
                throw RPCError(.failedPrecondition, "key record \(header.id) is \(header.status) here")
            }
            let share = try loadShare(header.id)
            guard Self.encodeKeyData(share) == p.keyData else {
                throw RPCError(.invalidArgument, "the proposal's key data differs from this validator's share")
            }
            oldShare = share
            oldRecord = header.id
        }
        var pre: KeygenPreParams? = nil
        var newRecord: KeyRecordID? = nil
        if isReceiver {
            do {
                guard let taken = try pool.take() else {
                    throw RPCError(.resourceExhausted, "no keygen pre-params ready at \(checksummedHex(me))")
                }
                pre = taken
                let id = try KeyRecordID(keyID: p.keyID, sessionID: Self.recordName(sid))
                try store.createPending(
                    id, threshold: Int(p.threshold), parties: (0..<PartyIndex(receivers.count)).map { $0 },
                    me: PartyIndex(p.newParties.firstIndex(of: me)!))
                newRecord = id
            } catch let error as RPCError {
                throw error
            } catch {
                throw RPCError(.internal, "\(error)")
            }
        }
        let key = self.key
        let dealt = oldShare
        let preParams = pre
        let members = participants
        let newID = newRecord
        let oldID = oldRecord
        return { [self] in
            do {
                let output: ResharingOutput = try await sessions.run(
                    sessionID: sid, participants: members,
                    start: { _ in
                        var rng = SecureRandomNumberGenerator()
                        return try Resharing.start(
                            params: params, identityKey: key, oldShare: dealt, preParams: preParams, rng: &rng)
                    },
                    receive: { machine, from, message in
                        var rng = SecureRandomNumberGenerator()
                        return machine.receive(from: from, message, rng: &rng)
                    })
                var result: Outcome = .retiredOnly
                if let newRecord = newID, let share = output.share {
                    let header = try store.markReady(newRecord, share: share)
                    state.withLock { $0.shares[newRecord] = share }
                    result = .key(try info(header))
                }
                if let oldRecord = oldID { retire(oldRecord, because: "reshared into \(Self.recordName(sid))") }
                return result
            } catch {
                if let newRecord = newID { _ = try? store.markError(newRecord, reason: "\(error)") }
                throw error
            }
        }
    }

    /// Retires a record: its presignatures go, its share never signs again.
    func retire(_ id: KeyRecordID, because why: String) {
        _ = try? store.retire(id)
        let dropped = (try? store.dropPresignatures(record: id)) ?? 0
        presignatureCache.drop(record: id)
        state.withLock { s in
            s.shares[id] = nil
            s.addresses[id] = nil
        }
        logger.info(
            "key record retired", metadata: ["record": "\(id)", "why": "\(why)", "presignatures_dropped": "\(dropped)"])
    }

    /// Ends every session in flight here (the service stops): each fails with `cancelled`, and
    /// this returns once their tasks have.
    public func shutdown() async {
        sessions.cancelAll(.cancelled("the tss-signer is stopping"))
        let tasks = state.withLock { $0.running.values.compactMap(\.task) }
        // A session that registers after cancelAll (still computing its first round) ends at
        // once too: a cancelled task ends the session it runs.
        for task in tasks { task.cancel() }
        for task in tasks { _ = try? await task.value }
    }

    // MARK: Presignature pool

    /// The signer set this node coordinates presignatures for: itself and the next t parties of the
    /// key (cyclically), so that every node keeps its own warm set.
    func ownSignerSet(_ record: KeyRecordID, _ share: KeyShare) -> [Address]? {
        guard let addresses = try? partyAddresses(record) else { return nil }
        return SignerSelection.ownSet(parties: addresses, me: me, threshold: share.threshold)
    }

    /// A pooled presignature (its presigning session id) of `record` made by exactly `signers`,
    /// reserved for the caller (see `releasePresignatures`): no other signing this node coordinates
    /// picks it meanwhile.
    func pooledPresignature(
        _ record: KeyRecordID, signers: [Address], excluding: Set<[UInt8]> = []
    ) throws -> [UInt8]? {
        let share = try loadShare(record)
        let addresses = try partyAddresses(record)
        let indices = signers.compactMap { a in addresses.firstIndex(of: a).map { share.parties[$0] } }.sorted()
        let entries = try store.presignatures(record: record).filter {
            $0.signers == indices && !excluding.contains($0.session)
        }
        return state.withLock { s in
            let free = entries.filter { !s.reservedPresignatures.contains($0.session) }
            // A leased one first: every signer then takes it without a synced write.
            guard let chosen = (free.first { $0.leased } ?? free.first)?.session else { return nil }
            s.reservedPresignatures.insert(chosen)
            return chosen
        }
    }

    /// Ends the reservations `pooledPresignature` made for one signing.
    func releasePresignatures(_ sessions: [[UInt8]]) {
        guard !sessions.isEmpty else { return }
        state.withLock { s in for session in sessions { s.reservedPresignatures.remove(session) } }
    }

    /// One refill step for every READY key: runs presigning sessions until this node's own set has
    /// `presignTarget` presignatures. Returns how many it made.
    @discardableResult
    public func refillPresignatures() async -> Int {
        guard presignTarget > 0 else { return 0 }
        var made = 0
        for case .success(let header) in (try? store.records()) ?? [] where header.status == .ready {
            guard let share = try? loadShare(header.id), let signers = ownSignerSet(header.id, share) else { continue }
            let now = Self.nowMs()
            if state.withLock({ $0.selection.avoidedUntil(signers, nowMs: now) }) != nil { continue }
            while (try? countPresignatures(header.id, signers: signers, share: share)) ?? presignTarget < presignTarget
            {
                let proposal = TSSSessionProposal(
                    kind: .presign, keyID: header.id.keyID, keygenSession: header.id.sessionID, parties: signers,
                    threshold: UInt16(share.threshold), coordinator: me, nonce: nextNonce())
                do {
                    _ = try await coordinate(proposal)
                    made += 1
                } catch {
                    logger.notice(
                        "presignature refill failed", metadata: ["record": "\(header.id)", "error": "\(error)"])
                    break
                }
                if Task.isCancelled { return made }
            }
        }
        return made
    }

    /// Tops up the Paillier randomizer pool while this node is idle: for every READY key it signed
    /// or presigned with in the last hour, (1 + 6t) · P under its own modulus and 4 · P under each
    /// peer's (what P presignings on the spot take; P = `tss.nonce_pool_presignings`). One
    /// randomizer per job on the background thread (nice 10), stopping as soon as a session
    /// starts; moduli of keys no longer served are dropped. Returns how many it made.
    @discardableResult
    public func refillNonces() async -> Int {
        // A store that cannot list its records leaves the pool as it is.
        guard noncePresignings > 0, let records = try? store.records() else { return 0 }
        let now = ContinuousClock.now
        let used = state.withLock { $0.keyUsed }
        var served: [(share: KeyShare, targets: [(key: PaillierPublicKey, count: Int)])] = []
        for case .success(let header) in records where header.status == .ready {
            guard let last = used[header.id], RandomizerRefill.serves(sinceLastUse: now - last),
                let share = try? loadShare(header.id)
            else { continue }
            served.append((share, share.paillierNonceTargets(presignings: noncePresignings)))
        }
        nonces.retain(only: Set(served.flatMap { $0.targets.map(\.key.n) }))
        var made = 0
        for (share, targets) in served {
            for (key, missing) in RandomizerRefill.shortfall(targets, stocked: nonces.count(modulus:)) {
                for _ in 0..<missing {
                    guard isIdle(), !Task.isCancelled else { return made }
                    let task = Task(executorPreference: sessions.background, priority: .background) { [nonces] in
                        var rng = SecureRandomNumberGenerator()
                        try share.precomputePaillierNonce(for: key, into: nonces, using: &rng)
                    }
                    guard (try? await task.value) != nil else { return made }
                    made += 1
                }
            }
        }
        return made
    }

    /// `RandomizerRefill.mayRun` on this node's sessions (monotonic clock).
    func isIdle() -> Bool {
        let now = ContinuousClock.now
        return state.withLock { s in
            RandomizerRefill.mayRun(
                sessionsRunning: s.running.count, sinceLastSessionEnd: s.lastSessionEnd.map { now - $0 })
        }
    }

    func countPresignatures(_ record: KeyRecordID, signers: [Address], share: KeyShare) throws -> Int {
        let addresses = try partyAddresses(record)
        let indices = signers.compactMap { a in addresses.firstIndex(of: a).map { share.parties[$0] } }.sorted()
        return try store.presignatures(record: record).filter { $0.signers == indices }.count
    }

    // MARK: Helpers

    func nextNonce() -> UInt64 {
        state.withLock { s in
            s.nonce = max(s.nonce + 1, Self.nowMs() << 8)
            return s.nonce
        }
    }

    /// Whether a validator of `set` failed to answer recently (`SignerSelection`).
    func isAvoided(_ set: [Address]) -> Bool {
        let now = Self.nowMs()
        return state.withLock { $0.selection.isAvoided(set, nowMs: now) }
    }

    func markAvoid(_ silent: [Address]) {
        let now = Self.nowMs()
        state.withLock { $0.selection.markSilent(silent, nowMs: now) }
    }

    /// t + 1 signers for a fresh signing (`SignerSelection.choose`).
    func chooseSigners(_ parties: [Address], t: Int, excluding excluded: Set<Address>) -> [Address]? {
        let now = Self.nowMs()
        return state.withLock { $0.selection.choose(parties: parties, threshold: t, excluding: excluded, nowMs: now) }
    }

    /// Waits (up to 10 s) while a record of `keyID` (`session`, or any) is PENDING with its
    /// session running here: the last round's messages reach parties moments apart.
    func waitWhilePending(_ keyID: String, session: String?) async {
        for _ in 0..<200 {
            // Public headers (not authenticated): this only decides whether to wait a moment.
            let pending = headerView().publicHeaders.contains { result in
                guard case .success(let h) = result else { return false }
                return h.id.keyID == keyID && h.status == .pending && (session == nil || h.id.sessionID == session)
            }
            guard pending else { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The key store's public headers, and the records authenticated from them so far, as of
    /// store generation `generation`: every signing reads them (which key is READY, whether
    /// one is still PENDING), and they change only when a record is written.
    struct HeaderView {
        let generation: UInt64
        let publicHeaders: [Result<KeyRecordHeader, KeyStoreError>]
        var checked: [KeyRecordID: KeyRecordHeader] = [:]
    }

    /// The public headers as of the store's current generation (read again after any record write).
    func headerView() -> HeaderView {
        let generation = store.generation
        if let view = state.withLock({ $0.headers }), view.generation == generation { return view }
        guard let read = try? store.publicHeaders() else {
            return HeaderView(generation: generation, publicHeaders: [])
        }
        let view = HeaderView(generation: generation, publicHeaders: read)
        state.withLock { $0.headers = view }
        return view
    }

    /// Record `id`'s header authenticated (its box opened), once per store generation.
    func checkedHeader(_ id: KeyRecordID) -> KeyRecordHeader? {
        let generation = store.generation
        if let view = state.withLock({ $0.headers }), view.generation == generation, let known = view.checked[id] {
            return known
        }
        guard let header = try? store.header(id) else { return nil }
        state.withLock { s in
            if s.headers?.generation == generation { s.headers?.checked[id] = header }
        }
        return header
    }

    func headers() throws -> [Result<KeyRecordHeader, KeyStoreError>] {
        do { return try store.records() } catch { throw RPCError(.internal, "key store: \(error)") }
    }

    /// The READY record of `keyID` (the newest if several). The public headers name the
    /// candidates; only the chosen one is authenticated (its box opened), unless it fails to be,
    /// when every record is.
    func readyRecord(_ keyID: String, required: Bool) throws -> KeyRecordHeader? {
        func newest(_ headers: [Result<KeyRecordHeader, KeyStoreError>]) -> KeyRecordHeader? {
            headers.compactMap { try? $0.get() }.filter { $0.id.keyID == keyID && $0.status == .ready }
                .max(by: { $0.createdMs < $1.createdMs })
        }
        if let candidate = newest(headerView().publicHeaders), let checked = checkedHeader(candidate.id),
            checked == candidate
        {
            return checked
        }
        if let ready = newest(try headers()) { return ready }
        if required { throw RPCError(.notFound, "no READY key \(keyID)") }
        return nil
    }

    func recordHeader(_ keyID: String, _ session: String) throws -> KeyRecordHeader {
        do {
            let id = try KeyRecordID(keyID: keyID, sessionID: session)
            return try checkedHeader(id) ?? store.header(id)
        } catch {
            throw RPCError(.failedPrecondition, "key record \(keyID):\(session) is not held here: \(error)")
        }
    }

    /// The validator address of every party of record `id`'s share, in party order (cached).
    func partyAddresses(_ id: KeyRecordID) throws -> [Address] {
        if let cached = state.withLock({ $0.addresses[id] }) { return cached }
        let share = try loadShare(id)
        let addresses: [Address]
        do { addresses = try share.identities.map { try Address(bytes: $0.ethereumAddressBytes) } } catch {
            throw RPCError(.internal, "key share \(id): a party identity has no address: \(error)")
        }
        state.withLock { $0.addresses[id] = addresses }
        return addresses
    }

    func loadShare(_ id: KeyRecordID) throws -> KeyShare {
        if let cached = state.withLock({ $0.shares[id] }) { return cached }
        do {
            let share = try store.share(id)
            state.withLock { $0.shares[id] = share }
            return share
        } catch {
            throw RPCError(.failedPrecondition, "key share \(id): \(error)")
        }
    }

    func info(_ header: KeyRecordHeader) throws -> TSSKeyInfo {
        var parties: [Address] = []
        var presignatures = 0
        if header.status == .ready, let share = try? loadShare(header.id) {
            parties = share.identities.compactMap { try? Address(bytes: $0.ethereumAddressBytes) }
            presignatures = (try? store.presignatureCount(record: header.id)) ?? 0
        }
        return TSSKeyInfo(
            keyID: header.id.keyID, keygenSession: header.id.sessionID, status: header.status.rawValue,
            threshold: UInt16(header.threshold), parties: parties, publicKey: header.groupPublicKey ?? [],
            address: header.address ?? [], presignatures: UInt32(presignatures), reason: header.errorReason ?? "")
    }

    /// A reshare's key data: y (33 bytes) ‖ count (u32) ‖ (x_i (32) ‖ X_i (33)) per old holder.
    static func encodeKeyData(_ share: KeyShare) -> [UInt8] {
        var w = WireWriter()
        w.writeFixedBytes(share.publicKey.encoded)
        w.writeUInt32(UInt32(share.shareIDs.count))
        for (x, X) in zip(share.shareIDs, share.publicShares) {
            w.writeFixedBytes(x.bytes)
            w.writeFixedBytes(X.encoded)
        }
        return w.bytes
    }

    static func decodeKeyData(_ bytes: [UInt8], dealers: Int) throws -> (Point, [(Scalar, Point)]) {
        do {
            var r = WireReader(bytes)
            let y = try Point(encoded: try r.readFixedBytes(count: 33))
            let count = Int(try r.readUInt32())
            guard count == dealers else { throw RPCError(.invalidArgument, "key data names \(count) holders") }
            var out: [(Scalar, Point)] = []
            for _ in 0..<count {
                let x = try Scalar(bytes: try r.readFixedBytes(count: 32))
                let X = try Point(encoded: try r.readFixedBytes(count: 33))
                out.append((x, X))
            }
            try r.finish()
            return (y, out)
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(.invalidArgument, "malformed key data: \(error)")
        }
    }

    // MARK: Status

    /// `Status` over RPC: the counts, and `detail` (the `/status` object) as JSON text.
    public func statusReply(_ detail: JSONValue) async -> TSSStatusReply {
        let headers = ((try? store.publicHeaders()) ?? []).compactMap { try? $0.get() }
        let ready = headers.filter { $0.status == .ready }
        let presignatures = ready.reduce(0) { $0 + ((try? store.presignatureCount(record: $1.id)) ?? 0) }
        let running = state.withLock { $0.running.count }
        return TSSStatusReply(
            keysReady: UInt32(ready.count), sessionsRunning: UInt32(running), preparamsReady: UInt32(pool.status.ready),
            presignatures: UInt32(presignatures), peersKnown: UInt32(max(0, validators.count - 1)),
            peersConnected: UInt32(network.connectedPeers), json: detail.serialized())
    }

    public func statusJSON() async -> [String: JSONValue] {
        let s = state.withLock { $0 }
        let counters = network.counters
        var running: [JSONValue] = []
        for (sid, r) in s.running {
            running.append(
                .object([
                    "session": .string(Hex.encode(sid)), "kind": .string(r.proposal.kind.description),
                    "key": .string(r.proposal.keyID), "role": .string(r.role),
                    "age_ms": .uint(Self.nowMs() &- r.startedMs),
                ]))
        }
        var presign: [String: JSONValue] = [:]
        for case .success(let header) in (try? store.records()) ?? [] where header.status == .ready {
            presign[header.id.description] = .int((try? store.presignatureCount(record: header.id)) ?? 0)
        }
        return [
            "sessions": .object([
                "running": .array(running),
                "completed": .object(s.completed.mapValues { .int($0) }),
                "failed": .object(s.failed.mapValues { .int($0) }),
                "recent_errors": .array(s.lastErrors.map { .string($0) }),
            ]),
            "presignaturePool": .object(["target": .int(presignTarget), "ready": .object(presign)]),
            "paillierRandomizers": .object([
                "presigningsPerKey": .int(noncePresignings), "ready": .int(nonces.total),
            ]),
            "peers": .object([
                "known": .int(validators.count - 1), "connected": .int(network.connectedPeers),
                "sent": .int(counters.sent), "failed_sends": .int(counters.failedSends),
                "rejected": .int(counters.rejected),
            ]),
        ]
    }
}

/// Holds a noncopyable presignature until the session task takes it (once).
final class PresignatureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Presignature?
    func put(_ presignature: consuming Presignature) {
        lock.lock()
        value = consume presignature
        lock.unlock()
    }
    func take() -> Presignature? {
        lock.lock()
        defer { lock.unlock() }
        return value.take()
    }
}

func checksummedHex(_ address: Address) -> String { eip55Checksum(addressBytes: address.bytes) }
