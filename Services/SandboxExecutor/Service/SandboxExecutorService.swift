import CryptoPrimitives
import Foundation
import LevelDB
import Logging
import NIOCore
import NodeKit
import RPC
import SandboxCore
import SandboxRuntime
import ServiceKit
import ServiceLifecycle
import Synchronization
import Wire

/// Runs until the process stops gracefully, then lets the executor clean up after itself.
struct ExecutorLifecycle: Service {
    let executor: Executor

    func run() async throws {
        try? await gracefulShutdown()
        await executor.shutdown()
    }
}

/// `sandbox-executor`: runs the consensus-manager's jobs isolated (issue 7) — `sandbox.execute`
/// and `sandbox.cancel` on its framed RPC port (loopback callers only), `/status` with the queue,
/// the cache and the recent errors, readiness once the container runtime answered.
///
/// At start-up every container, bundle and cgroup a previous (crashed) run left behind is removed
/// before any job is admitted (`Executor` waits for it; `/readyz` says so meanwhile).
public enum SandboxExecutorService: LocalServiceDefinition {
    public static let kind = ServiceKind.sandboxExecutor
    public static let stores: [NodeHome.Store] = []

    /// The executor, built by `registerHandlers` (which runs first) and used by `extras`; or why
    /// it could not be built (the service then answers `unavailable` and is never ready).
    static let built = Mutex<Result<Executor, SandboxError>?>(nil)

    /// Stops the executor `registerHandlers` built (what a graceful stop of the process does):
    /// jobs cancelled, containers, bundles and cgroups removed. For hosts that embed the handlers.
    public static func shutdownExecutor() async {
        if case .success(let executor) = built.withLock({ $0 }) { await executor.shutdown() }
    }

    public static func registerHandlers(
        on server: RPCServer, context: ServiceContext, stores: [NodeHome.Store: LevelDBStore]
    ) {
        let result: Result<Executor, SandboxError>
        do throws(SandboxError) {
            result = .success(try makeExecutor(context: context))
        } catch {
            context.logger.error("sandbox unavailable", metadata: ["reason": "\(error)"])
            result = .failure(error)
        }
        built.withLock { $0 = result }
        let logger = context.logger
        server.register(MethodID.sandboxExecute, request: SandboxExecuteRequest.self) { request, call in
            let executor = try usable(result, call)
            do {
                let response = try await executor.execute(request)
                if let failure = response.failure {
                    logger.info(
                        "job failed",
                        metadata: [
                            "job": "\(Hex.encode(request.jobID.prefix(8)))",
                            "kind": "\(SandboxErrorKind(wireCode: failure.kind)?.rawValue ?? "?")",
                            "message": "\(failure.message)",
                        ])
                }
                return response
            } catch let error as SandboxError where error.kind == .busy {
                throw RPCError(.resourceExhausted, error.message)
            } catch let error as SandboxError {
                throw RPCError(.invalidArgument, error.message)
            }
        }
        server.register(MethodID.sandboxCancel, request: SandboxCancelRequest.self) { request, call in
            let executor = try usable(result, call)
            return SandboxCancelResponse(found: executor.cancel(jobID: request.jobID))
        }
    }

    /// Only a caller on this host (the local consensus-manager) may run jobs.
    static func usable(_ result: Result<Executor, SandboxError>, _ call: RPCContext) throws -> Executor {
        guard let address = call.remoteAddress?.ipAddress, address == "127.0.0.1" || address == "::1" else {
            throw RPCError(.permissionDenied, "the sandbox-executor serves local callers only")
        }
        switch result {
        case .success(let executor): return executor
        case .failure(let error): throw RPCError(.unavailable, "sandbox unavailable: \(error.message)")
        }
    }

    public static func extras(
        context: ServiceContext, stores: [NodeHome.Store: LevelDBStore], link: ConsensusLink
    ) throws -> LocalServiceExtras {
        let result = built.withLock { $0 } ?? .failure(SandboxError(.internal, "not initialised"))
        let readiness = ReadinessCheck(name: "sandbox") {
            switch result {
            case .success(let executor):
                executor.isStarted ? .ready("runtime ready") : .notReady("cleaning up after the previous run")
            case .failure(let error): .notReady(error.message)
            }
        }
        var services: [any Service] = []
        if case .success(let executor) = result { services.append(ExecutorLifecycle(executor: executor)) }
        return LocalServiceExtras(
            services: services, readinessChecks: [readiness],
            status: {
                guard case .success(let executor) = result else { return ["sandbox": .string("unavailable")] }
                let s = executor.status
                return [
                    "sandbox": .object([
                        "runtime": .string(context.config.sandbox.runtime.rawValue),
                        "running": .number(String(s.running)), "queued": .number(String(s.queued)),
                        "completed": .number(String(s.completed)), "failed": .number(String(s.failed)),
                        "cacheBytes": .number(String(s.cacheBytes)), "cachedImages": .number(String(s.cachedImages)),
                        "recentErrors": .array(
                            s.recentErrors.map {
                                .object([
                                    "atMs": .number(String($0.atMs)), "kind": .string($0.kind.rawValue),
                                    "message": .string($0.message),
                                ])
                            }),
                    ])
                ]
            })
    }

    /// Builds the executor from `[sandbox]`: the state directory (bundles, runtime state, cache),
    /// the runtime, start-up cleanup, the fetch and registry policies and the limits.
    static func makeExecutor(context: ServiceContext) throws(SandboxError) -> Executor {
        let config = context.config.sandbox
        let configured =
            config.stateDir.isEmpty
            ? FileIO.join(context.home.dataDir, "sandbox")
            : config.stateDir.hasPrefix("/") ? config.stateDir : FileIO.join(context.home.path, config.stateDir)
        let stateDir =
            configured.hasPrefix("/") ? configured : FileIO.join(FileManager.default.currentDirectoryPath, configured)
        do {
            try FileManager.default.createDirectory(
                atPath: stateDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch { throw SandboxError(.internal, "cannot create \(stateDir)") }
        // One cgroup parent per state directory: several nodes on one host never clean up each
        // other's containers.
        let cgroupParent = "vn-sandbox-" + Hex.encode(SHA256.hash(Array(stateDir.utf8)).prefix(6))
        let runtime: any ContainerRuntime
        switch config.runtime {
        case .runc:
            runtime = try RuncRunner(
                try RuncConfiguration(stateDir: FileIO.join(stateDir, "runc"), cgroupParent: cgroupParent))
        case .bubblewrap:
            runtime = try BubblewrapRunner(
                try BubblewrapConfiguration(stateDir: FileIO.join(stateDir, "bwrap"), cgroupParent: cgroupParent))
        }
        let fetchPolicy = try URLPolicy(allowlist: config.fetchAllow)
        let registryPolicy = try URLPolicy(allowlist: config.fetchAllow + config.insecureRegistries)
        let fetchLimits = FetchLimits(
            maxBytes: config.fetchMaxBytes, timeout: .milliseconds(config.fetchTimeoutMs),
            maxRedirects: config.fetchMaxRedirects)
        let cache = try LayerCache(
            directory: FileIO.join(stateDir, "cache"), maxBytes: Int64(config.cacheMaxMB) << 20)
        let defaults = ContainerLimits(
            memoryBytes: Int64(config.defaultMemoryMB) << 20, pids: Int64(config.defaultPids),
            cpuMillicores: Int64(config.defaultCPUMillicores), timeoutMillis: Int64(config.defaultTimeoutMs),
            outputBytes: config.defaultOutputBytes)
        let maxima = ContainerLimits(
            memoryBytes: Int64(config.maxMemoryMB) << 20, pids: Int64(config.maxPids),
            cpuMillicores: Int64(config.maxCPUMillicores), timeoutMillis: Int64(config.maxTimeoutMs),
            outputBytes: config.maxOutputBytes)
        try defaults.validate()
        try maxima.validate()
        return Executor(
            configuration: ExecutorConfiguration(
                maxConcurrent: config.maxConcurrent, maxQueued: config.maxQueued, defaultLimits: defaults,
                maxLimits: maxima, wasmFuel: UInt64(config.wasmFuel),
                wasmMaxMemoryPages: (config.wasmMaxMemoryMB << 20) / WasmLimits.pageSize,
                allowTags: config.allowImageTags.isYes),
            fetcher: SourceFetcher(policy: fetchPolicy, limits: fetchLimits),
            registry: RegistryClient(
                config: RegistryConfig(plainHTTPRegistries: Set(config.insecureRegistries)), policy: registryPolicy),
            cache: cache, runtime: runtime)
    }
}
