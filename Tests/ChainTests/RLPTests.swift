import EVM
import PropertyBased
import Testing
import Wire

/// The "in" notation of ethereum/tests RLPTests: strings are bytes (a `#` prefix marks a decimal
/// big integer, `0x` hex bytes), numbers are integers, arrays are lists.
private func item(fromVector value: JSONValue) throws -> RLPItem {
    switch value {
    case .string(let s) where s.hasPrefix("#"): return .bytes(decimalToBytes(String(s.dropFirst())))
    case .string(let s) where s.hasPrefix("0x"): return .bytes(hex(s))
    case .string(let s): return .bytes(Array(s.utf8))
    case .number(let n): return .bytes(decimalToBytes(n))
    case .array(let items): return .list(try items.map(item(fromVector:)))
    default: throw FixtureError.missing("unsupported vector input \(value)")
    }
}

/// A random item tree: byte strings of every length class (empty, single byte, short, long),
/// lists nested up to `depth`.
func randomItem(_ rng: inout SplitMix64, depth: Int) -> RLPItem {
    if depth == 0 || Int.random(in: 0..<10, using: &rng) < 5 {
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: return .bytes([])
        case 1: return .bytes([UInt8.random(in: 0...0x7f, using: &rng)])
        case 2: return .bytes([UInt8.random(in: 0x80...0xff, using: &rng)])
        case 3: return .bytes(rng.bytes(Int.random(in: 2...55, using: &rng)))
        default: return .bytes(rng.bytes(Int.random(in: 56...300, using: &rng)))
        }
    }
    return .list((0..<Int.random(in: 0...6, using: &rng)).map { _ in randomItem(&rng, depth: depth - 1) })
}

@Suite("RLP")
struct RLPTests {
    // ethereum/tests RLPTests/rlptest.json: every vector encodes to `out` and decodes back.
    @Test func ethereumValidVectors() throws {
        guard case .object(let vectors) = try fixtureJSON("RLPTests/rlptest.json") else {
            throw FixtureError.missing("")
        }
        #expect(vectors.count == 28)
        for (name, vector) in vectors {
            let expected = hex(vector["out"]!.stringValue!)
            let value = try item(fromVector: vector["in"]!)
            #expect(RLP.encode(value) == expected, "encode \(name)")
            #expect(try RLP.decode(expected) == value, "decode \(name)")
        }
    }

    // ethereum/tests RLPTests/invalidRLPTest.json: every vector is rejected.
    @Test func ethereumInvalidVectors() throws {
        guard case .object(let vectors) = try fixtureJSON("RLPTests/invalidRLPTest.json") else {
            throw FixtureError.missing("")
        }
        #expect(vectors.count == 26)
        for (name, vector) in vectors {
            let input = hex(vector["out"]!.stringValue!)
            #expect(throws: RLPError.self, "\(name) must be rejected") { try RLP.decode(input) }
        }
    }

    @Test func invalidVectorsFailForTheRightReason() throws {
        let cases: [(String, RLPError)] = [
            ("", .empty),
            ("8100", .nonCanonicalSingleByte(offset: 0)),
            ("817f", .nonCanonicalSingleByte(offset: 0)),
            ("b800", .leadingZeroInLength(offset: 0)),
            ("f800", .leadingZeroInLength(offset: 0)),
            ("b81000112233445566778899aabbccddeeff", .nonCanonicalLength(offset: 0)),
            ("f803112233", .nonCanonicalLength(offset: 0)),
            ("81", .truncated(offset: 0)),
            ("c5010203", .truncated(offset: 0)),
            ("bf0f000000000000021111", .truncated(offset: 0)),  // int32Overflow: length 2^60
            ("ffffffffffffffffff0001020304050607", .truncated(offset: 0)),  // length 2^64 − 1
            ("f80180", .nonCanonicalLength(offset: 0)),
            ("83646f6700", .trailingBytes(count: 1)),
            ("c0c0", .trailingBytes(count: 1)),
            ("c283646f67", .truncated(offset: 1)),  // the child overruns its list
            ("b8", .truncated(offset: 0)),
            ("c28100", .nonCanonicalSingleByte(offset: 1)),  // nested
        ]
        for (input, error) in cases {
            #expect(throws: error, "\(input)") { try RLP.decode(hex(input)) }
        }
    }

    @Test func lengthBoundaries() throws {
        func header(_ n: Int) -> [UInt8] { Array(RLP.encode(.bytes([UInt8](repeating: 0x61, count: n))).prefix(3)) }
        #expect(header(55)[0] == 0xb7)
        #expect(Array(header(56).prefix(2)) == [0xb8, 56])
        #expect(Array(header(255).prefix(2)) == [0xb8, 0xff])
        #expect(header(256) == [0xb9, 0x01, 0x00])
        #expect(RLP.encode(.bytes([0x80])) == [0x81, 0x80])
        #expect(RLP.encode(.uint(0)) == [0x80])
        #expect(RLP.encode(.uint(UInt64(1024))) == [0x82, 0x04, 0x00])
        let long = [UInt8](repeating: 7, count: 70_000)
        #expect(try RLP.decode(RLP.encode(.list([.bytes(long)]))) == .list([.bytes(long)]))
    }

    @Test func depthAndSizeLimits() throws {
        var nested = RLPItem.list([])
        for _ in 0..<100 { nested = .list([nested]) }
        let encoded = RLP.encode(nested)
        #expect(throws: RLPError.tooDeep(limit: 64)) { try RLP.decode(encoded) }
        #expect(try RLP.decode(encoded, limits: RLPLimits(maxDepth: 101)) == nested)
        #expect(throws: RLPError.inputTooLarge(limit: 10)) {
            try RLP.decode(RLP.encode(.bytes([UInt8](repeating: 1, count: 20))), limits: RLPLimits(maxInputBytes: 10))
        }
    }

    @Test func typedReads() throws {
        #expect(try RLPItem.bytes([]).asUInt64() == 0)
        #expect(try RLPItem.bytes([0x01, 0x00]).asUInt64() == 256)
        #expect(throws: RLPError.integerLeadingZero) { try RLPItem.bytes([0x00]).asUInt64() }
        #expect(throws: RLPError.integerLeadingZero) { try RLPItem.bytes([0x00, 0x01]).asUInt256() }
        #expect(throws: RLPError.integerTooLarge(maxBytes: 8)) {
            try RLPItem.bytes([1] + [UInt8](repeating: 0, count: 8)).asUInt64()
        }
        #expect(throws: RLPError.integerTooLarge(maxBytes: 32)) {
            try RLPItem.bytes([UInt8](repeating: 1, count: 33)).asUInt256()
        }
        #expect(throws: RLPError.expectedBytes) { try RLPItem.list([]).asBytes() }
        #expect(throws: RLPError.expectedList) { try RLPItem.bytes([]).asList() }
        #expect(throws: RLPError.wrongListLength(expected: 2, got: 1)) {
            try RLPItem.list([.bytes([])]).asList(count: 2)
        }
        #expect(try RLPItem.uint(UInt256.max).asUInt256() == .max)
    }

    // decode(encode(x)) == x; every strict prefix and every extension is rejected; any accepted
    // mutation re-encodes to itself (canonical: one encoding per value).
    @Test func roundTripAndCanonicality() async {
        await propertyCheck(count: 300, input: Gen.uint64(), Gen.int(in: 0...100_000), Gen.uint8()) {
            seed, position, byte in
            var rng = SplitMix64(seed: seed)
            let value = randomItem(&rng, depth: 4)
            let encoded = RLP.encode(value)
            #expect((try? RLP.decode(encoded)) == value)
            let cut = position % encoded.count
            #expect(throws: RLPError.self) { try RLP.decode(Array(encoded[..<cut])) }
            #expect(throws: RLPError.trailingBytes(count: 1)) { try RLP.decode(encoded + [byte]) }
            var mutated = encoded
            mutated[cut] = byte
            if let decoded = try? RLP.decode(mutated) {
                #expect(RLP.encode(decoded) == mutated)
            }
        }
    }
}
