import CryptoPrimitives
import Foundation
import Secp256k1
import Testing

@testable import MPCMath
@testable import TSSCore

/// Secrets hygiene (issue 3): every secret-holding value of MPCMath and TSSCore prints without
/// its secret — `String(describing:)`, `String(reflecting:)` and `dump` — whether printed alone
/// or inside the state machines that hold it. Each check looks for the secret's own digits (hex
/// of the value, and the decimal array form of byte arrays) in every rendering.
///
/// `Presignature` is `~Copyable`: `String(describing:)`, `String(reflecting:)` and `dump` take
/// copyable arguments, so it cannot be printed at all (checked by the compiler, not here); its
/// content (`PresignatureSecrets`) and the machine that holds it are checked below.
@Suite("Secrets")
struct SecretsTests {
    static func hexLower(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func renderings<T>(_ value: T) -> [String] {
        var dumped = ""
        dump(value, to: &dumped)
        return [String(describing: value), String(reflecting: value), dumped]
    }

    /// The ways a secret's digits could appear: its hex (either case, leading zeros dropped as
    /// `BigNum` prints them), the hex of bytes 1…8 and of the last 8 bytes (a truncated
    /// rendering), and the start of Swift's `[1, 2, 3…]` form of a byte array.
    static func fingerprints(_ secret: [UInt8]) -> [String] {
        let trimmed = Array(secret.drop { $0 == 0 })
        guard trimmed.count >= 9 else { return [] }
        let hex = String(hexLower(trimmed).drop { $0 == "0" })
        let tail = hexLower(Array(trimmed.suffix(8)))
        return [
            hex, hex.uppercased(), tail, tail.uppercased(), hexLower(Array(trimmed[1..<9])),
            String(String(describing: Array(secret.prefix(6))).dropLast()),
        ]
    }

    /// No rendering of `value` contains any fingerprint of any of `secrets`.
    static func expectRedacted<T>(
        _ value: T, hiding secrets: [[UInt8]], _ label: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        expectRedacted(renderings: renderings(value), hiding: secrets, label, sourceLocation: sourceLocation)
    }

    /// No text of `texts` contains any fingerprint of any of `secrets`.
    static func expectRedacted(
        renderings texts: [String], hiding secrets: [[UInt8]], _ label: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let prints = fingerprints
        #expect(!secrets.isEmpty && secrets.allSatisfy { !prints($0).isEmpty }, "\(label): no secret to look for")
        for text in texts {
            for secret in secrets {
                for mark in prints(secret) where text.contains(mark) {
                    Issue.record(
                        "\(label) prints a secret (\(mark.prefix(12))…): \(text.prefix(200))",
                        sourceLocation: sourceLocation)
                }
            }
        }
    }

    static func bytes(_ x: BigNum) -> [UInt8] { x.declassified().magnitudeBytes() }

    // MARK: Leaf types

    @Test func scalarsAndSecretBigNums() {
        var rng = SeededRandom(seed: "secrets-scalar")
        let scalar = Scalar.random(using: &rng)
        Self.expectRedacted(scalar, hiding: [scalar.bytes], "Scalar")
        Self.expectRedacted([scalar, scalar], hiding: [scalar.bytes], "[Scalar]")
        let big = BigNum(scalar)
        #expect(big.isSecret)
        Self.expectRedacted(big, hiding: [scalar.bytes], "secret BigNum")
        // The control: the same number marked public does print (so the check can fail).
        let visible = big.declassified()
        let digits = Self.fingerprints(Self.bytes(visible))
        #expect(Self.renderings(visible).allSatisfy { text in text.contains(digits[2]) || text.contains(digits[3]) })
        let key = Party.identity(3)
        key.withRawBytes { raw in Self.expectRedacted(key, hiding: [raw], "PrivateKey") }
    }

    @Test func paillierAndRingPedersenSecrets() {
        let pre = Party.preParams(2)
        let paillier = pre.paillier.primes
        let rp = pre.ringPedersen.primes
        let secrets = [paillier.p, paillier.q, rp.p, rp.q, pre.ringPedersen.lambda, pre.ringPedersen.phi].map(
            Self.bytes)
        Self.expectRedacted(pre.paillier, hiding: secrets, "PaillierSecretKey")
        Self.expectRedacted(pre.ringPedersen, hiding: secrets, "RingPedersenSecret")
        Self.expectRedacted(pre, hiding: secrets, "KeygenPreParams")
    }

    // MARK: Protocol values

    @Test func keyShare() {
        let share = Keys.t1n3[1]!
        let (p, q) = share.paillierSecret.primes
        Self.expectRedacted(share, hiding: [share.secretShare.bytes, Self.bytes(p), Self.bytes(q)], "KeyShare")
    }

    @Test func keygenMachine() throws {
        let parties: [PartyIndex] = [0, 1, 2]
        let identities = Dictionary(uniqueKeysWithValues: parties.map { ($0, Party.identity($0).publicKey) })
        var rng = SeededRandom(seed: "secrets-keygen")
        let params = KeygenParameters(
            sessionID: sessionID("secrets-keygen"), threshold: 1, parties: parties, me: 0, identities: identities)
        let (machine, _) = try Keygen.start(
            params: params, preParams: Party.preParams(0), identityKey: Party.identity(0), rng: &rng)
        let (p, q) = machine.pre.paillier.primes
        // The commitment salt too: secret until the round-2 decommitment.
        let secrets = machine.coefficients.map(\.bytes) + [Self.bytes(p), Self.bytes(q), machine.salt.copyBytes()]
        Self.expectRedacted(machine, hiding: secrets, "Keygen")
    }

    /// The presigning machine mid-protocol (nonces k_i, γ_i, ρ_i held) and after it finished
    /// (the presignature's k_i, σ_i in its output slot), and `PresignatureSecrets` itself.
    @Test func presigningMachineAndPresignature() throws {
        let shares = Keys.t1n2
        var machines: [PartyIndex: Presigning] = [:]
        var rngs: [PartyIndex: SeededRandom] = [:]
        var initial: [PartyIndex: [Message]] = [:]
        for i: PartyIndex in [0, 1] {
            var rng = SeededRandom(seed: "secrets-presign-\(i)")
            let (m, out) = try Presigning.start(
                keyShare: shares[i]!, params: PresignParameters(sessionID: sessionID("secrets"), signers: [0, 1]),
                identityKey: Party.identity(i), rng: &rng)
            machines[i] = m
            rngs[i] = rng
            initial[i] = out
        }
        let nonces = try #require(machines[0]!.nonces)
        let nonceSecrets = [nonces.k.bytes, nonces.gamma.bytes, Self.bytes(nonces.rho)]
        Self.expectRedacted(machines[0]!, hiding: nonceSecrets + [shares[0]!.secretShare.bytes], "Presigning (round 1)")
        Self.expectRedacted(nonces, hiding: nonceSecrets, "Presigning.Nonces")
        _ = Simulator.run(parties: [0, 1], initial: initial) { p, s, m in
            machines[p]!.receive(from: s, m, rng: &rngs[p]!)
        }
        // Rendered while the output slot still holds the presignature; checked once it is taken.
        let finished = Self.renderings(machines[0]!)
        let secrets = try #require(machines[0]!.output.take())
        let finalSecrets = [secrets.k.bytes, secrets.sigma.bytes]
        Self.expectRedacted(renderings: finished, hiding: finalSecrets, "Presigning (done)")
        Self.expectRedacted(secrets, hiding: finalSecrets, "PresignatureSecrets")
        // The dump reaches the slot object (its Mutex-guarded content is not reflected at all).
        #expect(finished[2].contains("OnceSlot"))
    }
}
