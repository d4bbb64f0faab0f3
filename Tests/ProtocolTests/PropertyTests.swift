import PropertyBased
import Testing
import Wire

// Generators
let anyByte = Gen.uint8()

/// Any Unicode text: mixes ASCII, multi-byte scalars and combining marks.
let anyString = Gen.uint32(in: 0...0x10FFFF)
    .map { UnicodeScalar($0) ?? "\u{301}" }
    .array(of: 0...12)
    .map { String(String.UnicodeScalarView($0)) }
let anyAddress = anyByte.array(of: 20...20).map { try! Address(bytes: $0) }

/// A message exercising every field type (test-only).
struct Sample: WireMessage {
    var a: UInt8
    var b: UInt16
    var c: UInt32
    var d: UInt64
    var e: Int64
    var flag: Bool
    var data: [UInt8]
    var text: String
    var list: [UInt32]
    var maybe: UInt64?
    var kind: ServiceKind
    var nested: PeerPing

    func encode(to w: inout WireWriter) {
        w.writeUInt8(a)
        w.writeUInt16(b)
        w.writeUInt32(c)
        w.writeUInt64(d)
        w.writeInt64(e)
        w.writeBool(flag)  // byte offset 23
        w.writeBytes(data)
        w.writeString(text)
        w.writeArray(list) { $0.writeUInt32($1) }
        w.writeOptional(maybe) { $0.writeUInt64($1) }
        w.writeTag(kind)
        w.writeMessage(nested)
    }

    init(from r: inout WireReader) throws(WireError) {
        a = try r.readUInt8()
        b = try r.readUInt16()
        c = try r.readUInt32()
        d = try r.readUInt64()
        e = try r.readInt64()
        flag = try r.readBool()
        data = try r.readBytes()
        text = try r.readString()
        list = try r.readArray(minimumElementSize: 4) { (r: inout WireReader) throws(WireError) in try r.readUInt32() }
        maybe = try r.readOptional { (r: inout WireReader) throws(WireError) in try r.readUInt64() }
        kind = try r.readTag()
        nested = try r.readMessage()
    }

    init(
        a: UInt8, b: UInt16, c: UInt32, d: UInt64, e: Int64, flag: Bool, data: [UInt8], text: String,
        list: [UInt32], maybe: UInt64?, kind: ServiceKind, nested: PeerPing
    ) {
        (self.a, self.b, self.c, self.d, self.e, self.flag) = (a, b, c, d, e, flag)
        (self.data, self.text, self.list, self.maybe, self.kind, self.nested) = (data, text, list, maybe, kind, nested)
    }

    static let flagOffset = 1 + 2 + 4 + 8 + 8
}

let anySample = zip(
    zip(Gen.uint8(), Gen.uint16(), Gen.uint32(), Gen.uint64(), Gen.int64(), Gen.bool),
    zip(
        anyByte.array(of: 0...40), anyString, Gen.uint32().array(of: 0...6), Gen.uint64().optional,
        Gen<ServiceKind>.case,
        Gen.uint64())
).map { p, q in
    Sample(
        a: p.0, b: p.1, c: p.2, d: p.3, e: p.4, flag: p.5, data: q.0, text: q.1, list: q.2, maybe: q.3,
        kind: q.4, nested: PeerPing(nonce: q.5))
}

let anyRegisterService = zip(Gen<ServiceKind>.case, anyString, anyByte.array(of: 16...16), anyString, anyString)
    .map { RegisterService(kind: $0, version: $1, instanceID: $2, rpcAddress: $3, httpAddress: $4) }
let anyRegisterServiceAck = zip(anyString, anyAddress, Gen.uint32())
    .map { RegisterServiceAck(chainID: $0, validator: $1, heartbeatIntervalMs: $2) }
let anyHeartbeat = zip(Gen<ServiceKind>.case, Gen.uint64()).map { ServiceHeartbeat(kind: $0, sequence: $1) }
let anyPeerHello = zip(anyString, anyAddress, anyString, anyString)
    .map { PeerHello(chainID: $0, validator: $1, p2pAddress: $2, version: $3) }
let anyErrorPayload = zip(Gen<StatusCode>.case, anyString).map { RPCErrorPayload(code: $0, message: $1) }
let anyEnvelope = zip(
    anyString, anyAddress, anyByte.array(of: 0...64), Gen.uint32(), Gen.uint64(), Gen.uint16(),
    anyByte.array(of: 0...100), anyByte.array(of: 65...65)
)
.map {
    try! Envelope(
        chainID: $0, sender: $1, session: $2, round: $3, sequence: $4, payloadType: $5, payload: $6,
        signature: $7)
}

/// The laws of `WireMessage` for one value, plus: trailing bytes, truncation and a random
/// one-byte mutation never break canonicality.
func checkLaws<M: WireMessage>(_ value: M, extra: [UInt8], mutateAt position: Int, to byte: UInt8) {
    let bytes = value.encoded()
    #expect((try? M.decode(bytes)) == value)
    #expect((try? M.decode(bytes))?.encoded() == bytes)
    if !extra.isEmpty {
        #expect(throws: WireError.trailingBytes(count: extra.count)) { try M.decode(bytes + extra) }
    }
    if !bytes.isEmpty {
        let cut = position % bytes.count
        #expect(throws: WireError.self) { try M.decode(Array(bytes[..<cut])) }
        var mutated = bytes
        mutated[cut] = byte
        if let decoded = try? M.decode(mutated) {
            #expect(decoded.encoded() == mutated, "accepted mutation must re-encode to itself")
        }
    }
}

@Suite("Wire properties")
struct PropertyTests {
    let extra = anyByte.array(of: 0...4)
    let position = Gen.int(in: 0...10_000)

    @Test func sampleRoundTrips() async {
        await propertyCheck(count: 300, input: anySample, extra, position, anyByte) {
            checkLaws($0, extra: $1, mutateAt: $2, to: $3)
        }
    }

    @Test func registerServiceRoundTrips() async {
        await propertyCheck(count: 200, input: anyRegisterService, extra, position, anyByte) {
            checkLaws($0, extra: $1, mutateAt: $2, to: $3)
        }
    }

    @Test func registerServiceAckRoundTrips() async {
        await propertyCheck(count: 200, input: anyRegisterServiceAck, extra, position, anyByte) {
            checkLaws($0, extra: $1, mutateAt: $2, to: $3)
        }
    }

    @Test func heartbeatRoundTrips() async {
        await propertyCheck(count: 200, input: anyHeartbeat, extra, position, anyByte) {
            checkLaws($0, extra: $1, mutateAt: $2, to: $3)
        }
    }

    @Test func peerMessagesRoundTrip() async {
        await propertyCheck(count: 200, input: anyPeerHello, extra, position, anyByte) {
            checkLaws($0, extra: $1, mutateAt: $2, to: $3)
        }
        await propertyCheck(count: 100, input: Gen.uint64(), extra) { nonce, extra in
            checkLaws(PeerPing(nonce: nonce), extra: extra, mutateAt: 0, to: 0)
            checkLaws(PeerPong(nonce: nonce), extra: extra, mutateAt: 7, to: 1)
        }
        checkLaws(Empty(), extra: [1], mutateAt: 0, to: 0)
    }

    @Test func errorPayloadRoundTrips() async {
        await propertyCheck(count: 200, input: anyErrorPayload, extra, position, anyByte) {
            checkLaws($0, extra: $1, mutateAt: $2, to: $3)
        }
    }

    @Test func envelopeRoundTrips() async {
        await propertyCheck(count: 200, input: anyEnvelope, extra, position, anyByte) {
            checkLaws($0, extra: $1, mutateAt: $2, to: $3)
        }
    }

    @Test func nonCanonicalBoolIsRejected() async {
        await propertyCheck(count: 200, input: anySample, Gen.uint8(in: 2...255)) { sample, byte in
            var bytes = sample.encoded()
            bytes[Sample.flagOffset] = byte
            #expect(throws: WireError.invalidBool(byte)) { try Sample.decode(bytes) }
        }
    }

    @Test func envelopeSessionAndSignatureLengths() async {
        await propertyCheck(count: 50, input: anyByte.array(of: 65...100)) { session in
            #expect(throws: WireError.lengthTooLarge(length: session.count, limit: 64)) {
                try Envelope(
                    chainID: "c", sender: testAddress, session: session, round: 0, sequence: 0, payloadType: 0,
                    payload: [])
            }
        }
        await propertyCheck(count: 50, input: anyByte.array(of: 0...80).filter { $0.count != 65 }) { signature in
            #expect(throws: WireError.self) {
                try Envelope(
                    chainID: "c", sender: testAddress, session: [], round: 0, sequence: 0, payloadType: 0,
                    payload: [], signature: signature)
            }
        }
    }

    @Test func framesRoundTripThroughAnyChunking() async {
        let anyFrame = zip(Gen<FrameKind>.case, Gen.uint64(), Gen.uint16(), anyByte.array(of: 0...200))
            .map { kind, callID, method, payload in
                Frame(kind: kind, callID: callID, method: method, payload: Array(payload.prefix(kind.maxPayload)))
            }
        await propertyCheck(count: 200, input: anyFrame.array(of: 1...8), Gen.int(in: 1...50)) { frames, chunk in
            let bytes = frames.flatMap(FrameEncoder.encode)
            var decoder = FrameDecoder()
            var out: [Frame] = []
            var i = 0
            while i < bytes.count {
                decoder.feed(Array(bytes[i..<min(bytes.count, i + chunk)]))
                i += chunk
                while let frame = try decoder.nextFrame() { out.append(frame) }
            }
            #expect(out == frames)
        }
    }
}
