import Foundation
import LevelDB
import Testing
import Wire

@testable import ConsensusStore
@testable import Tendermint

/// Validator `n`'s address: 19 zero bytes and `n`.
func addr(_ n: UInt8) -> Address { try! Address(bytes: [UInt8](repeating: 0, count: 19) + [n]) }

func value(_ text: String) -> Value { Value(bytes: Array(text.utf8)) }

let A = value("block A")
let B = value("block B")

/// Four validators of power 1: the proposers of height 1 go a1, a2, a3, a4.
let fourEqual = try! ValidatorSet((1...4).map { Validator(address: addr($0), power: 1) })

let chainID = "store-test-chain"

func config(_ me: UInt8) -> DriverConfig { DriverConfig(chainID: chainID, address: addr(me)) }

func prevote(_ r: Round, _ v: Value?, from n: UInt8, h: Height = 1) -> Vote { .prevote(h, r, v?.id, from: addr(n)) }
func precommit(_ r: Round, _ v: Value?, from n: UInt8, h: Height = 1) -> Vote {
    .precommit(h, r, v?.id, from: addr(n))
}
func proposal(_ r: Round, _ v: Value, vr: Round = .none, from n: UInt8, h: Height = 1) -> Proposal {
    Proposal(height: h, round: r, value: v, validRound: vr, proposer: addr(n))
}

/// Precommits of validators 1–3 for `v` at `(h, r)`: a quorum of `fourEqual`.
func certificate(_ v: Value, h: Height, r: Round = 0) -> CommitCertificate {
    CommitCertificate(height: h, round: r, valueID: v.id, precommits: (1...3).map { precommit(r, v, from: $0, h: h) })
}

/// A fresh directory for one LevelDB, removed at deinit.
final class TempDB {
    let path: String
    init() {
        path =
            FileManager.default.temporaryDirectory.appendingPathComponent("consensus-store-\(UUID().uuidString)")
            .path
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Opens the database and the consensus store in it (a process start).
    func open() throws -> (LevelDBStore, ConsensusStore, WALReplay) {
        let db = try LevelDBStore(path: path)
        do {
            let (store, replay) = try ConsensusStore.open(db)
            return (db, store, replay)
        } catch {
            db.close()
            throw error
        }
    }

    /// Runs `body` on the raw database (as a crash or a damaged disk would leave it).
    func raw(_ body: (LevelDBStore) throws -> Void) throws {
        let db = try LevelDBStore(path: path)
        defer { db.close() }
        try body(db)
    }
}

/// The WAL's raw entries, in key order.
func walEntries(_ db: LevelDBStore) throws -> [(height: Height, sequence: UInt32, value: [UInt8])] {
    var out: [(Height, UInt32, [UInt8])] = []
    try db.forEach(prefix: WALRecord.prefix) { key, value in
        let parsed = WALRecord.parseKey(key)!
        out.append((parsed.height, parsed.sequence, value))
        return true
    }
    return out
}

/// A minimal host: performs a driver's effects against the store the way the shell must —
/// `persistSigned` through `appendSigned`, and a broadcast only if the guard permits it — and
/// records what it sent. `crashBeforeSending` stops it right after the first persist (a crash
/// between writing the record and sending the message).
struct Host {
    let store: ConsensusStore
    var sent: [SignedMessage] = []
    var refused: [GuardVerdict] = []
    var crashed = false

    init(store: ConsensusStore) { self.store = store }

    mutating func perform(_ effects: [Driver.Effect], crashBeforeSending: Bool = false) throws {
        for effect in effects {
            guard !crashed else { return }
            switch effect {
            case .persistSigned(let m):
                try store.appendSigned(m)
                if crashBeforeSending { crashed = true }
            case .broadcastVote(let v): send(.vote(v))
            case .broadcastProposal(let p): send(.proposal(p))
            default: break
            }
        }
    }

    private mutating func send(_ m: SignedMessage) {
        let verdict = store.verdict(for: m)
        if verdict.isPermitted { sent.append(m) } else { refused.append(verdict) }
    }
}

/// Whether a thrown store error is the double-sign guard's refusal (not any other store error).
func isDoubleSignRefusal(_ error: ConsensusStoreError?) -> Bool {
    if case .doubleSignRefused? = error { true } else { false }
}

/// Whether a thrown store error is `.corruption`.
func isCorruption(_ error: ConsensusStoreError?) -> Bool {
    if case .corruption? = error { true } else { false }
}

/// Whether a thrown store error is `.outOfOrder` (e.g. a record for an already committed height).
func isOutOfOrder(_ error: ConsensusStoreError?) -> Bool {
    if case .outOfOrder? = error { true } else { false }
}
