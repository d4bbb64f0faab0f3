import Foundation
import SandboxCore
import SandboxRuntime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite(.serialized) struct RuncRunnerTests {
    @Test func seccompAndCapabilitiesHold() async throws {
        let h = try ContainerHarness(.runc)
        let result = try await h.runtime.run(
            h.job(
                "unshare -U true 2>/dev/null; echo userns=$?; mount -t tmpfs x /tmp 2>/dev/null; echo mount=$?; "
                    + "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status"))
        let out = String(decoding: result.stdout, as: UTF8.self)
        #expect(out.contains("userns=1"), "\(out)")
        #expect(out.contains("mount=1"), "\(out)")
        #expect(out.contains("CapEff:\t0000000000000000"), "\(out)")
        #expect(out.contains("NoNewPrivs:\t1"), "\(out)")
        #expect(out.contains("Seccomp:\t2"), "\(out)")
        try await h.verifyCleanAndClose()
    }

    @Test func usageIsReported() async throws {
        let h = try ContainerHarness(.runc)
        let result = try await h.runtime.run(h.job("i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo $i"))
        #expect(result.stdout == Array("20000\n".utf8))
        #expect(result.usage.cpuMillis > 0)
        #expect(result.usage.peakMemoryBytes > 0)
        try await h.verifyCleanAndClose()
    }

    @Test(arguments: RunnerKind.allCases)
    func cancellationKillsAndCleansUp(kind: RunnerKind) async throws {
        let h = try ContainerHarness(kind)
        let job = h.job("echo started; while :; do sleep 1; done", limits: ContainerLimits(timeoutMillis: 30_000))
        let task = Task { await h.errorKind(job) }
        try await Task.sleep(for: .milliseconds(700))
        task.cancel()
        #expect(await task.value == .cancelled)
        try await h.verifyCleanAndClose()
    }

    @Test func runcFailureIsInternal() async throws {
        let h = try ContainerHarness(.runc)
        var job = h.job("true")
        job.rootfs = h.rootfs.dir + "/missing"
        let kind = await h.errorKind(job)
        #expect(kind == .internal)
        try await h.verifyCleanAndClose()
    }

    @Test func invalidRequestsNeverStart() async throws {
        let h = try ContainerHarness(.runc)
        var job = h.job("true")
        job.id = "../../etc"
        #expect(await h.errorKind(job) == .invalidRequest)
        job = h.job("true", limits: ContainerLimits(memoryBytes: 1))
        #expect(await h.errorKind(job) == .invalidRequest)
        try await h.verifyCleanAndClose()
    }

    /// A crashed executor leaves a running container, a bundle and cgroups; a new one removes them.
    @Test func cleanupAtStartupRemovesLeftovers() async throws {
        let h = try ContainerHarness(.runc)
        let runner = try #require(h.runtime as? RuncRunner)
        let id = "crashed-1"
        let bundle = h.stateDir + "/bundles/" + id
        try FileManager.default.createDirectory(atPath: bundle + "/input", withIntermediateDirectories: true)
        let spec = try RuntimeSpec.encode(
            RuntimeSpecInput(
                rootfs: h.rootfs.rootfs, args: ["sleep", "600"], inputsDir: bundle + "/input",
                limits: ContainerLimits(), id: id, cgroupParent: h.cgroupParent))
        try Data(spec).write(to: URL(fileURLWithPath: bundle + "/config.json"))
        // Detached, with stdio away from the test's pipes: the container outlives this command.
        _ = try runHost(
            "/bin/sh",
            ["-c", "runc --root '\(h.stateDir)/runc' run -d --bundle '\(bundle)' \(id) </dev/null >/dev/null 2>&1"])
        // A stray bundle and a stray bwrap-style cgroup too.
        try FileManager.default.createDirectory(
            atPath: h.stateDir + "/bundles/stray", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            atPath: "/sys/fs/cgroup/pids/\(h.cgroupParent)/stray-cg", withIntermediateDirectories: true)
        #expect(await runner.listContainers() == [id])

        let removed = await runner.cleanupAtStartup()
        #expect(Set(removed).isSuperset(of: [id, "stray", "stray-cg"]))
        #expect(await runner.listContainers().isEmpty)
        try await h.verifyCleanAndClose()
    }
}
