import ConsensusManagerCore
import Tendermint
import Testing
import Wire

@Suite("Mempool and the key-value application")
struct MempoolAppTests {
    let app = KeyValueApp()

    @Test("admission: caps on size, count and bytes, dedup by hash, checkTx")
    func admission() {
        var pool = Mempool(limits: .init(maxCount: 3, maxBytes: 20, maxTxBytes: 10, cacheSize: 100))
        let check = app.checkTx
        #expect(pool.add(bytes("a=1"), check: check) == .added(TxHash(of: bytes("a=1"))))
        #expect(pool.add(bytes("a=1"), check: check) == .duplicate(TxHash(of: bytes("a=1"))))
        #expect(pool.add(bytes("noequals"), check: check) == .rejected(TxHash(of: bytes("noequals")), "not key=value"))
        // A refused transaction is remembered: sending it again is a duplicate, not another check.
        #expect(pool.add(bytes("noequals"), check: check) == .duplicate(TxHash(of: bytes("noequals"))))
        #expect(pool.add(bytes("=1"), check: check) == .rejected(TxHash(of: bytes("=1")), "empty key"))
        #expect(pool.add(bytes("k=0123456789"), check: check) == .tooLarge(12))
        #expect(pool.add([], check: check) == .tooLarge(0))
        #expect(pool.add(bytes("bb=22222"), check: check) == .added(TxHash(of: bytes("bb=22222"))))
        // 3 + 8 bytes pooled: 10 more would pass 20.
        #expect(pool.add(bytes("cc=3333333"), check: check) == .full)
        #expect(pool.add(bytes("c=3"), check: check) == .added(TxHash(of: bytes("c=3"))))
        #expect(pool.add(bytes("d=4"), check: check) == .full)
        #expect(pool.count == 3)
        #expect(pool.bytes == 14)
        #expect(pool.counters.full == 2)
    }

    @Test("reap keeps arrival order and its caps; update removes committed txs and rechecks the rest")
    func reapAndUpdate() {
        var pool = Mempool()
        let txs = (0..<10).map { bytes("k\($0)=v") }
        for tx in txs { _ = pool.add(tx, check: app.checkTx) }
        #expect(pool.reap(maxBytes: 1000) == txs)
        #expect(pool.reap(maxBytes: 1000, maxCount: 3) == Array(txs.prefix(3)))
        #expect(pool.reap(maxBytes: 16) == Array(txs.prefix(4)))
        // Block with txs 0, 2; the recheck now refuses k5.
        let evicted = pool.update(committed: [txs[0], txs[2]]) { tx in tx == txs[5] ? .reject("stale") : .accept }
        #expect(evicted == [TxHash(of: txs[5])])
        #expect(pool.reap(maxBytes: 1000) == [txs[1], txs[3], txs[4], txs[6], txs[7], txs[8], txs[9]])
        #expect(pool.count == 7)
        #expect(pool.bytes == 7 * 4)
        // Committed transactions are duplicates from now on (gossip brings them back late).
        #expect(pool.add(txs[0], check: app.checkTx) == .duplicate(TxHash(of: txs[0])))
    }

    @Test("the recent-hash cache is bounded: the oldest hash is forgotten first")
    func cacheBound() {
        var pool = Mempool(limits: .init(cacheSize: 2))
        let txs = (0..<3).map { bytes("k\($0)=v") }
        for tx in txs { _ = pool.add(tx, check: app.checkTx) }
        pool.update(committed: txs) { _ in .accept }
        #expect(pool.add(txs[0], check: app.checkTx) == .added(TxHash(of: txs[0])))
        #expect(pool.add(txs[2], check: app.checkTx) == .duplicate(TxHash(of: txs[2])))
    }

    @Test("key-value transactions: the table of well-formed and malformed ones")
    func parsing() {
        let rows: [(String, TxVerdict)] = [
            ("a=1", .accept), ("a=", .accept), ("a==b", .accept), ("ключ=значение", .accept),
            ("=1", .reject("empty key")), ("abc", .reject("not key=value")), ("", .reject("not key=value")),
            (String(repeating: "k", count: 257) + "=v", .reject("key of 257 bytes exceeds 256")),
        ]
        for (tx, verdict) in rows { #expect(app.checkTx(bytes(tx)) == verdict, "\(tx)") }
        #expect(app.checkTx([0xff, 0x3d, 0x31]) == .reject("not UTF-8"))
    }

    @Test("the app hash is deterministic: same blocks, same hash; another order, another hash")
    func determinism() {
        let (tips, blocks) = buildChain(3)
        var a = KeyValueApp()
        var b = KeyValueApp()
        for (block, _) in blocks {
            #expect(a.appHash == block.header.appHash)
            _ = a.finalizeBlock(block)
            _ = b.finalizeBlock(block)
            #expect(a.commit() == b.commit())
        }
        #expect(a.appHash == tips[3].appHash)
        #expect(a.height == 3)
        #expect(a.query(path: "key", data: bytes("k2-1")) == QueryResult(found: true, value: bytes("v1"), height: 3))
        #expect(a.query(path: "key", data: bytes("nope")).found == false)
        var c = KeyValueApp()
        for (block, _) in blocks.reversed() {
            _ = c.finalizeBlock(block)
            _ = c.commit()
        }
        #expect(c.appHash != a.appHash)
        // A later write wins.
        var d = KeyValueApp()
        let tip = ChainTip.genesis(chainID: chainID, validators: fourSet, appHash: d.appHash)
        _ = d.finalizeBlock(
            tip.makeBlock(round: 0, proposer: address(1), timeMs: 0, txs: [bytes("x=1"), bytes("x=2")]))
        _ = d.commit()
        #expect(d.query(path: "key", data: bytes("x")).value == bytes("2"))
    }

    @Test("prepareProposal keeps the byte cap and drops malformed candidates; processProposal refuses them")
    func proposalHooks() {
        let candidates = [bytes("a=1"), bytes("bad"), bytes("b=22"), bytes("c=333")]
        #expect(app.prepareProposal(height: 1, candidates: candidates, maxBytes: 7) == [bytes("a=1"), bytes("b=22")])
        let tip = ChainTip.genesis(chainID: chainID, validators: fourSet, appHash: app.appHash)
        #expect(app.processProposal(tip.makeBlock(round: 0, proposer: address(1), timeMs: 0, txs: [bytes("a=1")])))
        #expect(!app.processProposal(tip.makeBlock(round: 0, proposer: address(1), timeMs: 0, txs: [bytes("bad")])))
    }
}
