import EVM
import Foundation
import InboxListenerCore
import Wire

/// `vn-bench chain` (issue 6): inbox-listener's pure path from `RequestCreated` logs to the
/// forward action, and JSON-RPC latency through `EthereumRPC` against a real dev chain
/// (Deploy/devchain) that the benchmark starts on a free port and stops again.
struct ChainBench: BenchArea {
    let name = "chain"

    struct Failure: Error, CustomStringConvertible { var description: String }

    func run(_ options: BenchOptions, report: @Sendable (BenchResult) -> Void) async throws {
        let logsPerBlock = options.scale(1_000, quick: 200)
        let runs = options.scale(30, quick: 3)
        for result in try Self.decodeAndForward(logsPerBlock: logsPerBlock, runs: runs) { report(result) }
        for result in try await Self.rpcLatency(options) { report(result) }
    }

    // MARK: chain.inbox.decode

    static let chainID: UInt64 = 1337
    static let inbox = try! Address(hex: "0x5fbdb2315678afecb367f032d93f642f64180aa3")

    /// `count` `RequestCreated` logs of one block as the Inbox emits them (through the real event
    /// encoder), with field sizes spread up to the contract's limits (container URL ≤ 512 bytes,
    /// params ≤ 4096 bytes, ≤ 16 source URLs of ≤ 512 bytes).
    static func requestLogs(count: Int, block: UInt64, blockHash: Hash32) throws -> [Log] {
        var rng = SplitMix64(seed: 0x6368_6169_6e62_656e)  // fixed: every run decodes the same block
        var logs: [Log] = []
        logs.reserveCapacity(count)
        for i in 0..<count {
            // One request in ten is large (long URLs, up to 4 KiB of params, up to 16 sources of
            // up to 512 bytes: the contract's limits); the rest are queries of a few dozen bytes.
            let large = i % 10 == 0
            let urlLength = large ? Int.random(in: 100...512, using: &rng) : Int.random(in: 16...80, using: &rng)
            let url = "oci://r.example/" + String(repeating: "u", count: urlLength - 16)
            let paramsLength = large ? Int.random(in: 512...4096, using: &rng) : Int.random(in: 0...96, using: &rng)
            let params = (0..<paramsLength).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let sourceCount = large ? Int.random(in: 4...16, using: &rng) : Int.random(in: 0...3, using: &rng)
            let sources = (0..<sourceCount).map { k in
                let length = large ? Int.random(in: 0...490, using: &rng) : Int.random(in: 0...80, using: &rng)
                return "https://s\(k).example/" + String(repeating: "p", count: length)
            }
            let sender = try Address(bytes: (0..<20).map { _ in UInt8.random(in: 0...255, using: &rng) })
            let encoded = try InboxLogDecoder.requestCreated.encodeLog([
                .uint(InboxRequest.requestID(chainID: chainID, counter: UInt64(i + 1))), .address(sender),
                .uint(UInt256(chainID)), .string(url), .bytes(params), .array(sources.map { .string($0) }),
                .uint(UInt256(UInt64.random(in: 1...100_000, using: &rng))), .uint(UInt256(rng.next())),
                .uint(UInt256(UInt64.random(in: 0...12, using: &rng))),
            ])
            logs.append(
                Log(
                    address: inbox, topics: encoded.topics, data: encoded.data, blockNumber: block,
                    blockHash: blockHash,
                    transactionHash: Hash32.keccak(Array("tx/\(i)".utf8)), transactionIndex: UInt64(i),
                    logIndex: UInt64(i)))
        }
        return logs
    }

    /// One block with `logsPerBlock` requests, fed to a fresh `ChainTracker` as the shell would
    /// (head → headers → logs) until it answers with the forward action; timed per run, from the
    /// head to the forward. A run that does not forward every request fails the benchmark.
    static func decodeAndForward(logsPerBlock: Int, runs: Int) throws -> [BenchResult] {
        let block: UInt64 = 100
        let parent = Hash32.keccak(Array("block/99".utf8))
        let hash = Hash32.keccak(Array("block/100".utf8))
        let logs = try requestLogs(count: logsPerBlock, block: block, blockHash: hash)
        let dataBytes = logs.reduce(0) { $0 + $1.data.count }
        // Confirmations are capped at 0 so the requests are forwarded at once; a window of 256
        // blocks; every request may be in flight (one forward action for the whole block).
        let config = try ChainTrackerConfig(
            chainID: chainID, inbox: inbox, startBlock: block, maxConfirmations: 0, maxInFlight: logsPerBlock,
            maxQueued: logsPerBlock)
        let decoder = config.decoder

        var rates: [Double] = []
        var decodeRates: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<runs {
            var tracker = ChainTracker(config: config)
            var forwarded = 0
            let elapsed = try clock.measure {
                let fetch = tracker.handle(.head(number: block, hash: hash, parentHash: parent))
                guard fetch == [.fetchBlocks(block...block)] else { throw Failure(description: "head: \(fetch)") }
                let scan = tracker.handle(.blocks([BlockRef(number: block, hash: hash, parentHash: parent)]))
                guard scan.last == .fetchLogs(block...block) else { throw Failure(description: "blocks: \(scan)") }
                for action in tracker.handle(.logs(block...block, logs)) {
                    switch action {
                    case .forward(let requests): forwarded += requests.count
                    case .rejected(let r): throw Failure(description: "rejected \(r.count) logs: \(r.first!.reason)")
                    default: break
                    }
                }
            }
            guard forwarded == logsPerBlock else {
                throw Failure(description: "forwarded \(forwarded) of \(logsPerBlock) requests")
            }
            rates.append(Double(logsPerBlock) / elapsed.seconds)

            // The decoder alone, for the note: how much of the path is ABI decoding.
            var decoded = 0
            let decodeElapsed = try clock.measure {
                for log in logs {
                    _ = try decoder.decode(log)
                    decoded += 1
                }
            }
            decodeRates.append(Double(decoded) / decodeElapsed.seconds)
        }
        let (p50, p99) = Stats.throughput(rates)
        let (d50, d99) = Stats.throughput(decodeRates)
        return [
            BenchResult(
                bench: "chain.inbox.decode", unit: .opsPerSecond, p50: p50, p99: p99, n: runs,
                note:
                    "requests per second from a block of \(logsPerBlock) RequestCreated logs "
                    + "(1 in 10 large; \(dataBytes / logsPerBlock) B of data each on average) through InboxLogDecoder and "
                    + "ChainTracker (head, headers, logs, persist) to the forward action; goal >= 1000/s"),
            BenchResult(
                bench: "chain.inbox.decode.decoder-only", unit: .opsPerSecond, p50: d50, p99: d99, n: runs,
                note: "InboxLogDecoder.decode alone over the same logs"),
        ]
    }

    // MARK: chain.rpc.latency

    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Starts a dev chain (start.sh, its own temp dir, port 0), fills it with requests
    /// (make_requests.py), times `eth_blockNumber` and `eth_getLogs` through `EthereumRPC`, and
    /// stops it (also when anything fails).
    static func rpcLatency(_ options: BenchOptions) async throws -> [BenchResult] {
        let env = ProcessInfo.processInfo.environment
        let venv = env["DEVCHAIN_VENV"] ?? repo.appendingPathComponent(".venv-devchain").path
        if !FileManager.default.fileExists(atPath: venv + "/.requirements.sha256") {
            FileHandle.standardError.write(
                Data("vn-bench chain: no dev chain venv at \(venv); running Deploy/devchain/setup.sh (≈ 40 s)\n".utf8))
            do { try run(["/bin/bash", repo.appendingPathComponent("Deploy/devchain/setup.sh").path]) } catch {
                throw Failure(
                    description: "Deploy/devchain/setup.sh failed; the dev chain needs Python 3 and network access "
                        + "to PyPI once: \(error)")
            }
        }
        let chainID: UInt64 = 31_999
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vn-bench-chain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer {
            _ = try? run(["/bin/bash", repo.appendingPathComponent("Deploy/devchain/stop.sh").path, "--dir", dir.path])
            try? FileManager.default.removeItem(at: dir)
        }
        try run([
            "/bin/bash", repo.appendingPathComponent("Deploy/devchain/start.sh").path, "--dir", dir.path, "--port", "0",
            "--chain-id", String(chainID), "--", "--quiet",
        ])
        let portText = try String(contentsOf: dir.appendingPathComponent("devchain.port"), encoding: .utf8)
        guard let port = UInt16(portText.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw Failure(description: "devchain.port holds \(portText.prefix(20))")
        }
        let url = "http://127.0.0.1:\(port)"
        let rpc = try EthereumRPC(EthereumRPCConfiguration(endpoints: [url], expectedChainID: chainID, maxAttempts: 1))

        // Requests to read back: one block each (automine), so the log range spans real blocks.
        let requests = options.scale(200, quick: 30)
        let output = try run([
            venv + "/bin/python", repo.appendingPathComponent("Deploy/devchain/make_requests.py").path, "--url", url,
            "--count", String(requests), "--tag", "vn-bench",
        ])
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("{") }
        guard lines.count == requests else {
            throw Failure(description: "make_requests.py printed \(lines.count) lines for \(requests) requests")
        }
        let head = try await rpc.blockNumber()
        guard head >= UInt64(requests) else {
            throw Failure(description: "head \(head) below the \(requests) blocks of requests (automine off?)")
        }
        let from = head - UInt64(requests) + 1
        let filter = LogFilter(
            range: .blocks(from: .number(from), to: .number(head)), addresses: [try Address(hex: inboxAddress(dir))],
            topics: [[InboxLogDecoder.topic0]])

        let clock = ContinuousClock()
        let calls = options.scale(2_000, quick: 100)
        for _ in 0..<50 { _ = try await rpc.blockNumber() }
        var blockNumber: [Double] = []
        for _ in 0..<calls {
            var got: UInt64 = 0
            let t = try await clock.measure { got = try await rpc.blockNumber() }
            guard got == head else { throw Failure(description: "eth_blockNumber \(got), expected \(head)") }
            blockNumber.append(t.seconds * 1e3)
        }

        let logCalls = options.scale(300, quick: 20)
        let decoder = InboxLogDecoder(chainID: chainID, inbox: filter.addresses[0])
        for _ in 0..<5 { _ = try await rpc.logs(filter) }
        var getLogs: [Double] = []
        for _ in 0..<logCalls {
            var logs: [Log] = []
            let t = try await clock.measure { logs = try await rpc.logs(filter) }
            guard logs.count == requests else { throw Failure(description: "eth_getLogs: \(logs.count) logs") }
            getLogs.append(t.seconds * 1e3)
        }
        // Every log read back is a well-formed request of this chain.
        for log in try await rpc.logs(filter) { _ = try decoder.decode(log) }

        let (b50, b99) = Stats.latency(blockNumber)
        let (l50, l99) = Stats.latency(getLogs)
        return [
            BenchResult(
                bench: "chain.rpc.latency.eth_blockNumber", unit: .ms, p50: b50, p99: b99, n: calls,
                note: "EthereumRPC over libcurl to the dev chain (py-evm) on loopback, sequential"),
            BenchResult(
                bench: "chain.rpc.latency.eth_getLogs", unit: .ms, p50: l50, p99: l99, n: logCalls,
                note:
                    "EthereumRPC, RequestCreated logs of the Inbox over \(requests) blocks "
                    + "(\(requests) logs, decoded into Log values), dev chain on loopback, sequential"),
        ]
    }

    /// The Inbox's address from the chain's deployments.json.
    static func inboxAddress(_ dir: URL) throws -> String {
        let json = try JSONValue.parse(Array(Data(contentsOf: dir.appendingPathComponent("deployments.json"))))
        guard let address = json["contracts"]?["Inbox"]?["address"]?.stringValue else {
            throw Failure(description: "deployments.json without contracts.Inbox.address")
        }
        return address
    }

    /// Runs a program with posix_spawn, waits, returns its standard output; its standard error
    /// goes to ours. The child gets an empty signal mask and default handlers, so the dev chain
    /// that start.sh leaves running obeys stop.sh's SIGTERM.
    @discardableResult
    static func run(_ argv: [String]) throws -> String {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("vn-bench-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: out) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, &attributes, &cArgs, environ)
        guard spawned == 0 else { throw Failure(description: "\(argv[0]): posix_spawn failed (\(spawned))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        // WIFEXITED && WEXITSTATUS == 0
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw Failure(
                description: "\((argv.dropFirst().first ?? argv[0]).split(separator: "/").last ?? "") "
                    + "exited with status \(status): \(text.suffix(2000))")
        }
        return text
    }
}

/// SplitMix64: a seeded generator, so every run builds the same logs.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
