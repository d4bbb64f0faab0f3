import Foundation
import SandboxCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// How a supervised process ended.
struct ProcessOutcome: Sendable {
    /// The exit code, or 128 + the signal number when a signal ended it (the shell convention,
    /// which is also what `runc run` reports for a container killed by a signal).
    var exitStatus: Int32
    var stdout: [UInt8]
    /// The first `stderrCap` bytes of standard error (diagnostics; never part of a result).
    var stderr: [UInt8]
    /// Standard output went past the cap: the process was killed and `stdout` holds the cap.
    var outputExceeded = false
    /// The wall-clock limit fired and the process was killed.
    var timedOut = false
    /// The caller's task was cancelled and the process was killed.
    var cancelled = false
    /// Spawn to exit, in nanoseconds.
    var elapsedNanos: UInt64 = 0
}

/// What to do when a run must stop early (timeout, output cap, cancellation). Called on the
/// supervising thread, again every 100 ms until the process has exited, because the first try can
/// come before the thing to kill exists (a container that runc is still creating).
typealias KillAction = @Sendable () -> Void

/// Runs one child process with stdin on /dev/null and stdout / stderr on pipes, off the
/// cooperative thread pool (issue 7): a dedicated thread polls the pipes, enforces the output cap
/// and the wall-clock limit and reaps the child, so an `async` caller only ever awaits a
/// continuation. Output is kept only up to the cap: at the cap the process is killed and the rest
/// read and dropped, so a job printing 1 GiB costs the cap, not 1 GiB.
enum ProcessSupervisor {
    struct Options: Sendable {
        var executable: String
        var arguments: [String]
        var environment: [String]
        var outputCap: Int
        var stderrCap: Int = 64 << 10
        var timeoutNanos: UInt64
        /// `nil`: SIGKILL the child itself.
        var kill: KillAction?
        /// Descriptors the child inherits: (descriptor here, number in the child), e.g. a seccomp
        /// program for bwrap. The caller keeps and closes its own descriptor.
        var inherited: [(source: Int32, target: Int32)] = []
        /// Give up on a process that outlives a kill by this much: SIGKILL the direct child and
        /// stop reading (a hung runtime must not hang the executor).
        var killGraceNanos: UInt64 = 5_000_000_000
    }

    /// Runs `options` to completion; Swift task cancellation kills the process and is reported as
    /// `cancelled` in the outcome (the caller decides what that means).
    static func run(_ options: Options) async throws(SandboxError) -> ProcessOutcome {
        let control = RunControl()
        let result: Result<ProcessOutcome, SandboxError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let thread = Thread {
                    continuation.resume(returning: supervise(options, control: control))
                }
                thread.name = "sandbox-process"
                thread.start()
            }
        } onCancel: {
            control.cancel()
        }
        return try result.get()
    }

    /// Runs a short helper command (`runc kill`, `runc delete`, `runc list`) to completion,
    /// regardless of task cancellation: cleanup must run also when the job was cancelled.
    static func runHelper(
        _ executable: String, _ arguments: [String], timeoutNanos: UInt64 = 30_000_000_000
    ) async -> ProcessOutcome? {
        let options = Options(
            executable: executable, arguments: arguments, environment: minimalEnvironment, outputCap: 1 << 20,
            timeoutNanos: timeoutNanos, kill: nil)
        return await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: try? supervise(options, control: RunControl()).get())
            }
            thread.name = "sandbox-helper"
            thread.start()
        }
    }

    /// The same, blocking: for kill actions, which already run on a supervising thread.
    static func runHelperBlocking(_ executable: String, _ arguments: [String]) -> ProcessOutcome? {
        let options = Options(
            executable: executable, arguments: arguments, environment: minimalEnvironment, outputCap: 1 << 20,
            timeoutNanos: 10_000_000_000, kill: nil)
        return try? supervise(options, control: RunControl()).get()
    }

    static let minimalEnvironment = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]

    /// The absolute path of `name` on the usual system PATH, or nil.
    static func locate(_ name: String) -> String? {
        if name.hasPrefix("/") { return access(name, X_OK) == 0 ? name : nil }
        for dir in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            let path = dir + "/" + name
            if access(path, X_OK) == 0 { return path }
        }
        return nil
    }

    // MARK: - The supervising thread

    /// Cancellation reaching a blocked `poll` through a pipe. The write end is closed under the
    /// lock, so a late `cancel()` can never write into a reused descriptor number.
    final class RunControl: Sendable {
        private let state = Mutex<(cancelled: Bool, wakeFD: Int32)>((false, -1))

        func attach(wakeFD: Int32) -> Bool {
            state.withLock { s in
                s.wakeFD = wakeFD
                return s.cancelled
            }
        }

        func cancel() {
            state.withLock { s in
                s.cancelled = true
                if s.wakeFD >= 0 {
                    var byte: UInt8 = 1
                    _ = write(s.wakeFD, &byte, 1)
                }
            }
        }

        var isCancelled: Bool { state.withLock { $0.cancelled } }

        func detach() {
            state.withLock { s in
                if s.wakeFD >= 0 { close(s.wakeFD) }
                s.wakeFD = -1
            }
        }
    }

    private static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Held from creating a run's pipes until its child is spawned. Glibc's `pipe2` is not
    /// visible to Swift, so a pipe is made close-on-exec in a second step; were another of our
    /// spawns to run in between, its child would inherit the write end and the first run would
    /// see end-of-file only when that unrelated child exits.
    private static let spawnLock = Mutex<Void>(())

    private static func makePipe() -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    private static func spawn(_ options: Options, stdout: Int32, stderr: Int32) -> Result<pid_t, SandboxError> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        for (source, target) in options.inherited {
            posix_spawn_file_actions_adddup2(&actions, source, target)
        }

        // The child starts with every signal at its default and none blocked, whatever the
        // executor ignores or blocks (runc's signal forwarding relies on it).
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([options.executable] + options.arguments).map { strdup($0) } + [nil]
        let envp = options.environment.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, options.executable, &actions, &attr, argv, envp)
        guard rc == 0 else {
            return .failure(SandboxError(.internal, "cannot start \(options.executable): errno \(rc)"))
        }
        return .success(pid)
    }

    private static func decode(waitStatus status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    static func supervise(_ options: Options, control: RunControl) -> Result<ProcessOutcome, SandboxError> {
        let started = spawnLock.withLock { _ in startChild(options) }
        switch started {
        case .failure(let error): return .failure(error)
        case .success(let child): return superviseChild(options, control: control, child: child)
        }
    }

    private struct Child {
        var pid: pid_t
        var stdout: Int32
        var stderr: Int32
        var wakeRead: Int32
        var wakeWrite: Int32
        var start: UInt64
    }

    private static func startChild(_ options: Options) -> Result<Child, SandboxError> {
        guard let out = makePipe() else { return .failure(SandboxError(.internal, "pipe: errno \(errno)")) }
        guard let err = makePipe() else {
            close(out.read)
            close(out.write)
            return .failure(SandboxError(.internal, "pipe: errno \(errno)"))
        }
        guard let wake = makePipe() else {
            for fd in [out.read, out.write, err.read, err.write] { close(fd) }
            return .failure(SandboxError(.internal, "pipe: errno \(errno)"))
        }
        let start = monotonicNanos()
        let spawned = spawn(options, stdout: out.write, stderr: err.write)
        close(out.write)
        close(err.write)
        let pid: pid_t
        switch spawned {
        case .failure(let error):
            for fd in [out.read, err.read, wake.read, wake.write] { close(fd) }
            return .failure(error)
        case .success(let p): pid = p
        }
        return .success(
            Child(
                pid: pid, stdout: out.read, stderr: err.read, wakeRead: wake.read, wakeWrite: wake.write, start: start))
    }

    private static func superviseChild(
        _ options: Options, control: RunControl, child: Child
    ) -> Result<
        ProcessOutcome, SandboxError
    > {
        let pid = child.pid
        let start = child.start
        let out = (read: child.stdout, write: Int32(-1))
        let err = (read: child.stderr, write: Int32(-1))
        let wake = (read: child.wakeRead, write: child.wakeWrite)
        let alreadyCancelled = control.attach(wakeFD: wake.write)
        defer {
            control.detach()
            close(wake.read)
        }

        var outcome = ProcessOutcome(exitStatus: -1, stdout: [], stderr: [])
        outcome.cancelled = alreadyCancelled
        var stdoutFD: Int32 = out.read
        var stderrFD: Int32 = err.read
        let deadline = start &+ options.timeoutNanos
        var killRequestedAt: UInt64? = nil
        var nextKill: UInt64 = 0
        var forced = false
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 1)
        defer { buffer.deallocate() }

        func killNow(_ now: UInt64) {
            if killRequestedAt == nil { killRequestedAt = now }
            guard now >= nextKill else { return }
            nextKill = now + 100_000_000
            if let action = options.kill { action() } else { Glibc.kill(pid, SIGKILL) }
            if let first = killRequestedAt, now - first > options.killGraceNanos, !forced {
                // The runtime did not bring the process down: stop waiting for its pipes.
                forced = true
                Glibc.kill(pid, SIGKILL)
                if stdoutFD >= 0 { close(stdoutFD) }
                if stderrFD >= 0 { close(stderrFD) }
                stdoutFD = -1
                stderrFD = -1
            }
        }

        var status: Int32 = 0
        var reaped = false
        while true {
            let now = monotonicNanos()
            if control.isCancelled { outcome.cancelled = true }
            if !outcome.timedOut, killRequestedAt == nil, now >= deadline { outcome.timedOut = true }
            let mustKill = outcome.cancelled || outcome.timedOut || outcome.outputExceeded
            if mustKill { killNow(now) }

            if stdoutFD < 0, stderrFD < 0 {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid || (r < 0 && errno != EINTR) {
                    reaped = r == pid
                    break
                }
            }

            var fds: [pollfd] = []
            if stdoutFD >= 0 { fds.append(pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)) }
            if stderrFD >= 0 { fds.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
            fds.append(pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0))
            var timeoutMs: Int32
            if mustKill || (stdoutFD < 0 && stderrFD < 0) {
                timeoutMs = mustKill ? 100 : 10
            } else {
                timeoutMs = Int32(clamping: (deadline > now ? (deadline - now) / 1_000_000 + 1 : 0))
                timeoutMs = min(timeoutMs, 1000)
            }
            let ready = poll(&fds, nfds_t(fds.count), timeoutMs)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for entry in fds where entry.revents != 0 {
                if entry.fd == wake.read {
                    _ = read(wake.read, buffer.baseAddress, 64)
                    continue
                }
                let n = read(entry.fd, buffer.baseAddress, buffer.count)
                if n < 0, errno == EINTR || errno == EAGAIN { continue }
                if n <= 0 {
                    close(entry.fd)
                    if entry.fd == stdoutFD { stdoutFD = -1 } else { stderrFD = -1 }
                    continue
                }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                if entry.fd == stdoutFD {
                    guard !outcome.outputExceeded else { continue }
                    let room = options.outputCap - outcome.stdout.count
                    if n > room {
                        outcome.stdout.append(contentsOf: chunk.prefix(room))
                        outcome.outputExceeded = true
                    } else {
                        outcome.stdout.append(contentsOf: chunk)
                    }
                } else {
                    let room = options.stderrCap - outcome.stderr.count
                    if room > 0 { outcome.stderr.append(contentsOf: chunk.prefix(room)) }
                }
            }
        }
        if stdoutFD >= 0 { close(stdoutFD) }
        if stderrFD >= 0 { close(stderrFD) }
        if !reaped {
            // Only reached when waitpid failed for a reason other than EINTR; reap blocking.
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        outcome.exitStatus = decode(waitStatus: status)
        outcome.elapsedNanos = monotonicNanos() - start
        return .success(outcome)
    }
}
