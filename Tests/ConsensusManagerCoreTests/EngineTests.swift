import ConsensusManager
import ConsensusManagerCore
import Foundation
import Secp256k1
import Tendermint
import Testing
import Wire

/// The engine over real loopback TCP, four validators in one process (`LocalConsensusCluster`):
/// real LevelDB stores, WAL, signatures, envelopes and sockets.
@Suite("Consensus engine, four validators on loopback", .serialized)
struct EngineTests {
    static let settings = ConsensusEngineSettings(
        timeouts: TimeoutConfig(
            propose: 400, proposeDelta: 100, prevote: 150, prevoteDelta: 50, precommit: 150, precommitDelta: 50),
        timeoutCommitMs: 20, gossipIntervalMs: 100, maxBlockBytes: 256 << 10, partBytes: 4096)

    /// Runs `body` with a fresh cluster and always tears it down (also on failure).
    func withCluster(_ body: (LocalConsensusCluster) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vn-engine-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cluster = try await LocalConsensusCluster.start(
            keys: (1...4).map { key(UInt8($0)) }, directory: dir, settings: Self.settings)
        do {
            try await body(cluster)
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    /// Polls until `condition` holds (a liveness bound, not a timing assertion). On failure the
    /// engines' status objects are recorded with the issue.
    func eventually(
        _ what: String, within seconds: Double = 30, cluster: LocalConsensusCluster? = nil,
        _ condition: () async -> Bool
    ) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        var statuses: [String] = []
        if let cluster {
            for i in cluster.running {
                if let m = cluster.member(i) { statuses.append("node \(i): \(await m.engine.status().serialized())") }
            }
        }
        Issue.record("not reached within \(seconds) s: \(what)\n\(statuses.joined(separator: "\n"))")
        throw CancellationError()
    }

    func minHeight(_ c: LocalConsensusCluster, _ nodes: [Int]) async -> UInt64 {
        let h = await c.heights()
        return nodes.compactMap { h[$0] }.min() ?? 0
    }

    /// Every running member has the same block hash at every height they all committed.
    func expectSameChain(_ c: LocalConsensusCluster) async throws {
        let running = c.running
        let common = await minHeight(c, running)
        #expect(common > 0)
        for h in 1...max(common, 1) {
            var hashes = Set<ValueID>()
            for i in running {
                guard let (_, id) = try await c.member(i)?.engine.block(at: h) else {
                    Issue.record("node \(i) has no block \(h)")
                    continue
                }
                hashes.insert(id)
            }
            #expect(hashes.count == 1, "height \(h): \(hashes.count) different blocks")
        }
    }

    @Test("four engines commit blocks with transactions; every node holds every transaction and the same chain")
    func commitsTransactions() async throws {
        try await withCluster { c in
            for n in 0..<40 {
                let m = try #require(c.member(n % 4))
                let result = try await m.engine.submit(bytes("key\(n)=value\(n)"))
                #expect(result.duplicate == false)
            }
            // A malformed transaction is refused at the door.
            await #expect(throws: ConsensusEngine.SubmitError.self) {
                try await c.member(0)?.engine.submit(bytes("nokey"))
            }
            try await eventually("all 40 keys on all 4 nodes") {
                for i in 0..<4 {
                    for n in [0, 13, 39] {
                        guard let r = await c.member(i)?.engine.query(key: bytes("key\(n)")), r.found else {
                            return false
                        }
                    }
                }
                return true
            }
            for i in 0..<4 {
                for n in 0..<40 {
                    let r = await c.member(i)?.engine.query(key: bytes("key\(n)"))
                    #expect(r?.value == bytes("value\(n)"), "node \(i) key\(n)")
                }
                #expect(await c.member(i)?.engine.mempoolCount == 0)
            }
            try await expectSameChain(c)
            // Blocks link up: each names its predecessor's hash and carries its signed commit.
            let top = await minHeight(c, [0, 1, 2, 3])
            for h in 2...top {
                let (block, _) = try #require(try await c.member(1)?.engine.block(at: h))
                let (previous, previousID) = try #require(try await c.member(2)?.engine.block(at: h - 1))
                #expect(block.header.previousBlockHash == previousID.bytes)
                #expect(block.lastCommit?.blockID == previousID)
                #expect(previous.header.height.value == h - 1)
            }
        }
    }

    @Test("kill -9 of one: the others go on; restarted from its WAL and store, it catches up and rejoins")
    func crashAndCatchUp() async throws {
        try await withCluster { c in
            try await eventually("height 3 everywhere") { await minHeight(c, [0, 1, 2, 3]) >= 3 }
            await c.kill(3)
            let atKill = await minHeight(c, [0, 1, 2])
            for n in 0..<10 { _ = try await c.member(n % 3)?.engine.submit(bytes("after\(n)=x")) }
            try await eventually("three nodes go on") { await minHeight(c, [0, 1, 2]) >= atKill + 5 }
            try await c.restart(3)
            let target = await minHeight(c, [0, 1, 2]) + 2
            try await eventually("the restarted node catches up", cluster: c) { await minHeight(c, [3]) >= target }
            // It rejoined: with it back, the chain goes on and it holds the transactions sent
            // while it was down.
            let r = await c.member(3)?.engine.query(key: bytes("after9"))
            #expect(r?.found == true)
            try await expectSameChain(c)
        }
    }

    @Test("two of four killed: no progress and no fork; one returns: progress resumes")
    func quorumLoss() async throws {
        try await withCluster { c in
            try await eventually("height 2 everywhere") { await minHeight(c, [0, 1, 2, 3]) >= 2 }
            await c.kill(2)
            await c.kill(3)
            // A block already in flight may still commit; after that, nothing can.
            try await Task.sleep(for: .milliseconds(500))
            let stalled = await c.heights()
            try await Task.sleep(for: .milliseconds(1500))
            let later = await c.heights()
            #expect(later == stalled, "progress without a quorum: \(stalled) → \(later)")
            try await c.restart(2)
            try await eventually("progress resumes with 3 of 4", cluster: c) {
                await minHeight(c, [0, 1, 2]) >= (stalled.values.max() ?? 0) + 3
            }
            try await expectSameChain(c)
        }
    }
}

@Suite("Consensus engine, hostile peers", .serialized)
struct EngineHostileTests {
    @Test("forged votes and proposals from the wrong proposer are counted and dropped; the chain goes on")
    func forgeries() async throws {
        try await EngineTests().withCluster { c in
            let target = try #require(c.member(0))
            let start = await target.engine.committedHeight
            // Two heights ahead: still accepted (or kept) if the chain moves on meanwhile.
            let next = start.next.next
            let bogus = Value(bytes: bytes("not a block")).id
            // Validator 2's precommit, signed by a key that is not validator 2's.
            let vote = Vote.precommit(next, 0, bogus, from: c.member(1)!.address)
            let forged = SignedVote(
                vote: vote, signature: try ConsensusSignature.sign(vote.signBytes(chainID: c.chainID), key: key(9)))
            target.engine.deliver(.votes([forged]), from: c.member(1)!.address)
            // A proposal naming validator 2 as proposer, signed by validator 3: refused whether or
            // not validator 2 proposes that round.
            let (header, _) = PartSet.split([1, 2, 3])
            let p = Proposal(
                height: next, round: 5, value: Value(bytes: [1, 2, 3]), validRound: .none,
                proposer: c.member(1)!.address)
            let other = try #require(c.member(2))
            let announcement = ProposalAnnouncement.make(
                p, parts: header, chainID: c.chainID,
                signature: try ConsensusSignature.sign(p.signBytes(chainID: c.chainID), key: other.key))
            target.engine.deliver(.proposal(announcement), from: other.address)
            try await EngineTests().eventually("both counted") {
                guard case .object(let s) = await target.engine.status(), case .object(let counters)? = s["counters"]
                else { return false }
                return (counters["invalid_signatures"]?.uint64Value ?? 0) >= 2
            }
            try await EngineTests().eventually("the chain goes on") {
                await target.engine.committedHeight >= Height(start.value + 3)
            }
            try await EngineTests().expectSameChain(c)
        }
    }
}
