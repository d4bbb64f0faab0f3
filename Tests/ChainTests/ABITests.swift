import EVM
import PropertyBased
import Testing
import Wire

private func word(_ hexDigits: String) -> String { String(repeating: "0", count: 64 - hexDigits.count) + hexDigits }

/// A random ABI type, nested up to `depth`.
func randomABIType(_ rng: inout SplitMix64, depth: Int) -> ABIType {
    if depth == 0 || Int.random(in: 0..<10, using: &rng) < 6 {
        switch Int.random(in: 0..<7, using: &rng) {
        case 0: return .uint(bits: 8 * Int.random(in: 1...32, using: &rng))
        case 1: return .int(bits: 8 * Int.random(in: 1...32, using: &rng))
        case 2: return .address
        case 3: return .bool
        case 4: return .fixedBytes(Int.random(in: 1...32, using: &rng))
        case 5: return .bytes
        default: return .string
        }
    }
    switch Int.random(in: 0..<3, using: &rng) {
    case 0: return .array(randomABIType(&rng, depth: depth - 1), count: Int.random(in: 1...3, using: &rng))
    case 1: return .dynamicArray(randomABIType(&rng, depth: depth - 1))
    default: return .tuple((0..<Int.random(in: 1...3, using: &rng)).map { _ in randomABIType(&rng, depth: depth - 1) })
    }
}

/// A random value of `type`, covering each type's extremes.
func randomABIValue(_ type: ABIType, _ rng: inout SplitMix64) -> ABIValue {
    switch type {
    case .uint(let bits):
        var b = rng.bytes(bits / 8)
        if Bool.random(using: &rng) { b = b.map { _ in 0xff } }  // the maximum
        return .uint(UInt256(bigEndian: b)!)
    case .int(let bits):
        let b = rng.bytes(bits / 8)
        let fill: UInt8 = b[0] >= 0x80 ? 0xff : 0x00  // sign extension
        return .int(Int256(bitPattern: UInt256(bigEndian: [UInt8](repeating: fill, count: 32 - b.count) + b)!))
    case .address: return .address(try! Address(bytes: rng.bytes(20)))
    case .bool: return .bool(Bool.random(using: &rng))
    case .fixedBytes(let m): return .fixedBytes(rng.bytes(m))
    case .bytes: return .bytes(rng.bytes(Int.random(in: 0...70, using: &rng)))
    case .string:
        let scalars = (0..<Int.random(in: 0...12, using: &rng)).map { _ in
            Unicode.Scalar(UInt32.random(in: 0...0x10FFFF, using: &rng)) ?? "é"
        }
        return .string(String(String.UnicodeScalarView(scalars)))
    case .array(let element, let k): return .array((0..<k).map { _ in randomABIValue(element, &rng) })
    case .dynamicArray(let element):
        return .array((0..<Int.random(in: 0...3, using: &rng)).map { _ in randomABIValue(element, &rng) })
    case .tuple(let types): return .tuple(types.map { randomABIValue($0, &rng) })
    }
}

@Suite("ABI")
struct ABITests {
    // Solidity ABI specification, "Examples": contract Foo.
    @Test func specExampleBaz() throws {
        let baz = try ABIFunction(declaration: "function baz(uint32 x, bool y) public pure returns (bool r)")
        #expect(baz.signature == "baz(uint32,bool)")
        #expect(baz.selector == hex("cdcd77c0"))
        let call = try baz.encodeCall([.uint(69), .bool(true)])
        #expect(call == hex("0xcdcd77c0" + word("45") + word("1")))
        #expect(try baz.decodeCall(call) == [.uint(69), .bool(true)])
        #expect(try baz.decodeOutput(hex(word("0"))) == [.bool(false)])
    }

    @Test func specExampleBar() throws {
        let bar = try ABIFunction(declaration: "bar(bytes3[2])")
        #expect(bar.selector == hex("fce353f6"))
        let call = try bar.encodeCall([.array([.fixedBytes(bytes("abc")), .fixedBytes(bytes("def"))])])
        #expect(
            call
                == hex(
                    "0xfce353f661626300000000000000000000000000000000000000000000000000000000006465660000000000000000000000000000000000000000000000000000000000"
                ))
        #expect(try bar.decodeCall(call) == [.array([.fixedBytes(bytes("abc")), .fixedBytes(bytes("def"))])])
    }

    @Test func specExampleSam() throws {
        let sam = try ABIFunction(declaration: "function sam(bytes memory, bool, uint[] memory) public pure")
        #expect(sam.signature == "sam(bytes,bool,uint256[])")
        let args: [ABIValue] = [.bytes(bytes("dave")), .bool(true), .array([.uint(1), .uint(2), .uint(3)])]
        let call = try sam.encodeCall(args)
        #expect(
            call
                == hex(
                    "0xa5643bf20000000000000000000000000000000000000000000000000000000000000060000000000000000000000000000000000000000000000000000000000000000100000000000000000000000000000000000000000000000000000000000000a0000000000000000000000000000000000000000000000000000000000000000464617665000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000003000000000000000000000000000000000000000000000000000000000000000100000000000000000000000000000000000000000000000000000000000000020000000000000000000000000000000000000000000000000000000000000003"
                ))
        #expect(call.count == 292)
        #expect(try sam.decodeCall(call) == args)
    }

    // "Use of Dynamic Types": f(uint,uint32[],bytes10,bytes).
    @Test func specExampleDynamicF() throws {
        let f = try ABIFunction(declaration: "f(uint,uint32[],bytes10,bytes)")
        #expect(f.signature == "f(uint256,uint32[],bytes10,bytes)")
        let args: [ABIValue] = [
            .uint(0x123), .array([.uint(0x456), .uint(0x789)]), .fixedBytes(bytes("1234567890")),
            .bytes(bytes("Hello, world!")),
        ]
        let expected = hex(
            """
            0x8be65246
            0000000000000000000000000000000000000000000000000000000000000123
            0000000000000000000000000000000000000000000000000000000000000080
            3132333435363738393000000000000000000000000000000000000000000000
            00000000000000000000000000000000000000000000000000000000000000e0
            0000000000000000000000000000000000000000000000000000000000000002
            0000000000000000000000000000000000000000000000000000000000000456
            0000000000000000000000000000000000000000000000000000000000000789
            000000000000000000000000000000000000000000000000000000000000000d
            48656c6c6f2c20776f726c642100000000000000000000000000000000000000
            """)
        #expect(try f.encodeCall(args) == expected)
        #expect(try f.decodeCall(expected) == args)
    }

    // "Use of Dynamic Types": g(uint[][],string[]).
    @Test func specExampleDynamicG() throws {
        let g = try ABIFunction(declaration: "g(uint[][],string[])")
        #expect(g.selector == hex("2289b18c"))
        let args: [ABIValue] = [
            .array([.array([.uint(1), .uint(2)]), .array([.uint(3)])]),
            .array([.string("one"), .string("two"), .string("three")]),
        ]
        let words = [
            "40", "140", "2", "40", "a0", "2", "1", "2", "1", "3", "3", "60", "a0", "e0", "3",
        ].map(word)
        let expected = hex(
            "0x2289b18c" + words.joined() + "6f6e65" + String(repeating: "0", count: 58) + word("3") + "74776f"
                + String(repeating: "0", count: 58) + word("5") + "7468726565" + String(repeating: "0", count: 54))
        #expect(try g.encodeCall(args) == expected)
        #expect(try g.decodeCall(expected) == args)
    }

    // ethereum/tests ABITests/basic_abi_tests.json.
    @Test func ethereumBasicVectors() throws {
        guard case .object(let vectors) = try fixtureJSON("ABITests/basic_abi_tests.json") else {
            throw FixtureError.missing("")
        }
        #expect(vectors.count == 3)
        for (name, vector) in vectors {
            let types = try vector["types"]!.arrayValue!.map { try ABIType(parsing: $0.stringValue!) }
            let values: [ABIValue] = zip(types, vector["args"]!.arrayValue!).map { type, arg in
                func convert(_ type: ABIType, _ arg: JSONValue) -> ABIValue {
                    switch type {
                    case .uint: return .uint(uint256(arg)!)
                    case .address: return .address(address(arg.stringValue!))
                    case .fixedBytes: return .fixedBytes(bytes(arg.stringValue!))
                    case .bytes: return .bytes(bytes(arg.stringValue!))
                    case .dynamicArray(let element): return .array(arg.arrayValue!.map { convert(element, $0) })
                    default: return .bool(false)
                    }
                }
                return convert(type, arg)
            }
            let expected = hex(vector["result"]!.stringValue!)
            #expect(try ABI.encode(values, types: types) == expected, "\(name)")
            #expect(try ABI.decode(expected, types: types) == values, "\(name)")
        }
    }

    @Test func typeParsing() throws {
        let cases: [(String, String)] = [
            ("uint", "uint256"), ("int", "int256"), ("uint8", "uint8"), ("bytes32", "bytes32"), ("bytes", "bytes"),
            ("address payable", "address"), ("string[2][]", "string[2][]"),
            ("(uint256,(bool,bytes)[])[2]", "(uint256,(bool,bytes)[])[2]"),
            ("tuple(address,bool)[]", "(address,bool)[]"),
            ("( uint a , bool b )", "(uint256,bool)"),
        ]
        for (input, canonical) in cases {
            let parsed = try ABIFunction(declaration: "f(\(input))")
            #expect(parsed.inputs[0].type.description == canonical, "\(input)")
        }
        #expect(try ABIType(parsing: "uint256[3]") == .array(.uint256, count: 3))
        #expect(try ABIType(parsing: "(uint256,string)").isDynamic)
        #expect(try !ABIType(parsing: "(uint256,bytes32)[4]").isDynamic)
        #expect(try ABIType(parsing: "(uint256,bytes32)[4]").headSize == 256)
        for bad in [
            "uint7", "uint264", "uint0", "int08", "bytes0", "bytes33", "uint256[0]", "uint256[01]", "fixed",
            "ufixed128x18",
            "(uint256", "uint256[", "uint256]", "", "function", "uint256[99999999999]", "uint256[1000000][1000000]",
            String(repeating: "(", count: 40) + "bool" + String(repeating: ")", count: 40),
        ] {
            #expect(throws: ABIError.self, "\(bad)") { try ABIType(parsing: bad) }
        }
        #expect(throws: ABIError.self) { try ABIFunction(declaration: "f(uint256) returns (bool) garbage") }
        #expect(throws: ABIError.self) { try ABIFunction(declaration: "f(uint256 indexed a)") }
        #expect(throws: ABIError.self) { try ABIEvent(declaration: "E(uint a indexed, uint b)") }
        #expect(throws: ABIError.self) {
            try ABIEvent(declaration: "E(uint indexed a, uint indexed b, uint indexed c, uint indexed d)")
        }
        #expect(
            try ABIEvent(declaration: "E(uint indexed a, uint indexed b, uint indexed c, uint indexed d) anonymous")
                .anonymous)
    }

    @Test func encodingRejectsValuesOutsideTheirTypes() throws {
        let cases: [(ABIValue, ABIType)] = [
            (.uint(256), .uint(bits: 8)), (.int(128), .int(bits: 8)), (.int(-129), .int(bits: 8)),
            (.fixedBytes([1, 2]), .fixedBytes(3)), (.array([.uint(1)]), .array(.uint256, count: 2)),
            (.bool(true), .uint256), (.tuple([.uint(1)]), .tuple([.uint256, .bool])), (.string("x"), .bytes),
        ]
        for (value, type) in cases {
            #expect(throws: ABIError.self, "\(value) as \(type)") { try ABI.encode(value, type: type) }
        }
        #expect(throws: ABIError.typeMismatch(path: "[1][0]", type: "uint256")) {
            try ABI.encode([.uint(1), .array([.bool(true)])], types: [.uint256, .dynamicArray(.uint256)])
        }
        #expect(throws: ABIError.wrongValueCount(expected: 2, got: 1)) {
            try ABI.encode([.uint(1)], types: [.uint256, .uint256])
        }
        // The extremes of int8 and uint8 fit.
        #expect(throws: Never.self) {
            try ABI.encode([.int(-128), .int(127), .uint(255)], types: [.int(bits: 8), .int(bits: 8), .uint(bits: 8)])
        }
        #expect(try ABI.encode(.int(-1), type: .int(bits: 16)) == [UInt8](repeating: 0xff, count: 32))
    }

    /// Decoding hostile data: every bad offset, length, padding or high bit is named.
    @Test func decodingRejectsHostileData() {
        let w = { (h: String) in word(h) }
        let cases: [(String, [ABIType], ABIError)] = [
            (w("1"), [.uint256, .uint256], .truncated(offset: 32)),
            (w("100"), [.uint(bits: 8)], .nonCanonical(offset: 0, type: "uint8")),
            (String(repeating: "f", count: 62) + "7f", [.int(bits: 8)], .nonCanonical(offset: 0, type: "int8")),
            (w("ff"), [.int(bits: 8)], .nonCanonical(offset: 0, type: "int8")),
            (w("2"), [.bool], .nonCanonical(offset: 0, type: "bool")),
            (
                "01" + String(repeating: "0", count: 22) + String(repeating: "1", count: 40), [.address],
                .nonCanonical(offset: 0, type: "address")
            ),
            (
                "6162630100000000000000000000000000000000000000000000000000000000", [.fixedBytes(3)],
                .nonCanonical(offset: 0, type: "bytes3")
            ),
            (
                w("20") + w("3") + "6162630000000000000000000000000000000000000000000000000000000001", [.bytes],
                .nonCanonical(offset: 32, type: "bytes")
            ),
            (w("20") + w("2") + "c328" + String(repeating: "0", count: 60), [.string], .invalidUTF8(offset: 32)),
            (w("40"), [.bytes], .offsetOutOfBounds(offset: 0)),
            (w("20") + w("21") + w("0"), [.bytes], .offsetOutOfBounds(offset: 32)),
            (String(repeating: "f", count: 64), [.bytes], .offsetOutOfBounds(offset: 0)),
            (w("20") + String(repeating: "f", count: 64), [.dynamicArray(.uint256)], .offsetOutOfBounds(offset: 32)),
            (w("20") + w("3") + w("1") + w("2"), [.dynamicArray(.uint256)], .offsetOutOfBounds(offset: 64)),
            (w("20") + w("2"), [.string], .offsetOutOfBounds(offset: 32)),
        ]
        for (data, types, error) in cases {
            #expect(throws: error, "\(types)") { try ABI.decode(hex(data), types: types) }
        }
    }

    /// Offsets that all point at the same inner array would turn 6 KB into 10^6 values: refused.
    @Test func decodingRefusesAmplification() {
        let n = 100, m = 100
        var words = [word("20"), word(String(n, radix: 16))]
        words += Array(repeating: word(String(32 * n, radix: 16)), count: n)  // every element → the same array
        words += [word(String(m, radix: 16))] + Array(repeating: word("7"), count: m)
        let data = hex(words.joined())
        #expect(throws: ABIError.tooManyValues) {
            try ABI.decode(data, types: [.dynamicArray(.dynamicArray(.uint256))])
        }
        // The same bytes shared by many `bytes` values are refused as well.
        var shared = [word("20"), word(String(n, radix: 16))]
        shared += Array(repeating: word(String(32 * n, radix: 16)), count: n)
        shared += [word("400")] + Array(repeating: word("61"), count: 32)
        #expect(throws: ABIError.tooManyValues) { try ABI.decode(hex(shared.joined()), types: [.dynamicArray(.bytes)]) }
    }

    // keccak("Transfer(address,address,uint256)") is the ERC-20 Transfer topic.
    @Test func eventsAndTopics() throws {
        let transfer = try ABIEvent(
            declaration: "event Transfer(address indexed from, address indexed to, uint256 value)")
        #expect(transfer.topic0 == hash32("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"))
        let from = address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
        let to = address("0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359")
        let (topics, data) = try transfer.encodeLog([.address(from), .address(to), .uint(1000)])
        #expect(topics.count == 3)
        #expect(topics[1].bytes == [UInt8](repeating: 0, count: 12) + from.bytes)
        #expect(data == hex(word("3e8")))
        #expect(
            try transfer.decodeLog(topics: topics, data: data) == [
                .value(.address(from)), .value(.address(to)), .value(.uint(1000)),
            ])
        #expect(throws: ABIError.wrongTopicCount(expected: 3, got: 2)) {
            try transfer.decodeLog(topics: Array(topics.prefix(2)), data: data)
        }
        #expect(throws: ABIError.selectorMismatch) {
            try transfer.decodeLog(topics: [.zero] + topics.dropFirst(), data: data)
        }

        // Indexed dynamic values are keccak of the in-place encoding (spec, "Encoding of Indexed
        // Event Parameters"): bytes/string as is at the top, padded inside arrays and structs.
        let e = try ABIEvent(
            declaration: "E(string indexed s, uint8[] indexed a, (bytes,bool) indexed t, int8 indexed i) anonymous")
        let values: [ABIValue] = [
            .string("hello"), .array([.uint(1), .uint(2)]), .tuple([.bytes(bytes("ab")), .bool(true)]), .int(-1),
        ]
        let log = try e.encodeLog(values)
        #expect(log.topics[0] == Hash32.keccak(bytes("hello")))
        #expect(log.topics[1] == Hash32.keccak(hex(word("1") + word("2"))))
        #expect(log.topics[2] == Hash32.keccak(hex("6162" + String(repeating: "0", count: 60) + word("1"))))
        #expect(log.topics[3].bytes == [UInt8](repeating: 0xff, count: 32))
        #expect(log.data.isEmpty)
        #expect(
            try e.decodeLog(topics: log.topics, data: log.data) == [
                .hashed(log.topics[0]), .hashed(log.topics[1]), .hashed(log.topics[2]), .value(.int(-1)),
            ])
        // A dirty indexed word is not canonical.
        var dirty = log.topics
        dirty[3] = hash32("0x" + word("80"))
        #expect(throws: ABIError.nonCanonical(offset: 0, type: "int8")) { try e.decodeLog(topics: dirty, data: []) }
    }

    @Test func revertReason() throws {
        let data = try ABIFunction(name: "Error", inputs: [.string]).encodeCall([.string("fee too low")])
        #expect(data.prefix(4) == [0x08, 0xc3, 0x79, 0xa0])
        #expect(ABI.decodeRevertReason(data) == "fee too low")
        #expect(ABI.decodeRevertReason(hex("4e487b71" + word("11"))) == nil)  // Panic(uint256)
        #expect(ABI.decodeRevertReason([]) == nil)
    }

    // decode(encode(v)) == v and encode(decode(x)) == x for random types and values; every strict
    // prefix is rejected; a random mutation never breaks anything (it throws or decodes to a value
    // that re-encodes and decodes to itself).
    @Test func roundTripProperties() async {
        await propertyCheck(count: 400, input: Gen.uint64(), Gen.int(in: 0...100_000), Gen.uint8()) {
            seed, position, byte in
            var rng = SplitMix64(seed: seed)
            let types = (0..<Int.random(in: 1...4, using: &rng)).map { _ in randomABIType(&rng, depth: 3) }
            let values = types.map { randomABIValue($0, &rng) }
            guard let encoded = try? ABI.encode(values, types: types) else {
                Issue.record("encode failed for \(types)")
                return
            }
            #expect(encoded.count % 32 == 0)
            #expect((try? ABI.decode(encoded, types: types)) == values, "\(types)")
            let cut = position % encoded.count
            #expect(throws: ABIError.self, "\(types) truncated at \(cut)") {
                try ABI.decode(Array(encoded[..<cut]), types: types)
            }
            var mutated = encoded
            mutated[cut] = byte
            if let decoded = try? ABI.decode(mutated, types: types) {
                let again = try? ABI.encode(decoded, types: types)
                #expect(again.flatMap { try? ABI.decode($0, types: types) } == decoded)
            }
        }
    }
}
