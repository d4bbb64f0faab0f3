import EVM
import Foundation
import Secp256k1
import Testing
import Wire

/// The project's dev chain (Deploy/devchain: py-evm + eth-tester behind a JSON-RPC server on
/// 127.0.0.1), started and stopped by its own scripts for one test.
///
/// Runs when the dev chain's venv is installed (`Deploy/devchain/setup.sh`, ≈ 40 s once) or when
/// `VN_DEVCHAIN_TESTS=1` (then start.sh installs it); `VN_DEVCHAIN_TESTS=0` skips it.
final class DevChain: @unchecked Sendable {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var enabled: Bool {
        let env = ProcessInfo.processInfo.environment
        switch env["VN_DEVCHAIN_TESTS"] {
        case "0": return false
        case "1": return true
        default:
            let venv = env["DEVCHAIN_VENV"] ?? repo.appendingPathComponent(".venv-devchain").path
            return FileManager.default.fileExists(atPath: venv + "/.requirements.sha256")
                && FileManager.default.fileExists(atPath: repo.appendingPathComponent("Deploy/devchain/start.sh").path)
        }
    }

    let dir: URL
    let deployments: JSONValue
    var url: String { deployments["rpcUrl"]!.stringValue! }

    struct ScriptFailed: Error, CustomStringConvertible { var description: String }

    /// Runs a repository script with posix_spawn and waits with waitpid. (Not Foundation's
    /// Process: in the test runner it left the script unreaped, and the dev chain it started
    /// inherited a signal mask that blocked SIGTERM.) The child gets an empty signal mask and
    /// default handlers; its output goes to a file.
    @discardableResult
    static func run(_ script: String, _ args: [String]) throws -> String {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("vn-script-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let argv = ["/bin/bash", repo.appendingPathComponent(script).path] + args
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
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
        guard spawned == 0 else { throw ScriptFailed(description: "\(script): posix_spawn failed (\(spawned))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        // WIFEXITED && WEXITSTATUS == 0
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw ScriptFailed(description: "\(script) (status \(status)): \(text)")
        }
        return text
    }

    init(chainID: UInt64) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("vn-chaintests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        do {
            try Self.run("Deploy/devchain/start.sh", ["--dir", dir.path, "--port", "0", "--chain-id", String(chainID)])
            deployments = try JSONValue.parse(Array(Data(contentsOf: dir.appendingPathComponent("deployments.json"))))
        } catch {
            Self.stop(dir)
            throw error
        }
    }

    func stop() { Self.stop(dir) }

    private static func stop(_ dir: URL) {
        _ = try? run("Deploy/devchain/stop.sh", ["--dir", dir.path])
        try? FileManager.default.removeItem(at: dir)
    }

    func account(_ index: Int) throws -> LocalKeySigner {
        let key = deployments["accounts"]!.arrayValue![index]["privateKey"]!.stringValue!
        return LocalKeySigner(privateKey: try PrivateKey(bytes: hex(key)))
    }

    func contract(_ name: String) -> Address { address(deployments["contracts"]![name]!["address"]!.stringValue!) }
}

@Suite("Dev chain (integration)", .serialized, .enabled(if: DevChain.enabled, "dev chain venv not installed"))
struct DevChainIntegrationTests {
    static let requestFunction = try! ABIFunction(
        declaration:
            "function request(string containerURL, bytes params, string[] sourceURLs, uint256 targetChainId, uint256 confirmations) payable returns (uint256)"
    )
    static let requestCreated = try! ABIEvent(
        declaration: """
            event RequestCreated(uint256 indexed id, address indexed sender, uint256 requestingChainId,
                string containerURL, bytes params, string[] sourceURLs, uint256 targetChainId, uint256 fee, uint256 confirmations)
            """)

    /// Polls for the receipt (the dev chain mines each transaction at once; a few polls at most).
    func receipt(_ rpc: EthereumRPC, _ hash: Hash32) async throws -> TransactionReceipt {
        for _ in 0..<100 {
            if let receipt = try await rpc.transactionReceipt(hash) { return receipt }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DevChain.ScriptFailed(description: "transaction \(hash) not mined")
    }

    @Test func swiftSignedTransactionsAreMined() async throws {
        let chainID: UInt64 = 31337
        let chain = try DevChain(chainID: chainID)
        defer { chain.stop() }
        let rpc = try EthereumRPC(EthereumRPCConfiguration(endpoints: [chain.url], expectedChainID: chainID))
        #expect(try await rpc.chainID() == chainID)
        let signer = try chain.account(5)
        let inbox = chain.contract("Inbox")
        let head = try #require(try await rpc.block(.latest))
        let baseFee = try #require(head.baseFeePerGas)
        let tip: UInt256 = 1_000_000_000
        let maxFee = baseFee.multipliedReportingOverflow(by: 2).partialValue.addingReportingOverflow(tip).partialValue

        // 1. EIP-1559: Inbox.request(…) with a fee, built, signed and sent from Swift.
        let args: [ABIValue] = [
            .string("oci://registry.local/job:7"), .bytes([0xca, 0xfe]), .array([.string("https://src.example/a")]),
            .uint(59144), .uint(3),
        ]
        let calldata = try Self.requestFunction.encodeCall(args)
        let nonce = try await rpc.transactionCount(signer.address)
        let gas = try await rpc.estimateGas(CallRequest(from: signer.address, to: inbox, value: 777, data: calldata))
        let dynamic = try await UnsignedTransaction.eip1559(
            EIP1559Transaction(
                chainID: chainID, nonce: nonce, maxPriorityFeePerGas: tip, maxFeePerGas: maxFee, gasLimit: gas * 2,
                to: inbox,
                value: 777, data: calldata)
        ).signed(by: signer)
        #expect(try await rpc.sendRawTransaction(dynamic) == dynamic.hash)
        let r1 = try await receipt(rpc, dynamic.hash)
        #expect(r1.status == true && r1.from == signer.address && r1.to == inbox && r1.type == 2)
        let event = try #require(r1.logs.first)
        let decoded = try Self.requestCreated.decodeLog(topics: event.topics, data: event.data)
        #expect(decoded[1] == .value(.address(signer.address)))
        #expect(decoded[2] == .value(.uint(UInt256(chainID))))
        #expect(Array(decoded[3...5]) == args[0...2].map { .value($0) })
        #expect(
            decoded[6] == .value(.uint(59144)) && decoded[7] == .value(.uint(777)) && decoded[8] == .value(.uint(3)))

        // 2. Legacy EIP-155: a plain transfer.
        let recipient = try Address(bytes: [UInt8](repeating: 0x42, count: 20))
        let legacy = try await UnsignedTransaction.legacy(
            LegacyTransaction(
                nonce: nonce + 1, gasPrice: maxFee, gasLimit: 21000, to: recipient, value: 123_456, chainID: chainID)
        ).signed(by: signer)
        #expect(try await rpc.sendRawTransaction(legacy.rawBytes) == legacy.hash)
        let r2 = try await receipt(rpc, legacy.hash)
        #expect(r2.status == true && r2.type == 0 && r2.gasUsed == 21000)
        #expect(
            try await rpc.call("eth_getBalance", [.string(recipient.description), .string("latest")])
                == .string("0x1e240"))
        #expect(try await rpc.transactionCount(signer.address) == nonce + 2)

        // The blocks hold them and chain up; the logs are found by topic (the sender is indexed).
        let block = try #require(try await rpc.block(.number(r1.blockNumber)))
        #expect(block.hash == r1.blockHash && block.transactionHashes.contains(dynamic.hash))
        let next = try #require(try await rpc.block(.number(r2.blockNumber)))
        #expect(r2.blockNumber > r1.blockNumber)
        if r2.blockNumber == r1.blockNumber + 1 { #expect(next.parentHash == block.hash) }
        let senderTopic = try ABIEvent.topic(for: .address(signer.address), type: .address)
        let logs = try await rpc.logs(
            LogFilter(
                range: .blocks(from: .number(r1.blockNumber), to: .latest), addresses: [inbox],
                topics: [[Self.requestCreated.topic0], nil, [senderTopic]]))
        #expect(logs == [event])

        // A reverting call reports the contract's reason; a view returns typed data.
        do {
            _ = try await rpc.call(
                CallRequest(
                    from: signer.address, to: inbox,
                    data: try Self.requestFunction.encodeCall([.string(""), .bytes([]), .array([]), .uint(1), .uint(1)])
                ))
            Issue.record("the call did not revert")
        } catch let error as EthereumRPCError {
            #expect(error.revertReason == "empty container URL")
        }
        let count = try await rpc.call(
            CallRequest(to: inbox, data: try ABIFunction(declaration: "requestCount()").encodeCall([])))
        #expect(try ABI.decode(count, types: [.uint256]) == [.uint(1)])
        let fees = try await rpc.feeHistory(blockCount: 2, rewardPercentiles: [50])
        #expect(fees.baseFeePerGas.count == 3 && fees.gasUsedRatio.count == 2)

        // The same transaction again is refused by the node (known / nonce too low): an .rpc
        // error, or the hash once the client has checked the chain knows it.
        do {
            #expect(try await rpc.sendRawTransaction(legacy) == legacy.hash)
        } catch {
            guard case .rpc = error else { throw error }
        }
        // A transaction for another chain is refused before it leaves the process.
        let foreign = try await UnsignedTransaction.legacy(
            LegacyTransaction(nonce: nonce + 2, gasPrice: maxFee, gasLimit: 21000, to: recipient, chainID: 1)
        ).signed(by: signer)
        await #expect(throws: EthereumRPCError.self) { try await rpc.sendRawTransaction(foreign) }
    }
}
