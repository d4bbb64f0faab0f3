import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's DRBG (RAND_bytes).
public enum SecureRandom {
    /// `count` random bytes. A negative count is a programming error. If the DRBG cannot produce
    /// output (it could not be seeded) the process stops: continuing would risk weak keys.
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "SecureRandom.bytes: negative count")
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { fill($0) }
        return out
    }

    /// Fills `buffer` with random bytes (same failure policy as `bytes`).
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        var offset = 0
        while offset < buffer.count {
            let chunk = min(buffer.count - offset, Int(Int32.max))
            guard RAND_bytes(base.advanced(by: offset).assumingMemoryBound(to: UInt8.self), Int32(chunk)) == 1 else {
                fatalError("SecureRandom: \(opensslError("RAND_bytes"))")
            }
            offset += chunk
        }
    }
}

/// A `RandomNumberGenerator` backed by `SecureRandom`, for `Int.random(in:using:)`, `shuffled(using:)`.
public struct SecureRandomNumberGenerator: RandomNumberGenerator, Sendable {
    public init() {}

    public mutating func next() -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { SecureRandom.fill($0) }
        return value
    }
}
