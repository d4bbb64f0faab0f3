/// `SeccompProfile` compiled to a classic BPF program, for bubblewrap's `--seccomp FD` (bwrap
/// takes the raw `struct sock_filter` array; runc compiles the JSON profile itself with
/// libseccomp). Pure: the same profile always gives the same bytes.
///
/// The program (seccomp(2), "Pitfalls": check the architecture first, and on x86_64 the x32 bit):
///
///     ld arch; jne NATIVE → EPERM          (no i386 / x32 entry points at all)
///     ld nr;   jge 0x40000000 → EPERM      (x32 numbers on the x86_64 entry point)
///     jeq <each denied nr> → EPERM
///     jeq clone3 → ENOSYS                  (glibc falls back to clone)
///     jne clone → ALLOW
///     ld args[0] (low 32 bits); jset <namespace flags> → EPERM
///     ALLOW
///
/// Unlike the runc profile, 32-bit x86 calls are refused outright (a 32-bit binary does not run
/// under bubblewrap); that is stricter, not weaker.
public enum SeccompBPF {
    /// x86_64 numbers of `SeccompProfile.deniedSyscalls` (asm/unistd_64.h). Names the
    /// architecture does not have (`umount`, `stime`) are absent.
    static let x86_64Numbers: [String: UInt32] = [
        "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "move_mount": 429, "open_tree": 428,
        "mount_setattr": 442, "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
        "delete_module": 176, "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163, "settimeofday": 164,
        "clock_settime": 227, "clock_adjtime": 305, "adjtimex": 159, "syslog": 103, "quotactl": 179,
        "quotactl_fd": 443, "sethostname": 170, "setdomainname": 171, "iopl": 172, "ioperm": 173,
        "lookup_dcookie": 212, "nfsservctl": 180, "uselib": 134, "_sysctl": 156, "sysfs": 139, "ustat": 136,
        "vhangup": 153, "bpf": 321, "userfaultfd": 323, "perf_event_open": 298, "keyctl": 250, "add_key": 248,
        "request_key": 249, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "fanotify_init": 300, "personality": 135, "open_by_handle_at": 304, "name_to_handle_at": 303,
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "pidfd_getfd": 438,
        "process_madvise": 440, "move_pages": 279, "migrate_pages": 256,
    ]
    static let x86_64Clone: UInt32 = 56
    static let x86_64Clone3: UInt32 = 435
    static let auditArchX86_64: UInt32 = 0xC000_003E

    // linux/filter.h and linux/seccomp.h.
    static let ldAbs: UInt16 = 0x20  // BPF_LD | BPF_W | BPF_ABS
    static let jeq: UInt16 = 0x15  // BPF_JMP | BPF_JEQ | BPF_K
    static let jge: UInt16 = 0x35  // BPF_JMP | BPF_JGE | BPF_K
    static let jset: UInt16 = 0x45  // BPF_JMP | BPF_JSET | BPF_K
    static let ret: UInt16 = 0x06  // BPF_RET | BPF_K
    static let retAllow: UInt32 = 0x7FFF_0000
    static let retErrno: UInt32 = 0x0005_0000

    /// One `struct sock_filter`.
    public struct Instruction: Sendable, Hashable {
        public var code: UInt16
        public var jt: UInt8
        public var jf: UInt8
        public var k: UInt32

        public init(code: UInt16, jt: UInt8, jf: UInt8, k: UInt32) {
            self.code = code
            self.jt = jt
            self.jf = jf
            self.k = k
        }
    }

    /// The program for the architecture this binary was built for, or nil where no syscall table
    /// is known (then bubblewrap runs without a filter, and says so in its configuration).
    public static func program() -> [Instruction]? {
        #if arch(x86_64)
            return program(
                arch: auditArchX86_64, x32Bit: true,
                denied: SeccompProfile.deniedSyscalls.compactMap { x86_64Numbers[$0] },
                clone: x86_64Clone, clone3: x86_64Clone3)
        #else
            return nil
        #endif
    }

    static func program(arch: UInt32, x32Bit: Bool, denied: [UInt32], clone: UInt32, clone3: UInt32) -> [Instruction] {
        // Jumps are forward-only with 8-bit offsets; the program is built with symbolic targets
        // (the three return instructions at the end) and resolved once the length is known.
        enum Target {
            case next, allow, eperm, enosys
        }
        var code: [(UInt16, Target, Target, UInt32)] = []
        code.append((ldAbs, .next, .next, 4))
        code.append((jeq, .next, .eperm, arch))
        code.append((ldAbs, .next, .next, 0))
        if x32Bit { code.append((jge, .eperm, .next, 0x4000_0000)) }
        for nr in denied.sorted() { code.append((jeq, .eperm, .next, nr)) }
        code.append((jeq, .enosys, .next, clone3))
        code.append((jeq, .next, .allow, clone))
        code.append((ldAbs, .next, .next, 16))
        let namespaceFlags = SeccompProfile.cloneNamespaceFlags.reduce(UInt64(0), |)
        code.append((jset, .eperm, .allow, UInt32(truncatingIfNeeded: namespaceFlags)))
        let allowAt = code.count
        func offset(_ target: Target, from pc: Int) -> UInt8 {
            let destination: Int
            switch target {
            case .next: return 0
            case .allow: destination = allowAt
            case .eperm: destination = allowAt + 1
            case .enosys: destination = allowAt + 2
            }
            return UInt8(destination - pc - 1)
        }
        var program = code.enumerated().map { pc, entry in
            Instruction(code: entry.0, jt: offset(entry.1, from: pc), jf: offset(entry.2, from: pc), k: entry.3)
        }
        program.append(Instruction(code: ret, jt: 0, jf: 0, k: retAllow))
        program.append(Instruction(code: ret, jt: 0, jf: 0, k: retErrno | UInt32(SeccompProfile.eperm)))
        program.append(Instruction(code: ret, jt: 0, jf: 0, k: retErrno | UInt32(SeccompProfile.enosys)))
        return program
    }

    /// The program as the bytes bwrap reads (host byte order: little-endian on every supported host).
    public static func encode(_ program: [Instruction]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(program.count * 8)
        for i in program {
            out += [UInt8(i.code & 0xFF), UInt8(i.code >> 8), i.jt, i.jf]
            out += [UInt8(i.k & 0xFF), UInt8(i.k >> 8 & 0xFF), UInt8(i.k >> 16 & 0xFF), UInt8(i.k >> 24)]
        }
        return out
    }
}
