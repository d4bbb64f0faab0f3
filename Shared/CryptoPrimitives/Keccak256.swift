/// Keccak-256 as used by Ethereum: the Keccak-f[1600] sponge with rate 1088 bits (136 bytes),
/// capacity 512 bits and the *original* Keccak padding (domain byte 0x01, final bit 0x80), which
/// differs from FIPS 202 SHA3-256 (domain byte 0x06).
///
/// Written from the Keccak reference (keccak.team, "The Keccak reference" v3.0, §1.2 and §2.1):
/// the state is 25 little-endian 64-bit lanes A[x + 5y]; each of the 24 rounds is θ, ρ+π, χ, ι.
public enum Keccak256 {
    /// Digest size in bytes.
    public static let digestByteCount = 32
    /// Sponge rate in bytes (1600 - 2·256 bits).
    public static let rateByteCount = 136

    /// One-shot hash of any byte collection.
    public static func hash<C: Collection>(_ data: C) -> [UInt8] where C.Element == UInt8 {
        var hasher = Hasher()
        hasher.update(data)
        return hasher.finalize()
    }

    /// Incremental Keccak-256: `update` any number of times, then `finalize`.
    /// `finalize` does not consume the hasher: it pads a copy of the state, so more data may be
    /// appended afterwards (the next `finalize` then covers everything absorbed so far).
    public struct Hasher: Sendable {
        private var state = [UInt64](repeating: 0, count: 25)
        /// Bytes absorbed into the current (partial) block; always < rate.
        private var buffer = [UInt8](repeating: 0, count: Keccak256.rateByteCount)
        private var buffered = 0

        public init() {}

        public mutating func update<C: Collection>(_ data: C) where C.Element == UInt8 {
            let done: Void? = data.withContiguousStorageIfAvailable { update(bytes: $0) }
            if done == nil {
                let copy = Array(data)
                copy.withUnsafeBufferPointer { update(bytes: $0) }
            }
        }

        private mutating func update(bytes input: UnsafeBufferPointer<UInt8>) {
            let rate = Keccak256.rateByteCount
            var offset = 0
            let total = input.count
            if buffered > 0 {
                let take = min(rate - buffered, total)
                for i in 0..<take { buffer[buffered + i] = input[i] }
                buffered += take
                offset = take
                guard buffered == rate else { return }
                buffer.withUnsafeBytes { Self.absorb(&state, block: $0.baseAddress!) }
                buffered = 0
            }
            if let base = input.baseAddress {
                while total - offset >= rate {
                    Self.absorb(&state, block: UnsafeRawPointer(base + offset))
                    offset += rate
                }
            }
            let rest = total - offset
            for i in 0..<rest { buffer[i] = input[offset + i] }
            buffered = rest
        }

        /// XORs one 136-byte block into the first 17 lanes and applies the permutation.
        private static func absorb(_ state: inout [UInt64], block: UnsafeRawPointer) {
            state.withUnsafeMutableBufferPointer { s in
                for lane in 0..<(Keccak256.rateByteCount / 8) {
                    s[lane] ^= UInt64(littleEndian: block.loadUnaligned(fromByteOffset: lane * 8, as: UInt64.self))
                }
                keccakF1600(s)
            }
        }

        /// Pads (0x01 … 0x80) a copy of the state and squeezes 32 bytes.
        public func finalize() -> [UInt8] {
            var copy = self
            let rate = Keccak256.rateByteCount
            for i in copy.buffered..<rate { copy.buffer[i] = 0 }
            copy.buffer[copy.buffered] ^= 0x01
            copy.buffer[rate - 1] ^= 0x80
            copy.buffer.withUnsafeBytes { Self.absorb(&copy.state, block: $0.baseAddress!) }
            var out = [UInt8](repeating: 0, count: Keccak256.digestByteCount)
            for lane in 0..<4 {
                let v = copy.state[lane]
                for b in 0..<8 { out[lane * 8 + b] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(b))) }
            }
            return out
        }
    }
}

@inline(__always)
private func rotl(_ x: UInt64, _ n: UInt64) -> UInt64 {
    (x &<< n) | (x &>> (64 &- n))
}

/// ι round constants RC[i] (Keccak reference §1.2).
private let roundConstants: [UInt64] = [
    0x0000_0000_0000_0001, 0x0000_0000_0000_8082, 0x8000_0000_0000_808A, 0x8000_0000_8000_8000,
    0x0000_0000_0000_808B, 0x0000_0000_8000_0001, 0x8000_0000_8000_8081, 0x8000_0000_0000_8009,
    0x0000_0000_0000_008A, 0x0000_0000_0000_0088, 0x0000_0000_8000_8009, 0x0000_0000_8000_000A,
    0x0000_0000_8000_808B, 0x8000_0000_0000_008B, 0x8000_0000_0000_8089, 0x8000_0000_0000_8003,
    0x8000_0000_0000_8002, 0x8000_0000_0000_0080, 0x0000_0000_0000_800A, 0x8000_0000_8000_000A,
    0x8000_0000_8000_8081, 0x8000_0000_0000_8080, 0x0000_0000_8000_0001, 0x8000_0000_8000_8008,
]

/// Keccak-f[1600] on 25 lanes, lane (x, y) at index x + 5y. The round body is unrolled over the
/// lanes: θ (column parities c, d), ρ+π together (B[y, 2x+3y] = rot(A[x, y] ^ d[x], r[x, y])),
/// χ (A[x, y] = B[x, y] ^ (~B[x+1, y] & B[x+2, y])), then ι on lane 0.
private func keccakF1600(_ s: UnsafeMutableBufferPointer<UInt64>) {
    var a0 = s[0]
    var a1 = s[1]
    var a2 = s[2]
    var a3 = s[3]
    var a4 = s[4]
    var a5 = s[5]
    var a6 = s[6]
    var a7 = s[7]
    var a8 = s[8]
    var a9 = s[9]
    var a10 = s[10]
    var a11 = s[11]
    var a12 = s[12]
    var a13 = s[13]
    var a14 = s[14]
    var a15 = s[15]
    var a16 = s[16]
    var a17 = s[17]
    var a18 = s[18]
    var a19 = s[19]
    var a20 = s[20]
    var a21 = s[21]
    var a22 = s[22]
    var a23 = s[23]
    var a24 = s[24]
    for round in 0..<24 {
        let c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
        let c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
        let c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
        let c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
        let c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
        let d0 = c4 ^ rotl(c1, 1)
        let d1 = c0 ^ rotl(c2, 1)
        let d2 = c1 ^ rotl(c3, 1)
        let d3 = c2 ^ rotl(c4, 1)
        let d4 = c3 ^ rotl(c0, 1)
        let b0 = a0 ^ d0
        let b1 = rotl(a6 ^ d1, 44)
        let b2 = rotl(a12 ^ d2, 43)
        let b3 = rotl(a18 ^ d3, 21)
        let b4 = rotl(a24 ^ d4, 14)
        let b5 = rotl(a3 ^ d3, 28)
        let b6 = rotl(a9 ^ d4, 20)
        let b7 = rotl(a10 ^ d0, 3)
        let b8 = rotl(a16 ^ d1, 45)
        let b9 = rotl(a22 ^ d2, 61)
        let b10 = rotl(a1 ^ d1, 1)
        let b11 = rotl(a7 ^ d2, 6)
        let b12 = rotl(a13 ^ d3, 25)
        let b13 = rotl(a19 ^ d4, 8)
        let b14 = rotl(a20 ^ d0, 18)
        let b15 = rotl(a4 ^ d4, 27)
        let b16 = rotl(a5 ^ d0, 36)
        let b17 = rotl(a11 ^ d1, 10)
        let b18 = rotl(a17 ^ d2, 15)
        let b19 = rotl(a23 ^ d3, 56)
        let b20 = rotl(a2 ^ d2, 62)
        let b21 = rotl(a8 ^ d3, 55)
        let b22 = rotl(a14 ^ d4, 39)
        let b23 = rotl(a15 ^ d0, 41)
        let b24 = rotl(a21 ^ d1, 2)
        a0 = b0 ^ (~b1 & b2)
        a1 = b1 ^ (~b2 & b3)
        a2 = b2 ^ (~b3 & b4)
        a3 = b3 ^ (~b4 & b0)
        a4 = b4 ^ (~b0 & b1)
        a5 = b5 ^ (~b6 & b7)
        a6 = b6 ^ (~b7 & b8)
        a7 = b7 ^ (~b8 & b9)
        a8 = b8 ^ (~b9 & b5)
        a9 = b9 ^ (~b5 & b6)
        a10 = b10 ^ (~b11 & b12)
        a11 = b11 ^ (~b12 & b13)
        a12 = b12 ^ (~b13 & b14)
        a13 = b13 ^ (~b14 & b10)
        a14 = b14 ^ (~b10 & b11)
        a15 = b15 ^ (~b16 & b17)
        a16 = b16 ^ (~b17 & b18)
        a17 = b17 ^ (~b18 & b19)
        a18 = b18 ^ (~b19 & b15)
        a19 = b19 ^ (~b15 & b16)
        a20 = b20 ^ (~b21 & b22)
        a21 = b21 ^ (~b22 & b23)
        a22 = b22 ^ (~b23 & b24)
        a23 = b23 ^ (~b24 & b20)
        a24 = b24 ^ (~b20 & b21)
        a0 ^= roundConstants[round]
    }
    s[0] = a0
    s[1] = a1
    s[2] = a2
    s[3] = a3
    s[4] = a4
    s[5] = a5
    s[6] = a6
    s[7] = a7
    s[8] = a8
    s[9] = a9
    s[10] = a10
    s[11] = a11
    s[12] = a12
    s[13] = a13
    s[14] = a14
    s[15] = a15
    s[16] = a16
    s[17] = a17
    s[18] = a18
    s[19] = a19
    s[20] = a20
    s[21] = a21
    s[22] = a22
    s[23] = a23
    s[24] = a24
}
