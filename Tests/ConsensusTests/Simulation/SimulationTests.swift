import Foundation
import Testing

@testable import Tendermint

/// The developer's knobs (all optional):
/// - `VN_SIM_SEEDS=<n>`: seeds per validator count in the seeded tests (default 600 with 4
///   validators and 400 with 7); `VN_SIM_SEED_BASE=<k>` starts them at another seed;
/// - `VN_SIM_SEED=<seed>` with `VN_SIM_VALIDATORS=<n>` (and `VN_SIM_PROFILE=soak`): replay one run,
///   as a failure report prints it; `VN_SIM_TRACE=1` prints every step of it.
enum SimEnvironment {
    static let env = ProcessInfo.processInfo.environment
    static func number(_ name: String) -> UInt64? { env[name].flatMap { UInt64($0) } }

    static let seedsPerCount = number("VN_SIM_SEEDS")
    static let seedBase = number("VN_SIM_SEED_BASE") ?? 0
    static let chunkSize: UInt64 = 50

    /// Chunks of seeds for `validators` (parallel test cases of `chunkSize` seeds each).
    static func chunks(validators: Int) -> [Range<UInt64>] {
        let count = seedsPerCount ?? (validators == 4 ? 600 : 400)
        // The seeds of each validator count live in their own range: a seed names one run.
        let start = seedBase + (validators == 4 ? 0 : 1_000_000)
        return stride(from: UInt64(0), to: count, by: Int(chunkSize)).map {
            (start + $0)..<(start + min($0 + chunkSize, count))
        }
    }
}

/// Runs the seeded scenarios of `seeds`; records one issue per failure (each with its replay
/// line and the last events) and returns the summed statistics.
@discardableResult
func runSeeds(_ seeds: Range<UInt64>, validators: Int, profile: SimProfile = .ci) -> SimStats {
    var total = SimStats()
    for seed in seeds {
        let sim = Simulation(SimScenario.seeded(seed, validators: validators, profile: profile))
        if let failure = sim.run() {
            print(failure)
            Issue.record("\(failure)")
        }
        total.add(sim.stats)
    }
    print("sim n=\(validators) seeds \(seeds.lowerBound)..<\(seeds.upperBound): \(total.summary)")
    return total
}

/// 1,000 seeded runs in CI: 600 with 4 validators, 400 with 7. Each has up to f byzantine
/// equivocators (most have f), equal or unequal powers, drops, duplicates, delays, random
/// partitions, crashes (some between persist and send) and isolated deciders before its fault
/// deadline, and must then make progress.
@Suite("Deterministic simulation: seeded runs")
struct SimulationTests {
    @Test("4 validators", arguments: SimEnvironment.chunks(validators: 4))
    func fourValidators(seeds: Range<UInt64>) {
        runSeeds(seeds, validators: 4)
    }

    @Test("7 validators", arguments: SimEnvironment.chunks(validators: 7))
    func sevenValidators(seeds: Range<UInt64>) {
        runSeeds(seeds, validators: 7)
    }

    /// The seeded runs do inject every fault kind (a harness that silently stopped injecting
    /// would pass everything).
    @Test("the seeded runs inject every kind of fault")
    func faultsAreInjected() {
        var total = SimStats()
        for n in [4, 7] {
            for seed in UInt64(0)..<40 {
                let sim = Simulation(SimScenario.seeded(seed + (n == 4 ? 0 : 1_000_000), validators: n))
                #expect(sim.run() == nil)
                total.add(sim.stats)
            }
        }
        #expect(total.messagesDropped > 0 && total.messagesDuplicated > 0 && total.partitions > 0)
        #expect(total.crashes > 0 && total.restarts > 0 && total.persistSendCuts > 0 && total.resends > 0)
        #expect(total.equivocatingVotes > 0 && total.equivocatingProposals > 0 && total.evidence > 0)
        #expect(total.maxRound > 0, "some heights need more than one round")
    }

    @Test("a run is a pure function of its scenario")
    func deterministic() {
        for (n, seed) in [(4, UInt64(17)), (7, UInt64(1_000_017))] {
            let a = Simulation(SimScenario.seeded(seed, validators: n))
            let b = Simulation(SimScenario.seeded(seed, validators: n))
            #expect(a.run() == nil && b.run() == nil)
            #expect(a.stats == b.stats)
            #expect(a.decisionLog.map { "\($0)" } == b.decisionLog.map { "\($0)" })
            #expect(!a.decisionLog.isEmpty)
        }
    }

    /// An impossible liveness bound makes a run fail on purpose: the report names the seed, the
    /// scenario, the replay line and the last events, and the same scenario fails identically.
    @Test("a failure reports how to replay it, and replays exactly")
    func failureReport() throws {
        var scenario = SimScenario.seeded(1_000_123, validators: 7)
        scenario.heightsAfterHeal = 1000
        scenario.livenessBoundMs = 2000
        let first = try #require(Simulation(scenario).run())
        let again = try #require(Simulation(scenario).run())
        #expect(first.reason.hasPrefix("LIVENESS"))
        #expect(first.description == again.description)
        #expect(first.trace.count == 40)
        #expect(first.scenario.contains("seed=1000123") && first.scenario.contains("n=7"))
        #expect(
            first.replay
                == "VN_SIM_SEED=1000123 VN_SIM_VALIDATORS=7 swift test --filter 'ConsensusTests.SimulationTests/replay'"
        )
    }

    /// `VN_SIM_SEED=<seed> VN_SIM_VALIDATORS=<n> [VN_SIM_PROFILE=soak] [VN_SIM_TRACE=1]`.
    @Test("replay one seed", .enabled(if: SimEnvironment.env["VN_SIM_SEED"] != nil))
    func replay() throws {
        let seed = try #require(SimEnvironment.number("VN_SIM_SEED"), "VN_SIM_SEED=<seed>")
        let n = Int(SimEnvironment.number("VN_SIM_VALIDATORS") ?? (seed >= 1_000_000 ? 7 : 4))
        let profile = try #require(
            SimProfile(rawValue: SimEnvironment.env["VN_SIM_PROFILE"] ?? "ci"), "VN_SIM_PROFILE=ci|soak")
        let scenario = SimScenario.seeded(seed, validators: n, profile: profile)
        print("replaying \(scenario)")
        let sim = Simulation(scenario, traceAll: SimEnvironment.env["VN_SIM_TRACE"] != nil)
        let failure = sim.run()
        print("replay: \(sim.stats.summary); committed heights \(sim.committedHeights)")
        #expect(failure == nil, "\(failure.map { "\($0)" } ?? "")")
    }

    /// `VN_SIM_SOAK=<seeds>`: the soak profile (three times the faults, five heights after the
    /// deadline) on seeds no CI run uses.
    @Test("soak", .enabled(if: SimEnvironment.env["VN_SIM_SOAK"] != nil))
    func soak() {
        let count = SimEnvironment.number("VN_SIM_SOAK") ?? 1000
        let base = 5_000_000 + SimEnvironment.seedBase
        for n in [4, 7] { runSeeds(base..<(base + count), validators: n, profile: .soak) }
    }
}
