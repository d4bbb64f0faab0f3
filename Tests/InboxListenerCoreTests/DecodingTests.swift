import EVM
import Testing
import Wire

@testable import InboxListenerCore

private let decoder = InboxLogDecoder(chainID: chainID, inbox: inbox)
private let blockHash = hash("block 7")

private func log(topics: [Hash32]? = nil, data: [UInt8]? = nil, address: Address = inbox, removed: Bool = false) -> Log
{
    var l = requestLog(
        counter: 3, block: 7, blockHash: blockHash, logIndex: 2,
        request: UserRequest(tag: "t", confirmations: 12, sources: ["https://a.example/1", "ipfs://b"]))
    if let topics { l.topics = topics }
    if let data { l.data = data }
    l.address = address
    l.removed = removed
    return l
}

private func word(_ bytes: [UInt8]) -> Hash32 {
    try! Hash32(bytes: [UInt8](repeating: 0, count: 32 - bytes.count) + bytes)
}

private let goodTopics = log().topics
private let url = Array("https://c.example/x".utf8)
private let sources: [[UInt8]] = [Array("https://a.example/1".utf8)]

@Suite("RequestCreated logs → InboxRequest")
struct DecodingTests {
    @Test("the event signature and topic 0 are the Inbox contract's")
    func signature() {
        #expect(
            InboxLogDecoder.requestCreated.signature
                == "RequestCreated(uint256,address,uint256,string,bytes,string[],uint256,uint256,uint256)")
        #expect(InboxLogDecoder.topic0 == hash(InboxLogDecoder.requestCreated.signature))
    }

    @Test("a log of the inbox decodes to every field of §3.5.1.2 plus id and origin")
    func decodesEveryField() throws {
        let l = log()
        let r = try decoder.decode(l)
        #expect(r.id == InboxRequest.requestID(chainID: chainID, counter: 3))
        #expect(InboxRequest.chainID(ofRequestID: r.id) == UInt256(chainID))
        #expect(InboxRequest.counter(ofRequestID: r.id) == 3)
        #expect(r.sender == alice)
        #expect(r.requestingChainID == chainID)
        #expect(r.containerURL == "https://container.example/t")
        #expect(r.containerParams == Array("t".utf8))
        #expect(r.sourceURLs == ["https://a.example/1", "ipfs://b"])
        #expect(r.targetChainID == 59_144)
        #expect(r.fee == 1_000)
        #expect(r.confirmations == 12)
        #expect(
            r.origin
                == RequestOrigin(
                    chainID: chainID, blockNumber: 7, blockHash: blockHash, transactionHash: l.transactionHash,
                    logIndex: 2))
    }

    @Test("the request id is (chainid << 128) | n")
    func requestIDLayout() {
        let id = InboxRequest.requestID(chainID: 0x539, counter: 5)
        let expected = UInt256(0x539).multipliedReportingOverflow(by: .powerOfTwo(128)).partialValue
            .addingReportingOverflow(5).partialValue
        #expect(id == expected)
    }

    static let malformed: [(String, Log, InboxLogRejection)] = [
        ("removed by a reorg", log(removed: true), .removed),
        ("another contract", log(address: alice), .wrongContract(alice)),
        ("sender topic missing", log(topics: Array(goodTopics.prefix(2))), .wrongTopicCount(2)),
        (
            "RequestFulfilled's topic 0", log(topics: [hash("RequestFulfilled(uint256)")] + goodTopics.dropFirst()),
            .notRequestCreated(topic0: hash("RequestFulfilled(uint256)"))
        ),
        (
            "sender topic with dirty high bytes", log(topics: [goodTopics[0], goodTopics[1], word([1] + alice.bytes)]),
            .senderTopicNotAnAddress(word([1] + alice.bytes))
        ),
        (
            "id of chain 1",
            log(topics: [
                goodTopics[0], word(InboxRequest.requestID(chainID: 1, counter: 3).minimalBytes), goodTopics[2],
            ]),
            .idOfOtherChain(idChainID: 1, expected: chainID)
        ),
        (
            "id with counter 0",
            log(topics: [
                goodTopics[0], word(InboxRequest.requestID(chainID: chainID, counter: 0).minimalBytes), goodTopics[2],
            ]),
            .zeroCounter(InboxRequest.requestID(chainID: chainID, counter: 0))
        ),
        ("data truncated", log(data: Array(log().data.dropLast(32))), .abi(.offsetOutOfBounds(offset: 512))),
        (
            "data longer than any request within the caps",
            log(data: [UInt8](repeating: 0, count: RequestLimits.inboxContract.maxLogDataBytes + 1)),
            .dataTooLarge(
                length: RequestLimits.inboxContract.maxLogDataBytes + 1,
                limit: RequestLimits.inboxContract.maxLogDataBytes)
        ),
        (
            "requestingChainId of another chain",
            log(data: requestData(requestingChain: 5, url: url, sources: sources, confirmations: 1)),
            .requestingChainMismatch(5, expected: chainID)
        ),
        (
            "empty container URL", log(data: requestData(url: [], sources: sources, confirmations: 1)),
            .emptyContainerURL
        ),
        (
            "container URL not UTF-8",
            log(data: requestData(url: [0x68, 0xC3, 0x28], sources: sources, confirmations: 1)),
            .invalidUTF8(.containerURL)
        ),
        (
            "second source URL not UTF-8 (an overlong '/')",
            log(data: requestData(url: url, sources: sources + [[0xC0, 0xAF]], confirmations: 1)),
            .invalidUTF8(.sourceURL(index: 1))
        ),
        (
            "container URL of 513 bytes",
            log(data: requestData(url: [UInt8](repeating: 0x61, count: 513), sources: sources, confirmations: 1)),
            .fieldTooLong(.containerURL, length: 513, limit: 512)
        ),
        (
            "source URL of 513 bytes",
            log(data: requestData(url: url, sources: [[UInt8](repeating: 0x61, count: 513)], confirmations: 1)),
            .fieldTooLong(.sourceURL(index: 0), length: 513, limit: 512)
        ),
        (
            "params of 4097 bytes",
            log(
                data: requestData(
                    url: url, params: [UInt8](repeating: 7, count: 4097), sources: sources, confirmations: 1)),
            .fieldTooLong(.containerParams, length: 4097, limit: 4096)
        ),
        (
            "17 source URLs",
            log(data: requestData(url: url, sources: Array(repeating: [0x61], count: 17), confirmations: 1)),
            .tooManySourceURLs(count: 17, limit: 16)
        ),
        (
            "target chain 0", log(data: requestData(url: url, sources: sources, target: 0, confirmations: 1)),
            .zeroTargetChain
        ),
        (
            "confirmations of 2^64", log(data: requestData(url: url, sources: sources, confirmations: .powerOfTwo(64))),
            .confirmationsOutOfRange(.powerOfTwo(64))
        ),
    ]

    @Test("malformed logs are rejected with the reason that names the culprit", arguments: malformed.indices)
    func malformedLog(_ i: Int) {
        let (what, l, expected) = Self.malformed[i]
        #expect(throws: expected, "\(what)") { try decoder.decode(l) }
    }

    @Test("the ABI decoder's own refusals surface as .abi (no crash on garbage)")
    func garbage() {
        for data in [[UInt8](repeating: 0xFF, count: 7 * 32), [UInt8](repeating: 0, count: 5), []] {
            #expect {
                try decoder.decode(log(data: data))
            } throws: { error in
                if case .abi = error as? InboxLogRejection { true } else { false }
            }
        }
    }

    @Test("the wire form round-trips and refuses what the log decoder would refuse")
    func wire() throws {
        let r = try decoder.decode(log())
        let bytes = r.encoded()
        #expect(try InboxRequest.decode(bytes) == r)
        #expect(throws: WireError.trailingBytes(count: 1)) { try InboxRequest.decode(bytes + [0]) }
        #expect(throws: WireError.self) { try InboxRequest.decode(Array(bytes.dropLast())) }

        var other = r
        other.origin.chainID = 1
        #expect(throws: WireError.invalidValue("request id of another chain than its origin")) {
            try InboxRequest.decode(other.encoded())
        }
        other = r
        other.targetChainID = 0
        #expect(throws: WireError.invalidValue("zero target chain")) { try InboxRequest.decode(other.encoded()) }
    }

    @Test("wire layout is frozen: id, sender, chain, strings, params, sources, target, fee, confirmations, origin")
    func wireLayout() throws {
        let r = try decoder.decode(log())
        let b = r.encoded()
        #expect(Array(b[0..<32]) == r.id.bigEndianBytes)
        #expect(Array(b[32..<52]) == alice.bytes)
        #expect(Array(b[52..<60]) == [0, 0, 0, 0, 0, 0, 0x05, 0x39])
        #expect(Array(b[60..<64]) == [0, 0, 0, UInt8(r.containerURL.utf8.count)])
        let tail = Array(b.suffix(8 + 8 + 32 + 32 + 8))
        #expect(Array(tail[0..<8]) == [0, 0, 0, 0, 0, 0, 0x05, 0x39])
        #expect(Array(tail[8..<16]) == [0, 0, 0, 0, 0, 0, 0, 7])
        #expect(Array(tail[16..<48]) == blockHash.bytes)
        #expect(Array(tail[80..<88]) == [0, 0, 0, 0, 0, 0, 0, 2])
    }
}
