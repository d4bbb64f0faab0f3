import Dispatch
import Foundation
import JSON
import SandboxCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The content-addressed image cache (issue 7):
///
///     <cache>/blobs/sha256/<hex>          downloaded blobs, verified; removed once unpacked
///     <cache>/rootfs/<hex>/               an unpacked root filesystem, keyed by the pinned digest
///     <cache>/images/<hex>.json           its metadata (size, manifest digest, reference)
///     <cache>/images/<hex>.config.json    its image config blob
///     <cache>/tmp/                        extraction in progress (emptied at start-up)
///
/// An image is unpacked into `tmp/` and renamed into `rootfs/` in one step, then its metadata is
/// written: an entry is complete exactly when both exist, so a crash at any point leaves either
/// nothing or leftovers the next start-up removes. Entries are shared read-only between runs (the
/// runner mounts them read-only); callers hold a `RootfsLease` while a run uses one, and eviction
/// (by total size, least recently used first) never touches a leased entry. Because the key is the
/// digest the job pinned, a cached image is served without contacting the registry.
public final class LayerCache: Sendable {
    public let directory: String
    /// Target total size of the unpacked entries; eviction runs after each new entry.
    public let maxBytes: Int64
    public let extractor: LayerExtractor

    struct Entry {
        var size: Int64
        var lastUse: UInt64
        var image: CachedImage
    }

    struct State {
        var entries: [String: Entry] = [:]
        var leases: [String: Int] = [:]
        var useCounter: UInt64 = 0
        var inflight: [String: Task<CachedImage, any Error>] = [:]
        /// Blobs a preparation is using; never removed under it.
        var blobUsers: [String: Int] = [:]
    }

    private let state = Mutex(State())
    private static let queue = DispatchQueue(label: "SandboxRuntime.layer-cache", attributes: .concurrent)

    /// Opens (creating) the cache: removes extraction leftovers and incomplete entries, and loads
    /// the complete ones with their last use from the metadata file's mtime.
    public init(
        directory: String, maxBytes: Int64, extractor: LayerExtractor = LayerExtractor()
    )
        throws(SandboxError)
    {
        self.directory = directory
        self.maxBytes = maxBytes
        self.extractor = extractor
        for sub in ["", "/blobs", "/blobs/sha256", "/rootfs", "/images", "/tmp"] {
            let path = directory + sub
            if mkdir(path, 0o700) != 0, errno != EEXIST {
                throw SandboxError(.internal, "cannot create \(path): \(LayerFS.errnoText())")
            }
        }
        try Self.clear(directory + "/tmp")
        try Self.clear(directory + "/blobs/sha256")
        var loaded: [(String, Entry, timespec)] = []
        for name in try Self.names(directory + "/rootfs") {
            guard let (entry, mtime) = try? loadEntry(name) else {
                try LayerFS.removeTree(path: directory + "/rootfs/" + name)
                continue
            }
            loaded.append((name, entry, mtime))
        }
        for name in try Self.names(directory + "/images") {
            let key = String(name.prefix { $0 != "." })
            if !loaded.contains(where: { $0.0 == key }) { unlink(directory + "/images/" + name) }
        }
        loaded.sort { ($0.2.tv_sec, $0.2.tv_nsec, $0.0) < ($1.2.tv_sec, $1.2.tv_nsec, $1.0) }
        state.withLock { state in
            for (key, var entry, _) in loaded {
                state.useCounter += 1
                entry.lastUse = state.useCounter
                state.entries[key] = entry
            }
        }
    }

    /// The rootfs for `reference`, from the cache or pulled through `registry` (deduplicated
    /// between concurrent callers). The lease keeps the entry from eviction until released.
    public func acquire(
        _ reference: ImageReference, from registry: RegistryClient
    ) async throws(SandboxError)
        -> RootfsLease
    {
        var reference = reference
        var resolved: ResolvedImage? = nil
        if reference.digest == nil {
            // A tag (allowed by config): the key is whatever digest the registry answers now.
            let image = try await registry.resolve(reference)
            resolved = image
            reference = try ImageReference.parse("\(reference.registry)/\(reference.repository)@\(image.pinnedDigest)")
        }
        guard let digest = reference.digest else { throw SandboxError(.internal, "no digest") }
        let key = digest.hex
        enum Step {
            case ready(CachedImage)
            case wait(Task<CachedImage, any Error>)
        }
        let step: Step = state.withLock { state in
            state.leases[key, default: 0] += 1
            if var entry = state.entries[key] {
                state.useCounter += 1
                entry.lastUse = state.useCounter
                state.entries[key] = entry
                return .ready(entry.image)
            }
            if let task = state.inflight[key] { return .wait(task) }
            let task = makePreparation(reference, key: key, registry: registry, resolved: resolved)
            state.inflight[key] = task
            return .wait(task)
        }
        let image: CachedImage
        switch step {
        case .ready(let cached):
            image = cached
            touch(key)
        case .wait(let task):
            do {
                image = try await task.value
            } catch {
                release(key)
                throw (error as? SandboxError) ?? SandboxError(.internal, "image preparation: \(error)")
            }
        }
        return RootfsLease(cache: self, key: key, image: image)
    }

    /// A task that prepares the entry and then deregisters itself (it can only finish after the
    /// caller, which holds the lock, has registered it).
    private func makePreparation(
        _ reference: ImageReference, key: String, registry: RegistryClient, resolved: ResolvedImage?
    ) -> Task<CachedImage, any Error> {
        Task {
            do {
                let image = try await self.prepare(reference, key: key, registry: registry, resolved: resolved)
                self.state.withLock { $0.inflight[key] = nil }
                return image
            } catch {
                self.state.withLock { $0.inflight[key] = nil }
                throw error
            }
        }
    }

    /// The size of every complete entry together.
    public var totalBytes: Int64 { state.withLock { $0.entries.values.reduce(0) { $0 + $1.size } } }

    /// Digests of the cached entries, least recently used first.
    public var cachedDigests: [OCIDigest] {
        state.withLock { state in
            state.entries.sorted { $0.value.lastUse < $1.value.lastUse }.compactMap {
                try? OCIDigest(parsing: "sha256:\($0.key)")
            }
        }
    }

    /// Evicts unleased entries, least recently used first, until the total is at most `limit`.
    /// Returns the evicted digests. Entries are renamed away under the lock (so no caller can lease
    /// a half-removed one) and deleted afterwards.
    @discardableResult
    public func evict(toFit limit: Int64) -> [OCIDigest] {
        let doomed: [(String, String)] = state.withLock { state in
            var total = state.entries.values.reduce(0) { $0 + $1.size }
            var out: [(String, String)] = []
            for (key, entry) in state.entries.sorted(by: { $0.value.lastUse < $1.value.lastUse }) {
                guard total > limit else { break }
                guard state.leases[key, default: 0] == 0, state.inflight[key] == nil else { continue }
                let grave = "\(directory)/tmp/evict-\(key)-\(UInt64.random(in: 0...UInt64.max))"
                guard rename("\(directory)/rootfs/\(key)", grave) == 0 else { continue }
                unlink("\(directory)/images/\(key).json")
                unlink("\(directory)/images/\(key).config.json")
                state.entries[key] = nil
                total -= entry.size
                out.append((key, grave))
            }
            return out
        }
        for (_, grave) in doomed { try? LayerFS.removeTree(path: grave) }
        return doomed.compactMap { try? OCIDigest(parsing: "sha256:\($0.0)") }
    }

    func release(_ key: String) {
        state.withLock { state in
            let left = state.leases[key, default: 1] - 1
            state.leases[key] = left > 0 ? left : nil
        }
    }

    // MARK: - Preparation

    private func prepare(
        _ reference: ImageReference, key: String, registry: RegistryClient, resolved: ResolvedImage?
    )
        async throws(SandboxError) -> CachedImage
    {
        let image: ResolvedImage
        if let resolved {
            image = resolved
        } else {
            image = try await registry.resolve(reference)
        }
        let layers = image.manifest.layers
        state.withLock { state in for layer in layers { state.blobUsers[layer.digest.hex, default: 0] += 1 } }
        defer { releaseBlobs(layers) }
        var paths: [(path: String, compression: LayerCompression)] = []
        for layer in layers {
            let path = "\(directory)/blobs/sha256/\(layer.digest.hex)"
            if access(path, F_OK) != 0 {
                let bytes = try await registry.blob(reference, layer)
                try writeAtomically(bytes, to: path)
            }
            paths.append((path, layer.layerCompression ?? .plain))
        }
        let work = try makeTempDirectory()
        let extractor = self.extractor
        let layerPaths = paths
        let result: Result<LayerExtractor.Report, SandboxError> = await withCheckedContinuation { continuation in
            Self.queue.async {
                continuation.resume(
                    returning: Result { () throws(SandboxError) in
                        try extractor.extract(layers: layerPaths, into: work + "/rootfs")
                    })
            }
        }
        let report: LayerExtractor.Report
        do {
            report = try result.get()
        } catch {
            try? LayerFS.removeTree(path: work)
            throw error
        }
        let final = "\(directory)/rootfs/\(key)"
        if rename(work + "/rootfs", final) != 0 {
            let saved = errno
            try? LayerFS.removeTree(path: work)
            // Another process sharing the cache finished first: use its entry.
            if saved == EEXIST || saved == ENOTEMPTY, let (entry, _) = try? loadEntry(key) {
                return register(key, entry)
            }
            throw SandboxError(.internal, "cannot move the rootfs into the cache: \(String(cString: strerror(saved)))")
        }
        try? LayerFS.removeTree(path: work)
        let cached = CachedImage(
            digest: image.pinnedDigest, manifestDigest: image.manifestDigest, rootfs: final, config: image.config,
            size: report.bytes)
        let meta: JSONValue = [
            "reference": .string(reference.description), "manifest": .string(image.manifestDigest.description),
            "size": .int(report.bytes),
        ]
        do {
            try writeAtomically(image.configBytes, to: "\(directory)/images/\(key).config.json")
            try writeAtomically(meta.serializedBytes(), to: "\(directory)/images/\(key).json")
        } catch {
            try? LayerFS.removeTree(path: final)
            throw error
        }
        let image2 = register(key, Entry(size: report.bytes, lastUse: 0, image: cached))
        evict(toFit: maxBytes)
        return image2
    }

    private func register(_ key: String, _ entry: Entry) -> CachedImage {
        state.withLock { state in
            var entry = entry
            state.useCounter += 1
            entry.lastUse = state.useCounter
            state.entries[key] = entry
        }
        return entry.image
    }

    private func releaseBlobs(_ layers: [OCIDescriptor]) {
        let unused: [String] = state.withLock { state in
            var out: [String] = []
            for layer in layers {
                let hex = layer.digest.hex
                let left = state.blobUsers[hex, default: 1] - 1
                state.blobUsers[hex] = left > 0 ? left : nil
                if left <= 0 { out.append(hex) }
            }
            return out
        }
        // Blobs are only a step towards the rootfs; keeping them would double the cache's size.
        for hex in unused { unlink("\(directory)/blobs/sha256/\(hex)") }
    }

    private func loadEntry(_ key: String) throws(SandboxError) -> (Entry, timespec) {
        let digest = try OCIDigest(parsing: "sha256:\(key)")
        let metaPath = "\(directory)/images/\(key).json"
        let json: JSONValue
        do {
            json = try JSONValue.parse(try readFile(metaPath))
        } catch {
            throw SandboxError(.internal, "cache metadata for \(key) unreadable")
        }
        guard let size = json["size"]?.int64Value, let manifestText = json["manifest"]?.stringValue else {
            throw SandboxError(.internal, "cache metadata for \(key) incomplete")
        }
        let config = try OCIImageConfig.parse(try readFile("\(directory)/images/\(key).config.json"))
        var st = stat()
        guard stat(metaPath, &st) == 0 else { throw SandboxError(.internal, "stat: \(LayerFS.errnoText())") }
        let image = CachedImage(
            digest: digest, manifestDigest: try OCIDigest(parsing: manifestText), rootfs: "\(directory)/rootfs/\(key)",
            config: config, size: size)
        return (Entry(size: size, lastUse: 0, image: image), st.st_mtim)
    }

    /// Records the use on disk too (the metadata file's mtime), so the LRU order survives restarts.
    private func touch(_ key: String) {
        utimensat(AT_FDCWD, "\(directory)/images/\(key).json", nil, 0)
    }

    private func makeTempDirectory() throws(SandboxError) -> String {
        var template = Array("\(directory)/tmp/unpack-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw SandboxError(.internal, "mkdtemp: \(LayerFS.errnoText())") }
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard mkdir(path + "/rootfs", 0o755) == 0, chmod(path + "/rootfs", 0o755) == 0 else {
            throw SandboxError(.internal, "mkdir rootfs: \(LayerFS.errnoText())")
        }
        return path
    }

    private func writeAtomically(_ bytes: [UInt8], to path: String) throws(SandboxError) {
        let temp = "\(directory)/tmp/write-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SandboxError(.internal, "create \(temp): \(LayerFS.errnoText())") }
        var offset = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { return false }
                offset += n
            }
            return fsync(fd) == 0
        }
        close(fd)
        guard ok, rename(temp, path) == 0 else {
            unlink(temp)
            throw SandboxError(.internal, "write \(path): \(LayerFS.errnoText())")
        }
    }

    private func readFile(_ path: String) throws(SandboxError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SandboxError(.internal, "cannot read \(path)")
        }
        return [UInt8](data)
    }

    private static func names(_ path: String) throws(SandboxError) -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw SandboxError(.internal, "cannot list \(path): \(error)")
        }
    }

    private static func clear(_ path: String) throws(SandboxError) {
        for name in try names(path) { try LayerFS.removeTree(path: path + "/" + name) }
    }
}

/// A cached image, ready to run.
public struct CachedImage: Sendable, Hashable {
    /// The digest the job pinned (the cache key).
    public let digest: OCIDigest
    public let manifestDigest: OCIDigest
    /// Absolute path of the unpacked root filesystem; mount it read-only.
    public let rootfs: String
    public let config: OCIImageConfig
    /// Bytes the entry counts for in the cache.
    public let size: Int64
}

/// A cached image in use: while it exists (until `release()` or deinit), the entry is not evicted.
public final class RootfsLease: Sendable {
    public let image: CachedImage
    private let cache: LayerCache
    private let key: String
    private let released = Atomic<Bool>(false)

    init(cache: LayerCache, key: String, image: CachedImage) {
        self.cache = cache
        self.key = key
        self.image = image
    }

    public var rootfs: String { image.rootfs }

    public func release() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { cache.release(key) }
    }

    deinit { release() }
}
