import ConsensusManagerCore
import ConsensusStore
import Foundation
import LevelDB
import Logging
import NodeKit
import Secp256k1
import ServiceKit
import Tendermint
import Wire

/// The engine's tunables (from `[consensus]` of node.toml, or set directly by tests and benches).
public struct ConsensusEngineSettings: Sendable {
    public var timeouts: TimeoutConfig
    /// Pause between a commit and the next height (CometBFT `timeout_commit`).
    public var timeoutCommitMs: UInt64
    /// Status reports, re-gossip of a stalled round and block-sync requests run this often.
    public var gossipIntervalMs: UInt64
    public var maxBlockBytes: Int
    public var partBytes: Int
    public var mempool: Mempool.Limits

    public init(
        timeouts: TimeoutConfig = TimeoutConfig(), timeoutCommitMs: UInt64 = 1000, gossipIntervalMs: UInt64 = 500,
        maxBlockBytes: Int = 4 << 20, partBytes: Int = 64 << 10, mempool: Mempool.Limits = Mempool.Limits()
    ) {
        self.timeouts = timeouts
        self.timeoutCommitMs = timeoutCommitMs
        self.gossipIntervalMs = gossipIntervalMs
        self.maxBlockBytes = maxBlockBytes
        self.partBytes = partBytes
        self.mempool = mempool
    }

    public init(config: NodeConfig.Consensus) {
        self.init(
            timeouts: TimeoutConfig(
                propose: UInt64(config.timeoutProposeMs), proposeDelta: UInt64(config.timeoutProposeDeltaMs),
                prevote: UInt64(config.timeoutPrevoteMs), prevoteDelta: UInt64(config.timeoutPrevoteDeltaMs),
                precommit: UInt64(config.timeoutPrecommitMs), precommitDelta: UInt64(config.timeoutPrecommitDeltaMs)),
            timeoutCommitMs: UInt64(config.timeoutCommitMs), gossipIntervalMs: UInt64(config.gossipIntervalMs),
            maxBlockBytes: config.maxBlockBytes, partBytes: config.blockPartBytes,
            mempool: Mempool.Limits(
                maxCount: config.mempoolMaxTxs, maxBytes: config.mempoolMaxBytes,
                maxTxBytes: min(Block.maxTxBytes, config.maxBlockBytes / 2)))
    }
}

/// Why the engine cannot start.
public enum ConsensusEngineError: Error, CustomStringConvertible {
    case store(ConsensusStoreError)
    case state(String)

    public var description: String {
        switch self {
        case .store(let e): "\(e)"
        case .state(let why): "consensus state: \(why)"
        }
    }
}

/// The Tendermint engine of one validator (issue 5): the pure `Driver` run by one actor, with
/// every effect performed here —
///
/// - **sign**: proposals and votes with the validator key, but only after the `ConsensusStore`
///   made the record durable (`persistSigned` → `appendSigned`, one synced batch with the
///   last-signed guard) and only if the guard permits it (a refused or failed write means the
///   message is never signed nor sent);
/// - **gossip**: proposals as an announcement plus size-capped block parts, votes, transactions
///   and status through `ConsensusTransport`; own messages of a stalled round are sent again
///   every `gossipIntervalMs` (the network may have lost them; Tendermint's liveness needs
///   eventual delivery);
/// - **receive**: envelopes are verified by the transport's handler; here every proposal and
///   vote signature is checked against the height's validator set, heights and rounds are
///   checked, parts are checked against their part-set root and the assembled block against the
///   chain tip and the application, before anything reaches the driver;
/// - **decide**: the block is finalized in the application, then block + commit certificate +
///   the new `ChainTip` are committed to the store in one synced batch, the mempool drops the
///   block's transactions, and the next height starts after `timeoutCommitMs`;
/// - **restart**: the tip comes back from the store, the application replays the stored blocks
///   (its hash must match the tip's), and the driver is rebuilt from the WAL (`Driver.restore`);
/// - **catch-up**: peers report their committed height; a node behind fetches (block, signed
///   commit) pairs and applies only those that `BlockSync`/`ChainTip` verify.
public actor ConsensusEngine {
    public nonisolated let chainID: String
    public nonisolated let address: Address
    public nonisolated let settings: ConsensusEngineSettings
    private let key: PrivateKey
    private let store: ConsensusStore
    private let transport: ConsensusTransport
    private let logger: Logger
    private let driverConfig: DriverConfig

    private var driver: Driver
    private var tip: ChainTip
    private var app: KeyValueApp
    private var mempool: Mempool
    private var sync: BlockSync
    private var failed: String?
    private var stopped = false

    // The running height's gossip state (reset by `resetHeight`).
    private struct ProposalKey: Hashable {
        let round: Round
        let valueID: ValueID
    }
    private struct Pending {
        let announcement: ProposalAnnouncement
        var assembler: PartSetAssembler
    }
    private var pending: [ProposalKey: Pending] = [:]
    private var fed: Set<ProposalKey> = []
    private var values: [ValueID: Value] = [:]
    private var signatures: [Vote: [UInt8]] = [:]
    private var own: [(round: Round, message: ConsensusGossip)] = []
    private var proposers: [Round: Address] = [:]
    /// Proposal messages for the height after the next one, kept until the tip reaches it.
    private var deferred: [(ConsensusGossip, Address)] = []
    private var heightStartedMs: UInt64 = Monotonic.nowMs()
    private var lastProgress: (Height, Round, Step)?
    /// A `persistSigned` that failed: the broadcast that follows it must not happen.
    private var refusedStep: SignedStep?

    private nonisolated let inbox: AsyncStream<(ConsensusGossip, Address)>.Continuation
    private let inboxStream: AsyncStream<(ConsensusGossip, Address)>
    private var commitObservers: [@Sendable (Block, UInt64) -> Void] = []

    public struct Counters: Sendable {
        public var committed: UInt64 = 0
        public var synced: UInt64 = 0
        public var invalidSignatures: UInt64 = 0
        public var invalidProposals: UInt64 = 0
        public var invalidParts: UInt64 = 0
        public var evidence: UInt64 = 0
        public var signRefused: UInt64 = 0
        public var regossiped: UInt64 = 0
        public var droppedMessages: UInt64 = 0
    }
    public private(set) var counters = Counters()

    /// Opens the consensus store of `db` and restores the chain, the application and the driver.
    public init(
        chainID: String, key: PrivateKey, validators: ValidatorSet, db: LevelDBStore, settings: ConsensusEngineSettings,
        transport: ConsensusTransport, logger: Logger
    ) throws {
        let address = try Address(bytes: key.publicKey.ethereumAddressBytes)
        let driverConfig = DriverConfig(chainID: chainID, address: address, timeouts: settings.timeouts)
        let (store, replay): (ConsensusStore, WALReplay)
        do {
            (store, replay) = try ConsensusStore.open(db)
        } catch {
            throw ConsensusEngineError.store(error)
        }
        if let damage = replay.droppedTail {
            logger.warning("consensus WAL: damaged last record dropped", metadata: ["damage": "\(damage)"])
        }
        var tip = ChainTip.genesis(chainID: chainID, validators: validators, appHash: KeyValueApp.genesisHash)
        if let state = try Self.loadState(store) {
            guard state.chainID == chainID else {
                throw ConsensusEngineError.state("the stored chain is \(state.chainID), the genesis says \(chainID)")
            }
            tip = state
        }
        // The application is rebuilt from the stored blocks (the KV app keeps no state of its own).
        var app = KeyValueApp()
        if tip.height.value > 0 {
            for h in 1...tip.height.value {
                guard let stored = try Self.loadBlock(store, Height(h)) else {
                    throw ConsensusEngineError.state("block \(h) missing below the tip \(tip.height)")
                }
                _ = app.finalizeBlock(stored)
                _ = app.commit()
            }
            guard app.appHash == tip.appHash else {
                throw ConsensusEngineError.state("the application's hash after replay differs from the stored tip")
            }
        }
        var driver = Driver(config: driverConfig, height: tip.nextHeight)
        var effects: [Driver.Effect] = []
        if replay.height == tip.nextHeight, !replay.records.isEmpty {
            (driver, effects) = Driver.restore(
                config: driverConfig, height: tip.nextHeight, validators: tip.validators, signed: replay.records)
            logger.info(
                "consensus restored from the WAL",
                metadata: ["height": "\(tip.nextHeight)", "records": "\(replay.records.count)"])
        }
        let (stream, continuation) = AsyncStream.makeStream(
            of: (ConsensusGossip, Address).self, bufferingPolicy: .bufferingNewest(65_536))
        self.chainID = chainID
        self.key = key
        self.address = address
        self.settings = settings
        self.transport = transport
        self.logger = logger
        self.driverConfig = driverConfig
        self.store = store
        self.tip = tip
        self.app = app
        self.driver = driver
        self.restoredEffects = effects
        self.mempool = Mempool(limits: settings.mempool)
        self.sync = BlockSync(requestTimeoutMs: max(1000, 4 * settings.gossipIntervalMs))
        self.inboxStream = stream
        self.inbox = continuation
    }

    private var restoredEffects: [Driver.Effect]

    private static func loadState(_ store: ConsensusStore) throws -> ChainTip? {
        guard let state = try store.chainState() else { return nil }
        do {
            return try ChainTip.decode(state.bytes)
        } catch {
            throw ConsensusEngineError.state("the stored chain tip is unreadable: \(error)")
        }
    }

    private static func loadBlock(_ store: ConsensusStore, _ h: Height) throws -> Block? {
        guard let stored = try store.block(at: h) else { return nil }
        do {
            return try Block.decode(value: stored.value)
        } catch {
            throw ConsensusEngineError.state("stored block \(h) is unreadable: \(error)")
        }
    }

    // MARK: Running

    /// Runs until cancelled: starts (or resumes) the running height, then handles peers' messages
    /// and the periodic gossip tick.
    public func run() async {
        if restoredEffects.isEmpty, case .awaitingHeight = driver.phase {
            feed(.newHeight(tip.validators))
        } else {
            let effects = restoredEffects
            restoredEffects = []
            perform(effects)
        }
        heightStartedMs = Monotonic.nowMs()
        let ticker = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                try? await Task.sleep(for: .milliseconds(Int64(self.settings.gossipIntervalMs)))
                await self.tick()
            }
        }
        defer { ticker.cancel() }
        await withTaskCancellationHandler {
            for await (message, peer) in inboxStream {
                handle(message, from: peer)
            }
        } onCancel: {
            Task { await self.stop() }
        }
        stopped = true
    }

    private func stop() {
        stopped = true
        inbox.finish()
    }

    /// Hands a verified envelope's payload to the engine (from the network handler, in order).
    public nonisolated func deliver(_ message: ConsensusGossip, from peer: Address) {
        // When the queue is full the oldest messages go: the engine is far behind, and re-gossip
        // and block sync recover what it loses.
        inbox.yield((message, peer))
    }

    /// Called with every committed block and the monotonic time of the commit (benches, tests).
    public func onCommit(_ observer: @escaping @Sendable (Block, UInt64) -> Void) {
        commitObservers.append(observer)
    }

    // MARK: Local API

    public enum SubmitError: Error, CustomStringConvertible {
        case rejected(String)
        case full
        case tooLarge(Int)

        public var description: String {
            switch self {
            case .rejected(let why): "transaction rejected: \(why)"
            case .full: "the mempool is full"
            case .tooLarge(let n): "transaction of \(n) bytes is too large"
            }
        }
    }

    /// Adds a local transaction to the mempool and gossips it; returns its hash and whether it
    /// was known already.
    public func submit(_ tx: [UInt8]) throws(SubmitError) -> (hash: TxHash, duplicate: Bool) {
        switch mempool.add(tx, check: app.checkTx) {
        case .added(let hash):
            pendingTxGossip.append(tx)
            pendingTxBytes += tx.count
            if pendingTxGossip.count >= 256 || pendingTxBytes >= 256 << 10 { flushTxs() } else { scheduleTxFlush() }
            return (hash, false)
        case .duplicate(let hash): return (hash, true)
        case .rejected(_, let why): throw .rejected(why)
        case .full: throw .full
        case .tooLarge(let n): throw .tooLarge(n)
        }
    }

    private var pendingTxGossip: [[UInt8]] = []
    private var pendingTxBytes = 0
    private var txFlushScheduled = false

    /// Transactions travel in batches: one envelope signature for many (a few ms of delay).
    private func scheduleTxFlush() {
        guard !txFlushScheduled else { return }
        txFlushScheduled = true
        Task {
            try? await Task.sleep(for: .milliseconds(2))
            self.flushTxs()
        }
    }

    private func flushTxs() {
        txFlushScheduled = false
        guard !pendingTxGossip.isEmpty else { return }
        transport.broadcast(.txs(pendingTxGossip))
        pendingTxGossip = []
        pendingTxBytes = 0
    }

    /// The committed block at `height` (0: the latest).
    public func block(at height: UInt64) throws -> (Block, ValueID)? {
        let h = height == 0 ? tip.height : Height(height)
        guard h.value > 0, h <= tip.height, let stored = try store.block(at: h) else { return nil }
        return (try Block.decode(value: stored.value), stored.value.id)
    }

    public var committedHeight: Height { tip.height }
    public var mempoolCount: Int { mempool.count }

    /// The app's committed value of `key`.
    public func query(key: [UInt8]) -> QueryResult { app.query(path: "key", data: key) }

    // MARK: Driver

    private func feed(_ input: Driver.Input) {
        guard failed == nil, !stopped else { return }
        var queue = [input]
        while !queue.isEmpty {
            let next = queue.removeFirst()
            let effects: [Driver.Effect]
            do {
                effects = try driver.handle(next)
            } catch {
                failed = "\(error)"
                logger.critical("consensus driver failed", metadata: ["error": "\(error)"])
                return
            }
            if let follow = perform(effects) { queue.append(contentsOf: follow) }
        }
    }

    /// Performs effects in order; returns driver inputs they produced (an answer to `getValue`).
    @discardableResult
    private func perform(_ effects: [Driver.Effect]) -> [Driver.Input]? {
        var follow: [Driver.Input] = []
        for effect in effects {
            switch effect {
            case .getValue(let h, let r):
                follow.append(.proposeValue(makeValue(round: r), height: h, round: r))
            case .scheduleTimeout(let t):
                schedule(t)
            case .persistSigned(let m):
                do {
                    try store.appendSigned(m)
                } catch {
                    refusedStep = SignedStep(m)
                    counters.signRefused += 1
                    logger.error("refusing to sign", metadata: ["message": "\(m)", "error": "\(error)"])
                }
            case .broadcastProposal(let p):
                broadcast(.proposal(p))
            case .broadcastVote(let v):
                broadcast(.vote(v, value: nil))
            case .decide(let h, let r, let value, let certificate):
                decided(height: h, round: r, value: value, certificate: certificate)
            case .evidence(let e):
                counters.evidence += 1
                logger.warning("equivocation", metadata: ["evidence": "\(e)"])
            }
        }
        return follow.isEmpty ? nil : follow
    }

    /// Signs and sends one of our messages, if the WAL holds it and the guard permits it.
    private func broadcast(_ message: SignedMessage) {
        let step = SignedStep(message)
        if refusedStep == step { return }
        let verdict = store.verdict(for: message)
        guard verdict.isPermitted else {
            counters.signRefused += 1
            logger.error("double-sign guard refused", metadata: ["message": "\(message)", "verdict": "\(verdict)"])
            return
        }
        do {
            switch message {
            case .proposal(let p):
                let signature = try ConsensusSignature.sign(p.signBytes(chainID: chainID), key: key)
                let (header, parts) = PartSet.split(p.value.bytes, partSize: settings.partBytes)
                values[p.value.id] = p.value
                var out: [ConsensusGossip] = [
                    .proposal(ProposalAnnouncement.make(p, parts: header, chainID: chainID, signature: signature))
                ]
                for part in parts {
                    out.append(.part(height: p.height, round: p.round, valueID: p.value.id, part: part))
                }
                for m in out {
                    own.append((p.round, m))
                    transport.broadcast(m)
                }
            case .vote(let v, _):
                let signed = try SignedVote.sign(v, chainID: chainID, key: key)
                signatures[v] = signed.signature
                transport.broadcast(.votes([signed]))
            }
        } catch {
            logger.error("cannot sign", metadata: ["error": "\(error)"])
        }
    }

    private func makeValue(round: Round) -> Value {
        let overhead = 1024 + (tip.lastCommit?.encoded().count ?? 0)
        let budget = max(0, settings.maxBlockBytes - overhead)
        let candidates = mempool.reap(maxBytes: budget, maxCount: Block.maxTxCount, perTxOverhead: 4)
        let txs = app.prepareProposal(
            height: tip.nextHeight, candidates: candidates, maxBytes: budget - 4 * candidates.count)
        let block = tip.makeBlock(round: round, proposer: address, timeMs: Self.wallClockMs(), txs: txs)
        return block.value
    }

    private static func wallClockMs() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }

    private func schedule(_ t: Timeout) {
        Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(Int64(min(t.durationMs, UInt64(Int64.max)))))
            await self?.feed(.timeout(t.kind, height: t.height, round: t.round))
        }
    }

    // MARK: Commit

    private func decided(height: Height, round: Round, value: Value, certificate: CommitCertificate) {
        guard height == tip.nextHeight else { return }
        let block: Block
        do {
            block = try Block.decode(value: value)
        } catch {
            // valid(v) was checked before the driver saw the proposal; this cannot happen.
            failed = "decided an undecodable block: \(error)"
            logger.critical("decided an undecodable block", metadata: ["error": "\(error)"])
            return
        }
        let votes = certificate.precommits.compactMap { v in signatures[v].map { SignedVote(vote: v, signature: $0) } }
        let commit = SignedCommit(height: height, round: round, blockID: value.id, votes: votes)
        guard commitBlock(block, value: value, commit: commit) else { return }
        let next = tip.nextHeight
        Task { [weak self, delay = settings.timeoutCommitMs] in
            if delay > 0 { try? await Task.sleep(for: .milliseconds(Int64(delay))) }
            await self?.startHeight(next)
        }
    }

    /// Starts `height` on a driver that decided the one before.
    private func startHeight(_ height: Height) {
        guard driver.phase == .decided, driver.roundState.height.next == height, tip.nextHeight == height else {
            return
        }
        feed(.newHeight(tip.validators))
        afterHeightStarted()
    }

    private func afterHeightStarted() {
        heightStartedMs = Monotonic.nowMs()
        let replay = deferred
        deferred = []
        for (m, p) in replay { handle(m, from: p) }
    }

    /// Executes and stores a decided block; false (and the engine halts) if the store refuses.
    private func commitBlock(_ block: Block, value: Value, commit: SignedCommit) -> Bool {
        _ = app.finalizeBlock(block)
        let appHash = app.commit()
        let next = tip.advanced(block: block, commit: commit, appHash: appHash)
        do {
            try store.commit(value: value, certificate: commit.certificate, state: next.encoded())
        } catch {
            failed = "cannot commit block \(block.header.height): \(error)"
            logger.critical(
                "cannot commit a block", metadata: ["height": "\(block.header.height)", "error": "\(error)"])
            return false
        }
        tip = next
        mempool.update(committed: block.txs, recheck: app.checkTx)
        counters.committed += 1
        resetHeight()
        let now = Monotonic.nowMs()
        for observer in commitObservers { observer(block, now) }
        logger.debug(
            "committed",
            metadata: ["height": "\(block.header.height)", "txs": "\(block.txs.count)", "hash": "\(value.id)"])
        transport.broadcast(.status(committed: tip.height, height: tip.nextHeight, round: 0))
        return true
    }

    private func resetHeight() {
        pending = [:]
        fed = []
        values = [:]
        signatures = signatures.filter { $0.key.height > tip.height }
        own = []
        proposers = [:]
        refusedStep = nil
    }

    // MARK: Receiving

    private func handle(_ message: ConsensusGossip, from peer: Address) {
        guard failed == nil else { return }
        switch message {
        case .proposal(let a):
            receiveAnnouncement(a, message: message, from: peer)
        case .part(let h, let r, let id, let part):
            receivePart(height: h, round: r, valueID: id, part: part, message: message, from: peer)
        case .votes(let votes):
            for v in votes { receiveVote(v) }
        case .txs(let txs):
            for tx in txs { _ = mempool.add(tx, check: app.checkTx) }
        case .status(let committed, _, _):
            sync.peerReported(peer, committed: committed)
            requestBlocksIfBehind()
        case .blockRequest(let h):
            serveBlock(h, to: peer)
        case .blockResponse(let value, let commit):
            switch sync.received(from: peer, value: value, commit: commit, tip: tip) {
            case .apply(let block, let commit):
                applySynced(block, value: value, commit: commit)
            case .ignore:
                break
            case .refuse(let why):
                logger.notice("block sync answer refused", metadata: ["peer": "\(peer)", "error": "\(why)"])
            }
            requestBlocksIfBehind()
        }
    }

    private var runningHeight: Height? {
        driver.phase == .running ? driver.roundState.height : nil
    }

    private func proposer(of round: Round) -> Address {
        if let p = proposers[round] { return p }
        let p = tip.validators.proposer(forRound: round).address
        proposers[round] = p
        return p
    }

    private func withinRounds(_ r: Round) -> Bool {
        r.value <= max(driver.roundState.round.value, 0) + driverConfig.maxFutureRounds
    }

    private func receiveAnnouncement(_ a: ProposalAnnouncement, message: ConsensusGossip, from peer: Address) {
        if a.height == tip.nextHeight.next {
            deferMessage(message, from: peer)
            return
        }
        guard a.height == tip.nextHeight, withinRounds(a.round) else { return }
        let key = ProposalKey(round: a.round, valueID: a.valueID)
        guard pending[key] == nil, !fed.contains(key) else { return }
        guard proposer(of: a.round) == a.proposer, a.verify(chainID: chainID) else {
            counters.invalidSignatures += 1
            return
        }
        guard PartSetAssembler.accepts(a.parts, partSize: settings.partBytes, maxBytes: settings.maxBlockBytes),
            pending.keys.filter({ $0.round == a.round }).count < driverConfig.maxProposalsPerRound
        else {
            counters.invalidProposals += 1
            return
        }
        if let value = values[a.valueID] {
            feedProposal(a, value: value)
            return
        }
        pending[key] = Pending(
            announcement: a,
            assembler: PartSetAssembler(header: a.parts, partSize: settings.partBytes, maxBytes: settings.maxBlockBytes)
        )
    }

    private func receivePart(
        height: Height, round: Round, valueID: ValueID, part: BlockPart, message: ConsensusGossip, from peer: Address
    ) {
        if height == tip.nextHeight.next {
            deferMessage(message, from: peer)
            return
        }
        let key = ProposalKey(round: round, valueID: valueID)
        guard height == tip.nextHeight, var p = pending[key] else { return }
        switch p.assembler.add(part) {
        case .complete(let bytes):
            pending[key] = nil
            let value = Value(bytes: bytes)
            guard value.id == valueID else {
                counters.invalidProposals += 1
                return
            }
            values[value.id] = value
            feedProposal(p.announcement, value: value)
        case .added:
            pending[key] = p
        case .duplicate:
            break
        case .invalid(let why):
            counters.invalidParts += 1
            logger.debug("invalid block part", metadata: ["peer": "\(peer)", "error": "\(why)"])
        }
    }

    private func deferMessage(_ message: ConsensusGossip, from peer: Address) {
        guard deferred.count < 1024 else {
            counters.droppedMessages += 1
            return
        }
        deferred.append((message, peer))
    }

    /// `valid(v)`: the block extends our tip, names its proposer (unless re-proposed from an
    /// earlier round), fits the size cap, and the application accepts it.
    private func feedProposal(_ a: ProposalAnnouncement, value: Value) {
        let key = ProposalKey(round: a.round, valueID: a.valueID)
        guard !fed.contains(key), let proposal = a.proposal(with: value) else { return }
        fed.insert(key)
        var valid = value.bytes.count <= settings.maxBlockBytes
        if valid {
            do {
                let block = try Block.decode(value: value)
                try tip.check(block)
                if a.validRound.isNone, block.header.proposer != a.proposer || block.header.round != a.round {
                    valid = false
                }
                valid = valid && app.processProposal(block)
            } catch {
                valid = false
            }
        }
        if !valid { counters.invalidProposals += 1 }
        feed(.proposal(proposal, valid: valid))
    }

    private func receiveVote(_ signed: SignedVote) {
        let v = signed.vote
        // This height, or the next one (the driver keeps those until it starts).
        guard v.height == tip.nextHeight || v.height == tip.nextHeight.next, tip.validators.contains(v.validator),
            v.validator != address, withinRounds(v.round) || v.height != tip.nextHeight
        else { return }
        if signatures[v] != nil { return }
        guard signed.verify(chainID: chainID) else {
            counters.invalidSignatures += 1
            return
        }
        signatures[v] = signed.signature
        feed(.vote(v))
    }

    // MARK: Block sync

    private func serveBlock(_ h: Height, to peer: Address) {
        guard h.value > 0, h <= tip.height else { return }
        do {
            guard let stored = try store.block(at: h) else { return }
            let commit: SignedCommit?
            if h == tip.height {
                commit = tip.lastCommit
            } else {
                commit = try Self.loadBlock(store, h.next)?.lastCommit
            }
            guard let commit else { return }
            transport.send(.blockResponse(value: stored.value, commit: commit), to: peer)
        } catch {
            logger.error("cannot serve a block", metadata: ["height": "\(h)", "error": "\(error)"])
        }
    }

    private func requestBlocksIfBehind() {
        guard let best = sync.bestPeerHeight, best >= tip.nextHeight else { return }
        // A peer one height ahead may just have committed what we are about to: give our own
        // round a little time before fetching.
        let waited = Monotonic.nowMs() - heightStartedMs
        guard best > tip.nextHeight || waited > 2 * settings.gossipIntervalMs else { return }
        if let request = sync.nextRequest(next: tip.nextHeight, nowMs: Monotonic.nowMs()) {
            transport.send(.blockRequest(request.height), to: request.peer)
        }
    }

    private func applySynced(_ block: Block, value: Value, commit: SignedCommit) {
        guard commitBlock(block, value: value, commit: commit) else { return }
        counters.synced += 1
        driver = Driver(config: driverConfig, height: tip.nextHeight)
        feed(.newHeight(tip.validators))
        // The replaced driver may have buffered votes of this height; they are verified and
        // kept in `signatures`, and a copy gossiped again would be dropped as known: feed them.
        for vote in signatures.keys where vote.height == tip.nextHeight { feed(.vote(vote)) }
        afterHeightStarted()
    }

    // MARK: Tick

    private func tick() {
        guard failed == nil, !stopped else { return }
        let s = driver.roundState
        transport.broadcast(.status(committed: tip.height, height: s.height, round: s.round))
        let now = (s.height, s.round, s.step)
        if let last = lastProgress, last == now, driver.phase == .running {
            // Stalled since the last tick: messages may have been lost, or a peer may have
            // restarted without them. Send again our proposals of this height and every signed
            // vote we hold for it, of every round and from every validator (each keeps its own
            // signature, so relaying is safe): a restarted peer needs the prevotes of an earlier
            // round to accept a re-proposed locked value (line 28), and a crashed validator
            // cannot re-send its own (CometBFT gossips votes of all rounds for the same reason).
            for m in own {
                transport.broadcast(m.message)
                counters.regossiped += 1
            }
            let votes = signatures.filter { $0.key.height == s.height }.map {
                SignedVote(vote: $0.key, signature: $0.value)
            }
            var start = 0
            while start < votes.count {
                let end = min(votes.count, start + ConsensusGossip.maxVotes)
                transport.broadcast(.votes(Array(votes[start..<end])))
                counters.regossiped += UInt64(end - start)
                start = end
            }
        }
        lastProgress = now
        requestBlocksIfBehind()
    }

    // MARK: Status

    public func status() -> JSONValue {
        let s = driver.roundState
        let phase: String =
            switch driver.phase {
            case .awaitingHeight: "starting"
            case .running: "running"
            case .decided: "committing"
            case .failed: "failed"
            }
        return .object([
            "height": .uint(tip.height.value),
            "running_height": .uint(s.height.value),
            "round": .int(s.round.value),
            "step": .string("\(s.step)"),
            "phase": .string(failed == nil ? phase : "failed"),
            "error": failed.map { .string($0) } ?? .null,
            "last_block_hash": .string("0x" + Hex.encode(tip.lastBlockHash)),
            "last_block_time_ms": .uint(tip.lastBlockTimeMs),
            "app_hash": .string("0x" + Hex.encode(tip.appHash)),
            "validators": .array(
                tip.validators.validators.map { v in
                    .object(["address": .string(checksummedAddress(v.address)), "power": .uint(v.power)])
                }),
            "gossip_peers": .array(transport.connectedPeers.map { .string(checksummedAddress($0)) }),
            "peer_heights": .object(
                Dictionary(
                    uniqueKeysWithValues: sync.peerHeights.map { (checksummedAddress($0.key), .uint($0.value.value)) })),
            "mempool": .object(["size": .uint(UInt64(mempool.count)), "bytes": .uint(UInt64(mempool.bytes))]),
            "counters": .object([
                "committed": .uint(counters.committed), "synced": .uint(counters.synced),
                "invalid_signatures": .uint(counters.invalidSignatures),
                "invalid_proposals": .uint(counters.invalidProposals), "invalid_parts": .uint(counters.invalidParts),
                "evidence": .uint(counters.evidence), "sign_refused": .uint(counters.signRefused),
                "regossiped": .uint(counters.regossiped),
            ]),
        ])
    }

    /// `GET /blocks`: the latest (up to 1,000) committed heights with their hashes.
    public func recentBlocks() -> JSONValue {
        let top = tip.height.value
        let from = top > 1000 ? top - 999 : 1
        var rows: [JSONValue] = []
        if top > 0 {
            for h in from...top {
                guard let stored = try? store.block(at: Height(h)) else { continue }
                let txs = (try? Block.decode(value: stored.value))?.txs.count ?? 0
                rows.append(
                    .object([
                        "height": .uint(h), "hash": .string("0x" + Hex.encode(stored.value.id.bytes)),
                        "txs": .uint(UInt64(txs)),
                    ]))
            }
        }
        return .object(["height": .uint(top), "blocks": .array(rows)])
    }
}
