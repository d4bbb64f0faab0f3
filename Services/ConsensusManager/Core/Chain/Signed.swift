import CryptoPrimitives
import Secp256k1
import Tendermint
import Wire

/// A signature of a validator key over a consensus message: recoverable secp256k1 (65 bytes
/// `r ‖ s ‖ v`, low-s) over `SHA-256(signBytes(chainID:))`. The sign bytes carry a domain tag
/// (`vn/tendermint/vote/v1`, `…/proposal/v1`) and the chain id, so a signature never passes for
/// another message kind, another chain, or an envelope (which the same key signs with keccak).
public enum ConsensusSignature {
    public static let byteCount = 65

    public static func digest(_ signBytes: [UInt8]) -> [UInt8] { SHA256.hash(signBytes) }

    public static func sign(_ signBytes: [UInt8], key: PrivateKey) throws -> [UInt8] {
        try key.signRecoverable(digest: digest(signBytes)).bytes65
    }

    /// The address whose key made `signature` over `signBytes`, or nil for anything malformed
    /// (wrong length, high s, `v` outside {0, 1}, no recoverable key).
    public static func signer(of signBytes: [UInt8], signature: [UInt8]) -> Address? {
        guard signature.count == byteCount,
            let sig = try? RecoverableSignature(bytes65: signature),
            let key = try? PublicKey.recover(sig, digest: digest(signBytes))
        else { return nil }
        return try? Address(bytes: key.ethereumAddressBytes)
    }
}

/// A vote with its validator's signature. Wire layout: `Vote · 65-byte signature`.
public struct SignedVote: Hashable, Sendable, WireMessage, CustomStringConvertible {
    public let vote: Vote
    public let signature: [UInt8]

    public init(vote: Vote, signature: [UInt8]) {
        self.vote = vote
        self.signature = signature
    }

    public static func sign(_ vote: Vote, chainID: String, key: PrivateKey) throws -> SignedVote {
        SignedVote(vote: vote, signature: try ConsensusSignature.sign(vote.signBytes(chainID: chainID), key: key))
    }

    /// Whether the signature is the named validator's.
    public func verify(chainID: String) -> Bool {
        ConsensusSignature.signer(of: vote.signBytes(chainID: chainID), signature: signature) == vote.validator
    }

    public var description: String { "signed \(vote)" }

    public func encode(to writer: inout WireWriter) {
        writer.writeMessage(vote)
        writer.writeFixedBytes(signature)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        vote = try reader.readMessage(Vote.self)
        signature = try reader.readFixedBytes(count: ConsensusSignature.byteCount)
    }
}

/// Why a signed commit does not prove that a block was decided.
public enum CommitError: Error, Hashable, Sendable, CustomStringConvertible {
    case badSignature(Address)
    case certificate(CertificateError)
    case wrongBlock(expected: ValueID, got: ValueID)
    case wrongHeight(expected: Height, got: Height)

    public var description: String {
        switch self {
        case .badSignature(let a): "the precommit of \(a) is not signed by its key"
        case .certificate(let e): "\(e)"
        case .wrongBlock(let e, let g): "commit for block \(g), expected \(e)"
        case .wrongHeight(let e, let g): "commit for height \(g), expected \(e)"
        }
    }
}

/// `2f + 1` signed precommits for one block (CometBFT's `Commit`): what a node keeps with each
/// block so that others (block sync, the next block's `lastCommit`) can check the decision
/// without trusting whoever relays it.
///
/// Wire layout: `u64 height · i64 round · 32-byte block id · array of SignedVote` (strictly
/// increasing by validator address).
public struct SignedCommit: Hashable, Sendable, WireMessage, CustomStringConvertible {
    public let height: Height
    public let round: Round
    public let blockID: ValueID
    /// Sorted by validator address.
    public let votes: [SignedVote]

    public init(height: Height, round: Round, blockID: ValueID, votes: [SignedVote]) {
        self.height = height
        self.round = round
        self.blockID = blockID
        self.votes = votes.sorted { $0.vote.validator < $1.vote.validator }
    }

    /// The core's view (signatures stripped).
    public var certificate: CommitCertificate {
        CommitCertificate(height: height, round: round, valueID: blockID, precommits: votes.map(\.vote))
    }

    /// Every signature valid, and the precommits those of distinct members of `validators` for
    /// this `(height, round, block)` with more than 2/3 of the power.
    public func verify(chainID: String, validators: ValidatorSet) throws(CommitError) {
        do {
            try certificate.verify(against: validators)
        } catch {
            throw .certificate(error)
        }
        // Signatures last: they are the expensive part, and a malformed commit is refused first.
        for v in votes where !v.verify(chainID: chainID) { throw .badSignature(v.vote.validator) }
    }

    /// `verify`, plus the expected height and block.
    public func verify(
        chainID: String, validators: ValidatorSet, height: Height, blockID: ValueID
    )
        throws(CommitError)
    {
        guard self.height == height else { throw .wrongHeight(expected: height, got: self.height) }
        guard self.blockID == blockID else { throw .wrongBlock(expected: blockID, got: self.blockID) }
        try verify(chainID: chainID, validators: validators)
    }

    public var description: String { "signed commit(h=\(height) r=\(round) \(blockID), \(votes.count) votes)" }

    public func encode(to writer: inout WireWriter) {
        writer.writeMessage(height)
        writer.writeMessage(round)
        writer.writeMessage(blockID)
        writer.writeArray(votes) { $0.writeMessage($1) }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        height = try reader.readMessage(Height.self)
        round = try reader.readMessage(Round.self)
        guard !round.isNone else { throw .invalidValue("commit round must be defined") }
        blockID = try reader.readMessage(ValueID.self)
        let votes = try reader.readArray(maxCount: ValidatorSet.maxCount, minimumElementSize: 103) {
            (r: inout WireReader) throws(WireError) in try r.readMessage(SignedVote.self)
        }
        for i in votes.indices.dropFirst() where !(votes[i - 1].vote.validator < votes[i].vote.validator) {
            throw .invalidValue("commit votes not strictly sorted by validator")
        }
        self.votes = votes
    }
}
