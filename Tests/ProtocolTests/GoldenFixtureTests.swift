import Testing
import Wire

/// Golden fixtures freeze the wire format: each file under `Fixtures/` was produced by an
/// independent encoder written from DESIGN §3, not by this code. A failing test here means the
/// format changed: that needs a protocol version bump, not a fixture update.
@Suite("Golden fixtures")
struct GoldenFixtureTests {
    func check<M: WireMessage>(_ name: String, _ expected: M) throws {
        let bytes = try fixture(name)
        let decoded = try M.decode(bytes)
        #expect(decoded == expected, "\(name): decoded value differs")
        #expect(decoded.encoded() == bytes, "\(name): re-encoding differs")
        #expect(expected.encoded() == bytes, "\(name): encoding the expected value differs")
        // Any one byte fewer or more is refused.
        if !bytes.isEmpty { #expect(throws: WireError.self) { try M.decode(Array(bytes.dropLast())) } }
        #expect(throws: WireError.trailingBytes(count: 1)) { try M.decode(bytes + [0]) }
    }

    @Test func empty() throws { try check("Empty", Empty()) }

    @Test func serviceKindTags() throws {
        let bytes = try fixture("ServiceKind")
        #expect(bytes == ServiceKind.allCases.map(\.rawValue))
        #expect(
            ServiceKind.allCases == [
                .consensusManager, .tssSigner, .inboxListener, .sandboxExecutor, .bridgeAdapter, .batchProposer,
            ])
    }

    @Test func statusCodeTags() throws {
        let bytes = try fixture("StatusCode")
        #expect(bytes == StatusCode.allCases.map(\.rawValue))
        #expect(
            StatusCode.allCases == [
                .ok, .cancelled, .invalidArgument, .deadlineExceeded, .notFound, .alreadyExists, .permissionDenied,
                .resourceExhausted, .failedPrecondition, .unimplemented, .internal, .unavailable, .unauthenticated,
            ])
    }

    @Test func registerService() throws {
        try check(
            "RegisterService",
            RegisterService(
                kind: .tssSigner, version: "0.1.0", instanceID: Array(0..<16),
                rpcAddress: "127.0.0.1:7102", httpAddress: "127.0.0.1:8102"))
    }

    @Test func registerServiceAck() throws {
        try check(
            "RegisterServiceAck",
            RegisterServiceAck(chainID: "vn-devnet-1", validator: testAddress, heartbeatIntervalMs: 5000))
    }

    @Test func serviceHeartbeat() throws {
        try check("ServiceHeartbeat", ServiceHeartbeat(kind: .inboxListener, sequence: 42))
    }

    @Test func peerHello() throws {
        try check(
            "PeerHello",
            PeerHello(chainID: "vn-devnet-1", validator: testAddress, p2pAddress: "10.0.0.7:26656", version: "0.1.0-ü"))
    }

    @Test func peerPingPong() throws {
        try check("PeerPing", PeerPing(nonce: 0x0102_0304_0506_0708))
        try check("PeerPong", PeerPong(nonce: 0xffff_ffff_ffff_fffe))
    }

    @Test func rpcErrorPayload() throws {
        try check("RPCErrorPayload", RPCErrorPayload(code: .notFound, message: "no such key"))
    }

    static func envelope() throws -> Envelope {
        try Envelope(
            chainID: "vn-devnet-1", sender: testAddress, session: Array("keygen-01".utf8), round: 3, sequence: 7,
            payloadType: 0x0301, payload: [0xde, 0xad, 0xbe, 0xef],
            signature: Array(repeating: 0x11, count: 32) + Array(repeating: 0x22, count: 32) + [1])
    }

    @Test func envelope() throws {
        let envelope = try Self.envelope()
        try check("Envelope", envelope)
        #expect(envelope.signingBytes == (try fixture("Envelope.signing")))
    }

    @Test func framesOfEveryKind() throws {
        let bytes = try fixture("Frames")
        var decoder = FrameDecoder()
        decoder.feed(bytes)
        var frames: [Frame] = []
        while let frame = try decoder.nextFrame() { frames.append(frame) }
        let expected = [
            Frame(
                kind: .request, callID: 1, method: 0x0100,
                payload: RequestPayload.make(
                    timeoutMs: 1500, message: ServiceHeartbeat(kind: .inboxListener, sequence: 42).encoded())),
            Frame(kind: .response, callID: 1, method: 0x0100),
            Frame(kind: .streamItem, callID: 2, method: 0x0102, payload: [1, 2]),
            Frame(kind: .streamEnd, callID: 2, method: 0x0102),
            Frame(
                kind: .error, callID: 3, method: 0x0201,
                payload: RPCErrorPayload(code: .deadlineExceeded, message: "deadline exceeded").encoded()),
            Frame(kind: .ping, callID: 0xdead_beef, method: 0, payload: Array("hi".utf8)),
            Frame(kind: .pong, callID: 0xdead_beef, method: 0, payload: Array("hi".utf8)),
            Frame(kind: .cancel, callID: 4, method: 0x0001),
        ]
        #expect(frames == expected)
        #expect(frames.map(\.kind) == FrameKind.allCases)
        #expect(expected.flatMap(FrameEncoder.encode) == bytes)
    }
}
