import ConsensusManager
import ConsensusManagerCore
import Foundation
import Logging
import Secp256k1
import Synchronization
import Tendermint
import Wire

/// `vn-bench consensus` (issue 5): four validators in one process, each a real `ConsensusEngine`
/// with its own LevelDB (synced WAL and block writes) in a temp directory, talking over real
/// loopback TCP with signed envelopes (`LocalConsensusCluster`); short timeouts and no pause
/// after a commit (`timeout_commit` 0), as a latency-tuned deployment would run.
///
/// - `consensus.commit.latency`: one 200-byte transaction at a time, submitted to validator 0;
///   the time until validator 0 commits the block holding it.
/// - `consensus.throughput`: a burst of 200-byte transactions submitted round-robin to the four
///   validators (each gossips its own); transactions per second until validator 0 committed the
///   last of them.
struct ConsensusBench: BenchArea {
    let name = "consensus"

    struct Failure: Error, CustomStringConvertible { var description: String }

    static let settings = ConsensusEngineSettings(
        timeouts: TimeoutConfig(
            propose: 200, proposeDelta: 50, prevote: 100, prevoteDelta: 50, precommit: 100, precommitDelta: 50),
        timeoutCommitMs: 0, gossipIntervalMs: 200, maxBlockBytes: 4 << 20, partBytes: 64 << 10,
        mempool: Mempool.Limits(maxCount: 200_000, maxBytes: 256 << 20))

    /// Commit times of transactions by hash, filled by validator 0's commit observer.
    final class Tracker: Sendable {
        private let state = Mutex<(waiting: [TxHash: UInt64], done: [TxHash: UInt64], blocks: Int)>(([:], [:], 0))

        func expect(_ hash: TxHash, at ns: UInt64) { state.withLock { $0.waiting[hash] = ns } }

        func committed(_ block: Block) {
            let now = DispatchTime.now().uptimeNanoseconds
            state.withLock { s in
                s.blocks += 1
                for tx in block.txs {
                    let h = TxHash(of: tx)
                    if s.waiting.removeValue(forKey: h) != nil { s.done[h] = now }
                }
            }
        }

        func doneAt(_ hash: TxHash) -> UInt64? { state.withLock { $0.done[hash] } }
        var pending: Int { state.withLock { $0.waiting.count } }
        var blocks: Int { state.withLock { $0.blocks } }
        var lastDone: UInt64 { state.withLock { $0.done.values.max() ?? 0 } }
    }

    func run(_ options: BenchOptions, report: @Sendable (BenchResult) -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vn-bench-consensus-\(UUID().uuidString)"
        )
        .path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let keys = (1...4).map { n in try! PrivateKey(bytes: [UInt8](repeating: 0, count: 31) + [UInt8(n)]) }
        var logger = Logger(label: "vn.bench.consensus")
        logger.logLevel = .critical
        let cluster = try await LocalConsensusCluster.start(
            chainID: "bench", keys: keys, directory: dir, settings: Self.settings, logger: logger)
        do {
            let tracker = Tracker()
            guard let first = cluster.member(0) else { throw Failure(description: "validator 0 did not start") }
            await first.engine.onCommit { block, _ in tracker.committed(block) }
            // Warm up: a few blocks.
            try await waitUntil(seconds: 30) { await first.engine.committedHeight.value >= 5 }

            let samples = options.scale(200, quick: 30)
            var latencies: [Double] = []
            for i in 0..<samples {
                let tx = Self.tx("lat", i)
                let start = DispatchTime.now().uptimeNanoseconds
                tracker.expect(TxHash(of: tx), at: start)
                _ = try await first.engine.submit(tx)
                try await waitUntil(seconds: 30) { tracker.doneAt(TxHash(of: tx)) != nil }
                latencies.append(Double((tracker.doneAt(TxHash(of: tx)) ?? start) - start) / 1e6)
            }
            let lat = Stats.latency(latencies)
            report(
                BenchResult(
                    bench: "consensus.commit.latency", unit: .ms, p50: lat.p50, p99: lat.p99, n: samples,
                    note:
                        "4 validators in one process over loopback TCP, synced LevelDB WAL, 200-byte tx, timeout_commit 0"
                ))

            let burst = options.scale(20_000, quick: 4_000)
            let runs = options.scale(3, quick: 1)
            var rates: [Double] = []
            for run in 0..<runs {
                let txs = (0..<burst).map { Self.tx("tp\(run)", $0) }
                let start = DispatchTime.now().uptimeNanoseconds
                for tx in txs { tracker.expect(TxHash(of: tx), at: start) }
                for (i, tx) in txs.enumerated() {
                    guard let m = cluster.member(i % 4) else { continue }
                    _ = try await m.engine.submit(tx)
                }
                try await waitUntil(seconds: 120) { tracker.pending == 0 }
                let seconds = Double(tracker.lastDone - start) / 1e9
                rates.append(Double(burst) / seconds)
            }
            let tp = Stats.throughput(rates)
            report(
                BenchResult(
                    bench: "consensus.throughput", unit: .opsPerSecond, p50: tp.p50, p99: tp.p99, n: runs,
                    note: "\(burst) txs of 200 bytes submitted round-robin to 4 validators until all committed"))
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    /// A 200-byte key-value transaction.
    static func tx(_ prefix: String, _ i: Int) -> [UInt8] {
        let head = Array("\(prefix)-\(i)=".utf8)
        return head + [UInt8](repeating: UInt8(ascii: "x"), count: 200 - head.count)
    }

    func waitUntil(seconds: Double, _ condition: () async -> Bool) async throws {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        while DispatchTime.now().uptimeNanoseconds < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(1))
        }
        throw Failure(description: "not reached within \(seconds) s")
    }
}
