import ConsensusStore
import Tendermint
import Wire

/// What travels between simulated nodes (signatures stay abstract: the core takes verified
/// messages, and a byzantine node may sign anything with its own key).
enum NetMessage: CustomStringConvertible {
    case proposal(Proposal)
    case vote(Vote)
    /// Block sync: a committed height's proposal and commit certificate.
    case decided(Proposal, CommitCertificate)

    var height: Height {
        switch self {
        case .proposal(let p): p.height
        case .vote(let v): v.height
        case .decided(let p, _): p.height
        }
    }

    var isPrecommit: Bool {
        if case .vote(let v) = self { return v.type == .precommit }
        return false
    }

    var description: String {
        switch self {
        case .proposal(let p): p.description
        case .vote(let v): v.description
        case .decided(let p, let c): "block sync \(p) \(c)"
        }
    }
}

private enum SimEvent {
    case start(node: Int)
    case deliver(to: Int, from: Int, NetMessage)
    case timeout(node: Int, incarnation: Int, TimeoutKind, Height, Round)
    case value(node: Int, incarnation: Int, Height, Round)
    /// The host has executed the decided block: commit it and start the next height.
    case commit(node: Int, incarnation: Int)
    case gossip(node: Int, incarnation: Int)
    case crash(node: Int, CrashCut)
    case restart(node: Int)
    case partitionStart(id: Int, side: [Int])
    case partitionEnd(id: Int)
    case deadline
}

private enum TraceEntry {
    case event(SimEvent)
    case effect(node: Int, Driver.Effect)
    case note(String)
}

private struct SimNode {
    let index: Int
    let address: Address
    let byzantine: Bool
    var driver: Driver?
    /// Bumped by every crash and restart: events of an earlier life are ignored.
    var incarnation = 0
    var disk = SimDisk()
    // Volatile: lost in a crash.
    /// Decided, not yet committed (the host is executing it).
    var pendingBlock: SimBlock?
    /// Proposals and votes of the current and next height it holds (received or its own), for
    /// relaying; the set is what peers learn through CometBFT-style "has vote" gossip.
    var proposals: [Proposal] = []
    var votes: [Vote] = []
    var voteSet: Set<Vote> = []
    var pendingCut: CrashCut?
    var lastCatchUp: [UInt64]

    var up: Bool { driver != nil }
    var height: Height { disk.nextHeight }
}

/// N validators in one process over a seeded, faulty network, in virtual time.
///
/// Each node runs a `Driver` and performs its effects like the real host: timers become events,
/// `persistSigned` goes to the node's `SimDisk` (the store's guard decides) before the broadcast,
/// `getValue` is answered by a simulated application, `decide` is executed and committed
/// `commitDelayMs` later, then the next height starts. A crash loses everything but the disk; a
/// restart rebuilds the driver with `Driver.restore` from the disk's replay. Every gossip
/// interval a node sends each peer at its height the proposals and votes (its own and relayed)
/// that the peer lacks, and a lagging peer the committed heights it lacks (block sync).
///
/// Byzantine validators run a driver too, but tamper with their broadcasts (`ByzantineStrategy`).
///
/// Checked on every step: agreement (one value per height among honest deciders, across
/// restarts), validity (a decided value is valid and was proposed), certificates (> 2/3 of the
/// height's power, for the decided value), no honest node signs two different messages for one
/// `(height, round, step)` in the whole run, every honest broadcast is a persisted record the
/// guard permits (the WAL rule), the guard never refuses an honest driver, evidence names only
/// byzantine nodes. After the fault deadline: every honest node commits `heightsAfterHeal` heights
/// beyond the highest honest height within `livenessBoundMs`.
final class Simulation {
    let scenario: SimScenario
    private(set) var stats = SimStats()
    private(set) var failure: SimFailure?
    /// Every honest decision: (virtual time, node, height, value).
    private(set) var decisionLog: [(timeMs: UInt64, node: Int, height: Height, value: ValueID)] = []
    /// Every evidence effect: (node that produced it, evidence).
    private(set) var evidenceLog: [(node: Int, evidence: Evidence)] = []
    private let traceAll: Bool
    private static let traceLength = 40

    private var rng: SimRandom
    private var queue = EventQueue<SimEvent>()
    private var now: UInt64 = 0
    private var nodes: [SimNode] = []
    private var sets: [ValidatorSet] = []
    private var proposedValues = Set<ValueID>()
    private var decisions: [ValueID] = []
    private var signedByHonest: [SignKey: SignedStep] = [:]
    private var side: [Int]
    private var activePartition: Int?
    private var nextPartitionID = 1_000_000
    private var deadlinePassed = false
    private var target = 0
    private var valueCounter = 0
    private var trace: [(UInt64, TraceEntry)] = []

    private struct SignKey: Hashable {
        let node: Int
        let height: Height
        let round: Round
        let step: Step
    }

    init(_ scenario: SimScenario, traceAll: Bool = false) {
        precondition(scenario.powers.count == scenario.validators && scenario.validators <= 250)
        self.scenario = scenario
        self.traceAll = traceAll
        self.rng = SimRandom(seed: scenario.seed)
        let n = scenario.validators
        side = Array(repeating: 0, count: n)
        let addresses = (0..<n).map { i in
            try! Address(bytes: [UInt8](repeating: 0, count: 18) + [0x5e, UInt8(i + 1)])
        }
        sets = [try! ValidatorSet((0..<n).map { Validator(address: addresses[$0], power: scenario.powers[$0]) })]
        nodes = (0..<n).map { i in
            SimNode(
                index: i, address: addresses[i], byzantine: scenario.byzantine.contains(i),
                lastCatchUp: Array(repeating: 0, count: n))
        }
    }

    private var honest: [Int] { nodes.indices.filter { !nodes[$0].byzantine } }

    /// Heights committed by each node (its disk's blocks).
    var committedHeights: [Int] { nodes.map(\.disk.blocks.count) }

    /// The validator set of `height` (CometBFT priorities advance by one election per height).
    func validators(at height: Height) -> ValidatorSet {
        while sets.count < Int(height.value) { sets.append(try! sets[sets.count - 1].next()) }
        return sets[Int(height.value) - 1]
    }

    /// Node index of the validator `address`.
    func node(_ address: Address) -> Int? { nodes.firstIndex { $0.address == address } }

    private func config(_ i: Int) -> DriverConfig {
        DriverConfig(chainID: "sim", address: nodes[i].address, timeouts: SimScenario.timeouts)
    }

    // MARK: Trace and failure

    private func record(_ entry: @autoclosure () -> TraceEntry) {
        let e = entry()
        if traceAll { print("[\(now) ms] \(describe(e))") }
        trace.append((now, e))
        if trace.count >= 4 * Self.traceLength { trace.removeFirst(trace.count - Self.traceLength) }
    }

    private func note(_ text: String) { record(.note(text)) }

    private func fail(_ reason: String) {
        guard failure == nil else { return }
        let states = nodes.map { n in
            "\(n.index)\(n.byzantine ? " (byzantine)" : ""): "
                + (n.driver.map { "\($0.roundState)" } ?? "down") + ", \(n.disk.blocks.count) committed"
        }
        failure = SimFailure(
            timeMs: now, reason: reason, nodes: states, scenario: scenario.description, replay: scenario.replayCommand,
            trace: trace.suffix(Self.traceLength).map { "[\($0.0) ms] \(describe($0.1))" })
    }

    private func describe(_ entry: TraceEntry) -> String {
        switch entry {
        case .note(let text): return text
        case .effect(let i, let e): return "node \(i): \(e)"
        case .event(let e):
            switch e {
            case .start(let i): return "node \(i) starts"
            case .deliver(let to, let from, let m): return "\(from) → \(to): \(m)"
            case .timeout(let i, _, let k, let h, let r): return "node \(i): timeout \(k) h=\(h) r=\(r)"
            case .value(let i, _, let h, let r): return "node \(i): application value for h=\(h) r=\(r)"
            case .commit(let i, _): return "node \(i): commit"
            case .gossip(let i, _): return "node \(i): gossip"
            case .crash(let i, let cut): return "crash node \(i) (\(cut))"
            case .restart(let i): return "restart node \(i)"
            case .partitionStart(let id, let s): return "partition #\(id) \(s)"
            case .partitionEnd(let id): return "partition #\(id) ends"
            case .deadline: return "fault deadline: heal everything, restart every crashed node"
            }
        }
    }

    // MARK: Run

    /// Runs until every honest node reached the target after the deadline, or the first failure.
    @discardableResult
    func run(maxEvents: Int = 2_000_000) -> SimFailure? {
        let n = scenario.validators
        stats.runs = 1
        for i in 0..<n { queue.push(.start(node: i), at: rng.uint(0...10)) }
        for (id, fault) in scenario.faults.enumerated() {
            switch fault {
            case .partition(let at, let until, let s):
                queue.push(.partitionStart(id: id, side: s), at: at)
                queue.push(.partitionEnd(id: id), at: until)
            case .crash(let i, let at, let restartAt, let cut):
                queue.push(.crash(node: i, cut), at: at)
                queue.push(.restart(node: i), at: restartAt)
            }
        }
        queue.push(.deadline, at: scenario.faultDeadlineMs)

        while failure == nil, let next = queue.pop() {
            now = next.time
            stats.events += 1
            if case .gossip = next.event {} else { record(.event(next.event)) }
            handle(next.event)
            if deadlinePassed {
                let heights = honest.map { nodes[$0].disk.blocks.count }
                if heights.min() ?? 0 >= target {
                    stats.healToLiveMs = now - scenario.faultDeadlineMs
                    break
                }
                if now > scenario.faultDeadlineMs + scenario.livenessBoundMs {
                    fail(
                        "LIVENESS: honest heights \(heights), target \(target), "
                            + "\(scenario.livenessBoundMs) ms after the fault deadline")
                }
            }
            if stats.events > maxEvents { fail("LIVENESS: more than \(maxEvents) events") }
        }
        if failure == nil, !deadlinePassed || honest.contains(where: { nodes[$0].disk.blocks.count < target }) {
            fail("LIVENESS: the schedule ran dry before every honest node reached height \(target)")
        }
        stats.simulatedMs = now
        stats.maxHeight = nodes.map(\.disk.blocks.count).max() ?? 0
        return failure
    }

    private func handle(_ event: SimEvent) {
        switch event {
        case .start(let i):
            nodes[i].driver = Driver(config: config(i), height: 1)
            feed(i, .newHeight(validators(at: 1)))
            scheduleGossip(i, at: now + rng.uint(1...SimScenario.gossipIntervalMs))
        case .deliver(let to, let from, let message):
            deliver(to: to, from: from, message)
        case .timeout(let i, let inc, let kind, let h, let r):
            guard nodes[i].up, nodes[i].incarnation == inc else { return }
            feed(i, .timeout(kind, height: h, round: r))
        case .value(let i, let inc, let h, let r):
            guard nodes[i].up, nodes[i].incarnation == inc else { return }
            // Derived from (seed, node, height, round): a restarted proposer asked again for the
            // same round gets the same value; a byzantine one sometimes proposes an invalid one.
            let invalid = nodes[i].byzantine && rng.chance(ppm: 200_000)
            let v = Value(bytes: Array("\(invalid ? "bad" : "ok"):\(scenario.seed):\(i):\(h):\(r)".utf8))
            proposedValues.insert(v.id)
            feed(i, .proposeValue(v, height: h, round: r))
        case .commit(let i, let inc):
            guard nodes[i].up, nodes[i].incarnation == inc, let block = nodes[i].pendingBlock else { return }
            do {
                try nodes[i].disk.commit(block)
            } catch {
                return fail("node \(i): the store refused the commit of h=\(block.certificate.height): \(error)")
            }
            nodes[i].pendingBlock = nil
            let h = nodes[i].height
            nodes[i].proposals.removeAll { $0.height < h }
            nodes[i].votes.removeAll { $0.height < h }
            nodes[i].voteSet = Set(nodes[i].votes)
            feed(i, .newHeight(validators(at: h)))
        case .gossip(let i, let inc):
            guard nodes[i].up, nodes[i].incarnation == inc else { return }
            gossip(i)
            scheduleGossip(i, at: now + SimScenario.gossipIntervalMs + rng.uint(0...100))
        case .crash(let i, let cut):
            guard !deadlinePassed, nodes[i].up, !nodes[i].byzantine else { return }
            if cut == .now { crash(i) } else { nodes[i].pendingCut = cut }
        case .restart(let i):
            restart(i)
        case .partitionStart(let id, let s):
            guard !deadlinePassed else { return }
            stats.partitions += 1
            side = s
            activePartition = id
        case .partitionEnd(let id):
            guard activePartition == id else { return }
            side = Array(repeating: 0, count: scenario.validators)
            activePartition = nil
        case .deadline:
            deadlinePassed = true
            side = Array(repeating: 0, count: scenario.validators)
            activePartition = nil
            for i in nodes.indices {
                if nodes[i].pendingCut != nil { crash(i) }
                if !nodes[i].up { restart(i) }
            }
            target = (honest.map { nodes[$0].disk.blocks.count }.max() ?? 0) + scenario.heightsAfterHeal
            note("target: every honest node at height \(target)")
        }
    }

    private func scheduleGossip(_ i: Int, at time: UInt64) {
        queue.push(.gossip(node: i, incarnation: nodes[i].incarnation), at: time)
    }

    // MARK: Nodes

    /// Feeds one input and performs its effects in order, unless a planned crash cuts them.
    private func feed(_ i: Int, _ input: Driver.Input) {
        guard nodes[i].up else { return }
        let effects: [Driver.Effect]
        do {
            effects = try nodes[i].driver!.handle(input)
        } catch {
            return fail("node \(i): host error \(error)")
        }
        for (k, e) in effects.enumerated() {
            if case .afterEffects(let n)? = nodes[i].pendingCut, k >= n { return crash(i, cutting: effects, at: k) }
            perform(i, e)
            guard failure == nil else { return }
            if case .betweenPersistAndSend(let step)? = nodes[i].pendingCut, case .persistSigned(let m) = e,
                step == nil || step == m.step
            {
                return crash(i, cutting: effects, at: k + 1)
            }
        }
        if case .afterEffects? = nodes[i].pendingCut { crash(i, cutting: effects, at: effects.count) }
    }

    private func crash(_ i: Int, cutting effects: [Driver.Effect], at k: Int) {
        if k > 0, k < effects.count, case .persistSigned = effects[k - 1] { stats.persistSendCuts += 1 }
        note("node \(i) crashes after \(k) of \(effects.count) effects")
        crash(i)
    }

    private func crash(_ i: Int) {
        guard nodes[i].up else { return }
        stats.crashes += 1
        nodes[i].driver = nil
        nodes[i].incarnation += 1
        nodes[i].pendingBlock = nil
        nodes[i].proposals = []
        nodes[i].votes = []
        nodes[i].voteSet = []
        nodes[i].pendingCut = nil
        nodes[i].lastCatchUp = Array(repeating: 0, count: scenario.validators)
        note("node \(i) crashed: disk at block \(nodes[i].disk.blocks.count), \(nodes[i].disk.wal.count) WAL records")
    }

    private func restart(_ i: Int) {
        if nodes[i].pendingCut != nil { crash(i) }
        guard !nodes[i].up else { return }
        stats.restarts += 1
        let (h, records) = nodes[i].disk.replay()
        let (driver, effects) = Driver.restore(
            config: config(i), height: h, validators: validators(at: h), signed: records)
        nodes[i].driver = driver
        nodes[i].incarnation += 1
        // Its own messages of every round of the height are on its disk, and the restored driver
        // counts them again: the host gossips them like any vote it holds (CometBFT's reactor
        // serves votes from the restored vote sets). `restore` re-sends only the last round's;
        // without the earlier ones a peer may wait forever for the 2f + 1 precommits of a round
        // the node left (found by the simulation: seed 5000012 of the soak, a 4-validator chain
        // with powers [3, 3, 4, 2] deadlocked at round 3 / round 4). It may also decide one of
        // its own earlier proposals, and then commits the block from there.
        for record in records {
            switch record {
            case .proposal(let p): hold(i, p)
            case .vote(let v, _): hold(i, v)
            }
        }
        note("node \(i) restarted at h=\(h) from \(records.count) WAL records: \(driver.roundState)")
        for e in effects {
            switch e {
            case .broadcastVote, .broadcastProposal: stats.resends += 1
            default: break
            }
            perform(i, e)
        }
        scheduleGossip(i, at: now + rng.uint(1...SimScenario.gossipIntervalMs))
    }

    /// The run-wide double-sign check, independent of the guard: one signed content per
    /// (node, height, round, step), across every life of the node.
    private func noteSignature(_ i: Int, _ m: SignedMessage) {
        let key = SignKey(node: i, height: m.height, round: m.round, step: m.step)
        let step = SignedStep(m)
        if let earlier = signedByHonest[key], earlier != step {
            return fail("DOUBLE SIGN: honest node \(i) signed \(earlier) and then \(step)")
        }
        signedByHonest[key] = step
    }

    /// The host's side of the WAL rule for a broadcast: the message is a record of the running
    /// height and the guard permits signing it.
    private func checkBroadcast(_ i: Int, _ m: SignedMessage) -> Bool {
        guard !nodes[i].byzantine else { return true }
        guard nodes[i].disk.holds(m) else {
            fail("WAL RULE: honest node \(i) broadcasts \(m), which is not in its WAL")
            return false
        }
        let verdict = nodes[i].disk.verdict(for: m)
        guard verdict.isPermitted else {
            fail("GUARD: honest node \(i) broadcasts \(m): \(verdict)")
            return false
        }
        noteSignature(i, m)
        return failure == nil
    }

    private func perform(_ i: Int, _ effect: Driver.Effect) {
        let inc = nodes[i].incarnation
        switch effect {
        case .getValue(let h, let r):
            queue.push(.value(node: i, incarnation: inc, h, r), at: now + rng.uint(0...5))
        case .scheduleTimeout(let t):
            queue.push(.timeout(node: i, incarnation: inc, t.kind, t.height, t.round), at: now + t.durationMs)
            stats.maxRound = max(stats.maxRound, t.round.value)
        case .persistSigned(let m):
            record(.effect(node: i, effect))
            do {
                try nodes[i].disk.appendSigned(m)
            } catch {
                if !nodes[i].byzantine { fail("GUARD: honest node \(i) asked to persist \(m): \(error)") }
                return
            }
            if !nodes[i].byzantine { noteSignature(i, m) }
        case .broadcastProposal(let p):
            guard checkBroadcast(i, .proposal(p)) else { return }
            if !nodes[i].proposals.contains(p) { nodes[i].proposals.append(p) }
            switch scenario.strategy {
            case .mixed(let ppm) where nodes[i].byzantine && rng.chance(ppm: ppm): equivocate(i, p, toAll: true)
            case .equivocatingProposer where nodes[i].byzantine: equivocate(i, p, toAll: false)
            default: broadcast(from: i, .proposal(p))
            }
        case .broadcastVote(let v):
            guard checkBroadcast(i, .vote(v)) else { return }
            hold(i, v)
            if case .mixed(let ppm) = scenario.strategy, nodes[i].byzantine, rng.chance(ppm: ppm) {
                equivocate(i, v, aggressive: ppm >= 1_000_000)
            } else {
                broadcast(from: i, .vote(v))
            }
        case .decide(let h, let r, let value, let certificate):
            record(.effect(node: i, effect))
            decide(i, h, r, value, certificate)
        case .evidence(let e):
            record(.effect(node: i, effect))
            stats.evidence += 1
            evidenceLog.append((i, e))
            if let culprit = node(e.culprit), !nodes[culprit].byzantine {
                fail("EVIDENCE against honest node \(culprit), produced by node \(i): \(e)")
            }
        }
    }

    private func decide(_ i: Int, _ h: Height, _ r: Round, _ value: Value, _ certificate: CommitCertificate) {
        guard h == nodes[i].height, nodes[i].pendingBlock == nil else {
            return fail("node \(i) decided h=\(h) at height \(nodes[i].height)")
        }
        do {
            try certificate.verify(against: validators(at: h))
        } catch {
            return fail("CERTIFICATE: node \(i) decided h=\(h) with \(certificate): \(error)")
        }
        guard certificate.height == h, certificate.round == r, certificate.valueID == value.id else {
            return fail("CERTIFICATE: node \(i) decided \(value.id) at h=\(h) r=\(r) with \(certificate)")
        }
        guard let proposal = nodes[i].proposals.first(where: { $0.round == r && $0.value.id == value.id }) else {
            return fail("node \(i) decided h=\(h) without holding the proposal")
        }
        nodes[i].pendingBlock = SimBlock(proposal: proposal, certificate: certificate)
        queue.push(.commit(node: i, incarnation: nodes[i].incarnation), at: now + SimScenario.commitDelayMs)
        guard !nodes[i].byzantine else { return }
        stats.decisions += 1
        decisionLog.append((now, i, h, value.id))
        if !isValid(value) || !proposedValues.contains(value.id) {
            return fail("VALIDITY: node \(i) decided \(value) at h=\(h), which is invalid or was never proposed")
        }
        let index = Int(h.value) - 1
        if index < decisions.count {
            if decisions[index] != value.id {
                return fail("SAFETY: node \(i) decided \(value.id) at h=\(h), another honest node \(decisions[index])")
            }
        } else if index == decisions.count {
            decisions.append(value.id)
        } else {
            return fail("node \(i) decided h=\(h) before any honest node decided h=\(decisions.count + 1)")
        }
        if !deadlinePassed, rng.chance(ppm: scenario.isolateDeciderPpm) {
            stats.partitions += 1
            nextPartitionID += 1
            let id = nextPartitionID
            side = (0..<scenario.validators).map { $0 == i ? 1 : 0 }
            activePartition = id
            queue.push(.partitionEnd(id: id), at: min(scenario.faultDeadlineMs, now + rng.uint(100...1000)))
            note("node \(i) isolated after deciding (partition #\(id))")
        }
    }

    // MARK: Network

    private func isValid(_ v: Value) -> Bool { v.bytes.starts(with: Array("ok:".utf8)) }

    private func deliver(to i: Int, from: Int, _ message: NetMessage) {
        // A partition also cuts what was in flight when it began.
        guard nodes[i].up, side[from] == side[i] else { return }
        if message.height < nodes[i].height { catchUp(from: i, to: from, height: message.height) }
        switch message {
        case .proposal(let p):
            hold(i, p)
            feed(i, .proposal(p, valid: isValid(p.value)))
        case .vote(let v):
            hold(i, v)
            feed(i, .vote(v))
        case .decided(let p, let c):
            hold(i, p)
            feed(i, .proposal(p, valid: isValid(p.value)))
            feed(i, .commitCertificate(c))
        }
    }

    /// Votes of the current and next height are held for relaying (the driver buffers the next
    /// height too), within bounds.
    private func hold(_ i: Int, _ v: Vote) {
        guard nodes[i].up, v.height >= nodes[i].height, v.height.value <= nodes[i].height.value + 1,
            nodes[i].votes.count < 4096, nodes[i].voteSet.insert(v).inserted
        else { return }
        nodes[i].votes.append(v)
    }

    private func hold(_ i: Int, _ p: Proposal) {
        guard nodes[i].up, p.height >= nodes[i].height, p.height.value <= nodes[i].height.value + 1,
            nodes[i].proposals.count < 256, !nodes[i].proposals.contains(p)
        else { return }
        nodes[i].proposals.append(p)
    }

    private func send(from: Int, to: Int, _ message: NetMessage) {
        stats.messagesSent += 1
        if deadlinePassed {
            queue.push(.deliver(to: to, from: from, message), at: now + rng.uint(1...SimScenario.healedMaxDelayMs))
            return
        }
        // Precommits are dropped twice as often: lost precommits are what makes nodes decide in
        // different rounds and need block sync.
        let drop = message.isPrecommit ? min(2 * scenario.dropPpm, 600_000) : scenario.dropPpm
        if side[from] != side[to] || rng.chance(ppm: drop) {
            stats.messagesDropped += 1
            return
        }
        queue.push(.deliver(to: to, from: from, message), at: now + rng.uint(1...scenario.maxDelayMs))
        if rng.chance(ppm: scenario.duplicatePpm) {
            stats.messagesDuplicated += 1
            queue.push(.deliver(to: to, from: from, message), at: now + rng.uint(1...scenario.maxDelayMs))
        }
    }

    private func broadcast(from i: Int, _ message: NetMessage) {
        for j in nodes.indices where j != i { send(from: i, to: j, message) }
    }

    /// Every gossip interval: to each peer at our height what it lacks (CometBFT's reactor knows
    /// its peers' round state and vote bit arrays), relayed messages included — the gossip
    /// property the paper's liveness argument assumes; to a lagging peer, block sync.
    private func gossip(_ i: Int) {
        let h = nodes[i].height
        for j in nodes.indices where j != i && nodes[j].up {
            if nodes[j].height < h {
                catchUp(from: i, to: j, height: nodes[j].height)
                continue
            }
            guard nodes[j].height == h else { continue }
            for p in nodes[i].proposals where p.height == h && !nodes[j].proposals.contains(p) {
                send(from: i, to: j, .proposal(p))
            }
            for v in nodes[i].votes where v.height == h && !nodes[j].voteSet.contains(v) {
                send(from: i, to: j, .vote(v))
            }
        }
    }

    /// A peer is behind: send it the proposal and certificate of the committed heights it lacks
    /// (two at most), at most every 100 ms per peer.
    private func catchUp(from i: Int, to peer: Int, height: Height) {
        guard now >= nodes[i].lastCatchUp[peer] + 100 || nodes[i].lastCatchUp[peer] == 0 else { return }
        nodes[i].lastCatchUp[peer] = now
        let first = Int(height.value)
        guard first <= nodes[i].disk.blocks.count else { return }
        for hh in first...min(first + 1, nodes[i].disk.blocks.count) {
            let block = nodes[i].disk.blocks[hh - 1]
            send(from: i, to: peer, .decided(block.proposal, block.certificate))
        }
    }

    // MARK: Byzantine behaviour

    /// Conflicting votes for one (height, round, type), in one of four patterns.
    private func equivocate(_ i: Int, _ v: Vote, aggressive: Bool) {
        stats.equivocatingVotes += 1
        let other: ValueID? =
            if let known = nodes[i].proposals.first(where: { $0.height == v.height && $0.value.id != v.valueID }) {
                known.value.id
            } else if v.valueID != nil {
                nil
            } else {
                Value(bytes: Array("ok:forged:\(scenario.seed):\(i):\(v.round)".utf8)).id
            }
        let twin = Vote(type: v.type, height: v.height, round: v.round, valueID: other, validator: v.validator)
        let peers = rng.shuffled(nodes.indices.filter { $0 != i })
        // The fully aggressive adversary plays the strongest attacks on locking: it prevotes
        // every value of the round to everyone, and precommits either every value to everyone
        // (so that one amnesic or unlocked honest node too many would let a second value reach
        // 2f + 1) or its value to one peer only (which may decide alone while the rest go on).
        let everything = aggressive ? v.type == .prevote || rng.chance(ppm: 500_000) : rng.chance(ppm: 300_000)
        if everything {
            // A vote for every value proposed in this round, to everyone.
            var ids: [ValueID?] = [v.valueID]
            for p in nodes[i].proposals where p.height == v.height && p.round == v.round && !ids.contains(p.value.id) {
                ids.append(p.value.id)
            }
            if ids.count == 1 { ids.append(other) }
            for j in peers {
                for id in ids {
                    send(
                        from: i, to: j,
                        .vote(Vote(type: v.type, height: v.height, round: v.round, valueID: id, validator: v.validator))
                    )
                }
            }
        } else if v.type == .precommit, v.valueID != nil, aggressive || rng.chance(ppm: 500_000) {
            // The precommit for the value to one peer only, nil to the others: that one may
            // decide while the rest move on to the next round, locked.
            for (k, j) in peers.enumerated() {
                let nilVote = Vote(type: v.type, height: v.height, round: v.round, valueID: nil, validator: v.validator)
                send(from: i, to: j, .vote(k == 0 ? v : nilVote))
            }
        } else if rng.chance(ppm: 500_000) {
            // Both votes to everyone: support for two values at once.
            for j in peers {
                send(from: i, to: j, .vote(twin))
                send(from: i, to: j, .vote(v))
            }
        } else {
            // One vote to each half.
            for (k, j) in peers.enumerated() { send(from: i, to: j, .vote(k % 2 == 0 ? v : twin)) }
        }
    }

    /// Two proposals for one round, to two halves of the peers. The second is a fresh value
    /// without a polka round, which only a node that ignores its lock would prevote; with
    /// `toAll`, it is sometimes invalid, and sometimes goes to everyone instead.
    private func equivocate(_ i: Int, _ p: Proposal, toAll: Bool) {
        stats.equivocatingProposals += 1
        valueCounter += 1
        let prefix = toAll && rng.chance(ppm: 200_000) ? "bad" : "ok"
        let forged = Value(
            bytes: Array("\(prefix):twin:\(scenario.seed):\(i):\(p.height):\(p.round):\(valueCounter)".utf8))
        proposedValues.insert(forged.id)
        // Sometimes it claims a polka round for the fresh value (line 28 must then wait for a
        // polka that never came).
        let claimed =
            toAll && p.round.value > 0 && rng.chance(ppm: 300_000) ? Round(rng.int64(0...(p.round.value - 1))) : .none
        let twin = Proposal(height: p.height, round: p.round, value: forged, validRound: claimed, proposer: p.proposer)
        let everyone = toAll && rng.chance(ppm: 300_000)
        for (k, j) in rng.shuffled(nodes.indices.filter { $0 != i }).enumerated() {
            send(from: i, to: j, .proposal(everyone || k % 2 == 1 ? twin : p))
        }
    }
}
