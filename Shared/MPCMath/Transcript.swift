import CryptoPrimitives
import Secp256k1

/// A Fiat–Shamir transcript: a SHA-256 hash chain over typed, length-prefixed items, bound at
/// creation to a protocol tag, a session id and the prover's party index.
///
/// Encoding (all lengths big-endian):
///
///     state₀   = SHA-256( u32 len ‖ "vn/fiat-shamir/v1" ‖ u32 len ‖ tag ‖ u32 len ‖ sid ‖ u32 party )
///     absorb:    stateᵢ₊₁ = SHA-256( stateᵢ ‖ kind ‖ u32 len ‖ label ‖ u64 len ‖ data )
///     challenge: absorb(kind 0x10, label, u64 index ‖ request), then the output stream
///                blockⱼ = SHA-256( state ‖ 0xFF ‖ u64 j ), j = 0, 1, …  (counter mode)
///
/// Every item is a fixed-width kind byte, a length-prefixed label and length-prefixed data, and
/// the chaining value has a fixed width, so distinct sequences of items never hash from the same
/// input: splitting the same bytes differently, moving bytes between label and data, or passing an
/// integer where bytes were expected all change the challenge (the "ambiguous encoding" flaw
/// TSSHOCK exploited in tss-lib, whose hash joined items with a separator, cannot happen). Integers
/// are absorbed as sign ‖ minimal magnitude, so equal integers always encode alike. The kind 0xFF
/// is used only for output blocks, never for an absorbed item.
///
/// Challenges are sampled by rejection from the output stream, so they are uniform in their range
/// (`challengeScalar` in Z_q, `challenge(below:)` in [0, bound), `challenge(bits:)`,
/// `challengeSigned` in [−bound, bound]). Each challenge is absorbed before it is drawn, so two
/// challenges never repeat. A value type: copy it to fork a transcript.
public struct Transcript: Sendable {
    private var state: [UInt8]
    private var challengeCount: UInt64 = 0

    /// The item kinds (the first byte of every absorbed item).
    enum Kind: UInt8 {
        case bytes = 0x01
        case integer = 0x02
        case scalar = 0x03
        case point = 0x04
        case uint64 = 0x05
        case integerList = 0x06
        case challenge = 0x10
    }

    static let domain = "vn/fiat-shamir/v1"
    static let outputKind: UInt8 = 0xFF

    public init(protocolTag: String, sessionID: [UInt8], partyIndex: UInt32) {
        var header: [UInt8] = []
        for field in [Array(Self.domain.utf8), Array(protocolTag.utf8), sessionID] {
            header += bigEndian32(field.count) + field
        }
        header += bigEndian32(Int(partyIndex))
        state = SHA256.hash(header)
    }

    // MARK: Absorbing

    public mutating func append(_ label: String, bytes: [UInt8]) {
        absorb(.bytes, label, bytes)
    }

    /// A signed integer: sign byte (0 non-negative, 1 negative) ‖ minimal big-endian magnitude.
    public mutating func append(_ label: String, integer: BigNum) {
        absorb(.integer, label, Self.encode(integer))
    }

    /// A list of integers: u32 count, then each as u64 length ‖ encoding.
    public mutating func append(_ label: String, integers: [BigNum]) {
        var data = bigEndian32(integers.count)
        for x in integers {
            let encoded = Self.encode(x)
            data += bigEndian64(encoded.count) + encoded
        }
        absorb(.integerList, label, data)
    }

    public mutating func append(_ label: String, scalar: Scalar) {
        absorb(.scalar, label, scalar.bytes)
    }

    /// A group element in its 33-byte encoding (infinity included).
    public mutating func append(_ label: String, point: Point) {
        absorb(.point, label, point.encoded)
    }

    public mutating func append(_ label: String, uint64: UInt64) {
        absorb(.uint64, label, bigEndian64(uint64))
    }

    // MARK: Challenges

    /// A uniform scalar in Z_q (32-byte blocks of the stream, rejected while ≥ q).
    public mutating func challengeScalar(_ label: String) -> Scalar {
        var stream = beginChallenge(label, request: [0x01])
        while true {
            if let scalar = try? Scalar(bytes: stream.next(32)) { return scalar }
        }
    }

    /// A uniform integer in [0, bound), bound > 0.
    public mutating func challenge(_ label: String, below bound: BigNum) throws -> BigNum {
        guard !bound.isNegative, !bound.isZero, bound.bitLength <= BigNum.maxBits else {
            throw MPCMathError.invalidParameter("challenge bound must be positive")
        }
        var stream = beginChallenge(label, request: [0x02] + Self.encode(bound))
        return Self.sample(below: bound, from: &stream)
    }

    /// A uniform integer in [0, 2^bits).
    public mutating func challenge(_ label: String, bits: Int) throws -> BigNum {
        guard (1...BigNum.maxBits).contains(bits) else { throw MPCMathError.invalidParameter("challenge size") }
        var stream = beginChallenge(label, request: [0x03] + bigEndian64(bits))
        return Self.take(bits: bits, from: &stream)
    }

    /// A uniform integer in [−bound, bound] (the e ∈ ±q of CGGMP21's proofs), bound > 0.
    public mutating func challengeSigned(_ label: String, magnitudeAtMost bound: BigNum) throws -> BigNum {
        guard !bound.isNegative, !bound.isZero, bound.bitLength < BigNum.maxBits else {
            throw MPCMathError.invalidParameter("challenge bound must be positive")
        }
        var stream = beginChallenge(label, request: [0x04] + Self.encode(bound))
        let width = try bound.shiftedLeft(by: 1) + .one
        return Self.sample(below: width, from: &stream) - bound
    }

    /// `count` uniform bytes (e.g. the bits of a binary-challenge proof).
    public mutating func challengeBytes(_ label: String, count: Int) throws -> [UInt8] {
        guard (1...(1 << 20)).contains(count) else { throw MPCMathError.invalidParameter("challenge size") }
        var stream = beginChallenge(label, request: [0x05] + bigEndian64(count))
        return stream.next(count)
    }

    /// Several uniform integers in [0, bound) from one challenge (Π^mod's y₁…y_m ∈ Z_N).
    public mutating func challenges(_ label: String, count: Int, below bound: BigNum) throws -> [BigNum] {
        guard (1...4096).contains(count) else { throw MPCMathError.invalidParameter("challenge count") }
        guard !bound.isNegative, !bound.isZero, bound.bitLength <= BigNum.maxBits else {
            throw MPCMathError.invalidParameter("challenge bound must be positive")
        }
        var stream = beginChallenge(label, request: [0x06] + bigEndian64(count) + Self.encode(bound))
        return (0..<count).map { _ in Self.sample(below: bound, from: &stream) }
    }

    // MARK: Internals

    private mutating func absorb(_ kind: Kind, _ label: String, _ data: [UInt8]) {
        let labelBytes = Array(label.utf8)
        var input = state
        input.reserveCapacity(state.count + 13 + labelBytes.count + data.count)
        input.append(kind.rawValue)
        input += bigEndian32(labelBytes.count) + labelBytes
        input += bigEndian64(data.count) + data
        state = SHA256.hash(input)
    }

    /// Absorbs the challenge request (label, running index, kind and range), then hands out the
    /// output stream keyed by the new state.
    private mutating func beginChallenge(_ label: String, request: [UInt8]) -> OutputStream {
        absorb(.challenge, label, bigEndian64(challengeCount) + request)
        challengeCount += 1
        return OutputStream(key: state)
    }

    struct OutputStream {
        let key: [UInt8]
        var counter: UInt64 = 0
        var buffer: [UInt8] = []

        init(key: [UInt8]) { self.key = key }

        mutating func next(_ count: Int) -> [UInt8] {
            while buffer.count < count {
                buffer += SHA256.hash(key + [Transcript.outputKind] + bigEndian64(counter))
                counter += 1
            }
            let out = Array(buffer.prefix(count))
            buffer.removeFirst(count)
            return out
        }
    }

    static func take(bits: Int, from stream: inout OutputStream) -> BigNum {
        var bytes = stream.next((bits + 7) / 8)
        if bits % 8 != 0 { bytes[0] &= UInt8((1 << (bits % 8)) - 1) }
        return BigNum(bytes: bytes)
    }

    static func sample(below bound: BigNum, from stream: inout OutputStream) -> BigNum {
        while true {
            let candidate = take(bits: bound.bitLength, from: &stream)
            if candidate < bound { return candidate }
        }
    }

    static func encode(_ x: BigNum) -> [UInt8] {
        [x.isNegative ? 1 : 0] + x.magnitudeBytes()
    }
}

private func bigEndian32(_ value: Int) -> [UInt8] {
    // Lengths above 4 GiB cannot occur (labels are constants, ids are short); refuse rather than wrap.
    precondition(value >= 0 && value <= Int(UInt32.max), "transcript field too long")
    let v = UInt32(value)
    return (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32(3 - $0))) }
}

private func bigEndian64(_ value: Int) -> [UInt8] { bigEndian64(UInt64(value)) }

private func bigEndian64(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(7 - $0))) }
}
