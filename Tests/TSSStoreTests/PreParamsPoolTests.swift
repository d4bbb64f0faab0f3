import CryptoPrimitives
import Foundation
import LevelDB
import MPCMath
import MPCTestSupport
import Testing
import Wire

@testable import TSSCore
@testable import TSSStore

@Suite("PreParamsPool")
struct PreParamsPoolTests {
    @Test func codecRoundTripKeepsEveryParameter() throws {
        let item = try storedPreParams(1)
        let decoded = try StoredPreParams(decoding: item.encode())
        let a = item.preParams
        let b = decoded.preParams
        #expect(a.paillier.primes.p == b.paillier.primes.p && a.paillier.primes.q == b.paillier.primes.q)
        #expect(a.ringPedersen.parameters == b.ringPedersen.parameters)
        #expect(a.ringPedersen.lambda == b.ringPedersen.lambda)
        #expect(b.ringPedersen.parameters.n == b.paillier.publicKey.n)  // N = Ñ
        #expect(decoded.encode() == item.encode())

        // s or t changed (stored values checked against the seed) → refused.
        var bytes = item.encode()
        bytes[bytes.count - 1] ^= 0x02
        #expect(throws: (any Error).self) { try StoredPreParams(decoding: bytes) }
        #expect(throws: (any Error).self) { try StoredPreParams(decoding: item.encode() + [0]) }
        var version = item.encode()
        version[0] = 2
        #expect(throws: (any Error).self) { try StoredPreParams(decoding: version) }
    }

    @Test func persistedAcrossReopenAndNeverHandedOutTwice() throws {
        let dir = TempDir()
        let moduli = try (0..<3).map { try storedPreParams($0).preParams.paillier.publicKey.n }
        var handedOut: [BigNum] = []
        do {
            let (db, store) = try openStore(dir.path)
            let pool = try PreParamsPool(store: store, target: 3)
            #expect(pool.status == .init(ready: 0, target: 3, generating: false, discarded: 0, taken: 0))
            #expect(pool.missing == 3)
            for i in 0..<3 { try pool.add(storedPreParams(i)) }
            #expect(pool.missing == 0)
            db.close()
        }
        do {
            let (db, store) = try openStore(dir.path)
            let pool = try PreParamsPool(store: store, target: 3)
            #expect(pool.status.ready == 3)
            let first = try #require(try pool.take())
            handedOut.append(first.paillier.publicKey.n)
            #expect(first.ringPedersen.parameters.n == first.paillier.publicKey.n)
            #expect(pool.status.ready == 2 && pool.status.taken == 1 && pool.missing == 1)
            db.close()  // "crash" right after the take: the item is already gone on disk
        }
        do {
            let (db, store) = try openStore(dir.path)
            defer { db.close() }
            let pool = try PreParamsPool(store: store, target: 3)
            #expect(pool.status.ready == 2)
            while let next = try pool.take() { handedOut.append(next.paillier.publicKey.n) }
            #expect(pool.status.ready == 0)
            #expect(try pool.take() == nil)
            // New items get new numbers (the counter survives), old ones never come back.
            try pool.add(storedPreParams(4))
            let again = try #require(try pool.take())
            #expect(again.paillier.publicKey.n == (try storedPreParams(4)).preParams.paillier.publicKey.n)
        }
        #expect(handedOut.count == 3)
        #expect(Set(handedOut.map { Hex.encode($0.magnitudeBytes()) }).count == 3)
        #expect(
            Set(handedOut.map { Hex.encode($0.magnitudeBytes()) })
                == Set(moduli.map { Hex.encode($0.magnitudeBytes()) }))
    }

    @Test func concurrentTakersGetDistinctItems() async throws {
        let dir = TempDir()
        let (db, store) = try openStore(dir.path)
        defer { db.close() }
        let pool = try PreParamsPool(store: store, target: 4)
        for i in 0..<4 { try pool.add(storedPreParams(i)) }
        // Every take either hands out an item or finds the pool empty; an error fails the test
        // (it must not pass as "empty").
        let results = await withTaskGroup(of: Result<String?, KeyStoreError>.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    Result { () throws(KeyStoreError) in
                        try pool.take().map { Hex.encode($0.paillier.publicKey.n.magnitudeBytes()) }
                    }
                }
            }
            var out: [Result<String?, KeyStoreError>] = []
            for await x in group { out.append(x) }
            return out
        }
        for case .failure(let error) in results { Issue.record("take failed: \(error)") }
        let got = results.compactMap { try? $0.get() }.compactMap { $0 }
        #expect(got.count == 4)
        #expect(Set(got).count == 4)
    }

    @Test func tamperedItemIsDiscardedNotUsed() throws {
        let dir = TempDir()
        let (db, store) = try openStore(dir.path)
        defer { db.close() }
        let pool = try PreParamsPool(store: store, target: 2)
        try pool.add(storedPreParams(0))
        try pool.add(storedPreParams(1))
        let key0 = PreParamsPool.key(0)
        var bytes = try #require(try db.get(key0))
        bytes[bytes.count - 20] ^= 0x01
        try db.put(key0, bytes)
        // Item 1 moved under number 2's key: refused too.
        let item1 = try #require(try db.get(PreParamsPool.key(1)))
        try db.put(PreParamsPool.key(2), item1)
        try db.put(PreParamsPool.key(3), try #require(try db.get(PreParamsPool.key(1))))
        try db.delete(PreParamsPool.key(1))
        let reopened = try PreParamsPool(store: store, target: 2)
        #expect(reopened.status.ready == 3)
        #expect(try reopened.take() == nil)
        #expect(reopened.status.discarded == 3)
        #expect(try dump(db).keys.filter { $0.starts(with: Array("preparams/".utf8)) }.isEmpty)
    }
}
