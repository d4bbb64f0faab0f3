import Foundation
import LevelDB
import Testing

@Suite("LevelDB")
struct LevelDBTests {
    @Test func crud() throws {
        try withTemporaryDirectory { dir in
            let store = try LevelDBStore(path: dir + "/db")
            defer { store.close() }
            #expect(try store.get(bytes("missing")) == nil)
            try store.put(bytes("a"), bytes("1"))
            #expect(try store.get(bytes("a")) == bytes("1"))
            try store.put(bytes("a"), bytes("2"), sync: false)
            #expect(try store.get(bytes("a")) == bytes("2"))
            // Empty keys and values, and binary bytes (NUL included), are ordinary data.
            try store.put([], [])
            #expect(try store.get([]) == [])
            let binary: [UInt8] = [0, 255, 0, 1]
            try store.put(binary, binary + binary)
            #expect(try store.get(binary) == binary + binary)
            try store.delete(bytes("a"))
            #expect(try store.get(bytes("a")) == nil)
            try store.delete(bytes("never-there"))
            let big = [UInt8](repeating: 7, count: 1 << 20)
            try store.put(bytes("big"), big)
            #expect(try store.get(bytes("big")) == big)
        }
    }

    @Test func batchIsAtomicAndOrdered() throws {
        try withTemporaryDirectory { dir in
            let store = try LevelDBStore(path: dir + "/db")
            defer { store.close() }
            try store.put(bytes("old"), bytes("x"))
            var batch = WriteBatch()
            batch.put(bytes("k1"), bytes("v1"))
            batch.put(bytes("k2"), bytes("v2"))
            batch.delete(bytes("old"))
            batch.put(bytes("k1"), bytes("v1-final"))  // later operations win
            #expect(batch.count == 4)
            try store.write(batch)
            #expect(try store.get(bytes("k1")) == bytes("v1-final"))
            #expect(try store.get(bytes("k2")) == bytes("v2"))
            #expect(try store.get(bytes("old")) == nil)
            try store.write(WriteBatch())  // empty batch is a no-op
            // A batch written to a closed store applies nothing.
            store.close()
            var late = WriteBatch()
            late.put(bytes("k3"), bytes("v3"))
            #expect(throws: LevelDBError.closed) { try store.write(late) }
            let reopened = try LevelDBStore(path: dir + "/db")
            defer { reopened.close() }
            #expect(try reopened.get(bytes("k3")) == nil)
            #expect(try reopened.get(bytes("k1")) == bytes("v1-final"))
        }
    }

    @Test func batchIsAllOrNothingUnderConcurrentReaders() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vn-ldb-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try LevelDBStore(path: dir)
        defer { store.close() }
        // Writer flips 16 keys together between "a" and "b"; readers must never see a mix.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for round in 0..<200 {
                    var batch = WriteBatch()
                    for i in 0..<16 { batch.put([UInt8(i)], round % 2 == 0 ? bytes("a") : bytes("b")) }
                    try store.write(batch, sync: false)
                }
            }
            for _ in 0..<2 {
                group.addTask {
                    for _ in 0..<200 {
                        var seen = Set<[UInt8]>()
                        try store.forEach { _, value in
                            seen.insert(value); return true
                        }
                        #expect(seen.count <= 1)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func prefixIterationIsOrderedAndBounded() throws {
        try withTemporaryDirectory { dir in
            let store = try LevelDBStore(path: dir + "/db")
            defer { store.close() }
            let keys = ["b:2", "a:9", "b:10", "b:1", "c:0", "b", "b:\u{ff}", "ba"]
            for key in keys { try store.put(bytes(key), bytes("v-" + key)) }
            var seen: [String] = []
            try store.forEach(prefix: bytes("b:")) { key, value in
                #expect(value == bytes("v-") + key)
                seen.append(String(decoding: key, as: UTF8.self))
                return true
            }
            #expect(seen == ["b:1", "b:10", "b:2", "b:\u{ff}"])
            var all: [[UInt8]] = []
            try store.forEach { key, _ in
                all.append(key); return true
            }
            #expect(all == keys.map(bytes).sorted { $0.lexicographicallyPrecedes($1) })
            var firstTwo: [[UInt8]] = []
            try store.forEach(prefix: bytes("b")) { key, _ in
                firstTwo.append(key); return firstTwo.count < 2
            }
            #expect(firstTwo == [bytes("b"), bytes("b:1")])
            var none = 0
            try store.forEach(prefix: bytes("zz")) { _, _ in
                none += 1; return true
            }
            #expect(none == 0)
            // Errors thrown by the body propagate.
            struct Stop: Error {}
            #expect(throws: Stop.self) { try store.forEach { _, _ in throw Stop() } }
        }
    }

    @Test func persistsAcrossReopen() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/db"
            do {
                let store = try LevelDBStore(path: path)
                try store.put(bytes("durable"), bytes("yes"))
                store.close()
                store.close()  // idempotent
                #expect(store.isClosed)
                #expect(throws: LevelDBError.closed) { try store.get(bytes("durable")) }
                #expect(throws: LevelDBError.closed) { try store.put(bytes("x"), bytes("y")) }
                #expect(throws: LevelDBError.closed) { try store.delete(bytes("x")) }
                #expect(throws: LevelDBError.closed) { try store.forEach { _, _ in true } }
            }
            do {
                // Dropped without close(): deinit closes it.
                let store = try LevelDBStore(path: path)
                try store.put(bytes("second"), bytes("2"))
            }
            let store = try LevelDBStore(path: path, createIfMissing: false)
            defer { store.close() }
            #expect(try store.get(bytes("durable")) == bytes("yes"))
            #expect(try store.get(bytes("second")) == bytes("2"))
        }
    }

    @Test func secondOpenIsALockError() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/db"
            let first = try LevelDBStore(path: path)
            do {
                _ = try LevelDBStore(path: path)
                Issue.record("second open succeeded")
            } catch let error as LevelDBError {
                guard case .locked(let message) = error else {
                    Issue.record("expected .locked, got \(error)")
                    return
                }
                #expect(message.contains("LOCK"))
                #expect(error.description.contains("locked"))
            }
            first.close()
            // Once closed, the directory can be opened again.
            let again = try LevelDBStore(path: path)
            again.close()
        }
    }

    @Test func openOptionsAndBadArguments() throws {
        try withTemporaryDirectory { dir in
            #expect(throws: LevelDBError.self) { try LevelDBStore(path: dir + "/absent", createIfMissing: false) }
            do {
                _ = try LevelDBStore(path: dir + "/absent", createIfMissing: false)
            } catch let error as LevelDBError {
                guard case .notFound = error else { Issue.record("expected .notFound, got \(error)"); return }
            }
            let store = try LevelDBStore(path: dir + "/exists")
            store.close()
            #expect(throws: LevelDBError.self) { try LevelDBStore(path: dir + "/exists", errorIfExists: true) }
            #expect(throws: LevelDBError.self) { try LevelDBStore(path: "") }
            #expect(throws: LevelDBError.self) { try LevelDBStore(path: dir + "/x", cacheBytes: -1) }
            let noCache = try LevelDBStore(path: dir + "/nocache", cacheBytes: 0)
            try noCache.put([1], [2])
            noCache.close()
            try LevelDBStore.destroy(path: dir + "/nocache")
            #expect(!FileManager.default.fileExists(atPath: dir + "/nocache/CURRENT"))
        }
    }

    @Test func temporaryDirectoriesAreRemoved() throws {
        var path = ""
        try withTemporaryDirectory { dir in
            path = dir
            let store = try LevelDBStore(path: dir + "/db")
            try store.put([1], [1])
            store.close()
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
