import Testing
import Wire

@testable import TSSCore

/// Who signs (pure): own presignature sets, fresh sets, silent validators avoided for a while.
@Suite struct SignerSelectionTests {
    static let parties = (1...5).map { i in try! Address(bytes: [UInt8](repeating: UInt8(i * 16), count: 20)) }
    static func p(_ i: Int) -> Address { parties[i] }

    @Test("own set: the node and the next t parties in the key's order, wrapping; sorted")
    func ownSets() {
        let table: [(me: Int, t: Int, expected: [Int]?)] = [
            (0, 2, [0, 1, 2]), (3, 2, [0, 3, 4]), (4, 2, [0, 1, 4]), (4, 1, [0, 4]), (2, 0, [2]),
            (1, 4, [0, 1, 2, 3, 4]), (1, 5, nil), (1, -1, nil),
        ]
        for row in table {
            let got = SignerSelection.ownSet(parties: Self.parties, me: Self.p(row.me), threshold: row.t)
            #expect(got == row.expected.map { $0.map(Self.p) }, "me \(row.me), t \(row.t)")
        }
        // Every party lies in some node's own set, and the sets differ.
        let sets = (0..<5).map { SignerSelection.ownSet(parties: Self.parties, me: Self.p($0), threshold: 2)! }
        #expect(Set(sets.flatMap { $0 }) == Set(Self.parties))
        #expect(Set(sets).count == 5)
        // A node that holds no share has no set.
        let stranger = try! Address(bytes: [UInt8](repeating: 0xEE, count: 20))
        #expect(SignerSelection.ownSet(parties: Self.parties, me: stranger, threshold: 2) == nil)
    }

    @Test("fresh set: this node first, then the key's order, excluded never, silent ones last")
    func choose() {
        var s = SignerSelection(me: Self.p(2))
        #expect(s.choose(parties: Self.parties, threshold: 2, excluding: [], nowMs: 0) == [0, 1, 2].map(Self.p))
        #expect(
            s.choose(parties: Self.parties, threshold: 2, excluding: [Self.p(0)], nowMs: 0) == [1, 2, 3].map(Self.p))
        // p1 goes silent at t = 1,000: avoided (last resort) until 31,000.
        s.markSilent([Self.p(1)], nowMs: 1_000)
        #expect(s.choose(parties: Self.parties, threshold: 2, excluding: [], nowMs: 2_000) == [0, 2, 3].map(Self.p))
        #expect(s.isAvoided([Self.p(0), Self.p(1)], nowMs: 2_000))
        #expect(s.avoidedUntil([Self.p(1), Self.p(4)], nowMs: 2_000) == 31_000)
        // Only the silent party left besides this node: used rather than no set.
        #expect(
            s.choose(parties: Self.parties, threshold: 1, excluding: [Self.p(0), Self.p(3), Self.p(4)], nowMs: 2_000)
                == [1, 2].map(Self.p))
        // Not enough parties left at all: nil.
        #expect(
            s.choose(parties: Self.parties, threshold: 2, excluding: [Self.p(0), Self.p(3), Self.p(4)], nowMs: 2_000)
                == nil)
        // After the avoid period the key's order again.
        #expect(!s.isAvoided([Self.p(1)], nowMs: 31_000))
        #expect(s.choose(parties: Self.parties, threshold: 2, excluding: [], nowMs: 31_000) == [0, 1, 2].map(Self.p))
        // This node never avoids itself; expired entries are dropped on the next mark.
        s.markSilent([Self.p(2), Self.p(4)], nowMs: 40_000)
        #expect(s.avoidUntil == [Self.p(4): 70_000])
        // A node outside the key chooses nothing.
        #expect(
            SignerSelection(me: try! Address(bytes: [UInt8](repeating: 0xEE, count: 20))).choose(
                parties: Self.parties, threshold: 2, excluding: [], nowMs: 0) == nil)
    }

    @Test("a missing pooled presignature: the next pooled one while tries ≤ leases, then presign")
    func nextPooledAfterMissing() {
        let table: [(missing: Int, leases: Int, next: Bool)] = [
            (0, 2, false), (1, 2, true), (2, 2, true), (3, 2, false), (1, 0, false), (1, 1, true), (2, 1, false),
        ]
        for row in table {
            #expect(
                SignerSelection.triesNextPooled(afterMissing: row.missing, leases: row.leases) == row.next,
                "\(row)")
        }
    }
}
