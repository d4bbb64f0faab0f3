import Foundation
import SandboxCore

#if canImport(Glibc)
    import Glibc
#endif

/// One container run as a runtime receives it.
public struct ContainerJob: Sendable {
    /// The unpacked image root, shared read-only (see `RuntimeSpecInput.rootfs` for the mount points
    /// it must hold).
    public var rootfs: String
    public var args: [String]
    public var env: [String]
    public var cwd: String
    /// Visible read-only as `/input/0`, `/input/1`, … in this order.
    public var inputs: [[UInt8]]
    public var limits: ContainerLimits
    /// The container id; a fresh random one when nil.
    public var id: String?

    public init(
        rootfs: String, args: [String], env: [String] = RuntimeSpec.defaultEnv, cwd: String = "/tmp",
        inputs: [[UInt8]] = [], limits: ContainerLimits = ContainerLimits(), id: String? = nil
    ) {
        self.rootfs = rootfs
        self.args = args
        self.env = env
        self.cwd = cwd
        self.inputs = inputs
        self.limits = limits
        self.id = id
    }
}

/// A run that ended by itself (any exit status). Timeouts, OOM kills, output over the cap and
/// cancellation are thrown as `SandboxError` instead, so a result is always a complete output.
public struct ContainerResult: Sendable {
    public var id: String
    /// Exit code, or 128 + signal.
    public var exitStatus: Int32
    public var stdout: [UInt8]
    /// The first 64 KiB of standard error, for logs; not part of the result hash.
    public var stderr: [UInt8]
    public var usage: ContainerUsage
}

/// What the executor calls, whichever runtime the configuration picked (runc by default,
/// bubblewrap as the alternative): both give the same isolation contract and error kinds.
public protocol ContainerRuntime: Sendable {
    /// Runs `job` to its end. Throws `SandboxError` with kind `timeout`, `outOfMemory`,
    /// `outputTooLarge`, `cancelled` (Swift task cancellation), `invalidRequest` or `internal`.
    /// Whatever happens, the container, its cgroups and its bundle are gone when this returns.
    func run(_ job: ContainerJob) async throws(SandboxError) -> ContainerResult

    /// Removes every container, bundle and cgroup a previous (crashed) executor left under this
    /// runtime's state directory and cgroup parent. Returns the ids it removed.
    @discardableResult
    func cleanupAtStartup() async -> [String]

    /// At a graceful stop: removes every container, bundle and cgroup of this runtime, then its
    /// cgroup parent itself, so that a stopped executor leaves nothing on the host.
    func shutdown() async
}

/// Helpers both runtimes share.
enum ContainerRunSupport {
    /// A fresh id: "vn-" and 16 random hex digits.
    static func freshID() -> String {
        var rng = SystemRandomNumberGenerator()
        let value = rng.next() as UInt64
        let hex = String(value, radix: 16)
        return "vn-" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Creates `dir` (mode 0755, not there before) and writes the inputs as `0`, `1`, … (mode 0444),
    /// readable by the job's uid.
    static func writeInputs(_ inputs: [[UInt8]], into dir: String) throws(SandboxError) {
        guard mkdir(dir, 0o755) == 0 else { throw SandboxError(.internal, "cannot create \(dir): errno \(errno)") }
        chmod(dir, 0o755)
        for (index, bytes) in inputs.enumerated() {
            let file = "\(dir)/\(index)"
            guard
                FileManager.default.createFile(
                    atPath: file, contents: Data(bytes), attributes: [.posixPermissions: 0o444])
            else { throw SandboxError(.internal, "cannot write input \(index)") }
        }
    }

    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Maps a finished run to a result or its error kind. Precedence: the caller's cancellation,
    /// then our own kills (output cap, timeout), then the memory limit's OOM kill; a run that
    /// exited by itself despite an OOM kill of one of its processes is still a result.
    static func classify(
        id: String, outcome: ProcessOutcome, readings: CgroupReadings, limits: ContainerLimits
    ) throws(SandboxError) -> ContainerResult {
        if outcome.cancelled { throw SandboxError(.cancelled, "run \(id) cancelled") }
        if outcome.outputExceeded {
            throw SandboxError(.outputTooLarge, "run \(id) wrote more than \(limits.outputBytes) bytes of output")
        }
        if outcome.timedOut { throw SandboxError(.timeout, "run \(id) exceeded \(limits.timeoutMillis) ms") }
        if readings.oomKills > 0, outcome.exitStatus != 0 {
            throw SandboxError(.outOfMemory, "run \(id) exceeded \(limits.memoryBytes) bytes of memory")
        }
        return ContainerResult(
            id: id, exitStatus: outcome.exitStatus, stdout: outcome.stdout, stderr: outcome.stderr,
            usage: ContainerUsage(
                wallMillis: Int64(outcome.elapsedNanos / 1_000_000), cpuMillis: readings.cpuNanos / 1_000_000,
                peakMemoryBytes: readings.peakMemoryBytes))
    }
}
