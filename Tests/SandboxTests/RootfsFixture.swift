import Foundation
import SandboxCore
import SandboxRuntime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A throwaway image root built from Debian's `busybox-static`: `/bin/busybox` and a symlink per
/// applet, the mount points runc and bubblewrap need, `/tmp` with mode 1777 (runc gives the tmpfs
/// the mode of the directory it covers). World-readable, so bubblewrap running as 65534 can use it.
final class RootfsFixture: Sendable {
    let dir: String
    var rootfs: String { dir + "/rootfs" }

    init() throws {
        dir = try makeTempDir("vn-s2-rootfs")
        let root = dir + "/rootfs"
        for sub in ["", "/bin", "/tmp", "/proc", "/dev", "/input", "/etc", "/sys"] {
            try FileManager.default.createDirectory(atPath: root + sub, withIntermediateDirectories: true)
            chmod(root + sub, 0o755)
        }
        chmod(root + "/tmp", 0o1777)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: root + "/bin/busybox")
        let list = try runHost("/bin/busybox", ["--list"])
        for applet in list.split(separator: "\n") where applet != "busybox" && !applet.contains("/") {
            symlink("busybox", root + "/bin/" + applet)
        }
        try "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/tmp:/bin/sh\n".write(
            toFile: root + "/etc/passwd", atomically: false, encoding: .utf8)
    }

    /// The names directly in the root (the escape tests check nothing was added).
    func topLevel() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: rootfs)) ?? []).sorted() }

    deinit { try? FileManager.default.removeItem(atPath: dir) }
}

/// mkdtemp under /tmp, made 0755 so uid 65534 can traverse it.
func makeTempDir(_ prefix: String) throws -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw SandboxError(.internal, "mkdtemp failed") }
    let path = String(cString: made)
    chmod(path, 0o755)
    return path
}

/// Runs a host command and returns its stdout (test setup only).
func runHost(_ executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// A TCP listener on the host's 127.0.0.1 (kernel-chosen port) that counts connections without
/// blocking: the network escape test asserts it saw none.
final class LoopbackListener {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SandboxError(.internal, "socket") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw SandboxError(.internal, "bind/listen")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.fd = fd
        self.port = UInt16(bigEndian: addr.sin_port)
    }

    /// Accepts whatever is pending; returns how many connections there were.
    func acceptPending() -> Int {
        var count = 0
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 { return count }
            close(client)
            count += 1
        }
    }

    deinit { close(fd) }
}

/// Which runtime a parameterized test uses.
enum RunnerKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case runc, bubblewrap
    var testDescription: String { rawValue }
}

/// One runtime with a state directory and a cgroup parent of its own (tests run beside other
/// suites and other helpers' runs), and the after-test checks: no container in `runc list`, no
/// cgroup directory under the parent in any hierarchy, no bundle, nothing of ours in
/// /proc/self/mountinfo.
final class ContainerHarness: Sendable {
    let kind: RunnerKind
    let stateDir: String
    let cgroupParent: String
    let runtime: any ContainerRuntime
    let rootfs: RootfsFixture

    init(_ kind: RunnerKind) throws {
        self.kind = kind
        rootfs = try RootfsFixture()
        stateDir = try makeTempDir("vn-s2-state")
        var rng = SystemRandomNumberGenerator()
        cgroupParent = "vn-sandbox-test-" + String(rng.next() as UInt32, radix: 16)
        switch kind {
        case .runc:
            runtime = try RuncRunner(RuncConfiguration(stateDir: stateDir, cgroupParent: cgroupParent))
        case .bubblewrap:
            runtime = try BubblewrapRunner(BubblewrapConfiguration(stateDir: stateDir, cgroupParent: cgroupParent))
        }
    }

    func job(_ script: String, inputs: [[UInt8]] = [], limits: ContainerLimits = ContainerLimits()) -> ContainerJob {
        ContainerJob(rootfs: rootfs.rootfs, args: ["sh", "-c", script], inputs: inputs, limits: limits)
    }

    /// Runs and returns the error kind, or nil for a result.
    func errorKind(_ job: ContainerJob) async -> SandboxErrorKind? {
        do throws(SandboxError) {
            _ = try await runtime.run(job)
            return nil
        } catch {
            return error.kind
        }
    }

    /// The after-test checks, then removal of the state directory and the cgroup parent.
    func verifyCleanAndClose() async throws {
        if kind == .runc {
            let list = try runHost("/usr/bin/env", ["runc", "--root", stateDir + "/runc", "list", "-q"])
            #expect(list.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "runc list: \(list)")
        }
        var leftovers: [String] = []
        for hierarchy in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
            let dir = "/sys/fs/cgroup/\(hierarchy)/\(cgroupParent)"
            for child in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: dir + "/" + child, isDirectory: &isDir), isDir.boolValue {
                    leftovers.append("\(hierarchy)/\(cgroupParent)/\(child)")
                }
            }
        }
        #expect(leftovers.isEmpty, "cgroups left: \(leftovers)")
        let bundles = (try? FileManager.default.contentsOfDirectory(atPath: stateDir + "/bundles")) ?? []
        #expect(bundles.isEmpty, "bundles left: \(bundles)")
        let mountinfo = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let ours = mountinfo.split(separator: "\n").filter {
            $0.contains(stateDir) || $0.contains(rootfs.dir) || $0.contains(cgroupParent)
        }
        #expect(ours.isEmpty, "mounts left: \(ours)")
        // The parent directories themselves (a real executor keeps its parent).
        for hierarchy in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
            rmdir("/sys/fs/cgroup/\(hierarchy)/\(cgroupParent)")
        }
        try? FileManager.default.removeItem(atPath: stateDir)
    }
}
