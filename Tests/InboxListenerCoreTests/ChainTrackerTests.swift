import EVM
import Testing
import Wire

@testable import InboxListenerCore

/// Actions in a form a table can spell out.
private func summary(_ actions: [ChainTracker.Action]) -> [String] {
    actions.map { a in
        switch a {
        case .fetchBlocks(let r): "fetchBlocks \(r.lowerBound)...\(r.upperBound)"
        case .fetchLogs(let r): "fetchLogs \(r.lowerBound)...\(r.upperBound)"
        case .forward(let rs): "forward " + rs.map(\.tag).joined(separator: ",")
        case .persist: "persist"
        case .reorgDetected(let r):
            "reorg fork \(r.forkPoint) depth \(r.depth) orphaned [\(r.orphaned.map(\.tag).joined(separator: ","))]"
                + (r.orphanedAfterForwarding.isEmpty ? "" : " after forwarding \(r.orphanedAfterForwarding.count)")
        case .reorgBeyondWindow(let s, let o): "beyond window suspect \(s) oldest \(o)"
        case .rejected(let rs): "rejected \(rs.count)"
        }
    }
}

private func head(_ b: BlockRef) -> ChainTracker.Input {
    .head(number: b.number, hash: b.hash, parentHash: b.parentHash)
}

private func req(_ tag: String, _ confirmations: UInt64 = 0) -> UserRequest {
    UserRequest(tag: tag, confirmations: confirmations)
}

private func tags(_ rs: [InboxRequest]) -> [String] { rs.map(\.tag) }

@Suite("ChainTracker: confirmations, reorgs, exactly-once, restart, backpressure")
struct ChainTrackerTests {
    @Test("step by step: scan, reorg by parent hash, fork search, rescan (exact actions)")
    func exactActions() {
        var chain = SimChain()
        chain.mine()
        chain.mine()
        chain.mine([req("x", 2)])
        var t = ChainTracker(config: config(window: 8, perFetch: 4))
        let rows: [(ChainTracker.Input, [String])] = [
            (head(chain.block(3).ref), ["fetchBlocks 1...3"]),
            (.blocks(chain.headers(1...3)), ["persist", "fetchLogs 1...3"]),
            (.logs(1...3, chain.logs(1...3)), ["persist"]),
        ]
        for (i, (input, expected)) in rows.enumerated() {
            #expect(summary(t.handle(input)) == expected, "row \(i)")
        }
        #expect(t.status.awaitingConfirmations == 1)
        #expect(t.status.cursor == 3)

        chain.orphan(depth: 1)
        chain.mine()
        chain.mine()
        let rows2: [(ChainTracker.Input, [String])] = [
            // 4's parent is not our 3: search from 3 down (the window starts at 0, the first
            // scanned block's parent).
            (head(chain.block(4).ref), ["fetchBlocks 0...3"]),
            (.blocks(chain.headers(0...3)), ["reorg fork 2 depth 1 orphaned [x]", "persist", "fetchBlocks 3...4"]),
            (.blocks(chain.headers(3...4)), ["persist", "fetchLogs 3...4"]),
            (.logs(3...4, chain.logs(3...4)), ["persist"]),
        ]
        for (i, (input, expected)) in rows2.enumerated() {
            #expect(summary(t.handle(input)) == expected, "row \(i)")
        }
        #expect(t.status.awaitingConfirmations == 0)
        #expect(t.status.verifiedTip == 4)
        #expect(t.counters.reorgs == 1)
        #expect(t.counters.orphanedRequests == 1)
    }

    @Test("each request waits for its own confirmation count, several counts in one block")
    func ownConfirmations() {
        var h = Harness(config())
        h.chain.mine()
        h.chain.mine([req("c0", 0), req("c2", 2), req("c5", 5), req("c1", 1)])
        // (blocks mined before the poll, tags newly forwarded by it)
        let rows: [(Int, [String])] = [(0, ["c0"]), (1, ["c1"]), (1, ["c2"]), (2, []), (1, ["c5"]), (3, [])]
        for (i, (mine, expected)) in rows.enumerated() {
            h.chain.mine(count: mine)
            let before = h.forwards.count
            h.poll()
            #expect(tags(Array(h.forwards[before...])) == expected, "row \(i), tip \(h.chain.tip)")
            h.acknowledge()
        }
        #expect(h.tracker.counters.forwarded == 4)
        #expect(h.tracker.status.seen == 4)
    }

    @Test("the wait is raised to minConfirmations and capped at maxConfirmations")
    func floorAndCap() {
        var h = Harness(config(minConfirmations: 2, maxConfirmations: 3))
        h.chain.mine([req("asks0", 0), req("asks1000", 1000)])
        let rows: [(Int, [String])] = [(0, []), (1, []), (1, ["asks0"]), (1, ["asks1000"])]
        for (i, (mine, expected)) in rows.enumerated() {
            h.chain.mine(count: mine)
            let before = h.forwards.count
            h.poll()
            #expect(tags(Array(h.forwards[before...])) == expected, "row \(i)")
            h.acknowledge()
        }
    }

    @Test("a reorg orphans a pending request: dropped, reported, never forwarded")
    func reorgOrphansPending() {
        var h = Harness(config())
        h.chain.mine(count: 2)
        h.chain.mine([req("x", 3), req("y", 0)])
        h.chain.mine()
        h.poll()
        h.acknowledge()
        #expect(tags(h.forwards) == ["y"])
        #expect(h.tracker.status.awaitingConfirmations == 1)

        h.chain.orphan(depth: 2)  // blocks 3 and 4
        h.chain.mine(count: 3)
        h.poll()
        #expect(h.reorgs.count == 1)
        #expect(h.reorgs.first?.forkPoint == 2)
        #expect(h.reorgs.first?.depth == 2)
        #expect(tags(h.reorgs.first?.orphaned ?? []) == ["x"])
        #expect(h.reorgs.first?.orphanedAfterForwarding.count == 1, "y (c = 0) was forwarded: reported")

        h.chain.mine(count: 10)
        h.poll()
        h.acknowledge()
        #expect(tags(h.forwards) == ["y"], "x never forwarded")
        #expect(h.tracker.status.awaitingConfirmations == 0)
    }

    @Test("a reorg below the window halts the tracker with .reorgBeyondWindow")
    func reorgBeyondWindow() {
        var h = Harness(config(window: 4, perFetch: 2))
        h.chain.mine(count: 10)
        h.poll()
        #expect(h.tracker.status.verifiedTip == 10)
        h.chain.orphan(depth: 6)  // fork point 4; the window holds 7...10
        h.chain.mine([req("new", 0)])
        h.chain.mine(count: 6)
        h.poll()
        #expect(h.halts == [.reorgBeyondWindow(suspect: 8, oldestKnown: 7)])
        #expect(h.tracker.phase == .halted(suspect: 8, oldestKnown: 7))
        #expect(h.reorgs.isEmpty)
        // Halted: it asks for nothing and forwards nothing.
        h.chain.mine(count: 3)
        #expect(h.feed(h.chain.headInput) == nil)
        #expect(h.forwards.isEmpty)
    }

    @Test("a pending request re-appearing in the replacement block is forwarded once, from the new block")
    func reappearsWhilePending() {
        var h = Harness(config())
        h.chain.mine(count: 2)
        h.chain.mine([req("x", 2)])
        h.poll()
        let orphaned = h.chain.orphan(depth: 1)
        h.chain.mine(orphaned)  // same transaction, same counter: same id, new block hash
        h.poll()
        #expect(tags(h.reorgs.first?.orphaned ?? []) == ["x"])
        h.chain.mine(count: 5)
        h.poll()
        h.acknowledge()
        h.chain.mine(count: 5)
        h.poll()
        #expect(tags(h.forwards) == ["x"])
        #expect(h.forwards.first?.origin.blockHash == h.chain.block(3).ref.hash)
        #expect(h.acknowledged.count == 1)
    }

    @Test("a request acknowledged, then re-included by a reorg, is not forwarded again")
    func reappearsAfterAcknowledgement() {
        var h = Harness(config())
        h.chain.mine(count: 2)
        h.chain.mine([req("x", 0)])
        h.poll()
        h.acknowledge()
        #expect(h.acknowledged.count == 1)
        let orphaned = h.chain.orphan(depth: 1)
        h.chain.mine()
        h.chain.mine(orphaned)  // now in block 4
        h.chain.mine(count: 3)
        h.poll()
        h.acknowledge()
        #expect(h.reorgs.first?.orphanedAfterForwarding == [InboxRequest.requestID(chainID: chainID, counter: 1)])
        #expect(h.reorgs.first?.orphaned == [])
        #expect(tags(h.forwards) == ["x"])
        #expect(h.tracker.counters.alreadyKnown == 1)
    }

    @Test("restart from persisted state mid-stream: nothing lost, nothing acknowledged twice")
    func restartMidStream() {
        var h = Harness(config(maxInFlight: 3))
        var n = 0
        for block in 1...30 {
            h.chain.mine(
                (0..<(block % 3)).map { _ in
                    n += 1
                    return req("r\(n)", UInt64(n % 4))
                })
            h.poll()
            h.acknowledge(1)
            if block % 7 == 0 {
                // kill -9: in-flight forwards are lost; the state comes back through its bytes.
                h.restart()
            }
        }
        h.chain.mine(count: 5)
        for _ in 0..<20 {
            h.poll()
            h.acknowledge()
        }
        let expected = Set(h.chain.canonicalRequests.map(\.id))
        #expect(expected.count == n)
        #expect(Set(h.acknowledged.keys) == expected)
        #expect(h.forwards.count > n, "in-flight forwards lost at restarts were sent again")
    }

    @Test("backpressure: at most maxInFlight in flight; no fetching ahead while the queue is full")
    func backpressure() {
        var h = Harness(config(perFetch: 4, maxInFlight: 2, maxQueued: 3))
        h.chain.mine((1...5).map { req("a\($0)") })
        for i in 2...6 { h.chain.mine([req("b\(i)")]) }
        h.poll()
        // Blocks 1...4 read: 8 requests confirmed, 2 sent, no fetch of 5...6.
        #expect(h.tracker.status.verifiedTip == 4)
        #expect(h.tracker.status.queued == 8)
        #expect(h.tracker.status.backpressured)
        #expect(h.network.count == 2)
        #expect(!h.lastActions.contains { if case .fetchBlocks = $0 { true } else { false } })
        // Polling again changes nothing while the queue is full.
        h.poll()
        #expect(h.tracker.status.verifiedTip == 4)
        #expect(h.network.count == 2)

        var maxInFlight = 0
        while !h.network.isEmpty {
            h.acknowledge(1)
            maxInFlight = max(maxInFlight, h.network.count)
            if h.network.isEmpty { h.poll() }
        }
        #expect(maxInFlight <= 2)
        #expect(h.acknowledged.count == 10)
        #expect(h.tracker.status.verifiedTip == 6)
        #expect(!h.tracker.status.backpressured)
    }

    @Test("a failed link: in-flight forwards go again after the next head, not before")
    func forwardFailed() {
        var h = Harness(config())
        h.chain.mine([req("x"), req("y")])
        h.poll()
        #expect(tags(h.forwards) == ["x", "y"])
        h.failLink()
        #expect(summary(h.lastActions).isEmpty)
        h.poll()
        #expect(tags(h.forwards) == ["x", "y", "x", "y"])
        h.acknowledge()
        h.poll()
        #expect(h.acknowledged.count == 2)
        #expect(h.forwards.count == 4)
    }

    @Test("a late acknowledgement after a failed link still counts; a duplicate is ignored")
    func lateAck() {
        var h = Harness(config())
        h.chain.mine([req("x")])
        h.poll()
        let id = h.forwards[0].id
        h.failLink()
        #expect(summary(h.tracker.handle(.forwarded(id))) == ["persist"])
        #expect(h.tracker.handle(.forwarded(id)).isEmpty)
        #expect(h.tracker.counters.ignoredAcks == 1)
        h.poll()
        #expect(h.forwards.count == 1)
    }

    @Test("answers that match nothing asked for are ignored")
    func staleAnswers() {
        var h = Harness(config())
        h.chain.mine(count: 3)
        h.poll()
        let before = h.tracker.state
        var unlinked = h.chain.headers(2...3)
        unlinked[1].parentHash = hash("elsewhere")
        let rows: [ChainTracker.Input] = [
            .logs(5...6, []),  // not the scan range
            .blocks(h.chain.headers(1...2)),  // not the next headers
            .blocks(unlinked),  // not linked
            .blocks([]),
        ]
        for input in rows {
            #expect(h.tracker.handle(input).isEmpty, "\(input)")
        }
        #expect(h.tracker.state == before)
        #expect(h.tracker.counters.ignoredInputs == 4)
    }

    @Test("a head with another hash at a verified height starts a fork search; our hashes back: a false alarm")
    func falseAlarm() {
        var h = Harness(config())
        h.chain.mine(count: 5)
        h.poll()
        let ours = h.chain.block(5).ref
        #expect(
            summary(h.tracker.handle(.head(number: 5, hash: hash("other"), parentHash: ours.parentHash))) == [
                "fetchBlocks 2...5"
            ])
        #expect(h.tracker.handle(.blocks(h.chain.headers(2...5))).isEmpty)
        #expect(h.tracker.counters.falseAlarms == 1)
        #expect(h.tracker.phase == .following)
        #expect(h.reorgs.isEmpty)
    }

    @Test("logs from another fork than the verified headers: fork search, then the range is read again")
    func logsFromAnotherFork() {
        var h = Harness(config())
        h.chain.mine(count: 2)
        h.chain.mine([req("old", 0)])
        // Headers of the old chain are verified, then the node switches before the logs are read.
        var switched = false
        h.poll { fetch, chain in
            if !switched, case .fetchLogs = fetch {
                switched = true
                chain.orphan(depth: 1)
                chain.mine([req("new", 0)])
            }
        }
        h.poll()
        #expect(h.reorgs.count == 1)
        #expect(tags(h.forwards) == ["new"])
    }

    @Test("malformed logs in a scan are reported with reasons; the good ones are kept")
    func rejectedInScan() {
        var h = Harness(config())
        h.chain.mine([req("good")])
        h.chain.mine()
        var bad = h.chain.logs(1...1)[0]
        bad.logIndex = 9
        h.feed(h.chain.headInput)
        h.feed(.blocks(h.chain.headers(1...2)))
        h.feed(.logs(1...2, h.chain.logs(1...2) + [bad]))
        #expect(h.rejected.map(\.reason) == [.duplicateID(InboxRequest.requestID(chainID: chainID, counter: 1))])
        #expect(tags(h.forwards) == ["good"])

        var h2 = Harness(config())
        h2.chain.mine([req("good")])
        var foreign = h2.chain.logs(1...1)[0]
        foreign.address = alice
        h2.feed(h2.chain.headInput)
        h2.feed(.blocks(h2.chain.headers(1...1)))
        h2.feed(.logs(1...1, [foreign, h2.chain.logs(1...1)[0]]))
        #expect(h2.rejected.map(\.reason) == [.wrongContract(alice)])
        #expect(h2.rejected.first?.blockNumber == 1)
        #expect(tags(h2.forwards) == ["good"])
        #expect(h2.tracker.counters.rejectedLogs == 1)
    }

    @Test("configurations that cannot work are refused")
    func invalidConfig() {
        #expect(throws: ChainTrackerConfig.Invalid.window(4)) {
            try ChainTrackerConfig(chainID: 1, inbox: inbox, window: 4, maxBlocksPerFetch: 4)
        }
        #expect(throws: ChainTrackerConfig.Invalid.confirmations(min: 5, max: 4)) {
            try ChainTrackerConfig(chainID: 1, inbox: inbox, minConfirmations: 5, maxConfirmations: 4)
        }
        #expect(throws: ChainTrackerConfig.Invalid.maxQueued(1)) {
            try ChainTrackerConfig(chainID: 1, inbox: inbox, maxInFlight: 2, maxQueued: 1)
        }
        #expect(throws: ChainTracker.RestoreError.otherChain(chainID)) {
            try ChainTracker(
                config: ChainTrackerConfig(chainID: 1, inbox: inbox),
                restoring: ChainTracker(config: config()).state)
        }
    }

    @Test("the persisted state round-trips and has one encoding (seen ids strictly ascending)")
    func persistedStateWire() throws {
        var h = Harness(config())
        h.chain.mine([req("a"), req("b", 3)])
        h.chain.mine([req("c"), req("d")])
        h.poll()
        h.acknowledge(2)
        let s = h.tracker.state
        #expect(s.seen.count == 2 && s.queued.count == 1 && s.pending.count == 1)
        #expect(try ChainTrackerState.decode(s.encoded()) == s)
        var unsorted = s
        unsorted.seen.reverse()
        #expect(throws: WireError.invalidValue("seen ids not strictly ascending")) {
            try ChainTrackerState.decode(unsorted.encoded())
        }
        #expect(throws: WireError.self) { try ChainTrackerState.decode(s.encoded() + [0]) }
    }

    @Test("the node's chain gets shorter during a fork search: the search follows its head")
    func chainShrinksDuringSearch() {
        var h = Harness(config(perFetch: 4))
        h.chain.mine(count: 4)
        h.chain.mine([req("x", 3)])
        h.chain.mine()
        h.poll()
        h.chain.orphan(depth: 3)
        h.chain.mine(count: 4)
        #expect(summary(h.tracker.handle(h.chain.headInput)) == ["fetchBlocks 3...6"])
        h.chain.orphan(depth: 4)
        h.chain.mine()  // the node now ends at 4
        #expect(h.tracker.handle(.blocks(h.chain.headers(3...6))).isEmpty, "a partial answer is ignored")
        #expect(summary(h.tracker.handle(h.chain.headInput)) == ["fetchBlocks 1...4"])
        #expect(
            summary(h.tracker.handle(.blocks(h.chain.headers(1...4))))
                == ["reorg fork 3 depth 3 orphaned [x]", "persist", "fetchBlocks 4...4"])
    }
}
