import Testing

@testable import Tendermint

/// Targeted runs of the simulation: one fault each, placed by hand, with its outcome asserted
/// beyond "no property violated".
@Suite("Deterministic simulation: targeted scenarios")
struct SimulationScenarioTests {
    struct PartitionCase: CustomTestStringConvertible, Sendable {
        let powers: [UInt64]
        let side: [Int]
        /// Whether one side holds more than 2/3 of the power (and so must keep deciding).
        let quorumSide: Bool
        var testDescription: String { "powers \(powers), sides \(side)" }
    }

    /// From 1 s to 6 s the network is split; the fault deadline is the heal.
    @Test(
        "a partition without a quorum side stops progress safely, then heals and progresses",
        arguments: [
            PartitionCase(powers: [1, 1, 1, 1], side: [0, 0, 1, 1], quorumSide: false),
            PartitionCase(powers: [1, 1, 1, 1, 1, 1, 1], side: [0, 0, 0, 1, 1, 1, 1], quorumSide: false),
            PartitionCase(powers: [3, 1, 1, 2], side: [0, 0, 1, 1], quorumSide: false),
            PartitionCase(powers: [1, 1, 1, 1, 1, 1, 1], side: [0, 0, 0, 0, 0, 1, 1], quorumSide: true),
        ])
    func partition(_ c: PartitionCase) {
        let start: UInt64 = 1000
        let end: UInt64 = 6000
        for seed in UInt64(1)...5 {
            let scenario = SimScenario(
                seed: seed, validators: c.powers.count, powers: c.powers, faultDeadlineMs: end,
                faults: [.partition(at: start, until: end, side: c.side)],
                origin: "ConsensusTests.SimulationScenarioTests/partition")
            let sim = Simulation(scenario)
            let failure = sim.run()
            #expect(failure == nil, "\(failure.map { "\($0)" } ?? "")")
            let before = sim.decisionLog.filter { $0.timeMs <= start }.map(\.height.value).max() ?? 0
            let during = sim.decisionLog.filter { $0.timeMs > start && $0.timeMs < end }
            let after = sim.decisionLog.filter { $0.timeMs >= end }
            #expect(before >= 2, "progress before the partition")
            if c.quorumSide {
                let majority = Set(c.side.indices.filter { c.side[$0] == 0 })
                #expect(during.contains { $0.height.value > before + 5 && majority.contains($0.node) })
            } else {
                // Only a height whose precommits were already on their way may still complete.
                // (Without 2f + 1 votes of any kind nobody even leaves round 0: no timeout of
                // lines 35 or 48 is ever scheduled.)
                #expect(during.allSatisfy { $0.height.value <= before + 1 }, "\(during.prefix(4))")
            }
            #expect(!after.isEmpty, "progress after the heal")
            #expect(sim.committedHeights.allSatisfy { $0 > Int(before) + 1 })
        }
    }

    /// The node persists its proposal / prevote / precommit, crashes before sending it, and comes
    /// back from its WAL: it re-sends the very same message and signs nothing that conflicts
    /// (the run's double-sign check, the guard, and agreement across its restart).
    @Test(
        "a node crashed between persist and send restarts without signing anything conflicting",
        arguments: [Step.propose, .prevote, .precommit])
    func crashBetweenPersistAndSend(_ step: Step) {
        for seed in UInt64(1)...20 {
            let victim = Int(seed % 4)
            let scenario = SimScenario(
                seed: seed, validators: 4, powers: [1, 1, 1, 1], faultDeadlineMs: 3000,
                dropPpm: seed % 2 == 0 ? 50_000 : 0, maxDelayMs: 30,
                faults: [.crash(node: victim, at: 200 + 37 * seed, restartAt: 2500, cut: .betweenPersistAndSend(step))],
                origin: "ConsensusTests.SimulationScenarioTests/crashBetweenPersistAndSend")
            let sim = Simulation(scenario)
            let failure = sim.run()
            #expect(failure == nil, "\(failure.map { "\($0)" } ?? "")")
            #expect(sim.stats.persistSendCuts == 1, "seed \(seed): the crash cut a \(step) between persist and send")
            #expect(sim.stats.resends >= 1, "seed \(seed): the restarted node re-sent its WAL records")
            #expect(sim.decisionLog.contains { $0.node == victim && $0.timeMs > 2500 })
        }
    }

    /// Every node loses its memory at once, each at another point of its work (some between
    /// persist and send), and comes back from its WAL alone: nobody holds the round's messages
    /// but what the WALs re-send, and the chain must go on without anyone signing a conflict.
    @Test("all nodes crash at once and recover from their WALs", arguments: [4, 7])
    func everyoneCrashes(validators n: Int) {
        let cuts: [CrashCut] = [
            .now, .betweenPersistAndSend(nil), .afterEffects(1), .betweenPersistAndSend(.precommit),
        ]
        for seed in UInt64(1)...10 {
            let at = 150 + 29 * seed
            let scenario = SimScenario(
                seed: seed, validators: n, powers: [UInt64](repeating: 1, count: n), faultDeadlineMs: at + 400,
                maxDelayMs: 20,
                faults: (0..<n).map { .crash(node: $0, at: at, restartAt: at + 300, cut: cuts[(Int(seed) + $0) % 4]) },
                origin: "ConsensusTests.SimulationScenarioTests/everyoneCrashes")
            let sim = Simulation(scenario)
            let failure = sim.run()
            #expect(failure == nil, "\(failure.map { "\($0)" } ?? "")")
            #expect(sim.stats.restarts >= n)
            #expect(Set(sim.decisionLog.filter { $0.timeMs > at + 300 }.map(\.node)).count == n)
        }
    }

    /// The byzantine proposer(s) send each half of their peers a different valid proposal for
    /// every round they lead.
    @Test("an equivocating proposer does not break safety and is caught", arguments: [4, 7])
    func equivocatingProposer(validators n: Int) {
        let powers: [UInt64] = n == 4 ? [1, 1, 1, 1] : [2, 1, 3, 1, 2, 1, 2]
        for seed in UInt64(1)...10 {
            var scenario = SimScenario(
                seed: seed, validators: n, powers: powers, strategy: .equivocatingProposer, faultDeadlineMs: 1500,
                maxDelayMs: 40, heightsAfterHeal: 6,
                origin: "ConsensusTests.SimulationScenarioTests/equivocatingProposer")
            // The first proposer of the chain is byzantine (and, with 7, the second one too if
            // that stays below 1/3 of the power).
            let probe = Simulation(scenario)
            let set = probe.validators(at: 1)
            var byzantine = [probe.node(set.proposer(forRound: 0).address)!]
            if n == 7, let second = probe.node(probe.validators(at: 2).proposer(forRound: 0).address),
                second != byzantine[0], (powers[byzantine[0]] + powers[second]) * 3 < set.totalPower
            {
                byzantine.append(second)
            }
            scenario.byzantine = byzantine
            let sim = Simulation(scenario)
            let failure = sim.run()
            #expect(failure == nil, "\(failure.map { "\($0)" } ?? "")")
            #expect(sim.stats.equivocatingProposals > 0)
            let caught = sim.evidenceLog.filter {
                if case .conflictingProposals = $0.evidence { !byzantine.contains($0.node) } else { false }
            }
            #expect(!caught.isEmpty, "seed \(seed): honest nodes hold evidence of the conflicting proposals")
            #expect(caught.allSatisfy { byzantine.contains(sim.node($0.evidence.culprit)!) })
            #expect(sim.decisionLog.contains { $0.height.value >= 6 })
        }
    }
}
