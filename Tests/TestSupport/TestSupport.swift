import Wire

/// Shared test helpers. (The simulated network, manual clock and multi-party fixtures of later
/// issues belong here too.)

/// Bytes from hex (whitespace ignored, so RFC and spec layouts can be pasted as is); traps on bad
/// input, as it is only for test vectors written in the source.
public func hex(_ text: String) -> [UInt8] {
    do {
        return try Hex.decode(text.filter { !$0.isWhitespace })
    } catch {
        preconditionFailure("bad hex in a test vector: \(error)")
    }
}

/// Lower-case hex of `bytes`.
public func hexString(_ bytes: some Sequence<UInt8>) -> String { Hex.encode(Array(bytes)) }
