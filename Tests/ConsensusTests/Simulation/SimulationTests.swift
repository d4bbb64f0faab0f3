import Foundation
import Testing

@testable import Tendermint

/// Runs `seeds` of `validators` nodes; returns the failures (each with its replay line) and the
/// summed statistics.
private func runSeeds(
    _ seeds: Range<UInt64>, validators: Int, heightsAfterHeal: Int = 3, faultScale: UInt64 = 1
)
    -> (failures: [String], stats: SimStats)
{
    var failures: [String] = []
    var total = SimStats()
    for seed in seeds {
        let scenario = SimScenario.make(
            seed: seed, validators: validators, heightsAfterHeal: heightsAfterHeal, faultScale: faultScale)
        let sim = Simulation(scenario)
        if let failure = sim.run() {
            failures.append("\(failure)\n    scenario: \(scenario)\n    replay: \(scenario.replayCommand)")
        }
        total.add(sim.stats)
    }
    return (failures, total)
}

private func summary(_ label: String, _ seeds: Range<UInt64>, _ s: SimStats) -> String {
    "sim \(label) seeds \(seeds.lowerBound)..<\(seeds.upperBound): \(s.events) events, \(s.messagesSent) messages "
        + "(\(s.messagesDropped) dropped, \(s.messagesDuplicated) duplicated), \(s.partitions) partitions, "
        + "\(s.crashes) crashes (\(s.midEffectCrashes) between persist and send), \(s.restarts) restarts, "
        + "\(s.equivocatingVotes) equivocating votes, \(s.equivocatingProposals) equivocating proposals, "
        + "\(s.evidence) evidence, \(s.decisions) honest decisions, max height \(s.maxHeight), max round \(s.maxRound), "
        + "worst heal→live \(s.healToLiveMs) ms, \(s.simulatedMs / 1000) s simulated"
}

private func check(_ label: String, _ seeds: Range<UInt64>, validators: Int) {
    let (failures, stats) = runSeeds(seeds, validators: validators)
    print(summary(label, seeds, stats))
    for f in failures {
        print("SIMULATION FAILURE: \(f)")
        Issue.record("\(f)")
    }
}

/// 1,000 seeds in CI: 500 with 4 validators, 500 with 7 (each with up to f byzantine
/// equivocators, drops, duplicates, delays, partitions and crashes before the heal).
@Suite("Deterministic simulation")
struct SimulationTests {
    static let chunkSize: UInt64 = 50
    static let chunks = Array(0..<10)

    @Test("4 validators, 500 seeds", arguments: chunks)
    func fourValidators(chunk: Int) {
        let start = UInt64(chunk) * Self.chunkSize
        check("n=4", start..<(start + Self.chunkSize), validators: 4)
    }

    @Test("7 validators, 500 seeds", arguments: chunks)
    func sevenValidators(chunk: Int) {
        let start = 1_000_000 + UInt64(chunk) * Self.chunkSize
        check("n=7", start..<(start + Self.chunkSize), validators: 7)
    }

    @Test("a seed replays exactly")
    func deterministic() {
        for (n, seed) in [(4, UInt64(17)), (7, UInt64(1_000_017))] {
            let a = Simulation(SimScenario.make(seed: seed, validators: n))
            let b = Simulation(SimScenario.make(seed: seed, validators: n))
            #expect(a.run() == b.run())
            #expect(a.stats.events == b.stats.events && a.stats.messagesSent == b.stats.messagesSent)
            #expect(a.stats.simulatedMs == b.stats.simulatedMs && a.stats.decisions == b.stats.decisions)
        }
    }

    /// `SIM_REPLAY=<validators>:<seed>[:<heightsAfterHeal>:<faultScale>]` replays one run
    /// (`SIM_TRACE=1`: with a trace of every decision, signature, crash and partition).
    @Test(
        "replay one seed (SIM_REPLAY=n:seed[:heights:scale])",
        .enabled(if: ProcessInfo.processInfo.environment["SIM_REPLAY"] != nil))
    func replay() throws {
        let spec = ProcessInfo.processInfo.environment["SIM_REPLAY"]!.split(separator: ":").map(String.init)
        try #require(spec.count == 2 || spec.count == 4, "SIM_REPLAY=validators:seed[:heightsAfterHeal:faultScale]")
        let n = try #require(Int(spec[0]))
        let seed = try #require(UInt64(spec[1]))
        let heights = spec.count == 4 ? try #require(Int(spec[2])) : 3
        let scale = spec.count == 4 ? try #require(UInt64(spec[3])) : 1
        let scenario = SimScenario.make(seed: seed, validators: n, heightsAfterHeal: heights, faultScale: scale)
        print("replaying \(scenario)")
        let sim = Simulation(scenario, trace: ProcessInfo.processInfo.environment["SIM_TRACE"] != nil)
        let failure = sim.run()
        print(summary("replay n=\(n)", seed..<(seed + 1), sim.stats))
        #expect(failure == nil, "\(failure ?? "")")
    }

    /// `SIM_SOAK=<seeds>`: longer fault phases (3×), more heights after the heal, new seeds.
    @Test("soak (SIM_SOAK=seeds)", .enabled(if: ProcessInfo.processInfo.environment["SIM_SOAK"] != nil))
    func soak() {
        let count = UInt64(ProcessInfo.processInfo.environment["SIM_SOAK"] ?? "") ?? 1000
        for n in [4, 7] {
            let seeds = 5_000_000..<(5_000_000 + count)
            let (failures, stats) = runSeeds(seeds, validators: n, heightsAfterHeal: 5, faultScale: 3)
            print(summary("soak n=\(n)", seeds, stats))
            for f in failures { Issue.record("\(f)") }
        }
    }
}
