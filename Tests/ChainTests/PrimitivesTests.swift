import EVM
import PropertyBased
import Secp256k1
import Testing
import Wire

@Suite("Addresses, integers, hex, JSON")
struct PrimitivesTests {
    // EIP-55 "Test Cases" (all caps, all lower, normal).
    static let eip55 = [
        "0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ]

    @Test func eip55Examples() throws {
        for text in Self.eip55 {
            let a = try Address(eip55: text)
            #expect(a.checksummed == text)
            #expect(try Address(eip55: text.lowercased()) == a)
            #expect(a.description == text.lowercased())
        }
        // One flipped letter case breaks the checksum.
        #expect(throws: EVMError.self) { try Address(eip55: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD") }
        for bad in ["0x123", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x" + String(repeating: "g", count: 40), ""] {
            #expect(throws: EVMError.self) { try Address(eip55: bad) }
        }
    }

    @Test func addressesFromKeysAndCreation() throws {
        // EIP-155's example key 0x4646…46.
        #expect(Address(publicKey: key46.publicKey).checksummed == "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F")
        // CREATE addresses (keccak(rlp([sender, nonce]))[12...]): the well-known pair for
        // sender 0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0.
        let sender = address("0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0")
        #expect(
            Address.contractAddress(sender: sender, nonce: 0) == address("0xcd234a471b72ba2f1ccf0a70fcaba648a5eecd8d"))
        #expect(
            Address.contractAddress(sender: sender, nonce: 1) == address("0x343c43a37d37dff08ae8c4a11544c718abb4fcf8"))
        // The dev chain's first deployment (Hardhat account 0, nonce 0).
        #expect(
            Address.contractAddress(sender: address("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"), nonce: 0)
                == address("0x5fbdb2315678afecb367f032d93f642f64180aa3"))
    }

    @Test func uint256Arithmetic() {
        let max = UInt256.max
        #expect(max.description == "115792089237316195423570985008687907853269984665640564039457584007913129639935")
        #expect(UInt256(decimal: max.description) == max)
        #expect(
            UInt256(decimal: "115792089237316195423570985008687907853269984665640564039457584007913129639936") == nil)
        #expect(UInt256(decimal: "") == nil && UInt256(decimal: "-1") == nil && UInt256(decimal: "1a") == nil)
        #expect(max.addingReportingOverflow(1) == (UInt256.zero, true))
        #expect(UInt256.zero.subtractingReportingOverflow(1) == (max, true))
        #expect(max.multipliedReportingOverflow(by: 2).overflow)
        #expect(UInt256.powerOfTwo(128).multipliedReportingOverflow(by: .powerOfTwo(127)) == (.powerOfTwo(255), false))
        #expect(UInt256.powerOfTwo(128).multipliedReportingOverflow(by: .powerOfTwo(128)).overflow)
        #expect(
            UInt256(UInt64.max).multipliedReportingOverflow(by: UInt256(UInt64.max)).partialValue.description
                == "340282366920938463426481119284349108225")
        #expect(UInt256(0x1234).minimalBytes == [0x12, 0x34] && UInt256.zero.minimalBytes.isEmpty)
        #expect(UInt256(bigEndian: [UInt8](repeating: 1, count: 33)) == nil)
        #expect(UInt256(255).bitWidth == 8 && UInt256(256).bitWidth == 9 && max.bitWidth == 256)
        #expect(UInt256.zero.quantityHex == "0x0" && UInt256(0x1ab).quantityHex == "0x1ab")
        #expect(Int256(-1).bitPattern == max && Int256(-1).description == "-1" && Int256(-1).signedBitWidth == 1)
        #expect(Int256(-128).signedBitWidth == 8 && Int256(127).signedBitWidth == 8 && Int256(128).signedBitWidth == 9)
        #expect(
            Int256(decimal: "-57896044618658097711785492504343953926634992332820282019728792003956564819968")!
                .signedBitWidth == 256)
        #expect(Int256(decimal: "57896044618658097711785492504343953926634992332820282019728792003956564819968") == nil)
        #expect(Int256(-5) < Int256(3) && Int256(-5) < Int256(-4) && !(Int256(3) < Int256(-5)))
    }

    @Test func uint256DecimalRoundTrip() async {
        await propertyCheck(count: 200, input: Gen.uint8().array(of: 0...32)) { bytes in
            let v = UInt256(bigEndian: bytes)!
            #expect(UInt256(decimal: v.description) == v)
            #expect(UInt256(bigEndian: v.bigEndianBytes) == v)
            #expect((try? EVMHex.uint256(v.quantityHex)) == v)
        }
    }

    // execution-apis hex encoding: quantities compact, data even-length, both 0x-prefixed.
    @Test func quantitiesAndData() throws {
        #expect(try EVMHex.uint64("0x0") == 0)
        #expect(try EVMHex.uint64("0x41") == 65)
        #expect(try EVMHex.uint64("0x400") == 1024)
        #expect(try EVMHex.uint64("0xffffffffffffffff") == .max)
        #expect(try EVMHex.uint64("0xABC") == 0xabc)
        for bad in ["0x", "0x0400", "0x00", "ff", "0xg", "0X1", " 0x1", "0x1 ", "-0x1", "0x10000000000000000", ""] {
            #expect(throws: EVMError.self, "\(bad)") { try EVMHex.uint64(bad) }
        }
        #expect(throws: EVMError.self) { try EVMHex.uint256("0x1" + String(repeating: "0", count: 64)) }
        #expect(try EVMHex.data("0x") == [])
        #expect(try EVMHex.data("0x0041") == [0, 0x41])
        for bad in ["0x0", "004", "0xzz", "0x 1"] {
            #expect(throws: EVMError.self, "\(bad)") { try EVMHex.data(bad) }
        }
        #expect(EVMHex.quantity(0) == "0x0" && EVMHex.quantity(1024) == "0x400")
    }

    @Test func strictJSON() throws {
        let v = try JSONValue.parse(#" {"a": [1, -0.5e+3, true, null, "x\u00e9\ud83d\ude00\n"], "b": {}} "#)
        #expect(v["a"]?.arrayValue?[0] == .number("1"))
        #expect(v["a"]?.arrayValue?[1].doubleValue == -500)
        #expect(v["a"]?.arrayValue?[4] == .string("xé😀\n"))
        #expect(v["b"] == .object([:]))
        let bad = [
            "", "[", "{\"a\":1,}", "[1,]", "01", "+1", ".5", "1.", "1e", "[1] x", "{\"a\":1,\"a\":2}", "\"\u{01}\"",
            "\"\\x\"", "\"\\ud800\"", "\"\\udc00x\"", "nul", "tru", "{1:2}", "[\"a\" \"b\"]", "'a'",
        ]
        for text in bad {
            #expect(throws: JSONError.self, "\(text)") { try JSONValue.parse(text) }
        }
        #expect(throws: JSONError.self) { try JSONValue.parse([0x22, 0xff, 0x22]) }  // not UTF-8
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONError.self) { try JSONValue.parse(deep) }
        #expect(throws: Never.self) { try JSONValue.parse(deep, maxDepth: 65) }
        // Serialization escapes and is parseable again.
        let value = JSONValue.object(["k": .array([.string("a\"b\\c\u{1}\n"), .number(7), .bool(false), .null])])
        #expect(value.description == #"{"k":["a\"b\\c\u0001\n",7,false,null]}"#)
        #expect(try JSONValue.parse(value.serializedBytes()) == value)
    }
}
