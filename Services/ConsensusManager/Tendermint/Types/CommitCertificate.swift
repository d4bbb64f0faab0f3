import Wire

/// Why a commit certificate does not prove a decision.
public enum CertificateError: Error, Hashable, Sendable, CustomStringConvertible {
    case notAPrecommit(Vote)
    case wrongTarget(Vote)
    case unknownValidator(Address)
    case duplicateValidator(Address)
    case insufficientPower(have: UInt64, total: UInt64)

    public var description: String {
        switch self {
        case .notAPrecommit(let v): "\(v) is not a precommit"
        case .wrongTarget(let v): "\(v) is for another height, round or value"
        case .unknownValidator(let a): "\(a) is not a validator of this height"
        case .duplicateValidator(let a): "\(a) signed twice"
        case .insufficientPower(let have, let total): "power \(have) of \(total) is not more than 2/3"
        }
    }
}

/// `2f + 1 ⟨PRECOMMIT, h, r, id(v)⟩` (Algorithm 1, line 49): the precommits that decided a value.
///
/// The core keeps signatures abstract: the host, which verified each vote's signature on receipt
/// (and signed its own), attaches them when it stores or ships the certificate.
///
/// Wire layout: `u64 height · i64 round · 32-byte valueID · array of Vote`.
public struct CommitCertificate: Hashable, Sendable, WireMessage, CustomStringConvertible {
    public static let maxVotes = ValidatorSet.maxCount

    public let height: Height
    public let round: Round
    public let valueID: ValueID
    /// Ordered by validator address.
    public let precommits: [Vote]

    public init(height: Height, round: Round, valueID: ValueID, precommits: [Vote]) {
        self.height = height
        self.round = round
        self.valueID = valueID
        self.precommits = precommits.sorted { $0.validator < $1.validator }
    }

    /// Checks that the precommits are for this `(height, round, value)`, from distinct members of
    /// `validators`, with more than 2/3 of its power.
    public func verify(against validators: ValidatorSet) throws(CertificateError) {
        var seen = Set<Address>()
        var power = UInt128(0)
        for vote in precommits {
            guard vote.type == .precommit else { throw .notAPrecommit(vote) }
            guard vote.height == height, vote.round == round, vote.valueID == valueID else {
                throw .wrongTarget(vote)
            }
            guard let p = validators.power(of: vote.validator) else { throw .unknownValidator(vote.validator) }
            guard seen.insert(vote.validator).inserted else { throw .duplicateValidator(vote.validator) }
            power += UInt128(p)
        }
        guard validators.isQuorum(power) else {
            throw .insufficientPower(have: UInt64(power), total: validators.totalPower)
        }
    }

    public var description: String {
        "commit(h=\(height) r=\(round) \(valueID), \(precommits.count) precommits)"
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeMessage(height)
        writer.writeMessage(round)
        writer.writeMessage(valueID)
        writer.writeArray(precommits) { $0.writeMessage($1) }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        height = try reader.readMessage(Height.self)
        round = try Round.readDefined(&reader, field: "certificate round")
        valueID = try reader.readMessage(ValueID.self)
        let votes = try reader.readArray(maxCount: Self.maxVotes, minimumElementSize: 38) {
            (r: inout WireReader) throws(WireError) in try r.readMessage(Vote.self)
        }
        for i in votes.indices.dropFirst() where !(votes[i - 1].validator < votes[i].validator) {
            throw .invalidValue("precommits not strictly sorted by validator")
        }
        precommits = votes
    }
}
