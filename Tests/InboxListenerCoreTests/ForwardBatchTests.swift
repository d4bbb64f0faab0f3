import EVM
import Testing
import Wire

@testable import InboxListenerCore

private func decoded(_ counter: UInt64, tag: String = "r") -> InboxRequest {
    let log = requestLog(
        counter: counter, block: 5, blockHash: hash("b5"), logIndex: counter, request: UserRequest(tag: tag))
    return try! InboxLogDecoder(chainID: chainID, inbox: inbox).decode(log)
}

@Suite("Forwarding to the consensus-manager")
struct ForwardBatchTests {
    @Test("a request and its wire record encode to the same bytes, and the record decodes back")
    func recordMatchesRequest() throws {
        let request = decoded(3, tag: "x")
        let record = request.record
        #expect(record.encoded() == request.encoded())
        #expect(try InboxRequestRecord.decode(request.encoded()) == record)
        #expect(record.key == InboxRequestKey(chainID: chainID, requestID: request.id.bigEndianBytes))
        #expect(record.params == Array("x".utf8) && record.blockNumber == 5 && record.logIndex == 3)
    }

    @Test("batches are cut at the wire maximum")
    func chunks() {
        let requests = (1...130).map { decoded(UInt64($0)) }
        let chunks = ForwardBatch.chunks(requests)
        #expect(chunks.map(\.count) == [64, 64, 2])
        #expect(chunks.flatMap { $0 } == requests)
        #expect(ForwardBatch.chunks([]).isEmpty)
    }

    @Test("accepted and refused ids are acknowledged; ids not taken make the tracker resend")
    func outcome() {
        let sent = (1...4).map { decoded(UInt64($0)) }
        let refusal = InboxRequestRefusal(key: sent[1].key, reason: "another body")
        let stray = decoded(99).key
        let ack = SubmitInboxRequestsAck(accepted: [sent[0].key, stray, sent[0].key], refused: [refusal])
        let o = ForwardBatch.outcome(sent: sent, ack: ack)
        #expect(o.inputs == [.forwarded(sent[0].id), .forwarded(sent[1].id), .forwardFailed])
        #expect(o.accepted == 1 && o.refused == [refusal] && o.notTaken == 2 && o.unexpected == 2)

        let all = ForwardBatch.outcome(sent: sent, ack: SubmitInboxRequestsAck(accepted: sent.map(\.key), refused: []))
        #expect(all.inputs == sent.map { .forwarded($0.id) } && all.notTaken == 0)
    }

    @Test("the tracker forwards once per acknowledgement, and again after a pool-full answer")
    func trackerRoundTrip() {
        var chain = SimChain()
        chain.mine([UserRequest(tag: "a"), UserRequest(tag: "b")])
        chain.mine(count: 1)
        var tracker = ChainTracker(config: config())
        var forwarded: [InboxRequest] = []
        var queue = tracker.handle(chain.headInput)
        while !queue.isEmpty {
            switch queue.removeFirst() {
            case .fetchBlocks(let r): queue += tracker.handle(.blocks(chain.headers(r)))
            case .fetchLogs(let r): queue += tracker.handle(.logs(r, chain.logs(r)))
            case .forward(let batch): forwarded += batch
            default: break
            }
        }
        #expect(forwarded.count == 2)
        // The consensus-manager takes only the first (pool full): the second is sent again after
        // the next head, the first never again.
        let o = ForwardBatch.outcome(
            sent: forwarded, ack: SubmitInboxRequestsAck(accepted: [forwarded[0].key], refused: []))
        for input in o.inputs { _ = tracker.handle(input) }
        let again = tracker.handle(chain.headInput).compactMap { a -> [InboxRequest]? in
            if case .forward(let b) = a { return b }
            return nil
        }
        #expect(again == [[forwarded[1]]])
        #expect(tracker.status.counters.forwarded == 1)
    }
}
