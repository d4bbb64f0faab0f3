import JSON
import SandboxCore
import Testing

@Suite struct ContainerSpecTests {
    let input = RuntimeSpecInput(
        rootfs: "/var/lib/vn/layers/abc/rootfs", args: ["sh", "-c", "echo hi"],
        inputsDir: "/var/lib/vn/bundles/j1/input",
        limits: ContainerLimits(memoryBytes: 64 << 20, pids: 32, cpuMillicores: 500, tmpfsBytes: 8 << 20), id: "j1")

    func spec() throws -> JSONValue { try RuntimeSpec.build(input) }

    @Test func processRunsAsNobodyWithoutPrivileges() throws {
        let process = try #require(try spec()["process"])
        #expect(process["user"]?["uid"]?.intValue == 65534)
        #expect(process["user"]?["gid"]?.intValue == 65534)
        #expect(process["user"]?["additionalGids"] == .array([]))
        #expect(process["noNewPrivileges"] == .bool(true))
        #expect(process["terminal"] == .bool(false))
        for set in ["bounding", "effective", "inheritable", "permitted", "ambient"] {
            #expect(process["capabilities"]?[set] == .array([]), "capability set \(set)")
        }
        let rlimits = try #require(process["rlimits"]?.arrayValue)
        #expect(rlimits.contains(["type": "RLIMIT_CORE", "hard": 0, "soft": 0]))
        #expect(rlimits.contains { $0["type"] == "RLIMIT_NOFILE" && $0["hard"]?.intValue == 256 })
        #expect(process["args"] == ["sh", "-c", "echo hi"])
    }

    @Test func filesystemIsReadOnlyWithTmpAndInput() throws {
        let spec = try spec()
        #expect(spec["root"]?["readonly"] == .bool(true))
        #expect(spec["root"]?["path"] == .string(input.rootfs))
        let mounts = try #require(spec["mounts"]?.arrayValue)
        let tmp = try #require(mounts.first { $0["destination"] == "/tmp" })
        #expect(tmp["type"] == "tmpfs")
        let tmpOptions = tmp["options"]?.arrayValue ?? []
        for option in ["nosuid", "nodev", "size=8388608"] { #expect(tmpOptions.contains(.string(option))) }
        let inputMount = try #require(mounts.first { $0["destination"] == "/input" })
        #expect(inputMount["source"] == .string(input.inputsDir))
        let inputOptions = inputMount["options"]?.arrayValue ?? []
        for option in ["ro", "nosuid", "nodev", "noexec"] { #expect(inputOptions.contains(.string(option))) }
        // Only these four: no /sys, no other host path.
        #expect(mounts.compactMap { $0["destination"]?.stringValue }.sorted() == ["/dev", "/input", "/proc", "/tmp"])
        #expect(mounts.filter { $0["type"] == "bind" }.count == 1)
        let masked = spec["linux"]?["maskedPaths"]?.arrayValue ?? []
        #expect(masked.contains("/proc/kcore") && masked.contains("/proc/keys"))
        #expect(spec["linux"]?["readonlyPaths"]?.arrayValue?.contains("/proc/sys") == true)
    }

    @Test func namespacesAndResources() throws {
        let linux = try #require(try spec()["linux"])
        let namespaces = (linux["namespaces"]?.arrayValue ?? []).compactMap { $0["type"]?.stringValue }.sorted()
        #expect(namespaces == ["ipc", "mount", "network", "pid", "uts"])
        #expect(linux["namespaces"]?.arrayValue?.allSatisfy { $0["path"] == nil } == true)
        #expect(linux["resources"]?["memory"] == ["limit": .int(64 << 20), "swap": .int(64 << 20)])
        #expect(linux["resources"]?["pids"] == ["limit": 32])
        #expect(linux["resources"]?["cpu"] == ["quota": 50_000, "period": 100_000])
        #expect(linux["cgroupsPath"] == "/vn-sandbox/j1")
        #expect(linux["resources"]?["devices"] == [["allow": false, "access": "rwm"]])
    }

    @Test func seccompDeniesTheDangerousCalls() throws {
        let seccomp = try #require(try spec()["linux"]?["seccomp"])
        #expect(seccomp["defaultAction"] == "SCMP_ACT_ALLOW")
        #expect(seccomp["architectures"]?.arrayValue?.isEmpty == false)
        let rules = seccomp["syscalls"]?.arrayValue ?? []
        let denied = Set(
            rules.filter { $0["args"] == nil && $0["errnoRet"]?.intValue == 1 }
                .flatMap { $0["names"]?.arrayValue ?? [] }.compactMap(\.stringValue))
        for name in [
            "mount", "ptrace", "bpf", "keyctl", "unshare", "setns", "kexec_load", "open_by_handle_at",
            "perf_event_open", "userfaultfd", "io_uring_setup",
        ] {
            #expect(denied.contains(name), "\(name) must be denied")
        }
        // clone with CLONE_NEWUSER is refused by argument; clone3 falls back via ENOSYS.
        let cloneRules = rules.filter { $0["names"] == ["clone"] }
        #expect(cloneRules.contains { $0["args"]?[0]?["value"]?.uint64Value == 0x1000_0000 })
        #expect(rules.contains { $0["names"] == ["clone3"] && $0["errnoRet"]?.intValue == 38 })
    }

    @Test func encodingIsDeterministic() throws {
        let a = try RuntimeSpec.encode(input)
        let b = try RuntimeSpec.encode(input)
        #expect(a == b)
        // Round trip through the strict parser.
        #expect(try JSONValue.parse(a) == (try spec()))
    }

    @Test(arguments: [
        ContainerLimits(memoryBytes: 1 << 20),
        ContainerLimits(pids: 0),
        ContainerLimits(cpuMillicores: 0),
        ContainerLimits(timeoutMillis: 0),
        ContainerLimits(outputBytes: -1),
        ContainerLimits(memoryBytes: 32 << 20, tmpfsBytes: 64 << 20),
        ContainerLimits(openFiles: 1),
    ])
    func limitsOutOfRangeAreRefused(limits: ContainerLimits) {
        #expect(throws: SandboxError.self) { try limits.validate() }
        var bad = input
        bad.limits = limits
        #expect(throws: SandboxError.self) { try RuntimeSpec.build(bad) }
        do {
            try limits.validate()
        } catch {
            #expect(error.kind == .invalidRequest)
        }
    }

    @Test func defaultLimitsAreValid() throws {
        try ContainerLimits().validate()
        #expect(ContainerLimits(cpuMillicores: 1500).cpuQuotaMicros == 150_000)
    }

    @Test(arguments: ["", "../x", "a/b", "-rf", "A", "x y", ".hidden", String(repeating: "a", count: 65)])
    func hostileIDsAreRefused(id: String) {
        var bad = input
        bad.id = id
        #expect(throws: SandboxError.self) { try RuntimeSpec.build(bad) }
    }

    @Test func hostileRequestsAreRefused() {
        var cases: [RuntimeSpecInput] = []
        var noArgs = input
        noArgs.args = []
        cases.append(noArgs)
        var nul = input
        nul.args = ["sh", "-c", "a\u{0}b"]
        cases.append(nul)
        var env = input
        env.env = ["=x"]
        cases.append(env)
        var relative = input
        relative.rootfs = "rootfs"
        cases.append(relative)
        var dotdot = input
        dotdot.cwd = "/tmp/../etc"
        cases.append(dotdot)
        var parent = input
        parent.cgroupParent = "../evil"
        cases.append(parent)
        for bad in cases {
            #expect(throws: SandboxError.self) { try RuntimeSpec.build(bad) }
        }
    }

    @Test func wasmInputFramingRoundTrips() throws {
        let inputs: [[UInt8]] = [[], Array("hello".utf8), [0, 255, 1]]
        let framed = try WasmInputFraming.encode(inputs)
        #expect(framed.prefix(8) == [0, 0, 0, 3, 0, 0, 0, 0])
        #expect(try WasmInputFraming.decode(framed) == inputs)
        #expect(throws: SandboxError.self) { try WasmInputFraming.decode(Array(framed.dropLast())) }
        #expect(throws: SandboxError.self) { try WasmInputFraming.decode(framed + [0]) }
        #expect(throws: SandboxError.self) { try WasmInputFraming.decode([0xFF, 0xFF, 0xFF, 0xFF]) }
    }
}

@Suite struct SeccompBPFTests {
    @Test func programChecksArchitectureFirstAndEndsWithReturns() throws {
        #if arch(x86_64)
            let program = try #require(SeccompBPF.program())
            #expect(program[0] == SeccompBPF.Instruction(code: 0x20, jt: 0, jf: 0, k: 4))
            #expect(program[1].code == 0x15 && program[1].k == 0xC000_003E)
            let returns = program.suffix(3).map(\.k)
            #expect(returns == [0x7FFF_0000, 0x0005_0001, 0x0005_0026])
            // Every denied name that exists on x86_64 is compared against.
            let compared = Set(program.filter { $0.code == 0x15 }.map(\.k))
            for nr: UInt32 in [165, 101, 321, 250, 272, 308, 246, 304, 298, 435] {
                #expect(compared.contains(nr), "syscall \(nr)")
            }
            // Every jump lands inside the program.
            for (pc, i) in program.enumerated() where i.code & 0x07 == 0x05 {
                #expect(pc + 1 + Int(i.jt) < program.count && pc + 1 + Int(i.jf) < program.count)
            }
            #expect(SeccompBPF.encode(program).count == program.count * 8)
        #endif
    }
}
