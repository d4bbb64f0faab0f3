import CryptoPrimitives
import Foundation
import MPCMath
import Secp256k1
import TSSCore
import Testing

/// Keygen + presign + online signing over a (t, n) matrix with random signer subsets. Every
/// signature is checked by libsecp256k1 directly and recovered (with v) to the group's Ethereum
/// address, computed here as keccak(uncompressed key)[12...].
@Suite("End to end")
struct EndToEndTests {
    static func ethereumAddress(_ key: PublicKey) -> [UInt8] {
        Array(Keccak256.hash(key.uncompressed.dropFirst()).suffix(20))
    }

    static func checkSignatures(_ shares: [PartyIndex: KeyShare], t: Int, rounds: Int, seed: String) throws {
        let n = shares.count
        var rng = SeededRandom(seed: seed)
        let key = shares[0]!.groupPublicKey
        for share in shares.values { #expect(share.publicKey == shares[0]!.publicKey) }
        for round in 0..<rounds {
            var parties = (0..<PartyIndex(n)).map { $0 }
            parties.shuffle(using: &rng)
            let signers = Array(parties.prefix(t + 1)).sorted()
            let digest = SHA256.hash(Array("message \(seed) \(round)".utf8))
            let (_, online) = runSigning(shares: shares, signers: signers, seed: "\(seed)-\(round)", digest: digest)
            #expect(online.count == signers.count)
            var seen: Set<RecoverableSignature> = []
            for i in signers {
                let signature = try #require(try online[i]?.get())
                seen.insert(signature)
                #expect(signature.signature.isLowS)
                #expect(key.verify(signature.signature, digest: digest))
                let recovered = try PublicKey.recover(signature, digest: digest)
                #expect(Self.ethereumAddress(recovered) == Self.ethereumAddress(key))
            }
            #expect(seen.count == 1)
        }
    }

    @Test func t1n2() throws { try Self.checkSignatures(Keys.t1n2, t: 1, rounds: 2, seed: "e2e-1-2") }
    @Test func t1n3() throws { try Self.checkSignatures(Keys.t1n3, t: 1, rounds: 3, seed: "e2e-1-3") }
    @Test func t2n5() throws { try Self.checkSignatures(Keys.t2n5, t: 2, rounds: 2, seed: "e2e-2-5") }

    /// (4, 7): TSS_HEAVY=1 (measured separately; slow in debug).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TSS_HEAVY"] != nil))
    func t4n7() throws {
        var shares: [PartyIndex: KeyShare] = [:]
        let keygen = seconds { shares = Keys.generate(t: 4, n: 7) }
        var signing = 0.0
        signing = try seconds { try Self.checkSignatures(shares, t: 4, rounds: 1, seed: "e2e-4-7") }
        print("{\"name\": \"tss.keygen.n7t4.pooled.debug\", \"s\": \(keygen)}")
        print("{\"name\": \"tss.sign.full.5of7.debug\", \"s\": \(signing)}")
    }

    /// Prints debug timings of one keygen and one signing (TSS_MEASURE=1).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TSS_MEASURE"] != nil))
    func measure() throws {
        for (t, n) in [(1, 2), (1, 3), (2, 5)] {
            var shares: [PartyIndex: KeyShare] = [:]
            let keygen = seconds { shares = Keys.generate(t: t, n: n) }
            let sign = try seconds { try Self.checkSignatures(shares, t: t, rounds: 1, seed: "measure-\(t)-\(n)") }
            print("{\"name\": \"tss.keygen.n\(n)t\(t).pooled.debug\", \"s\": \(keygen)}")
            print("{\"name\": \"tss.sign.full.\(t + 1)of\(n).debug\", \"s\": \(sign)}")
        }
    }

    @Test func keyShareRoundTripAndRedaction() throws {
        let share = Keys.t1n2[0]!
        let decoded = try KeyShare(decoding: share.encode())
        #expect(decoded.encode() == share.encode())
        #expect(decoded.keyID == share.keyID)
        #expect(share.description.contains("<redacted>"))
        #expect(String(reflecting: share) == share.description)
        var bytes = share.encode()
        bytes[bytes.count - 200] ^= 1  // inside p: p·q ≠ N
        #expect(throws: (any Error).self) { try KeyShare(decoding: bytes) }
        #expect(throws: (any Error).self) { try KeyShare(decoding: share.encode() + [0]) }
    }

    @Test func presignatureIsSingleUse() throws {
        let shares = Keys.t1n2
        var machines: [PartyIndex: Presigning] = [:]
        var rngs: [PartyIndex: SeededRandom] = [:]
        var initial: [PartyIndex: [Message]] = [:]
        for i: PartyIndex in [0, 1] {
            var rng = SeededRandom(seed: "once-\(i)")
            let (m, out) = try Presigning.start(
                keyShare: shares[i]!, params: PresignParameters(sessionID: sessionID("once"), signers: [0, 1]),
                identityKey: Party.identity(i), rng: &rng)
            machines[i] = m
            rngs[i] = rng
            initial[i] = out
        }
        _ = Simulator.run(parties: [0, 1], initial: initial) { p, s, m in
            machines[p]!.receive(from: s, m, rng: &rngs[p]!)
        }
        let copy = machines[0]!
        let first = machines[0]!.takePresignature()
        let second = machines[0]!.takePresignature()
        let fromCopy = copy.takePresignature()  // copies share the slot
        let firstTaken = first != nil
        let secondTaken = second != nil
        let copyTaken = fromCopy != nil
        #expect(firstTaken)
        #expect(!secondTaken)
        #expect(!copyTaken)
    }

    @Test func argumentsAreChecked() throws {
        let ids = Dictionary(
            uniqueKeysWithValues: (0..<3).map { (PartyIndex($0), Party.identity(PartyIndex($0)).publicKey) })
        var rng = SeededRandom(seed: "args")
        func start(_ params: KeygenParameters) -> Abort? {
            do {
                _ = try Keygen.start(
                    params: params, preParams: Party.preParams(0), identityKey: Party.identity(0), rng: &rng)
                return nil
            } catch { return error }
        }
        let good = KeygenParameters(
            sessionID: sessionID("args"), threshold: 1, parties: [0, 1, 2], me: 0, identities: ids)
        #expect(start(good) == nil)
        // A share id ≡ 0 mod q.
        var zero = good
        zero.shareIDs[1] = .zero
        #expect(start(zero)?.reason == .invalidArguments("share id ≡ 0 mod q"))
        var dup = good
        dup.shareIDs[2] = dup.shareIDs[1]
        #expect(start(dup)?.reason == .invalidArguments("share ids not distinct mod q"))
        var badT = good
        badT.threshold = 3
        #expect(start(badT) != nil)
        // A threshold whose signings would exceed the signer bound (type-7 blame's data and work).
        let many = (0..<16).map { PartyIndex($0) }
        let manyIDs = Dictionary(uniqueKeysWithValues: many.map { ($0, Party.identity($0).publicKey) })
        let wide = KeygenParameters(
            sessionID: sessionID("args-wide"), threshold: 15, parties: many, me: 0, identities: manyIDs)
        #expect(start(wide)?.reason == .invalidArguments("t ≤ 14: a signing takes t + 1 ≤ 15 signers"))
        var widest = wide
        widest.threshold = 14
        #expect(start(widest) == nil)
        // Presigning with t+2 signers is refused.
        var rng2 = SeededRandom(seed: "args2")
        #expect(throws: Abort.self) {
            try Presigning.start(
                keyShare: Keys.t1n3[0]!, params: PresignParameters(sessionID: sessionID("x"), signers: [0, 1, 2]),
                identityKey: Party.identity(0), rng: &rng2)
        }
    }

    @Test func messageCodecRoundTrip() throws {
        let m = try Message(
            kind: .presign, sessionID: sessionID("codec"), round: 3, from: 2, to: .party(1), payload: [1, 2, 3]
        ).signed(with: Party.identity(2))
        #expect(try Message(decoding: m.encode()) == m)
        #expect(throws: (any Error).self) { try Message(decoding: m.encode() + [0]) }
    }
}
