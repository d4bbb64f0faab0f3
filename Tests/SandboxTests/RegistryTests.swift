import CryptoPrimitives
import Foundation
import SandboxCore
import SandboxRuntime
import Testing

/// Pulls from a real registry (Debian's docker-registry on 127.0.0.1) into a real cache.
@Suite("Registry pulls and the layer cache", .serialized)
struct RegistryTests {
    let files = FileManager.default

    /// True for an existing, empty directory.
    func isEmptyDirectory(_ path: String) -> Bool {
        (try? files.contentsOfDirectory(atPath: path))?.isEmpty == true
    }

    func client(
        _ registry: TestRegistry, policy: URLPolicy? = nil, plainHTTP: Bool = true
    ) throws(SandboxError)
        -> RegistryClient
    {
        let chosen: URLPolicy
        if let policy {
            chosen = policy
        } else {
            chosen = try URLPolicy(allowlist: [registry.registry])
        }
        return RegistryClient(
            config: RegistryConfig(plainHTTPRegistries: plainHTTP ? [registry.registry] : []), policy: chosen)
    }

    /// A fresh cache directory, removed afterwards.
    func withCache<R>(maxBytes: Int64 = 1 << 30, _ body: (LayerCache, String) async throws -> R) async throws -> R {
        let dir = try makeScratchDirectory("vn-s1-cache")
        defer { try? files.removeItem(atPath: dir) }
        return try await body(try LayerCache(directory: dir + "/cache", maxBytes: maxBytes), dir + "/cache")
    }

    /// The SandboxError `body` threw (nil if none; any other error becomes `.internal`).
    func failure(_ body: () async throws -> Void) async -> SandboxError? {
        do {
            try await body()
            return nil
        } catch let error as SandboxError {
            return error
        } catch {
            return SandboxError(.internal, "unexpected error: \(error)")
        }
    }

    func mode(_ path: String) -> Int {
        var st = stat()
        return lstat(path, &st) == 0 ? Int(st.st_mode & 0o7777) : -1
    }

    @Test func pinnedImagePullsAndUnpacks() async throws {
        try await withTestRegistry { registry in
            let digest = try registry.push(.files, as: "test/files")
            let reference = try registry.reference("test/files", digest)
            try await withCache { cache, dir in
                let lease = try await cache.acquire(reference, from: try client(registry))
                let root = lease.rootfs
                #expect(root == "\(dir)/rootfs/\(digest.hex)")
                #expect(files.contents(atPath: root + "/job/hello.txt") == Data("hello from the test image\n".utf8))
                #expect(files.contents(atPath: root + "/job/nested/dir/file.txt") == Data("deep\n".utf8))
                let busybox = files.contents(atPath: root + "/bin/busybox")
                #expect(busybox != nil && busybox == files.contents(atPath: "/bin/busybox"))
                #expect(try files.destinationOfSymbolicLink(atPath: root + "/bin/sh") == "busybox")
                #expect(mode(root + "/tmp") == 0o1777)
                #expect(lease.image.config.arguments == ["/bin/cat", "/job/hello.txt"])
                #expect(lease.image.config.user == "65534:65534" && lease.image.config.env == ["PATH=/bin"])
                #expect(lease.image.digest == digest && lease.image.manifestDigest == digest)
                #expect(cache.totalBytes == lease.image.size && lease.image.size > 1_000_000)
                // Staging is cleaned up: no blobs, no temp dirs.
                #expect(isEmptyDirectory(dir + "/blobs/sha256"))
                #expect(isEmptyDirectory(dir + "/tmp"))

                // Concurrent acquires share the entry.
                async let a = cache.acquire(reference, from: try client(registry))
                async let b = cache.acquire(reference, from: try client(registry))
                let (la, lb) = try await (a, b)
                #expect(la.rootfs == root && lb.rootfs == root)

                // Served from the cache with the registry gone, also by a new cache object (restart).
                registry.stop()
                let again = try await cache.acquire(reference, from: try client(registry))
                #expect(again.rootfs == root)
                let reopened = try LayerCache(directory: dir, maxBytes: 1 << 30)
                let fromDisk = try await reopened.acquire(reference, from: try client(registry))
                #expect(fromDisk.image.config == lease.image.config && fromDisk.image.size == lease.image.size)
            }
        }
    }

    @Test func wrongDigestIsNotFoundOrMismatch() async throws {
        try await withTestRegistry { registry in
            let digest = try registry.push(.files, as: "test/files")
            try await withCache { cache, dir in
                // A digest of something else entirely: the registry has no such manifest.
                let other = OCIDigest(sha256: SHA256.hash(Array("something else".utf8)))
                let unknown = try registry.reference("test/files", other)
                let notFound = await failure { _ = try await cache.acquire(unknown, from: try client(registry)) }
                #expect(notFound?.kind == .imageNotFound)
                // The right digest in a repository that does not have it.
                let elsewhere = try registry.reference("test/nothing-here", digest)
                let missingRepo = await failure { _ = try await cache.acquire(elsewhere, from: try client(registry)) }
                #expect(missingRepo?.kind == .imageNotFound)
                #expect(cache.totalBytes == 0)
                #expect(isEmptyDirectory(dir + "/rootfs"))
            }
        }
    }

    @Test func tamperedBlobsAreDigestMismatches() async throws {
        try await withTestRegistry { registry in
            let digest = try registry.push(.files, as: "test/files")
            let manifest = try OCIManifestDocument.parse(
                registry.manifestBytes(digest), contentType: OCIMediaType.imageManifest)
            guard case .image(let image) = manifest, let layer = image.layers.first else {
                Issue.record("unexpected manifest")
                return
            }
            let reference = try registry.reference("test/files", digest)
            // A layer changed in the registry's storage (same length).
            try registry.corrupt(layer.digest, at: 200)
            try await withCache { cache, dir in
                let error = await failure { _ = try await cache.acquire(reference, from: try client(registry)) }
                #expect(error?.kind == .digestMismatch, "\(String(describing: error))")
                #expect(cache.totalBytes == 0)
                #expect(isEmptyDirectory(dir + "/rootfs"))
                #expect(isEmptyDirectory(dir + "/tmp"))
                #expect(isEmptyDirectory(dir + "/blobs/sha256"))
            }
            // The manifest itself changed: still a valid manifest (the registry parses what it
            // serves), just not the bytes the digest pins.
            try registry.replace(digest, with: registry.manifestBytes(digest) + Array(" ".utf8))
            try await withCache { cache, _ in
                let error = await failure { _ = try await cache.acquire(reference, from: try client(registry)) }
                #expect(error?.kind == .digestMismatch, "\(String(describing: error))")
            }
        }
    }

    @Test func tagsPolicyAndTransport() async throws {
        try await withTestRegistry { registry in
            let digest = try registry.push(.priceMedian, as: "test/median")
            let tagged = "\(registry.registry)/test/median:latest"
            do {
                _ = try ImageReference.parse(tagged)
                Issue.record("bare tag accepted")
            } catch {
                #expect((error as? SandboxError)?.kind == .refused)
            }
            try await withCache { cache, _ in
                // With tags allowed by config, the entry is keyed by the digest the registry answered.
                let byTag = try await cache.acquire(
                    try ImageReference.parse(tagged, allowTags: true), from: try client(registry))
                #expect(byTag.image.digest == digest)
                #expect(byTag.image.config.arguments == ["/bin/sh", "/job/median.sh"])
                #expect(files.fileExists(atPath: byTag.rootfs + "/job/median.sh"))

                let reference = try registry.reference("test/median", digest)
                // 127.0.0.1 is refused without an allowlist entry...
                let scratch = try makeScratchDirectory("vn-s1-cache2")
                defer { try? files.removeItem(atPath: scratch) }
                let fresh = try LayerCache(directory: scratch + "/cache", maxBytes: 1 << 30)
                let refused = await failure {
                    _ = try await fresh.acquire(reference, from: try client(registry, policy: URLPolicy()))
                }
                #expect(refused?.kind == .refused)
                // ...and a registry not named for plain http is spoken to over https only.
                let https = await failure {
                    _ = try await client(registry, plainHTTP: false).resolve(reference)
                }
                #expect(https?.kind == .fetchFailed)
            }
        }
    }

    @Test func evictionBySizeLeastRecentlyUsedFirst() async throws {
        try await withTestRegistry { registry in
            let a = try registry.reference("test/a", try registry.push(.files, as: "test/a"))
            let b = try registry.reference("test/b", try registry.push(.priceMedian, as: "test/b"))
            let c = try registry.reference("test/c", try registry.push(.files, as: "test/c"))
            // Room for about one image.
            try await withCache(maxBytes: 3_000_000) { cache, dir in
                let leaseA = try await cache.acquire(a, from: try client(registry))
                let leaseB = try await cache.acquire(b, from: try client(registry))
                // Both in use: over the limit, but nothing may be evicted.
                #expect(cache.totalBytes > cache.maxBytes)
                #expect(Set(cache.cachedDigests) == [a.digest!, b.digest!])
                #expect(cache.evict(toFit: 0).isEmpty)
                leaseA.release()
                leaseB.release()
                // A was used least recently: it goes first, and B then fits.
                #expect(cache.evict(toFit: cache.maxBytes) == [a.digest!])
                #expect(cache.cachedDigests == [b.digest!])
                #expect(!files.fileExists(atPath: leaseA.rootfs))
                #expect(files.fileExists(atPath: leaseB.rootfs + "/job/median.sh"))

                // Using B again, then pulling C: B is the least recently used and unleased, so
                // adding C evicts it automatically.
                _ = try await cache.acquire(b, from: try client(registry)).release()
                let leaseC = try await cache.acquire(c, from: try client(registry))
                #expect(cache.cachedDigests == [c.digest!])
                #expect(try files.contentsOfDirectory(atPath: dir + "/rootfs") == [c.digest!.hex])
                // A leased entry survives any eviction.
                #expect(cache.evict(toFit: 0).isEmpty)
                #expect(files.fileExists(atPath: leaseC.rootfs + "/job/hello.txt"))
                leaseC.release()
                #expect(cache.evict(toFit: 0) == [c.digest!])
                #expect(cache.totalBytes == 0)
                #expect(isEmptyDirectory(dir + "/rootfs"))
                #expect(isEmptyDirectory(dir + "/tmp"))
                #expect(isEmptyDirectory(dir + "/images"))
            }
        }
    }

    @Test func startUpRemovesLeftovers() async throws {
        let dir = try makeScratchDirectory("vn-s1-cache3")
        defer { try? files.removeItem(atPath: dir) }
        _ = try LayerCache(directory: dir, maxBytes: 1 << 20)
        // A crash mid-extraction, a rootfs without metadata, metadata without a rootfs.
        let hex = String(repeating: "d", count: 64)
        try files.createDirectory(atPath: dir + "/tmp/unpack-crashed/rootfs/bin", withIntermediateDirectories: true)
        try files.createDirectory(atPath: dir + "/rootfs/\(hex)/etc", withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: dir + "/images/\(String(repeating: "e", count: 64)).json"))
        try Data("partial".utf8).write(to: URL(fileURLWithPath: dir + "/blobs/sha256/\(hex)"))
        let cache = try LayerCache(directory: dir, maxBytes: 1 << 20)
        #expect(cache.cachedDigests.isEmpty)
        for sub in ["tmp", "rootfs", "images", "blobs/sha256"] {
            #expect(isEmptyDirectory(dir + "/" + sub), "\(sub)")
        }
    }
}
