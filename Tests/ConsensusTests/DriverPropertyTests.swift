import PropertyBased
import Testing
import Wire

@testable import Tendermint

/// One random step fed to a driver: a message from another validator or a timer.
private struct Action: Sendable, CustomStringConvertible {
    let kind: Int  // 0 proposal, 1 prevote, 2 precommit, 3…5 timeouts
    let round: Int64
    let from: UInt8
    let value: Int  // 0 A, 1 B, 2 nil
    let validRound: Int64
    let valid: Bool

    var description: String { "k\(kind) r\(round) from\(from) v\(value) vr\(validRound) \(valid)" }
}

private let anyAction = zip(
    Gen.int(in: 0...5), Gen.int64(in: 0...3), Gen.uint8(in: 1...4), Gen.int(in: 0...2), Gen.int64(in: -1...2), Gen.bool
).map { Action(kind: $0, round: $1, from: $2, value: $3, validRound: $4, valid: $5) }

@Suite("Driver invariants under random input")
struct DriverPropertyTests {
    /// Whatever the peers send and whenever timers fire: the WAL rule holds, the node never signs
    /// two different messages for one (height, round, step), its lock round never goes back within
    /// a height, it decides each height at most once, and the host never sees an error.
    @Test("random inputs never break the WAL rule, the double-sign guard, the lock or agreement with itself")
    func invariants() async {
        await propertyCheck(count: 300, input: anyAction.array(of: 0...80), Gen.uint8(in: 1...4)) { actions, me in
            let values = [value("A"), value("B")]
            var d = Driver(config: config(me), height: 1)
            var signed: [String: SignedMessage] = [:]
            var decided: Set<Height> = []
            var lockRound = Round.none
            var pending = [Driver.Input.newHeight(fourEqual)]
            var sets: [Height: ValidatorSet] = [1: fourEqual]
            func feed(_ input: Driver.Input) {
                let effects: [Driver.Effect]
                do { effects = try d.handle(input) } catch {
                    Issue.record("error \(error) on \(input)")
                    return
                }
                checkWALRule(effects)
                for e in effects {
                    switch e {
                    case .persistSigned(let m):
                        let key = "\(m.height)/\(m.round)/\(m.step)"
                        if let earlier = signed[key] { #expect(earlier == m, "signed \(earlier) and \(m)") }
                        signed[key] = m
                    case .getValue(let h, let r):
                        pending.append(.proposeValue(values[Int(r.value % 2)], height: h, round: r))
                    case .decide(let h, _, _, let certificate):
                        #expect(decided.insert(h).inserted, "decided \(h) twice")
                        #expect(throws: Never.self) { try certificate.verify(against: sets[h]!) }
                        let next = try! sets[h]!.next()
                        sets[h.next] = next
                        lockRound = .none
                        pending.append(.newHeight(next))
                    default: break
                    }
                }
                let lr = d.roundState.lockedRound
                #expect(lr >= lockRound || d.roundState.locked == nil, "lock went back from \(lockRound) to \(lr)")
                lockRound = d.roundState.lockedRound
            }
            for action in actions {
                while !pending.isEmpty { feed(pending.removeFirst()) }
                let h = d.roundState.height
                let r = Round(action.round)
                let v: Value? = action.value < 2 ? values[action.value] : nil
                guard let set = sets[h] else { continue }
                switch action.kind {
                case 0:
                    let proposer = set.proposer(forRound: r).address
                    guard proposer != addr(me) else { continue }
                    let vr = Round(min(action.validRound, action.round - 1))
                    let p = Proposal(height: h, round: r, value: v ?? values[0], validRound: vr, proposer: proposer)
                    feed(.proposal(p, valid: action.valid))
                case 1, 2:
                    guard action.from != me else { continue }
                    let type: VoteType = action.kind == 1 ? .prevote : .precommit
                    feed(.vote(Vote(type: type, height: h, round: r, valueID: v?.id, validator: addr(action.from))))
                default:
                    let kind: TimeoutKind = [.propose, .prevote, .precommit][action.kind - 3]
                    feed(.timeout(kind, height: h, round: d.roundState.round.isNone ? r : d.roundState.round))
                }
            }
            #expect(d.counters.doubleSignRefused == 0)
        }
    }
}
