/// A source of uniformly random bytes, passed explicitly to everything that draws randomness
/// (`BigNum.random`, `Scalar.random`, Paillier encryption, proofs), so protocol code can run on a
/// seeded deterministic source in tests and simulations and on `SecureRandomNumberGenerator` in
/// production. It refines `RandomNumberGenerator`, so `Int.random(in:using:)` and
/// `shuffled(using:)` work on it too.
///
/// Conformers must fill the whole buffer; cryptographic uses need every byte uniform and
/// unpredictable (only `SecureRandomNumberGenerator` gives that here).
public protocol RandomSource: RandomNumberGenerator {
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer)
}

extension RandomSource {
    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "RandomSource.bytes: negative count")
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { fill($0) }
        return out
    }

    public mutating func next() -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { fill($0) }
        return value
    }
}

/// The production source: OpenSSL's DRBG (RAND_bytes).
extension SecureRandomNumberGenerator: RandomSource {
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        SecureRandom.fill(buffer)
    }
}
