/// The resource limits of one container run (issue 7; seed `000_*` §3.4.4: limited memory, CPU
/// cores and time). The same values drive the runc spec (`RuntimeSpec`) and the cgroups a
/// bubblewrap run is placed in, so both runtimes enforce one policy.
public struct ContainerLimits: Sendable, Hashable {
    /// Memory ceiling of the whole container (every process, page cache and tmpfs pages included).
    /// Swap is limited to the same value, i.e. no swap at all (OCI `swap` is memory + swap).
    public var memoryBytes: Int64
    /// Maximum number of tasks (processes and threads): what stops a fork bomb.
    public var pids: Int64
    /// CPU quota in thousandths of a core (1000 = one full core), enforced by CFS bandwidth control.
    public var cpuMillicores: Int64
    /// Wall-clock limit from start to exit, in milliseconds.
    public var timeoutMillis: Int64
    /// Maximum bytes of standard output kept; one byte more and the run is killed (`outputTooLarge`).
    public var outputBytes: Int
    /// Size of the tmpfs mounted on `/tmp` (its pages count against `memoryBytes` too).
    public var tmpfsBytes: Int64
    /// Open-file limit (RLIMIT_NOFILE) inside the container.
    public var openFiles: Int64

    public init(
        memoryBytes: Int64 = 256 << 20, pids: Int64 = 64, cpuMillicores: Int64 = 1000,
        timeoutMillis: Int64 = 10_000, outputBytes: Int = 1 << 20, tmpfsBytes: Int64 = 64 << 20,
        openFiles: Int64 = 256
    ) {
        self.memoryBytes = memoryBytes
        self.pids = pids
        self.cpuMillicores = cpuMillicores
        self.timeoutMillis = timeoutMillis
        self.outputBytes = outputBytes
        self.tmpfsBytes = tmpfsBytes
        self.openFiles = openFiles
    }

    /// Bounds every value must lie in. The lower bounds keep a run able to start at all (runc
    /// itself needs a few MiB inside the cgroup while it sets the container up); the upper bounds
    /// keep a request from asking for the whole host.
    public enum Bounds {
        public static let memoryBytes: ClosedRange<Int64> = (8 << 20)...(64 << 30)
        public static let pids: ClosedRange<Int64> = 4...65_536
        public static let cpuMillicores: ClosedRange<Int64> = 10...256_000
        public static let timeoutMillis: ClosedRange<Int64> = 1...86_400_000
        public static let outputBytes: ClosedRange<Int> = 0...(1 << 30)
        public static let tmpfsBytes: ClosedRange<Int64> = (64 << 10)...(64 << 30)
        public static let openFiles: ClosedRange<Int64> = 16...1_048_576
    }

    /// The CFS period the quota is expressed against (the kernel default, 100 ms).
    public static let cpuPeriodMicros: Int64 = 100_000

    /// The CFS quota for `cpuMillicores`: millicores × period / 1000.
    public var cpuQuotaMicros: Int64 { cpuMillicores * Self.cpuPeriodMicros / 1000 }

    /// Refuses values outside `Bounds` as `invalidRequest`, naming the field.
    public func validate() throws(SandboxError) {
        func check<T: Comparable>(_ name: String, _ value: T, _ range: ClosedRange<T>) throws(SandboxError) {
            guard range.contains(value) else {
                throw SandboxError(
                    .invalidRequest, "limit \(name) = \(value) outside \(range.lowerBound)...\(range.upperBound)")
            }
        }
        try check("memoryBytes", memoryBytes, Bounds.memoryBytes)
        try check("pids", pids, Bounds.pids)
        try check("cpuMillicores", cpuMillicores, Bounds.cpuMillicores)
        try check("timeoutMillis", timeoutMillis, Bounds.timeoutMillis)
        try check("outputBytes", outputBytes, Bounds.outputBytes)
        try check("tmpfsBytes", tmpfsBytes, Bounds.tmpfsBytes)
        try check("openFiles", openFiles, Bounds.openFiles)
        guard tmpfsBytes <= memoryBytes else {
            throw SandboxError(.invalidRequest, "limit tmpfsBytes \(tmpfsBytes) exceeds memoryBytes \(memoryBytes)")
        }
    }
}

/// Names shared by the spec builder and the runners: container ids and the cgroup parent every
/// run is created under, so that a crashed executor's leftovers can be found and removed.
public enum ContainerNaming {
    /// The default cgroup parent (`/sys/fs/cgroup/<controller>/vn-sandbox/<id>`).
    public static let defaultCgroupParent = "vn-sandbox"

    /// Whether `id` is acceptable as a container id, a bundle directory name and a cgroup name:
    /// 1–64 characters of `[a-z0-9_-]`, not starting with `-` or `.`, so it can never be a path
    /// component with meaning (`..`), an option to runc, or collide with cgroup control files
    /// (which all contain a dot).
    public static func isValidID(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard (1...64).contains(bytes.count), bytes[0] != UInt8(ascii: "-") else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
        }
    }

    /// Same rule for the cgroup parent (one path component).
    public static func isValidCgroupParent(_ name: String) -> Bool { isValidID(name) }
}
