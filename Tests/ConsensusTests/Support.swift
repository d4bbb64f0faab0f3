import Testing
import Wire

@testable import Tendermint

/// Validator `n`'s address: 19 zero bytes and `n` (so address order = numeric order).
func addr(_ n: UInt8) -> Address { try! Address(bytes: [UInt8](repeating: 0, count: 19) + [n]) }

func value(_ text: String) -> Value { Value(bytes: Array(text.utf8)) }

/// Four validators of power 1 (f = 1, a quorum is 3): proposers of height 1 go a1, a2, a3, a4.
let fourEqual = try! ValidatorSet((1...4).map { Validator(address: addr($0), power: 1) })

let testTimeouts = TimeoutConfig(
    propose: 300, proposeDelta: 100, prevote: 200, prevoteDelta: 50, precommit: 200, precommitDelta: 50)

func config(_ me: UInt8) -> DriverConfig {
    DriverConfig(chainID: "test-chain", address: addr(me), timeouts: testTimeouts)
}

func timeout(_ kind: TimeoutKind, _ h: Height, _ r: Round) -> Driver.Effect {
    .scheduleTimeout(Timeout(kind: kind, height: h, round: r, durationMs: testTimeouts.duration(kind, round: r)))
}

/// `persistSigned` then `broadcast` of a vote: the WAL rule.
/// The values the tests use, by id (a locking precommit's record carries its value).
let testValues = Dictionary(uniqueKeysWithValues: ["A", "B"].map { (value($0).id, value($0)) })

/// The record the driver persists for its own vote.
func record(_ v: Vote) -> SignedMessage {
    .vote(v, value: v.type == .precommit ? v.valueID.flatMap { testValues[$0] } : nil)
}

func signed(_ v: Vote) -> [Driver.Effect] { [.persistSigned(record(v)), .broadcastVote(v)] }
func signed(_ p: Proposal) -> [Driver.Effect] { [.persistSigned(.proposal(p)), .broadcastProposal(p)] }

func prevote(_ r: Round, _ v: Value?, from n: UInt8, h: Height = 1) -> Vote { .prevote(h, r, v?.id, from: addr(n)) }
func precommit(_ r: Round, _ v: Value?, from n: UInt8, h: Height = 1) -> Vote {
    .precommit(h, r, v?.id, from: addr(n))
}
func proposal(_ r: Round, _ v: Value, vr: Round = .none, from n: UInt8, h: Height = 1) -> Proposal {
    Proposal(height: h, round: r, value: v, validRound: vr, proposer: addr(n))
}

/// One row of a table: an input, the effects it must produce (in order) and, optionally, the
/// state after it.
struct Row {
    let input: Driver.Input
    let effects: [Driver.Effect]
    let state: ((RoundState) -> Bool)?
    let note: String

    init(_ input: Driver.Input, _ effects: [Driver.Effect], _ note: String = "", state: ((RoundState) -> Bool)? = nil) {
        self.input = input
        self.effects = effects
        self.state = state
        self.note = note
    }
}

/// Runs the rows in order against `driver`, checking every row's effects and state, and the
/// WAL rule (every broadcast right after the persist of the same message) on every output.
@discardableResult
func run(_ driver: inout Driver, _ rows: [Row], sourceLocation: SourceLocation = #_sourceLocation) -> Driver {
    for (i, row) in rows.enumerated() {
        let effects: [Driver.Effect]
        do {
            effects = try driver.handle(row.input)
        } catch {
            Issue.record("row \(i) (\(row.note)): unexpected error \(error)", sourceLocation: sourceLocation)
            return driver
        }
        #expect(
            effects == row.effects,
            "row \(i) (\(row.note)): got \(effects.map(\.description)), expected \(row.effects.map(\.description))",
            sourceLocation: sourceLocation)
        checkWALRule(effects, sourceLocation: sourceLocation)
        if let state = row.state {
            #expect(
                state(driver.roundState), "row \(i) (\(row.note)): state \(driver.roundState)",
                sourceLocation: sourceLocation)
        }
    }
    return driver
}

func checkWALRule(_ effects: [Driver.Effect], sourceLocation: SourceLocation = #_sourceLocation) {
    for (i, e) in effects.enumerated() {
        switch e {
        case .broadcastVote(let v):
            let persisted = i > 0 && effects[i - 1] == .persistSigned(record(v))
            let resent = !effects.contains(.persistSigned(record(v)))
            #expect(
                persisted || resent, "broadcast of \(v) not right after its persist", sourceLocation: sourceLocation)
        case .broadcastProposal(let p):
            let persisted = i > 0 && effects[i - 1] == .persistSigned(.proposal(p))
            let resent = !effects.contains(.persistSigned(.proposal(p)))
            #expect(
                persisted || resent, "broadcast of \(p) not right after its persist", sourceLocation: sourceLocation)
        default: break
        }
    }
}

/// A driver for validator `me` that has started height 1 of `set` (the start effects are dropped).
func started(_ me: UInt8, set: ValidatorSet = fourEqual) -> Driver {
    var d = Driver(config: config(me), height: 1)
    _ = try! d.handle(.newHeight(set))
    return d
}
