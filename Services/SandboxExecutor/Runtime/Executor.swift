import CryptoPrimitives
import Foundation
import SandboxCore
import Synchronization
import Wire

/// What the executor allows, from the `[sandbox]` configuration.
public struct ExecutorConfiguration: Sendable {
    public var maxConcurrent: Int
    public var maxQueued: Int
    /// Limits of a job that asks for none (a field left 0 in the request takes the default).
    public var defaultLimits: ContainerLimits
    /// The most a job may ask for; more is refused (`invalidRequest`), never lowered silently.
    public var maxLimits: ContainerLimits
    /// Fuel and memory of WASM jobs (their output cap and timeout come from the job's limits).
    public var wasmFuel: UInt64
    public var wasmMaxMemoryPages: Int
    /// Largest WASM module pulled.
    public var maxModuleBytes: Int
    public var allowTags: Bool

    public init(
        maxConcurrent: Int = 2, maxQueued: Int = 32, defaultLimits: ContainerLimits = ContainerLimits(),
        maxLimits: ContainerLimits = ContainerLimits(), wasmFuel: UInt64 = 1_000_000_000,
        wasmMaxMemoryPages: Int = 4096, maxModuleBytes: Int = 64 << 20, allowTags: Bool = false
    ) {
        self.maxConcurrent = maxConcurrent
        self.maxQueued = maxQueued
        self.defaultLimits = defaultLimits
        self.maxLimits = maxLimits
        self.wasmFuel = wasmFuel
        self.wasmMaxMemoryPages = wasmMaxMemoryPages
        self.maxModuleBytes = maxModuleBytes
        self.allowTags = allowTags
    }

    /// The request's limits with 0 fields defaulted; a field above the maximum is refused.
    public func resolve(_ asked: SandboxJobLimits) throws(SandboxError) -> ContainerLimits {
        var limits = defaultLimits
        func pick(_ value: Int64, _ maximum: Int64, _ name: String) throws(SandboxError) -> Int64? {
            guard value != 0 else { return nil }
            guard value <= maximum else {
                throw SandboxError(.invalidRequest, "\(name) \(value) exceeds the executor's maximum \(maximum)")
            }
            return value
        }
        if let v = try pick(Int64(asked.timeoutMs), maxLimits.timeoutMillis, "timeout_ms") { limits.timeoutMillis = v }
        if let v = try pick(Int64(clamping: asked.memoryBytes), maxLimits.memoryBytes, "memory_bytes") {
            limits.memoryBytes = v
        }
        if let v = try pick(Int64(asked.pids), maxLimits.pids, "pids") { limits.pids = v }
        if let v = try pick(Int64(asked.cpuMillicores), maxLimits.cpuMillicores, "cpu_millicores") {
            limits.cpuMillicores = v
        }
        if let v = try pick(Int64(asked.outputBytes), Int64(maxLimits.outputBytes), "output_bytes") {
            limits.outputBytes = Int(v)
        }
        try limits.validate()
        return limits
    }
}

/// What `/status` shows of the executor.
public struct ExecutorStatus: Sendable {
    public var running: Int
    public var queued: Int
    public var completed: Int
    public var failed: Int
    public var cacheBytes: Int64
    public var cachedImages: Int
    /// The latest failures, newest last: (unix ms, kind, message).
    public var recentErrors: [(atMs: Int64, kind: SandboxErrorKind, message: String)]
}

/// The sandbox-executor's job pipeline (issue 7): admission (`JobQueue`: a concurrency limit, a
/// bounded FIFO queue, cancellation), then per job: fetch the sources (policy-checked, hashed), pull
/// the digest-pinned image or module (sha256-checked, cached), run it isolated (a container runtime,
/// or WasmKit), and hash (inputs, image digest, exit status, output). Every failure is an answer
/// with its kind, so that validators can agree on it; only a full queue is an error of the call.
public final class Executor: Sendable {
    public let configuration: ExecutorConfiguration
    let fetcher: SourceFetcher
    let registry: RegistryClient
    let cache: LayerCache
    let runtime: any ContainerRuntime
    let wasm: WasmRunner

    /// Resumed with true when the job may start, false when it was cancelled while waiting.
    final class Waiter: Sendable {
        let continuation = Mutex<CheckedContinuation<Bool, Never>?>(nil)
        let decided = Mutex<Bool?>(nil)

        func wait() async -> Bool {
            await withCheckedContinuation { continuation in
                let early: Bool? = decided.withLock { decision in
                    if let decision { return decision }
                    self.continuation.withLock { $0 = continuation }
                    return nil
                }
                if let early { continuation.resume(returning: early) }
            }
        }

        func resume(_ start: Bool) {
            let continuation: CheckedContinuation<Bool, Never>? = decided.withLock { decision in
                guard decision == nil else { return nil }
                decision = start
                return self.continuation.withLock { c in
                    defer { c = nil }
                    return c
                }
            }
            continuation?.resume(returning: start)
        }
    }

    struct State {
        var queue: JobQueue<Waiter>
        var tasks: [[UInt8]: Task<SandboxExecuteResponse, Never>] = [:]
        var cancelled: Set<[UInt8]> = []
        var completed = 0
        var failed = 0
        var recentErrors: [(atMs: Int64, kind: SandboxErrorKind, message: String)] = []
    }

    private let state: Mutex<State>
    static let recentErrorCount = 16
    /// Start-up cleanup of what a crashed executor left (containers, bundles, cgroups); every job
    /// waits for it.
    let startup: Task<[String], Never>
    /// True once the start-up cleanup has finished.
    public var isStarted: Bool { startedBox.value.load(ordering: .acquiring) }

    /// Waits for the start-up cleanup; the ids it removed.
    @discardableResult
    public func waitUntilStarted() async -> [String] { await startup.value }

    public init(
        configuration: ExecutorConfiguration, fetcher: SourceFetcher, registry: RegistryClient, cache: LayerCache,
        runtime: any ContainerRuntime, wasm: WasmRunner = WasmRunner()
    ) {
        self.configuration = configuration
        self.fetcher = fetcher
        self.registry = registry
        self.cache = cache
        self.runtime = runtime
        self.wasm = wasm
        self.state = Mutex(
            State(queue: JobQueue(maxConcurrent: configuration.maxConcurrent, maxQueued: configuration.maxQueued)))
        let startedBox = StartedBox()
        self.startup = Task { [runtime] in
            let removed = await runtime.cleanupAtStartup()
            startedBox.set()
            return removed
        }
        self.startedBox = startedBox
    }

    final class StartedBox: Sendable {
        let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .releasing) }
    }
    private let startedBox: StartedBox

    public var status: ExecutorStatus {
        let (cacheBytes, cachedImages) = (cache.totalBytes, cache.cachedDigests.count)
        return state.withLock { s in
            ExecutorStatus(
                running: s.queue.runningCount, queued: s.queue.queuedCount, completed: s.completed, failed: s.failed,
                cacheBytes: cacheBytes, cachedImages: cachedImages, recentErrors: s.recentErrors)
        }
    }

    /// Runs one job to its answer. Throws only `.busy` (the queue is full: retry later) and
    /// `.invalidRequest` for a job id that is already live.
    public func execute(_ request: SandboxExecuteRequest) async throws(SandboxError) -> SandboxExecuteResponse {
        _ = await startup.value
        let id = request.jobID
        let waiter = Waiter()
        let admission = state.withLock { $0.queue.submit(id: id, job: waiter) }
        switch admission {
        case .refused(let error): throw error
        case .start: break
        case .queued:
            // A caller that gives up while its job waits takes it out of the queue.
            let admitted = await withTaskCancellationHandler {
                await waiter.wait()
            } onCancel: {
                self.cancel(jobID: id)
            }
            guard admitted else {
                return record(Self.failure(id, SandboxError(.cancelled, "cancelled while queued")))
            }
        }
        let task = Task { await self.run(request) }
        let cancelledEarly = state.withLock { s in
            s.tasks[id] = task
            return s.cancelled.remove(id) != nil
        }
        if cancelledEarly { task.cancel() }
        let response = await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
        let next = state.withLock { s in
            s.tasks[id] = nil
            return s.queue.finish(id: id)
        }
        for started in next { started.job.resume(true) }
        return record(response)
    }

    /// At a graceful stop: cancels every running job, waits for them, and has the runtime remove
    /// everything it made on the host (containers, bundles, cgroups and their parent).
    public func shutdown() async {
        let tasks = state.withLock { Array($0.tasks.values) }
        for task in tasks { task.cancel() }
        for task in tasks { _ = await task.value }
        await runtime.shutdown()
    }

    /// Cancels a queued or running job; false when no live job has this id.
    @discardableResult
    public func cancel(jobID: [UInt8]) -> Bool {
        let (outcome, task, waiter): (JobQueue<Waiter>.Cancellation, Task<SandboxExecuteResponse, Never>?, Waiter?) =
            state.withLock { s in
                let waiter = s.queue.queued(jobID)
                let outcome = s.queue.cancel(id: jobID)
                // Admitted but its task not stored yet: `execute` cancels it as soon as it is.
                if outcome == .stopRunning, s.tasks[jobID] == nil { s.cancelled.insert(jobID) }
                return (outcome, s.tasks[jobID], waiter)
            }
        switch outcome {
        case .notFound: return false
        case .removedFromQueue:
            // It never held a slot: its `execute` answers `cancelled`.
            waiter?.resume(false)
            return true
        case .stopRunning:
            task?.cancel()
            return true
        }
    }

    private func record(_ response: SandboxExecuteResponse) -> SandboxExecuteResponse {
        state.withLock { s in
            if let failure = response.failure, let kind = SandboxErrorKind(wireCode: failure.kind) {
                s.failed += 1
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                s.recentErrors.append((now, kind, failure.message))
                if s.recentErrors.count > Self.recentErrorCount { s.recentErrors.removeFirst() }
            } else {
                s.completed += 1
            }
        }
        return response
    }

    static func failure(
        _ id: [UInt8], _ error: SandboxError, inputs: [SandboxInputDigest] = [], imageDigest: String = "",
        usage: SandboxUsage = SandboxUsage(wallMs: 0, cpuMs: 0, peakMemoryBytes: 0)
    ) -> SandboxExecuteResponse {
        SandboxExecuteResponse(
            jobID: id, failure: SandboxFailure(kind: error.kind.wireCode, message: error.message), exitStatus: -1,
            output: [], resultHash: [], imageDigest: imageDigest, inputs: inputs, usage: usage)
    }

    // MARK: The pipeline

    func run(_ request: SandboxExecuteRequest) async -> SandboxExecuteResponse {
        let started = ContinuousClock.now
        var inputs: [SandboxInputDigest] = []
        var imageDigest = ""
        do throws(SandboxError) {
            let limits = try configuration.resolve(request.limits)
            let reference = try ImageReference.parse(request.image, allowTags: configuration.allowTags)
            try Self.checkStrings(request)
            let sources = try await fetcher.fetchAll(request.sources)
            inputs = sources.map { SandboxInputDigest(url: $0.input.url, sha256: $0.input.sha256) }
            let fetched = sources.map(\.input)
            try Task.checkCancellation(or: "cancelled")
            switch request.kind {
            case .container:
                let lease = try await cache.acquire(reference, from: registry)
                defer { lease.release() }
                imageDigest = lease.image.digest.description
                let config = lease.image.config
                let args = request.arguments.isEmpty ? config.entrypoint + config.cmd : request.arguments
                guard !args.isEmpty else { throw SandboxError(.invalidRequest, "the image names no command to run") }
                let job = ContainerJob(
                    rootfs: lease.rootfs, args: args,
                    env: RuntimeSpec.defaultEnv + config.env + request.environment,
                    cwd: config.workingDir.isEmpty ? "/tmp" : config.workingDir, inputs: sources.map(\.body),
                    limits: limits)
                let result = try await runtime.run(job)
                return SandboxExecuteResponse(
                    jobID: request.jobID, failure: nil, exitStatus: result.exitStatus, output: result.stdout,
                    resultHash: ResultHash.compute(
                        inputs: fetched, imageDigest: imageDigest, exitStatus: result.exitStatus, output: result.stdout),
                    imageDigest: imageDigest, inputs: inputs,
                    usage: SandboxUsage(
                        wallMs: UInt64(max(0, result.usage.wallMillis)), cpuMs: UInt64(max(0, result.usage.cpuMillis)),
                        peakMemoryBytes: UInt64(max(0, result.usage.peakMemoryBytes))))
            case .wasm:
                guard let digest = reference.digest else {
                    throw SandboxError(.refused, "a WASM module is named by its digest")
                }
                imageDigest = digest.description
                let module = try await registry.module(
                    reference, digest: digest, maxBytes: configuration.maxModuleBytes)
                let wasmLimits = WasmLimits(
                    fuel: configuration.wasmFuel, maxMemoryPages: configuration.wasmMaxMemoryPages,
                    outputBytes: limits.outputBytes)
                let result = try await wasm.run(
                    WasmJob(
                        module: module, digest: digest, args: request.arguments, inputs: sources.map(\.body),
                        limits: wasmLimits))
                return SandboxExecuteResponse(
                    jobID: request.jobID, failure: nil, exitStatus: result.exitStatus, output: result.stdout,
                    resultHash: ResultHash.compute(
                        inputs: fetched, imageDigest: imageDigest, exitStatus: result.exitStatus, output: result.stdout),
                    imageDigest: imageDigest, inputs: inputs,
                    usage: SandboxUsage(
                        wallMs: UInt64(max(0, result.wallMillis)), cpuMs: UInt64(max(0, result.wallMillis)),
                        peakMemoryBytes: UInt64(max(0, result.peakMemoryBytes))))
            }
        } catch {
            let elapsed = ContinuousClock.now - started
            let error = Task.isCancelled && error.kind != .cancelled ? SandboxError(.cancelled, "cancelled") : error
            return Self.failure(
                request.jobID, error, inputs: inputs, imageDigest: imageDigest,
                usage: SandboxUsage(
                    wallMs: UInt64(
                        elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000),
                    cpuMs: 0, peakMemoryBytes: 0))
        }
    }

    /// Arguments and environment entries: no NUL (they become C strings), `NAME=value` form.
    static func checkStrings(_ request: SandboxExecuteRequest) throws(SandboxError) {
        for argument in request.arguments where argument.utf8.contains(0) {
            throw SandboxError(.invalidRequest, "an argument contains NUL")
        }
        for entry in request.environment {
            guard !entry.utf8.contains(0), let eq = entry.firstIndex(of: "="), eq != entry.startIndex else {
                throw SandboxError(.invalidRequest, "environment entries are NAME=value")
            }
        }
    }
}

extension RegistryClient {
    /// A WASM module stored as a registry blob and named by its own digest: fetched with a size
    /// cap (no descriptor tells its size) and sha256-checked (`.digestMismatch`).
    public func module(
        _ reference: ImageReference, digest: OCIDigest, maxBytes: Int
    ) async throws(SandboxError)
        -> [UInt8]
    {
        var limits = config.blobFetch
        limits.maxBytes = maxBytes
        let response = try await get(reference, "blobs/\(digest)", accept: [], limits: limits)
        try check(response.status, reference, what: "module \(digest)")
        let actual = OCIDigest(sha256: SHA256.hash(response.body))
        guard actual == digest else {
            throw SandboxError(.digestMismatch, "\(reference.registry): module \(digest) arrived as \(actual)")
        }
        return response.body
    }
}

extension Task where Success == Never, Failure == Never {
    /// `Task.checkCancellation()` as a `SandboxError`.
    static func checkCancellation(or message: String) throws(SandboxError) {
        if Task.isCancelled { throw SandboxError(.cancelled, message) }
    }
}
