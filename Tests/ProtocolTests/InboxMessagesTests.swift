import Testing
import Wire

private func word(_ last: UInt8, chain: UInt64? = nil) -> [UInt8] {
    var w = [UInt8](repeating: 0, count: 32)
    if let chain { for i in 0..<8 { w[15 - i] = UInt8(truncatingIfNeeded: chain >> (8 * UInt64(i))) } }
    w[31] = last
    return w
}

private func record(
    chain: UInt64 = 1337, n: UInt8 = 1, requestingChain: UInt64? = nil, url: String = "docker://a",
    target: UInt8 = 7
) -> InboxRequestRecord {
    InboxRequestRecord(
        requestID: word(n, chain: chain), sender: try! Address(bytes: [UInt8](repeating: 0xaa, count: 20)),
        requestingChainID: requestingChain ?? chain, containerURL: url, params: [1, 2], sourceURLs: ["s1", "s2"],
        targetChainID: word(target), fee: word(9), confirmations: 3, chainID: chain, blockNumber: 12,
        blockHash: word(0xbb), transactionHash: word(0xcc), logIndex: 4)
}

@Suite("Inbox messages")
struct InboxMessagesTests {
    @Test("round trips and the method's name")
    func roundTrip() throws {
        let submit = SubmitInboxRequests(requests: [record(), record(n: 2), record(chain: 5)])
        #expect(try SubmitInboxRequests.decode(submit.encoded()) == submit)
        let ack = SubmitInboxRequestsAck(
            accepted: [record().key, record(n: 2).key],
            refused: [InboxRequestRefusal(key: record(chain: 5).key, reason: "another body")])
        #expect(try SubmitInboxRequestsAck.decode(ack.encoded()) == ack)
        #expect(
            try SubmitInboxRequestsAck.decode(SubmitInboxRequestsAck(accepted: [], refused: []).encoded()).accepted
                == [])
        #expect(MethodID.name(MethodID.submitInboxRequests) == "inbox.submitRequests")
    }

    @Test("the record's layout is fixed: id, sender, requesting chain, fields, origin")
    func layout() {
        var w = WireWriter()
        w.writeFixedBytes(word(1, chain: 1337))
        w.writeAddress(try! Address(bytes: [UInt8](repeating: 0xaa, count: 20)))
        w.writeUInt64(1337)
        w.writeString("docker://a")
        w.writeBytes([1, 2])
        w.writeArray(["s1", "s2"]) { $0.writeString($1) }
        w.writeFixedBytes(word(7))
        w.writeFixedBytes(word(9))
        w.writeUInt64(3)
        w.writeUInt64(1337)
        w.writeUInt64(12)
        w.writeFixedBytes(word(0xbb))
        w.writeFixedBytes(word(0xcc))
        w.writeUInt64(4)
        #expect(record().encoded() == w.bytes)
    }

    @Test(
        "the decoder refuses what no inbox emits",
        arguments: [
            (record(chain: 7).withID(word(1, chain: 8)), "another chain"),
            (record().withID(word(0, chain: 1337)), "counter 0"),
            (record(requestingChain: 1), "requesting chain"),
            (record(url: ""), "empty container URL"),
            (record(target: 0), "zero target chain"),
        ])
    func refusesInvalid(bad: InboxRequestRecord, words: String) {
        #expect {
            _ = try InboxRequestRecord.decode(bad.encoded())
        } throws: { error in
            "\(error)".contains(words)
        }
    }

    @Test("an empty batch, an oversized batch, truncation and trailing bytes are refused")
    func hostileBatches() throws {
        #expect(throws: WireError.self) { try SubmitInboxRequests.decode(SubmitInboxRequests(requests: []).encoded()) }
        let big = SubmitInboxRequests(requests: (0..<65).map { record(n: UInt8($0 + 1)) })
        #expect(throws: WireError.self) { try SubmitInboxRequests.decode(big.encoded()) }
        let one = SubmitInboxRequests(requests: [record()]).encoded()
        #expect(throws: WireError.self) { try SubmitInboxRequests.decode(Array(one.dropLast())) }
        #expect(throws: WireError.self) { try SubmitInboxRequests.decode(one + [0]) }
        // A count far above what the bytes can hold is refused before anything is allocated.
        #expect(throws: WireError.self) {
            try SubmitInboxRequests.decode([0, 0, 0, 64] + [UInt8](repeating: 0, count: 100))
        }
    }
}

extension InboxRequestRecord {
    fileprivate func withID(_ id: [UInt8]) -> InboxRequestRecord {
        InboxRequestRecord(
            requestID: id, sender: sender, requestingChainID: requestingChainID, containerURL: containerURL,
            params: params, sourceURLs: sourceURLs, targetChainID: targetChainID, fee: fee,
            confirmations: confirmations, chainID: chainID, blockNumber: blockNumber, blockHash: blockHash,
            transactionHash: transactionHash, logIndex: logIndex)
    }
}
