import CryptoPrimitives
import Foundation
import MPCMath
import Secp256k1
import TSSCore
import Testing

/// A `SeededRandom` the concurrent `LocalCluster` may move between threads: a plain value (seed,
/// counter, buffer) used by one party at a time.
struct ClusterRandom: RandomSource, @unchecked Sendable {
    var base: SeededRandom
    init(seed: String) { base = SeededRandom(seed: seed) }
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) { base.fill(buffer) }
}

/// Lower-case hex without 0x (the simulate JSON's form), strictly.
func hexBytes(_ text: String) throws -> [UInt8] {
    let digits = Array(text.utf8)
    func nibble(_ c: UInt8) throws -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        default: throw CryptoError.invalidParameter("not lower-case hex")
        }
    }
    guard digits.count % 2 == 0 else { throw CryptoError.invalidParameter("odd hex length") }
    return try stride(from: 0, to: digits.count, by: 2).map { try nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
}

/// Cross-verification (issue 3 acceptance): for (t, n) in {(1,2), (1,3), (2,5), (4,7)}, keygen and
/// signing on the concurrent `LocalCluster` with random signer subsets; every signature verifies
/// with libsecp256k1 AND with OpenSSL (`OpenSSLECDSA`, an independent implementation) against the
/// group key, and recovers with its v to the group's Ethereum address. Plus the core of
/// `tss-signer simulate`, its JSON re-read and re-verified.
@Suite("Interop")
struct InteropTests {
    static func cluster(t: Int, n: Int, seed: String) throws -> LocalCluster<ClusterRandom> {
        try LocalCluster(
            threshold: t, identityKeys: (0..<PartyIndex(n)).map(Party.identity),
            rngs: (0..<n).map { ClusterRandom(seed: "\(seed)-party-\($0)") })
    }

    /// keccak(uncompressed key without 0x04)[12...], computed here (not by `ethereumAddress`).
    static func address(_ key: PublicKey) -> [UInt8] { Array(Keccak256.hash(key.uncompressed.dropFirst()).suffix(20)) }

    /// Every check the acceptance criterion names, on one signature.
    static func checkEverywhere(_ signature: RecoverableSignature, digest: [UInt8], groupKey: PublicKey) throws {
        let compact = signature.signature.compact
        let r = Array(compact[0..<32])
        let s = Array(compact[32..<64])
        #expect(signature.signature.isLowS)
        #expect(groupKey.verify(signature.signature, digest: digest), "libsecp256k1")
        #expect(try OpenSSLECDSA.verify(publicKey: groupKey.compressed, digest: digest, r: r, s: s), "OpenSSL")
        #expect(try OpenSSLECDSA.verify(publicKey: groupKey.uncompressed, digest: digest, r: r, s: s), "OpenSSL 65")
        let recovered = try PublicKey.recover(signature, digest: digest)
        #expect(address(recovered) == address(groupKey), "ecrecover with v = \(signature.recoveryID)")
        // The other v recovers a different key: v is not decorative.
        let flipped = try RecoverableSignature(compact: compact, recoveryID: signature.recoveryID ^ 1)
        #expect((try? PublicKey.recover(flipped, digest: digest)).map(address) != address(groupKey))
        // And a tampered digest verifies nowhere.
        var wrong = digest
        wrong[0] ^= 1
        #expect(!groupKey.verify(signature.signature, digest: wrong))
        #expect(try !OpenSSLECDSA.verify(publicKey: groupKey.compressed, digest: wrong, r: r, s: s))
    }

    static func run(t: Int, n: Int, signings: Int) throws {
        let seed = "interop-\(t)-\(n)"
        var cluster = try cluster(t: t, n: n, seed: seed)
        let shares = try cluster.keygen(
            sessionID: sessionID(seed), preParams: (0..<PartyIndex(n)).map(Party.preParams))
        #expect(shares.count == n)
        #expect(Set(shares.map(\.publicKey)).count == 1)
        #expect(Set(shares.map(\.keyID)).count == 1)
        let groupKey = shares[0].groupPublicKey
        var rng = SeededRandom(seed: seed)
        var subsets: Set<[PartyIndex]> = []
        for round in 0..<signings {
            let signers = Array(cluster.parties.shuffled(using: &rng).prefix(t + 1)).sorted()
            subsets.insert(signers)
            let digest = SHA256.hash(Array("interop \(seed) \(round)".utf8))
            let set = try cluster.presign(shares: shares, signers: signers, sessionID: sessionID("\(seed)-\(round)"))
            #expect(set.signers == signers)
            let signature = try cluster.sign(set, digest: digest)
            try checkEverywhere(signature, digest: digest, groupKey: groupKey)
        }
        // Every party sent something in every protocol it took part in.
        #expect(cluster.bytesSent.allSatisfy { $0 > 0 })
    }

    @Test func t1n2() throws { try Self.run(t: 1, n: 2, signings: 2) }
    @Test func t1n3() throws { try Self.run(t: 1, n: 3, signings: 3) }
    @Test func t2n5() throws { try Self.run(t: 2, n: 5, signings: 2) }
    @Test func t4n7() throws { try Self.run(t: 4, n: 7, signings: 2) }

    /// A presigned set signs once: a second `sign` with it (or a copy) is refused, by no peer's
    /// fault.
    @Test func presignedSetIsSingleUse() throws {
        var cluster = try Self.cluster(t: 1, n: 2, seed: "interop-once")
        let set = try cluster.presign(
            shares: Keys.t1n2.keys.sorted().map { Keys.t1n2[$0]! }, signers: [0, 1],
            sessionID: sessionID("interop-once"))
        let copy = set
        let digest = SHA256.hash(Array("once".utf8))
        _ = try cluster.sign(set, digest: digest)
        #expect {
            try cluster.sign(copy, digest: digest)
        } throws: { error in
            guard case .aborted(let aborts) = error as? LocalClusterError else { return false }
            return aborts.values.allSatisfy {
                $0.culprits.isEmpty && $0.reason == .invalidArguments("presignature already used")
            }
        }
    }

    @Test func clusterArgumentsAreChecked() throws {
        let keys = (0..<PartyIndex(3)).map(Party.identity)
        let rngs = (0..<3).map { ClusterRandom(seed: "args-\($0)") }
        #expect(throws: LocalClusterError.self) { try LocalCluster(threshold: 0, identityKeys: keys, rngs: rngs) }
        #expect(throws: LocalClusterError.self) { try LocalCluster(threshold: 3, identityKeys: keys, rngs: rngs) }
        #expect(throws: LocalClusterError.self) {
            try LocalCluster(threshold: 1, identityKeys: keys, rngs: Array(rngs.prefix(2)))
        }
        var cluster = try LocalCluster(threshold: 1, identityKeys: keys, rngs: rngs)
        let shares = Keys.t1n3.keys.sorted().map { Keys.t1n3[$0]! }
        // t+2 signers, a non-party, decreasing order: refused before any message.
        for signers: [PartyIndex] in [[0, 1, 2], [0, 5], [2, 1]] {
            #expect(throws: LocalClusterError.self) {
                try cluster.presign(shares: shares, signers: signers, sessionID: sessionID("args"))
            }
        }
        #expect(throws: LocalClusterError.self) {
            try cluster.keygen(sessionID: sessionID("args"), preParams: [Party.preParams(0)])
        }
    }

    // MARK: tss-signer simulate

    /// The command's core for (1, 2) with three messages: the JSON it prints is parsed back and
    /// every signature re-verified from the printed fields alone (hash, r, s, v, address,
    /// publicKey), by libsecp256k1, OpenSSL and ecrecover.
    @Test func simulateOutputVerifies() throws {
        var rng = SeededRandom(seed: "simulate")
        let report = try LocalSimulation.run(
            threshold: 1, preParams: [Party.preParams(0), Party.preParams(1)], messages: 3,
            rngs: [ClusterRandom(seed: "simulate-0"), ClusterRandom(seed: "simulate-1")], rng: &rng)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["publicKey", "address", "signatures"])
        let publicKeyBytes = try hexBytes(try #require(object["publicKey"] as? String))
        #expect(publicKeyBytes.count == 33)
        let key = try PublicKey(bytes: publicKeyBytes)
        let address = try #require(object["address"] as? String)
        #expect(address == eip55Checksum(addressBytes: Self.address(key)))
        #expect(try parseEthereumAddress(address) == Self.address(key))
        let signatures = try #require(object["signatures"] as? [[String: Any]])
        #expect(signatures.count == 3)
        for entry in signatures {
            #expect(Set(entry.keys) == ["hash", "r", "s", "v", "signers"])
            let hash = try hexBytes(try #require(entry["hash"] as? String))
            let r = try hexBytes(try #require(entry["r"] as? String))
            let s = try hexBytes(try #require(entry["s"] as? String))
            let v = try #require(entry["v"] as? Int)
            let signers = try #require(entry["signers"] as? [Int])
            #expect(hash.count == 32 && r.count == 32 && s.count == 32)
            #expect(v == 0 || v == 1)
            #expect(signers == [0, 1])
            let signature = try RecoverableSignature(compact: r + s, recoveryID: Int32(v))
            try Self.checkEverywhere(signature, digest: hash, groupKey: key)
        }
        #expect(Set(signatures.map { $0["hash"] as? String }).count == 3)
    }

    @Test func simulateArgumentsAreChecked() throws {
        for (n, t, m) in [(1, 1, 1), (2, 0, 1), (2, 2, 1), (3, 5, 1), (17, 2, 1), (3, 1, -1), (3, 1, 10_001)] {
            #expect(throws: LocalClusterError.self, "n \(n) t \(t) m \(m)") {
                try LocalSimulation.validate(parties: n, threshold: t, messages: m)
            }
        }
        try LocalSimulation.validate(parties: 2, threshold: 1, messages: 0)
        try LocalSimulation.validate(parties: 16, threshold: 15, messages: 10_000)
        var rng = SeededRandom(seed: "simulate-args")
        #expect(throws: LocalClusterError.self) {
            try LocalSimulation.run(
                threshold: 2, preParams: [Party.preParams(0), Party.preParams(1)], messages: 1,
                rngs: [ClusterRandom(seed: "a"), ClusterRandom(seed: "b")], rng: &rng)
        }
    }
}
