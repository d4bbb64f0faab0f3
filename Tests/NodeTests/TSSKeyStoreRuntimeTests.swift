import CryptoPrimitives
import Foundation
import LevelDB
import Logging
import NodeKit
import ServiceKit
import TSSStore
import Testing

@testable import TSSSigner

/// The tss-signer's key store as the service opens it: the passphrase file (created by default,
/// required once the store is sealed, explicit paths never invented), a wrong file refused without
/// a write, and the `/status` members.
@Suite("TSS key store runtime", .serialized)
struct TSSKeyStoreRuntimeTests {
    static func dump(_ db: LevelDBStore) throws -> [[UInt8]: [UInt8]] {
        var out: [[UInt8]: [UInt8]] = [:]
        try db.forEach { key, value in
            out[key] = value
            return true
        }
        return out
    }

    @Test func passphraseFileLifecycleAndStatus() async throws {
        let (dir, homes) = try await ServiceShellTests.testnet()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let home = homes[0]
        let context = try ServiceContext.load(kind: .tssSigner, home: home)
        let keyFile = home.configDir + "/" + TSSKeyStoreRuntime.defaultPassphraseFile
        let dbPath = home.dataPath(.tss)

        do {
            let db = try LevelDBStore(path: dbPath)
            defer { db.close() }
            let runtime = try TSSKeyStoreRuntime.open(context: context, db: db)
            #expect(try FileIO.permissions(keyFile) == 0o600)
            #expect(try FileIO.read(keyFile).count == 65)  // 64 hex digits + newline
            let id = try KeyRecordID(keyID: "key-1", sessionID: "0a0b")
            try runtime.store.createPending(id, threshold: 1, parties: [0, 1, 2], me: 2)
            let status = runtime.statusJSON()
            #expect(
                status["preparamsPool"]
                    == .object([
                        "ready": .int(0), "target": .int(2), "generating": .bool(false), "discarded": .int(0),
                        "taken": .int(0),
                    ]))
            #expect(
                status["keys"]
                    == .array([
                        .object([
                            "id": .string("key-1"), "keygenSession": .string("0a0b"), "address": .null, "t": .int(1),
                            "n": .int(3), "status": .string("PENDING"),
                        ])
                    ]))
        }

        // Another key file: refused, nothing written.
        let good = try FileIO.read(keyFile)
        try FileIO.writeAtomically(keyFile, bytes: Array("some other key\n".utf8), mode: 0o600, overwrite: true)
        do {
            let db = try LevelDBStore(path: dbPath)
            defer { db.close() }
            let before = try Self.dump(db)
            let wrong = #expect(throws: KeyStoreError.self) { try TSSKeyStoreRuntime.open(context: context, db: db) }
            #expect("\(String(describing: wrong))".contains("wrong keystore passphrase"))
            #expect(try Self.dump(db) == before)
            // The key file is gone: never replaced by a fresh one for a sealed store.
            try FileIO.remove(keyFile)
            let missing = #expect(throws: KeyStoreError.self) { try TSSKeyStoreRuntime.open(context: context, db: db) }
            #expect("\(String(describing: missing))".contains("restore the file"))
            #expect(!FileIO.exists(keyFile))
            try FileIO.writeAtomically(keyFile, bytes: good, mode: 0o600, overwrite: false)
            let runtime = try TSSKeyStoreRuntime.open(context: context, db: db)
            #expect(try runtime.store.header(KeyRecordID(keyID: "key-1", sessionID: "0a0b")).status == .pending)
        }

        // An explicit path (relative to the home) must exist; one trailing CRLF is dropped.
        var tss = context.config.tss
        tss.keystorePassphraseFile = "secrets/pass.txt"
        let db = try LevelDBStore(path: dir + "/other.db")
        defer { db.close() }
        #expect(throws: KeyStoreError.self) {
            try TSSKeyStoreRuntime.loadPassphrase(config: tss, home: home, db: db, logger: context.logger)
        }
        try FileIO.makeDirectory(home.path + "/secrets")
        try FileIO.writeAtomically(
            home.path + "/secrets/pass.txt", bytes: Array("hunter2hunter2\r\n".utf8), mode: 0o600, overwrite: false)
        let secret = try TSSKeyStoreRuntime.loadPassphrase(config: tss, home: home, db: db, logger: context.logger)
        #expect(secret == SecretBytes(Array("hunter2hunter2".utf8)))
        try FileIO.writeAtomically(home.path + "/secrets/pass.txt", bytes: [0x0a], mode: 0o600, overwrite: true)
        #expect(throws: KeyStoreError.self) {
            try TSSKeyStoreRuntime.loadPassphrase(config: tss, home: home, db: db, logger: context.logger)
        }
    }

    /// The generator fills the pool with real safe primes, refills after a take, and stops when
    /// cancelled; the items open as keygen pre-params with N = Ñ.
    @Test func generatorFillsAndRefills() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vn-pool-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try LevelDBStore(path: dir)
        defer { db.close() }
        let store = try KeyStore.open(
            db: db, passphrase: SecretBytes(Array("pool test".utf8)), scrypt: ScryptParameters(log2N: 10, r: 8, p: 1))
        let pool = try PreParamsPool(store: store, target: 1)
        let service = PreParamsPoolService(pool: pool, logger: Logger(label: "pool-test"))
        let task = Task { try await service.run() }
        #expect(await ServiceShellTests.waitUntil(seconds: 120) { pool.status.ready == 1 })
        let taken = try #require(try pool.take())
        #expect(taken.paillier.publicKey.n == taken.ringPedersen.parameters.n)
        #expect(taken.paillier.publicKey.n.bitLength == 2048)
        #expect(await ServiceShellTests.waitUntil(seconds: 120) { pool.status.ready == 1 && !pool.status.generating })
        task.cancel()
        _ = try? await task.value
        #expect(pool.status.taken == 1)
        let again = try #require(try pool.take())
        #expect(again.paillier.publicKey.n != taken.paillier.publicKey.n)
    }
}
