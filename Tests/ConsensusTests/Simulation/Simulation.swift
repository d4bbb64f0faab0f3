import Tendermint
import Wire

/// Everything a run is made of, derived from `(validators, seed)` alone: replaying a seed
/// rebuilds the same scenario and the same schedule.
struct SimScenario: CustomStringConvertible {
    let seed: UInt64
    let validators: Int
    let powers: [UInt64]
    /// Indices of the byzantine validators (their power is below 1/3 of the total).
    let byzantine: [Int]
    /// Faults (drops, duplicates, long delays, partitions, crashes) happen in `0..<faultPhaseMs`.
    let faultPhaseMs: UInt64
    let dropPpm: UInt64
    let duplicatePpm: UInt64
    let maxDelayMs: UInt64
    let partitionEpisodes: Int
    let crashEpisodes: Int
    /// How often (ppm) a byzantine validator equivocates instead of sending its honest message.
    let aggressionPpm: UInt64
    /// How often (ppm) an honest node that decides is cut off from everyone at once (Jepsen's
    /// "partition the leader"): the others must then finish the height without its certificate.
    let isolateDeciderPpm: UInt64
    /// After the heal every honest node must decide this many more heights…
    let heightsAfterHeal: Int
    /// …within this much simulated time.
    let livenessBoundMs: UInt64

    static let healedMaxDelayMs: UInt64 = 15
    static let gossipIntervalMs: UInt64 = 300
    static let commitDelayMs: UInt64 = 20
    static let timeouts = TimeoutConfig(
        propose: 150, proposeDelta: 50, prevote: 80, prevoteDelta: 40, precommit: 80, precommitDelta: 40)

    static func make(seed: UInt64, validators n: Int, heightsAfterHeal: Int = 3, faultScale: UInt64 = 1) -> SimScenario
    {
        var rng = SimRandom(seed: seed ^ 0x5CE7_A210)
        let f = (n - 1) / 3
        let byzCount = rng.chance(ppm: 700_000) ? f : rng.int(0...f)
        let byz = Array(rng.shuffled(Array(0..<n)).prefix(byzCount)).sorted()
        var powers = [UInt64](repeating: 1, count: n)
        if rng.chance(ppm: 500_000) {
            let weighted = (0..<n).map { _ in rng.uint(1...4) }
            let total = weighted.reduce(0, +)
            let byzPower = byz.reduce(UInt64(0)) { $0 + weighted[$1] }
            if byzPower * 3 < total { powers = weighted }
        }
        return SimScenario(
            seed: seed, validators: n, powers: powers, byzantine: byz,
            faultPhaseMs: rng.uint(300...2500) * faultScale,
            dropPpm: rng.pick([0, 20_000, 100_000, 300_000]),
            duplicatePpm: rng.pick([0, 20_000, 100_000]),
            maxDelayMs: rng.pick([5, 30, 80, 150]),
            partitionEpisodes: rng.int(0...2) * Int(faultScale),
            crashEpisodes: rng.int(0...3) * Int(faultScale),
            aggressionPpm: rng.pick([600_000, 1_000_000]),
            isolateDeciderPpm: rng.pick([0, 100_000, 400_000]),
            heightsAfterHeal: heightsAfterHeal,
            livenessBoundMs: 60_000, faultScale: faultScale)
    }

    var description: String {
        "n=\(validators) seed=\(seed) powers=\(powers) byzantine=\(byzantine) faults=\(faultPhaseMs)ms "
            + "drop=\(dropPpm)ppm dup=\(duplicatePpm)ppm delay≤\(maxDelayMs)ms partitions=\(partitionEpisodes) "
            + "crashes=\(crashEpisodes) aggression=\(aggressionPpm)ppm isolate-decider=\(isolateDeciderPpm)ppm"
    }

    let faultScale: UInt64

    /// The one line that replays this run (add `SIM_TRACE=1` to print every step).
    var replayCommand: String {
        "SIM_REPLAY=\(validators):\(seed):\(heightsAfterHeal):\(faultScale) swift test --scratch-path .build-bft "
            + "--filter 'ConsensusTests.SimulationTests/replay'"
    }
}

/// What one run did.
struct SimStats {
    var events = 0
    var messagesSent = 0
    var messagesDropped = 0
    var messagesDuplicated = 0
    var partitions = 0
    var crashes = 0
    var midEffectCrashes = 0
    var restarts = 0
    var equivocatingVotes = 0
    var equivocatingProposals = 0
    var evidence = 0
    var decisions = 0
    var maxHeight = 0
    var maxRound: Int64 = 0
    var healToLiveMs: UInt64 = 0
    var simulatedMs: UInt64 = 0

    mutating func add(_ o: SimStats) {
        events += o.events
        messagesSent += o.messagesSent
        messagesDropped += o.messagesDropped
        messagesDuplicated += o.messagesDuplicated
        partitions += o.partitions
        crashes += o.crashes
        midEffectCrashes += o.midEffectCrashes
        restarts += o.restarts
        equivocatingVotes += o.equivocatingVotes
        equivocatingProposals += o.equivocatingProposals
        evidence += o.evidence
        decisions += o.decisions
        maxHeight = max(maxHeight, o.maxHeight)
        maxRound = max(maxRound, o.maxRound)
        healToLiveMs = max(healToLiveMs, o.healToLiveMs)
        simulatedMs += o.simulatedMs
    }
}

private enum NetMessage {
    case proposal(Proposal)
    case vote(Vote)
    /// Block sync: a decided height's proposal and commit certificate.
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
}

private enum SimEvent {
    case start(node: Int)
    case deliver(to: Int, from: Int, NetMessage)
    case timeout(node: Int, incarnation: Int, TimeoutKind, Height, Round)
    case value(node: Int, incarnation: Int, Height, Round)
    case newHeight(node: Int, incarnation: Int)
    case gossip(node: Int, incarnation: Int)
    case crash(node: Int, midEffects: Bool)
    case restart(node: Int)
    case partition
    case healPartition
    case heal
}

private struct DecidedBlock {
    let proposal: Proposal
    let certificate: CommitCertificate
}

private struct SimNode {
    let index: Int
    let address: Address
    let byzantine: Bool
    var driver: Driver?
    var incarnation = 0
    // "Disk": survives crashes.
    var decided: [DecidedBlock] = []
    var wal: [SignedMessage] = []
    // Volatile.
    var proposals: [Proposal] = []
    /// Votes of the current and next height it holds (received or its own), in arrival order,
    /// and the same as a set: what its peers learn through CometBFT-style "has vote" gossip.
    var votes: [Vote] = []
    var voteSet: Set<Vote> = []
    var pendingCrash: Int?
    var lastCatchUp: [UInt64]

    var up: Bool { driver != nil }
    var height: Height { Height(UInt64(decided.count + 1)) }
}

/// N validators in one process over a seeded, faulty network (see `SimulationTests`).
///
/// Honest nodes run a `Driver` each and perform its effects like a real host: timers become
/// events, `persistSigned` appends to the node's simulated disk (its WAL) before the broadcast,
/// `getValue` is answered by a simulated application, `decide` commits and starts the next
/// height after a short delay. A crash loses everything but the disk; a restart rebuilds the
/// driver with `Driver.restore` from the WAL. A node answers a peer that is behind with the
/// proposal and certificate of the heights it lacks (a minimal block sync).
/// Every gossip interval a node sends each peer at its height the proposals and votes (its own
/// and relayed) that the peer does not hold yet, and a lagging peer the heights it lacks.
///
/// Byzantine validators run a driver too, but their broadcasts equivocate: conflicting votes
/// and proposals (sometimes of invalid values) to different halves of their peers.
///
/// Checked on every event: agreement (one value per height among honest deciders), validity
/// (a decided value is valid and was proposed), certificates (> 2/3 of the power), no honest
/// node ever signs two different messages for one (height, round, step) — across restarts —
/// and no evidence names an honest node. After the heal: every honest node decides
/// `heightsAfterHeal` more heights within `livenessBoundMs`.
final class Simulation {
    let scenario: SimScenario
    private(set) var stats = SimStats()
    private(set) var failure: String?
    private let trace: Bool

    private var rng: SimRandom
    private var queue = EventQueue<SimEvent>()
    private var now: UInt64 = 0
    private var nodes: [SimNode] = []
    private var sets: [ValidatorSet] = []
    private var proposedValues = Set<ValueID>()
    private var decisions: [ValueID] = []
    private var signedByHonest: [SignKey: SignedMessage] = [:]
    private var group: [Int]
    private var healed = false
    private var healTime: UInt64 = 0
    private var target = 0
    private var valueCounter = 0

    private struct SignKey: Hashable {
        let node: Int
        let height: Height
        let round: Round
        let step: Step
    }

    init(_ scenario: SimScenario, trace: Bool = false) {
        self.scenario = scenario
        self.trace = trace
        self.rng = SimRandom(seed: scenario.seed)
        let n = scenario.validators
        self.group = Array(repeating: 0, count: n)
        let addresses = (0..<n).map { i in try! Address(bytes: [UInt8](repeating: 0, count: 18) + [0x5e, UInt8(i + 1)])
        }
        sets = [try! ValidatorSet((0..<n).map { Validator(address: addresses[$0], power: scenario.powers[$0]) })]
        nodes = (0..<n).map { i in
            SimNode(
                index: i, address: addresses[i], byzantine: scenario.byzantine.contains(i), driver: nil,
                lastCatchUp: Array(repeating: 0, count: n))
        }
    }

    private var honest: [Int] { nodes.indices.filter { !nodes[$0].byzantine } }

    private func validators(at height: Height) -> ValidatorSet {
        while sets.count < Int(height.value) { sets.append(try! sets[sets.count - 1].next()) }
        return sets[Int(height.value) - 1]
    }

    private func config(_ i: Int) -> DriverConfig {
        DriverConfig(chainID: "sim", address: nodes[i].address, timeouts: SimScenario.timeouts)
    }

    private func fail(_ why: String) {
        if failure == nil { failure = "t=\(now)ms: \(why)" }
    }

    private func log(_ text: @autoclosure () -> String) {
        if trace { print("[\(now)] \(text())") }
    }

    // MARK: Run

    /// Runs to the end (success or the first failure) and returns the failure, if any.
    @discardableResult
    func run(maxEvents: Int = 2_000_000) -> String? {
        let n = scenario.validators
        for i in 0..<n {
            queue.push(.start(node: i), at: rng.uint(0...10))
        }
        for _ in 0..<scenario.partitionEpisodes {
            let start = rng.uint(0...scenario.faultPhaseMs)
            queue.push(.partition, at: start)
            queue.push(.healPartition, at: min(scenario.faultPhaseMs, start + rng.uint(50...800)))
        }
        for _ in 0..<scenario.crashEpisodes {
            let victim = rng.int(0...(n - 1))
            let at = rng.uint(0...scenario.faultPhaseMs)
            queue.push(.crash(node: victim, midEffects: rng.chance(ppm: 400_000)), at: at)
            queue.push(.restart(node: victim), at: min(scenario.faultPhaseMs, at + rng.uint(20...1000)))
        }
        queue.push(.heal, at: scenario.faultPhaseMs)

        while failure == nil, let next = queue.pop() {
            now = next.time
            stats.events += 1
            handle(next.event)
            if healed {
                let lowest = honest.map { nodes[$0].decided.count }.min() ?? 0
                if lowest >= target {
                    stats.healToLiveMs = now - healTime
                    break
                }
                if now > healTime + scenario.livenessBoundMs {
                    fail(
                        "liveness: honest heights \(honest.map { nodes[$0].decided.count }) < \(target) \(scenario.livenessBoundMs) ms after the heal"
                    )
                }
            }
            if stats.events > maxEvents { fail("liveness: more than \(maxEvents) events") }
        }
        if failure == nil, !healed || honest.contains(where: { nodes[$0].decided.count < target }) {
            fail("liveness: the schedule ran dry before every honest node reached height \(target)")
        }
        stats.simulatedMs = now
        stats.maxHeight = nodes.map(\.decided.count).max() ?? 0
        return failure
    }

    private func handle(_ event: SimEvent) {
        switch event {
        case .start(let i):
            nodes[i].driver = Driver(config: config(i), height: 1)
            feed(i, .newHeight(validators(at: 1)))
            queue.push(
                .gossip(node: i, incarnation: nodes[i].incarnation),
                at: now + rng.uint(1...SimScenario.gossipIntervalMs))
        case .deliver(let to, let from, let message):
            deliver(to: to, from: from, message)
        case .timeout(let i, let inc, let kind, let h, let r):
            guard nodes[i].up, nodes[i].incarnation == inc else { return }
            feed(i, .timeout(kind, height: h, round: r))
        case .value(let i, let inc, let h, let r):
            guard nodes[i].up, nodes[i].incarnation == inc else { return }
            valueCounter += 1
            let invalid = nodes[i].byzantine && rng.chance(ppm: 200_000)
            let v = Value(bytes: Array("\(invalid ? "bad" : "ok"):\(i):\(h):\(r):\(valueCounter)".utf8))
            proposedValues.insert(v.id)
            feed(i, .proposeValue(v, height: h, round: r))
        case .newHeight(let i, let inc):
            guard nodes[i].up, nodes[i].incarnation == inc else { return }
            let h = nodes[i].height
            nodes[i].proposals.removeAll { $0.height < h }
            nodes[i].votes.removeAll { $0.height < h }
            nodes[i].voteSet = Set(nodes[i].votes)
            feed(i, .newHeight(validators(at: h)))
        case .gossip(let i, let inc):
            guard nodes[i].up, nodes[i].incarnation == inc else { return }
            gossip(i)
            queue.push(
                .gossip(node: i, incarnation: inc), at: now + SimScenario.gossipIntervalMs + rng.uint(0...100))
        case .crash(let i, let mid):
            guard !healed, nodes[i].up, !nodes[i].byzantine else { return }
            if mid {
                nodes[i].pendingCrash = rng.int(0...3)
            } else {
                crash(i)
            }
        case .restart(let i):
            restart(i)
        case .partition:
            guard !healed else { return }
            stats.partitions += 1
            var g = (0..<scenario.validators).map { _ in Int(rng.below(2)) }
            if !g.contains(0) || !g.contains(1) { g[Int(rng.below(UInt64(g.count)))] ^= 1 }
            group = g
            log("partition \(g)")
        case .healPartition:
            group = Array(repeating: 0, count: scenario.validators)
            log("partition healed")
        case .heal:
            healed = true
            healTime = now
            group = Array(repeating: 0, count: scenario.validators)
            for i in nodes.indices {
                if nodes[i].pendingCrash != nil { crash(i) }
                if !nodes[i].up { restart(i) }
            }
            target = (honest.map { nodes[$0].decided.count }.max() ?? 0) + scenario.heightsAfterHeal
            log("heal: target height \(target)")
        }
    }

    // MARK: Nodes

    private func feed(_ i: Int, _ input: Driver.Input) {
        guard nodes[i].up else { return }
        let effects: [Driver.Effect]
        do {
            effects = try nodes[i].driver!.handle(input)
        } catch {
            fail("node \(i): host error \(error)")
            return
        }
        let limit = nodes[i].pendingCrash.map { min($0, effects.count) } ?? effects.count
        for e in effects[0..<limit] { perform(i, e) }
        if nodes[i].pendingCrash != nil {
            stats.midEffectCrashes += 1
            log("node \(i) crashes after \(limit) of \(effects.count) effects")
            crash(i)
        }
    }

    private func crash(_ i: Int) {
        guard nodes[i].up || nodes[i].pendingCrash != nil else { return }
        stats.crashes += 1
        nodes[i].driver = nil
        nodes[i].incarnation += 1
        nodes[i].proposals = []
        nodes[i].votes = []
        nodes[i].voteSet = []
        nodes[i].pendingCrash = nil
        nodes[i].lastCatchUp = Array(repeating: 0, count: scenario.validators)
        log("node \(i) crashed")
    }

    private func restart(_ i: Int) {
        if nodes[i].pendingCrash != nil { crash(i) }
        guard !nodes[i].up else { return }
        stats.restarts += 1
        let h = nodes[i].height
        let records = nodes[i].wal.filter { $0.height == h }
        let (driver, effects) = Driver.restore(
            config: config(i), height: h, validators: validators(at: h), signed: records)
        nodes[i].driver = driver
        nodes[i].incarnation += 1
        log("node \(i) restarted at h=\(h) from \(records.count) records")
        for e in effects { perform(i, e) }
        queue.push(
            .gossip(node: i, incarnation: nodes[i].incarnation), at: now + rng.uint(1...SimScenario.gossipIntervalMs))
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
            log("node \(i) signs \(m) [\(nodes[i].driver.map { $0.roundState.description } ?? "")]")
            nodes[i].wal.append(m)
            if !nodes[i].byzantine {
                let key = SignKey(node: i, height: m.height, round: m.round, step: m.step)
                if let earlier = signedByHonest[key], earlier != m {
                    fail("honest node \(i) signed \(earlier) and then \(m)")
                }
                signedByHonest[key] = m
            }
        case .broadcastProposal(let p):
            if nodes[i].byzantine, rng.chance(ppm: scenario.aggressionPpm) {
                equivocate(i, p)
            } else {
                broadcast(from: i, .proposal(p))
            }
            if !nodes[i].proposals.contains(p) { nodes[i].proposals.append(p) }
        case .broadcastVote(let v):
            hold(i, v)
            if nodes[i].byzantine, rng.chance(ppm: scenario.aggressionPpm) {
                equivocate(i, v)
            } else {
                broadcast(from: i, .vote(v))
            }
        case .decide(let h, let r, let value, let certificate):
            decide(i, h, r, value, certificate)
        case .evidence(let e):
            stats.evidence += 1
            if let culprit = nodes.first(where: { $0.address == e.culprit }), !culprit.byzantine {
                fail("node \(i) holds evidence against honest node \(culprit.index): \(e)")
            }
        }
    }

    private func decide(_ i: Int, _ h: Height, _ r: Round, _ value: Value, _ certificate: CommitCertificate) {
        log("node \(i) decides h=\(h) r=\(r) \(value.id)")
        guard h == nodes[i].height else { return fail("node \(i) decided h=\(h) at height \(nodes[i].height)") }
        do {
            try certificate.verify(against: validators(at: h))
        } catch {
            return fail("node \(i): bad certificate for h=\(h): \(error)")
        }
        guard let proposal = nodes[i].proposals.first(where: { $0.round == r && $0.value.id == value.id }) else {
            return fail("node \(i) decided h=\(h) without holding the proposal")
        }
        nodes[i].decided.append(DecidedBlock(proposal: proposal, certificate: certificate))
        nodes[i].wal = []
        queue.push(.newHeight(node: i, incarnation: nodes[i].incarnation), at: now + SimScenario.commitDelayMs)
        guard !nodes[i].byzantine else { return }
        stats.decisions += 1
        if !healed, rng.chance(ppm: scenario.isolateDeciderPpm) {
            stats.partitions += 1
            group = (0..<scenario.validators).map { $0 == i ? 1 : 0 }
            queue.push(.healPartition, at: min(scenario.faultPhaseMs, now + rng.uint(100...1000)))
            log("node \(i) isolated after deciding")
        }
        // Validity: valid and proposed.
        if !isValid(value) || !proposedValues.contains(value.id) {
            fail("validity: node \(i) decided \(value) at h=\(h), which is invalid or was never proposed")
        }
        // Agreement.
        let index = Int(h.value) - 1
        if index < decisions.count {
            if decisions[index] != value.id {
                fail("SAFETY: node \(i) decided \(value.id) at h=\(h), another honest node decided \(decisions[index])")
            }
        } else if index == decisions.count {
            decisions.append(value.id)
        } else {
            fail("node \(i) decided h=\(h) before anyone decided h=\(decisions.count + 1)")
        }
    }

    // MARK: Network

    private func isValid(_ v: Value) -> Bool { v.bytes.starts(with: Array("ok:".utf8)) }

    private func deliver(to i: Int, from: Int, _ message: NetMessage) {
        guard nodes[i].up else { return }
        let h = message.height
        if h < nodes[i].height { catchUp(from: i, to: from, height: h) }
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

    /// Proposals of the current and next height are held for relaying and block sync (the driver
    /// buffers next-height ones too).
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
        if !healed {
            let drop = message.isPrecommit ? min(2 * scenario.dropPpm, 600_000) : scenario.dropPpm
            if group[from] != group[to] || rng.chance(ppm: drop) {
                stats.messagesDropped += 1
                return
            }
            queue.push(.deliver(to: to, from: from, message), at: now + rng.uint(1...scenario.maxDelayMs))
            if rng.chance(ppm: scenario.duplicatePpm) {
                stats.messagesDuplicated += 1
                queue.push(.deliver(to: to, from: from, message), at: now + rng.uint(1...scenario.maxDelayMs))
            }
        } else {
            queue.push(.deliver(to: to, from: from, message), at: now + rng.uint(1...SimScenario.healedMaxDelayMs))
        }
    }

    private func broadcast(from i: Int, _ message: NetMessage) {
        for j in nodes.indices where j != i { send(from: i, to: j, message) }
    }

    /// Every gossip interval: own messages of the current height, and the proposals held.
    private func gossip(_ i: Int) {
        let h = nodes[i].height
        for j in nodes.indices where j != i && nodes[j].up {
            if nodes[j].height < h {
                catchUp(from: i, to: j, height: nodes[j].height)
                continue
            }
            guard nodes[j].height == h else { continue }
            // Like CometBFT's reactor, which knows its peers' round state and vote bit arrays:
            // send what the peer lacks, relayed messages included (the gossip property the
            // paper's liveness argument assumes).
            for p in nodes[i].proposals where p.height == h && !nodes[j].proposals.contains(p) {
                send(from: i, to: j, .proposal(p))
            }
            for v in nodes[i].votes where v.height == h && !nodes[j].voteSet.contains(v) {
                send(from: i, to: j, .vote(v))
            }
        }
    }

    /// A peer sent a message of a height we decided: send it that height's (and the next one's)
    /// proposal and certificate, at most every 100 ms per peer.
    private func catchUp(from i: Int, to peer: Int, height: Height) {
        guard now >= nodes[i].lastCatchUp[peer] + 100 || nodes[i].lastCatchUp[peer] == 0 else { return }
        nodes[i].lastCatchUp[peer] = now
        let first = Int(height.value)
        for hh in first...min(first + 1, nodes[i].decided.count) {
            let block = nodes[i].decided[hh - 1]
            send(from: i, to: peer, .decided(block.proposal, block.certificate))
        }
    }

    // MARK: Byzantine behaviour

    /// Conflicting votes to two halves of the peers.
    private func equivocate(_ i: Int, _ v: Vote) {
        stats.equivocatingVotes += 1
        let other: ValueID? =
            if let known = nodes[i].proposals.first(where: { $0.height == v.height && $0.value.id != v.valueID }) {
                known.value.id
            } else if v.valueID != nil {
                nil
            } else {
                Value(bytes: Array("ok:forged:\(i):\(v.round)".utf8)).id
            }
        let twin = Vote(type: v.type, height: v.height, round: v.round, valueID: other, validator: v.validator)
        let peers = rng.shuffled(nodes.indices.filter { $0 != i })
        // The fully aggressive adversary always plays the strongest known attack on locking:
        // prevote every value of the round to everyone, precommit the value to one peer only.
        let aggressive = scenario.aggressionPpm >= 1_000_000
        if aggressive && v.type == .prevote || !aggressive && rng.chance(ppm: 300_000) {
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
                send(
                    from: i, to: j,
                    .vote(
                        k == 0
                            ? v
                            : Vote(type: v.type, height: v.height, round: v.round, valueID: nil, validator: v.validator)
                    ))
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

    /// Two proposals for one round, to two halves of the peers: the second one a fresh value
    /// without a polka round (sometimes invalid), which only a node that ignores its lock would
    /// prevote; sometimes the fresh one goes to everyone instead.
    private func equivocate(_ i: Int, _ p: Proposal) {
        stats.equivocatingProposals += 1
        valueCounter += 1
        let prefix = rng.chance(ppm: 200_000) ? "bad" : "ok"
        let forged = Value(bytes: Array("\(prefix):twin:\(i):\(p.height):\(p.round):\(valueCounter)".utf8))
        proposedValues.insert(forged.id)
        let twin = Proposal(height: p.height, round: p.round, value: forged, validRound: .none, proposer: p.proposer)
        let everyone = rng.chance(ppm: 300_000)
        for (k, j) in rng.shuffled(nodes.indices.filter { $0 != i }).enumerated() {
            send(from: i, to: j, .proposal(everyone || k % 2 == 1 ? twin : p))
        }
    }
}
