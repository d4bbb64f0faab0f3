import Foundation
import SandboxCore

#if canImport(Glibc)
    import Glibc
#endif

/// What a run used, read from its cgroups before they are removed.
public struct ContainerUsage: Sendable, Hashable {
    /// Spawn to exit.
    public var wallMillis: Int64
    /// User + system CPU time of every process of the run (`cpuacct.usage`).
    public var cpuMillis: Int64
    /// Peak memory of the run (`memory.max_usage_in_bytes`).
    public var peakMemoryBytes: Int64

    public init(wallMillis: Int64, cpuMillis: Int64, peakMemoryBytes: Int64) {
        self.wallMillis = wallMillis
        self.cpuMillis = cpuMillis
        self.peakMemoryBytes = peakMemoryBytes
    }
}

/// The counters read from a run's cgroups after its processes are gone.
struct CgroupReadings: Sendable {
    var oomKills: Int64 = 0
    var memoryFailures: Int64 = 0
    var peakMemoryBytes: Int64 = 0
    var cpuNanos: Int64 = 0
}

/// cgroup v1 as this host has it (hybrid: one hierarchy per controller under /sys/fs/cgroup;
/// see ENVIRONMENT.md). Every run lives in `<root>/<controller>/<parent>/<id>`, created by runc
/// (from `cgroupsPath`) or by the bubblewrap runner; this type reads and removes them.
struct CgroupV1: Sendable {
    var root: String = "/sys/fs/cgroup"
    var parent: String

    /// The controllers a bubblewrap run is placed in (the ones with a limit or a counter we read).
    static let managedControllers = ["memory", "pids", "cpu", "cpuacct"]

    func path(_ controller: String, _ id: String) -> String { "\(root)/\(controller)/\(parent)/\(id)" }

    /// Every hierarchy mounted under the root (runc creates the run's directory in all of them).
    func hierarchies() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.sorted().filter { name in
            FileManager.default.fileExists(atPath: "\(root)/\(name)/cgroup.procs")
        }
    }

    static func readInt(_ path: String) -> Int64? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int64(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func write(_ value: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
    }

    /// Reads the counters of run `id`. `memory.oom_control`'s `oom_kill` (kernel ≥ 4.13) counts the
    /// kills the memory limit caused: that, not the exit status, is what tells an OOM from a
    /// timeout (both end in SIGKILL, exit 137).
    func read(_ id: String) -> CgroupReadings {
        var r = CgroupReadings()
        let memory = path("memory", id)
        if let text = try? String(contentsOfFile: memory + "/memory.oom_control", encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, parts[0] == "oom_kill", let n = Int64(parts[1]) { r.oomKills = n }
            }
        }
        r.memoryFailures = Self.readInt(memory + "/memory.failcnt") ?? 0
        r.peakMemoryBytes = Self.readInt(memory + "/memory.max_usage_in_bytes") ?? 0
        r.cpuNanos = Self.readInt(path("cpuacct", id) + "/cpuacct.usage") ?? 0
        return r
    }

    /// Creates the run's directories in the managed controllers and writes the limits: memory
    /// (and memory + swap, the same value: no swap), pids, CFS quota. Returns the `cgroup.procs`
    /// files a process must join. Removes what it made if any step fails.
    func create(_ id: String, limits: ContainerLimits) throws(SandboxError) -> [String] {
        var made: [String] = []
        for controller in Self.managedControllers {
            let dir = path(controller, id)
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                for m in made { rmdir(m) }
                throw SandboxError(.internal, "cannot create cgroup \(controller)/\(parent)/\(id)")
            }
            made.append(dir)
        }
        let settings: [(String, String)] = [
            (path("memory", id) + "/memory.limit_in_bytes", String(limits.memoryBytes)),
            (path("memory", id) + "/memory.memsw.limit_in_bytes", String(limits.memoryBytes)),
            (path("pids", id) + "/pids.max", String(limits.pids)),
            (path("cpu", id) + "/cpu.cfs_period_us", String(ContainerLimits.cpuPeriodMicros)),
            (path("cpu", id) + "/cpu.cfs_quota_us", String(limits.cpuQuotaMicros)),
        ]
        for (file, value) in settings where !Self.write(value, to: file) {
            for m in made { rmdir(m) }
            throw SandboxError(.internal, "cannot write \(file)")
        }
        return made.map { $0 + "/cgroup.procs" }
    }

    /// SIGKILLs every process in run `id`'s cgroups (in any hierarchy).
    func killAll(_ id: String) {
        for hierarchy in hierarchies() { Self.killProcesses(in: "\(root)/\(hierarchy)/\(parent)/\(id)") }
    }

    static func killProcesses(in dir: String) {
        guard let text = try? String(contentsOfFile: dir + "/cgroup.procs", encoding: .utf8) else { return }
        for line in text.split(separator: "\n") {
            if let pid = Int32(line), pid > 1 { Glibc.kill(pid, SIGKILL) }
        }
    }

    /// Removes run `id`'s directory in every hierarchy, killing what is still inside; retries
    /// while the kernel reports it busy (processes still exiting). True when none is left.
    @discardableResult
    func remove(_ id: String) -> Bool {
        var clean = true
        for hierarchy in hierarchies() {
            clean = Self.removeTree("\(root)/\(hierarchy)/\(parent)/\(id)") && clean
        }
        return clean
    }

    /// Depth-first rmdir of a cgroup directory (cgroup directories are removed with rmdir, never by
    /// deleting their control files).
    static func removeTree(_ dir: String) -> Bool {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { return true }
        var clean = true
        let children = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        for child in children {
            var childIsDir: ObjCBool = false
            let p = dir + "/" + child
            if FileManager.default.fileExists(atPath: p, isDirectory: &childIsDir), childIsDir.boolValue {
                clean = removeTree(p) && clean
            }
        }
        for attempt in 0..<50 {
            if rmdir(dir) == 0 || errno == ENOENT { return clean }
            killProcesses(in: dir)
            usleep(attempt < 10 ? 2_000 : 20_000)
        }
        return false
    }

    /// The run directories left under the parent, in any hierarchy (leftovers of a crash).
    func leftovers() -> [String] {
        var ids = Set<String>()
        for hierarchy in hierarchies() {
            let dir = "\(root)/\(hierarchy)/\(parent)"
            for child in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: dir + "/" + child, isDirectory: &isDir), isDir.boolValue {
                    ids.insert(child)
                }
            }
        }
        return ids.sorted()
    }

    /// Removes the parent directories themselves (tests that used a parent of their own).
    func removeParent() -> Bool {
        var clean = true
        for hierarchy in hierarchies() { clean = Self.removeTree("\(root)/\(hierarchy)/\(parent)") && clean }
        return clean
    }
}
