import JSON

/// What one container run needs from the caller to build its OCI runtime spec.
public struct RuntimeSpecInput: Sendable, Hashable {
    /// Absolute path of the unpacked image root (shared read-only between runs). It must already
    /// hold the mount points `/proc`, `/dev`, `/tmp` (mode 1777: runc gives a tmpfs the mode of the
    /// directory it covers), and `/input`; runc would otherwise create them in the shared root.
    public var rootfs: String
    /// `argv`, argv[0] included (looked up in the container's `PATH`).
    public var args: [String]
    /// `NAME=value` strings.
    public var env: [String]
    /// Absolute working directory inside the container.
    public var cwd: String
    /// Absolute host directory holding this run's inputs (`0`, `1`, …), bind-mounted on `/input`.
    public var inputsDir: String
    public var limits: ContainerLimits
    /// The container id (`ContainerNaming.isValidID`).
    public var id: String
    /// The cgroup parent (`ContainerNaming.defaultCgroupParent` unless a test isolates itself).
    public var cgroupParent: String

    public init(
        rootfs: String, args: [String], env: [String] = RuntimeSpec.defaultEnv, cwd: String = "/tmp",
        inputsDir: String, limits: ContainerLimits, id: String,
        cgroupParent: String = ContainerNaming.defaultCgroupParent
    ) {
        self.rootfs = rootfs
        self.args = args
        self.env = env
        self.cwd = cwd
        self.inputsDir = inputsDir
        self.limits = limits
        self.id = id
        self.cgroupParent = cgroupParent
    }
}

/// Builds runc's `config.json` (OCI runtime spec 1.0.2 as runc 1.1.5 reads it) for one run
/// (issue 7). Pure: the same input always gives the same bytes (`JSONValue` sorts keys).
///
/// The isolation it asks for, layer by layer:
/// - filesystem: the image root read-only; `/tmp` a size-capped tmpfs (nosuid, nodev); the inputs
///   bind-mounted read-only, nosuid, nodev, noexec on `/input`; `/proc` and a minimal `/dev`
///   (runc adds null, zero, full, random, urandom, tty); no `/sys`, no host path besides the inputs;
///   runc's default masked and read-only `/proc` paths;
/// - namespaces: new pid, ipc, uts, mount and network (a new network namespace holds only a
///   downed `lo`: nothing can be reached, not even the host's loopback);
/// - privileges: uid/gid 65534 (nobody) with no supplementary groups, every capability set empty,
///   no-new-privileges, the `SeccompProfile`, OOM score 1000 (the host's OOM killer picks the job first);
/// - resources: memory with swap equal to memory (no swap), pids, CFS CPU quota, RLIMIT_NOFILE and
///   RLIMIT_CORE 0 (a crashing job leaves no core file), all devices denied except runc's defaults;
/// - `cgroupsPath` `/<parent>/<id>`, so an executor that crashed can find what it left.
public enum RuntimeSpec {
    /// The environment a job gets unless the request says otherwise.
    public static let defaultEnv = ["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/tmp"]

    /// uid and gid of every job (the conventional `nobody`).
    public static let jobUID: Int64 = 65534

    /// Where the inputs appear inside the container.
    public static let inputMountPoint = "/input"

    /// runc 1.1.5's defaults (`runc spec`): `/proc` files that leak host state are masked, the
    /// writable kernel knobs under `/proc` are read-only (`/proc/sys` covers `core_pattern`).
    public static let maskedPaths = [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    ]
    public static let readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

    /// Refuses input runc would misread or a request could abuse, as `invalidRequest`.
    public static func validate(_ input: RuntimeSpecInput) throws(SandboxError) {
        try input.limits.validate()
        guard ContainerNaming.isValidID(input.id) else {
            throw SandboxError(.invalidRequest, "container id must be 1-64 of [a-z0-9_-]")
        }
        guard ContainerNaming.isValidCgroupParent(input.cgroupParent) else {
            throw SandboxError(.invalidRequest, "cgroup parent must be 1-64 of [a-z0-9_-]")
        }
        guard !input.args.isEmpty, !input.args[0].isEmpty else {
            throw SandboxError(.invalidRequest, "args must name a program")
        }
        guard input.args.count <= 4096, input.env.count <= 4096 else {
            throw SandboxError(.invalidRequest, "too many args or env entries")
        }
        for text in input.args + input.env where text.utf8.contains(0) {
            throw SandboxError(.invalidRequest, "args and env must not contain NUL")
        }
        for entry in input.env {
            guard let eq = entry.utf8.firstIndex(of: UInt8(ascii: "=")), eq != entry.utf8.startIndex else {
                throw SandboxError(.invalidRequest, "env entries must be NAME=value")
            }
        }
        for (name, path) in [("rootfs", input.rootfs), ("inputsDir", input.inputsDir), ("cwd", input.cwd)] {
            guard isCleanAbsolutePath(path) else {
                throw SandboxError(.invalidRequest, "\(name) must be a clean absolute path")
            }
        }
    }

    /// An absolute path without `.`/`..` components, empty components or NUL.
    public static func isCleanAbsolutePath(_ path: String) -> Bool {
        guard path.hasPrefix("/"), !path.utf8.contains(0) else { return false }
        if path == "/" { return true }
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        return parts.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }

    /// The cgroup path runc is given (`/<parent>/<id>`).
    public static func cgroupsPath(parent: String, id: String) -> String { "/\(parent)/\(id)" }

    /// The spec as a JSON value.
    public static func build(_ input: RuntimeSpecInput) throws(SandboxError) -> JSONValue {
        try validate(input)
        let limits = input.limits
        let noCaps: JSONValue = [
            "bounding": [], "effective": [], "inheritable": [], "permitted": [], "ambient": [],
        ]
        let process: JSONValue = [
            "terminal": false,
            "user": ["uid": .int(jobUID), "gid": .int(jobUID), "additionalGids": []],
            "args": .array(input.args.map { .string($0) }),
            "env": .array(input.env.map { .string($0) }),
            "cwd": .string(input.cwd),
            "capabilities": noCaps,
            "rlimits": [
                ["type": "RLIMIT_NOFILE", "hard": .int(limits.openFiles), "soft": .int(limits.openFiles)],
                ["type": "RLIMIT_CORE", "hard": 0, "soft": 0],
            ],
            "noNewPrivileges": true,
            "oomScoreAdj": 1000,
        ]
        let mounts: [JSONValue] = [
            ["destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]],
            [
                "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"],
            ],
            [
                "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "nodev", "mode=1777", .string("size=\(limits.tmpfsBytes)")],
            ],
            [
                "destination": .string(inputMountPoint), "type": "bind", "source": .string(input.inputsDir),
                "options": ["rbind", "ro", "nosuid", "nodev", "noexec"],
            ],
        ]
        let resources: JSONValue = [
            // Deny every device node; runc still allows its default set (null, zero, full, tty,
            // random, urandom) that it creates in /dev.
            "devices": [["allow": false, "access": "rwm"]],
            "memory": ["limit": .int(limits.memoryBytes), "swap": .int(limits.memoryBytes)],
            "pids": ["limit": .int(limits.pids)],
            "cpu": ["quota": .int(limits.cpuQuotaMicros), "period": .int(ContainerLimits.cpuPeriodMicros)],
        ]
        let linux: JSONValue = [
            "namespaces": [["type": "pid"], ["type": "network"], ["type": "ipc"], ["type": "uts"], ["type": "mount"]],
            "resources": resources,
            "cgroupsPath": .string(cgroupsPath(parent: input.cgroupParent, id: input.id)),
            "maskedPaths": .array(maskedPaths.map { .string($0) }),
            "readonlyPaths": .array(readonlyPaths.map { .string($0) }),
            "seccomp": SeccompProfile.json(),
        ]
        return [
            "ociVersion": "1.0.2-dev",
            "process": process,
            "root": ["path": .string(input.rootfs), "readonly": true],
            "hostname": "sandbox",
            "mounts": .array(mounts),
            "linux": linux,
        ]
    }

    /// The spec as the bytes written to `config.json`.
    public static func encode(_ input: RuntimeSpecInput) throws(SandboxError) -> [UInt8] {
        try build(input).serializedBytes()
    }
}
