import CryptoPrimitives
import Foundation
import LevelDB
import MPCMath
import MPCTestSupport
import Secp256k1

@testable import TSSCore
@testable import TSSStore

/// Small scrypt cost so each open takes milliseconds (the default, 2^15, is tested once).
let testScrypt = try! ScryptParameters(log2N: 10, r: 8, p: 1)
let passA = SecretBytes(Array("correct horse battery staple".utf8))
let passB = SecretBytes(Array("correct horse battery stapler".utf8))

/// A fresh directory, removed by `cleanup`.
final class TempDir {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tssstore-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func sub(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Opens `path` and the key store in it.
func openStore(
    _ path: String, _ passphrase: SecretBytes = passA, clock: @escaping @Sendable () -> UInt64 = { 1_700_000_000_000 }
) throws -> (LevelDBStore, KeyStore) {
    let db = try LevelDBStore(path: path)
    do {
        return (db, try KeyStore.open(db: db, passphrase: passphrase, scrypt: testScrypt, clock: clock))
    } catch {
        db.close()
        throw error
    }
}

/// `SeededRandom` made Sendable for `LocalCluster` (each party's copy is used by one thread).
struct ClusterRandom: RandomSource, @unchecked Sendable {
    var inner: SeededRandom
    init(seed: String) { inner = SeededRandom(seed: seed) }
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) { inner.fill(buffer) }
}

/// Key shares of one real GG20 keygen (t = 1, n = 2) on the fixture pre-params, made once.
enum Shares {
    static let all: [KeyShare] = {
        let n = 2
        let keys = (0..<n).map { try! PrivateKey(bytes: SHA256.hash(Array("store-identity-\($0)".utf8))) }
        var cluster = try! LocalCluster(
            threshold: 1, identityKeys: keys, rngs: (0..<n).map { ClusterRandom(seed: "store-keygen-\($0)") })
        let pre = (0..<n).map {
            KeygenPreParams(
                paillier: MPCFixtures.paillierKeys[$0], ringPedersen: MPCFixtures.sharedModulusRingPedersen[$0])
        }
        return try! cluster.keygen(sessionID: Array("tss-store-tests-keygen-session".utf8), preParams: pre)
    }()

    /// The secrets a stolen store must not reveal: x_i and the Paillier primes p, q (binary).
    static func secrets(_ share: KeyShare) -> [(String, [UInt8])] {
        let (p, q) = share.paillierSecret.primes
        return [("x_i", share.secretShare.bytes), ("p", p.magnitudeBytes()), ("q", q.magnitudeBytes())]
    }
}

/// Fixture pre-params i as a pool item (primes from the fixtures, seed from `seed`).
func storedPreParams(_ i: Int, seed: String = "pool") throws -> StoredPreParams {
    let pair = MPCFixtures.material.paillier[i]
    return try StoredPreParams(p: pair.p, q: pair.q, seed: SecretBytes(SHA256.hash(Array("\(seed)-\(i)".utf8))))
}

/// Every regular file under `path` (recursively) with its bytes.
func files(under path: String) -> [String: [UInt8]] {
    var out: [String: [UInt8]] = [:]
    let enumerator = FileManager.default.enumerator(atPath: path)
    while let name = enumerator?.nextObject() as? String {
        let full = (path as NSString).appendingPathComponent(name)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue,
            let data = FileManager.default.contents(atPath: full)
        {
            out[name] = [UInt8](data)
        }
    }
    return out
}

/// True when `needle` occurs in `haystack`.
func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return false }
    let first = needle[0]
    var i = 0
    while i <= haystack.count - needle.count {
        if haystack[i] == first, Array(haystack[i..<(i + needle.count)]) == needle { return true }
        i += 1
    }
    return false
}

/// Every key and value of a LevelDB database.
func dump(_ db: LevelDBStore) throws -> [[UInt8]: [UInt8]] {
    var out: [[UInt8]: [UInt8]] = [:]
    try db.forEach { key, value in
        out[key] = value
        return true
    }
    return out
}

func recordID(_ key: String, _ session: String = "sess-1") -> KeyRecordID {
    try! KeyRecordID(keyID: key, sessionID: session)
}
