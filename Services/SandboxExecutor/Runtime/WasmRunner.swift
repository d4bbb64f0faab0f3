import CryptoPrimitives
import Foundation
import SandboxCore
@_spi(WASIPlatform) internal import WASI
@_spi(Fuzzing) internal import WasmKit
internal import WasmKitWASI

/// One WASM run (issue 7: "WASM modules (by digest) executed with WasmKit under a fuel or
/// instruction limit and a memory cap, for jobs that need no container").
public struct WasmJob: Sendable {
    /// The module's bytes, and the digest that pins them (checked before parsing).
    public var module: [UInt8]
    public var digest: OCIDigest
    /// argv[1...]; argv[0] is always "job" so the module cannot learn a host path.
    public var args: [String]
    /// Standard input is `WasmInputFraming.encode(inputs)`.
    public var inputs: [[UInt8]]
    public var limits: WasmLimits

    public init(
        module: [UInt8], digest: OCIDigest, args: [String] = [], inputs: [[UInt8]] = [],
        limits: WasmLimits = WasmLimits()
    ) {
        self.module = module
        self.digest = digest
        self.args = args
        self.inputs = inputs
        self.limits = limits
    }
}

public struct WasmResult: Sendable {
    /// The `proc_exit` code (0 when `_start` returns). A trap ends the run with 134, the status of
    /// an aborted process, and the trap's text in `stderr`: deterministic, so still a result.
    public var exitStatus: Int32
    public var stdout: [UInt8]
    /// The first 64 KiB of standard error.
    public var stderr: [UInt8]
    public var fuelConsumed: UInt64
    public var peakMemoryBytes: Int64
    public var wallMillis: Int64
}

/// Runs WASI preview 1 command modules with WasmKit (issue 7), deterministically where WasmKit
/// lets us: no preopened directory (the guest sees an empty in-memory filesystem it cannot even
/// name), no sockets or `poll_oneoff` (they answer ENOSYS), wall and monotonic clocks fixed at 0,
/// `random_get` a SHA-256 counter stream seeded by the module digest and the inputs (so every
/// validator draws the same bytes), the environment empty. Fuel bounds the run; the memory cap is
/// enforced by a resource limiter on the store, both at instantiation (declared minimum) and on
/// `memory.grow`. The interpreter runs on a thread of its own, off the cooperative pool.
///
/// Task cancellation is checked before the run and at every WASI call the guest makes; a guest
/// that makes none runs until its fuel is spent.
public struct WasmRunner: Sendable {
    public static let stderrCap = 64 << 10
    /// The exit status of a trapped run.
    public static let trapExitStatus: Int32 = 134

    public init() {}

    public func run(_ job: WasmJob) async throws(SandboxError) -> WasmResult {
        try job.limits.validate()
        guard OCIDigest(sha256: SHA256.hash(job.module)) == job.digest else {
            throw SandboxError(.digestMismatch, "module does not hash to \(job.digest)")
        }
        let stdin = try WasmInputFraming.encode(job.inputs)
        if Task.isCancelled { throw SandboxError(.cancelled, "wasm run cancelled before start") }
        let cancelled = WasmCancellation()
        let result: Result<WasmResult, SandboxError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let thread = Thread {
                    continuation.resume(returning: Self.execute(job, stdin: stdin, cancelled: cancelled))
                }
                thread.name = "sandbox-wasm"
                // Deep guest recursion runs on WasmKit's own stack; the thread needs only the host part.
                thread.stackSize = 8 << 20
                thread.start()
            }
        } onCancel: {
            cancelled.cancel()
        }
        return try result.get()
    }

    static func execute(_ job: WasmJob, stdin: [UInt8], cancelled: WasmCancellation) -> Result<WasmResult, SandboxError>
    {
        let started = DispatchTime.now().uptimeNanoseconds
        let module: Module
        do {
            module = try parseWasm(bytes: job.module)
        } catch {
            return .failure(SandboxError(.invalidRequest, "not a valid WASM module: \(error)"))
        }
        let engine = Engine(configuration: EngineConfiguration(fuelMetering: true))
        let store = Store(engine: engine)
        let limiter = WasmMemoryLimiter(
            maxMemoryBytes: job.limits.maxMemoryBytes, maxTableElements: job.limits.maxTableElements)
        store.resourceLimiter = limiter
        store.fuel = Fuel(remaining: job.limits.fuel)

        let input = WasmStdin(bytes: stdin, cancelled: cancelled)
        let output = WasmCappedOutput(cap: job.limits.outputBytes, failWhenFull: true, cancelled: cancelled)
        let errors = WasmCappedOutput(cap: WasmRunner.stderrCap, failWhenFull: false, cancelled: cancelled)
        var seed = Array(job.digest.description.utf8)
        seed += SHA256.hash(stdin)
        let wasi: WASIBridgeToHost
        do {
            let fileSystem = try MemoryFileSystem()
            wasi = try WASIBridgeToHost(
                args: ["job"] + job.args, environment: [:],
                fileSystem: .memory(fileSystem).withStdio(stdin: input, stdout: output, stderr: errors),
                wallClock: WasmFixedClock(), monotonicClock: WasmFixedClock(),
                randomGenerator: WasmSeededRandom(seed: SHA256.hash(seed)))
        } catch {
            return .failure(SandboxError(.internal, "cannot set up WASI: \(error)"))
        }
        defer { try? wasi.close() }

        var exitStatus: Int32 = 0
        var trapText: String? = nil
        do {
            var imports = Imports()
            // Everything but sockets and poll: the file-descriptor surface stays (wasi-libc's
            // start-up asks `fd_prestat_get` for preopens and exits if that is not EBADF), but
            // with no preopen there is no directory to open anything in.
            wasi.link(
                to: &imports, store: store,
                capabilities: [.environment, .clocks, .random, .process, .stdio, .fileSystem])
            let instance = try module.instantiate(store: store, imports: imports)
            exitStatus = Int32(bitPattern: try wasi.start(instance))
        } catch {
            // Our own stops first: they are why the interpreter unwound.
            if cancelled.isCancelled { return .failure(SandboxError(.cancelled, "wasm run cancelled")) }
            if limiter.exceeded {
                return .failure(
                    SandboxError(.outOfMemory, "module needs more than \(job.limits.maxMemoryPages) pages of memory"))
            }
            if output.overflowed {
                return .failure(
                    SandboxError(.outputTooLarge, "module wrote more than \(job.limits.outputBytes) bytes of output"))
            }
            // WasmKit keeps the trap reason package-internal; its description is the stable text
            // of `TrapReason.outOfFuel` ("out of fuel").
            if error is Trap, String(describing: error).contains("out of fuel") {
                return .failure(SandboxError(.fuelExhausted, "module used its \(job.limits.fuel) units of fuel"))
            }
            if error is Trap {
                exitStatus = trapExitStatus
                trapText = String(describing: error).split(separator: "\n").first.map(String.init) ?? "trap"
            } else {
                return .failure(SandboxError(.invalidRequest, "module cannot run: \(error)"))
            }
        }
        var stderr = errors.bytes
        if let trapText { stderr += Array("\n\(trapText)\n".utf8).prefix(max(0, stderrCap - stderr.count)) }
        let remaining = store.fuel?.remaining ?? 0
        return .success(
            WasmResult(
                exitStatus: exitStatus, stdout: output.bytes, stderr: stderr,
                fuelConsumed: job.limits.fuel - min(remaining, job.limits.fuel),
                peakMemoryBytes: Int64(limiter.peakMemoryBytes),
                wallMillis: Int64((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)))
    }
}
