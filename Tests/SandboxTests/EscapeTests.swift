import Foundation
import SandboxCore
import SandboxRuntime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 7's escape tests, each against runc and bubblewrap: the job is contained with the right
/// error kind, the host is untouched, and nothing is left (containers, cgroups, bundles, mounts).
/// Serialized: each run is a real container on a 2-core machine shared with other suites.
@Suite(.serialized) struct EscapeTests {
    @Test(arguments: RunnerKind.allCases)
    func helloAndInputs(kind: RunnerKind) async throws {
        let h = try ContainerHarness(kind)
        let result = try await h.runtime.run(
            h.job("echo hello; cat /input/0 /input/1; id -u", inputs: [Array("first\n".utf8), Array("second\n".utf8)]))
        #expect(result.exitStatus == 0)
        #expect(String(decoding: result.stdout, as: UTF8.self) == "hello\nfirst\nsecond\n65534\n")
        #expect(result.usage.wallMillis >= 0)
        let failing = try await h.runtime.run(h.job("echo out; exit 3"))
        #expect(failing.exitStatus == 3)
        #expect(failing.stdout == Array("out\n".utf8))
        try await h.verifyCleanAndClose()
    }

    @Test(arguments: RunnerKind.allCases)
    func networkReachesNothing(kind: RunnerKind) async throws {
        let h = try ContainerHarness(kind)
        let listener = try LoopbackListener()
        let result = try await h.runtime.run(
            h.job(
                "echo x | nc -w 1 127.0.0.1 \(listener.port); echo nc=$?; ip -o link | wc -l",
                limits: ContainerLimits(timeoutMillis: 5000)))
        let out = String(decoding: result.stdout, as: UTF8.self)
        #expect(out.contains("nc=1"), "\(out)")
        // Only `lo` exists in the namespace.
        #expect(out.hasSuffix("1\n"), "\(out)")
        #expect(listener.acceptPending() == 0, "the host's loopback server saw a connection")
        try await h.verifyCleanAndClose()
    }

    @Test(arguments: RunnerKind.allCases)
    func hostFilesAreInvisible(kind: RunnerKind) async throws {
        let h = try ContainerHarness(kind)
        let secretDir = try makeTempDir("vn-s2-secret")
        defer { try? FileManager.default.removeItem(atPath: secretDir) }
        let secret = "secret-\(UInt64.random(in: 1...UInt64.max))"
        try secret.write(toFile: secretDir + "/secret", atomically: false, encoding: .utf8)
        chmod(secretDir + "/secret", 0o644)
        let result = try await h.runtime.run(
            h.job("cat \(secretDir)/secret; cat /proc/1/root\(secretDir)/secret; ls /proc/1/root/; echo done"))
        let out = String(decoding: result.stdout, as: UTF8.self)
        #expect(!out.contains(secret))
        #expect(out.hasSuffix("done\n"))
        try await h.verifyCleanAndClose()
    }

    @Test(arguments: RunnerKind.allCases)
    func onlyTmpIsWritable(kind: RunnerKind) async throws {
        let h = try ContainerHarness(kind)
        let before = h.rootfs.topLevel()
        let result = try await h.runtime.run(
            h.job(
                "echo x > /escaped; echo root=$?; echo x > /bin/escaped; echo bin=$?; echo x > /input/escaped; "
                    + "echo input=$?; echo kept > /tmp/f && cat /tmp/f"))
        let out = String(decoding: result.stdout, as: UTF8.self)
        #expect(out == "root=1\nbin=1\ninput=1\nkept\n", "\(out)")
        #expect(h.rootfs.topLevel() == before)
        #expect(!FileManager.default.fileExists(atPath: h.rootfs.rootfs + "/bin/escaped"))
        try await h.verifyCleanAndClose()
    }

    @Test(arguments: RunnerKind.allCases)
    func forkBombHitsThePidsLimit(kind: RunnerKind) async throws {
        let h = try ContainerHarness(kind)
        let limits = ContainerLimits(pids: 16, timeoutMillis: 2000)
        // First: the limit refuses forks. Each started child prints its number; without the limit
        // all 40 would start (busybox sh gives up at the first refused fork).
        let counted = try await h.runtime.run(
            h.job("i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); echo $i; done", limits: limits))
        let started = String(decoding: counted.stdout, as: UTF8.self).split(separator: "\n").last.flatMap { Int($0) }
        #expect(started.map { $0 >= 1 && $0 < 16 } == true, "started \(String(describing: started))")
        // Then the bomb itself: it cannot exhaust the host. busybox sh exits at the first refused
        // fork, so the run ends with a failure status, or at the timeout if it keeps forking.
        do throws(SandboxError) {
            let bombed = try await h.runtime.run(h.job("b() { b | b & }; b; while :; do b; done", limits: limits))
            #expect(bombed.exitStatus != 0)
        } catch {
            #expect(error.kind == .timeout)
        }
        // The host can still start processes.
        #expect(try runHost("/bin/echo", ["alive"]) == "alive\n")
        try await h.verifyCleanAndClose()
    }

    @Test(arguments: RunnerKind.allCases)
    func memoryBombIsOutOfMemory(kind: RunnerKind) async throws {
        let h = try ContainerHarness(kind)
        let kind2 = await h.errorKind(
            h.job(
                "x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done",
                limits: ContainerLimits(memoryBytes: 32 << 20, timeoutMillis: 20_000, tmpfsBytes: 1 << 20)))
        #expect(kind2 == .outOfMemory)
        try await h.verifyCleanAndClose()
    }

    @Test(arguments: RunnerKind.allCases)
    func busyLoopTimesOut(kind: RunnerKind) async throws {
        let h = try ContainerHarness(kind)
        let kind2 = await h.errorKind(h.job("while :; do :; done", limits: ContainerLimits(timeoutMillis: 1000)))
        #expect(kind2 == .timeout)
        try await h.verifyCleanAndClose()
    }

    @Test(arguments: RunnerKind.allCases)
    func gigabyteOfOutputIsCut(kind: RunnerKind) async throws {
        let h = try ContainerHarness(kind)
        let kind2 = await h.errorKind(
            h.job(
                "head -c 1073741824 /dev/zero", limits: ContainerLimits(timeoutMillis: 60_000, outputBytes: 1 << 20)))
        #expect(kind2 == .outputTooLarge)
        try await h.verifyCleanAndClose()
    }

    @Test(arguments: RunnerKind.allCases)
    func sigtermIgnoringProcessStillDies(kind: RunnerKind) async throws {
        let h = try ContainerHarness(kind)
        let kind2 = await h.errorKind(
            h.job(
                "trap '' TERM INT HUP; (trap '' TERM; while :; do sleep 1; done) & while :; do sleep 1; done",
                limits: ContainerLimits(timeoutMillis: 1000)))
        #expect(kind2 == .timeout)
        // verifyCleanAndClose checks the cgroups are gone, which rmdir allows only once every
        // process in them has exited.
        try await h.verifyCleanAndClose()
    }
}
