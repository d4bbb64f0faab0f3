import CryptoPrimitives
import MPCMath
import MPCTestSupport
import Testing

@testable import TSSCore

/// When the Paillier randomizer pool fills and how much (pure; the service only measures times).
@Suite struct RandomizerRefillTests {
    @Test(
        "the pool fills only when no session runs and none ended within the quiet period",
        arguments: [
            (0, nil, true), (0, Duration.seconds(1), true), (0, Duration.seconds(30), true),
            (0, Duration.milliseconds(999), false), (0, Duration.zero, false), (1, nil, false),
            (3, Duration.seconds(30), false),
        ] as [(Int, Duration?, Bool)])
    func mayRun(running: Int, sinceEnd: Duration?, expected: Bool) {
        #expect(RandomizerRefill.mayRun(sessionsRunning: running, sinceLastSessionEnd: sinceEnd) == expected)
    }

    @Test(
        "keys used within the last hour are served",
        arguments: [
            (Duration.zero, true), (Duration.seconds(3599), true), (Duration.seconds(3600), false),
            (Duration.seconds(86_400), false),
        ])
    func serves(sinceUse: Duration, expected: Bool) {
        #expect(RandomizerRefill.serves(sinceLastUse: sinceUse) == expected)
    }

    @Test("shortfall: what each modulus lacks against its target, full ones left out, order kept")
    func shortfall() {
        let keys = MPCFixtures.paillierKeys.prefix(3).map(\.publicKey)
        let stock: [BigNum: Int] = [keys[0].n: 10, keys[1].n: 8]
        let missing = RandomizerRefill.shortfall(
            [(keys[0], 13), (keys[1], 8), (keys[2], 4)], stocked: { stock[$0] ?? 0 })
        #expect(missing.map(\.key) == [keys[0], keys[2]])
        #expect(missing.map(\.missing) == [3, 4])
        #expect(RandomizerRefill.shortfall([(keys[1], 5)], stocked: { stock[$0] ?? 0 }).isEmpty)
    }

    @Test("targets: 1 + 6t per presigning under the own key, 4 under each other party's")
    func targets() throws {
        for (keys, t) in [(Keys.t1n3, 1), (Keys.t2n5, 2)] {
            let share = try #require(keys.values.first)
            let targets = share.paillierNonceTargets(presignings: 5)
            #expect(targets.count == keys.count)
            #expect(targets[0].key == share.paillierSecret.publicKey && targets[0].count == (1 + 6 * t) * 5)
            #expect(targets.dropFirst().allSatisfy { $0.count == 20 })
            #expect(Set(targets.map(\.key.n)) == Set(share.paillierKeys.map(\.n)))
        }
    }
}
