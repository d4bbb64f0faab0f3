import Wire

/// A validator: its address and voting power.
///
/// Wire layout: `address (20) · u64 power`.
public struct Validator: Hashable, Sendable, WireMessage, CustomStringConvertible {
    public let address: Address
    public let power: UInt64

    public init(address: Address, power: UInt64) {
        self.address = address
        self.power = power
    }

    public var description: String { "\(address):\(power)" }

    public func encode(to writer: inout WireWriter) {
        writer.writeAddress(address)
        writer.writeUInt64(power)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        address = try reader.readAddress()
        power = try reader.readUInt64()
    }
}

/// The validators of one height with their proposer priorities: Tendermint's weighted
/// round-robin proposer selection, as CometBFT computes it (spec/consensus/proposer-selection.md):
/// each run adds every validator's power to its priority, elects the highest priority (ties go to
/// the lower address) and subtracts the total power from the winner. Before a batch of runs the
/// priorities are scaled so that their spread stays within 2 × total power, then centred on
/// their average (rounded down); all priority arithmetic clips at the `Int64` bounds.
///
/// A set is the one for a height: `proposer` is `proposer(h, 0)`; `proposer(forRound:)` gives
/// `proposer(h, r)` = the winner after `r` more runs, computed in one batch (one scaling and
/// centring, then `r` runs) so that every node gets the same answer however it reached round `r`.
/// `next(changes:)` gives the set of the following height (CometBFT's `NextValidators`).
///
/// Validators are kept sorted by address: that is their canonical order on the wire and the
/// tie-break order of the election. Total power is at most `maxTotalPower` (`Int64.max / 8`, so
/// that the new-validator penalty of 1.125 × P cannot overflow).
///
/// Wire layout: `array of (address · u64 power · i64 priority)` strictly increasing by address ·
/// `address proposer`.
public struct ValidatorSet: Hashable, Sendable, WireMessage, CustomStringConvertible {
    public static let maxTotalPower = UInt64(Int64.max / 8)
    /// Largest number of validators the decoder accepts.
    public static let maxCount = 10_000

    public enum Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        case empty
        case duplicate(Address)
        case zeroPower(Address)
        case totalPowerTooLarge
        case removingUnknown(Address)
        case priorityCountMismatch
        case proposerNotMember(Address)

        public var description: String {
            switch self {
            case .empty: "empty validator set"
            case .duplicate(let a): "validator \(a) listed twice"
            case .zeroPower(let a): "validator \(a) has zero power"
            case .totalPowerTooLarge: "total voting power exceeds \(ValidatorSet.maxTotalPower)"
            case .removingUnknown(let a): "cannot remove \(a): not in the set"
            case .priorityCountMismatch: "one priority per validator is needed"
            case .proposerNotMember(let a): "proposer \(a) is not in the set"
            }
        }
    }

    /// Sorted by address.
    public let validators: [Validator]
    /// `priorities[i]` belongs to `validators[i]`.
    public private(set) var priorities: [Int64]
    public let totalPower: UInt64
    private var proposerIndex: Int
    private let indexByAddress: [Address: Int]

    /// A genesis set: priorities start at 0 and one election is run (CometBFT `NewValidatorSet`).
    public init(_ validators: [Validator]) throws(ValidatorSet.Error) {
        try self.init(validators: validators, priorities: nil, proposer: nil)
        incrementProposerPriority(times: 1)
    }

    /// A set with explicit priorities and proposer (a stored set).
    public init(validators: [Validator], priorities: [Int64], proposer: Address) throws(ValidatorSet.Error) {
        try self.init(validators: validators, priorities: priorities, proposer: proposer as Address?)
    }

    private init(validators: [Validator], priorities: [Int64]?, proposer: Address?) throws(ValidatorSet.Error) {
        guard !validators.isEmpty else { throw .empty }
        if let priorities, priorities.count != validators.count { throw .priorityCountMismatch }
        let order = validators.indices.sorted { validators[$0].address < validators[$1].address }
        var sorted = [Validator]()
        var prios = [Int64]()
        var index = [Address: Int]()
        var total: UInt64 = 0
        for i in order {
            let v = validators[i]
            guard v.power > 0 else { throw .zeroPower(v.address) }
            guard index[v.address] == nil else { throw .duplicate(v.address) }
            let (sum, overflow) = total.addingReportingOverflow(v.power)
            guard !overflow, sum <= Self.maxTotalPower else { throw .totalPowerTooLarge }
            total = sum
            index[v.address] = sorted.count
            sorted.append(v)
            prios.append(priorities?[i] ?? 0)
        }
        self.validators = sorted
        self.priorities = prios
        self.totalPower = total
        self.indexByAddress = index
        if let proposer {
            guard let p = index[proposer] else { throw .proposerNotMember(proposer) }
            self.proposerIndex = p
        } else {
            self.proposerIndex = 0
        }
    }

    public var count: Int { validators.count }

    /// `proposer(h, 0)`.
    public var proposer: Validator { validators[proposerIndex] }

    /// `proposer(h, r)`: O(r · n); the driver memoizes the sequence (`ProposerSchedule`).
    public func proposer(forRound round: Round) -> Validator {
        guard round.value > 0 else { return proposer }
        return incremented(times: round.value).proposer
    }

    public func index(of address: Address) -> Int? { indexByAddress[address] }
    public func power(of address: Address) -> UInt64? { indexByAddress[address].map { validators[$0].power } }
    public func contains(_ address: Address) -> Bool { indexByAddress[address] != nil }

    /// `power > 2/3 · total` (a quorum: 2f + 1 in the paper's notation).
    @inlinable
    public func isQuorum(_ power: UInt128) -> Bool { power * 3 > UInt128(totalPower) * 2 }

    /// `power > 1/3 · total` (f + 1: at least one correct validator is among them).
    @inlinable
    public func isOneThird(_ power: UInt128) -> Bool { power * 3 > UInt128(totalPower) }

    /// A copy after `times` more elections (CometBFT `CopyIncrementProposerPriority`).
    public func incremented(times: Int64) -> ValidatorSet {
        var copy = self
        copy.incrementProposerPriority(times: times)
        return copy
    }

    /// The set of the next height: `changes` applied (power 0 removes a validator, a new address
    /// joins at priority −1.125 × P, an existing one keeps its priority), then one election.
    public func next(changes: [Validator] = []) throws(ValidatorSet.Error) -> ValidatorSet {
        var set = changes.isEmpty ? self : try applying(changes)
        set.incrementProposerPriority(times: 1)
        return set
    }

    private func applying(_ changes: [Validator]) throws(ValidatorSet.Error) -> ValidatorSet {
        var seen = Set<Address>()
        for c in changes {
            guard seen.insert(c.address).inserted else { throw .duplicate(c.address) }
            if c.power == 0, indexByAddress[c.address] == nil { throw .removingUnknown(c.address) }
        }
        let byAddress = Dictionary(uniqueKeysWithValues: changes.map { ($0.address, $0) })
        // P after updates and additions, before removals (as CometBFT computes the penalty).
        var totalBeforeRemovals = UInt128(0)
        for v in validators { totalBeforeRemovals += UInt128(byAddress[v.address]?.power ?? v.power) }
        for c in changes where indexByAddress[c.address] == nil { totalBeforeRemovals += UInt128(c.power) }
        guard totalBeforeRemovals <= UInt128(Self.maxTotalPower) else { throw .totalPowerTooLarge }
        let penalty = Int64(totalBeforeRemovals + totalBeforeRemovals >> 3)

        var newValidators = [Validator]()
        var newPriorities = [Int64]()
        for (i, v) in validators.enumerated() {
            let power = byAddress[v.address]?.power ?? v.power
            guard power > 0 else { continue }
            newValidators.append(Validator(address: v.address, power: power))
            newPriorities.append(priorities[i])
        }
        for c in changes where indexByAddress[c.address] == nil && c.power > 0 {
            newValidators.append(c)
            newPriorities.append(-penalty)
        }
        var set = try ValidatorSet(validators: newValidators, priorities: newPriorities, proposer: nil)
        set.rescalePriorities()
        set.shiftByAveragePriority()
        return set
    }

    // MARK: The election (CometBFT `IncrementProposerPriority`)

    private mutating func incrementProposerPriority(times: Int64) {
        precondition(times > 0, "times must be positive")
        prepareBatch()
        for _ in 0..<times { proposerIndex = electOnce() }
    }

    /// The prologue of a batch of elections: scale, then centre.
    mutating func prepareBatch() {
        rescalePriorities()
        shiftByAveragePriority()
    }

    /// One run: everyone moves ahead by its power, the highest priority wins (the lowest address
    /// among equals: validators are sorted by address and only a strictly higher one replaces the
    /// winner) and moves back by the total power.
    mutating func electOnce() -> Int {
        var best = 0
        for i in priorities.indices {
            priorities[i] = Self.clip(Int128(priorities[i]) + Int128(validators[i].power))
            if priorities[i] > priorities[best] { best = i }
        }
        priorities[best] = Self.clip(Int128(priorities[best]) - Int128(totalPower))
        return best
    }

    /// Divides every priority by ⌈spread / (2P)⌉ (rounding toward zero) when the spread exceeds 2P.
    private mutating func rescalePriorities() {
        let window = 2 * Int128(totalPower)
        guard window > 0, let lo = priorities.min(), let hi = priorities.max() else { return }
        let spread = Int128(hi) - Int128(lo)
        guard spread > window else { return }
        let ratio = (spread + window - 1) / window
        for i in priorities.indices { priorities[i] = Int64(Int128(priorities[i]) / ratio) }
    }

    /// Subtracts the average priority, rounded toward −∞ (Go's `big.Int.Div`).
    private mutating func shiftByAveragePriority() {
        let n = Int128(priorities.count)
        let sum = priorities.reduce(Int128(0)) { $0 + Int128($1) }
        var average = sum / n
        if sum % n != 0, sum < 0 { average -= 1 }
        for i in priorities.indices { priorities[i] = Self.clip(Int128(priorities[i]) - average) }
    }

    private static func clip(_ x: Int128) -> Int64 {
        x > Int128(Int64.max) ? .max : x < Int128(Int64.min) ? .min : Int64(x)
    }

    public var description: String {
        "validators[" + zip(validators, priorities).map { "\($0.0) prio \($0.1)" }.joined(separator: ", ")
            + "; proposer \(proposer.address)]"
    }

    public static func == (a: ValidatorSet, b: ValidatorSet) -> Bool {
        a.validators == b.validators && a.priorities == b.priorities && a.proposerIndex == b.proposerIndex
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(validators)
        hasher.combine(priorities)
        hasher.combine(proposerIndex)
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeUInt32(UInt32(validators.count))
        for (v, p) in zip(validators, priorities) {
            writer.writeMessage(v)
            writer.writeInt64(p)
        }
        writer.writeAddress(proposer.address)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        let entries = try reader.readArray(maxCount: Self.maxCount, minimumElementSize: 36) {
            (r: inout WireReader) throws(WireError) in (try r.readMessage(Validator.self), try r.readInt64())
        }
        let proposer = try reader.readAddress()
        for i in entries.indices.dropFirst() where !(entries[i - 1].0.address < entries[i].0.address) {
            throw .invalidValue("validators not strictly sorted by address")
        }
        do {
            try self.init(validators: entries.map(\.0), priorities: entries.map(\.1), proposer: proposer)
        } catch {
            throw .invalidValue(error.description)
        }
    }
}

/// `proposer(h, r)` for every round of one height, computed once each and remembered: round `r`
/// costs one election more than round `r − 1` (the batch of `ValidatorSet.proposer(forRound:)`).
struct ProposerSchedule: Sendable {
    let base: ValidatorSet
    private var running: ValidatorSet
    private var sequence: [Int]

    init(_ set: ValidatorSet) {
        base = set
        sequence = [set.index(of: set.proposer.address)!]
        // One scaling and centring for the whole batch, as `incremented(times:)` does.
        running = set
        running.prepareBatch()
    }

    mutating func proposer(_ round: Round) -> Address {
        precondition(!round.isNone)
        while sequence.count <= Int(round.value) { sequence.append(running.electOnce()) }
        return base.validators[sequence[Int(round.value)]].address
    }
}
