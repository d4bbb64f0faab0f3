import CryptoPrimitives
import SandboxCore
import SandboxRuntime
import Testing
import WAT

/// WASI command modules written in WAT, run through `WasmRunner`.
@Suite struct WasmRunnerTests {
    static let wasiImports = """
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
          (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
          (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
        """

    /// A module with the WASI imports, one page of memory and `body` as `_start`.
    static func module(
        _ body: String, data: String = "", memory: String = "(memory (export \"memory\") 1)"
    ) throws
        -> [UInt8]
    {
        try wat2wasm(
            """
            (module
            \(wasiImports)
              \(memory)
              \(data)
              (func (export "_start")
                \(body))
            )
            """)
    }

    func job(_ bytes: [UInt8], inputs: [[UInt8]] = [], limits: WasmLimits = WasmLimits(fuel: 10_000_000)) -> WasmJob {
        WasmJob(module: bytes, digest: OCIDigest(sha256: SHA256.hash(bytes)), inputs: inputs, limits: limits)
    }

    func errorKind(_ job: WasmJob) async -> SandboxErrorKind? {
        do throws(SandboxError) {
            _ = try await WasmRunner().run(job)
            return nil
        } catch {
            return error.kind
        }
    }

    /// iovec at 0 = (16, 6), "hello\n" at 16, nwritten at 8.
    static let hello = """
        (i32.store (i32.const 0) (i32.const 16))
        (i32.store (i32.const 4) (i32.const 6))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        """

    @Test func printsWithFdWrite() async throws {
        let bytes = try Self.module(Self.hello, data: #"(data (i32.const 16) "hello\n")"#)
        let result = try await WasmRunner().run(job(bytes))
        #expect(result.exitStatus == 0)
        #expect(result.stdout == Array("hello\n".utf8))
        #expect(result.fuelConsumed > 0)
        #expect(result.peakMemoryBytes == 65_536)
    }

    /// Copies stdin to stdout: read into 1024.. with an iovec at 0, write what was read, until 0.
    @Test func readsFramedInputsFromStdin() async throws {
        let body = """
            (block $done
              (loop $again
                (i32.store (i32.const 0) (i32.const 1024))
                (i32.store (i32.const 4) (i32.const 7))
                (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
                (br_if $done (i32.eqz (i32.load (i32.const 8))))
                (i32.store (i32.const 4) (i32.load (i32.const 8)))
                (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 12)))
                (br $again)))
            """
        let inputs: [[UInt8]] = [Array("price=42".utf8), [], Array("x".utf8)]
        let result = try await WasmRunner().run(job(try Self.module(body), inputs: inputs))
        #expect(result.stdout == (try WasmInputFraming.encode(inputs)))
    }

    @Test func procExitCodeAndTrapAreResults() async throws {
        let exited = try await WasmRunner().run(job(try Self.module("(call $proc_exit (i32.const 7))")))
        #expect(exited.exitStatus == 7)
        let trapped = try await WasmRunner().run(job(try Self.module("unreachable")))
        #expect(trapped.exitStatus == WasmRunner.trapExitStatus)
        #expect(String(decoding: trapped.stderr, as: UTF8.self).contains("unreachable"))
    }

    @Test func infiniteLoopRunsOutOfFuel() async throws {
        let bytes = try Self.module("(loop $l (br $l))")
        #expect(await errorKind(job(bytes, limits: WasmLimits(fuel: 1_000_000))) == .fuelExhausted)
    }

    @Test func memoryGrowBombIsOutOfMemory() async throws {
        let bytes = try Self.module("(loop $l (drop (memory.grow (i32.const 16))) (br $l))")
        #expect(await errorKind(job(bytes, limits: WasmLimits(fuel: 100_000_000, maxMemoryPages: 64))) == .outOfMemory)
        // Declaring more than the cap fails at instantiation.
        let big = try Self.module("nop", memory: #"(memory (export "memory") 2000)"#)
        #expect(await errorKind(job(big, limits: WasmLimits(maxMemoryPages: 1024))) == .outOfMemory)
        // Growing within the cap is fine.
        let ok = try Self.module("(drop (memory.grow (i32.const 10)))")
        let result = try await WasmRunner().run(job(ok, limits: WasmLimits(fuel: 1_000_000, maxMemoryPages: 11)))
        #expect(result.peakMemoryBytes == 11 * 65_536)
    }

    @Test func outputBombIsCut() async throws {
        let body = """
            (i32.store (i32.const 0) (i32.const 0))
            (i32.store (i32.const 4) (i32.const 65536))
            (loop $l (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))) (br $l))
            """
        let bytes = try Self.module(body)
        #expect(
            await errorKind(job(bytes, limits: WasmLimits(fuel: 1_000_000_000, outputBytes: 1 << 20)))
                == .outputTooLarge)
    }

    @Test func digestMismatchIsRefused() async throws {
        let bytes = try Self.module(Self.hello, data: #"(data (i32.const 16) "hello\n")"#)
        var tampered = job(bytes)
        tampered.module[tampered.module.count - 1] ^= 1
        #expect(await errorKind(tampered) == .digestMismatch)
        var wrong = job(bytes)
        wrong.digest = OCIDigest(sha256: SHA256.hash([1, 2, 3]))
        #expect(await errorKind(wrong) == .digestMismatch)
        // Garbage that matches its digest is an invalid request, not a crash.
        #expect(await errorKind(job([0, 0x61, 0x73, 0x6D, 9, 9])) == .invalidRequest)
    }

    /// The clock reads 0, random bytes repeat for the same module and inputs, and there is no
    /// preopened directory (fd 3 is EBADF = 8).
    @Test func hostIsDeterministic() async throws {
        let body = """
            (drop (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 100)))
            (drop (call $random_get (i32.const 108) (i32.const 8)))
            (i32.store (i32.const 116) (call $fd_prestat_get (i32.const 3) (i32.const 200)))
            (i32.store (i32.const 0) (i32.const 100))
            (i32.store (i32.const 4) (i32.const 20))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
            """
        let bytes = try Self.module(body)
        let a = try await WasmRunner().run(job(bytes, inputs: [[1]]))
        let b = try await WasmRunner().run(job(bytes, inputs: [[1]]))
        let c = try await WasmRunner().run(job(bytes, inputs: [[2]]))
        #expect(a.stdout.count == 20)
        #expect(Array(a.stdout[0..<8]) == [UInt8](repeating: 0, count: 8))
        #expect(a.stdout == b.stdout)
        #expect(Array(a.stdout[8..<16]) != Array(c.stdout[8..<16]))
        #expect(Array(a.stdout[16..<20]) == [8, 0, 0, 0])
    }

    @Test func limitsAreValidated() async throws {
        let bytes = try Self.module("nop")
        #expect(await errorKind(job(bytes, limits: WasmLimits(fuel: 0))) == .invalidRequest)
        #expect(await errorKind(job(bytes, limits: WasmLimits(maxMemoryPages: 70_000))) == .invalidRequest)
    }
}
