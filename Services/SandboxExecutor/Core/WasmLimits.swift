/// The limits of one WASM run (issue 7). Unlike a container's wall-clock limit, fuel is
/// deterministic: every validator running the same module on the same inputs stops at the same
/// instruction, so an exhausted budget is itself an agreed outcome.
public struct WasmLimits: Sendable, Hashable {
    /// Instruction budget (WasmKit fuel: about one unit per executed operator, bulk memory
    /// operations one more per 64 bytes).
    public var fuel: UInt64
    /// Ceiling of each linear memory, in 64 KiB pages. A module
    /// declaring more, or growing past it, fails with `outOfMemory`.
    public var maxMemoryPages: Int
    /// Maximum bytes of standard output kept; one byte more ends the run (`outputTooLarge`).
    public var outputBytes: Int
    /// Maximum table elements (a `table.grow` bomb is the same attack as a `memory.grow` one).
    public var maxTableElements: Int

    public static let pageSize = 65_536

    public init(
        fuel: UInt64 = 1_000_000_000, maxMemoryPages: Int = 1024, outputBytes: Int = 1 << 20,
        maxTableElements: Int = 100_000
    ) {
        self.fuel = fuel
        self.maxMemoryPages = maxMemoryPages
        self.outputBytes = outputBytes
        self.maxTableElements = maxTableElements
    }

    public var maxMemoryBytes: Int { maxMemoryPages * Self.pageSize }

    public enum Bounds {
        public static let fuel: ClosedRange<UInt64> = 1...1_000_000_000_000
        /// Up to 4 GiB, the whole wasm32 address space.
        public static let maxMemoryPages: ClosedRange<Int> = 0...65_536
        public static let outputBytes: ClosedRange<Int> = 0...(1 << 30)
        public static let maxTableElements: ClosedRange<Int> = 0...10_000_000
    }

    public func validate() throws(SandboxError) {
        guard Bounds.fuel.contains(fuel) else { throw SandboxError(.invalidRequest, "wasm fuel \(fuel) out of range") }
        guard Bounds.maxMemoryPages.contains(maxMemoryPages) else {
            throw SandboxError(.invalidRequest, "wasm maxMemoryPages \(maxMemoryPages) out of range")
        }
        guard Bounds.outputBytes.contains(outputBytes) else {
            throw SandboxError(.invalidRequest, "wasm outputBytes \(outputBytes) out of range")
        }
        guard Bounds.maxTableElements.contains(maxTableElements) else {
            throw SandboxError(.invalidRequest, "wasm maxTableElements \(maxTableElements) out of range")
        }
    }
}
