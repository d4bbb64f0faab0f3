import JSON

/// The seccomp profile of every container (issue 7), in the OCI runtime-spec form runc 1.1.5
/// accepts (`linux.seccomp`).
///
/// Choice: **default allow, deny a list** — not Docker's allowlist. Jobs bring arbitrary images
/// (busybox, Python, Node, static Go binaries), and an allowlist that is short enough to audit
/// breaks some of them while one long enough to run all of them (Docker's ≈ 350 names) denies
/// little that the other layers do not already stop. Those other layers are what contain a job:
/// uid 65534, every capability dropped, no-new-privileges, a read-only root, an empty network
/// namespace and cgroup limits. With no capability, `mount`, `kexec_load`, `init_module`,
/// `reboot`, `swapon`, `settimeofday`, … already fail with EPERM; the profile denies them anyway
/// (defence in depth, e.g. against a runtime bug leaving a capability), and above all denies the
/// calls an *unprivileged* process can still make that are big kernel attack surface and that no
/// batch job needs: creating user namespaces (which hand out capabilities inside them — the usual
/// first step of container escapes such as CVE-2022-0185), `bpf`, `userfaultfd` (a tool for
/// winning kernel races), `perf_event_open`, `keyctl` and friends, `io_uring` (a long list of
/// privilege escalations; Google disabled it for this reason), `ptrace` and cross-process memory
/// access, `open_by_handle_at` (the "shocker" escape), the new mount API and `personality`.
///
/// Denied calls fail with EPERM (not a kill), so a program that merely probes for a feature keeps
/// running. `clone3` gets ENOSYS instead: its flags live in memory where seccomp cannot look, and
/// ENOSYS makes glibc fall back to `clone`, whose namespace flags are filtered by argument.
/// The x86 and x32 ABIs are listed next to x86_64 so a denied call cannot be reached through
/// `int 0x80` or the x32 syscall numbers.
public enum SeccompProfile {
    /// Calls refused with EPERM.
    public static let deniedSyscalls: [String] = [
        // Mounts, roots and namespaces.
        "mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns",
        "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
        // Kernel and host administration.
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
        "swapon", "swapoff", "acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
        "stime", "syslog", "quotactl", "quotactl_fd", "sethostname", "setdomainname", "iopl", "ioperm",
        "lookup_dcookie", "nfsservctl", "uselib", "_sysctl", "sysfs", "ustat", "vhangup",
        // Unprivileged but high-risk kernel surfaces.
        "bpf", "userfaultfd", "perf_event_open", "keyctl", "add_key", "request_key",
        "io_uring_setup", "io_uring_enter", "io_uring_register", "fanotify_init", "personality",
        "open_by_handle_at", "name_to_handle_at",
        // Other processes.
        "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise",
        // NUMA placement of other processes' memory.
        "move_pages", "migrate_pages",
    ]

    /// The namespace bits of `clone` flags (CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER |
    /// NEWPID | NEWNET, linux/sched.h): a `clone` with any of them is refused. One rule per bit,
    /// because SCMP_CMP_MASKED_EQ can only test equality and a rule's conditions are ANDed.
    public static let cloneNamespaceFlags: [UInt64] = [
        0x0002_0000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000,
    ]

    static let eperm: Int64 = 1
    static let enosys: Int64 = 38

    /// The seccomp architectures for the host this binary was built for.
    public static var architectures: [String] {
        #if arch(x86_64)
            return ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        #elseif arch(arm64)
            return ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
        #else
            return []
        #endif
    }

    /// The `linux.seccomp` object.
    public static func json() -> JSONValue {
        var rules: [JSONValue] = [
            .object([
                "names": .array(deniedSyscalls.map { .string($0) }),
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": .int(eperm),
            ]),
            .object([
                "names": ["clone3"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": .int(enosys),
            ]),
        ]
        for flag in cloneNamespaceFlags {
            rules.append(
                .object([
                    "names": ["clone"],
                    "action": "SCMP_ACT_ERRNO",
                    "errnoRet": .int(eperm),
                    "args": [
                        .object([
                            "index": 0, "value": .uint(flag), "valueTwo": .uint(flag), "op": "SCMP_CMP_MASKED_EQ",
                        ])
                    ],
                ]))
        }
        return .object([
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": .array(architectures.map { .string($0) }),
            "syscalls": .array(rules),
        ])
    }
}
