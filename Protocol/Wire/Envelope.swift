/// Every message between validators (DESIGN §3): who sent it, for which chain and session, in
/// which round and at which position of the sender's stream, signed with the sender's node key.
///
/// Wire layout (canonical, in order):
/// `string chainID · address sender (20) · bytes session (u32 length ≤ 64) · u32 round ·
///  u64 sequence · u16 payloadType · bytes payload · signature (65 raw bytes r ‖ s ‖ v)`.
///
/// The signature covers `signingBytes` = `string "vn/envelope/v1"` followed by every field above
/// except the signature, in the same encoding; the digest is keccak-256 of it (`RPC` module).
/// The length-prefixed domain tag keeps these signatures apart from anything else the node key
/// signs.
///
/// Fields are immutable: the initializer checks the session and signature lengths, so an
/// `Envelope` value always encodes to bytes its decoder accepts.
public struct Envelope: WireMessage {
    public static let domainTag = "vn/envelope/v1"
    public static let maxSessionLength = 64
    public static let signatureLength = 65

    public let chainID: String
    /// The validator that signed it.
    public let sender: Address
    /// The session / height id the message belongs to (at most 64 bytes).
    public let session: [UInt8]
    public let round: UInt32
    /// Position in the sender's stream for this session; must strictly increase (`ReplayGuard`).
    public let sequence: UInt64
    /// Says how to decode `payload` (allocated next to `MethodID`).
    public let payloadType: UInt16
    public let payload: [UInt8]
    /// `r ‖ s ‖ v`, 65 bytes; all zero until signed.
    public let signature: [UInt8]

    public init(
        chainID: String, sender: Address, session: [UInt8], round: UInt32, sequence: UInt64,
        payloadType: UInt16, payload: [UInt8],
        signature: [UInt8] = [UInt8](repeating: 0, count: Envelope.signatureLength)
    ) throws(WireError) {
        guard session.count <= Self.maxSessionLength else {
            throw .lengthTooLarge(length: session.count, limit: Self.maxSessionLength)
        }
        guard signature.count == Self.signatureLength else {
            throw .invalidValue("signature must be \(Self.signatureLength) bytes, got \(signature.count)")
        }
        self.chainID = chainID
        self.sender = sender
        self.session = session
        self.round = round
        self.sequence = sequence
        self.payloadType = payloadType
        self.payload = payload
        self.signature = signature
    }

    /// The same envelope with `signature` replaced (65 bytes).
    public func withSignature(_ signature: [UInt8]) throws(WireError) -> Envelope {
        try Envelope(
            chainID: chainID, sender: sender, session: session, round: round, sequence: sequence,
            payloadType: payloadType, payload: payload, signature: signature)
    }

    /// What the sender signs: the domain tag, then every field but the signature.
    public var signingBytes: [UInt8] {
        var writer = WireWriter(reservingCapacity: 128 + payload.count)
        writer.writeString(Self.domainTag)
        encodeUnsignedFields(to: &writer)
        return writer.take()
    }

    private func encodeUnsignedFields(to writer: inout WireWriter) {
        writer.writeString(chainID)
        writer.writeAddress(sender)
        writer.writeBytes(session)
        writer.writeUInt32(round)
        writer.writeUInt64(sequence)
        writer.writeUInt16(payloadType)
        writer.writeBytes(payload)
    }

    public func encode(to writer: inout WireWriter) {
        encodeUnsignedFields(to: &writer)
        writer.writeFixedBytes(signature)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        chainID = try reader.readString(maxLength: WireLimits.maxShortString)
        sender = try reader.readAddress()
        session = try reader.readBytes(maxLength: Self.maxSessionLength)
        round = try reader.readUInt32()
        sequence = try reader.readUInt64()
        payloadType = try reader.readUInt16()
        payload = try reader.readBytes()
        signature = try reader.readFixedBytes(count: Self.signatureLength)
    }
}
