import CryptoPrimitives
import SandboxCore
import Synchronization
@_spi(WASIPlatform) internal import WASI
@_spi(Fuzzing) internal import WasmKit

// The host side of a WASM run: what the guest's stdio, clocks, random source and memory growth
// are connected to. WasmKit exposes custom stdio files (`WASIFile`) and the store's resource
// limiter only as SPI; both are what this sandbox needs (a capped in-memory stdout that stops the
// guest at the cap, a memory ceiling), so they are used as such, pinned by Package.resolved.

/// Set by the task-cancellation handler, read at every WASI call.
final class WasmCancellation: Sendable {
    private let flag = Atomic<Bool>(false)
    func cancel() { flag.store(true, ordering: .relaxed) }
    var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// Thrown from a host call to unwind the interpreter (cancellation, output cap, memory cap).
struct WasmHostStop: Error {
    var reason: String
}

/// The memory (and table) ceiling. Throwing rather than answering `false` makes a `memory.grow`
/// past the cap end the run with `outOfMemory` instead of returning -1 to a guest that would then
/// spin on it until its fuel is gone.
final class WasmMemoryLimiter: ResourceLimiter {
    private let state = Mutex<(exceeded: Bool, peak: Int)>((false, 0))
    let maxMemoryBytes: Int
    let maxTableElements: Int

    init(maxMemoryBytes: Int, maxTableElements: Int) {
        self.maxMemoryBytes = maxMemoryBytes
        self.maxTableElements = maxTableElements
    }

    var exceeded: Bool { state.withLock { $0.exceeded } }
    var peakMemoryBytes: Int { state.withLock { $0.peak } }

    func limitMemoryGrowth(to desired: Int) throws -> Bool {
        let allowed = desired <= maxMemoryBytes
        state.withLock { s in
            if allowed { s.peak = max(s.peak, desired) } else { s.exceeded = true }
        }
        guard allowed else { throw WasmHostStop(reason: "memory cap") }
        return true
    }

    func limitTableGrowth(to desired: Int) throws -> Bool {
        guard desired <= maxTableElements else {
            state.withLock { $0.exceeded = true }
            throw WasmHostStop(reason: "table cap")
        }
        return true
    }
}

/// Wall clock and monotonic clock fixed at 0: time is not an input validators agree on.
struct WasmFixedClock: WallClock, MonotonicClock {
    func now() throws -> WallClock.Duration { (seconds: 0, nanoseconds: 0) }
    func resolution() throws -> WallClock.Duration { (seconds: 0, nanoseconds: 1) }
    func now() throws -> MonotonicClock.Instant { 0 }
    func resolution() throws -> MonotonicClock.Duration { 1 }
}

/// `random_get` as SHA-256(seed ‖ u64 counter) blocks: the same bytes at every validator.
final class WasmSeededRandom: RandomBufferGenerator {
    private let seed: [UInt8]
    private let counter = Mutex<UInt64>(0)

    init(seed: [UInt8]) { self.seed = seed }

    func fill(buffer: UnsafeMutableBufferPointer<UInt8>) {
        var offset = 0
        while offset < buffer.count {
            let n = counter.withLock { c -> UInt64 in
                defer { c &+= 1 }
                return c
            }
            let block = SHA256.hash(seed + withUnsafeBytes(of: n.bigEndian) { Array($0) })
            for byte in block where offset < buffer.count {
                buffer[offset] = byte
                offset += 1
            }
        }
    }
}

/// Shared parts of the stdio files: a character device without seeking, times or sync.
protocol WasmStream: WASIFile {
    var cancelled: WasmCancellation { get }
    var rights: WASIAbi.Rights { get }
}

extension WasmStream {
    func attributes() throws -> WASIAbi.Filestat {
        WASIAbi.Filestat(dev: 0, ino: 0, filetype: .CHARACTER_DEVICE, nlink: 0, size: 0, atim: 0, mtim: 0, ctim: 0)
    }
    func fileType() throws -> WASIAbi.FileType { .CHARACTER_DEVICE }
    func status() throws -> WASIAbi.Fdflags { [] }
    func setTimes(atim: WASIAbi.Timestamp, mtim: WASIAbi.Timestamp, fstFlags: WASIAbi.FstFlags) throws {
        throw WASIAbi.Errno.ENOTSUP
    }
    func advise(offset: WASIAbi.FileSize, length: WASIAbi.FileSize, advice: WASIAbi.Advice) throws {}
    func close() throws {}
    func fdStat() throws -> WASIAbi.FdStat {
        WASIAbi.FdStat(fsFileType: .CHARACTER_DEVICE, fsFlags: [], fsRightsBase: rights, fsRightsInheriting: [])
    }
    func setFdStatFlags(_ flags: WASIAbi.Fdflags) throws {}
    func setFilestatSize(_ size: WASIAbi.FileSize) throws { throw WASIAbi.Errno.EINVAL }
    func sync() throws {}
    func datasync() throws {}
    func tell() throws -> WASIAbi.FileSize { throw WASIAbi.Errno.ESPIPE }
    func seek(offset: WASIAbi.FileDelta, whence: WASIAbi.Whence) throws -> WASIAbi.FileSize {
        throw WASIAbi.Errno.ESPIPE
    }
    func pwrite(vectored buffers: GuestBuffers, offset: WASIAbi.FileSize) throws -> WASIAbi.Size {
        throw WASIAbi.Errno.ESPIPE
    }
    func pread(into buffers: GuestBuffers, offset: WASIAbi.FileSize) throws -> WASIAbi.Size {
        throw WASIAbi.Errno.ESPIPE
    }

    func checkCancelled() throws {
        if cancelled.isCancelled { throw WasmHostStop(reason: "cancelled") }
    }
}

/// Standard input: the framed inputs, then end of file.
final class WasmStdin: WasmStream {
    let cancelled: WasmCancellation
    private let bytes: [UInt8]
    private let position = Mutex<Int>(0)
    var rights: WASIAbi.Rights { [.FD_READ] }

    init(bytes: [UInt8], cancelled: WasmCancellation) {
        self.bytes = bytes
        self.cancelled = cancelled
    }

    func write(vectored buffers: GuestBuffers) throws -> WASIAbi.Size { throw WASIAbi.Errno.EBADF }

    func read(into buffers: GuestBuffers) throws -> WASIAbi.Size {
        try checkCancelled()
        var total = 0
        for index in 0..<buffers.count {
            let n = try buffers.withHostBuffer(at: index) { buffer in
                position.withLock { pos in
                    let n = min(buffer.count, bytes.count - pos)
                    if n > 0 {
                        bytes.withUnsafeBytes { src in
                            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[pos..<pos + n]))
                        }
                        pos += n
                    }
                    return n
                }
            }
            total += n
            if n < (try buffers.withHostBuffer(at: index) { $0.count }) { break }
        }
        return WASIAbi.Size(total)
    }
}

/// Standard output or error kept in memory up to a cap. For stdout, a write past the cap stops
/// the run (`outputTooLarge`) instead of storing it; for stderr, the excess is dropped.
final class WasmCappedOutput: WasmStream {
    let cancelled: WasmCancellation
    let cap: Int
    let failWhenFull: Bool
    private let state = Mutex<(bytes: [UInt8], overflowed: Bool)>(([], false))
    var rights: WASIAbi.Rights { [.FD_WRITE] }

    init(cap: Int, failWhenFull: Bool, cancelled: WasmCancellation) {
        self.cap = cap
        self.failWhenFull = failWhenFull
        self.cancelled = cancelled
    }

    var bytes: [UInt8] { state.withLock { $0.bytes } }
    var overflowed: Bool { state.withLock { $0.overflowed } }

    func read(into buffers: GuestBuffers) throws -> WASIAbi.Size { throw WASIAbi.Errno.EBADF }

    func write(vectored buffers: GuestBuffers) throws -> WASIAbi.Size {
        try checkCancelled()
        var total = 0
        for index in 0..<buffers.count {
            let stop = try buffers.withHostBuffer(at: index) { buffer -> Int in
                state.withLock { s in
                    let room = cap - s.bytes.count
                    if buffer.count > room {
                        s.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<max(0, room)]))
                        if failWhenFull { s.overflowed = true }
                        return 1
                    }
                    s.bytes.append(contentsOf: UnsafeRawBufferPointer(buffer))
                    return 0
                }
            }
            if stop == 1 && failWhenFull { throw WasmHostStop(reason: "output cap") }
            total += try buffers.withHostBuffer(at: index) { $0.count }
        }
        return WASIAbi.Size(truncatingIfNeeded: total)
    }
}
