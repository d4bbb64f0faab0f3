import Foundation
import SandboxCore
import SandboxRuntime
import Testing

@Suite(.serialized) struct BubblewrapRunnerTests {
    @Test func seccompCapabilitiesAndUserNamespacesHold() async throws {
        let h = try ContainerHarness(.bubblewrap)
        let runner = try #require(h.runtime as? BubblewrapRunner)
        let result = try await h.runtime.run(
            h.job(
                "unshare -U true 2>/dev/null; echo userns=$?; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; "
                    + "cat /proc/self/uid_map"))
        let out = String(decoding: result.stdout, as: UTF8.self)
        #expect(out.contains("userns=1"), "\(out)")
        #expect(out.contains("CapEff:\t0000000000000000"), "\(out)")
        #expect(out.contains("NoNewPrivs:\t1"), "\(out)")
        if runner.seccompLoaded { #expect(out.contains("Seccomp:\t2"), "\(out)") }
        try await h.verifyCleanAndClose()
    }

    @Test func cleanupAtStartupRemovesLeftovers() async throws {
        let h = try ContainerHarness(.bubblewrap)
        try FileManager.default.createDirectory(
            atPath: h.stateDir + "/bundles/stray", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            atPath: "/sys/fs/cgroup/memory/\(h.cgroupParent)/stray-cg", withIntermediateDirectories: true)
        let removed = await h.runtime.cleanupAtStartup()
        #expect(removed == ["stray", "stray-cg"])
        try await h.verifyCleanAndClose()
    }
}
