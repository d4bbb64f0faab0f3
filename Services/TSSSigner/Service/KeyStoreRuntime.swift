import CryptoPrimitives
import Foundation
import LevelDB
import Logging
import MPCMath
import NodeKit
import ServiceKit
import ServiceLifecycle
import Synchronization
import TSSCore
import TSSStore
import Wire

#if canImport(Glibc)
    import Glibc
#endif

/// The tss-signer's key store and pre-params pool as the running service holds them: opened at
/// start from `[tss] keystore_passphrase_file`, the pool refilled by `PreParamsPoolService`.
public struct TSSKeyStoreRuntime: Sendable {
    public let store: KeyStore
    public let pool: PreParamsPool
    let generator: PreParamsPoolService

    /// The file name used when `tss.keystore_passphrase_file` is empty.
    public static let defaultPassphraseFile = "tss_keystore.key"

    /// Opens the store in `db` (a wrong passphrase file throws before anything is written) and
    /// prepares the pool.
    public static func open(context: ServiceContext, db: LevelDBStore) throws -> TSSKeyStoreRuntime {
        let logger = context.logger
        let passphrase = try loadPassphrase(config: context.config.tss, home: context.home, db: db, logger: logger)
        let store = try KeyStore.open(db: db, passphrase: passphrase)
        let pool = try PreParamsPool(store: store, target: context.config.tss.preparamsPoolTarget)
        let keys = try store.records()
        logger.info(
            "keystore open",
            metadata: [
                "path": "\(store.path)", "keys": "\(keys.count)", "kdf": "\(store.scryptParameters)",
                "preparams_ready": "\(pool.status.ready)", "preparams_target": "\(pool.target)",
            ])
        for case .failure(let error) in keys {
            logger.error("keystore record refused", metadata: ["error": "\(error)"])
        }
        return TSSKeyStoreRuntime(store: store, pool: pool, generator: PreParamsPoolService(pool: pool, logger: logger))
    }

    /// Adds pre-params made elsewhere (safe primes p, q per item, hex) to the pool of the stopped
    /// tss-signer of `home`: each pair is checked (safe primes, equal size, N ≥ 2048 bits) before
    /// it is sealed. For operators with a faster machine, and for tests that must not wait for
    /// primes. Returns how many were added and how many are ready now.
    public static func importPreParams(
        home: NodeHome, pairs: [(p: String, q: String)], logger: Logger
    ) throws -> (
        added: Int, ready: Int
    ) {
        let config = try NodeConfig.load(home: home)
        let db = try LevelDBStore(path: home.dataPath(.tss))
        defer { db.close() }
        let passphrase = try loadPassphrase(config: config.tss, home: home, db: db, logger: logger)
        let store = try KeyStore.open(db: db, passphrase: passphrase)
        let pool = try PreParamsPool(store: store, target: config.tss.preparamsPoolTarget)
        var added = 0
        for (i, pair) in pairs.enumerated() {
            do {
                let p = try BigNum(hex: pair.p, secret: true)
                let q = try BigNum(hex: pair.q, secret: true)
                _ = try PaillierSecretKey(p: p, q: q, validatingPrimes: true)
                try pool.add(
                    try StoredPreParams(p: p, q: q, seed: SecretBytes.random(count: StoredPreParams.seedByteCount)))
                added += 1
            } catch {
                throw KeyStoreError.invalidArgument("pre-params item \(i): \(error)")
            }
        }
        return (added, pool.status.ready)
    }

    /// Opens the key store of a stopped tss-signer (for the backup commands); `body` runs with it.
    public static func withStore<T>(home: NodeHome, logger: Logger, _ body: (KeyStore) throws -> T) throws -> T {
        let config = try NodeConfig.load(home: home)
        let db = try LevelDBStore(path: home.dataPath(.tss))
        defer { db.close() }
        let passphrase = try loadPassphrase(config: config.tss, home: home, db: db, logger: logger)
        return try body(try KeyStore.open(db: db, passphrase: passphrase, create: false))
    }

    /// The passphrase file's contents (one trailing newline dropped). With the default setting a
    /// missing file is created (32 random bytes, hex, mode 0600), but only for a store that has
    /// never been sealed: otherwise the shards would be unreadable, so that is an error.
    static func loadPassphrase(
        config: NodeConfig.TSS, home: NodeHome, db: LevelDBStore, logger: Logger
    ) throws -> SecretBytes {
        let configured = config.keystorePassphraseFile
        let path: String =
            configured.isEmpty
            ? FileIO.join(home.configDir, defaultPassphraseFile)
            : configured.hasPrefix("/") ? configured : FileIO.join(home.path, configured)
        if !FileIO.exists(path) {
            guard configured.isEmpty else {
                throw KeyStoreError.io("tss.keystore_passphrase_file \(path) does not exist")
            }
            guard try !KeyStore.isInitialized(db) else {
                throw KeyStoreError.io(
                    "keystore passphrase file \(path) is missing, but \(db.path) was sealed with one: restore the file")
            }
            var key = Array(Hex.encode(SecureRandom.bytes(32)).utf8) + [0x0a]
            defer { secureZero(&key) }
            try FileIO.writeAtomically(path, bytes: key, mode: NodeHome.keyFileMode, overwrite: false)
            logger.notice(
                "created a keystore key file; keep a copy off this host (without it the key shards cannot be opened)",
                metadata: ["path": "\(path)"])
        }
        if let mode = try? FileIO.permissions(path), mode & 0o077 != 0 {
            logger.warning(
                "keystore passphrase file is readable by group or others",
                metadata: ["path": "\(path)", "fix": "chmod 600 \(path)"])
        }
        var bytes = try FileIO.read(path, maxBytes: 64 << 10)
        defer { secureZero(&bytes) }
        var end = bytes.count
        if end > 0, bytes[end - 1] == 0x0a { end -= 1 }
        if end > 0, bytes[end - 1] == 0x0d { end -= 1 }
        guard end > 0 else { throw KeyStoreError.invalidArgument("keystore passphrase file \(path) is empty") }
        return try SecretBytes(count: end) { out in
            bytes.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
        }
    }

    /// `/status` members: `preparamsPool` {ready, target, generating, discarded, taken} and `keys`
    /// (id, keygen session, address, t, n, status) from the public headers.
    public func statusJSON() -> [String: JSONValue] {
        let s = pool.status
        var keys: [JSONValue] = []
        for result in (try? store.publicHeaders()) ?? [] {
            switch result {
            case .success(let h):
                keys.append(
                    .object([
                        "id": .string(h.id.keyID), "keygenSession": .string(h.id.sessionID),
                        "address": h.addressHex.map { .string($0) } ?? .null, "t": .int(h.threshold),
                        "n": .int(h.n), "status": .string(h.status.description),
                    ]))
            case .failure(let error):
                keys.append(.object(["error": .string("\(error)")]))
            }
        }
        return [
            "preparamsPool": .object([
                "ready": .int(s.ready), "target": .int(s.target), "generating": .bool(s.generating),
                "discarded": .int(s.discarded), "taken": .int(s.taken),
            ]),
            "keys": .array(keys),
        ]
    }

    var extras: LocalServiceExtras {
        let runtime = self
        return LocalServiceExtras(
            services: [generator],
            readinessChecks: [
                ReadinessCheck(name: "keystore") {
                    runtime.store.isClosed ? .notReady("\(runtime.store.path) is closed") : .ready("keystore open")
                }
            ],
            status: { runtime.statusJSON() })
    }
}

/// Keeps the pre-params pool at its target: one item at a time, its two primes on two threads of
/// their own at low priority (nice 10), so neither the event loops nor the signing sessions wait
/// for primes. Wakes when an item is taken. Logs each item with its duration.
final class PreParamsPoolService: Service, Sendable {
    let pool: PreParamsPool
    let logger: Logger

    init(pool: PreParamsPool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await self.loop()
        }
    }

    private func loop() async throws {
        var taken = pool.taken.makeAsyncIterator()
        while !Task.isCancelled {
            let missing = pool.missing
            if missing == 0 {
                guard await taken.next() != nil else { return }
                continue
            }
            pool.setGenerating(true)
            let started = Monotonic.nowMs()
            logger.info(
                "generating keygen pre-params",
                metadata: ["ready": "\(pool.status.ready)", "target": "\(pool.target)"])
            do {
                let item = try await Self.generateInBackground()
                try pool.add(item)
                pool.setGenerating(false)
                logger.info(
                    "keygen pre-params ready",
                    metadata: [
                        "ready": "\(pool.status.ready)", "target": "\(pool.target)",
                        "ms": "\(Monotonic.nowMs() - started)",
                    ])
            } catch is CancellationError {
                pool.setGenerating(false)
                return
            } catch {
                pool.setGenerating(false)
                logger.error("keygen pre-params generation failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(5))
            }
        }
    }

    /// One item, as `KeygenPreParams.generate()` makes them (two safe primes of half the modulus
    /// size drawn at once, p ≠ q, N = Ñ; CGGMP21 Fig. 6) but with each prime on a thread of its own
    /// at nice 10 — `generate()` draws its second prime on a default-priority Dispatch worker — and
    /// s, t, λ from a fresh seed so the item can be stored (`StoredPreParams`). Cancellation returns
    /// at once; the threads finish their primes and the results are dropped.
    static func generateInBackground() async throws -> StoredPreParams {
        let bits = PaillierPublicKey.minimumModulusBits / 2
        while true {
            async let p = onNicedThread { try BigNum.generateSafePrime(bits: bits) }
            async let q = onNicedThread { try BigNum.generateSafePrime(bits: bits) }
            let (pp, qq) = try await (p, q)
            guard pp != qq else { continue }  // probability ≈ 2^-1000: draw again
            return try await onNicedThread {
                try StoredPreParams(p: pp, q: qq, seed: SecretBytes.random(count: StoredPreParams.seedByteCount))
            }
        }
    }

    /// Runs `body` on a new thread at nice 10 (Linux keeps the nice value per thread).
    static func onNicedThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let slot = ResultSlot<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                guard slot.install(continuation) else { return }
                let thread = Thread {
                    #if canImport(Glibc)
                        // who = 0: the calling thread.
                        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
                    #endif
                    slot.finish(Result { try body() })
                }
                thread.name = "vn-preparams"
                thread.qualityOfService = .background
                thread.start()
            }
        } onCancel: {
            slot.finish(.failure(CancellationError()))
        }
    }
}

/// A continuation resumed exactly once: by whoever finishes first (a generator thread, a session's
/// task, a cancellation), for a waiter that may arrive before or after.
final class ResultSlot<T: Sendable>: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<T, any Error>)
        case done(Result<T, any Error>)
    }
    private let state = Mutex<State>(.idle)

    /// False if the outcome is already known (cancelled before start): the continuation was resumed.
    func install(_ c: CheckedContinuation<T, any Error>) -> Bool {
        let early: Result<T, any Error>? = state.withLock { s in
            if case .done(let r) = s { return r }
            s = .waiting(c)
            return nil
        }
        if let early {
            c.resume(with: early)
            return false
        }
        return true
    }

    /// Waits for the result (returns at once when it is already known).
    func value() async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in _ = install(c) }
    }

    func finish(_ r: Result<T, any Error>) {
        let c: CheckedContinuation<T, any Error>? = state.withLock { s in
            switch s {
            case .idle:
                s = .done(r)
                return nil
            case .waiting(let c):
                s = .done(r)
                return c
            case .done:
                return nil
            }
        }
        c?.resume(with: r)
    }
}
