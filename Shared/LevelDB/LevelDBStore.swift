import CLevelDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Errors from LevelDB, carrying LevelDB's own status message (which names the file involved).
public enum LevelDBError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The store was closed; every operation after `close()` throws this.
    case closed
    /// Another handle (in this process or another one) holds the database's LOCK file.
    case locked(String)
    /// The database does not exist and `createIfMissing` was false, or similar.
    case notFound(String)
    /// LevelDB refused an argument (e.g. the database exists and `errorIfExists` was set).
    case invalidArgument(String)
    /// LevelDB detected corrupted data (bad checksum, truncated table, …).
    case corruption(String)
    /// A filesystem error.
    case io(String)
    /// Any other LevelDB status.
    case other(String)

    /// Classifies a LevelDB status string ("IO error: …", "Corruption: …", …).
    init(leveldbMessage message: String) {
        if message.hasPrefix("IO error: lock ") || message.contains("LOCK: already held") {
            self = .locked(message)
        } else if message.hasPrefix("IO error: ") {
            self = .io(message)
        } else if message.hasPrefix("Corruption: ") {
            self = .corruption(message)
        } else if message.hasPrefix("Invalid argument: ") {
            self = message.contains("does not exist") ? .notFound(message) : .invalidArgument(message)
        } else if message.hasPrefix("NotFound: ") {
            self = .notFound(message)
        } else {
            self = .other(message)
        }
    }

    public var description: String {
        switch self {
        case .closed: "LevelDB store is closed"
        case .locked(let m): "LevelDB database is locked by another handle: \(m)"
        case .notFound(let m): "LevelDB database not found: \(m)"
        case .invalidArgument(let m): "LevelDB invalid argument: \(m)"
        case .corruption(let m): "LevelDB corruption: \(m)"
        case .io(let m): "LevelDB I/O error: \(m)"
        case .other(let m): "LevelDB error: \(m)"
        }
    }
}

/// Runs `body` with an `errptr` and throws LevelDB's message if it set one (freed with leveldb_free).
func checkingError<R>(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) throws(LevelDBError) -> R {
    var error: UnsafeMutablePointer<CChar>? = nil
    let result = body(&error)
    if let error {
        let message = String(cString: error)
        leveldb_free(error)
        throw LevelDBError(leveldbMessage: message)
    }
    return result
}

/// A batch of puts and deletes applied atomically by `LevelDBStore.write`. It is a plain value;
/// the LevelDB batch is built only when written.
public struct WriteBatch: Sendable {
    public enum Operation: Sendable, Equatable {
        case put(key: [UInt8], value: [UInt8])
        case delete(key: [UInt8])
    }

    public private(set) var operations: [Operation] = []

    public init() {}

    public mutating func put(_ key: [UInt8], _ value: [UInt8]) { operations.append(.put(key: key, value: value)) }
    public mutating func delete(_ key: [UInt8]) { operations.append(.delete(key: key)) }
    public mutating func removeAll() { operations.removeAll() }
    public var count: Int { operations.count }
    public var isEmpty: Bool { operations.isEmpty }
}

/// A LevelDB database. LevelDB itself is thread-safe; this wrapper adds a reader–writer lock so
/// that `close()` waits for operations in flight and later calls throw `LevelDBError.closed`
/// instead of touching a freed handle.
///
/// Keys and values are arbitrary bytes (empty allowed); iteration is in bytewise key order.
/// Only one handle per database directory can be open at a time (LevelDB's LOCK file): a second
/// open throws `LevelDBError.locked`.
public final class LevelDBStore: @unchecked Sendable {
    public let path: String

    private let lock: UnsafeMutablePointer<pthread_rwlock_t>
    // Guarded by `lock`: written only under the write lock (close), read under the read lock.
    private var db: OpaquePointer?
    private var options: OpaquePointer?
    private var cache: OpaquePointer?
    private var filterPolicy: OpaquePointer?
    private var readOptions: OpaquePointer?
    private var syncWrite: OpaquePointer?
    private var asyncWrite: OpaquePointer?

    /// Opens (and by default creates) the database at `path`. `cacheBytes` sizes the block cache
    /// (0 keeps LevelDB's built-in 8 MiB cache). Checksums are verified on every read and
    /// paranoid checks are on, so corruption is reported rather than skipped.
    public init(
        path: String, createIfMissing: Bool = true, errorIfExists: Bool = false, cacheBytes: Int = 8 << 20
    ) throws {
        guard !path.isEmpty, !path.utf8.contains(0) else {
            throw LevelDBError.invalidArgument("path must be non-empty and contain no NUL byte")
        }
        guard cacheBytes >= 0 else { throw LevelDBError.invalidArgument("cacheBytes must not be negative") }
        self.path = path
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_rwlock_t())
        pthread_rwlock_init(lock, nil)

        let options = leveldb_options_create()
        leveldb_options_set_create_if_missing(options, createIfMissing ? 1 : 0)
        leveldb_options_set_error_if_exists(options, errorIfExists ? 1 : 0)
        leveldb_options_set_paranoid_checks(options, 1)
        if cacheBytes > 0 {
            cache = leveldb_cache_create_lru(cacheBytes)
            leveldb_options_set_cache(options, cache)
        }
        filterPolicy = leveldb_filterpolicy_create_bloom(10)
        leveldb_options_set_filter_policy(options, filterPolicy)
        self.options = options

        readOptions = leveldb_readoptions_create()
        leveldb_readoptions_set_verify_checksums(readOptions, 1)
        syncWrite = leveldb_writeoptions_create()
        leveldb_writeoptions_set_sync(syncWrite, 1)
        asyncWrite = leveldb_writeoptions_create()
        leveldb_writeoptions_set_sync(asyncWrite, 0)

        do {
            db = try checkingError { leveldb_open(options, path, $0) }
        } catch {
            releaseHandles()
            throw error
        }
    }

    deinit {
        close()
        pthread_rwlock_destroy(lock)
        lock.deinitialize(count: 1)
        lock.deallocate()
    }

    /// Closes the database (idempotent). Waits for operations in progress. Do not call it from
    /// inside a `forEach` body on the same store (that would wait for itself).
    public func close() {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        if let db {
            leveldb_close(db)
            self.db = nil
        }
        releaseHandles()
    }

    /// Frees options objects (after the database is closed, or when open failed).
    private func releaseHandles() {
        if let options { leveldb_options_destroy(options) }
        if let filterPolicy { leveldb_filterpolicy_destroy(filterPolicy) }
        if let cache { leveldb_cache_destroy(cache) }
        if let readOptions { leveldb_readoptions_destroy(readOptions) }
        if let syncWrite { leveldb_writeoptions_destroy(syncWrite) }
        if let asyncWrite { leveldb_writeoptions_destroy(asyncWrite) }
        options = nil; filterPolicy = nil; cache = nil; readOptions = nil; syncWrite = nil; asyncWrite = nil
    }

    public var isClosed: Bool {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return db == nil
    }

    private func withOpenDB<R>(_ body: (OpaquePointer) throws -> R) throws -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        guard let db else { throw LevelDBError.closed }
        return try body(db)
    }

    /// The value stored under `key`, or nil.
    public func get(_ key: [UInt8]) throws -> [UInt8]? {
        try withOpenDB { db in
            var length = 0
            let value = try key.withUnsafeBufferPointer { k in
                try checkingError { err in
                    k.withMemoryRebound(to: CChar.self) {
                        leveldb_get(db, readOptions, $0.baseAddress, $0.count, &length, err)
                    }
                }
            }
            guard let value else { return nil }
            defer { leveldb_free(value) }
            return Array(UnsafeRawBufferPointer(start: value, count: length))
        }
    }

    /// Stores `value` under `key`. With `sync` (the default) the write is on disk when this returns.
    public func put(_ key: [UInt8], _ value: [UInt8], sync: Bool = true) throws {
        var batch = WriteBatch()
        batch.put(key, value)
        try write(batch, sync: sync)
    }

    /// Removes `key` (no error if it is absent).
    public func delete(_ key: [UInt8], sync: Bool = true) throws {
        var batch = WriteBatch()
        batch.delete(key)
        try write(batch, sync: sync)
    }

    /// Applies every operation of `batch` atomically, in order.
    public func write(_ batch: WriteBatch, sync: Bool = true) throws {
        try withOpenDB { db in
            let native = leveldb_writebatch_create()
            defer { leveldb_writebatch_destroy(native) }
            for operation in batch.operations {
                switch operation {
                case .put(let key, let value):
                    key.withUnsafeBytes { k in
                        value.withUnsafeBytes { v in
                            leveldb_writebatch_put(
                                native, k.baseAddress?.assumingMemoryBound(to: CChar.self), k.count,
                                v.baseAddress?.assumingMemoryBound(to: CChar.self), v.count)
                        }
                    }
                case .delete(let key):
                    key.withUnsafeBytes { k in
                        leveldb_writebatch_delete(native, k.baseAddress?.assumingMemoryBound(to: CChar.self), k.count)
                    }
                }
            }
            try checkingError { leveldb_write(db, sync ? syncWrite : asyncWrite, native, $0) }
        }
    }

    /// Visits the entries whose key starts with `prefix` (all entries for an empty prefix) in
    /// ascending bytewise key order, over a consistent snapshot. `body` returns false to stop.
    public func forEach(prefix: [UInt8] = [], _ body: ([UInt8], [UInt8]) throws -> Bool) throws {
        try withOpenDB { db in
            guard let iterator = leveldb_create_iterator(db, readOptions) else {
                throw LevelDBError.other("leveldb_create_iterator returned NULL")
            }
            defer { leveldb_iter_destroy(iterator) }
            if prefix.isEmpty {
                leveldb_iter_seek_to_first(iterator)
            } else {
                prefix.withUnsafeBytes {
                    leveldb_iter_seek(iterator, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count)
                }
            }
            while leveldb_iter_valid(iterator) != 0 {
                var keyLength = 0
                let keyPointer = leveldb_iter_key(iterator, &keyLength)
                let key = Array(UnsafeRawBufferPointer(start: keyPointer, count: keyLength))
                guard key.starts(with: prefix) else { break }
                var valueLength = 0
                let valuePointer = leveldb_iter_value(iterator, &valueLength)
                let value = Array(UnsafeRawBufferPointer(start: valuePointer, count: valueLength))
                guard try body(key, value) else { break }
                leveldb_iter_next(iterator)
            }
            try checkingError { leveldb_iter_get_error(iterator, $0) }
        }
    }

    /// Deletes the database at `path` (it must not be open).
    public static func destroy(path: String) throws {
        guard !path.isEmpty, !path.utf8.contains(0) else {
            throw LevelDBError.invalidArgument("path must be non-empty and contain no NUL byte")
        }
        let options = leveldb_options_create()
        defer { leveldb_options_destroy(options) }
        try checkingError { leveldb_destroy_db(options, path, $0) }
    }
}
