import CryptoPrimitives
import LevelDB
import Synchronization
import TSSCore
import Wire

/// Keygen pre-params made ahead of time (safe primes take seconds), sealed in the key store so a
/// restart keeps them. `take()` hands each item out once: it is deleted by a synced write before
/// it is returned, and item numbers are never reused, so neither a second caller nor a restart
/// can get the same one.
///
/// Item key `preparams/<16 hex digits>`; value: u8 version ‖ u64 number ‖ u64 created (ms) ‖
/// sealed box of `StoredPreParams`, with a domain tag, the key and that prefix as associated
/// data.
public final class PreParamsPool: Sendable {
    static let itemPrefix = Array("preparams/".utf8)
    static let counterKey = Array("meta/preparams-next".utf8)
    static let itemInfo = "vn/tss/keystore/preparams/v1"
    static let itemVersion: UInt8 = 1

    /// What `/status` shows (`preparamsPool`).
    public struct Status: Sendable, Equatable {
        public var ready: Int
        public var target: Int
        public var generating: Bool
        /// Items refused on reading (failed authentication or decoding) and deleted.
        public var discarded: Int
        /// Items handed out since the process started.
        public var taken: Int
    }

    public let store: KeyStore
    public let target: Int
    private let state: Mutex<Status>
    private let wake: AsyncStream<Void>.Continuation
    /// Yields after every `take()`, so a generator can refill (one consumer).
    public let taken: AsyncStream<Void>

    public init(store: KeyStore, target: Int) throws(KeyStoreError) {
        guard target >= 0 else { throw .invalidArgument("pool target must not be negative") }
        self.store = store
        self.target = target
        var count = 0
        try store.io {
            try store.db.forEach(prefix: Self.itemPrefix) { _, _ in
                count += 1
                return true
            }
        }
        state = Mutex(Status(ready: count, target: target, generating: false, discarded: 0, taken: 0))
        (taken, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public var status: Status { state.withLock { $0 } }

    /// How many more items the pool wants (pure decision on the current counts).
    public var missing: Int { state.withLock { max(0, $0.target - $0.ready) } }

    public func setGenerating(_ on: Bool) { state.withLock { $0.generating = on } }

    /// Seals and stores one item (item and counter in one synced batch).
    public func add(_ item: StoredPreParams) throws(KeyStoreError) {
        var plain = item.encode()
        defer { secureZero(&plain) }
        try store.locked { () throws(KeyStoreError) in
            let number = try nextNumber()
            let created = store.clock()
            let key = Self.key(number)
            let prefix = Self.prefixBytes(number: number, createdMs: created)
            var rng = SecureRandomNumberGenerator()
            let box = try SealedBox.seal(
                plain, master: store.master, info: Self.itemInfo, aad: Self.aad(key: key, prefix: prefix), using: &rng)
            var w = WireWriter()
            w.writeFixedBytes(prefix)
            box.write(to: &w)
            var batch = WriteBatch()
            batch.put(key, w.take())
            batch.put(Self.counterKey, Self.counterBytes(number + 1))
            try store.io { try store.db.write(batch, sync: true) }
            state.withLock { $0.ready += 1 }
        }
    }

    /// The oldest item, deleted durably before it is returned; nil when the pool is empty. Items
    /// that fail their check are deleted, counted in `discarded` and skipped.
    public func take() throws(KeyStoreError) -> KeygenPreParams? {
        let result = try store.locked { () throws(KeyStoreError) -> StoredPreParams? in
            while true {
                var first: ([UInt8], [UInt8])?
                try store.io {
                    try store.db.forEach(prefix: Self.itemPrefix) { key, value in
                        first = (key, value)
                        return false
                    }
                }
                guard let (key, value) = first else {
                    state.withLock { $0.ready = 0 }
                    return nil
                }
                let item = Result { () throws(KeyStoreError) in try open(key: key, value: value) }
                // Durable before handing out: a crash after this line loses the item, never
                // reuses it.
                try store.io { try store.db.delete(key, sync: true) }
                switch item {
                case .success(let item):
                    state.withLock {
                        $0.ready = max(0, $0.ready - 1)
                        $0.taken += 1
                    }
                    return item
                case .failure:
                    state.withLock {
                        $0.ready = max(0, $0.ready - 1)
                        $0.discarded += 1
                    }
                }
            }
        }
        if result != nil { wake.yield() }
        return result?.preParams
    }

    // MARK: Encoding

    static func key(_ number: UInt64) -> [UInt8] {
        let hex = Hex.encode((0..<8).map { UInt8(truncatingIfNeeded: number >> (8 * UInt64(7 - $0))) })
        return itemPrefix + Array(hex.utf8)
    }

    static func prefixBytes(number: UInt64, createdMs: UInt64) -> [UInt8] {
        var w = WireWriter()
        w.writeUInt8(itemVersion)
        w.writeUInt64(number)
        w.writeUInt64(createdMs)
        return w.take()
    }

    static func aad(key: [UInt8], prefix: [UInt8]) -> [UInt8] {
        var w = WireWriter()
        w.writeString(itemInfo)
        w.writeBytes(key)
        w.writeFixedBytes(prefix)
        return w.take()
    }

    static func counterBytes(_ n: UInt64) -> [UInt8] {
        var w = WireWriter()
        w.writeUInt64(n)
        return w.take()
    }

    private func nextNumber() throws(KeyStoreError) -> UInt64 {
        guard let bytes = try store.io({ try store.db.get(Self.counterKey) }) else { return 0 }
        do {
            var r = WireReader(bytes)
            let n = try r.readUInt64()
            try r.finish()
            return n
        } catch {
            throw .corrupt("pool counter: \(error)")
        }
    }

    private func open(key: [UInt8], value: [UInt8]) throws(KeyStoreError) -> StoredPreParams {
        var r = WireReader(value)
        let number: UInt64
        let created: UInt64
        let box: SealedBox
        do {
            guard try r.readUInt8() == Self.itemVersion else { throw WireError.invalidValue("pool item version") }
            number = try r.readUInt64()
            created = try r.readUInt64()
            box = try SealedBox(from: &r)
            try r.finish()
        } catch {
            throw .corrupt("pool item: \(error)")
        }
        guard Self.key(number) == key else { throw .tampered("pool item stored under another number") }
        // The authenticated prefix, rebuilt by the one encoder that wrote it.
        let prefix = Self.prefixBytes(number: number, createdMs: created)
        var plain = try box.open(master: store.master, info: Self.itemInfo, aad: Self.aad(key: key, prefix: prefix))
        defer { secureZero(&plain) }
        do { return try StoredPreParams(decoding: plain) } catch { throw .corrupt("pool item: \(error)") }
    }
}
