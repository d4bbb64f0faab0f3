import EVM
import Foundation
import Secp256k1
import Testing
import Wire

/// `Inbox.fulfill` driven entirely from Swift against the real dev chain (issue 6 acceptance:
/// "`Inbox.fulfill` accepts a correctly signed message and rejects a tampered one"): the request
/// and the fulfil are Swift-signed transactions, the block of results (DESIGN §5, README of
/// Deploy/devchain) is ABI-encoded here and its digest signed raw with the Secp256k1 module.
@Suite(
    "Inbox.fulfill from Swift (integration)", .serialized,
    .enabled(if: DevChain.enabled, "dev chain venv not installed"))
struct InboxFulfillIntegrationTests {
    static let request = try! ABIFunction(
        declaration:
            "function request(string containerURL, bytes params, string[] sourceURLs, uint256 targetChainId, uint256 confirmations) payable returns (uint256)"
    )
    static let fulfill = try! ABIFunction(declaration: "function fulfill(bytes message, bytes signature)")
    static let results = try! ABIFunction(declaration: "function results(uint256 id) returns (bytes)")
    static let fulfilled = try! ABIFunction(declaration: "function fulfilled(uint256 id) returns (bool)")
    static let signer = try! ABIFunction(declaration: "function signer() returns (address)")
    static let minFee = try! ABIFunction(declaration: "function minFee() returns (uint256)")
    static let requestCreated = try! ABIEvent(
        declaration: """
            event RequestCreated(uint256 indexed id, address indexed sender, uint256 requestingChainId,
                string containerURL, bytes params, string[] sourceURLs, uint256 targetChainId, uint256 fee, uint256 confirmations)
            """)
    static let requestFulfilled = try! ABIEvent(declaration: "event RequestFulfilled(uint256 indexed id)")

    /// The secp256k1 group order n, for the high-s twin (s → n − s).
    static let order = UInt256(bigEndian: Scalar.orderBytes)!

    let chainID: UInt64 = 31_338

    /// A Swift-built, Swift-signed EIP-1559 transaction, sent and waited for.
    func transact(
        _ rpc: EthereumRPC, from signer: LocalKeySigner, to: Address, value: UInt256 = 0, data: [UInt8],
        gasLimit: UInt64? = nil
    ) async throws -> TransactionReceipt {
        let head = try #require(try await rpc.block(.latest))
        let baseFee = try #require(head.baseFeePerGas)
        let tip: UInt256 = 1_000_000_000
        let maxFee = baseFee.multipliedReportingOverflow(by: 2).partialValue.addingReportingOverflow(tip).partialValue
        let nonce = try await rpc.transactionCount(signer.address)
        var gas = gasLimit
        if gas == nil {
            gas = try await rpc.estimateGas(CallRequest(from: signer.address, to: to, value: value, data: data)) * 2
        }
        let signed = try await UnsignedTransaction.eip1559(
            EIP1559Transaction(
                chainID: chainID, nonce: nonce, maxPriorityFeePerGas: tip, maxFeePerGas: maxFee, gasLimit: gas!, to: to,
                value: value, data: data)
        ).signed(by: signer)
        #expect(try await rpc.sendRawTransaction(signed) == signed.hash)
        for _ in 0..<100 {
            if let receipt = try await rpc.transactionReceipt(signed.hash) { return receipt }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DevChain.ScriptFailed(description: "transaction \(signed.hash) not mined")
    }

    func view(
        _ rpc: EthereumRPC, _ inbox: Address, _ function: ABIFunction, _ args: [ABIValue] = []
    ) async throws
        -> [ABIValue]
    {
        try function.decodeOutput(try await rpc.call(CallRequest(to: inbox, data: try function.encodeCall(args))))
    }

    /// The revert reason of `fulfill(message, signature)` as eth_call and eth_estimateGas report it
    /// (both must revert, with the same reason).
    func revertReason(
        _ rpc: EthereumRPC, _ inbox: Address, from: Address, message: [UInt8], signature: [UInt8]
    ) async throws -> String? {
        let call = CallRequest(
            from: from, to: inbox, data: try Self.fulfill.encodeCall([.bytes(message), .bytes(signature)]))
        var reasons: [String?] = []
        do throws(EthereumRPCError) {
            _ = try await rpc.call(call)
            Issue.record("eth_call of fulfill did not revert")
        } catch { reasons.append(error.revertReason) }
        do throws(EthereumRPCError) {
            _ = try await rpc.estimateGas(call)
            Issue.record("eth_estimateGas of fulfill did not revert")
        } catch { reasons.append(error.revertReason) }
        #expect(reasons.count == 2 && reasons[0] == reasons[1], "eth_call and eth_estimateGas disagree: \(reasons)")
        return reasons.first ?? nil
    }

    /// `abi.encode(uint256 version, uint256 epoch, uint256[] requestIds, bytes[] values)`.
    static func message(version: UInt64 = 1, epoch: UInt64, ids: [UInt256], values: [[UInt8]]) throws -> [UInt8] {
        try ABI.encode(
            [
                .uint(UInt256(version)), .uint(UInt256(epoch)), .array(ids.map { .uint($0) }),
                .array(values.map { .bytes($0) }),
            ],
            types: [.uint256, .uint256, .dynamicArray(.uint256), .dynamicArray(.bytes)])
    }

    /// 65 bytes r ‖ s ‖ v (v ∈ {27, 28}) over keccak256(message), raw: no EIP-191 prefix (the
    /// Inbox's rule, Deploy/devchain/README.md "Block of results"). libsecp256k1 signs low-s.
    static func sign(
        _ message: [UInt8], with key: PrivateKey
    ) throws -> (bytes: [UInt8], recoverable: RecoverableSignature) {
        let signature = try key.signRecoverable(digest: Hash32.keccak(message).bytes)
        let b = signature.bytes65
        return (Array(b[0..<64]) + [b[64] + 27], signature)
    }

    /// The same signature with s → n − s and the parity flipped: valid ECDSA for the same key
    /// and digest (the malleability the Inbox refuses, as Ethereum's EIP-2 does for transactions).
    static func highSTwin(_ signature: [UInt8]) -> [UInt8] {
        let s = UInt256(bigEndian: signature[32..<64])!
        let twin = order.subtractingReportingOverflow(s).partialValue
        return Array(signature[0..<32]) + twin.bigEndianBytes + [signature[64] == 27 ? 28 : 27]
    }

    @Test func fulfillAcceptsTheSignedBlockAndRefusesTamperedAndHighS() async throws {
        let chain = try DevChain(chainID: chainID)
        defer { chain.stop() }
        let rpc = try EthereumRPC(EthereumRPCConfiguration(endpoints: [chain.url], expectedChainID: chainID))
        let inbox = chain.contract("Inbox")

        // The Inbox signer's key, from the chain itself (dev account 1).
        let deployments = try await rpc.call("dev_deployments")
        let signerAccount = try #require(deployments["accounts"]?.arrayValue?[1])
        let signerKey = try PrivateKey(bytes: hex(try #require(signerAccount["privateKey"]?.stringValue)))
        let signerAddress = Address(publicKey: signerKey.publicKey)
        #expect(try await view(rpc, inbox, Self.signer) == [.address(signerAddress)])
        #expect(signerAddress == address(try #require(deployments["contracts"]?["Inbox"]?["signer"]?.stringValue)))

        // Two requests, Swift-signed, from a user account.
        let user = try chain.account(6)
        guard case .uint(let fee) = try #require(try await view(rpc, inbox, Self.minFee).first) else {
            Issue.record("minFee() is not a uint")
            return
        }
        var ids: [UInt256] = []
        for n in 0..<2 {
            let data = try Self.request.encodeCall([
                .string("oci://registry.local/price:\(n)"), .bytes(Array("pair=ETH-USD;n=\(n)".utf8)),
                .array([.string("https://prices.example/eth")]), .uint(UInt256(chainID)), .uint(1),
            ])
            let receipt = try await transact(rpc, from: user, to: inbox, value: fee, data: data)
            #expect(receipt.status == true)
            let log = try #require(receipt.logs.first { $0.topics.first == Self.requestCreated.topic0 })
            guard case .value(.uint(let id)) = try Self.requestCreated.decodeLog(topics: log.topics, data: log.data)[0]
            else {
                Issue.record("RequestCreated without an id")
                return
            }
            ids.append(id)
        }
        #expect(ids.map { RequestID.chainOf($0) } == [UInt256(chainID), UInt256(chainID)])
        for id in ids { #expect(try await view(rpc, inbox, Self.fulfilled, [.uint(id)]) == [.bool(false)]) }

        // The block of results: both ids, and one of another chain that fulfill skips.
        let foreign = RequestID.id(chainID: 1, counter: 1)
        let values: [[UInt8]] = [Array("3150.25".utf8), [0x00, 0xff, 0x10], Array("not for this chain".utf8)]
        let message = try Self.message(epoch: 7, ids: ids + [foreign], values: values)
        let (signature, recoverable) = try Self.sign(message, with: signerKey)
        #expect(recoverable.signature.isLowS)
        #expect(try PublicKey.recover(recoverable, digest: Hash32.keccak(message).bytes) == signerKey.publicKey)
        let relayer = try chain.account(7)  // anyone may relay a signed block

        // Tampered: one byte of the first value changed, same signature: refused, also on chain.
        var tamperedValues = values
        tamperedValues[0][0] ^= 0x01
        let tampered = try Self.message(epoch: 7, ids: ids + [foreign], values: tamperedValues)
        #expect(tampered.count == message.count && tampered != message)
        let tamperedReason = try await revertReason(
            rpc, inbox, from: relayer.address, message: tampered, signature: signature)
        // The signature still recovers, to another address than the signer's: the Inbox says
        // "bad signature" (its "invalid signature" is for a signature nothing recovers from).
        let tamperedSigner = try PublicKey.recover(recoverable, digest: Hash32.keccak(tampered).bytes)
        #expect(tamperedSigner != signerKey.publicKey)
        #expect(tamperedReason == "bad signature")
        // Sent anyway (fixed gas, so no estimate stops it): mined, reverted, nothing stored.
        let rejected = try await transact(
            rpc, from: relayer, to: inbox,
            data: try Self.fulfill.encodeCall([.bytes(tampered), .bytes(signature)]), gasLimit: 1_000_000)
        #expect(rejected.status == false && rejected.logs.isEmpty)

        // An r that is no point's x-coordinate: ecrecover finds nobody ("invalid signature").
        var x: UInt64 = 1
        while (try? Point(compressed: [0x02] + UInt256(x).bigEndianBytes)) != nil { x += 1 }
        let unrecoverable = UInt256(x).bigEndianBytes + Array(signature[32...])
        let unrecoverableReason = try await revertReason(
            rpc, inbox, from: relayer.address, message: message, signature: unrecoverable)
        #expect(unrecoverableReason == "invalid signature")

        // The high-s twin: the malleated form of the valid signature (normalizing it gives the
        // original back), which EIP-2's rule refuses; the Swift recovery refuses it too.
        let twin = Self.highSTwin(signature)
        let twinRecoverable = try RecoverableSignature(bytes65: Array(twin[0..<64]) + [twin[64] - 27])
        #expect(!twinRecoverable.signature.isLowS)
        #expect(twinRecoverable.signature.normalized == recoverable.signature)
        #expect(twinRecoverable.recoveryID == 1 - recoverable.recoveryID)
        #expect(throws: Secp256k1Error.highS) {
            try PublicKey.recover(twinRecoverable, digest: Hash32.keccak(message).bytes)
        }
        let twinReason = try await revertReason(rpc, inbox, from: relayer.address, message: message, signature: twin)
        #expect(twinReason == "high-s signature")
        for id in ids { #expect(try await view(rpc, inbox, Self.fulfilled, [.uint(id)]) == [.bool(false)]) }

        // The real one: mined with status 1, one RequestFulfilled per id of this chain.
        let accepted = try await transact(
            rpc, from: relayer, to: inbox, data: try Self.fulfill.encodeCall([.bytes(message), .bytes(signature)]))
        #expect(accepted.status == true)
        let fulfilledIDs = accepted.logs.filter {
            $0.address == inbox && $0.topics.first == Self.requestFulfilled.topic0
        }
        .map { UInt256(bigEndian: $0.topics[1].bytes)! }
        #expect(fulfilledIDs == ids)
        for (id, value) in zip(ids, values) {
            #expect(try await view(rpc, inbox, Self.fulfilled, [.uint(id)]) == [.bool(true)])
            #expect(try await view(rpc, inbox, Self.results, [.uint(id)]) == [.bytes(value)])
        }
        #expect(try await view(rpc, inbox, Self.fulfilled, [.uint(foreign)]) == [.bool(false)])

        // The same signed block again: refused (every id is already fulfilled).
        let againReason = try await revertReason(
            rpc, inbox, from: relayer.address, message: message, signature: signature)
        #expect(againReason == "already fulfilled")
    }
}

/// Request ids: `(chainid << 128) | n` (Deploy/devchain/README.md "Request ids").
enum RequestID {
    static func chainOf(_ id: UInt256) -> UInt256 { UInt256(bigEndian: id.bigEndianBytes[0..<16])! }

    static func id(chainID: UInt64, counter: UInt64) -> UInt256 {
        UInt256(
            bigEndian: [UInt8](repeating: 0, count: 8) + withUnsafeBytes(of: chainID.bigEndian, Array.init)
                + [UInt8](repeating: 0, count: 8) + withUnsafeBytes(of: counter.bigEndian, Array.init))!
    }
}
