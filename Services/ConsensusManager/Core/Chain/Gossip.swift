import Tendermint
import Wire

/// A proposal as it travels: everything of `⟨PROPOSAL, h, r, v, vr⟩` but the value's bytes — the
/// value id, the part-set header under which the block's parts follow, and the proposer's
/// signature. The signature covers `Proposal.signBytes` (which names the value by its id), so a
/// receiver checks it before any part arrives and rebuilds the full `Proposal` once the parts
/// assemble to a value with that id.
///
/// Wire layout: `u64 height · i64 round (≥ 0) · i64 validRound (−1 ≤ vr < round) · address
/// proposer · 32-byte valueID · PartSetHeader parts · 65-byte signature`.
public struct ProposalAnnouncement: Hashable, Sendable, WireMessage, CustomStringConvertible {
    public let height: Height
    public let round: Round
    public let validRound: Round
    public let proposer: Address
    public let valueID: ValueID
    public let parts: PartSetHeader
    public let signature: [UInt8]

    public init(
        height: Height, round: Round, validRound: Round, proposer: Address, valueID: ValueID, parts: PartSetHeader,
        signature: [UInt8]
    ) {
        self.height = height
        self.round = round
        self.validRound = validRound
        self.proposer = proposer
        self.valueID = valueID
        self.parts = parts
        self.signature = signature
    }

    /// The announcement of a signed proposal and its parts.
    public static func make(
        _ p: Proposal, parts: PartSetHeader, chainID: String, signature: [UInt8]
    )
        -> ProposalAnnouncement
    {
        ProposalAnnouncement(
            height: p.height, round: p.round, validRound: p.validRound, proposer: p.proposer, valueID: p.value.id,
            parts: parts, signature: signature)
    }

    /// `Proposal.signBytes(chainID:)` of the announced proposal, without its value: the same
    /// layout (`string "vn/tendermint/proposal/v1" · string chainID · u64 height · i64 round ·
    /// 32-byte id(v) · i64 validRound · address proposer`; a test pins the equality).
    public func signBytes(chainID: String) -> [UInt8] {
        var writer = WireWriter(reservingCapacity: 128)
        writer.writeString(Proposal.domainTag)
        writer.writeString(chainID)
        writer.writeMessage(height)
        writer.writeMessage(round)
        writer.writeMessage(valueID)
        writer.writeMessage(validRound)
        writer.writeAddress(proposer)
        return writer.take()
    }

    public func verify(chainID: String) -> Bool {
        ConsensusSignature.signer(of: signBytes(chainID: chainID), signature: signature) == proposer
    }

    /// The full proposal once the value arrived (nil if it is another value).
    public func proposal(with value: Value) -> Proposal? {
        guard value.id == valueID else { return nil }
        return Proposal(height: height, round: round, value: value, validRound: validRound, proposer: proposer)
    }

    public var description: String { "announce(h=\(height) r=\(round) \(valueID) vr=\(validRound) \(parts))" }

    public func encode(to writer: inout WireWriter) {
        writer.writeMessage(height)
        writer.writeMessage(round)
        writer.writeMessage(validRound)
        writer.writeAddress(proposer)
        writer.writeMessage(valueID)
        writer.writeMessage(parts)
        writer.writeFixedBytes(signature)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        height = try reader.readMessage(Height.self)
        round = try reader.readMessage(Round.self)
        guard !round.isNone else { throw .invalidValue("proposal round must be defined") }
        validRound = try reader.readMessage(Round.self)
        guard validRound < round else { throw .invalidValue("validRound \(validRound) not below round \(round)") }
        proposer = try reader.readAddress()
        valueID = try reader.readMessage(ValueID.self)
        parts = try reader.readMessage(PartSetHeader.self)
        signature = try reader.readFixedBytes(count: ConsensusSignature.byteCount)
    }
}

/// Every consensus message between consensus-managers: the payload of a signed envelope of
/// payload type `MethodID.consensusGossip` (the envelope's signature says which validator relays
/// it; the proposal and vote signatures inside say who made them).
///
/// Wire layout: `u8 tag` then
/// 1 proposal: `ProposalAnnouncement`;
/// 2 part: `u64 height · i64 round · 32-byte valueID · BlockPart`;
/// 3 votes: `array of SignedVote` (≤ 1024);
/// 4 txs: `array of bytes` (≤ 10,000, each ≤ `Block.maxTxBytes`);
/// 5 status: `u64 committed height · u64 running height · i64 round`;
/// 6 block request: `u64 height`;
/// 7 block response: `bytes block (≤ Value.maxByteCount) · SignedCommit`.
public enum ConsensusGossip: Hashable, Sendable, WireMessage, CustomStringConvertible {
    public static let maxVotes = 1024
    public static let maxTxs = 10_000

    case proposal(ProposalAnnouncement)
    case part(height: Height, round: Round, valueID: ValueID, part: BlockPart)
    case votes([SignedVote])
    case txs([[UInt8]])
    case status(committed: Height, height: Height, round: Round)
    case blockRequest(Height)
    case blockResponse(value: Value, commit: SignedCommit)

    public var description: String {
        switch self {
        case .proposal(let a): "\(a)"
        case .part(let h, let r, let id, let p): "part(h=\(h) r=\(r) \(id) #\(p.index))"
        case .votes(let v): "votes(\(v.count))"
        case .txs(let t): "txs(\(t.count))"
        case .status(let c, let h, let r): "status(committed=\(c) h=\(h) r=\(r))"
        case .blockRequest(let h): "blockRequest(\(h))"
        case .blockResponse(_, let c): "blockResponse(\(c))"
        }
    }

    public func encode(to writer: inout WireWriter) {
        switch self {
        case .proposal(let a):
            writer.writeUInt8(1)
            writer.writeMessage(a)
        case .part(let h, let r, let id, let p):
            writer.writeUInt8(2)
            writer.writeMessage(h)
            writer.writeMessage(r)
            writer.writeMessage(id)
            writer.writeMessage(p)
        case .votes(let votes):
            writer.writeUInt8(3)
            writer.writeArray(votes) { $0.writeMessage($1) }
        case .txs(let txs):
            writer.writeUInt8(4)
            writer.writeArray(txs) { $0.writeBytes($1) }
        case .status(let c, let h, let r):
            writer.writeUInt8(5)
            writer.writeMessage(c)
            writer.writeMessage(h)
            writer.writeMessage(r)
        case .blockRequest(let h):
            writer.writeUInt8(6)
            writer.writeMessage(h)
        case .blockResponse(let value, let commit):
            writer.writeUInt8(7)
            writer.writeMessage(value)
            writer.writeMessage(commit)
        }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        switch try reader.readUInt8() {
        case 1:
            self = .proposal(try reader.readMessage(ProposalAnnouncement.self))
        case 2:
            let h = try reader.readMessage(Height.self)
            let r = try reader.readMessage(Round.self)
            guard !r.isNone else { throw .invalidValue("part round must be defined") }
            self = .part(
                height: h, round: r, valueID: try reader.readMessage(ValueID.self),
                part: try reader.readMessage(BlockPart.self))
        case 3:
            self = .votes(
                try reader.readArray(maxCount: Self.maxVotes, minimumElementSize: 103) {
                    (r: inout WireReader) throws(WireError) in try r.readMessage(SignedVote.self)
                })
        case 4:
            self = .txs(
                try reader.readArray(maxCount: Self.maxTxs, minimumElementSize: 4) {
                    (r: inout WireReader) throws(WireError) in try r.readBytes(maxLength: Block.maxTxBytes)
                })
        case 5:
            self = .status(
                committed: try reader.readMessage(Height.self), height: try reader.readMessage(Height.self),
                round: try reader.readMessage(Round.self))
        case 6:
            self = .blockRequest(try reader.readMessage(Height.self))
        case 7:
            self = .blockResponse(
                value: try reader.readMessage(Value.self), commit: try reader.readMessage(SignedCommit.self))
        case let tag:
            throw .invalidValue("unknown consensus gossip tag \(tag)")
        }
    }
}
