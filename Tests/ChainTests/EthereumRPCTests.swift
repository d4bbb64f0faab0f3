import EVM
import Foundation
import HTTPFetch
import Testing
import Wire

/// Response bodies recorded from the dev chain (Fixtures/rpc-responses.json).
struct Recorded {
    let fixture: JSONValue

    init() throws { fixture = try fixtureJSON("rpc-responses.json") }

    func body(_ name: String) -> String { fixture["records"]![name]!["response"]!.stringValue! }
    func result(_ name: String) -> JSONValue { try! JSONValue.parse(body(name))["result"]! }

    /// A rule replying to `method` with the recorded body `name` (id re-stamped).
    func reply(_ method: String, _ name: String, times: Int? = nil) -> FakeRPCServer.Rule {
        FakeRPCServer.Rule(method: method, body: body(name), times: times)
    }

    var chainID: FakeRPCServer.Rule { reply("eth_chainId", "chainId") }

    /// The EIP-1559 transaction whose send was recorded (Inbox.request on chain 1337).
    var transaction: SignedTransaction {
        try! SignedTransaction.decode(try! EVMHex.data(body("sendRawTransaction.raw")), expectedChainID: 1337)
    }
}

private let server = FakeRPCServer.shared

private func client(
    _ endpoints: [String], chainID: UInt64? = nil, attempts: Int = 3, timeout: Duration = .seconds(5),
    maxResponseBytes: Int = 1 << 20
) throws -> EthereumRPC {
    try EthereumRPC(
        EthereumRPCConfiguration(
            endpoints: endpoints, expectedChainID: chainID, requestTimeout: timeout, connectTimeout: .seconds(2),
            maxResponseBytes: maxResponseBytes, maxAttempts: attempts, initialBackoff: .milliseconds(5),
            maxBackoff: .milliseconds(20)))
}

/// Nothing listens there: connections are refused at once.
private let deadEndpoint = "http://127.0.0.1:1/rpc"

@Suite("EthereumRPC")
struct EthereumRPCTests {
    let recorded: Recorded

    init() throws { recorded = try Recorded() }

    @Test func decodesRecordedResponses() async throws {
        let r = recorded
        let url = try server.endpoint([
            r.chainID, r.reply("eth_blockNumber", "blockNumber"), r.reply("eth_getLogs", "logs"),
            r.reply("eth_getTransactionCount", "transactionCount"), r.reply("eth_call", "call"),
            r.reply("eth_estimateGas", "estimateGas"), r.reply("eth_feeHistory", "feeHistory"),
            r.reply("eth_getBlockByNumber", "block", times: 1), r.reply("eth_getBlockByNumber", "blockFuture"),
            r.reply("eth_getTransactionReceipt", "receipt", times: 1),
            r.reply("eth_getTransactionReceipt", "receiptUnknown"),
        ])
        let rpc = try client([url], chainID: 1337)
        #expect(try await rpc.chainID() == 1337)
        #expect(try await rpc.blockNumber() == 3)
        let tx = r.transaction
        let block = try #require(try await rpc.block(.number(3)))
        #expect(block.number == 3)
        #expect(block.transactionHashes == [tx.hash])
        #expect(block.hash == hash32(r.result("block")["hash"]!.stringValue!))
        #expect(block.parentHash == hash32(r.result("block")["parentHash"]!.stringValue!))
        #expect(block.baseFeePerGas != nil && block.gasUsed > 0 && block.logsBloom?.count == 256)
        #expect(try await rpc.block(.number(1003)) == nil)

        let inbox = address(r.fixture["inbox"]!.stringValue!)
        let created = try ABIEvent(
            declaration: """
                event RequestCreated(uint256 indexed id, address indexed sender, uint256 requestingChainId,
                    string containerURL, bytes params, string[] sourceURLs, uint256 targetChainId, uint256 fee,
                    uint256 confirmations)
                """)
        let logs = try await rpc.logs(
            LogFilter(range: .blocks(from: .earliest, to: .latest), addresses: [inbox], topics: [[created.topic0]]))
        #expect(logs.count == 1)
        let log = try #require(logs.first)
        #expect(log.address == inbox && log.transactionHash == tx.hash && log.blockHash == block.hash)
        #expect(log.blockNumber == 3 && log.logIndex == 0 && !log.removed)
        let args = try created.decodeLog(topics: log.topics, data: log.data)
        #expect(
            args[0]
                == .value(
                    .uint(
                        UInt256(1337).multipliedReportingOverflow(by: .powerOfTwo(128)).partialValue
                            .addingReportingOverflow(1).partialValue)))
        #expect(args[1] == .value(.address(tx.sender)))
        #expect(args[3] == .value(.string("oci://registry.local/app:1")))
        #expect(args[4] == .value(.bytes([1, 2, 3])))
        #expect(args[5] == .value(.array([.string("https://a.example/x"), .string("ipfs://b")])))
        #expect(args[6] == .value(.uint(59144)) && args[7] == .value(.uint(12345)) && args[8] == .value(.uint(2)))

        let receipt = try #require(try await rpc.transactionReceipt(tx.hash))
        #expect(receipt.status == true && receipt.from == tx.sender && receipt.to == inbox)
        #expect(receipt.logs == logs && receipt.blockHash == block.hash && receipt.contractAddress == nil)
        #expect(try await rpc.transactionReceipt(.zero) == nil)
        #expect(try await rpc.transactionCount(tx.sender) == 0)
        #expect(try await rpc.estimateGas(CallRequest(from: tx.sender, to: inbox, data: [])) == 0xa175)
        let returned = try await rpc.call(CallRequest(to: inbox, data: []))
        #expect(try ABI.decode(returned, types: [.uint256]) == args[0].value.map { [$0] })
        let fees = try await rpc.feeHistory(blockCount: 2, rewardPercentiles: [10, 50])
        #expect(fees.oldestBlock == 2 && fees.baseFeePerGas.count == 3 && fees.gasUsedRatio.count == 2)
        #expect(fees.reward.count == 2 && fees.reward.allSatisfy { $0.count == 2 })
        // One chain-id check, then one request per call.
        #expect(try server.received(url).filter { $0 == "eth_chainId" }.count == 2)
    }

    @Test func rpcErrorsAreTypedAndNotRetried() async throws {
        let r = recorded
        let url = try server.endpoint([
            r.reply("eth_noSuchMethod", "methodNotFound"), r.reply("eth_call", "callRevert"),
        ])
        let rpc = try client([url], attempts: 4)
        do {
            _ = try await rpc.call("eth_noSuchMethod")
            Issue.record("no error")
        } catch {
            #expect(
                error
                    == .rpc(
                        method: "eth_noSuchMethod", code: -32601,
                        message: "the method eth_noSuchMethod does not exist/is not available", data: nil))
        }
        do {
            _ = try await rpc.call(CallRequest(to: address("0x5fbdb2315678afecb367f032d93f642f64180aa3")))
            Issue.record("no error")
        } catch {
            guard case .rpc(_, 3, let message, _) = error else { throw error }
            #expect(message == "execution reverted: empty container URL")
            #expect(error.revertReason == "empty container URL")
        }
        #expect(try server.received(url) == ["eth_noSuchMethod", "eth_call"])
        #expect(rpc.endpointStatus[0].failures == 0)
    }

    @Test func batches() async throws {
        let r = recorded
        let url = try server.endpoint([FakeRPCServer.Rule(method: "batch", body: r.body("batch"))])
        let rpc = try client([url])
        let results = try await rpc.batch([
            RPCRequest(method: "eth_blockNumber"), RPCRequest(method: "eth_noSuchMethod"),
            RPCRequest(method: "eth_chainId"),
        ])
        #expect(results.count == 3)
        #expect(try results[0].get() == .string("0x3"))
        #expect(try results[2].get() == .string("0x539"))
        guard case .failure(.rpc(let method, let code, _, _)) = results[1] else { throw FixtureError.missing("error") }
        #expect(method == "eth_noSuchMethod" && code == -32601)
        #expect(try await rpc.batch([]).isEmpty)
        await #expect(throws: EthereumRPCError.self) {
            try await rpc.batch([RPCRequest(method: "eth_sendRawTransaction", params: [.string("0x00")])])
        }
        await #expect(throws: EthereumRPCError.self) {
            try await rpc.batch(Array(repeating: RPCRequest(method: "eth_chainId"), count: 257))
        }
        // Answers with a missing, repeated or foreign id are protocol errors.
        let broken = try server.endpoint([
            FakeRPCServer.Rule(method: "batch", action: "raw", body: #"[{"jsonrpc":"2.0","id":999999,"result":"0x1"}]"#)
        ])
        await #expect(throws: EthereumRPCError.self) {
            try await client([broken], attempts: 1).batch([RPCRequest(method: "eth_chainId")])
        }
        // A single error object answers a whole batch.
        let refused = try server.endpoint([
            FakeRPCServer.Rule(
                method: "batch", action: "raw",
                body: #"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batches off"}}"#)
        ])
        await #expect(throws: EthereumRPCError.rpc(method: "batch", code: -32600, message: "batches off", data: nil)) {
            try await client([refused], attempts: 1).batch([RPCRequest(method: "eth_chainId")])
        }
    }

    @Test func transportFailuresFailOverWithBackoff() async throws {
        let r = recorded
        let failing = try server.endpoint([FakeRPCServer.Rule(action: "status", body: "busy", status: 503)])
        let healthy = try server.endpoint([r.reply("eth_blockNumber", "blockNumber")])
        let rpc = try client([failing, healthy])
        #expect(try await rpc.blockNumber() == 3)
        #expect(try await rpc.blockNumber() == 3)  // goes straight to the endpoint that worked
        #expect(try server.received(failing) == ["eth_blockNumber"])
        #expect(try server.received(healthy) == ["eth_blockNumber", "eth_blockNumber"])
        let status = rpc.endpointStatus
        #expect(status[0].failures == 1 && status[0].lastError?.contains("HTTP status 503") == true)
        #expect(status[1].failures == 0 && status[1].requests == 2)
    }

    @Test func garbageTimeoutsRefusalsAndSizeCapsAreEndpointFaults() async throws {
        let r = recorded
        let healthy = try server.endpoint([r.reply("eth_blockNumber", "blockNumber")])
        let faults: [(FakeRPCServer.Rule, String)] = [
            (FakeRPCServer.Rule(action: "raw", body: "<html>oops</html>"), "body is not JSON"),
            (FakeRPCServer.Rule(body: #"{"jsonrpc":"2.0","id":0,"result":"0x03"}"#), "invalid quantity: 0x03"),
            (FakeRPCServer.Rule(action: "raw", body: #"{"jsonrpc":"1.0","result":"0x3"}"#), "jsonrpc"),
            (FakeRPCServer.Rule(action: "big", size: 2 << 20), "larger than"),
            (FakeRPCServer.Rule(action: "sleep", seconds: 6), "timed out"),
            (FakeRPCServer.Rule(action: "close"), "connection"),
        ]
        for (rule, expected) in faults {
            let bad = try server.endpoint([rule])
            let rpc = try client([bad, healthy], timeout: .milliseconds(500))
            let started = ContinuousClock.now
            #expect(try await rpc.blockNumber() == 3, "\(expected)")
            // The 500 ms timeout, not the 6 s sleep, decides (wide margin: CI machines are loaded).
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(
                rpc.endpointStatus[0].lastError?.contains(expected) == true, "\(rpc.endpointStatus[0].lastError ?? "")")
        }
        // A refused connection too; with no healthy endpoint the last error comes out after
        // maxAttempts attempts.
        let rpc = try client([deadEndpoint], attempts: 3)
        await #expect(throws: EthereumRPCError.self) { try await rpc.blockNumber() }
        #expect(rpc.endpointStatus[0].failures == 3)
        let alwaysBad = try server.endpoint([FakeRPCServer.Rule(action: "status", status: 502)])
        await #expect(throws: EthereumRPCError.httpStatus(endpoint: "127.0.0.1:\(server.port)", status: 502)) {
            try await client([alwaysBad], attempts: 4).blockNumber()
        }
        #expect(try server.received(alwaysBad).count == 4)
    }

    @Test func responsesAreValidatedStrictly() async throws {
        // Replies with the request's id re-stamped, so only the flaw named fails them.
        let cases: [(String, String)] = [
            ("reply", #"{"jsonrpc":"2.0","id":0,"result":"0x3","error":{"code":1,"message":"x"}}"#),
            ("reply", #"{"jsonrpc":"2.0","id":0}"#),
            ("reply", #"{"jsonrpc":"2.0","id":0,"error":{"code":"x","message":"y"}}"#),
            ("reply", #"{"jsonrpc":"2.0","id":0,"result":3}"#), ("reply", #"{"jsonrpc":"2.0","id":0,"result":"3"}"#),
            ("raw", #"[{"jsonrpc":"2.0","id":1,"result":"0x3"}]"#),
            ("raw", #"{"jsonrpc":"2.0","id":1,"result":"0x3"} trailing"#),
        ]
        for (action, body) in cases {
            let url = try server.endpoint([FakeRPCServer.Rule(action: action, body: body)])
            await #expect(throws: EthereumRPCError.self, "\(body)") {
                try await client([url], attempts: 1).blockNumber()
            }
        }
        // A foreign id (the server keeps whatever id it likes in "raw" mode).
        let foreign = try server.endpoint([
            FakeRPCServer.Rule(action: "raw", body: #"{"jsonrpc":"2.0","id":424242,"result":"0x3"}"#)
        ])
        let foreignClient = try client([foreign], attempts: 1)
        do {
            _ = try await foreignClient.blockNumber()
            Issue.record("accepted a foreign id")
        } catch {
            guard case .malformedResponse(_, "eth_blockNumber", let reason) = error else { throw error }
            #expect(reason.contains("id"))
        }
        // An error object with an HTTP error status is still the node's answer (an error may
        // carry a null id when the server could not read the request's).
        let httpError = try server.endpoint([
            FakeRPCServer.Rule(
                action: "status", body: #"{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"limit"}}"#,
                status: 429)
        ])
        await #expect(
            throws: EthereumRPCError.rpc(method: "eth_blockNumber", code: -32005, message: "limit", data: nil)
        ) {
            try await client([httpError]).blockNumber()
        }
        // A malformed log inside a well-formed response.
        var logs = try JSONValue.parse(recorded.body("logs"))
        if case .object(var o) = logs, case .array(var items) = o["result"]!, case .object(var log) = items[0] {
            log["topics"] = .array(Array(repeating: .string(Hash32.zero.description), count: 5))
            items[0] = .object(log)
            o["result"] = .array(items)
            logs = .object(o)
        }
        let badLogs = try server.endpoint([FakeRPCServer.Rule(body: logs.description)])
        await #expect(throws: EthereumRPCError.self) {
            try await client([badLogs], attempts: 1).logs(LogFilter(range: .blocks(from: .earliest, to: .latest)))
        }
    }

    @Test func chainIDIsCheckedPerEndpoint() async throws {
        let r = recorded
        let right = try server.endpoint([r.chainID, r.reply("eth_blockNumber", "blockNumber")])
        let otherChainReplying = try server.endpoint([
            FakeRPCServer.Rule(method: "eth_chainId", body: #"{"jsonrpc":"2.0","id":0,"result":"0x1"}"#),
            r.reply("eth_blockNumber", "blockNumber"),
        ])
        let rpc = try client([otherChainReplying, right], chainID: 1337)
        #expect(try await rpc.blockNumber() == 3)
        #expect(try await rpc.blockNumber() == 3)
        let status = rpc.endpointStatus
        #expect(
            status[0].disabled && !status[0].chainVerified && status[0].lastError?.contains("serves chain 1") == true)
        #expect(status[1].chainVerified && !status[1].disabled)
        #expect(try server.received(otherChainReplying) == ["eth_chainId"])  // never used for calls
        let lonely = try client([otherChainReplying], chainID: 1337)
        await #expect(throws: EthereumRPCError.self) { try await lonely.blockNumber() }
    }

    @Test func sendsAreCheckedBeforeTheyAreRepeated() async throws {
        let r = recorded
        let tx = r.transaction
        // Plain success: the node returns the transaction's hash.
        let ok = try server.endpoint([r.reply("eth_sendRawTransaction", "sendRawTransaction")])
        #expect(try await client([ok]).sendRawTransaction(tx) == tx.hash)
        #expect(try await client([ok]).sendRawTransaction(tx.rawBytes) == tx.hash)

        // The connection drops after the send: the chain knows the transaction, so it is not sent again.
        let dropKnown = try server.endpoint([
            FakeRPCServer.Rule(method: "eth_sendRawTransaction", action: "close"),
            r.reply("eth_getTransactionByHash", "transactionByHash"),
        ])
        #expect(try await client([dropKnown]).sendRawTransaction(tx) == tx.hash)
        #expect(try server.received(dropKnown) == ["eth_sendRawTransaction", "eth_getTransactionByHash"])

        // The connection drops and the chain does not know it: sent again (same bytes).
        let dropUnknown = try server.endpoint([
            FakeRPCServer.Rule(method: "eth_sendRawTransaction", action: "close", times: 1),
            FakeRPCServer.Rule(method: "eth_getTransactionByHash", body: #"{"jsonrpc":"2.0","id":0,"result":null}"#),
            r.reply("eth_sendRawTransaction", "sendRawTransaction"),
        ])
        #expect(try await client([dropUnknown]).sendRawTransaction(tx) == tx.hash)
        #expect(
            try server.received(dropUnknown) == [
                "eth_sendRawTransaction", "eth_getTransactionByHash", "eth_sendRawTransaction",
            ])

        // A timeout, then "nonce too low" on the resend: the chain has it, so that is success.
        let timeoutThenKnown = try server.endpoint([
            FakeRPCServer.Rule(method: "eth_sendRawTransaction", action: "sleep", seconds: 2, times: 1),
            FakeRPCServer.Rule(
                method: "eth_getTransactionByHash", body: #"{"jsonrpc":"2.0","id":0,"result":null}"#, times: 1),
            r.reply("eth_sendRawTransaction", "sendRawTransactionNonceTooLow"),
            r.reply("eth_getTransactionByHash", "transactionByHash"),
        ])
        let impatient = try client([timeoutThenKnown], timeout: .milliseconds(400))
        #expect(try await impatient.sendRawTransaction(tx) == tx.hash)

        // Rejected outright (no ambiguity): the node's error, no lookup, no resend.
        let rejected = try server.endpoint([r.reply("eth_sendRawTransaction", "sendRawTransactionNonceTooLow")])
        await #expect(
            throws: EthereumRPCError.rpc(
                method: "eth_sendRawTransaction", code: -32000, message: "nonce too low: next nonce 1, tx nonce 0",
                data: nil)
        ) {
            try await client([rejected]).sendRawTransaction(tx)
        }
        #expect(try server.received(rejected) == ["eth_sendRawTransaction"])

        // A node that answers another hash is not believed.
        let liar = try server.endpoint([
            FakeRPCServer.Rule(
                method: "eth_sendRawTransaction",
                body: #"{"jsonrpc":"2.0","id":0,"result":"0x\#(String(repeating: "ab", count: 32))"}"#),
            FakeRPCServer.Rule(method: "eth_getTransactionByHash", body: #"{"jsonrpc":"2.0","id":0,"result":null}"#),
        ])
        await #expect(throws: EthereumRPCError.self) { try await client([liar], attempts: 2).sendRawTransaction(tx) }

        // Transactions for another chain never leave the process; sends never go through call().
        await #expect(throws: EthereumRPCError.self) { try await client([ok], chainID: 1).sendRawTransaction(tx) }
        await #expect(throws: EthereumRPCError.self) {
            try await client([ok]).call("eth_sendRawTransaction", [.string("0x00")])
        }
        #expect(try server.received(ok).count == 2)
    }

    @Test func configurationIsValidated() {
        #expect(throws: EthereumRPCError.self) { try EthereumRPC(EthereumRPCConfiguration(endpoints: [])) }
        #expect(throws: EthereumRPCError.self) {
            try EthereumRPC(EthereumRPCConfiguration(endpoints: ["http://x"], maxAttempts: 0))
        }
        let rpc = try? EthereumRPC(
            EthereumRPCConfiguration(endpoints: [
                "https://user:secret@node.example:8545/v1/KEY?x=1", "http://[::1]:8545",
            ]))
        #expect(rpc?.endpointStatus.map(\.name) == ["node.example:8545", "[::1]:8545"])
    }

    @Test func requestEncoding() {
        let filter = LogFilter(
            range: .blocks(from: .number(16), to: .latest),
            addresses: [address("0x5fbdb2315678afecb367f032d93f642f64180aa3")],
            topics: [[.zero], nil, [.zero, .zero], nil])
        #expect(
            filter.json.description
                == #"{"address":"0x5fbdb2315678afecb367f032d93f642f64180aa3","fromBlock":"0x10","toBlock":"latest","topics":["0x0000000000000000000000000000000000000000000000000000000000000000",null,["0x0000000000000000000000000000000000000000000000000000000000000000","0x0000000000000000000000000000000000000000000000000000000000000000"]]}"#
        )
        #expect(LogFilter(range: .blockHash(.zero)).json["blockHash"] == .string(Hash32.zero.description))
        let call = CallRequest(to: nil, gas: 21000, value: 1, data: [0xab])
        #expect(call.json.description == #"{"data":"0xab","gas":"0x5208","value":"0x1"}"#)
    }
}
