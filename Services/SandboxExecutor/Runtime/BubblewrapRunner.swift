import Foundation
import SandboxCore

#if canImport(Glibc)
    import Glibc
#endif

/// Where and how the bubblewrap runner works.
public struct BubblewrapConfiguration: Sendable {
    public var bwrapPath: String
    public var setprivPath: String
    public var shellPath: String
    /// The executor's own directory: one bundle (the inputs) per run in `<stateDir>/bundles/<id>`.
    public var stateDir: String
    /// Every run's cgroups are `<cgroupRoot>/<controller>/<cgroupParent>/<id>`.
    public var cgroupParent: String
    public var cgroupRoot: String

    public init(
        bwrapPath: String? = nil, stateDir: String, cgroupParent: String = ContainerNaming.defaultCgroupParent,
        cgroupRoot: String = "/sys/fs/cgroup"
    ) throws(SandboxError) {
        guard let bwrap = ProcessSupervisor.locate(bwrapPath ?? "bwrap") else {
            throw SandboxError(.internal, "bwrap not found")
        }
        guard let setpriv = ProcessSupervisor.locate("setpriv"), let shell = ProcessSupervisor.locate("/bin/sh") else {
            throw SandboxError(.internal, "setpriv or /bin/sh not found")
        }
        guard ContainerNaming.isValidCgroupParent(cgroupParent) else {
            throw SandboxError(.invalidRequest, "cgroup parent must be 1-64 of [a-z0-9_-]")
        }
        guard RuntimeSpec.isCleanAbsolutePath(stateDir), RuntimeSpec.isCleanAbsolutePath(cgroupRoot),
            !cgroupRoot.contains("'")
        else { throw SandboxError(.invalidRequest, "stateDir and cgroupRoot must be clean absolute paths") }
        self.bwrapPath = bwrap
        self.setprivPath = setpriv
        self.shellPath = shell
        self.stateDir = stateDir
        self.cgroupParent = cgroupParent
        self.cgroupRoot = cgroupRoot
    }

    public var bundlesDir: String { stateDir + "/bundles" }
}

/// Runs jobs with bubblewrap 0.8 (issue 7), the configured alternative to runc. bwrap has no
/// cgroup support, so the runner makes the run's cgroups itself (memory with memory + swap equal,
/// pids, CFS quota; v1 controllers under `<root>/<controller>/<parent>/<id>`) and the process joins
/// them before anything of the job runs:
///
///     sh -c 'echo $$ > …/cgroup.procs (each controller); ulimit -n N -c 0; exec "$@"' \
///        setpriv --reuid 65534 --regid 65534 --clear-groups --no-new-privs -- bwrap …
///
/// bwrap then runs unprivileged, as uid 65534 on the host too (root creating a user namespace
/// would map the job's uid to host root): `--unshare-all` (user, pid, ipc, uts, cgroup and an
/// empty network namespace), `--disable-userns` (no nested user namespace), `--die-with-parent`,
/// `--new-session` (no TIOCSTI into a terminal), `--cap-drop ALL`, the image root bound
/// read-only, a size-capped tmpfs `/tmp` (1777), the inputs read-only on `/input`, `/proc`, a
/// minimal `/dev`, a cleared environment.
///
/// Seccomp: the runc profile's deny list compiled to classic BPF by `SeccompBPF` and handed over
/// with `--seccomp 3` (x86_64; elsewhere no filter is loaded and `seccompLoaded` is false).
public struct BubblewrapRunner: ContainerRuntime {
    public let configuration: BubblewrapConfiguration

    public init(_ configuration: BubblewrapConfiguration) throws(SandboxError) {
        self.configuration = configuration
        // bwrap runs as 65534 and binds the inputs itself, so the path to them must be traversable.
        for dir in [configuration.stateDir, configuration.bundlesDir] {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw SandboxError(.internal, "cannot create \(dir)")
            }
            chmod(dir, 0o711)
        }
    }

    var cgroups: CgroupV1 { CgroupV1(root: configuration.cgroupRoot, parent: configuration.cgroupParent) }

    /// The compiled filter, or nil on an architecture without a syscall table.
    static let seccompProgram: [UInt8]? = SeccompBPF.program().map(SeccompBPF.encode)

    /// Whether runs get the seccomp filter on this host.
    public var seccompLoaded: Bool { Self.seccompProgram != nil }

    /// The descriptor number the filter has in the child.
    static let seccompFD: Int32 = 3

    /// The bwrap arguments after the program path.
    static func bwrapArguments(job: ContainerJob, inputsDir: String) -> [String] {
        var args = [
            "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--uid", String(RuntimeSpec.jobUID), "--gid", String(RuntimeSpec.jobUID),
            "--hostname", "sandbox",
            "--ro-bind", job.rootfs, "/",
            "--proc", "/proc",
            "--dev", "/dev",
            "--size", String(job.limits.tmpfsBytes), "--perms", "1777", "--tmpfs", "/tmp",
            "--ro-bind", inputsDir, RuntimeSpec.inputMountPoint,
            "--chdir", job.cwd,
            "--clearenv",
        ]
        for entry in job.env {
            guard let eq = entry.firstIndex(of: "=") else { continue }
            args += ["--setenv", String(entry[..<eq]), String(entry[entry.index(after: eq)...])]
        }
        if seccompProgram != nil { args += ["--seccomp", String(seccompFD)] }
        return args + ["--"] + job.args
    }

    public func run(_ job: ContainerJob) async throws(SandboxError) -> ContainerResult {
        let id = job.id ?? ContainerRunSupport.freshID()
        let bundle = configuration.bundlesDir + "/" + id
        let inputsDir = bundle + "/input"
        try RuntimeSpec.validate(
            RuntimeSpecInput(
                rootfs: job.rootfs, args: job.args, env: job.env, cwd: job.cwd, inputsDir: inputsDir,
                limits: job.limits, id: id, cgroupParent: configuration.cgroupParent))
        if Task.isCancelled { throw SandboxError(.cancelled, "run \(id) cancelled before start") }

        guard mkdir(bundle, 0o711) == 0 else {
            throw SandboxError(
                errno == EEXIST ? .invalidRequest : .internal, "cannot create bundle for \(id): errno \(errno)")
        }
        chmod(bundle, 0o711)
        let outcome: ProcessOutcome
        let readings: CgroupReadings
        do throws(SandboxError) {
            try ContainerRunSupport.writeInputs(job.inputs, into: inputsDir)
            let procs = try cgroups.create(id, limits: job.limits)
            // Paths are ours: the root was checked for quotes, parent and id are [a-z0-9_-].
            let joins = procs.map { "echo $$ > '\($0)'" }.joined(separator: " && ")
            let script = "\(joins) && ulimit -n \(job.limits.openFiles) && ulimit -c 0 && exec \"$@\""
            let arguments =
                [
                    "-c", script, "sh", configuration.setprivPath, "--reuid", String(RuntimeSpec.jobUID), "--regid",
                    String(RuntimeSpec.jobUID), "--clear-groups", "--no-new-privs", "--", configuration.bwrapPath,
                ]
                + Self.bwrapArguments(job: job, inputsDir: inputsDir)
            let cgroups = self.cgroups
            var inherited: [(source: Int32, target: Int32)] = []
            var filterFD: Int32 = -1
            defer { if filterFD >= 0 { close(filterFD) } }
            if let program = Self.seccompProgram {
                let file = bundle + "/seccomp.bpf"
                guard FileManager.default.createFile(atPath: file, contents: Data(program)) else {
                    throw SandboxError(.internal, "cannot write the seccomp program")
                }
                let opened = open(file, O_RDONLY | O_CLOEXEC)
                guard opened >= 0 else { throw SandboxError(.internal, "cannot open the seccomp program") }
                // Above the descriptors the child gets: a dup2 onto itself would keep close-on-exec.
                filterFD = fcntl(opened, F_DUPFD_CLOEXEC, 10)
                close(opened)
                guard filterFD >= 0 else { throw SandboxError(.internal, "cannot move the seccomp program") }
                inherited.append((filterFD, Self.seccompFD))
            }
            outcome = try await ProcessSupervisor.run(
                .init(
                    executable: configuration.shellPath, arguments: arguments,
                    environment: ProcessSupervisor.minimalEnvironment, outputCap: job.limits.outputBytes,
                    timeoutNanos: UInt64(job.limits.timeoutMillis) * 1_000_000,
                    kill: { cgroups.killAll(id) }, inherited: inherited))
            readings = cgroups.read(id)
        } catch {
            destroy(id: id, bundle: bundle)
            throw error
        }
        destroy(id: id, bundle: bundle)
        return try ContainerRunSupport.classify(id: id, outcome: outcome, readings: readings, limits: job.limits)
    }

    func destroy(id: String, bundle: String?) {
        cgroups.killAll(id)
        cgroups.remove(id)
        if let bundle { ContainerRunSupport.removeTree(bundle) }
    }

    public func shutdown() async {
        await cleanupAtStartup()
        _ = cgroups.removeParent()
    }

    @discardableResult
    public func cleanupAtStartup() async -> [String] {
        var removed = Set<String>()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: configuration.bundlesDir)) ?? [] {
            ContainerRunSupport.removeTree(configuration.bundlesDir + "/" + name)
            removed.insert(name)
        }
        for id in cgroups.leftovers() {
            destroy(id: id, bundle: nil)
            removed.insert(id)
        }
        return removed.sorted()
    }
}
