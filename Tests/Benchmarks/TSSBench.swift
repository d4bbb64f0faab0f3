import CryptoPrimitives
import Foundation
import MPCMath
import Secp256k1
import TSSCore

/// `vn-bench tss`: GG20 threshold ECDSA (issue 3, DESIGN §8). Every protocol runs on
/// `LocalCluster`: all parties in this process, exchanging messages in memory, the parties of a
/// round processed concurrently (both cores, as separate processes would use them), system
/// randomness, 2048-bit Paillier and ring-Pedersen moduli from fresh safe primes.
struct TSSBench: BenchArea {
    let name = "tss"

    typealias Cluster = LocalCluster<SecureRandomNumberGenerator>

    static let note = "in-process, all parties concurrent on the cores (LocalCluster), 2048-bit Paillier"

    func run(_ options: BenchOptions, report: @Sendable (BenchResult) -> Void) async throws {
        let clock = ContinuousClock()
        var rng = SecureRandomNumberGenerator()

        // Pre-params: one party's Paillier + ring-Pedersen secrets (safe primes included).
        var pool: [KeygenPreParams] = []
        let preparams = try Self.measure(
            runs: options.scale(10, quick: 2), budget: options.quick ? 15 : 30, clock: clock
        ) {
            pool.append(try KeygenPreParams.generate())
        }
        report(Self.result("tss.preparams", .s, preparams, note: "one party: safe primes + Paillier + ring-Pedersen"))

        // Keygen including every party's pre-params, then with pre-params ready.
        for (t, n, runs) in [(2, 5, options.scale(3, quick: 1)), (4, 7, options.scale(2, quick: 1))] {
            let times = try Self.measure(runs: runs, budget: options.quick ? 30 : 45, clock: clock) {
                let pre = try KeygenPreParams.generate(count: n)
                var cluster = try Self.cluster(t: t, n: n, rng: &rng)
                _ = try cluster.keygen(sessionID: rng.bytes(32), preParams: pre)
            }
            report(
                Self.result(
                    "tss.keygen.n\(n)t\(t)", .s, times,
                    note: "\(n) parties incl. safe primes for all; " + Self.note))
        }
        while pool.count < 7 { pool.append(try KeygenPreParams.generate()) }
        var keys5: [KeyShare] = []
        var cluster5 = try Self.cluster(t: 2, n: 5, rng: &rng)
        let pooled = try Self.measure(runs: options.scale(5, quick: 1), budget: 25, clock: clock) {
            keys5 = try cluster5.keygen(sessionID: rng.bytes(32), preParams: Array(pool.prefix(5)))
        }
        report(Self.result("tss.keygen.n5t2.pooled", .s, pooled, note: "pre-params ready; " + Self.note))

        // 3-of-5: presign alone, online alone (on the presignatures just made), and both together.
        var presignTimes: [Double] = []
        var onlineTimes: [Double] = []
        var fullTimes: [Double] = []
        var bytesPerParty: [Double] = []
        let signings = options.scale(40, quick: 3)
        let started = clock.now
        let cpuStarted = Self.processCPUSeconds()
        for _ in 0..<signings {
            let signers = Array(cluster5.parties.shuffled(using: &rng).prefix(3)).sorted()
            let digest = rng.bytes(32)
            cluster5.resetByteCounts()
            var set: PresignedSet?
            let presign = try clock.measure {
                set = try cluster5.presign(shares: keys5, signers: signers, sessionID: rng.bytes(32))
            }
            let online = try clock.measure { _ = try cluster5.sign(set!, digest: digest) }
            presignTimes.append(presign.seconds)
            onlineTimes.append(online.seconds * 1000)
            fullTimes.append((presign + online).seconds)
            bytesPerParty += signers.map { Double(cluster5.bytesSent[Int($0)]) }
            if presignTimes.count >= 5, (clock.now - started).seconds > 35 { break }
        }
        let usage = Self.utilization(cpuStarted, since: started, clock: clock)
        report(
            Self.result("tss.presign.3of5", .s, presignTimes, note: "offline phase, 6 rounds; \(usage); " + Self.note))
        report(
            Self.result(
                "tss.sign.online.3of5", .ms, onlineTimes,
                note: "one round: s_i, per-share check, combine, verify, recover; " + Self.note))
        report(Self.result("tss.sign.full.3of5", .s, fullTimes, note: "presign + online; " + Self.note))
        report(
            Self.result(
                "tss.sign.bytes.3of5", .bytes, bytesPerParty,
                note: "encoded messages sent per signer for presign + online, a broadcast counted once per recipient"))

        // 5-of-7: presign + online.
        var cluster7 = try Self.cluster(t: 4, n: 7, rng: &rng)
        let keys7 = try cluster7.keygen(sessionID: rng.bytes(32), preParams: Array(pool.prefix(7)))
        let (cpu7, started7) = (Self.processCPUSeconds(), clock.now)
        let full7 = try Self.measure(runs: options.scale(12, quick: 2), budget: 25, clock: clock) {
            let signers = Array(cluster7.parties.shuffled(using: &rng).prefix(5)).sorted()
            let digest = rng.bytes(32)
            let set = try cluster7.presign(shares: keys7, signers: signers, sessionID: rng.bytes(32))
            _ = try cluster7.sign(set, digest: digest)
        }
        let usage7 = Self.utilization(cpu7, since: started7, clock: clock)
        report(Self.result("tss.sign.full.5of7", .s, full7, note: "presign + online; \(usage7); " + Self.note))
    }

    static func cluster(t: Int, n: Int, rng: inout SecureRandomNumberGenerator) throws -> Cluster {
        let keys = (0..<n).map { _ in PrivateKey.generate() }
        return try LocalCluster(
            threshold: t, identityKeys: keys,
            rngs: [SecureRandomNumberGenerator](repeating: SecureRandomNumberGenerator(), count: n))
    }

    /// Runs `body` `runs` times, or fewer once `budget` seconds have passed (at least 2 runs);
    /// the durations in seconds.
    static func measure(
        runs: Int, budget: Double, clock: ContinuousClock, _ body: () throws -> Void
    ) throws
        -> [Double]
    {
        var times: [Double] = []
        let start = clock.now
        for _ in 0..<runs {
            times.append(try clock.measure(body).seconds)
            if times.count >= 2, (clock.now - start).seconds > budget { break }
        }
        return times
    }

    /// User + system CPU time of this process (all threads), seconds.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// "CPU/wall 1.9": how many cores the runs kept busy on average (2 = both, on this machine;
    /// lower when other processes compete for them).
    static func utilization(_ cpuStart: Double, since start: ContinuousClock.Instant, clock: ContinuousClock) -> String
    {
        let wall = (clock.now - start).seconds
        let ratio = wall > 0 ? (processCPUSeconds() - cpuStart) / wall : 0
        return "CPU/wall \((ratio * 100).rounded() / 100)"
    }

    static func result(_ name: String, _ unit: BenchResult.Unit, _ values: [Double], note: String) -> BenchResult {
        let (p50, p99) = Stats.latency(values)
        return BenchResult(bench: name, unit: unit, p50: p50, p99: p99, n: values.count, note: note)
    }
}
