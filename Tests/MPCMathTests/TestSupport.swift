import CryptoPrimitives
import Foundation
import MPCMath
import Secp256k1

/// A deterministic `RandomSource` for tests and simulations: SHA-256 in counter mode over a seed,
/// block_i = SHA-256("vn/test-drbg/v1" ‖ seed ‖ u64 i). Not for production randomness.
struct SeededRandom: RandomSource {
    private let seed: [UInt8]
    private var counter: UInt64 = 0
    private var buffer: [UInt8] = []

    init(seed: [UInt8]) { self.seed = SHA256.hash(Array("vn/test-drbg/v1".utf8) + seed) }
    init(seed: String) { self.init(seed: Array(seed.utf8)) }

    mutating func fill(_ out: UnsafeMutableRawBufferPointer) {
        while buffer.count < out.count {
            buffer += SHA256.hash(seed + (0..<8).map { UInt8(truncatingIfNeeded: counter >> (8 * UInt64(7 - $0))) })
            counter += 1
        }
        for i in 0..<out.count { out[i] = buffer[i] }
        buffer.removeFirst(out.count)
    }
}

/// Hex helpers for test vectors (whitespace ignored).
func hex(_ string: String) -> [UInt8] {
    let digits = Array(string.filter { !$0.isWhitespace }.utf8)
    precondition(digits.count % 2 == 0, "odd hex length")
    func nibble(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: preconditionFailure("bad hex digit")
        }
    }
    return stride(from: 0, to: digits.count, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
}

func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// A big integer from hex digits (whitespace ignored); traps on bad input (test vectors only).
func big(_ hexDigits: String) -> BigNum {
    try! BigNum(hex: hexDigits.filter { !$0.isWhitespace })
}

/// Wall-clock seconds for `body` (measurements only).
func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}
