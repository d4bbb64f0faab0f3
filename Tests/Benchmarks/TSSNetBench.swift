import CryptoPrimitives
import Foundation
import JSON
import NIOPosix
import RPC
import Wire

/// `vn-bench tss-net`: the networked part of `make bench-tss`.
struct TSSNetArea: BenchArea {
    let name = "tss-net"
    func run(_ options: BenchOptions, report: @Sendable (BenchResult) -> Void) async throws {
        try await TSSNetBench.run(options, report: report)
    }
}

/// The networked part of `make bench-tss` (issue 4): five validator homes on loopback, each with its
/// consensus-manager and tss-signer process (release binaries next to `vn-bench`), driven through
/// the consensus-managers' operator API over framed RPC, as an operator or the chain would.
/// Pre-params come from the committed fixtures (`tss-signer preparams import`).
///
/// - `tss.net.keygen.n5t2.pooled`: keygen among the five, pre-params ready;
/// - `tss.net.presign.rate`: presignatures per second made by the five background pools together;
/// - `tss.net.sign.online.3of5`: a signature by the coordinator's warm set (one online round);
/// - `tss.net.sign.full.3of5`: a signature by a set nobody keeps presignatures for (presigning +
///   online round), with the Paillier randomizers the nodes computed while idle (as a node does for
///   the keys it uses; the default `tss.nonce_pool_presignings`, 24, covers the 20 runs).
struct TSSNetBench {
    struct Skipped: Error, CustomStringConvertible { let description: String }

    let bin: String
    let work: String
    var addresses: [String] = []
    var clients: [RPCClient] = []
    var processes: [Process] = []
    static let validators = 5

    static let note = "5 validators on loopback, consensus-manager + tss-signer processes each, 2048-bit Paillier"

    init() throws {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        bin = exe.path
        for tool in ["consensus-manager", "tss-signer"]
        where !FileManager.default.isExecutableFile(atPath: exe.appendingPathComponent(tool).path) {
            throw Skipped(description: "\(tool) is not built next to vn-bench (make bench-tss builds it)")
        }
        work = FileManager.default.temporaryDirectory.appendingPathComponent("vn-tss-net-bench-\(getpid())").path
    }

    static func fixturesPath() -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MPCTestSupport/Fixtures/mpc-safe-primes.json").path
    }

    func home(_ i: Int) -> String { "\(work)/homes/node\(i)" }

    @discardableResult
    func run(_ tool: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(bin)/\(tool)")
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Skipped(description: "\(tool) \(arguments.first ?? ""): \(String(decoding: errData, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static let environment = [
        "VN_NODE_LOG_LEVEL": "warning", "VN_TSS_PREPARAMS_POOL_TARGET": "0", "VN_TSS_PRESIGN_POOL_TARGET": "0",
        "VN_TSS_SESSION_TIMEOUT_MS": "30000", "VN_TSS_RESEND_INTERVAL_MS": "300",
    ]

    mutating func setUp(presignTarget: Int) async throws {
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        var base = 0
        for _ in 0..<20 {
            base = 30000 + Int.random(in: 0..<8000)
            if (try? run(
                "consensus-manager",
                [
                    "testnet", "--validators", "\(Self.validators)", "--output", "\(work)/homes", "--chain-id",
                    "vn-tss-bench", "--host", "127.0.0.1", "--base-port", "\(base)", "--force",
                ])) != nil
            {
                break
            }
        }
        let fixtures = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: Self.fixturesPath())))
        guard let object = fixtures as? [String: Any], let p1 = object["paillier"] as? [[String: String]],
            let p2 = object["ringPedersen"] as? [[String: String]]
        else { throw Skipped(description: "fixtures unreadable") }
        let pairs = p1 + p2
        let perNode = pairs.count / Self.validators
        for i in 0..<Self.validators {
            let key = try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: "\(home(i))/config/priv_validator_key.json")))
            addresses.append((key as? [String: Any])?["address"] as? String ?? "")
            let file = "\(work)/preparams\(i).json"
            let slice = Array(pairs[(i * perNode)..<((i + 1) * perNode)])
            try JSONSerialization.data(withJSONObject: ["preparams": slice]).write(to: URL(fileURLWithPath: file))
            try run("tss-signer", ["preparams", "import", "--home", home(i), "--file", file])
        }
        var env = Self.environment
        env["VN_TSS_PRESIGN_POOL_TARGET"] = "\(presignTarget)"
        for i in 0..<Self.validators {
            for tool in ["consensus-manager", "tss-signer"] {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "\(bin)/\(tool)")
                process.arguments = ["start", "--home", home(i)]
                var e = ProcessInfo.processInfo.environment
                for (k, v) in env { e[k] = v }
                process.environment = e
                process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
                let log = "\(work)/node\(i).\(tool).log"
                _ = FileManager.default.createFile(atPath: log, contents: nil)
                process.standardError = FileHandle(forWritingAtPath: log)
                try process.run()
                processes.append(process)
            }
        }
        // Ready: every tss-signer's probe green (its link to the consensus-manager is up).
        let deadline = Date().addingTimeInterval(90)
        for i in 0..<Self.validators {
            while (try? run("tss-signer", ["probe", "--home", home(i)])) == nil {
                guard Date() < deadline else { throw Skipped(description: "node\(i) not ready") }
                try await Task.sleep(for: .milliseconds(300))
            }
            let toml = try String(contentsOfFile: "\(home(i))/config/node.toml", encoding: .utf8)
            let port = Self.rpcPort(toml)
            clients.append(
                try await RPCClient.connect(host: "127.0.0.1", port: port, group: MultiThreadedEventLoopGroup.singleton)
            )
        }
    }

    /// `[consensus] rpc_listen = "127.0.0.1:P"` → P.
    static func rpcPort(_ toml: String) -> Int {
        var section = ""
        for line in toml.split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("[") { section = text }
            if section == "[consensus]", text.hasPrefix("rpc_listen"), let colon = text.lastIndex(of: ":") {
                return Int(text[text.index(after: colon)...].filter(\.isNumber)) ?? 0
            }
        }
        return 0
    }

    func tearDown() async {
        for client in clients { await client.close() }
        for process in processes where process.isRunning { process.terminate() }
        for process in processes { process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: work)
    }

    func address(_ i: Int) throws -> Address { try Address(hex: addresses[i]) }

    func approve(_ nodes: some Sequence<Int>, _ request: TSSApproveRequest) async throws {
        for i in nodes {
            let _: TSSAuthorizeReply = try await clients[i].call(method: MethodID.consensusTSSApprove, request: request)
        }
    }

    func signatureRequest(_ digest: [UInt8], signers: [Int]) throws -> TSSSignRequest {
        TSSSignRequest(keyID: "bench", messageHash: digest, purpose: "bench", signers: try signers.map(address))
    }

    static func run(_ options: BenchOptions, report: @Sendable (BenchResult) -> Void) async throws {
        var bench: TSSNetBench
        do { bench = try TSSNetBench() } catch {
            FileHandle.standardError.write(Data("vn-bench tss: networked part skipped: \(error)\n".utf8))
            return
        }
        do {
            try await bench.setUp(presignTarget: options.scale(12, quick: 4))
            try await bench.measure(options, report: report)
        } catch {
            FileHandle.standardError.write(Data("vn-bench tss: networked part failed: \(error)\n".utf8))
        }
        await bench.tearDown()
    }

    func measure(_ options: BenchOptions, report: @Sendable (BenchResult) -> Void) async throws {
        let clock = ContinuousClock()
        let all = try (0..<Self.validators).map(address)
        // Keygen, pre-params ready (fixtures: one per node per run).
        var keygen: [Double] = []
        var keyID = ""
        for run in 0..<options.scale(3, quick: 1) {
            keyID = run == 0 ? "bench" : "bench-\(run)"
            try await approve(0..<Self.validators, TSSApproveRequest(kind: .keygen, keyID: keyID))
            let started = clock.now
            let _: TSSKeyInfo = try await clients[0].call(
                method: MethodID.consensusTSSKeygen,
                request: TSSKeygenRequest(keyID: keyID, parties: all, threshold: 2), timeout: .seconds(180))
            keygen.append((clock.now - started).seconds)
        }
        report(TSSBench.result("tss.net.keygen.n5t2.pooled", .s, keygen, note: "pre-params ready; " + Self.note))

        // Presignature rate: the five pools fill their own sets (each presigning by 3 processes).
        // The presign approval lasts the fill window only: afterwards the pools stay warm and idle
        // (refills are refused by the consensus-managers), so the signing figures below measure
        // signing, not signing next to background presigning.
        let fillWindow = options.scale(60, quick: 20)
        try await approve(
            0..<Self.validators, TSSApproveRequest(kind: .presign, keyID: "bench", ttlSeconds: UInt32(fillWindow)))
        let approvedAt = clock.now
        let target = options.scale(12, quick: 4)
        let started = clock.now
        var made = 0
        var rates: [Double] = []
        var lastCount = 0
        var lastTime = started
        while (clock.now - started).seconds < Double(fillWindow) {
            try await Task.sleep(for: .seconds(2))
            made = try await pooledCount()
            let now = clock.now
            if made > lastCount { rates.append(Double(made - lastCount) / (now - lastTime).seconds) }
            lastCount = made
            lastTime = now
            if made >= target * Self.validators { break }
        }
        let overall = Double(made) / (lastTime - started).seconds
        // Wait for the approval to lapse and for sessions in flight to end.
        let idleAt = approvedAt + .seconds(fillWindow + 3)
        if clock.now < idleAt { try await Task.sleep(until: idleAt, clock: clock) }
        report(
            BenchResult(
                bench: "tss.net.presign.rate", unit: .opsPerSecond, p50: overall,
                p99: Stats.throughput(rates.isEmpty ? [0] : rates).p99, n: made,
                note: "presignatures/s by the 5 background pools together (p99: slowest 2 s window); " + Self.note))

        // Online signing with the warm pools: each node coordinates its own set.
        var online: [Double] = []
        var pooledUsed = 0
        for n in 0..<options.scale(40, quick: 5) {
            let coordinator = n % Self.validators
            let digest = SHA256.hash(Array("online \(n) \(Date())".utf8))
            try await approve(
                0..<Self.validators,
                TSSApproveRequest(kind: .sign, keyID: "bench", purpose: "bench", messageHash: digest))
            let t0 = clock.now
            let signature: TSSSignature = try await clients[coordinator].call(
                method: MethodID.consensusTSSSign,
                request: TSSSignRequest(keyID: "bench", messageHash: digest, purpose: "bench"), timeout: .seconds(120))
            let elapsed = (clock.now - t0).seconds * 1000
            if signature.pooled {
                online.append(elapsed)
                pooledUsed += 1
            }
        }
        report(
            TSSBench.result(
                "tss.net.sign.online.3of5", .ms, online,
                note:
                    "warm, idle presignature pools: operator RPC → consensus-manager → tss-signer → proposals, authorizations, "
                    + "presignature taken (leased: unsynced delete), online round, verify; \(pooledUsed) pooled; "
                    + Self.note))

        // Full signing by a set nobody keeps presignatures for: each node's pool serves itself and
        // the next two parties in the key's (address) order, so positions {0, 1, 3} of that order.
        let byAddress = try (0..<Self.validators).map { ($0, try address($0)) }.sorted { $0.1 < $1.1 }.map(\.0)
        let fullSet = [byAddress[0], byAddress[1], byAddress[3]]
        let randomizers = try await randomizerCount()
        var full: [Double] = []
        for n in 0..<options.scale(20, quick: 2) {
            let digest = SHA256.hash(Array("full \(n) \(Date())".utf8))
            try await approve(
                0..<Self.validators,
                TSSApproveRequest(kind: .sign, keyID: "bench", purpose: "bench", messageHash: digest))
            let t0 = clock.now
            let signature: TSSSignature = try await clients[fullSet[0]].call(
                method: MethodID.consensusTSSSign, request: try signatureRequest(digest, signers: fullSet),
                timeout: .seconds(120))
            if !signature.pooled { full.append((clock.now - t0).seconds) }
        }
        report(
            TSSBench.result(
                "tss.net.sign.full.3of5", .s, full,
                note:
                    "presigning + online round among 3 of the 5 processes, presignature pools idle, Paillier randomizers "
                    + "precomputed while idle (\(randomizers) before the runs); " + Self.note))
    }

    /// Paillier randomizers ready at the five tss-signers together (their `/status`).
    func randomizerCount() async throws -> Int {
        var total = 0
        for client in clients {
            let reply: TSSStatusReply = try await client.call(method: MethodID.consensusTSSStatus, request: Empty())
            if case .object(let status)? = try? JSONValue.parse(reply.json),
                case .object(let pool)? = status["paillierRandomizers"], let ready = pool["ready"]?.intValue
            {
                total += ready
            }
        }
        return total
    }

    /// Presignatures in the pools (each counted at its coordinator's own set only once: the
    /// minimum over the set's members is not needed, every member stores one).
    func pooledCount() async throws -> Int {
        var total = 0
        for client in clients {
            let list: TSSKeyList = try await client.call(
                method: MethodID.consensusTSSKeys, request: TSSKeyQuery(keyID: "bench"))
            total += list.keys.filter { $0.status == 2 }.map { Int($0.presignatures) }.reduce(0, +)
        }
        // Every presignature is held by its 3 signers.
        return total / 3
    }
}
