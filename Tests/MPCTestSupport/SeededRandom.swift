import CryptoPrimitives

/// A deterministic `RandomSource` for tests and simulations: SHA-256 in counter mode over a seed,
/// block_i = SHA-256("vn/test-drbg/v1" ‖ seed ‖ u64 i). Not for production randomness.
public struct SeededRandom: RandomSource {
    private let seed: [UInt8]
    private var counter: UInt64 = 0
    private var buffer: [UInt8] = []

    public init(seed: [UInt8]) { self.seed = SHA256.hash(Array("vn/test-drbg/v1".utf8) + seed) }
    public init(seed: String) { self.init(seed: Array(seed.utf8)) }

    public mutating func fill(_ out: UnsafeMutableRawBufferPointer) {
        while buffer.count < out.count {
            buffer += SHA256.hash(seed + (0..<8).map { UInt8(truncatingIfNeeded: counter >> (8 * UInt64(7 - $0))) })
            counter += 1
        }
        for i in 0..<out.count { out[i] = buffer[i] }
        buffer.removeFirst(out.count)
    }
}
