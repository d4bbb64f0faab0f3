import CryptoPrimitives
import MPCMath
import PropertyBased
import Secp256k1
import Testing

/// A scalar from a choice and 32 random bytes: mostly uniform, sometimes an edge value.
private func scalar(_ choice: Int, _ bytes: [UInt8]) -> Scalar {
    switch choice {
    case 0: .zero
    case 1: .one
    case 2: -Scalar.one  // n − 1
    default: try! Scalar(reducing: bytes)
    }
}

private let scalarInput = Gen.int(in: 0..<12)
private let scalarBytes = Gen.uint8().array(of: 32)

@Suite("Scalar and Point")
struct GroupTests {
    static let q = CurveOrder.q

    @Test func scalarBasics() throws {
        #expect(Scalar.zero.isZero && !Scalar.one.isZero)
        #expect(Scalar(UInt64(5)).bytes == [UInt8](repeating: 0, count: 31) + [5])
        #expect(throws: GroupError.invalidScalar) { try Scalar(bytes: Scalar.orderBytes) }
        #expect(throws: GroupError.invalidScalar) { try Scalar(bytes: [1, 2, 3]) }
        #expect(throws: GroupError.invalidScalar) { try Scalar(reducing: [1, 2, 3]) }
        #expect(try Scalar(reducing: Scalar.orderBytes) == .zero)
        let max = [UInt8](repeating: 0xff, count: 32)  // 2^256 − 1 ≡ 2^256 − 1 − n
        #expect(try Scalar(reducing: max) == Scalar(reducing: BigNum(bytes: max)))
        #expect(-Scalar.one + Scalar.one == .zero)
        #expect(Scalar(UInt64(7)) - Scalar(UInt64(9)) == -Scalar(UInt64(2)))
        #expect(Scalar(UInt64(6)) * Scalar(UInt64(7)) == Scalar(UInt64(42)))
        #expect(try Scalar(UInt64(2)).inverse() * Scalar(UInt64(2)) == .one)
        #expect(try Scalar.one.inverse() == .one)
        #expect(try (-Scalar.one).inverse() == -Scalar.one)
        #expect(throws: GroupError.notInvertible) { try Scalar.zero.inverse() }
        #expect(Scalar.zero.description == "<redacted>" && String(reflecting: Scalar.one) == "Scalar(<redacted>)")
        #expect(throws: GroupError.invalidScalar) { try Scalar.zero.privateKey() }
        let key = try Scalar(UInt64(1)).privateKey()
        #expect(Point(key.publicKey) == .generator)
        #expect(Scalar(key) == .one)
        // BigNum bridge.
        #expect(try Scalar(reducing: BigNum(-1)) == -Scalar.one)
        #expect(try Scalar(reducing: Self.q + 5) == Scalar(UInt64(5)))
        #expect(BigNum(Scalar(UInt64(77))) == 77)
        var rng = SeededRandom(seed: "scalars")
        let drawn = (0..<50).map { _ in Scalar.random(using: &rng) }
        #expect(drawn.allSatisfy { !$0.isZero })
        #expect(Set(drawn.map(\.bytes)).count == 50)
        #expect(!Scalar.random().isZero)
    }

    @Test func hashToScalar() throws {
        let a = Scalar.hash(domain: "test/a", message: [1, 2, 3])
        #expect(a == Scalar.hash(domain: "test/a", message: [1, 2, 3]))
        #expect(a != Scalar.hash(domain: "test/b", message: [1, 2, 3]))
        #expect(a != Scalar.hash(domain: "test/a", message: [1, 2, 3, 0]))
        // The framing is injective: moving bytes between domain and message changes the result.
        #expect(
            Scalar.hash(domain: "ab", message: Array("c".utf8)) != Scalar.hash(domain: "a", message: Array("bc".utf8)))
        // Frozen value (changes only if the framing does).
        #expect(
            hexString(Scalar.hash(domain: "vn/test", message: []).bytes)
                == hexString(
                    SHA256.hash(
                        Array("vn/hash-to-scalar/v1".utf8) + [0, 0, 0, 7] + Array("vn/test".utf8)
                            + [UInt8](repeating: 0, count: 8) + [0, 0, 0, 0])))
    }

    @Test func scalarFieldLaws() async {
        await propertyCheck(count: 200, input: scalarInput, scalarBytes, scalarInput, scalarBytes) {
            ca, ba, cb, bb throws in
            let a = scalar(ca, ba)
            let b = scalar(cb, bb)
            let (x, y) = (BigNum(a), BigNum(b))
            #expect(BigNum(a + b, secret: false) == (try x.modAdd(y, Self.q)))
            #expect(BigNum(a * b, secret: false) == (try x.modMul(y, Self.q)))
            #expect(BigNum(a - b, secret: false) == (try x.modSub(y, Self.q)))
            #expect(a + b == b + a && a * b == b * a)
            #expect(a - a == .zero && a + .zero == a && a * .one == a && a * .zero == .zero)
            #expect(-(-a) == a)
            if !a.isZero {
                let inverse = try a.inverse()
                #expect(inverse * a == .one)
                #expect(BigNum(inverse) == (try x.modInverse(Self.q)))
            }
        }
    }

    @Test func pointBasics() throws {
        let g = Point.generator
        #expect(hexString(g.encoded) == "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
        #expect(Point.generatorMul(.one) == g)
        #expect(Point.generatorMul(.zero) == .infinity)
        #expect(Scalar.zero * g == .infinity && Scalar.one * g == g)
        #expect(Scalar(UInt64(5)) * Point.infinity == .infinity)
        #expect(g + .infinity == g && Point.infinity + g == g && Point.infinity + .infinity == .infinity)
        #expect(g + (-g) == .infinity && g - g == .infinity)
        #expect(-Point.infinity == .infinity)
        #expect(g + g == Point.generatorMul(Scalar(UInt64(2))))
        #expect(Point.sum([]) == .infinity && Point.sum([.infinity, .infinity]) == .infinity)
        #expect(Point.sum([g, g, -g, .infinity]) == g)
        #expect(Point.generatorMul(-Scalar.one) == -g)
        // n·G = ∞ through the group law: (n − 1)G + G.
        #expect(Point.generatorMul(-Scalar.one) + g == .infinity)
        // Encodings.
        #expect(Point.infinity.encoded == [UInt8](repeating: 0, count: 33))
        #expect(try Point(encoded: Point.infinity.encoded) == .infinity)
        #expect(throws: GroupError.invalidPoint) { try Point(compressed: Point.infinity.encoded) }
        #expect(try Point(compressed: g.encoded) == g)
        #expect(throws: GroupError.pointAtInfinity) { try Point.infinity.publicKey() }
        #expect(try g.publicKey() == PrivateKey(bytes: Scalar.one.bytes).publicKey)
        #expect(Point.infinity.description == "Point(infinity)")
        #expect(Set([g, Point.generatorMul(.one), .infinity, .infinity]).count == 2)
    }

    @Test func offCurveAndMalformedEncodingsRejected() throws {
        // x = 5: 125 + 7 = 132 is not a square mod p, so no point has this x.
        var offCurve = [UInt8](repeating: 0, count: 33)
        offCurve[0] = 0x02
        offCurve[32] = 5
        #expect(throws: GroupError.invalidPoint) { try Point(encoded: offCurve) }
        // x ≥ p.
        let xTooLarge = [UInt8(0x02)] + [UInt8](repeating: 0xff, count: 32)
        #expect(throws: GroupError.invalidPoint) { try Point(encoded: xTooLarge) }
        var badPrefix = Point.generator.encoded
        for prefix: UInt8 in [0x00, 0x01, 0x04, 0x05, 0x06, 0x07, 0xff] {
            badPrefix[0] = prefix
            #expect(throws: GroupError.invalidPoint) { try Point(encoded: badPrefix) }
        }
        #expect(throws: GroupError.invalidPoint) { try Point(encoded: Array(Point.generator.encoded.dropLast())) }
        #expect(throws: GroupError.invalidPoint) { try Point(encoded: Point.generator.encoded + [0]) }
        #expect(throws: GroupError.invalidPoint) { try Point(encoded: [UInt8](repeating: 0, count: 32) + [1]) }
        #expect(throws: GroupError.invalidPoint) { try Point(encoded: []) }
    }

    @Test func groupLaws() async {
        await propertyCheck(count: 100, input: scalarInput, scalarBytes, scalarInput, scalarBytes) {
            ca, ba, cb, bb throws in
            let a = scalar(ca, ba)
            let b = scalar(cb, bb)
            let g = Point.generator
            let aG = Point.generatorMul(a)
            let bG = Point.generatorMul(b)
            // (a + b)G = aG + bG
            #expect(Point.generatorMul(a + b) == aG + bG)
            // a(bG) = (ab)G, constant-time and variable-time products alike.
            #expect(a * bG == Point.generatorMul(a * b))
            #expect(bG.multipliedVartime(by: a) == Point.generatorMul(a * b))
            #expect(a * g == aG)
            // Negation and inverse.
            #expect(Point.generatorMul(-a) == -aG)
            #expect(aG - aG == .infinity)
            if !a.isZero { #expect((try a.inverse()) * aG == g) }
            // Encoding round trip (infinity included).
            #expect(try Point(encoded: aG.encoded) == aG)
            #expect(aG.isInfinity == a.isZero)
        }
    }
}
