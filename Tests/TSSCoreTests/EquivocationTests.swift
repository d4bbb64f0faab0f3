import CryptoPrimitives
import MPCMath
import Secp256k1
import Synchronization
import Testing

@testable import TSSCore

/// Equivocation (different validly signed broadcasts to different peers) in every round of
/// keygen and at presigning's verdict round, on the test `Simulator` and on `LocalCluster`: the
/// peer that got the bad version aborts over its content and sends its echo notice
/// (`abortMessages`); the peer that got the good one finds the sender's second signature in that
/// notice and names the same party. Every honest party must have a result (nobody left waiting).
@Suite("Identifiable abort: equivocation")
struct EquivocationTests {
    /// Party `from`'s round-`round` broadcast, as party 2 receives it, with byte `at` (default:
    /// the last) flipped and re-signed by `from` (a valid signature on a different payload).
    static func equivocate(_ from: PartyIndex, round: UInt8, at: Int? = nil) -> Tamper {
        { m, recipient in
            guard m.from == from, m.round == round, m.to == .broadcast, recipient == 2 else { return nil }
            var p = m.payload
            p[at ?? p.count - 1] ^= 1
            return m.with(payload: p)
        }
    }

    /// The keygen equivocations: round 1 (the last Π^prm byte: party 2 aborts at once), round 2
    /// twice (the salt: party 2 aborts over the decommitment; the last byte, party 2's own
    /// encrypted share: party 2 complains, and the round-3 echo shows the two versions), round 3
    /// (the complaint count: party 2 aborts over a malformed payload).
    static let keygenCases: [(label: String, round: UInt8, at: Int?)] = [
        ("round 1", 1, nil), ("round 2, salt", 2, echoLength(3) + 4 + 2 * 33), ("round 2, share", 2, nil),
        ("round 3", 3, nil),
    ]

    /// Every honest party has a result, and it is an abort naming exactly `culprit`.
    static func expectAllAbort<T>(
        _ results: [PartyIndex: Result<T, Abort>], culprit: PartyIndex, honest: [PartyIndex], _ label: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for i in honest {
            switch results[i] {
            case nil: Issue.record("\(label): party \(i) is still waiting", sourceLocation: sourceLocation)
            case .success?: Issue.record("\(label): party \(i) finished", sourceLocation: sourceLocation)
            case .failure(let abort)?:
                #expect(abort.culprits == [culprit], "\(label): party \(i): \(abort)", sourceLocation: sourceLocation)
            }
        }
    }

    // MARK: Keygen

    @Test func keygenEquivocationInRoundsOneToThreeEndsInOneAbortEverywhere() {
        for (label, round, at) in Self.keygenCases {
            let results = runKeygen(
                t: 1, n: 3, seed: "eq-kg-\(label)", tamper: Self.equivocate(1, round: round, at: at))
            Self.expectAllAbort(results, culprit: 1, honest: [0, 2], "keygen \(label)")
            // Party 0 saw only valid messages: its abort can come only from party 2's echo.
            if case .failure(let abort)? = results[0] { #expect(abort.reason == .equivocation, "\(label)") }
        }
    }

    @Test func keygenEquivocationWithoutTheNoticeLeavesAPartyWaiting() {
        // The control: the same runs with the notices lost. Party 0 then waits forever for
        // party 2's next broadcast in the cases where party 2 aborts over the content (all but
        // the share, which party 2 answers with a complaint), so the test above cannot pass
        // without `abortMessages`.
        for (label, round, at) in Self.keygenCases where label != "round 2, share" {
            let results = runKeygen(
                t: 1, n: 3, seed: "eq-kg-\(label)", tamper: Self.equivocate(1, round: round, at: at),
                deliverAbortMessages: false)
            #expect(results[0].map { _ in true } == nil, "\(label): \(String(describing: results[0]))")
            if case .failure(let abort)? = results[2] { #expect(abort.culprits == [1], "\(label)") }
        }
    }

    @Test func keygenEquivocationInTheFinalEchoRound() {
        // Round 4 is the last message of keygen: an echo of round 3 and nothing else. Party 1
        // sends party 2 a version with a broken echo entry: party 2 names party 1 (a forged
        // echo). No later message can tell party 0, which saw only valid messages: this split
        // is inherent to point-to-point links (see `Keygen`) and left to the host (activate a
        // key only once every party has reported it ready). Checked here: nobody waits, the
        // aborting party names exactly the sender, and the finishing one holds the same key as
        // the sender's own machine.
        let results = runKeygen(t: 1, n: 3, seed: "eq-kg-4", tamper: Self.equivocate(1, round: 4))
        guard case .failure(let abort)? = results[2] else {
            Issue.record("party 2: \(String(describing: results[2]))")
            return
        }
        #expect(abort.culprits == [1])
        #expect(abort.reason == .forgedEcho)
        let key0 = try? results[0]?.get().groupPublicKey
        let key1 = try? results[1]?.get().groupPublicKey
        #expect(key0 != nil && key0 == key1)
    }

    // MARK: Presigning's verdict round

    @Test func presigningVerdictRoundEquivocationEndsInOneAbortEverywhere() {
        // Party 1's round-5 verdict to party 2 carries tag 1 instead of 0 (malformed): party 2
        // aborts; party 0, which saw the valid verdict, must not release its presignature.
        var machines: [PartyIndex: Presigning] = [:]
        var rngs: [PartyIndex: SeededRandom] = [:]
        var initial: [PartyIndex: [Message]] = [:]
        let signers: [PartyIndex] = [0, 1, 2]
        for i in signers {
            var rng = SeededRandom(seed: "eq-ps-5-\(i)")
            let (machine, out) = try! Presigning.start(
                keyShare: Keys.t2n3[i]!, params: PresignParameters(sessionID: sessionID("eq-ps-5"), signers: signers),
                identityKey: Party.identity(i), rng: &rng)
            machines[i] = machine
            rngs[i] = rng
            initial[i] = out
        }
        let results = Simulator.run(
            parties: signers, initial: initial, tamper: Self.equivocate(1, round: 5),
            abortMessages: { machines[$0]!.abortMessages }
        ) { party, sender, message in
            machines[party]!.receive(from: sender, message, rng: &rngs[party]!)
        }
        Self.expectAllAbort(results, culprit: 1, honest: [0, 2], "presign round 5")
        if case .failure(let abort)? = results[0] { #expect(abort.reason == .equivocation) }
        // The output slots were never filled (not just: the machines refuse to hand them out).
        #expect(machines[0]!.output.take().map { _ in true } == nil, "party 0 released a presignature")
        #expect(machines[2]!.output.take().map { _ in true } == nil)
    }

    @Test func presigningEquivocationInTheFinalEchoRound() {
        // Round 6 (the echo of round 5) is presigning's last message: as keygen's round 4, a
        // broken echo entry sent to party 2 alone makes party 2 name exactly party 1 while party
        // 0 finishes; nobody waits. (The online round carries the echo of round 5 again.)
        let results = BlameTests.presign(seed: "eq-ps-6", tamper: Self.equivocate(1, round: 6))
        guard case .failure(let abort)? = results[2] else {
            Issue.record("party 2: \(String(describing: results[2]))")
            return
        }
        #expect(abort.culprits == [1])
        #expect(abort.reason == .forgedEcho)
        #expect((try? results[0]?.get()) != nil)
    }

    // MARK: LocalCluster

    static func cluster(_ seed: String, n: Int, t: Int) throws -> LocalCluster<ClusterRandom> {
        try LocalCluster(
            threshold: t, identityKeys: (0..<PartyIndex(n)).map(Party.identity),
            rngs: (0..<n).map { ClusterRandom(seed: "\(seed)-party-\($0)") })
    }

    /// The run threw `.aborted` with an abort of every honest party naming exactly `culprit`.
    static func expectClusterAbort(
        culprit: PartyIndex, honest: [PartyIndex], sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws -> Void
    ) {
        do {
            try body()
            Issue.record("the run finished", sourceLocation: sourceLocation)
        } catch LocalClusterError.aborted(let aborts) {
            for i in honest {
                #expect(aborts[i]?.culprits == [culprit], "party \(i): \(aborts)", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func localClusterDeliversAbortNoticesInKeygen() throws {
        // Equivocation in round 3 (party 2 aborts over the content): without the notice party 0
        // would stall and only party 2's abort would be reported.
        var cluster = try Self.cluster("eq-cluster-kg", n: 3, t: 1)
        cluster.tamper = Self.equivocate(1, round: 3)
        Self.expectClusterAbort(culprit: 1, honest: [0, 2]) {
            _ = try cluster.keygen(sessionID: sessionID("eq-cluster-kg"), preParams: (0..<3).map(Party.preParams))
        }
    }

    @Test func localClusterDeliversAbortNoticesInPresigning() throws {
        var cluster = try Self.cluster("eq-cluster-ps", n: 3, t: 2)
        cluster.tamper = Self.equivocate(1, round: 5)
        Self.expectClusterAbort(culprit: 1, honest: [0, 2]) {
            _ = try cluster.presign(
                shares: (0..<3).map { Keys.t2n3[$0]! }, signers: [0, 1, 2], sessionID: sessionID("eq-cluster-ps"))
        }
    }
}
