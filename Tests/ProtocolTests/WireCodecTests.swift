import Testing
import Wire

@Suite("Wire codec")
struct WireCodecTests {
    @Test func integersAreBigEndianFixedWidth() throws {
        var w = WireWriter()
        w.writeUInt8(0xab)
        w.writeUInt16(0x0102)
        w.writeUInt32(0x0304_0506)
        w.writeUInt64(0x0708_090a_0b0c_0d0e)
        w.writeInt64(-2)
        w.writeBool(true)
        w.writeBool(false)
        #expect(w.bytes == hex("ab 0102 03040506 0708090a0b0c0d0e fffffffffffffffe 01 00"))

        var r = WireReader(w.bytes)
        #expect(try r.readUInt8() == 0xab)
        #expect(try r.readUInt16() == 0x0102)
        #expect(try r.readUInt32() == 0x0304_0506)
        #expect(try r.readUInt64() == 0x0708_090a_0b0c_0d0e)
        #expect(try r.readInt64() == -2)
        #expect(try r.readBool() == true)
        #expect(try r.readBool() == false)
        try r.finish()
    }

    @Test func boolMustBeZeroOrOne() {
        for byte in UInt8(2)...UInt8(255) {
            var r = WireReader([byte])
            #expect(throws: WireError.invalidBool(byte)) { try r.readBool() }
        }
    }

    @Test func presenceMustBeZeroOrOne() throws {
        var w = WireWriter()
        w.writeOptional(UInt16(7)) { $0.writeUInt16($1) }
        w.writeOptional(UInt16?.none) { $0.writeUInt16($1) }
        #expect(w.bytes == hex("01 0007 00"))
        var r = WireReader(w.bytes)
        #expect(try r.readOptional { (r: inout WireReader) throws(WireError) in try r.readUInt16() } == 7)
        #expect(try r.readOptional { (r: inout WireReader) throws(WireError) in try r.readUInt16() } == nil)
        var bad = WireReader([2, 0, 7])
        #expect(throws: WireError.invalidPresence(2)) {
            try bad.readOptional { (r: inout WireReader) throws(WireError) in try r.readUInt16() }
        }
    }

    @Test func bytesAndStringsAreLengthPrefixed() throws {
        var w = WireWriter()
        w.writeBytes([1, 2, 3])
        w.writeString("hé")
        #expect(w.bytes == hex("00000003 010203 00000003 68c3a9"))
        var r = WireReader(w.bytes)
        #expect(try r.readBytes() == [1, 2, 3])
        #expect(try r.readString() == "hé")
        try r.finish()
    }

    @Test func invalidUTF8IsRejected() {
        // Lone continuation byte, overlong "/" (c0 af), UTF-16 surrogate (ed a0 80), > U+10FFFF.
        for bad in [hex("80"), hex("c0af"), hex("eda080"), hex("f4908080"), hex("ff")] {
            var w = WireWriter()
            w.writeBytes(bad)
            var r = WireReader(w.bytes)
            #expect(throws: WireError.invalidUTF8) { try r.readString() }
        }
    }

    @Test func lengthsAreCheckedBeforeReading() {
        var r = WireReader(hex("ffffffff 00"))
        #expect(throws: WireError.truncated(needed: 0xffff_ffff, remaining: 1)) { try r.readBytes() }
        var limited = WireReader(hex("00000005 0102030405"))
        #expect(throws: WireError.lengthTooLarge(length: 5, limit: 4)) { try limited.readBytes(maxLength: 4) }
        var s = WireReader(hex("00000003 616263"))
        #expect(throws: WireError.lengthTooLarge(length: 3, limit: 2)) { try s.readString(maxLength: 2) }
    }

    @Test func arrayCountIsCheckedAgainstRemainingBytesBeforeAllocating() throws {
        var w = WireWriter()
        w.writeArray([UInt32(1), 2, 3]) { $0.writeUInt32($1) }
        #expect(w.bytes == hex("00000003 00000001 00000002 00000003"))
        var r = WireReader(w.bytes)
        let values = try r.readArray(minimumElementSize: 4) { (r: inout WireReader) throws(WireError) in
            try r.readUInt32()
        }
        #expect(values == [1, 2, 3])

        // A hostile count of 2^32-1 with 8 bytes left: refused, nothing reserved.
        var hostile = WireReader(hex("ffffffff 0000000000000000"))
        #expect(throws: WireError.lengthTooLarge(length: 0xffff_ffff, limit: 2)) {
            try hostile.readArray(minimumElementSize: 4) { (r: inout WireReader) throws(WireError) in try r.readUInt32()
            }
        }
        var capped = WireReader(hex("00000002 00000001 00000002"))
        #expect(throws: WireError.lengthTooLarge(length: 2, limit: 1)) {
            try capped.readArray(maxCount: 1) { (r: inout WireReader) throws(WireError) in try r.readUInt32() }
        }
    }

    @Test func truncatedInputIsRejected() {
        var r = WireReader([0, 1, 2])
        #expect(throws: WireError.truncated(needed: 4, remaining: 3)) { try r.readUInt32() }
    }

    @Test func unknownTagsAreRejected() {
        var r = WireReader([7])
        #expect(throws: WireError.unknownTag(type: "ServiceKind", tag: 7)) { try r.readTag(ServiceKind.self) }
        var zero = WireReader([0])
        #expect(throws: WireError.unknownTag(type: "ServiceKind", tag: 0)) { try zero.readTag(ServiceKind.self) }
        var code = WireReader([2])  // gRPC's "unknown" is not part of the protocol
        #expect(throws: WireError.unknownTag(type: "StatusCode", tag: 2)) { try code.readTag(StatusCode.self) }
    }

    @Test func trailingBytesAreRejected() throws {
        let ping = PeerPing(nonce: 9).encoded()
        #expect(try PeerPing.decode(ping) == PeerPing(nonce: 9))
        #expect(throws: WireError.trailingBytes(count: 1)) { try PeerPing.decode(ping + [0]) }
        #expect(throws: WireError.trailingBytes(count: 1)) { try Empty.decode([0]) }
    }

    @Test func decodeOfARangeReadsOnlyThatRange() throws {
        let bytes = [0xff, 0xff] + PeerPing(nonce: 3).encoded() + [0xee]
        #expect(try PeerPing.decode(bytes, range: 2..<10) == PeerPing(nonce: 3))
        #expect(throws: WireError.trailingBytes(count: 1)) { try PeerPing.decode(bytes, range: 2..<11) }
    }

    @Test func messageLimitsAreEnforced() throws {
        // A 300-byte version string is over the short-string limit.
        var w = WireWriter()
        w.writeTag(ServiceKind.tssSigner)
        w.writeString(String(repeating: "v", count: 300))
        #expect(throws: WireError.lengthTooLarge(length: 300, limit: WireLimits.maxShortString)) {
            try RegisterService.decode(w.bytes)
        }
        // An error message over 4096 bytes is cut by the sender, at a scalar boundary.
        let long = RPCErrorPayload(code: .internal, message: String(repeating: "é", count: 3000))
        #expect(long.message.utf8.count == 4096)
        #expect(try RPCErrorPayload.decode(long.encoded()) == long)
    }

    @Test func serviceKindNames() {
        #expect(ServiceKind.tssSigner.name == "tss-signer")
        #expect(
            ServiceKind.allCases.map(\.name) == [
                "consensus-manager", "tss-signer", "inbox-listener", "sandbox-executor", "bridge-adapter",
                "batch-proposer",
            ])
        for kind in ServiceKind.allCases { #expect(ServiceKind(name: kind.name) == kind) }
        #expect(ServiceKind(name: "nope") == nil)
    }

    @Test func methodIDs() {
        #expect(MethodID.ping == 0x0001)
        #expect(MethodID.registerService == 0x0100)
        #expect(MethodID.heartbeat == 0x0101)
        #expect(MethodID.status == 0x0102)
        #expect(MethodID.peerHello == 0x0200)
        #expect(MethodID.peerPing == 0x0201)
        #expect(MethodID.name(0x0100) == "local.registerService")
        #expect(MethodID.name(0xbeef) == "0xbeef")
    }

    @Test func requestPayloadCarriesTheTimeout() throws {
        let payload = RequestPayload.make(timeoutMs: 1500, message: [9, 9])
        #expect(payload == hex("000005dc 0909"))
        let split = try RequestPayload.split(payload)
        #expect(split.timeoutMs == 1500)
        #expect(split.message == [9, 9])
        #expect(throws: WireError.truncated(needed: 4, remaining: 3)) { try RequestPayload.split([0, 0, 1]) }
    }
}
