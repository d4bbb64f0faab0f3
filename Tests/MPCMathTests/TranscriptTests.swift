import CryptoPrimitives
import MPCMath
import Secp256k1
import Testing

@Suite("Fiat–Shamir transcript")
struct TranscriptTests {
    static func fresh(tag: String = "test/proof", session: [UInt8] = [1, 2, 3], party: UInt32 = 1) -> Transcript {
        Transcript(protocolTag: tag, sessionID: session, partyIndex: party)
    }

    static func challenge(_ build: (inout Transcript) -> Void) -> Scalar {
        var t = fresh()
        build(&t)
        return t.challengeScalar("e")
    }

    /// TSSHOCK's ambiguous encoding: the same bytes split differently must not collide.
    @Test func differentSplitsGiveDifferentChallenges() {
        let splits: [[[UInt8]]] = [
            [Array("abc".utf8)], [Array("ab".utf8), Array("c".utf8)], [Array("a".utf8), Array("bc".utf8)],
            [Array("a".utf8), Array("b".utf8), Array("c".utf8)], [Array("abc".utf8), []], [[], Array("abc".utf8)],
            // tss-lib joined with "$": an item containing the separator.
            [Array("a$b".utf8)], [Array("a".utf8), Array("b".utf8)], [Array("a$".utf8), Array("b".utf8)],
        ]
        var seen = Set<[UInt8]>()
        for split in splits {
            let e = Self.challenge { t in for item in split { t.append("x", bytes: item) } }
            seen.insert(e.bytes)
        }
        #expect(seen.count == splits.count)
        // Bytes moved between the label and the data.
        let a = Self.challenge { $0.append("ab", bytes: Array("c".utf8)) }
        let b = Self.challenge { $0.append("a", bytes: Array("bc".utf8)) }
        #expect(a != b)
        // Same bytes under different types.
        let asBytes = Self.challenge { $0.append("x", bytes: [0, 5]) }
        let asInteger = Self.challenge { $0.append("x", integer: 5) }
        let asList = Self.challenge { $0.append("x", integers: [5]) }
        let asUInt = Self.challenge { $0.append("x", uint64: 5) }
        let asScalar = Self.challenge { $0.append("x", scalar: Scalar(UInt64(5))) }
        #expect(Set([asBytes, asInteger, asList, asUInt, asScalar].map(\.bytes)).count == 5)
        // Integer lists split differently; sign is bound.
        let l1 = Self.challenge { $0.append("x", integers: [BigNum(0x0102), BigNum(3)]) }
        let l2 = Self.challenge { $0.append("x", integers: [BigNum(0x01), BigNum(0x0203)]) }
        let l3 = Self.challenge {
            $0.append("x", integer: BigNum(0x0102))
            $0.append("x", integer: BigNum(3))
        }
        #expect(Set([l1, l2, l3].map(\.bytes)).count == 3)
        #expect(Self.challenge { $0.append("x", integer: 5) } != Self.challenge { $0.append("x", integer: -5) })
        // Equal integers encode alike, whatever their leading zeros.
        #expect(
            Self.challenge { $0.append("x", integer: BigNum(bytes: [0, 0, 5])) }
                == Self.challenge { $0.append("x", integer: 5) })
        // Order matters.
        let ab = Self.challenge {
            $0.append("x", bytes: [1])
            $0.append("x", bytes: [2])
        }
        let ba = Self.challenge {
            $0.append("x", bytes: [2])
            $0.append("x", bytes: [1])
        }
        #expect(ab != ba)
    }

    @Test func bindingToSessionPartyAndTag() {
        let base = Self.fresh()
        let variants = [
            base, Self.fresh(session: [1, 2, 4]), Self.fresh(party: 2), Self.fresh(tag: "test/other"),
            Self.fresh(session: [1, 2, 3, 0]), Self.fresh(tag: "test/proof\u{0}", session: [1, 2, 3]),
            // Bytes moved between the tag and the session id.
            Self.fresh(tag: "test/proof\u{1}", session: [2, 3]),
        ]
        var seen = Set<[UInt8]>()
        for var t in variants { seen.insert(t.challengeScalar("e").bytes) }
        #expect(seen.count == variants.count)
        // Deterministic: same inputs, same challenge.
        var x = Self.fresh()
        var y = Self.fresh()
        x.append("p", point: .generator)
        y.append("p", point: .generator)
        #expect(x.challengeScalar("e") == y.challengeScalar("e"))
        // A copy forks: it continues exactly like the original.
        var fork = x
        #expect(fork.challengeScalar("e2") == x.challengeScalar("e2"))
        fork.append("z", bytes: [])
        #expect(fork.challengeScalar("e3") != x.challengeScalar("e3"))
        // Consecutive challenges differ.
        var t1 = Self.fresh()
        let first = t1.challengeScalar("e")
        let second = t1.challengeScalar("e")
        #expect(first != second)
        // The label of the challenge is bound.
        var t2 = Self.fresh()
        var t3 = Self.fresh()
        #expect(t2.challengeScalar("e") != t3.challengeScalar("f"))
        // Points: infinity and G absorb differently.
        var p1 = Self.fresh()
        var p2 = Self.fresh()
        p1.append("p", point: .infinity)
        p2.append("p", point: .generator)
        #expect(p1.challengeScalar("e") != p2.challengeScalar("e"))
    }

    @Test func challengeRanges() throws {
        var t = Self.fresh()
        t.append("seed", bytes: [9])
        let bound = BigNum(1000)
        var seen = Set<Int>()
        for _ in 0..<400 {
            let e = try t.challenge("range", below: bound)
            #expect(!e.isNegative && e < bound)
            seen.insert(Int(e.uint64Value!))
        }
        #expect(seen.count > 300)  // spread over the range
        let small = try (0..<200).map { _ in try t.challenge("small", below: 3) }
        #expect(Set(small) == Set([0, 1, 2] as [BigNum]))
        for bits in [1, 7, 8, 9, 255, 256, 257, 2048] {
            let e = try t.challenge("bits", bits: bits)
            #expect(e.bitLength <= bits)
        }
        let q = CurveOrder.q
        var signs = Set<Int>()
        for _ in 0..<64 {
            let e = try t.challengeSigned("signed", magnitudeAtMost: q)
            #expect(e.magnitude <= q)
            signs.insert(e.signum)
        }
        #expect(signs.contains(1) && signs.contains(-1))
        let tiny = try (0..<100).map { _ in try t.challengeSigned("tiny", magnitudeAtMost: 1) }
        #expect(Set(tiny) == Set([-1, 0, 1] as [BigNum]))
        let n = MPCFixtures.paillierKeys[0].publicKey.n
        let ys = try t.challenges("pi-mod", count: 80, below: n)
        #expect(ys.count == 80 && Set(ys).count == 80 && ys.allSatisfy { $0 < n && !$0.isNegative })
        #expect(try t.challengeBytes("bits", count: 16).count == 16)
        #expect(throws: MPCMathError.self) { try t.challenge("x", below: .zero) }
        #expect(throws: MPCMathError.self) { try t.challenge("x", below: BigNum(-5)) }
        #expect(throws: MPCMathError.self) { try t.challenge("x", bits: 0) }
        #expect(throws: MPCMathError.self) { try t.challengeSigned("x", magnitudeAtMost: .zero) }
        #expect(throws: MPCMathError.self) { try t.challenges("x", count: 0, below: n) }
        #expect(throws: MPCMathError.self) { try t.challengeBytes("x", count: 0) }
        // The requested range is bound into the challenge: same label, different bound, different stream.
        var a = Self.fresh()
        var b = Self.fresh()
        let big = try BigNum.powerOfTwo(300)
        #expect(try a.challenge("e", below: big) != b.challenge("e", below: big + .one))
    }

    /// Freezes the encoding: a change to the framing shows up here (update the constant only on
    /// purpose, with a version bump of the domain string).
    @Test func frozenVector() throws {
        var t = Transcript(protocolTag: "vn/test", sessionID: Array("session".utf8), partyIndex: 3)
        t.append("bytes", bytes: [1, 2, 3])
        t.append("int", integer: BigNum(-258))
        t.append("point", point: .generator)
        let e = t.challengeScalar("e")
        // Recompute by hand from the documented encoding.
        func u32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * (3 - $0))) } }
        func u64(_ v: Int) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * (7 - $0))) } }
        func field(_ s: [UInt8]) -> [UInt8] { u32(s.count) + s }
        var state = SHA256.hash(
            field(Array("vn/fiat-shamir/v1".utf8)) + field(Array("vn/test".utf8)) + field(Array("session".utf8))
                + u32(3))
        func absorb(_ kind: UInt8, _ label: String, _ data: [UInt8]) {
            state = SHA256.hash(state + [kind] + field(Array(label.utf8)) + u64(data.count) + data)
        }
        absorb(0x01, "bytes", [1, 2, 3])
        absorb(0x02, "int", [1, 0x01, 0x02])
        absorb(0x04, "point", Point.generator.encoded)
        absorb(0x10, "e", u64(0) + [0x01])
        let block = SHA256.hash(state + [0xFF] + u64(0))
        #expect(e.bytes == block)  // below q with overwhelming probability, so no rejection
    }
}
