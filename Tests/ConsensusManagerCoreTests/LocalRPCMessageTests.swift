import Testing
import Wire

/// Golden encodings of the consensus engine's local RPC messages (`Protocol/Wire/ConsensusMessages.swift`):
/// the wire format cannot drift silently.
@Suite("Consensus local RPC messages")
struct LocalRPCMessageTests {
    @Test("golden hex of submitTx, its answer, the block query and the block reply; round trips")
    func golden() throws {
        let tx = ConsensusSubmitTx(tx: Array("a=1".utf8))
        #expect(Hex.encode(tx.encoded()) == "00000003613d31")
        let hash = [UInt8](repeating: 0xab, count: 32)
        let ack = ConsensusSubmitTxAck(hash: hash, duplicate: true)
        #expect(Hex.encode(ack.encoded()) == String(repeating: "ab", count: 32) + "01")
        let query = ConsensusBlockQuery(height: 7)
        #expect(Hex.encode(query.encoded()) == "0000000000000007")
        let reply = ConsensusBlockReply(height: 7, hash: hash, block: [1, 2])
        #expect(Hex.encode(reply.encoded()) == "0000000000000007" + String(repeating: "ab", count: 32) + "000000020102")
        #expect(try ConsensusSubmitTx.decode(tx.encoded()) == tx)
        #expect(try ConsensusSubmitTxAck.decode(ack.encoded()) == ack)
        #expect(try ConsensusBlockQuery.decode(query.encoded()) == query)
        #expect(try ConsensusBlockReply.decode(reply.encoded()) == reply)
        // Hostile: a short hash, a bool that is neither 0 nor 1, trailing bytes.
        #expect(throws: WireError.self) { try ConsensusSubmitTxAck.decode([UInt8](repeating: 0, count: 31)) }
        #expect(throws: WireError.self) { try ConsensusSubmitTxAck.decode(hash + [2]) }
        #expect(throws: WireError.self) { try ConsensusBlockQuery.decode(query.encoded() + [0]) }
        #expect(MethodID.name(MethodID.consensusSubmitTx) == "consensus.submitTx")
        #expect(MethodID.name(MethodID.consensusGossip) == "p2p.consensusGossip")
    }
}
