import CryptoPrimitives
import Secp256k1
import Synchronization
import Testing
import Wire

@testable import MPCMath
@testable import TSSCore

/// The identifiable-abort paths of presigning that need more than one party's view: complaints
/// about direct messages (re-checked by every party), false and forged complaints, and the
/// type-5 / type-7 blame rounds (GG20 §4.2–4.3). Every test asserts that all honest parties
/// reach the *same* abort and that it names exactly the culprit.
@Suite("Identifiable abort: complaints and type-5/7 blame")
struct BlameTests {
    /// All honest parties aborted with one and the same abort, naming exactly `culprit`.
    static func expectAgreedBlame<T>(
        _ results: [PartyIndex: Result<T, Abort>], culprit: PartyIndex, honest: [PartyIndex],
        sameReason: Bool = true, _ reasonMatches: (Reason) -> Bool,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var aborts: [Abort] = []
        for i in honest {
            guard case .failure(let abort)? = results[i] else {
                Issue.record(
                    "party \(i) did not abort: \(String(describing: results[i]))", sourceLocation: sourceLocation)
                continue
            }
            aborts.append(abort)
            #expect(abort.culprits == [culprit], "party \(i): \(abort)", sourceLocation: sourceLocation)
            #expect(reasonMatches(abort.reason), "party \(i): \(abort)", sourceLocation: sourceLocation)
        }
        let distinct = Set(aborts.map { sameReason ? $0.description : "\($0.culprits)" })
        #expect(distinct.count <= 1, "honest parties disagree: \(aborts)", sourceLocation: sourceLocation)
    }

    static func isInvalidProof(_ reason: Reason) -> Bool {
        if case .invalidProof = reason { return true }
        return false
    }

    /// Presigning among `signers` with a message tamper and a state tamper (run after every
    /// input a party takes: the malicious party's own state, e.g. a wrong β).
    static func presign(
        shares: [PartyIndex: KeyShare] = Keys.t2n3, signers: [PartyIndex] = [0, 1, 2], seed: String,
        tamper: Tamper? = nil, onStart: (([PartyIndex: Presigning]) -> Void)? = nil,
        state: ((PartyIndex, inout Presigning) -> Void)? = nil
    ) -> [PartyIndex: Result<PresignReady, Abort>] {
        var machines: [PartyIndex: Presigning] = [:]
        var rngs: [PartyIndex: SeededRandom] = [:]
        var initial: [PartyIndex: [Message]] = [:]
        for i in signers {
            var rng = SeededRandom(seed: "\(seed)-\(i)")
            let (machine, out) = try! Presigning.start(
                keyShare: shares[i]!, params: PresignParameters(sessionID: sessionID(seed), signers: signers),
                identityKey: Party.identity(i), rng: &rng)
            machines[i] = machine
            rngs[i] = rng
            initial[i] = out
        }
        onStart?(machines)
        return Simulator.run(
            parties: signers, initial: initial, tamper: tamper, abortMessages: { machines[$0]!.abortMessages }
        ) { party, sender, message in
            let action = machines[party]!.receive(from: sender, message, rng: &rngs[party]!)
            state?(party, &machines[party]!)
            return action
        }
    }

    /// A complaint section with one complaint showing `message` (and `evidence`).
    static func complaintBytes(_ message: Message, evidence: [UInt8] = []) -> [UInt8] {
        be32(1) + be32(Int(message.from)) + be32(message.payload.count) + message.payload
            + be32(message.signature.count)
            + message.signature + be32(evidence.count) + evidence
    }

    // MARK: Complaints

    @Test func badLogStarProofIsBlamedByEveryone() {
        // Party 1's Π^log* to party 0 (round 4) is broken: party 0 complains in round 5.
        let results = Self.presign(seed: "bl-bad-logstar") { m, _ in
            guard m.from == 1, m.round == 4, m.to == .party(0) else { return nil }
            var p = m.payload
            p[p.count - 1] ^= 1
            return m.with(payload: p)
        }
        Self.expectAgreedBlame(results, culprit: 1, honest: [0, 2], Self.isInvalidProof)
    }

    @Test func outOfRangeMtACiphertextIsBlamedByEveryone() {
        // Party 2's MtA answer to party 1 carries D = 0 (not in Z*_{N²}).
        let results = Self.presign(seed: "bl-mta-range") { m, _ in
            guard m.from == 2, m.round == 2, m.to == .party(1) else { return nil }
            var p = m.payload
            let length = u32(p, 0)
            p.replaceSubrange(0..<(4 + length), with: be32(1) + [1])  // D = 1: a valid encoding, a wrong value
            return m.with(payload: p)
        }
        Self.expectAgreedBlame(results, culprit: 2, honest: [0, 1]) {
            if case .outOfRange = $0 { return true }
            return Self.isInvalidProof($0)
        }
    }

    @Test func directMessageReplayedFromAnotherSessionIsBlamedByEveryone() {
        // Party 2's round-1 Π^enc to party 1, recorded in session A, replayed (re-signed for B).
        let recorded = Mutex<[UInt8]?>(nil)
        _ = Self.presign(seed: "bl-replay-A") { m, _ in
            if m.from == 2, m.round == 1, m.to == .party(1) { recorded.withLock { $0 = m.payload } }
            return nil
        }
        let old = recorded.withLock { $0 }!
        let results = Self.presign(seed: "bl-replay-B") { m, _ in
            guard m.from == 2, m.round == 1, m.to == .party(1) else { return nil }
            return m.with(payload: old)
        }
        Self.expectAgreedBlame(results, culprit: 2, honest: [0, 1], Self.isInvalidProof)
    }

    @Test func falseAccusationInPresigningBlamesTheAccuser() {
        // Party 2 shows party 1's valid round-1 message as a complaint.
        let seen = Mutex<Message?>(nil)
        let results = Self.presign(seed: "bl-false-accusation") { m, _ in
            if m.from == 1, m.round == 1, m.to == .party(2) { seen.withLock { $0 = m } }
            guard m.from == 2, m.round == 2, m.to == .broadcast, let evidence = seen.withLock({ $0 }) else {
                return nil
            }
            return m.with(payload: Array(m.payload.prefix(echoLength(3))) + Self.complaintBytes(evidence))
        }
        Self.expectAgreedBlame(results, culprit: 2, honest: [0, 1]) { $0 == .falseAccusation }
    }

    @Test func forgedComplaintBlamesItsAuthor() {
        // Party 2 "shows" a round-2 message from party 0 that party 0 never signed.
        let seen = Mutex<Message?>(nil)
        let results = Self.presign(seed: "bl-forged-complaint") { m, _ in
            if m.from == 0, m.round == 2, m.to == .party(2) { seen.withLock { $0 = m } }
            guard m.from == 2, m.round == 3, m.to == .broadcast, var evidence = seen.withLock({ $0 }) else {
                return nil
            }
            evidence.payload[evidence.payload.count - 1] ^= 1  // no longer what party 0 signed
            return m.with(payload: Array(m.payload.prefix(echoLength(3))) + Self.complaintBytes(evidence))
        }
        Self.expectAgreedBlame(results, culprit: 2, honest: [0, 1]) { $0 == .falseAccusation }
    }

    @Test func badDirectSignatureIsBlamedByItsRecipient() {
        // An unsigned (or badly signed) direct message is no evidence for third parties: only
        // its recipient can judge it (the transport authenticated the sender).
        let results = Self.presign(seed: "bl-bad-direct-sig") { m, _ in
            guard m.from == 1, m.round == 1, m.to == .party(0) else { return nil }
            var copy = m
            copy.signature = [UInt8](repeating: 7, count: 64)
            return copy
        }
        guard case .failure(let abort)? = results[0] else {
            Issue.record("party 0 did not abort")
            return
        }
        #expect(abort == Abort(culprits: [1], reason: .badSignature))
    }

    // MARK: Type-5 and type-7 blame

    @Test func wrongBetaForDeltaIsIdentifiedByTypeFiveBlame() {
        // Party 1 uses a wrong β in its δ_1 (a δ lie consistent with everything it sends), so
        // Σ R̄_i ≠ G (GG20 Phase 5); the type-5 reveal names party 1 at every honest party.
        let done = Mutex(false)
        let results = Self.presign(
            seed: "bl-type5",
            state: { party, machine in
                guard party == 1, machine.betas[0] != nil, !done.withLock({ $0 }) else { return }
                machine.betas[0]!.gamma = machine.betas[0]!.gamma + Scalar.one
                done.withLock { $0 = true }
            })
        #expect(done.withLock { $0 })
        Self.expectAgreedBlame(results, culprit: 1, honest: [0, 2]) { $0 == .inconsistentDelta }
    }

    @Test func lyingAboutDeltaIsIdentifiedByTypeFiveBlameAmongFive() {
        // (2,5) key, signers {1, 3, 4}: party 4 adds 1 to its δ through β (against party 3).
        let done = Mutex(false)
        let results = Self.presign(
            shares: Keys.t2n5, signers: [1, 3, 4], seed: "bl-type5-5",
            state: { party, machine in
                guard party == 4, machine.betas[3] != nil, !done.withLock({ $0 }) else { return }
                machine.betas[3]!.gamma = machine.betas[3]!.gamma + Scalar.one
                done.withLock { $0 = true }
            })
        Self.expectAgreedBlame(results, culprit: 4, honest: [1, 3]) { $0 == .inconsistentDelta }
    }

    @Test func wrongSigmaIsIdentifiedByTypeSevenBlame() {
        // Party 2 uses a wrong β̂ in σ_2, so Σ S_i ≠ y (GG20 Phase 6); nothing about x_i is
        // revealed, and the Π^mul* / Π^log*(σ) proofs name party 2 at every honest party.
        let done = Mutex(false)
        let results = Self.presign(
            seed: "bl-type7",
            state: { party, machine in
                guard party == 2, machine.betas[0] != nil, !done.withLock({ $0 }) else { return }
                machine.betas[0]!.w = machine.betas[0]!.w + Scalar.one
                done.withLock { $0 = true }
            })
        #expect(done.withLock { $0 })
        Self.expectAgreedBlame(results, culprit: 2, honest: [0, 1]) { $0 == .inconsistentSigma }
    }

    /// Party 1's MtAwc answer to party 0 with the mask β̂' = 2^1400 (beyond ±2^ℓ', yet its
    /// Π^aff-g verifies: the proof's slack admits it). Built from the machines' start state.
    static func oversizedMaskAnswer(
        _ m: Message, _ machines: [PartyIndex: Presigning], mask: BigNum
    ) throws -> Message {
        let (alice, bob) = (machines[0]!, machines[1]!)
        let aliceKey = alice.paillier[0]!
        let bobKey = bob.paillier[1]!
        let x = BigNum(bob.lambda * bob.share.secretShare)
        var rng = SeededRandom(seed: "oversized-mask")
        let (maskC, rho) = try aliceKey.encrypt(signed: mask, using: &rng)
        let d = try aliceKey.add(aliceKey.multiply(alice.bigK[0]!, by: x), maskC)
        let rhoY = try bobKey.randomUnit(using: &rng)
        let y = try bobKey.encrypt(signed: mask, randomness: rhoY)
        let statement = AffineGroupProof.Statement(
            verifierKey: aliceKey, proverKey: bobKey, c: alice.bigK[0]!, d: d, y: y,
            x: Point.generatorMul(bob.lambda * bob.share.secretShare))
        var t = bob.transcript("mtawc", prover: 1, recipient: 0)
        let proof = try AffineGroupProof.proveUnchecked(
            statement: statement, witness: .init(x: x, y: mask, rho: rho, rhoY: rhoY), setup: bob.setups[0]!,
            transcript: &t, rng: &rng, proverSecret: nil)
        var r = WireReader(m.payload)
        var answers = try Presigning.decodeMtA(&r)
        answers[1] = (d.value, y.value, proof.encode())
        var w = WireWriter()
        for (dv, yv, p) in answers {
            w.writeInteger(dv)
            w.writeInteger(yv)
            w.writeBytes(p)
        }
        return m.with(payload: w.take())
    }

    @Test func oversizedMtAwcMaskIsBlamedThroughTheOpening() throws {
        // Party 1 (Bob) answers party 0 with β̂' = 2^1400: Π^aff-g passes, but σ_0 would leave
        // ±2^ℓσ and party 0 could not prove it in type-7 blame (and would be named). Party 0
        // complains in round 3 with the opening of D̂; everyone checks it and names party 1.
        let machines = Mutex<[PartyIndex: Presigning]>([:])
        let tampered = Mutex(false)
        let mask = try BigNum.powerOfTwo(1400)
        let results = Self.presign(
            seed: "bl-oversized-mask",
            tamper: { m, _ in
                guard m.from == 1, m.round == 2, m.to == .party(0) else { return nil }
                tampered.withLock { $0 = true }
                return try? Self.oversizedMaskAnswer(m, machines.withLock { $0 }, mask: mask)
            },
            onStart: { started in machines.withLock { $0 = started } })
        #expect(tampered.withLock { $0 })
        Self.expectAgreedBlame(results, culprit: 1, honest: [0, 2]) {
            if case .outOfRange(let what) = $0 { return what.contains("α̂") }
            return false
        }
    }

    @Test func maskComplaintWithAnInRangeOpeningBlamesTheAccuser() {
        // Party 0 shows party 1's honest MtAwc answer with a true opening of D̂ (in range): a
        // false accusation, whoever checks it.
        let machines = Mutex<[PartyIndex: Presigning]>([:])
        let seen = Mutex<Message?>(nil)
        let results = Self.presign(
            seed: "bl-mask-false",
            tamper: { m, _ in
                if m.from == 1, m.round == 2, m.to == .party(0) { seen.withLock { $0 = m } }
                guard m.from == 0, m.round == 3, m.to == .broadcast, let shown = seen.withLock({ $0 }),
                    let alice = machines.withLock({ $0[0] })
                else { return nil }
                guard var r = Optional(WireReader(shown.payload)), let answers = try? Presigning.decodeMtA(&r),
                    let dHat = try? alice.paillier[0]!.validate(ciphertext: answers[1].0),
                    let alpha = try? alice.share.paillierSecret.decrypt(dHat).declassified(),
                    let randomness = try? alice.recoverRandomness(dHat)
                else { return nil }
                var w = WireWriter()
                w.writeInteger(alpha)
                w.writeInteger(randomness)
                return m.with(
                    payload: Array(m.payload.prefix(echoLength(3))) + Self.complaintBytes(shown, evidence: w.take()))
            },
            onStart: { started in machines.withLock { $0 = started } })
        Self.expectAgreedBlame(results, culprit: 0, honest: [1, 2]) { $0 == .falseAccusation }
    }

    @Test func colludingBobAndAliceCannotAbortUnidentified() {
        // Bob 1 signs two MtAwc answers for Alice 0: the one she checks, and one whose D̂ carries
        // β̂' + 1 while Ŷ still carries β̂'. Alice 0 (colluding) adds 1 to her σ_0 and shows the
        // second in type-7 blame: her Σ_0 and Bob's Σ_1 both match their S_i, yet Σ S_i ≠ y.
        // Bob's answer proven again for every verifier's setup fails: party 1 is named.
        let done = Mutex(false)
        let results = Self.presign(
            seed: "bl-collusion",
            state: { party, machine in
                guard party == 0, machine.myAlphas[1] != nil, !done.withLock({ $0 }) else { return }
                let checked = machine.rounds.inbox(2).direct[1]!
                var r = WireReader(checked.payload)
                var rng = SeededRandom(seed: "collusion")
                let aliceKey = machine.paillier[0]!
                guard var answers = try? Presigning.decodeMtA(&r),
                    let dHat = try? aliceKey.validate(ciphertext: answers[1].0),
                    let unit = try? aliceKey.randomUnit(using: &rng),
                    let shifted = try? aliceKey.add(dHat, aliceKey.encrypt(BigNum.one, randomness: unit))
                else { return }
                answers[1].0 = shifted.value
                var w = WireWriter()
                for (d, y, proof) in answers {
                    w.writeInteger(d)
                    w.writeInteger(y)
                    w.writeBytes(proof)
                }
                machine.rounds.inboxes[2]!.direct[1] = checked.with(payload: w.take())
                machine.nonces!.sigma = machine.nonces!.sigma + Scalar.one
                done.withLock { $0 = true }
            })
        #expect(done.withLock { $0 })
        Self.expectAgreedBlame(results, culprit: 1, honest: [2]) { $0 == .inconsistentSigma }
    }

    @Test func honestPresigningStillFinishesAndSigns() {
        // The extra verdict round changes nothing for honest parties.
        let (presign, online) = runSigning(
            shares: Keys.t2n3, signers: [0, 1, 2], seed: "bl-honest", digest: SHA256.hash(Array("blame".utf8)))
        #expect(presign.values.allSatisfy { (try? $0.get()) != nil })
        #expect(online.count == 3 && online.values.allSatisfy { (try? $0.get()) != nil })
    }

    @Test func deltaSummingToZeroIsIdentifiedByTypeFiveBlame() {
        // A rushing party can make δ = Σδ_j = 0 (not invertible: no R at all). Party 1 shifts its
        // δ_1 by −kγ, so Σδ_j = 0; the round-4 failure markers lead to the type-5 reveal.
        let shift = Mutex(Scalar.zero)
        let done = Mutex(false)
        let results = Self.presign(
            seed: "bl-type5-zero",
            onStart: { machines in
                let k = machines.values.reduce(Scalar.zero) { $0 + $1.nonces!.k }
                let gamma = machines.values.reduce(Scalar.zero) { $0 + $1.nonces!.gamma }
                shift.withLock { $0 = Scalar.zero - k * gamma }
            },
            state: { party, machine in
                guard party == 1, machine.betas[0] != nil, !done.withLock({ $0 }) else { return }
                machine.betas[0]!.gamma = machine.betas[0]!.gamma + shift.withLock { $0 }
                done.withLock { $0 = true }
            })
        Self.expectAgreedBlame(results, culprit: 1, honest: [0, 2]) { $0 == .inconsistentDelta }
    }

    @Test func headerFaultsInEveryPresigningRoundAreBlamedByEveryone() {
        // Wrong session id, wrong sender index, a message of another protocol: in each
        // broadcast round, every honest party names the sender.
        for round: UInt8 in 1...5 {
            let wrongSession = Self.presign(seed: "bl-hdr-session-\(round)") { m, _ in
                guard m.from == 1, m.round == round, m.to == .broadcast else { return nil }
                var copy = m
                copy.sessionID = sessionID("bl-elsewhere")
                return try! copy.signed(with: Party.identity(1))
            }
            Self.expectAgreedBlame(wrongSession, culprit: 1, honest: [0, 2]) { $0 == .wrongSession }
            let wrongIndex = Self.presign(seed: "bl-hdr-index-\(round)") { m, _ in
                guard m.from == 2, m.round == round, m.to == .broadcast else { return nil }
                var copy = m
                copy.from = 0
                return copy
            }
            Self.expectAgreedBlame(wrongIndex, culprit: 2, honest: [0, 1]) { $0 == .wrongPartyIndex }
            let otherProtocol = Self.presign(seed: "bl-hdr-kind-\(round)") { m, _ in
                guard m.from == 0, m.round == round, m.to == .broadcast else { return nil }
                var copy = m
                copy.kind = .keygen
                return try! copy.signed(with: Party.identity(0))
            }
            Self.expectAgreedBlame(otherProtocol, culprit: 0, honest: [1, 2]) { $0 == .wrongSession }
        }
    }

    @Test func equivocationInEveryPresigningRoundIsDetectedByTheEcho() {
        // Party 1 sends party 2 a different (validly signed) broadcast than party 0: the echo of
        // the next round shows both signatures, so both honest parties name party 1. Round 5 (the
        // verdict) included: its echo (round 6) runs before any presignature is released.
        for round: UInt8 in 1...5 {
            let results = Self.presign(seed: "bl-equivocation-\(round)") { m, recipient in
                guard m.from == 1, m.round == round, m.to == .broadcast, recipient == 2 else { return nil }
                var p = m.payload
                p[p.count - 1] ^= 1
                return m.with(payload: p)
            }
            // The party that got the invalid version names the sender for it (its own check); the
            // other finds the two signatures in that party's echo notice: same culprit.
            Self.expectAgreedBlame(results, culprit: 1, honest: [0, 2], sameReason: false) {
                $0 == .equivocation || { if case .malformed = $0 { return true } else { return false } }($0)
                    || Self.isInvalidProof($0)
            }
        }
    }

    // MARK: Keygen: complaints about the round-2 Π^fac

    @Test func keygenBadFactorProofIsBlamedByEveryone() {
        let results = runKeygen(
            t: 1, n: 3, seed: "bl-kg-bad-fac",
            tamper: { m, _ in
                guard m.from == 1, m.round == 2, m.to == .party(0) else { return nil }
                var p = m.payload
                p[p.count - 1] ^= 1
                return m.with(payload: p)
            })
        Self.expectAgreedBlame(results, culprit: 1, honest: [0, 2]) {
            if case .outOfRange = $0 { return true }
            return Self.isInvalidProof($0)
        }
    }

    @Test func keygenFalseFactorComplaintBlamesTheAccuser() {
        // Party 2 shows party 1's valid Π^fac as a complaint in round 3.
        let seen = Mutex<Message?>(nil)
        let results = runKeygen(
            t: 1, n: 3, seed: "bl-kg-false-fac",
            tamper: { m, _ in
                if m.from == 1, m.round == 2, m.to == .party(2) { seen.withLock { $0 = m } }
                guard m.from == 2, m.round == 3, let evidence = seen.withLock({ $0 }) else { return nil }
                var p = m.payload
                #expect(Array(p.suffix(8)) == [UInt8](repeating: 0, count: 8))
                p.removeLast(8)
                return m.with(payload: p + Self.complaintBytes(evidence) + be32(0))
            })
        Self.expectAgreedBlame(results, culprit: 2, honest: [0, 1]) { $0 == .falseAccusation }
    }

    // MARK: Header faults in every keygen round and in the online round

    @Test func headerFaultsInEveryKeygenRoundAreBlamedByEveryone() {
        for round: UInt8 in 1...4 {
            let wrongSession = runKeygen(
                t: 1, n: 3, seed: "bl-kg-session-\(round)",
                tamper: { m, _ in
                    guard m.from == 1, m.round == round, m.to == .broadcast else { return nil }
                    var copy = m
                    copy.sessionID = sessionID("bl-kg-elsewhere")
                    return try! copy.signed(with: Party.identity(1))
                })
            Self.expectAgreedBlame(wrongSession, culprit: 1, honest: [0, 2]) { $0 == .wrongSession }
            let wrongIndex = runKeygen(
                t: 1, n: 3, seed: "bl-kg-index-\(round)",
                tamper: { m, _ in
                    guard m.from == 0, m.round == round, m.to == .broadcast else { return nil }
                    var copy = m
                    copy.from = 2
                    return copy
                })
            Self.expectAgreedBlame(wrongIndex, culprit: 0, honest: [1, 2]) { $0 == .wrongPartyIndex }
        }
    }

    @Test func onlineShareWithWrongIndexOrReplayedIsBlamed() {
        let digest = SHA256.hash(Array("online-header".utf8))
        let (_, wrongIndex) = runSigning(
            shares: Keys.t2n3, signers: [0, 1, 2], seed: "bl-online-index", digest: digest,
            onlineTamper: { m, _ in
                guard m.from == 1 else { return nil }
                var copy = m
                copy.from = 0
                return copy
            })
        Self.expectAgreedBlame(wrongIndex, culprit: 1, honest: [0, 2]) { $0 == .wrongPartyIndex }
        // Party 2's share re-sent with another presigning's echo: the echo check names it.
        let recorded = Mutex<[UInt8]?>(nil)
        _ = runSigning(
            shares: Keys.t2n3, signers: [0, 1, 2], seed: "bl-online-replay-A", digest: digest,
            onlineTamper: { m, _ in
                if m.from == 2 { recorded.withLock { $0 = m.payload } }
                return nil
            })
        let old = recorded.withLock { $0 }!
        let (_, replayed) = runSigning(
            shares: Keys.t2n3, signers: [0, 1, 2], seed: "bl-online-replay-B", digest: digest,
            onlineTamper: { m, _ in m.from == 2 ? m.with(payload: old) : nil })
        Self.expectAgreedBlame(replayed, culprit: 2, honest: [0, 1]) { $0 == .forgedEcho || $0 == .equivocation }
    }

    // MARK: Message encoding and signatures

    @Test func messageEncodingIsVersionedAndDirectSignaturesBindTheRecipient() throws {
        let key = Party.identity(1)
        let m = try Message(
            kind: .presign, sessionID: sessionID("enc"), round: 2, from: 1, to: .party(0), payload: [1, 2, 3]
        ).signed(with: key)
        let bytes = m.encode()
        #expect(bytes.first == Message.encodingVersion)
        #expect(try Message(decoding: bytes) == m)
        var oldVersion = bytes
        oldVersion[0] = 1
        #expect(throws: (any Error).self) { try Message(decoding: oldVersion) }
        #expect(m.hasValidSignature(by: key.publicKey))
        var readdressed = m
        readdressed.to = .party(2)
        #expect(!readdressed.hasValidSignature(by: key.publicKey))
        var asBroadcast = m
        asBroadcast.to = .broadcast
        #expect(!asBroadcast.hasValidSignature(by: key.publicKey))
        var otherRound = m
        otherRound.round = 3
        #expect(!otherRound.hasValidSignature(by: key.publicKey))
        #expect(!m.hasValidSignature(by: Party.identity(0).publicKey))
    }
}
