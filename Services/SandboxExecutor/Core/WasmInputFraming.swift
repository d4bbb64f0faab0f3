/// How a WASM job sees its inputs (issue 7): the whole of standard input is
///
///     u32 big-endian count · count × (u32 big-endian length · bytes)
///
/// in the order of the request's inputs, and nothing else, so a module reads stdin to the end and
/// splits it without any filesystem. A container job sees the same inputs as files `/input/0`,
/// `/input/1`, …; the framing is the stdin equivalent, fixed-width so it needs no parser library
/// inside the module.
public enum WasmInputFraming {
    /// The largest single input (and count) the framing can describe.
    public static let maxElement = Int(UInt32.max)

    public static func encode(_ inputs: [[UInt8]]) throws(SandboxError) -> [UInt8] {
        guard inputs.count <= maxElement else {
            throw SandboxError(.invalidRequest, "too many inputs for the WASM stdin framing")
        }
        var out: [UInt8] = []
        out.reserveCapacity(4 + inputs.reduce(0) { $0 + 4 + $1.count })
        append(UInt32(inputs.count), to: &out)
        for input in inputs {
            guard input.count <= maxElement else {
                throw SandboxError(.invalidRequest, "an input exceeds 4 GiB")
            }
            append(UInt32(input.count), to: &out)
            out.append(contentsOf: input)
        }
        return out
    }

    /// The inverse of `encode`; `invalidRequest` on a truncated or trailing byte.
    public static func decode(_ bytes: [UInt8]) throws(SandboxError) -> [[UInt8]] {
        var offset = 0
        func readU32() throws(SandboxError) -> Int {
            guard bytes.count - offset >= 4 else { throw SandboxError(.invalidRequest, "truncated input framing") }
            var value = 0
            for i in 0..<4 { value = value << 8 | Int(bytes[offset + i]) }
            offset += 4
            return value
        }
        let count = try readU32()
        var inputs: [[UInt8]] = []
        for _ in 0..<count {
            let length = try readU32()
            guard bytes.count - offset >= length else { throw SandboxError(.invalidRequest, "truncated input") }
            inputs.append(Array(bytes[offset..<offset + length]))
            offset += length
        }
        guard offset == bytes.count else { throw SandboxError(.invalidRequest, "trailing bytes after inputs") }
        return inputs
    }

    private static func append(_ value: UInt32, to out: inout [UInt8]) {
        out.append(contentsOf: [
            UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF),
        ])
    }
}
