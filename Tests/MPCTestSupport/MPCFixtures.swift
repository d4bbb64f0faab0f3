import CryptoPrimitives
import Foundation
import MPCMath

/// Pre-generated key material so tests never wait for safe primes.
///
/// `Fixtures/mpc-safe-primes.json` holds 10 + 10 pairs of 1024-bit safe primes (public, test
/// only): `paillier[i]` gives party i's Paillier key (N of 2048 bits), `ringPedersen[i]` its
/// ring-Pedersen modulus Ñ; s, t and λ are derived from a seeded generator (`SeededRandom`), so
/// they are the same in every run. Regenerate the primes with
/// `bash Tests/MPCTestSupport/Fixtures/regenerate.sh` (≈ 40 s; `openssl prime -safe`).
///
/// Shared by every test target that needs Paillier or ring-Pedersen keys (MPCMathTests,
/// TSSCoreTests): one copy of the primes, one loader.
public enum MPCFixtures {
    public struct PrimePair: Decodable, Sendable {
        public let p: String
        public let q: String
    }

    public struct File: Decodable, Sendable {
        public let version: Int
        public let paillier: [PrimePair]
        public let ringPedersen: [PrimePair]
    }

    /// The pairs as integers.
    public struct Material: Sendable {
        public let paillier: [(p: BigNum, q: BigNum)]
        public let ringPedersen: [(p: BigNum, q: BigNum)]
    }

    public static func load(from url: URL) throws -> Material {
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        guard file.version == 1 else { throw MPCMathError.invalidParameter("fixture version \(file.version)") }
        func pairs(_ list: [PrimePair]) throws -> [(p: BigNum, q: BigNum)] {
            try list.map { (try BigNum(hex: $0.p, secret: true), try BigNum(hex: $0.q, secret: true)) }
        }
        return Material(paillier: try pairs(file.paillier), ringPedersen: try pairs(file.ringPedersen))
    }

    public static let url: URL = {
        if let url = Bundle.module.url(forResource: "mpc-safe-primes", withExtension: "json") {
            return url
        }
        // Fallback: the source tree next to this file.
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/mpc-safe-primes.json")
    }()

    public static let material: Material = {
        do { return try load(from: url) } catch { fatalError("cannot load \(url.path): \(error)") }
    }()

    /// Party i's Paillier key (primes not re-checked here; `FixtureTests` checks them all once).
    public static let paillierKeys: [PaillierSecretKey] = material.paillier.map {
        try! PaillierSecretKey(p: $0.p, q: $0.q, validatingPrimes: false)
    }

    /// Party i's ring-Pedersen secret, s and t drawn from `SeededRandom(seed: "ring-pedersen-<i>")`.
    public static let ringPedersen: [RingPedersenSecret] = material.ringPedersen.enumerated().map { i, pair in
        var rng = SeededRandom(seed: "ring-pedersen-\(i)")
        return try! RingPedersenSecret(p: pair.p, q: pair.q, using: &rng, validatingPrimes: false)
    }

    /// Party i's ring-Pedersen secret on its own Paillier modulus (Ñ = N, as
    /// `KeygenPreParams.generate` makes them; CGGMP21 Fig. 6), s and t drawn from
    /// `SeededRandom(seed: "ring-pedersen-shared-<i>")`.
    public static let sharedModulusRingPedersen: [RingPedersenSecret] = material.paillier.enumerated().map {
        i, pair in
        var rng = SeededRandom(seed: "ring-pedersen-shared-\(i)")
        return try! RingPedersenSecret(p: pair.p, q: pair.q, using: &rng, validatingPrimes: false)
    }
}
