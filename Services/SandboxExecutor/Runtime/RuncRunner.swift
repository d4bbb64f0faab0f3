import Foundation
import JSON
import SandboxCore

#if canImport(Glibc)
    import Glibc
#endif

/// Where and how the runc runner works.
public struct RuncConfiguration: Sendable {
    /// The runc binary (Debian's runc 1.1.5; crun refuses this host's hybrid cgroups).
    public var runcPath: String
    /// The executor's own directory: runc's state in `<stateDir>/runc`, one bundle per run in
    /// `<stateDir>/bundles/<id>`. Nothing else may use it: start-up cleanup removes all of it.
    public var stateDir: String
    /// Every run's cgroup is `/<cgroupParent>/<id>` in each hierarchy.
    public var cgroupParent: String
    public var cgroupRoot: String

    public init(
        runcPath: String? = nil, stateDir: String, cgroupParent: String = ContainerNaming.defaultCgroupParent,
        cgroupRoot: String = "/sys/fs/cgroup"
    ) throws(SandboxError) {
        guard let path = ProcessSupervisor.locate(runcPath ?? "runc") else {
            throw SandboxError(.internal, "runc not found")
        }
        guard ContainerNaming.isValidCgroupParent(cgroupParent) else {
            throw SandboxError(.invalidRequest, "cgroup parent must be 1-64 of [a-z0-9_-]")
        }
        guard stateDir.hasPrefix("/") else { throw SandboxError(.invalidRequest, "stateDir must be absolute") }
        self.runcPath = path
        self.stateDir = stateDir
        self.cgroupParent = cgroupParent
        self.cgroupRoot = cgroupRoot
    }

    public var runcRoot: String { stateDir + "/runc" }
    public var bundlesDir: String { stateDir + "/bundles" }
}

/// Runs jobs with runc (issue 7): per run a fresh bundle (`config.json` from `RuntimeSpec`, the
/// inputs directory), `runc run --keep` with stdout and stderr on pipes and no terminal, the output
/// cap and wall-clock limit enforced by `ProcessSupervisor`, kills with `runc kill <id> KILL`
/// (killing `runc run` itself would leave the container running), the cgroup counters read while
/// `--keep` holds the stopped container (so an OOM kill is told from a timeout by the memory
/// cgroup's `oom_kill`, not by exit 137), then `runc delete -f`, the bundle removed and the
/// cgroups removed on every path.
public struct RuncRunner: ContainerRuntime {
    public let configuration: RuncConfiguration

    public init(_ configuration: RuncConfiguration) throws(SandboxError) {
        self.configuration = configuration
        for dir in [configuration.stateDir, configuration.runcRoot, configuration.bundlesDir] {
            do {
                try FileManager.default.createDirectory(
                    atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw SandboxError(.internal, "cannot create \(dir)")
            }
        }
    }

    var cgroups: CgroupV1 { CgroupV1(root: configuration.cgroupRoot, parent: configuration.cgroupParent) }

    private func runcArgs(_ rest: [String]) -> [String] { ["--root", configuration.runcRoot] + rest }

    public func run(_ job: ContainerJob) async throws(SandboxError) -> ContainerResult {
        let id = job.id ?? ContainerRunSupport.freshID()
        let bundle = configuration.bundlesDir + "/" + id
        let input = RuntimeSpecInput(
            rootfs: job.rootfs, args: job.args, env: job.env, cwd: job.cwd, inputsDir: bundle + "/input",
            limits: job.limits, id: id, cgroupParent: configuration.cgroupParent)
        let config = try RuntimeSpec.encode(input)
        if Task.isCancelled { throw SandboxError(.cancelled, "run \(id) cancelled before start") }

        guard mkdir(bundle, 0o700) == 0 else {
            throw SandboxError(
                errno == EEXIST ? .invalidRequest : .internal, "cannot create bundle for \(id): errno \(errno)")
        }
        let outcome: ProcessOutcome
        let readings: CgroupReadings
        do throws(SandboxError) {
            try ContainerRunSupport.writeInputs(job.inputs, into: bundle + "/input")
            guard FileManager.default.createFile(atPath: bundle + "/config.json", contents: Data(config)) else {
                throw SandboxError(.internal, "cannot write config.json")
            }
            let runc = configuration.runcPath
            let killArgs = runcArgs(["kill", id, "KILL"])
            outcome = try await ProcessSupervisor.run(
                .init(
                    executable: runc,
                    arguments: runcArgs([
                        "--log", bundle + "/runc.log", "--log-format", "json", "run", "--keep", "--bundle", bundle, id,
                    ]),
                    environment: ProcessSupervisor.minimalEnvironment, outputCap: job.limits.outputBytes,
                    timeoutNanos: UInt64(job.limits.timeoutMillis) * 1_000_000,
                    kill: { _ = ProcessSupervisor.runHelperBlocking(runc, killArgs) }))
            readings = cgroups.read(id)
            if let failure = runcFailure(bundle: bundle), !outcome.cancelled, !outcome.timedOut,
                !outcome.outputExceeded
            {
                throw SandboxError(.internal, "runc: \(failure)")
            }
        } catch {
            await destroy(id: id, bundle: bundle)
            throw error
        }
        await destroy(id: id, bundle: bundle)
        return try ContainerRunSupport.classify(id: id, outcome: outcome, readings: readings, limits: job.limits)
    }

    /// runc's own error (not the job's), from its JSON log: the `msg` of the last error line.
    private func runcFailure(bundle: String) -> String? {
        guard let text = try? String(contentsOfFile: bundle + "/runc.log", encoding: .utf8) else { return nil }
        var message: String? = nil
        for line in text.split(separator: "\n") {
            guard let entry = try? JSONValue.parse(String(line)), entry["level"]?.stringValue == "error" else {
                continue
            }
            message = entry["msg"]?.stringValue ?? "error"
        }
        return message
    }

    /// Kill, delete, remove the bundle and the cgroups: every path ends here.
    func destroy(id: String, bundle: String?) async {
        let runc = configuration.runcPath
        _ = await ProcessSupervisor.runHelper(runc, runcArgs(["kill", id, "KILL"]))
        _ = await ProcessSupervisor.runHelper(runc, runcArgs(["delete", "-f", id]))
        cgroups.killAll(id)
        cgroups.remove(id)
        if let bundle { ContainerRunSupport.removeTree(bundle) }
    }

    /// The ids runc knows under our root (`runc list -q`).
    public func listContainers() async -> [String] {
        guard let out = await ProcessSupervisor.runHelper(configuration.runcPath, runcArgs(["list", "-q"])) else {
            return []
        }
        return String(decoding: out.stdout, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    public func shutdown() async {
        await cleanupAtStartup()
        _ = cgroups.removeParent()
    }

    @discardableResult
    public func cleanupAtStartup() async -> [String] {
        var removed = Set<String>()
        for id in await listContainers() where ContainerNaming.isValidID(id) {
            await destroy(id: id, bundle: nil)
            removed.insert(id)
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: configuration.bundlesDir)) ?? [] {
            ContainerRunSupport.removeTree(configuration.bundlesDir + "/" + name)
            removed.insert(name)
        }
        for id in cgroups.leftovers() {
            cgroups.killAll(id)
            cgroups.remove(id)
            removed.insert(id)
        }
        return removed.sorted()
    }
}
