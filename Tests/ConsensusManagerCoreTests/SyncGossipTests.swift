import ConsensusManagerCore
import Tendermint
import Testing
import Wire

@Suite("Block sync and gossip messages")
struct SyncGossipTests {
    @Test("a node behind asks peers that have its next height, in rotation, one request at a time")
    func requests() {
        var sync = BlockSync(requestTimeoutMs: 100)
        #expect(sync.nextRequest(next: 1, nowMs: 0) == nil)
        sync.peerReported(address(2), committed: 5)
        sync.peerReported(address(3), committed: 0)
        sync.peerReported(address(4), committed: 7)
        sync.peerReported(address(4), committed: 6)  // older report ignored
        #expect(sync.bestPeerHeight == 7)
        #expect(sync.isBehind(next: 7))
        #expect(!sync.isBehind(next: 8))
        let peers = [address(2), address(4)].sorted()
        let first = sync.nextRequest(next: 1, nowMs: 0)
        #expect(first?.peer == peers[0] && first?.height == 1)
        #expect(sync.nextRequest(next: 1, nowMs: 50) == nil)  // in flight
        let second = sync.nextRequest(next: 1, nowMs: 100)  // timed out: the other peer
        #expect(second?.peer == peers[1])
        #expect(sync.counters.timedOut == 1)
        // Height 6 only at address(4).
        #expect(sync.nextRequest(next: 6, nowMs: 200)?.peer == address(4))
        sync.forget(address(4))
        #expect(sync.nextRequest(next: 6, nowMs: 201) == nil)
    }

    @Test("an answer is applied only when it verifies against our tip")
    func verification() {
        let (tips, blocks) = buildChain(3)
        var sync = BlockSync()
        sync.peerReported(address(2), committed: 3)
        _ = sync.nextRequest(next: 2, nowMs: 0)
        let (block2, commit2) = blocks[1]
        #expect(
            sync.received(from: address(2), value: block2.value, commit: commit2, tip: tips[1])
                == .apply(block2, commit2))
        #expect(sync.inFlight == nil)
        // Not our next height.
        #expect(sync.received(from: address(2), value: block2.value, commit: commit2, tip: tips[2]) == .ignore)
        // The commit of another block.
        let (block3, commit3) = blocks[2]
        let mismatched = SignedCommit(height: 2, round: 0, blockID: block3.hash, votes: [])
        if case .refuse = sync.received(from: address(2), value: block2.value, commit: mismatched, tip: tips[1]) {
        } else {
            Issue.record("a commit for another block was not refused")
        }
        // Two signatures are not a quorum.
        let weak = commit(2, 0, block2.hash, by: [1, 2])
        #expect(
            sync.received(from: address(2), value: block2.value, commit: weak, tip: tips[1])
                == .refuse(.commit(.certificate(.insufficientPower(have: 2, total: 4)))))
        // A block of a forked history, properly signed by a quorum, does not extend our tip.
        let fork = tips[1].makeBlock(round: 0, proposer: address(1), timeMs: 1, txs: [bytes("evil=1")])
        let forkOnWrongTip = Block(
            header: BlockHeader(
                chainID: chainID, height: 2, round: 0, timeMs: 1, proposer: address(1),
                previousBlockHash: block3.hash.bytes,
                lastCommitHash: fork.header.lastCommitHash, txRoot: fork.header.txRoot, appHash: fork.header.appHash),
            txs: fork.txs, lastCommit: fork.lastCommit)
        #expect(
            sync.received(
                from: address(2), value: forkOnWrongTip.value,
                commit: commit(2, 0, forkOnWrongTip.hash, by: [1, 2, 3]),
                tip: tips[1]) == .refuse(.wrongPrevious))
        // Garbage bytes under a valid-looking commit.
        let junk = Value(bytes: [1, 2, 3])
        if case .refuse(.undecodable) = sync.received(
            from: address(2), value: junk, commit: commit(2, 0, junk.id, by: [1, 2, 3]), tip: tips[1])
        {
        } else {
            Issue.record("junk was not refused as undecodable")
        }
        _ = commit3
        #expect(sync.counters.applied == 1)
        #expect(sync.counters.refused == 4)
    }

    @Test("a proposal announcement signs exactly Proposal.signBytes and verifies only for its proposer")
    func announcement() throws {
        let (_, blocks) = buildChain(1)
        let value = blocks[0].0.value
        let p = Proposal(height: 1, round: 2, value: value, validRound: 1, proposer: address(1))
        let (header, _) = PartSet.split(value.bytes)
        let sig = try ConsensusSignature.sign(p.signBytes(chainID: chainID), key: key(1))
        let a = ProposalAnnouncement.make(p, parts: header, chainID: chainID, signature: sig)
        #expect(a.signBytes(chainID: chainID) == p.signBytes(chainID: chainID))
        #expect(a.verify(chainID: chainID))
        #expect(!a.verify(chainID: "other"))
        #expect(a.proposal(with: value) == p)
        #expect(a.proposal(with: Value(bytes: [])) == nil)
        let wrongSigner = ProposalAnnouncement.make(
            p, parts: header, chainID: chainID,
            signature: try ConsensusSignature.sign(p.signBytes(chainID: chainID), key: key(2)))
        #expect(!wrongSigner.verify(chainID: chainID))
        #expect(try ProposalAnnouncement.decode(a.encoded()) == a)
    }

    @Test("every gossip message round-trips; hostile encodings are refused")
    func gossipCodec() throws {
        let (_, blocks) = buildChain(2)
        let (block, c) = blocks[1]
        let (header, parts) = PartSet.split(block.value.bytes, partSize: 64)
        let sig = try ConsensusSignature.sign([1], key: key(1))
        let messages: [ConsensusGossip] = [
            .proposal(
                ProposalAnnouncement(
                    height: 2, round: 0, validRound: .none, proposer: address(1), valueID: block.hash, parts: header,
                    signature: sig)),
            .part(height: 2, round: 0, valueID: block.hash, part: parts[1]),
            .votes(c.votes), .txs([bytes("a=1"), bytes("b=2")]), .status(committed: 1, height: 2, round: 3),
            .blockRequest(2), .blockResponse(value: block.value, commit: c),
        ]
        for m in messages { #expect(try ConsensusGossip.decode(m.encoded()) == m) }
        #expect(throws: WireError.self) { try ConsensusGossip.decode([9]) }
        #expect(throws: WireError.self) { try ConsensusGossip.decode(ConsensusGossip.blockRequest(2).encoded() + [0]) }
        // A vote array claiming more elements than the bytes can hold.
        #expect(throws: WireError.self) { try ConsensusGossip.decode([3, 0xff, 0xff, 0xff, 0xff]) }
        // Golden: the status message's bytes.
        #expect(
            Hex.encode(ConsensusGossip.status(committed: 1, height: 2, round: 3).encoded())
                == "05" + "0000000000000001" + "0000000000000002" + "0000000000000003")
    }
}
