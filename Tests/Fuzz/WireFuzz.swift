// libFuzzer entry point for the Wire module (not a SwiftPM target: it is compiled together with
// the Wire sources, see README.md). Any crash or failed check is a finding.
//
// Checks, for every input:
// - FrameDecoder: fed at once and fed in chunks (sizes taken from the input) it produces the same
//   frames and the same error; every frame it returns re-encodes to exactly the bytes consumed;
//   a length above the cap is refused from the header alone.
// - Every message decoder: when decoding succeeds, re-encoding gives back the input (canonical).

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("wire-fuzz: " + message()) }
}

/// decode(b) accepted ⇒ encode(decode(b)) == b, and decode is deterministic.
func roundTrip<M: WireMessage>(_: M.Type, _ bytes: [UInt8]) {
    guard let value = try? M.decode(bytes) else { return }
    check(value.encoded() == bytes, "\(M.self): accepted input does not re-encode to itself")
    check((try? M.decode(value.encoded())) == value, "\(M.self): decode not deterministic")
}

func decodeAll(_ decoder: inout FrameDecoder) -> ([Frame], FrameError?) {
    var frames: [Frame] = []
    while true {
        do {
            guard let frame = try decoder.nextFrame() else { return (frames, nil) }
            frames.append(frame)
        } catch {
            return (frames, error)
        }
    }
}

func fuzzFrames(_ bytes: [UInt8]) {
    // Small caps too, so the size check is exercised by short inputs.
    for maxFrameSize in [FrameLayout.defaultMaxFrameSize, 64] {
        var whole = FrameDecoder(maxFrameSize: maxFrameSize)
        whole.feed(bytes)
        let (frames, error) = decodeAll(&whole)

        // Re-encoding the frames gives back the consumed prefix of the input.
        var reencoded: [UInt8] = []
        for frame in frames {
            check(frame.payload.count <= frame.kind.maxPayload, "payload above kind cap")
            reencoded += FrameEncoder.encode(frame)
        }
        check(
            reencoded.count <= bytes.count && Array(bytes[..<reencoded.count]) == reencoded,
            "frames do not re-encode to the consumed bytes")
        if error == nil {
            check(whole.bufferedByteCount == bytes.count - reencoded.count, "buffered byte count wrong")
        }

        // Chunked feeding (chunk sizes derived from the input) gives the same result.
        var chunked = FrameDecoder(maxFrameSize: maxFrameSize)
        var chunkedFrames: [Frame] = []
        var chunkedError: FrameError?
        var i = 0
        var step = 0
        while i < bytes.count && chunkedError == nil {
            let size = 1 + Int(bytes[(step * 7) % bytes.count] % 23)
            step += 1
            let end = min(bytes.count, i + size)
            chunked.feed(Array(bytes[i..<end]))
            i = end
            let (more, err) = decodeAll(&chunked)
            chunkedFrames += more
            chunkedError = err
        }
        check(chunkedFrames == frames, "chunked decoding produced different frames")
        check(chunkedError == error, "chunked decoding produced a different error")

        // A failed decoder stays failed.
        if let error {
            whole.feed([0, 0, 0, 12, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
            check((try? whole.nextFrame()) == nil && whole.error == error, "failed decoder recovered")
        }
    }

    // Oversized lengths are refused from the 4 length bytes alone.
    if bytes.count >= 4 {
        let length = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        var decoder = FrameDecoder(maxFrameSize: 1024)
        decoder.feed(Array(bytes[0..<4]))
        let result = Result { () throws(FrameError) in try decoder.nextFrame() }
        if length > 1024 {
            check(result == .failure(.frameTooLarge(length: UInt32(length), limit: 1024)), "oversized length accepted")
        } else if length < FrameLayout.headerSize {
            check(result == .failure(.frameTooShort(length: UInt32(length))), "undersized length accepted")
        }
    }
}

func fuzzMessages(_ bytes: [UInt8]) {
    roundTrip(Empty.self, bytes)
    roundTrip(RegisterService.self, bytes)
    roundTrip(RegisterServiceAck.self, bytes)
    roundTrip(ServiceHeartbeat.self, bytes)
    roundTrip(PeerHello.self, bytes)
    roundTrip(PeerPing.self, bytes)
    roundTrip(PeerPong.self, bytes)
    roundTrip(RPCErrorPayload.self, bytes)
    roundTrip(Envelope.self, bytes)
    roundTrip(InboxRequestKey.self, bytes)
    roundTrip(InboxRequestRecord.self, bytes)
    roundTrip(SubmitInboxRequests.self, bytes)
    roundTrip(InboxRequestRefusal.self, bytes)
    roundTrip(SubmitInboxRequestsAck.self, bytes)
    if let envelope = try? Envelope.decode(bytes) {
        let signing = envelope.signingBytes
        check(
            Array(signing.suffix(bytes.count - Envelope.signatureLength))
                == Array(bytes.prefix(bytes.count - Envelope.signatureLength)),
            "signingBytes is not tag + unsigned fields")
    }
    roundTrip(LocalRequest.self, bytes)
    if let request = try? LocalRequest.decode(bytes) {
        let covered = request.authenticatedBytes
        check(
            Array(covered.suffix(bytes.count - LocalRequest.tagLength))
                == Array(bytes.prefix(bytes.count - LocalRequest.tagLength)),
            "authenticatedBytes is not tag + every field but the tag")
    }
    if let split = try? RequestPayload.split(bytes) {
        check(RequestPayload.make(timeoutMs: split.timeoutMs, message: split.message) == bytes, "request payload")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func wireFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    fuzzFrames(bytes)
    fuzzMessages(bytes)
    // The same bytes as a frame payload of every kind, through the decoder.
    if let first = bytes.first, let kind = FrameKind(rawValue: first % 9), bytes.count <= kind.maxPayload {
        let rest = Array(bytes.dropFirst())
        if rest.count <= kind.maxPayload {
            var decoder = FrameDecoder()
            decoder.feed(FrameEncoder.encode(Frame(kind: kind, callID: 7, method: 0x0100, payload: rest)))
            let frame = try? decoder.nextFrame()
            check(frame == Frame(kind: kind, callID: 7, method: 0x0100, payload: rest), "frame round trip")
        }
    }
    return 0
}
