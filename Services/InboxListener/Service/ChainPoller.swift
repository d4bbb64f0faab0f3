import EVM
import HTTPFetch
import InboxListenerCore
import LevelDB
import Logging
import NodeKit
import RPC
import ServiceKit
import ServiceLifecycle
import Synchronization
import Wire

/// One chain's poll loop: performs what its pure `ChainTracker` decides (head, headers, logs
/// over `EthereumRPC`; the tracker's state written atomically to `inbox.db` before anything is
/// forwarded; forwards to the consensus-manager over the registered link) and publishes a
/// snapshot for `/status` and `/readyz`.
///
/// Failures never stop the loop: an RPC failure (timeout, refused connection, garbage answer)
/// drops the poll, counts it and waits a backoff before the next one; a failed forward tells the
/// tracker nothing was acknowledged (everything is sent again, the consensus-manager
/// deduplicates). Nothing is acknowledged before it is durable on both sides, so a `kill -9`
/// at any point loses nothing.
final class ChainPoller: Service, Sendable {
    struct Snapshot: Sendable {
        var status: ChainTracker.Status
        var polled = false
        var reachable = false
        var rpcErrors: UInt64 = 0
        var lastError: String?
        var lastErrorKind: String?
        var consensusManagerBusy = false
        var refused: UInt64 = 0
        var forwardFailures: UInt64 = 0
        var lastForwardError: String?
    }

    let chain: InboxChainConfig
    private let trackerConfig: ChainTrackerConfig
    private let rpc: EthereumRPC
    private let store: LevelDBStore
    private let link: ConsensusLink
    private let logger: Logger
    private let forwardTimeout: Duration
    private let state: Mutex<Snapshot>
    private let initialTracker: Mutex<ChainTracker?>

    init(
        chain: InboxChainConfig, store: LevelDBStore, link: ConsensusLink, forwardTimeout: Duration, logger: Logger
    ) throws {
        self.chain = chain
        do {
            trackerConfig = try ChainTrackerConfig(
                chainID: chain.chainID, inbox: chain.inbox, startBlock: chain.startBlock)
        } catch {
            throw ConfigError(problems: [
                .init(origin: .combined, key: InboxChainConfig.key, message: "chain \(chain.chainID): \(error)")
            ])
        }
        var log = logger
        log[metadataKey: "chain"] = "\(chain.chainID)"
        self.logger = log
        self.store = store
        self.link = link
        self.forwardTimeout = forwardTimeout
        // Few quick attempts: the poll loop is the retry (with its own backoff), and a poll that
        // blocks for long hides the chain's state from /status.
        rpc = try EthereumRPC(
            EthereumRPCConfiguration(
                endpoints: chain.rpc, expectedChainID: chain.chainID, requestTimeout: .seconds(5),
                connectTimeout: .seconds(2), maxAttempts: 2, initialBackoff: .milliseconds(50),
                maxBackoff: .milliseconds(500)))
        let tracker = try Self.restore(config: trackerConfig, store: store)
        initialTracker = Mutex(tracker)
        state = Mutex(Snapshot(status: tracker.status))
    }

    var description: String { "ChainPoller(\(chain.chainID))" }

    var snapshot: Snapshot { state.withLock { $0 } }

    // MARK: Durable state

    static func stateKey(_ chainID: UInt64) -> [UInt8] {
        var key = Array("tracker/".utf8)
        for i in (0..<8).reversed() { key.append(UInt8(truncatingIfNeeded: chainID >> (8 * UInt64(i)))) }
        return key
    }

    struct StoredStateError: Error, CustomStringConvertible {
        let description: String
    }

    static func restore(config: ChainTrackerConfig, store: LevelDBStore) throws -> ChainTracker {
        guard let bytes = try store.get(stateKey(config.chainID)) else { return ChainTracker(config: config) }
        let saved: ChainTrackerState
        do { saved = try ChainTrackerState.decode(bytes) } catch {
            throw StoredStateError(description: "the stored state of chain \(config.chainID) is unreadable: \(error)")
        }
        do { return try ChainTracker(config: config, restoring: saved) } catch {
            throw StoredStateError(description: "the stored state of chain \(config.chainID) cannot be used: \(error)")
        }
    }

    private func persist(_ saved: ChainTrackerState) throws {
        var batch = WriteBatch()
        batch.put(Self.stateKey(chain.chainID), saved.encoded())
        try store.write(batch, sync: true)
    }

    // MARK: Loop

    func run() async throws {
        try? await cancelWhenGracefulShutdown { try await self.loop() }
    }

    private func loop() async throws {
        guard
            var tracker = initialTracker.withLock({ t in
                defer { t = nil }; return t
            })
        else { return }
        let interval = Duration.milliseconds(chain.pollIntervalMs)
        var backoff = Backoff(min: interval, max: max(interval, .seconds(5)))
        var random = SystemRandomNumberGenerator()
        logger.info(
            "polling chain",
            metadata: [
                "endpoints": "\(chain.rpc.count)", "inbox": "\(checksummedAddress(chain.inbox))",
                "cursor": "\(tracker.status.cursor.map(String.init) ?? "none")",
                "queued": "\(tracker.status.queued)", "pending": "\(tracker.status.awaitingConfirmations)",
            ])
        var needsReload = false
        while !Task.isCancelled {
            let delay: Duration
            if needsReload {
                // Never poll or forward from a tracker that is ahead of what is durable.
                do {
                    tracker = try Self.restore(config: trackerConfig, store: store)
                    needsReload = false
                    logger.notice("chain state reloaded from the store")
                } catch {
                    logger.error("cannot reload the chain state; retrying", metadata: ["error": "\(error)"])
                    try await Task.sleep(for: backoff.next(using: &random))
                    continue
                }
            }
            do {
                try await poll(&tracker)
                chainAnswered()
                backoff.reset()
                delay = interval
            } catch let error as EthereumRPCError {
                chainFailed(error)
                delay = backoff.next(using: &random)
            } catch is CancellationError {
                break
            } catch {
                // Only the store can fail here: start again from what is durable.
                logger.error("cannot write the chain state; reloading it", metadata: ["error": "\(error)"])
                needsReload = true
                delay = backoff.next(using: &random)
            }
            publish(tracker)
            try await Task.sleep(for: delay)
        }
    }

    private func poll(_ tracker: inout ChainTracker) async throws {
        guard let head = try await rpc.block(.latest) else {
            throw EthereumRPCError.malformedResponse(
                endpoint: "", method: "eth_getBlockByNumber", reason: "no latest block")
        }
        var queue = tracker.handle(.head(number: head.number, hash: head.hash, parentHash: head.parentHash))
        do {
            try await perform(&queue, &tracker)
        } catch {
            // A failure mid-poll drops the rest of the queue. A `.forward` still in it was never
            // sent, but the tracker counts its requests in flight and would wait for their
            // acknowledgement forever (seen in CI: a chain outage left 155 requests queued and
            // none sent). Tell it the forward failed, so the next head sends them again; the
            // consensus-manager deduplicates whatever did get through.
            if queue.contains(where: { if case .forward = $0 { true } else { false } }) {
                _ = tracker.handle(.forwardFailed)
            }
            throw error
        }
    }

    /// Performs the tracker's actions in order, feeding the answers back; the actions they lead
    /// to join the queue.
    private func perform(_ queue: inout [ChainTracker.Action], _ tracker: inout ChainTracker) async throws {
        while !queue.isEmpty, !Task.isCancelled {
            let action = queue.removeFirst()
            switch action {
            case .persist(let saved):
                try persist(saved)
            case .fetchBlocks(let range):
                let blocks = try await fetchBlocks(range)
                queue += tracker.handle(.blocks(blocks))
            case .fetchLogs(let range):
                let filter = LogFilter(
                    range: .blocks(from: .number(range.lowerBound), to: .number(range.upperBound)),
                    addresses: [chain.inbox], topics: [[InboxLogDecoder.topic0]])
                let logs = try await rpc.logs(filter)
                queue += tracker.handle(.logs(range, logs))
            case .forward(let requests):
                for input in await forward(requests) { queue += tracker.handle(input) }
            case .reorgDetected(let reorg):
                logger.warning(
                    "chain reorganized",
                    metadata: [
                        "fork_point": "\(reorg.forkPoint)", "depth": "\(reorg.depth)",
                        "orphaned_requests": "\(reorg.orphaned.count)",
                    ])
                if !reorg.orphanedAfterForwarding.isEmpty {
                    logger.error(
                        "requests forwarded before their block was orphaned (reorg deeper than their confirmations)",
                        metadata: ["ids": "\(reorg.orphanedAfterForwarding.map { "\($0)" }.joined(separator: ","))"])
                }
            case .reorgBeyondWindow(let suspect, let oldest):
                logger.critical(
                    "reorg deeper than the kept window: chain halted until an operator intervenes",
                    metadata: ["suspect_block": "\(suspect)", "oldest_known": "\(oldest)"])
            case .rejected(let logs):
                for log in logs {
                    logger.warning(
                        "malformed inbox log skipped",
                        metadata: [
                            "block": "\(log.blockNumber)", "log_index": "\(log.logIndex)",
                            "tx": "\(log.transactionHash)", "reason": "\(log.reason)",
                        ])
                }
            }
            publish(tracker)
        }
    }

    /// Headers of `range` in one batch; stops at the first missing block (the node is behind its
    /// own head, e.g. mid-reorg): the tracker asks again after the next head.
    private func fetchBlocks(_ range: ClosedRange<UInt64>) async throws(EthereumRPCError) -> [BlockRef] {
        let requests = range.map {
            RPCRequest(method: "eth_getBlockByNumber", params: [BlockTag.number($0).json, .bool(false)])
        }
        let answers = try await rpc.batch(requests)
        var blocks: [BlockRef] = []
        for (number, answer) in zip(range, answers) {
            let value: JSONValue
            switch answer {
            case .success(let v): value = v
            case .failure(let error): throw error
            }
            if value.isNull { break }
            let block: Block
            do { block = try Block(json: value) } catch {
                throw .malformedResponse(endpoint: "", method: "eth_getBlockByNumber", reason: "\(error)")
            }
            guard block.number == number else {
                throw .malformedResponse(
                    endpoint: "", method: "eth_getBlockByNumber",
                    reason: "asked for block \(number), got \(block.number)")
            }
            blocks.append(BlockRef(number: block.number, hash: block.hash, parentHash: block.parentHash))
        }
        return blocks
    }

    /// Sends `requests` in batches; the tracker inputs of the answers.
    private func forward(_ requests: [InboxRequest]) async -> [ChainTracker.Input] {
        var inputs: [ChainTracker.Input] = []
        let wasFailing = state.withLock { $0.lastForwardError != nil }
        for chunk in ForwardBatch.chunks(requests) {
            do {
                let ack: SubmitInboxRequestsAck = try await link.call(
                    method: MethodID.submitInboxRequests,
                    request: SubmitInboxRequests(requests: chunk.map(\.record)), timeout: forwardTimeout)
                let outcome = ForwardBatch.outcome(sent: chunk, ack: ack)
                for refusal in outcome.refused {
                    logger.error(
                        "the consensus-manager refused a request",
                        metadata: ["request": "\(refusal.key)", "reason": "\(refusal.reason)"])
                }
                if outcome.unexpected > 0 {
                    logger.warning(
                        "the consensus-manager acknowledged requests that were not sent",
                        metadata: ["count": "\(outcome.unexpected)"])
                }
                let busy = outcome.notTaken > 0
                let wasBusy = state.withLock { s -> Bool in
                    let was = s.consensusManagerBusy
                    s.refused += UInt64(outcome.refused.count)
                    s.consensusManagerBusy = busy
                    s.lastForwardError = busy ? "pool full: \(outcome.notTaken) requests not taken" : nil
                    return was
                }
                if busy, !wasBusy {
                    logger.warning(
                        "the consensus-manager's pool is full; holding requests",
                        metadata: ["not_taken": "\(outcome.notTaken)"])
                }
                inputs += outcome.inputs
                // Pool full: `ForwardBatch.outcome` already ends with `.forwardFailed`, which takes
                // what was not taken, and the chunks not sent, out of flight.
                if busy { return inputs }
            } catch {
                let exhausted = (error as? RPCError)?.code == .resourceExhausted
                let message = "\(error)"
                let first = state.withLock { s -> Bool in
                    let first = s.lastForwardError == nil
                    s.forwardFailures += 1
                    s.consensusManagerBusy = true
                    s.lastForwardError = message
                    return first
                }
                if first {
                    logger.warning(
                        exhausted
                            ? "the consensus-manager's pool is full; holding requests"
                            : "cannot forward to the consensus-manager; holding requests",
                        metadata: ["error": "\(message)", "queued": "\(requests.count)"])
                }
                return inputs + [.forwardFailed]
            }
        }
        state.withLock {
            $0.consensusManagerBusy = false
            $0.lastForwardError = nil
        }
        if wasFailing { logger.notice("forwarding to the consensus-manager again") }
        return inputs
    }

    // MARK: Status

    private func publish(_ tracker: ChainTracker) {
        let status = tracker.status
        state.withLock { $0.status = status }
    }

    private func chainAnswered() {
        let previous = state.withLock { s -> (Bool, Bool, UInt64) in
            defer {
                s.polled = true
                s.reachable = true
                s.lastError = nil
                s.lastErrorKind = nil
            }
            return (s.polled, s.reachable, s.rpcErrors)
        }
        if previous.0, !previous.1 {
            logger.notice("chain reachable again", metadata: ["rpc_errors": "\(previous.2)"])
        }
    }

    private func chainFailed(_ error: EthereumRPCError) {
        let kind: String
        switch error {
        case .transport(_, .timeout): kind = "timeout"
        case .transport: kind = "unreachable"
        case .malformedResponse, .httpStatus: kind = "garbage answer"
        case .wrongChain, .noUsableEndpoint: kind = "wrong chain"
        case .rpc: kind = "rpc error"
        case .invalidRequest, .cancelled: kind = "client error"
        }
        let message = "\(kind): \(error)"
        let news = state.withLock { s -> Bool in
            // A new outage, or a new kind of failure in one, is worth a warning; repeats are not.
            let news = s.reachable || !s.polled || s.lastErrorKind != kind
            s.polled = true
            s.reachable = false
            s.rpcErrors += 1
            s.lastError = message
            s.lastErrorKind = kind
            return news
        }
        if news {
            logger.warning(
                "chain unreachable; retrying with backoff", metadata: ["kind": "\(kind)", "error": "\(error)"])
        } else {
            logger.debug("chain still unreachable", metadata: ["kind": "\(kind)", "error": "\(error)"])
        }
    }

    var statusJSON: JSONValue {
        let s = snapshot
        let t = s.status
        let phase: String
        switch t.phase {
        case .following: phase = "following"
        case .searchingFork(let b): phase = "searching fork below \(b)"
        case .halted(let b, let oldest): phase = "halted: block \(b) orphaned below the window (oldest \(oldest))"
        }
        return .object([
            "chainId": .uint(chain.chainID),
            "head": t.head.map { .uint($0) } ?? .null,
            "verifiedTip": t.verifiedTip.map { .uint($0) } ?? .null,
            "cursor": t.cursor.map { .uint($0) } ?? .null,
            "awaitingConfirmations": .int(t.awaitingConfirmations),
            "queued": .int(t.queued),
            "inFlight": .int(t.inFlight),
            "forwarded": .uint(t.counters.forwarded),
            "refused": .uint(s.refused),
            "rejectedLogs": .uint(t.counters.rejectedLogs),
            "reorgs": .uint(t.counters.reorgs),
            "orphanedRequests": .uint(t.counters.orphanedRequests),
            "backpressured": .bool(t.backpressured || s.consensusManagerBusy),
            "phase": .string(phase),
            "rpcErrors": .uint(s.rpcErrors),
            "reachable": .bool(s.reachable),
            "lastError": s.lastError.map { .string($0) } ?? .null,
            "forwardFailures": .uint(s.forwardFailures),
            "lastForwardError": s.lastForwardError.map { .string($0) } ?? .null,
        ])
    }

    /// Why this chain keeps the service not ready, or nil.
    var notReadyReason: String? {
        let s = snapshot
        if case .halted(let b, _) = s.status.phase { return "chain \(chain.chainID) halted (reorg below block \(b))" }
        if !s.polled { return "chain \(chain.chainID) not polled yet" }
        if !s.reachable { return "chain \(chain.chainID) unreachable: \(s.lastError ?? "unknown")" }
        return nil
    }
}
