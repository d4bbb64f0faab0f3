import CryptoPrimitives
import MPCMath
import Secp256k1
import Synchronization
import TSSCore
import Testing

/// One test per misbehaviour: a malicious party (played by the simulator's tamper hook, which
/// re-signs its broadcasts with its identity key) and the abort every honest party must reach,
/// naming exactly that party.
@Suite("Identifiable abort")
struct MisbehaviourTests {
    /// Every party except `culprit` aborted and names exactly `culprit`.
    static func expectBlame<T>(
        _ results: [PartyIndex: Result<T, Abort>], culprit: PartyIndex, honest: [PartyIndex],
        _ reasonMatches: (Reason) -> Bool, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for i in honest {
            guard case .failure(let abort)? = results[i] else {
                Issue.record("party \(i) did not abort", sourceLocation: sourceLocation)
                continue
            }
            #expect(abort.culprits == [culprit], "party \(i): \(abort)", sourceLocation: sourceLocation)
            #expect(reasonMatches(abort.reason), "party \(i): \(abort)", sourceLocation: sourceLocation)
        }
    }

    static func keygen(_ seed: String, tamper: @escaping Tamper) -> [PartyIndex: Result<KeyShare, Abort>] {
        runKeygen(t: 1, n: 3, seed: seed, tamper: tamper)
    }

    // MARK: Keygen

    @Test func wrongShareBlamesDealerViaVerifiableComplaint() {
        // Party 2 deals party 0 a share that fails the Feldman check (a fresh encryption under N_0),
        // and echoes its tampered broadcast consistently (so only the complaint can catch it).
        let sent = Mutex<Message?>(nil)
        let results = Self.keygen("kg-wrong-share") { m, _ in
            if m.from == 2, m.round == 3, let bad = sent.withLock({ $0 }) {
                var p = m.payload
                let at = 4 + 2 * 100 + 4
                p.replaceSubrange(at..<(at + 96), with: SHA256.hash(bad.payload) + bad.signature)
                return m.with(payload: p)
            }
            guard m.from == 2, m.round == 2, m.to == .broadcast else { return nil }
            var p = m.payload
            var at = echoLength(3)
            at += 4 + u32(p, at) * 33 + 32  // Feldman vector, salt
            at += 4
            let length = u32(p, at + 4)
            var rng = SeededRandom(seed: "bad-share")
            let c = try! MPCFixtures.paillierKeys[0].publicKey.encrypt(BigNum(Scalar.random(using: &rng)), using: &rng)
            let bytes = c.ciphertext.value.magnitudeBytes()
            p.replaceSubrange((at + 4)..<(at + 8 + length), with: be32(bytes.count) + bytes)
            let bad = m.with(payload: p)
            sent.withLock { $0 = bad }
            return bad
        }
        Self.expectBlame(results, culprit: 2, honest: [0, 1]) { $0 == .invalidShare }
    }

    @Test func falseAccusationBlamesAccuser() {
        // Party 2 complains about party 1's (valid) share with a made-up opening.
        let results = Self.keygen("kg-false-accusation") { m, _ in
            guard m.from == 2, m.round == 3 else { return nil }
            var p = m.payload
            #expect(Array(p.suffix(4)) == [0, 0, 0, 0])
            p.removeLast(4)
            p += be32(1) + be32(1) + be32(2) + [1, 2] + be32(2) + [3, 4]
            return m.with(payload: p)
        }
        Self.expectBlame(results, culprit: 2, honest: [0, 1]) { $0 == .falseAccusation }
    }

    @Test func badModulusProofIsBlamed() {
        let results = Self.keygen("kg-bad-proof") { m, _ in
            guard m.from == 1, m.round == 1 else { return nil }
            var p = m.payload
            p[p.count - 1] ^= 1  // the last Π^prm response
            return m.with(payload: p)
        }
        Self.expectBlame(results, culprit: 1, honest: [0, 2]) {
            if case .invalidProof = $0 { return true }
            return false
        }
    }

    @Test func longerFeldmanVectorIsRefused() {
        // t+2 commitments would raise the threshold (the published "longer vector" attack).
        let results = Self.keygen("kg-long-vector") { m, _ in
            guard m.from == 0, m.round == 2, m.to == .broadcast else { return nil }
            var p = m.payload
            let at = echoLength(3)
            let count = u32(p, at)
            p.replaceSubrange(at..<(at + 4), with: be32(count + 1))
            p.insert(contentsOf: Point.generator.encoded, at: at + 4)
            return m.with(payload: p)
        }
        Self.expectBlame(results, culprit: 0, honest: [1, 2]) { $0 == .wrongCommitmentLength(found: 3, required: 2) }
    }

    @Test func smallPaillierModulusIsOutOfRange() {
        let results = Self.keygen("kg-small-n") { m, _ in
            guard m.from == 1, m.round == 1 else { return nil }
            var p = m.payload
            let length = u32(p, 32)
            let small = MPCFixtures.material.paillier[0].p.declassified().magnitudeBytes()  // 1024 bits
            p.replaceSubrange(32..<(36 + length), with: be32(small.count) + small)
            return m.with(payload: p)
        }
        Self.expectBlame(results, culprit: 1, honest: [0, 2]) { $0 == .outOfRange("Paillier modulus") }
    }

    @Test func wrongSessionIDIsBlamed() {
        let results = Self.keygen("kg-wrong-session") { m, _ in
            guard m.from == 1, m.round == 2, m.to == .broadcast else { return nil }
            var copy = m
            copy.sessionID = sessionID("other")
            return copy
        }
        Self.expectBlame(results, culprit: 1, honest: [0, 2]) { $0 == .wrongSession }
    }

    @Test func wrongPartyIndexIsBlamed() {
        let results = Self.keygen("kg-wrong-index") { m, _ in
            guard m.from == 1, m.round == 1 else { return nil }
            var copy = m
            copy.from = 2
            return copy
        }
        // Party 2 receives a header claiming to be from itself: also the sender's fault.
        Self.expectBlame(results, culprit: 1, honest: [0, 2]) { $0 == .wrongPartyIndex }
    }

    @Test func messageReplayedFromAnotherSessionIsBlamed() {
        // Record party 1's round-1 payload in session A, then replay it (re-headed, re-signed) in B.
        let recorded = Mutex<[UInt8]?>(nil)
        _ = Self.keygen("kg-replay-A") { m, _ in
            if m.from == 1, m.round == 1 { recorded.withLock { $0 = m.payload } }
            return m.round == 1
                ? nil
                : Message(
                    kind: m.kind, sessionID: [], round: 0, from: 9, to: .broadcast, payload: [])  // stop session A
        }
        let old = recorded.withLock { $0 }!
        let results = Self.keygen("kg-replay-B") { m, _ in
            guard m.from == 1, m.round == 1 else { return nil }
            return m.with(payload: old)
        }
        Self.expectBlame(results, culprit: 1, honest: [0, 2]) {
            if case .invalidProof = $0 { return true }
            return false
        }
    }

    @Test func equivocatedBroadcastIsDetected() {
        // Party 1 sends party 2 a different round-1 commitment than party 0.
        let results = Self.keygen("kg-equivocation") { m, recipient in
            guard m.from == 1, m.round == 1, recipient == 2 else { return nil }
            var p = m.payload
            p[0] ^= 1
            return m.with(payload: p)
        }
        Self.expectBlame(results, culprit: 1, honest: [0, 2]) { $0 == .equivocation || $0 == .invalidDecommitment }
        if case .failure(let abort)? = results[0] { #expect(abort.reason == .equivocation) }
    }

    // MARK: Signing (t = 2, n = 3: all three sign)

    static let digest = SHA256.hash(Array("misbehaviour".utf8))

    @Test func badAffineProofBlamedByItsRecipient() {
        let (presign, _) = runSigning(
            shares: Keys.t2n3, signers: [0, 1, 2], seed: "sg-bad-mta", digest: Self.digest,
            presignTamper: { m, _ in
                guard m.from == 1, m.round == 2, m.to == .party(0) else { return nil }
                var p = m.payload
                p[p.count - 1] ^= 1  // the MtAwc proof's last field
                return m.with(payload: p)
            })
        // Its recipient complains with the signed message; every party re-checks the proof.
        Self.expectBlame(presign, culprit: 1, honest: [0, 2]) {
            if case .invalidProof = $0 { return true }
            return false
        }
    }

    @Test func badEncryptionProofBlamed() {
        let (presign, _) = runSigning(
            shares: Keys.t2n3, signers: [0, 1, 2], seed: "sg-bad-enc", digest: Self.digest,
            presignTamper: { m, _ in
                guard m.from == 2, m.round == 1, m.to == .party(1) else { return nil }
                var p = m.payload
                p[p.count - 1] ^= 1
                return m.with(payload: p)
            })
        Self.expectBlame(presign, culprit: 2, honest: [0, 1]) {
            if case .invalidProof = $0 { return true }
            return false
        }
    }

    @Test func outOfRangeDeltaBlamed() {
        let (presign, _) = runSigning(
            shares: Keys.t2n3, signers: [0, 1, 2], seed: "sg-delta-range", digest: Self.digest,
            presignTamper: { m, _ in
                guard m.from == 1, m.round == 3 else { return nil }
                var p = m.payload
                p.replaceSubrange((p.count - 32)..., with: [UInt8](repeating: 0xFF, count: 32))  // δ ≥ q
                return m.with(payload: p)
            })
        Self.expectBlame(presign, culprit: 1, honest: [0, 2]) {
            if case .malformed = $0 { return true }
            return false
        }
    }

    @Test func equivocatedDeltaDetectedByEcho() {
        let (presign, _) = runSigning(
            shares: Keys.t2n3, signers: [0, 1, 2], seed: "sg-delta-equivocation", digest: Self.digest,
            presignTamper: { m, recipient in
                guard m.from == 1, m.round == 3, recipient == 2 else { return nil }
                var p = m.payload
                p[p.count - 1] ^= 1
                return m.with(payload: p)
            })
        Self.expectBlame(presign, culprit: 1, honest: [0, 2]) { $0 == .equivocation }
    }

    @Test func badOnlineShareBlamed() {
        let (presign, online) = runSigning(
            shares: Keys.t2n3, signers: [0, 1, 2], seed: "sg-bad-share", digest: Self.digest,
            onlineTamper: { m, _ in
                guard m.from == 2 else { return nil }
                var p = m.payload
                p[p.count - 1] ^= 1
                return m.with(payload: p)
            })
        #expect(presign.values.allSatisfy { (try? $0.get()) != nil })
        Self.expectBlame(online, culprit: 2, honest: [0, 1]) { $0 == .invalidSignatureShare }
    }

    @Test func onlineShareFromAnotherSessionBlamed() {
        let (_, online) = runSigning(
            shares: Keys.t2n3, signers: [0, 1, 2], seed: "sg-online-session", digest: Self.digest,
            onlineTamper: { m, _ in
                guard m.from == 0 else { return nil }
                var copy = m
                copy.sessionID = sessionID("sg-other")
                return try! copy.signed(with: Party.identity(0))
            })
        Self.expectBlame(online, culprit: 0, honest: [1, 2]) { $0 == .wrongSession }
    }
}
