import CryptoPrimitives
import Foundation
import SandboxCore
import SandboxRuntime
import WAT
import Wire

/// `sandbox` area (issue 7): the cost of isolation itself, on a busybox root filesystem built
/// here (no registry: pulling is measured by nothing here, it is cached after the first run).
///
/// - `sandbox.container.overhead`: one runc run of `true` end to end (bundle, namespaces,
///   cgroups, seccomp, start, wait, counters, delete, cleanup), ms.
/// - `sandbox.wasm.overhead`: one WasmKit run of a module that prints 2 bytes, ms.
/// - `sandbox.container.rate`: trivial container runs at the executor's default concurrency limit
///   (2 at a time), ops/s.
///
/// Needs root and runc (as the executor does); prints nothing for the container rows otherwise.
struct SandboxBench: BenchArea {
    let name = "sandbox"

    func run(_ options: BenchOptions, report: @Sendable (BenchResult) -> Void) async throws {
        let clock = ContinuousClock()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("vn-bench-sandbox-\(getpid())").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        // WASM first: it needs nothing from the host.
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
        let digest = OCIDigest(sha256: SHA256.hash(module))
        let runner = WasmRunner()
        var wasmTimes: [Double] = []
        for _ in 0..<options.scale(200, quick: 10) {
            let elapsed = try await clock.measure {
                let result = try await runner.run(WasmJob(module: module, digest: digest))
                guard result.stdout == Array("ok".utf8) else { throw SandboxError(.internal, "wasm output") }
            }
            wasmTimes.append(elapsed.seconds * 1000)
        }
        report(
            TSSBench.result(
                "sandbox.wasm.overhead", .ms, wasmTimes,
                note: "WasmKit, WASI fd_write of 2 bytes, digest check + parse + instantiate + run"))

        guard getuid() == 0,
            let runc = try? RuncConfiguration(stateDir: scratch + "/state", cgroupParent: "vn-bench-sandbox")
        else { return }
        let rootfs = try Self.busyboxRootfs(at: scratch + "/rootfs")
        let runtime = try RuncRunner(runc)
        await runtime.cleanupAtStartup()
        defer {
            // The per-run cgroups are gone; their parent too, in every hierarchy.
            let controllers = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []
            for controller in controllers { rmdir("/sys/fs/cgroup/\(controller)/vn-bench-sandbox") }
        }
        var containerTimes: [Double] = []
        for _ in 0..<options.scale(40, quick: 3) {
            let elapsed = try await clock.measure {
                let result = try await runtime.run(ContainerJob(rootfs: rootfs, args: ["/bin/true"]))
                guard result.exitStatus == 0 else { throw SandboxError(.internal, "true exited \(result.exitStatus)") }
            }
            containerTimes.append(elapsed.seconds * 1000)
        }
        report(
            TSSBench.result(
                "sandbox.container.overhead", .ms, containerTimes,
                note: "runc 1.1.5 run of /bin/true: bundle, namespaces, cgroups v1, seccomp, counters, delete"))

        // The rate at the executor's default concurrency limit (2 jobs at a time): admission itself
        // is a lock and a dictionary, the runs are what costs.
        let jobs = options.scale(40, quick: 4)
        let started = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            for _ in 0..<2 {
                group.addTask { _ = try await runtime.run(ContainerJob(rootfs: rootfs, args: ["/bin/true"])) }
                next += 1
            }
            while try await group.next() != nil {
                if next < jobs {
                    group.addTask { _ = try await runtime.run(ContainerJob(rootfs: rootfs, args: ["/bin/true"])) }
                    next += 1
                }
            }
        }
        let rate = Double(jobs) / (clock.now - started).seconds
        report(
            BenchResult(
                bench: "sandbox.container.rate", unit: .opsPerSecond, p50: rate, p99: rate, n: jobs,
                note: "runc runs of /bin/true, 2 at a time (the default max_concurrent)"))
    }

    /// A read-only-ready root filesystem: busybox-static and its applets, the mount points runc
    /// needs (`/tmp` 1777).
    static func busyboxRootfs(at path: String) throws -> String {
        let fm = FileManager.default
        for dir in ["bin", "proc", "dev", "tmp", "input", "etc"] {
            try fm.createDirectory(atPath: path + "/" + dir, withIntermediateDirectories: true)
        }
        chmod(path + "/tmp", 0o1777)
        try fm.copyItem(atPath: "/bin/busybox", toPath: path + "/bin/busybox")
        for applet in ["sh", "true", "cat", "echo"] {
            try fm.createSymbolicLink(atPath: path + "/bin/" + applet, withDestinationPath: "busybox")
        }
        return path
    }
}
