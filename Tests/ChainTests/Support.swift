import EVM
import Foundation
import Wire

/// The bytes of `Fixtures/<path>`.
func fixtureBytes(_ path: String) throws -> [UInt8] {
    guard let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
        throw FixtureError.missing("Fixtures")
    }
    return Array(try Data(contentsOf: dir.appendingPathComponent(path)))
}

/// `Fixtures/<path>` parsed with the module's own strict JSON parser.
func fixtureJSON(_ path: String) throws -> JSONValue {
    try JSONValue.parse(fixtureBytes(path))
}

enum FixtureError: Error { case missing(String) }

/// Hex (with or without 0x, whitespace ignored) to bytes; test literals only.
func hex(_ text: String) -> [UInt8] { try! Hex.decode(text.filter { !$0.isWhitespace }) }

func address(_ text: String) -> Address { try! Address(hex: text) }

func hash32(_ text: String) -> Hash32 { try! Hash32(hex: text) }

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A JSON number or decimal string from a fixture as a UInt256.
func uint256(_ value: JSONValue?) -> UInt256? {
    switch value {
    case .number(let n)?: UInt256(decimal: n)
    case .string(let s)? where s.hasPrefix("0x"): try? EVMHex.uint256(s)
    case .string(let s)?: UInt256(decimal: s)
    default: nil
    }
}

/// SplitMix64: deterministic randomness for building recursive test values from a seed that
/// the property checker generates (and prints when a check fails).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) } }
}

/// A decimal string of any size to minimal big-endian bytes.
func decimalToBytes(_ text: String) -> [UInt8] {
    var out: [UInt8] = []  // big-endian
    for c in text.utf8 {
        var carry = Int(c - UInt8(ascii: "0"))
        for i in stride(from: out.count - 1, through: 0, by: -1) {
            let v = Int(out[i]) * 10 + carry
            out[i] = UInt8(v & 0xff)
            carry = v >> 8
        }
        while carry > 0 {
            out.insert(UInt8(carry & 0xff), at: 0)
            carry >>= 8
        }
    }
    return Array(out.drop { $0 == 0 })
}
