import CryptoPrimitives
import MPCMath
import Wire

/// Keygen pre-params in a form that can be stored (sealed) and restored exactly: the safe primes
/// p, q of N = Ñ and a 32-byte seed from which s, t and λ are drawn (CGGMP21 Fig. 6: τ ← Z*_Ñ,
/// t = τ², λ ← Z_φ(Ñ), s = t^λ), so a restart hands keygen the very parameters that were made.
///
/// Why a seed and not λ itself: `RingPedersenSecret` (MPCMath) can only be built by drawing τ and λ
/// from a `RandomSource`; drawing them from a seeded generator makes them reproducible without a new
/// initializer there. The seed is as secret as λ (it determines it) and is stored only sealed.
/// s and t are stored too and re-checked on decoding, so a changed derivation (e.g. MPCMath drawing
/// τ and λ differently) is caught: such items are refused, and the pool discards and remakes them.
///
/// Encoding (version 1): u8 version ‖ bytes p ‖ bytes q ‖ 32-byte seed ‖ integer N ‖ integer s ‖
/// integer t. Holds secrets: seal it (`TSSStore`). Prints `<redacted>`.
public struct StoredPreParams: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public static let version: UInt8 = 1
    public static let seedByteCount = 32

    public let preParams: KeygenPreParams
    private let seed: SecretBytes

    /// Pre-params on N = pq for safe primes p, q (not re-checked: they come from the generator or
    /// from an authenticated record), with s, t, λ drawn from `seed`.
    public init(p: BigNum, q: BigNum, seed: SecretBytes) throws {
        guard seed.count == Self.seedByteCount else {
            throw MPCMathError.invalidParameter("pre-params seed must be \(Self.seedByteCount) bytes")
        }
        var rng = SeedStream(seed: seed)
        preParams = try KeygenPreParams.make(p: p.withSecrecy(true), q: q.withSecrecy(true), using: &rng)
        self.seed = seed
    }

    public func encode() -> [UInt8] {
        var w = WireWriter()
        w.writeUInt8(Self.version)
        let (p, q) = preParams.paillier.primes
        var pBytes = p.magnitudeBytes()
        var qBytes = q.magnitudeBytes()
        defer {
            secureZero(&pBytes)
            secureZero(&qBytes)
        }
        w.writeBytes(pBytes)
        w.writeBytes(qBytes)
        seed.withUnsafeBytes { w.writeFixedBytes($0) }
        let rp = preParams.ringPedersen.parameters
        w.writeInteger(rp.n)
        w.writeInteger(rp.s)
        w.writeInteger(rp.t)
        return w.take()
    }

    /// Decodes and rebuilds; refuses anything whose N, s or t differs from what p, q and the seed
    /// give.
    public init(decoding bytes: [UInt8]) throws {
        var r = WireReader(bytes)
        guard try r.readUInt8() == Self.version else { throw WireError.invalidValue("pre-params version") }
        let maxPrimeBytes = PaillierPublicKey.maximumModulusBits / 16
        var pBytes = try r.readBytes(maxLength: maxPrimeBytes)
        var qBytes = try r.readBytes(maxLength: maxPrimeBytes)
        var seedBytes = try r.readFixedBytes(count: Self.seedByteCount)
        defer {
            secureZero(&pBytes)
            secureZero(&qBytes)
            secureZero(&seedBytes)
        }
        let bits = PaillierPublicKey.maximumModulusBits
        let n = try r.readInteger(maxBits: bits)
        let s = try r.readInteger(maxBits: bits)
        let t = try r.readInteger(maxBits: bits)
        try r.finish()
        guard pBytes.first != 0, qBytes.first != 0 else { throw WireError.invalidValue("prime with a leading zero") }
        try self.init(
            p: BigNum(bytes: pBytes, secret: true), q: BigNum(bytes: qBytes, secret: true),
            seed: SecretBytes(zeroing: &seedBytes))
        let rp = preParams.ringPedersen.parameters
        guard rp.n == n, preParams.paillier.publicKey.n == n, rp.s == s, rp.t == t else {
            throw MPCMathError.invalidParameter("stored pre-params do not match their primes and seed")
        }
    }

    public var description: String {
        "StoredPreParams(N \(preParams.paillier.publicKey.n.bitLength) bits, secrets <redacted>)"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// SHA-256 in counter mode over a secret seed: block_i = SHA-256("vn/tss/preparams-seed/v1" ‖ seed
/// ‖ u64 i). The ring-Pedersen draws only need unpredictability to anyone without the seed.
private struct SeedStream: RandomSource {
    private let seed: SecretBytes
    private var counter: UInt64 = 0
    private var buffer: [UInt8] = []

    init(seed: SecretBytes) { self.seed = seed }

    mutating func fill(_ out: UnsafeMutableRawBufferPointer) {
        var offset = 0
        while offset < out.count {
            if buffer.isEmpty {
                var input = Array("vn/tss/preparams-seed/v1".utf8) + seed.copyBytes()
                input += (0..<8).map { UInt8(truncatingIfNeeded: counter >> (8 * UInt64(7 - $0))) }
                buffer = SHA256.hash(input)
                secureZero(&input)
                counter += 1
            }
            let n = min(buffer.count, out.count - offset)
            for i in 0..<n { out[offset + i] = buffer[i] }
            buffer.removeFirst(n)
            offset += n
        }
        secureZero(&buffer)
        buffer = []
    }
}
