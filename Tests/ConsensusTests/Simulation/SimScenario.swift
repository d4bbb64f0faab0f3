import Tendermint
import Wire

/// Where an injected crash cuts a node's work.
enum CrashCut: Hashable, CustomStringConvertible {
    /// At once: the node loses its volatile state between two events.
    case now
    /// While it performs the effects of its next input, after `count` of them (so possibly after a
    /// `persistSigned` and before its broadcast, or after a decision and before the commit).
    case afterEffects(Int)
    /// Right after its next `persistSigned` (of `step`, or of any step if nil), before the
    /// broadcast that follows it: the WAL holds a message nobody received.
    case betweenPersistAndSend(Step?)

    var description: String {
        switch self {
        case .now: "now"
        case .afterEffects(let k): "after \(k) effects"
        case .betweenPersistAndSend(let s): "between persist and send of \(s.map { "a \($0)" } ?? "anything")"
        }
    }
}

/// A fault planned before the run (listed in the scenario, so a failure report shows the plan).
enum SimFault: Hashable, CustomStringConvertible {
    /// `side[i]` (0 or 1) is node i's side from `at` until `until`: nothing crosses.
    case partition(at: UInt64, until: UInt64, side: [Int])
    /// Crash `node` at `at` (cut as `cut` says), restart it from its disk at `restartAt`.
    case crash(node: Int, at: UInt64, restartAt: UInt64, cut: CrashCut)

    var description: String {
        switch self {
        case .partition(let a, let u, let s): "partition \(s) \(a)…\(u) ms"
        case .crash(let n, let a, let r, let c): "crash node \(n) at \(a) ms (\(c)), restart at \(r) ms"
        }
    }
}

/// How the byzantine validators misbehave (they run a correct driver and tamper with its output).
enum ByzantineStrategy: Hashable, CustomStringConvertible {
    /// Each broadcast is replaced by an equivocation with probability `ppm`/10⁶: conflicting
    /// votes (to two halves, both to everyone, a value to one peer and nil to the rest) and
    /// conflicting proposals (a fresh value, sometimes invalid, to half of the peers or to all).
    case mixed(aggressionPpm: UInt64)
    /// Every proposal goes out as two valid proposals for the round, one to each half of the
    /// peers; votes are honest.
    case equivocatingProposer

    var description: String {
        switch self {
        case .mixed(let ppm): "mixed equivocation \(ppm) ppm"
        case .equivocatingProposer: "equivocating proposer"
        }
    }
}

/// Sizes of a seeded run: the CI profile is what `swift test` runs; `soak` has three times the
/// faults and five heights after the heal (run it with `VN_SIM_PROFILE=soak`).
enum SimProfile: String, Hashable, Sendable {
    case ci
    case soak

    var faultScale: UInt64 { self == .ci ? 1 : 3 }
    var heightsAfterHeal: Int { self == .ci ? 3 : 5 }
}

/// Everything a run is made of. A seeded scenario is a pure function of `(seed, validators,
/// profile)`; a targeted test builds one by hand. The run itself is a pure function of the
/// scenario: same scenario, same events, same result, in any process.
struct SimScenario: CustomStringConvertible {
    /// Seeds the run's own randomness (network delays, drops, byzantine choices, values).
    var seed: UInt64
    var validators: Int
    var powers: [UInt64]
    /// Indices of the byzantine validators (their power stays below 1/3 of the total).
    var byzantine: [Int] = []
    var strategy = ByzantineStrategy.mixed(aggressionPpm: 1_000_000)
    /// The fault deadline: drops, duplicates, long delays, partitions and crashes only happen
    /// before it; at it every partition heals and every crashed node restarts.
    var faultDeadlineMs: UInt64
    var dropPpm: UInt64 = 0
    var duplicatePpm: UInt64 = 0
    /// Delivery delay before the deadline is uniform in `1…maxDelayMs` (reordering comes from it).
    var maxDelayMs: UInt64 = 15
    var faults: [SimFault] = []
    /// How often (ppm) an honest node that decides before the deadline is cut off from everyone
    /// for a while (Jepsen's "partition the leader"): the others must finish without it.
    var isolateDeciderPpm: UInt64 = 0
    /// After the deadline every honest node must reach the highest honest height plus this many…
    var heightsAfterHeal = 3
    /// …within this much virtual time.
    var livenessBoundMs: UInt64 = 60_000
    /// How to replay this scenario (a seeded profile, or the name of the targeted test).
    var origin: String

    /// Delivery delay after the deadline (a synchronous network).
    static let healedMaxDelayMs: UInt64 = 15
    static let gossipIntervalMs: UInt64 = 300
    /// Time a node spends executing and committing a decided block before the next height.
    static let commitDelayMs: UInt64 = 20
    static let timeouts = TimeoutConfig(
        propose: 150, proposeDelta: 50, prevote: 80, prevoteDelta: 40, precommit: 80, precommitDelta: 40)

    /// The seeded scenario of the CI (and soak) runs.
    static func seeded(_ seed: UInt64, validators n: Int, profile: SimProfile = .ci) -> SimScenario {
        var rng = SimRandom(seed: seed ^ 0x5CE7_A210)
        let scale = profile.faultScale
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
        let deadline = rng.uint(300...2500) * scale
        var faults: [SimFault] = []
        for _ in 0..<(rng.int(0...2) * Int(scale)) {
            let at = rng.uint(0...deadline)
            var side = (0..<n).map { _ in Int(rng.below(2)) }
            if !side.contains(0) || !side.contains(1) { side[rng.int(0...(n - 1))] ^= 1 }
            faults.append(.partition(at: at, until: min(deadline, at + rng.uint(50...800)), side: side))
        }
        let honest = (0..<n).filter { !byz.contains($0) }
        for _ in 0..<(rng.int(0...3) * Int(scale)) {
            let at = rng.uint(0...deadline)
            let cut: CrashCut =
                switch rng.below(4) {
                case 0: .now
                case 1: .afterEffects(rng.int(0...3))
                case 2: .betweenPersistAndSend(nil)
                // Right when it locks (line 40): the lock must come back from its WAL.
                default: .betweenPersistAndSend(.precommit)
                }
            faults.append(
                .crash(
                    node: rng.pick(honest), at: at, restartAt: min(deadline, at + rng.uint(20...1000)), cut: cut))
        }
        return SimScenario(
            seed: seed, validators: n, powers: powers, byzantine: byz,
            strategy: .mixed(aggressionPpm: rng.pick([600_000, 1_000_000])),
            faultDeadlineMs: deadline,
            dropPpm: rng.pick([0, 20_000, 100_000, 300_000]),
            duplicatePpm: rng.pick([0, 20_000, 100_000]),
            maxDelayMs: rng.pick([5, 30, 80, 150]),
            faults: faults,
            isolateDeciderPpm: rng.pick([0, 100_000, 400_000]),
            heightsAfterHeal: profile.heightsAfterHeal,
            origin: "VN_SIM_SEED=\(seed) VN_SIM_VALIDATORS=\(n)" + (profile == .ci ? "" : " VN_SIM_PROFILE=\(profile)"))
    }

    /// The one line that replays this run (add `VN_SIM_TRACE=1` to print every step).
    var replayCommand: String {
        if origin.hasPrefix("VN_SIM_SEED=") {
            return "\(origin) swift test --filter 'ConsensusTests.SimulationTests/replay'"
        }
        return "swift test --filter '\(origin)'"
    }

    var description: String {
        "n=\(validators) seed=\(seed) powers=\(powers) byzantine=\(byzantine) (\(strategy)) "
            + "deadline=\(faultDeadlineMs)ms drop=\(dropPpm)ppm dup=\(duplicatePpm)ppm delay≤\(maxDelayMs)ms "
            + "isolate-decider=\(isolateDeciderPpm)ppm faults=[\(faults.map(\.description).joined(separator: "; "))]"
    }
}

/// What one run did (summed over many runs by `add`).
struct SimStats: Hashable {
    var runs = 0
    var events = 0
    var messagesSent = 0
    var messagesDropped = 0
    var messagesDuplicated = 0
    var partitions = 0
    var crashes = 0
    /// Crashes that hit after a `persistSigned` and before its broadcast.
    var persistSendCuts = 0
    var restarts = 0
    /// Messages a restarted node sent again from its WAL (the same sign bytes: no new signature).
    var resends = 0
    var equivocatingVotes = 0
    var equivocatingProposals = 0
    var evidence = 0
    var decisions = 0
    var maxHeight = 0
    var maxRound: Int64 = 0
    /// Virtual time from the fault deadline until every honest node reached the target.
    var healToLiveMs: UInt64 = 0
    var simulatedMs: UInt64 = 0

    mutating func add(_ o: SimStats) {
        runs += o.runs
        events += o.events
        messagesSent += o.messagesSent
        messagesDropped += o.messagesDropped
        messagesDuplicated += o.messagesDuplicated
        partitions += o.partitions
        crashes += o.crashes
        persistSendCuts += o.persistSendCuts
        restarts += o.restarts
        resends += o.resends
        equivocatingVotes += o.equivocatingVotes
        equivocatingProposals += o.equivocatingProposals
        evidence += o.evidence
        decisions += o.decisions
        maxHeight = max(maxHeight, o.maxHeight)
        maxRound = max(maxRound, o.maxRound)
        healToLiveMs = max(healToLiveMs, o.healToLiveMs)
        simulatedMs += o.simulatedMs
    }

    var summary: String {
        "\(runs) runs, \(events) events, \(messagesSent) messages (\(messagesDropped) dropped, "
            + "\(messagesDuplicated) duplicated), \(partitions) partitions, \(crashes) crashes "
            + "(\(persistSendCuts) between persist and send), \(restarts) restarts, \(resends) re-sends, "
            + "\(equivocatingVotes) equivocating votes, \(equivocatingProposals) equivocating proposals, "
            + "\(evidence) evidence, \(decisions) honest decisions, max height \(maxHeight), max round \(maxRound), "
            + "worst deadline→live \(healToLiveMs) ms, \(simulatedMs / 1000) s simulated"
    }
}

/// A violated property, with all it takes to replay and understand it.
struct SimFailure: Error, CustomStringConvertible {
    let timeMs: UInt64
    let reason: String
    /// Each node's round state at the failure.
    let nodes: [String]
    let scenario: String
    let replay: String
    /// The last events before the failure, oldest first.
    let trace: [String]

    var description: String {
        "SIMULATION FAILURE at t=\(timeMs) ms: \(reason)\n  scenario: \(scenario)\n  replay: \(replay)\n"
            + "  nodes:\n" + nodes.map { "    \($0)\n" }.joined()
            + "  last \(trace.count) events:\n" + trace.map { "    \($0)" }.joined(separator: "\n")
    }
}
