import CryptoPrimitives
import Foundation
import SandboxCore
import SandboxRuntime
import Testing
import WAT
import Wire

/// The executor end to end (issue 7): a real registry with images built in the test, a real HTTP
/// source server, runc — the price-median job's result hash is stable across runs and changes with
/// its inputs; refusals and failures come back with their kinds; the queue admits, refuses and
/// cancels; nothing is left behind.
@Suite(.serialized) struct ExecutorTests {
    /// An executor over fresh directories, allowed to reach 127.0.0.1 (the test servers).
    final class Harness: Sendable {
        let directory: String
        let executor: Executor
        let runtime: RuncRunner
        let cgroupParent: String

        init(registry: String, maxConcurrent: Int = 2, maxQueued: Int = 8) throws {
            directory = NSTemporaryDirectory() + "vn-executor-\(UInt64.random(in: 0...UInt64.max))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            cgroupParent = "vn-exec-test-\(UInt32.random(in: 0...UInt32.max))"
            runtime = try RuncRunner(try RuncConfiguration(stateDir: directory + "/runc", cgroupParent: cgroupParent))
            let policy = try URLPolicy(allowlist: ["127.0.0.1"])
            executor = Executor(
                configuration: ExecutorConfiguration(
                    maxConcurrent: maxConcurrent, maxQueued: maxQueued,
                    defaultLimits: ContainerLimits(timeoutMillis: 5_000),
                    maxLimits: ContainerLimits(memoryBytes: 512 << 20, pids: 256, timeoutMillis: 10_000)),
                fetcher: SourceFetcher(policy: policy, limits: FetchLimits(maxBytes: 1 << 20, timeout: .seconds(5))),
                registry: RegistryClient(config: RegistryConfig(plainHTTPRegistries: [registry]), policy: policy),
                cache: try LayerCache(directory: directory + "/cache", maxBytes: 256 << 20), runtime: runtime)
        }

        /// Nothing of ours is left: no container, no bundle, no cgroup.
        func checkClean() async throws {
            #expect(await runtime.listContainers().isEmpty)
            let bundles = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/runc/bundles")) ?? []
            #expect(bundles.isEmpty)
            for controller in try FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup") {
                let parent = "/sys/fs/cgroup/\(controller)/\(cgroupParent)"
                // Child cgroups are directories; the rest are the parent's own control files.
                let children = ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []).filter {
                    var isDirectory: ObjCBool = false
                    return FileManager.default.fileExists(atPath: parent + "/" + $0, isDirectory: &isDirectory)
                        && isDirectory.boolValue
                }
                #expect(children.isEmpty, "cgroups left under \(parent): \(children)")
                rmdir(parent)
            }
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    static func jobID(_ label: String) -> [UInt8] { SHA256.hash(Array(label.utf8)) }

    static func canRun() -> Bool { getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc") }

    @Test(.enabled(if: canRun())) func priceMedianHasAStableResultHash() async throws {
        try await withTestRegistry { registry in
            try await withFetchServer { server in
                let harness = try Harness(registry: registry.registry)
                defer { harness.remove() }
                let digest = try registry.push(.priceMedian, as: "jobs/median")
                let image = "\(registry.registry)/jobs/median@\(digest)"
                let sources = ["101.5", "99", "100.25"].map { "\(server.base)/price/\($0)" }
                func run(_ label: String, _ sources: [String]) async throws -> SandboxExecuteResponse {
                    try await harness.executor.execute(
                        SandboxExecuteRequest(
                            jobID: Self.jobID(label), kind: .container, image: image, sources: sources))
                }
                let first = try await run("median-1", sources)
                #expect(first.failure == nil, "\(String(describing: first.failure))")
                #expect(first.exitStatus == 0)
                #expect(String(decoding: first.output, as: UTF8.self) == "100.25\n")
                #expect(first.resultHash.count == 32)
                #expect(first.imageDigest == digest.description)
                #expect(first.inputs.map(\.url) == sources)
                let second = try await run("median-2", sources)
                #expect(second.resultHash == first.resultHash)
                #expect(second.output == first.output)
                // Other inputs, another hash (even for the same median: the inputs are hashed too).
                let other = try await run("median-3", ["99", "100.25", "500"].map { "\(server.base)/price/\($0)" })
                #expect(String(decoding: other.output, as: UTF8.self) == "100.25\n")
                #expect(other.resultHash != first.resultHash)
                try await harness.checkClean()
            }
        }
    }

    @Test(.enabled(if: canRun())) func refusalsAndFailuresComeBackWithTheirKinds() async throws {
        try await withTestRegistry { registry in
            let harness = try Harness(registry: registry.registry)
            defer { harness.remove() }
            let digest = try registry.push(.priceMedian, as: "jobs/median")
            func kind(_ request: SandboxExecuteRequest) async throws -> SandboxErrorKind? {
                let response = try await harness.executor.execute(request)
                return response.failure.flatMap { SandboxErrorKind(wireCode: $0.kind) }
            }
            // A bare tag; a digest nobody pushed; a source on a refused address; limits above the maximum.
            #expect(
                try await kind(
                    .init(jobID: Self.jobID("tag"), kind: .container, image: "\(registry.registry)/jobs/median:latest"))
                    == .refused)
            let unknown = OCIDigest(sha256: SHA256.hash(Array("nothing".utf8)))
            #expect(
                try await kind(
                    .init(
                        jobID: Self.jobID("unknown"), kind: .container,
                        image: "\(registry.registry)/jobs/median@\(unknown)"))
                    == .imageNotFound)
            let image = "\(registry.registry)/jobs/median@\(digest)"
            #expect(
                try await kind(
                    .init(jobID: Self.jobID("private"), kind: .container, image: image, sources: ["http://10.1.2.3/x"]))
                    == .refused)
            #expect(
                try await kind(
                    .init(
                        jobID: Self.jobID("greedy"), kind: .container, image: image,
                        limits: SandboxJobLimits(memoryBytes: 8 << 30))) == .invalidRequest)
            // The job itself failing: past its timeout.
            #expect(
                try await kind(
                    .init(
                        jobID: Self.jobID("slow"), kind: .container, image: image, arguments: ["/bin/sleep", "30"],
                        limits: SandboxJobLimits(timeoutMs: 500))) == .timeout)
            #expect(harness.executor.status.failed == 5)
            #expect(harness.executor.status.recentErrors.map(\.kind).last == .timeout)
            try await harness.checkClean()
        }
    }

    @Test(.enabled(if: canRun())) func theQueueAdmitsRefusesAndCancels() async throws {
        try await withTestRegistry { registry in
            let harness = try Harness(registry: registry.registry, maxConcurrent: 1, maxQueued: 1)
            defer { harness.remove() }
            let digest = try registry.push(.priceMedian, as: "jobs/median")
            let image = "\(registry.registry)/jobs/median@\(digest)"
            let executor = harness.executor
            let sleeper = SandboxExecuteRequest(
                jobID: Self.jobID("sleeper"), kind: .container, image: image, arguments: ["/bin/sleep", "30"],
                limits: SandboxJobLimits(timeoutMs: 10_000))
            let running = Task { try await executor.execute(sleeper) }
            while executor.status.running == 0 { try await Task.sleep(for: .milliseconds(20)) }
            let waiting = Task {
                try await executor.execute(
                    SandboxExecuteRequest(
                        jobID: Self.jobID("waiter"), kind: .container, image: image, arguments: ["/bin/true"]))
            }
            while executor.status.queued == 0 { try await Task.sleep(for: .milliseconds(20)) }
            // Full: one runs, one waits.
            await #expect(throws: SandboxError.self) {
                try await executor.execute(
                    SandboxExecuteRequest(
                        jobID: Self.jobID("third"), kind: .container, image: image, arguments: ["/bin/true"]))
            }
            // A duplicate live id is refused too.
            await #expect(throws: SandboxError.self) { try await executor.execute(sleeper) }
            // Cancel the waiting one, then the running one.
            #expect(executor.cancel(jobID: Self.jobID("waiter")))
            let cancelledWhileWaiting = try await waiting.value
            #expect(cancelledWhileWaiting.failure.flatMap { SandboxErrorKind(wireCode: $0.kind) } == .cancelled)
            #expect(executor.cancel(jobID: Self.jobID("sleeper")))
            let cancelledWhileRunning = try await running.value
            #expect(cancelledWhileRunning.failure.flatMap { SandboxErrorKind(wireCode: $0.kind) } == .cancelled)
            #expect(!executor.cancel(jobID: Self.jobID("sleeper")))
            #expect(executor.status.running == 0 && executor.status.queued == 0)
            try await harness.checkClean()
        }
    }

    /// Uploads `bytes` as a blob of `repository` (distribution API, monolithic upload) with curl.
    static func uploadBlob(_ bytes: [UInt8], to registry: TestRegistry, repository: String) throws -> OCIDigest {
        let digest = OCIDigest(sha256: SHA256.hash(bytes))
        let file = NSTemporaryDirectory() + "vn-module-\(digest.hex.prefix(12)).wasm"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        func curl(_ arguments: [String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            process.arguments = ["-sS", "--fail"] + arguments
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw TestRegistry.Failed(description: "curl \(arguments)") }
            return String(decoding: data, as: UTF8.self)
        }
        let headers = try curl([
            "-D", "-", "-o", "/dev/null", "-X", "POST", "http://\(registry.registry)/v2/\(repository)/blobs/uploads/",
        ])
        guard
            let location = headers.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("location:") })?
                .dropFirst("location:".count).trimmingCharacters(in: .whitespaces)
        else { throw TestRegistry.Failed(description: "no upload location") }
        let base = location.hasPrefix("http") ? location : "http://\(registry.registry)\(location)"
        let separator = base.contains("?") ? "&" : "?"
        _ = try curl([
            "-X", "PUT", "-H", "Content-Type: application/octet-stream", "--data-binary", "@\(file)",
            "\(base)\(separator)digest=\(digest)",
        ])
        return digest
    }

    @Test(.enabled(if: canRun())) func wasmModulesRunByDigest() async throws {
        try await withTestRegistry { registry in
            try await withFetchServer { server in
                let harness = try Harness(registry: registry.registry)
                defer { harness.remove() }
                // Prints "ok" followed by the byte count of its standard input (the framed inputs).
                let module = try wat2wasm(
                    """
                    (module
                      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
                      (memory (export "memory") 1)
                      (data (i32.const 16) "ok")
                      (func (export "_start")
                        (i32.store (i32.const 0) (i32.const 16))
                        (i32.store (i32.const 4) (i32.const 2))
                        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
                    """)
                let digest = try Self.uploadBlob(module, to: registry, repository: "mods/hello")
                let image = "\(registry.registry)/mods/hello@\(digest)"
                let sources = ["\(server.base)/price/1"]
                let first = try await harness.executor.execute(
                    SandboxExecuteRequest(jobID: Self.jobID("wasm-1"), kind: .wasm, image: image, sources: sources))
                #expect(first.failure == nil, "\(String(describing: first.failure))")
                #expect(first.output == Array("ok".utf8))
                #expect(first.imageDigest == digest.description)
                let second = try await harness.executor.execute(
                    SandboxExecuteRequest(jobID: Self.jobID("wasm-2"), kind: .wasm, image: image, sources: sources))
                #expect(second.resultHash == first.resultHash)
                // A module nobody uploaded; a stored module whose bytes changed.
                let missing = OCIDigest(sha256: SHA256.hash(Array("no module".utf8)))
                let absent = try await harness.executor.execute(
                    SandboxExecuteRequest(
                        jobID: Self.jobID("wasm-3"), kind: .wasm, image: "\(registry.registry)/mods/hello@\(missing)"))
                #expect(absent.failure.flatMap { SandboxErrorKind(wireCode: $0.kind) } == .imageNotFound)
                try registry.corrupt(digest, at: 10)
                let tampered = try await harness.executor.execute(
                    SandboxExecuteRequest(jobID: Self.jobID("wasm-4"), kind: .wasm, image: image))
                #expect(tampered.failure.flatMap { SandboxErrorKind(wireCode: $0.kind) } == .digestMismatch)
            }
        }
    }
}
