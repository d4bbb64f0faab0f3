import EVM
import Wire

/// The pure decision core of inbox-listener for one chain (issue 6; DESIGN §7): observations of
/// the chain and of the consensus-manager go in, actions for the shell come out. No clock, no
/// socket, no randomness: the same inputs always give the same actions.
///
/// How the shell drives it:
/// - every poll, `.head` (from `eth_getBlockByNumber("latest")`); perform the fetch action it
///   answers with and feed the result back (`.blocks`, `.logs`), until no fetch comes back.
///   Fetches only answer chain observations; when an RPC call fails, drop it: the next `.head`
///   asks again. Answers that do not match what is being waited for are ignored (counted) and
///   ask for nothing.
/// - perform `.persist` before `.forward` (they come in that order); write it atomically.
/// - `.forward`: send each request to the consensus-manager (idempotent by `id`); feed
///   `.forwarded(id)` per acknowledgement, `.forwardFailed` when the link fails (everything in
///   flight is sent again after the next `.head`).
///
/// Rules:
/// - Canonical chain: block headers are accepted only when linked by parent hash to the
///   verified tip. A request in block b asking for c confirmations is ready once the verified
///   tip is at least b + `config.confirmationsToWait` and b is still canonical. (The verified
///   tip, not the reported head: only linked headers prove b is on the chain the node serves.)
/// - Reorg: a parent-hash or block-hash mismatch (a new header, a head, a log) starts a fork
///   search: headers are fetched back down until one matches the window; the blocks above it
///   are dropped, their pending requests are orphaned (never forwarded) and the scan resumes
///   after the fork point. A fork point below the window halts the tracker
///   (`.reorgBeyondWindow`): nothing more is forwarded until an operator intervenes.
/// - Exactly-once: confirmed requests are queued and forwarded until acknowledged
///   (at-least-once delivery); acknowledged ids enter the seen-set and are never forwarded
///   again, also when the request re-appears in a replacement block. Seen ids of blocks below
///   the window are evicted: the scan never goes back there (a deeper reorg halts).
/// - Backpressure: at most `maxInFlight` forwards unacknowledged; with `maxQueued` confirmed
///   requests unacknowledged, no more blocks are fetched (the chain waits; nothing is dropped).
public struct ChainTracker: Sendable {
    public enum Input: Hashable, Sendable {
        /// The node's head (`eth_getBlockByNumber("latest")`).
        case head(number: UInt64, hash: Hash32, parentHash: Hash32)
        /// The answer to `.fetchBlocks`: consecutive headers, ascending.
        case blocks([BlockRef])
        /// The answer to `.fetchLogs(range)`: the inbox's `RequestCreated` logs of the range.
        case logs(ClosedRange<UInt64>, [Log])
        /// The consensus-manager acknowledged a forwarded request.
        case forwarded(UInt256)
        /// The link to the consensus-manager failed: nothing in flight was acknowledged.
        case forwardFailed
    }

    /// A reorg, once its fork point is known.
    public struct Reorg: Hashable, Sendable {
        /// The last block the old and the new chain share.
        public var forkPoint: UInt64
        /// Verified blocks orphaned (old verified tip − fork point).
        public var depth: UInt64
        /// Requests of orphaned blocks dropped before they were ever forwarded.
        public var orphaned: [InboxRequest]
        /// Ids forwarded (perhaps acknowledged) before their block was orphaned: the reorg was
        /// deeper than their confirmations. They stay in the seen-set; alert on them.
        public var orphanedAfterForwarding: [UInt256]
    }

    /// A log that was not accepted as a request.
    public struct RejectedLog: Equatable, Sendable {
        public var blockNumber: UInt64
        public var logIndex: UInt64
        public var transactionHash: Hash32
        public var reason: InboxLogRejection
    }

    public enum Action: Equatable, Sendable {
        /// Fetch these headers (`eth_getBlockByNumber`, batched) and feed `.blocks`.
        case fetchBlocks(ClosedRange<UInt64>)
        /// Fetch the inbox's `RequestCreated` logs of these blocks and feed `.logs`.
        case fetchLogs(ClosedRange<UInt64>)
        /// Send these to the consensus-manager.
        case forward([InboxRequest])
        /// Write this durably (before performing the actions after it).
        case persist(ChainTrackerState)
        case reorgDetected(Reorg)
        /// The chain no longer contains `suspect`'s block and the fork point is below
        /// `oldestKnown`, the window's first block. The tracker is halted.
        case reorgBeyondWindow(suspect: UInt64, oldestKnown: UInt64)
        /// Logs refused, with reasons (log and count them).
        case rejected([RejectedLog])
    }

    public enum Phase: Hashable, Sendable {
        case following
        /// The block `suspect` may be orphaned; headers below it are being compared.
        case searchingFork(suspect: UInt64)
        case halted(suspect: UInt64, oldestKnown: UInt64)
    }

    public struct Counters: Hashable, Sendable {
        /// Acknowledged forwards.
        public var forwarded: UInt64 = 0
        public var rejectedLogs: UInt64 = 0
        public var reorgs: UInt64 = 0
        public var orphanedRequests: UInt64 = 0
        /// Fork searches that found the window intact (a flapping endpoint).
        public var falseAlarms: UInt64 = 0
        /// Answers that matched nothing being waited for (late, duplicated, or malformed).
        public var ignoredInputs: UInt64 = 0
        /// Acknowledgements of ids not queued (duplicates, or after a restart).
        public var ignoredAcks: UInt64 = 0
        /// Requests read again that were already pending, queued or acknowledged.
        public var alreadyKnown: UInt64 = 0
    }

    /// For `/status`.
    public struct Status: Hashable, Sendable {
        public var chainID: UInt64
        public var head: UInt64?
        public var verifiedTip: UInt64?
        public var cursor: UInt64?
        public var awaitingConfirmations: Int
        public var queued: Int
        public var inFlight: Int
        public var seen: Int
        public var backpressured: Bool
        public var phase: Phase
        public var counters: Counters
    }

    public enum RestoreError: Error, Hashable, Sendable {
        case otherChain(UInt64)
        case cursorAboveTip(cursor: UInt64, tip: UInt64)
    }

    public let config: ChainTrackerConfig
    private let decoder: InboxLogDecoder
    private var chain = CanonicalWindow()
    private var cursor: UInt64?
    private var pending: [InboxRequest] = []
    private var queued: [InboxRequest] = []
    private var inFlight: Set<UInt256> = []
    /// Queued ids sent at least once (maybe delivered): reported if their block is orphaned.
    private var sent: Set<UInt256> = []
    private var seen: [UInt256: UInt64] = [:]
    private var head: UInt64?
    public private(set) var phase = Phase.following
    private var forwardingPaused = false
    public private(set) var counters = Counters()

    // Per input.
    private var dirty = false
    private var reports: [Action] = []

    /// A fresh tracker: it scans from `config.startBlock`.
    public init(config: ChainTrackerConfig) {
        self.config = config
        self.decoder = config.decoder
    }

    /// After a restart: everything durable comes back; nothing is in flight, so every queued
    /// request is forwarded again (the consensus-manager deduplicates by id).
    public init(config: ChainTrackerConfig, restoring state: ChainTrackerState) throws(RestoreError) {
        guard state.chainID == config.chainID else { throw .otherChain(state.chainID) }
        self.init(config: config)
        chain = CanonicalWindow(base: state.canonicalBase, hashes: state.canonicalHashes)
        chain.trim(to: config.window)
        if let c = state.cursor, let tip = chain.tip, c > tip { throw .cursorAboveTip(cursor: c, tip: tip) }
        cursor = state.cursor
        pending = state.pending
        queued = state.queued
        sent = Set(queued.map(\.id))
        for s in state.seen { seen[s.id] = s.blockNumber }
    }

    /// What `.persist` carries.
    public var state: ChainTrackerState {
        ChainTrackerState(
            chainID: config.chainID, cursor: cursor, canonicalBase: chain.base, canonicalHashes: chain.hashes,
            pending: pending, queued: queued,
            seen: seen.map { ChainTrackerState.Seen(id: $0.key, blockNumber: $0.value) }.sorted { $0.id < $1.id })
    }

    public var status: Status {
        Status(
            chainID: config.chainID, head: head, verifiedTip: chain.tip, cursor: cursor,
            awaitingConfirmations: pending.count, queued: queued.count, inFlight: inFlight.count, seen: seen.count,
            backpressured: queued.count >= config.maxQueued, phase: phase, counters: counters)
    }

    /// Feeds one observation; returns what to do, in order.
    public mutating func handle(_ input: Input) -> [Action] {
        dirty = false
        reports = []
        var answersChain = false
        switch input {
        case .head(let number, let hash, let parentHash):
            answersChain = true
            forwardingPaused = false
            observeHead(number: number, hash: hash, parentHash: parentHash)
        case .blocks(let blocks):
            // An ignored answer asks for nothing (the next `.head` asks again): a shell can
            // never spin on answers that do not fit.
            answersChain = observeBlocks(blocks)
        case .logs(let range, let logs):
            answersChain = observeLogs(range, logs)
        case .forwarded(let id):
            acknowledge(id)
        case .forwardFailed:
            inFlight.removeAll()
            forwardingPaused = true
        }
        promote()
        var actions = reports
        reports = []
        if dirty { actions.append(.persist(state)) }
        if let batch = dispatch() { actions.append(.forward(batch)) }
        if answersChain, let fetch = nextFetch() { actions.append(fetch) }
        return actions
    }

    // MARK: Chain observations

    private mutating func observeHead(number: UInt64, hash: Hash32, parentHash: Hash32) {
        head = number
        if case .searchingFork(let s) = phase, number < s, chain.hash(at: number) != nil {
            // The node's chain is now shorter than the search: search from its head, or the
            // batch asked for could never be answered.
            phase = .searchingFork(suspect: number)
        }
        guard phase == .following else { return }
        if let known = chain.hash(at: number), known != hash {
            suspect(number)
        } else if number > 0, let known = chain.hash(at: number - 1), known != parentHash {
            suspect(number - 1)
        }
    }

    /// Whether the answer was used.
    private mutating func observeBlocks(_ blocks: [BlockRef]) -> Bool {
        guard let first = blocks.first, Self.linked(blocks) else {
            counters.ignoredInputs += 1
            return false
        }
        switch phase {
        case .halted:
            counters.ignoredInputs += 1
            return false
        case .searchingFork(let s):
            let low = searchLow(s)
            guard first.number == low, blocks.last!.number == s else {
                counters.ignoredInputs += 1
                return false
            }
            resolveFork(blocks, low: low, suspect: s)
            return true
        case .following:
            // Extensions only once every verified block is scanned (keeps the cursor in the window).
            guard first.number == nextHeaderNumber, scanRange() == nil else {
                counters.ignoredInputs += 1
                return false
            }
            if let tip = chain.tip, first.parentHash != chain.tipHash {
                suspect(tip)
                return true
            }
            if chain.isEmpty, first.number > 0 {
                // Anchor the window at the first block's parent, so a reorg of the very first
                // scanned block still finds its fork point.
                chain.append(BlockRef(number: first.number - 1, hash: first.parentHash, parentHash: .zero))
            }
            for block in blocks.prefix(Int(config.maxBlocksPerFetch)) { chain.append(block) }
            chain.trim(to: config.window)
            // Eviction: ids of blocks below the window can never be read again (rescans start
            // above the fork point, which is in the window, or the tracker halts).
            seen = seen.filter { $0.value >= chain.base }
            dirty = true
            return true
        }
    }

    /// Whether the answer was used.
    private mutating func observeLogs(_ range: ClosedRange<UInt64>, _ logs: [Log]) -> Bool {
        guard phase == .following, let expected = scanRange(), range == expected else {
            counters.ignoredInputs += 1
            return false
        }
        var known = Set(pending.map(\.id))
        known.formUnion(queued.map(\.id))
        var inBatch: Set<UInt256> = []
        var accepted: [InboxRequest] = []
        var rejected: [RejectedLog] = []
        func reject(_ log: Log, _ reason: InboxLogRejection) {
            rejected.append(
                RejectedLog(
                    blockNumber: log.blockNumber, logIndex: log.logIndex, transactionHash: log.transactionHash,
                    reason: reason))
        }
        for log in logs.sorted(by: { ($0.blockNumber, $0.logIndex) < ($1.blockNumber, $1.logIndex) }) {
            guard range.contains(log.blockNumber) else {
                reject(log, .outsideFetchedRange(block: log.blockNumber))
                continue
            }
            if !log.removed, let hash = chain.hash(at: log.blockNumber), hash != log.blockHash {
                // The logs come from another chain than the verified headers: find the fork
                // first, then read this range again.
                suspect(log.blockNumber)
                return true
            }
            let request: InboxRequest
            do { request = try decoder.decode(log) } catch {
                reject(log, error)
                continue
            }
            guard inBatch.insert(request.id).inserted else {
                reject(log, .duplicateID(request.id))
                continue
            }
            if known.contains(request.id) || seen[request.id] != nil {
                counters.alreadyKnown += 1
                continue
            }
            accepted.append(request)
        }
        pending += accepted
        cursor = range.upperBound
        dirty = true
        if !rejected.isEmpty {
            counters.rejectedLogs += UInt64(rejected.count)
            reports.append(.rejected(rejected))
        }
        return true
    }

    // MARK: Reorgs

    /// Starts a fork search below `number` (unless one runs: it goes down far enough anyway).
    private mutating func suspect(_ number: UInt64) {
        guard phase == .following, chain.hash(at: number) != nil else { return }
        phase = .searchingFork(suspect: number)
    }

    /// The lowest block of the search batch ending at `suspect`.
    private func searchLow(_ suspect: UInt64) -> UInt64 {
        let span = config.maxBlocksPerFetch - 1
        return max(chain.base, suspect >= span ? suspect - span : 0)
    }

    private mutating func resolveFork(_ blocks: [BlockRef], low: UInt64, suspect: UInt64) {
        var forkPoint = blocks.last(where: { chain.hash(at: $0.number) == $0.hash })?.number
        if forkPoint == nil, low > 0, let below = chain.hash(at: low - 1), below == blocks[0].parentHash {
            forkPoint = low - 1
        }
        if forkPoint == suspect {
            // The node serves our block again: a flapping endpoint, not a reorg.
            counters.falseAlarms += 1
            phase = .following
        } else if let forkPoint {
            rollback(to: forkPoint)
        } else if low > chain.base {
            phase = .searchingFork(suspect: low - 1)
        } else {
            phase = .halted(suspect: suspect, oldestKnown: chain.base)
            reports.append(.reorgBeyondWindow(suspect: suspect, oldestKnown: chain.base))
        }
    }

    private mutating func rollback(to forkPoint: UInt64) {
        let oldTip = chain.tip ?? forkPoint
        chain.truncate(after: forkPoint)
        if let c = cursor, c > forkPoint { cursor = forkPoint }
        var orphaned = pending.filter { $0.origin.blockNumber > forkPoint }
        pending.removeAll { $0.origin.blockNumber > forkPoint }
        var afterForwarding: [UInt256] = []
        for q in queued where q.origin.blockNumber > forkPoint {
            inFlight.remove(q.id)
            if sent.remove(q.id) != nil { afterForwarding.append(q.id) } else { orphaned.append(q) }
        }
        queued.removeAll { $0.origin.blockNumber > forkPoint }
        afterForwarding += seen.filter { $0.value > forkPoint }.map(\.key)
        counters.reorgs += 1
        counters.orphanedRequests += UInt64(orphaned.count)
        reports.append(
            .reorgDetected(
                Reorg(
                    forkPoint: forkPoint, depth: oldTip - forkPoint, orphaned: orphaned,
                    orphanedAfterForwarding: afterForwarding.sorted())))
        phase = .following
        dirty = true
    }

    // MARK: Confirmations and forwarding

    /// Moves the requests that have their confirmations on the verified chain to the queue.
    private mutating func promote() {
        guard phase == .following, let tip = chain.tip, !pending.isEmpty else { return }
        var waiting: [InboxRequest] = []
        for request in pending {
            let block = request.origin.blockNumber
            let (readyAt, overflow) = block.addingReportingOverflow(config.confirmationsToWait(request))
            // Below the window a block can no longer be checked, nor orphaned without a halt.
            let canonical = chain.hash(at: block).map { $0 == request.origin.blockHash } ?? (block < chain.base)
            if !overflow, tip >= readyAt, canonical {
                queued.append(request)
                dirty = true
            } else {
                waiting.append(request)
            }
        }
        pending = waiting
    }

    private mutating func acknowledge(_ id: UInt256) {
        guard let index = queued.firstIndex(where: { $0.id == id }) else {
            counters.ignoredAcks += 1
            return
        }
        let request = queued.remove(at: index)
        inFlight.remove(id)
        sent.remove(id)
        seen[id] = request.origin.blockNumber
        counters.forwarded += 1
        dirty = true
    }

    private mutating func dispatch() -> [InboxRequest]? {
        guard phase == .following, !forwardingPaused else { return nil }
        var batch: [InboxRequest] = []
        for request in queued {
            guard inFlight.count < config.maxInFlight else { break }
            guard !inFlight.contains(request.id) else { continue }
            inFlight.insert(request.id)
            sent.insert(request.id)
            batch.append(request)
        }
        return batch.isEmpty ? nil : batch
    }

    // MARK: What to read next

    private var nextHeaderNumber: UInt64 {
        if let tip = chain.tip { return tip + 1 }
        if let c = cursor { return c + 1 }
        return config.startBlock
    }

    /// Verified blocks whose logs are not read yet (at most `maxBlocksPerFetch`).
    private func scanRange() -> ClosedRange<UInt64>? {
        guard let tip = chain.tip else { return nil }
        let from = cursor.map { $0 + 1 } ?? max(config.startBlock, chain.base)
        guard from <= tip else { return nil }
        return from...(from + min(tip - from, config.maxBlocksPerFetch - 1))
    }

    private func nextFetch() -> Action? {
        switch phase {
        case .halted:
            return nil
        case .searchingFork(let s):
            return .fetchBlocks(searchLow(s)...s)
        case .following:
            if let range = scanRange() { return .fetchLogs(range) }
            guard queued.count < config.maxQueued, let head else { return nil }
            let next = nextHeaderNumber
            guard next <= head else { return nil }
            return .fetchBlocks(next...(next + min(head - next, config.maxBlocksPerFetch - 1)))
        }
    }

    private static func linked(_ blocks: [BlockRef]) -> Bool {
        for (a, b) in zip(blocks, blocks.dropFirst()) {
            guard a.number < UInt64.max, b.number == a.number + 1, b.parentHash == a.hash else { return false }
        }
        return true
    }
}
