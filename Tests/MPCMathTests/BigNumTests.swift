import CryptoPrimitives
import PropertyBased
import Testing

/// Vectors computed with Python's built-in `pow`, `divmod` and `math.gcd` (an independent
/// implementation), from `random.seed(20240603)`.
private enum Vectors {
    static let a = big(
        """
        c8c87658fb114c6ce7c8da96ca877363c7c6d32577ded6589d5551a0f318ebe6ddc944ac3aee661b4b6e0d789f093c59d72d9e5652bb56
        e34f82b1b656c5af4a5327620243701fabda9737fe1ed8f0ddab8503e0c883b38de337e797ff1462e0d880c99d3cf69ca9dd4ea56e1a03
        3dca6ba50cf8feae64bc0c34da13224baa54cc4e21da372a69ac034aafc77bd01bf46a6e4f00c6596a79a2988af4992163e6b67fc376d9
        d56a3f08683876ad0f75c42019031d2bdaebbe5dada76e81ec54334cc3a9ea7b684ca5c4a2f61eea5f54680d7bac948a44ad2b1803c69c
        8ab72aa95119773a25358567990c24e1df67fda71469208d68679c285c26ea10cdc85a5b
        """)
    static let e = big(
        """
        629979d77d3267c89a84ccadd2fca4a97815e17d651616c8f819a347634ee57bac5d622dc62b1ea5c27a5cac177f5183a3882c8985bca0
        89b1d6bc4a7941e7030b40b1bf134f0ad6d66bd9b325503e63a30dd716f8e75f1315acfd3cf9c5e4663283cc0acc2afae60722ab5809e5
        cc602e19f7851e79bb99729b92b1135d237c7bda82846c9e17d7c8ecef75fec808d9060bffb49fc132220b359a4e36a9c523814215b686
        314c267e69190db84a86fc45eebbd4cafd2fcb6f1d8a9b6e55dbc981f628b66914114a0989accfdbc8f0f3577ab3484f4a92fe4e73d6f9
        8caa1b21271131c3263a8835af91804682215be393e10d9372840f009edb1498968a0ea4
        """)
    static let m = big(
        """
        a46044572cafeb46e02cb60b726dd9b68ee0c29ad52ab89f99ad9eedc68e64da5c39fbee7b1a8cfaaadf299c338556427467c2c8f05358
        0287b3b43fd060205b9734a460fa944b3e01a9f8f2115ac67bc9e3087f145964c7ef7ca02f19387a6375f6be76700d78251dfdd042d2ca
        b97f26866f8426ce4c916de5b223994cd27ea9eaefb155b82ee4ee392033e08fff0f523f100bd06dfdb71077ccdcd9f56127fd628649b5
        85387a91340b539eca06f2abc3bb111a811d954ca45a0d73d8c244d86d3eb4b9cd6cb207b899152ad171deaeefc1e8d0fbd072c92d76e0
        ae4134b6fc7e9d39e42039a27b9e1ba1ab5ef790cee4415a8e99e68c075c81a4b2036e7b
        """)
    /// a^e mod m.
    static let power = big(
        """
        8bb92558659f599a9b580005add868b63dfdeefebfa9660ef65fecd9d6a539c9b1880fa0325e98af41ed96565096feec38037889180722
        911eab059c83300fce2ac060ca691436b57930d667814080dfef292d4d403594d52a8c6c3d315995a120babd1d126ecf5c58dca4418b78
        38751efdae9aa23e317ce42641472b81e87614d1ed6fc5ebf33f94a5e349072f9e769ad41a48af449760439e4ab9828d452061fa2fbd3a
        792431384aebb34321cb2f01bade9e1469498e5b097a00e470eeee50b23384596fd977b4c5fc85a6cf81aac96f0b6af5f9cf662f2fcae5
        64b54a3c038751a21df5001d1b23033a973969456fc6254b4175ed0eedb8eea0798ae970
        """)
    /// a^e mod (m + 1) (an even modulus).
    static let powerEven = big(
        """
        2a3cb4865a2901609958dbf930842eee110da28945efd7aa6af8a75b7dd00d90459f49b02494a0901c93e231faf168e50182e25319a0cc
        9b5e9b12b5d5a4db506131a82d2dd2b473646b12be78c824c20adf4d26ea97971456f8a297ef641d67a9a31a1369d02ab6bd769d04f596
        c1ad75578ed3ec716d9082bc8526ce4b199d0d4c80eaba948ae3531873bdc7be076ff9ddb8bde2466477cfd79c9f1cb4e3a88aea1a045a
        93298f6e4d65148810167cd8c706154544cda62b7eeeb760d14533f3b1f94a215f5d1c9ee9410a47c3ecfd901f430c6ec65df6c791ec18
        b5a6fddc98eb68ecfd7c3dbd377dadf30bd109800e24f3c9a0c7931e7b4a8feba343523d
        """)
    /// a⁻¹ mod m.
    static let inverse = big(
        """
        53f62c187251c83b263855a5d8618467568ac0243d6418d8a8ca7986f8562bc9b21b37c3cbfb9df610e3ae3fd9486a44c2a9b925a3eb20
        dd288aefe753c4ea7f21bd9971379105c4c7d1c98bd06c95c5801f64a51dcfac0b49b73ef1e134cbe5c350f40184a5c07a89c4ec16a52f
        4bea578e5853c73c841cee0dd864173fb8bab5a568c4f33fc7920eac3999898e036ce854de941e15461f44c8c6f107e3459534999aa261
        9f5b5a678b7ba63b123d060c9225ea9069dbf456c2169232047ae30d0f9fa1c99e19a544329ca503c35c895f92f98f3f641fbb20711b23
        2f7ce928c3cf4b4f9c2469e0999ad1981f810679802f91c9e220b3143eaa665121ac1420
        """)
    /// (−a) mod m.
    static let negatedMod = big(
        """
        7ff812555e4e8a20d89091801a54400955fab21032769ae69605ec3a9a03ddcddaaab330bb46b3da0a5045bfc801702b11a1e73b8deb59
        21bfe4b6c949fa916cdb41e6bfb1b876d028bcb9e603dc9c19e8410d1d602f1601fbc158c6335c91e6136cb34fa32453a05eacfb178b92
        3533e167d20f4eee3466cf968a34104dfaa88787bd887445f41dd92790a0454fe22a3a0fd116da8290f47e570ec51ac95e694445491c91
        3506b619ffde3090849821376e730509274f6c3b9b0cac65c530566416d37ef8328cbe4ace3c0b6b438f555063d73d17b2f3ba7a572724
        d1cb3ec4a7e3c339a30aeddd5e3012617755f17a895f6227b4cc30efb2921938963e829b
        """)
    static let gcdX = big(
        """
        144e215bbc035d24bcae37b29ddbdd42dc36b66d3f4bfd17246d8c04d47cb66ba69e9391445f44ae2ba5537986086a45313be0278542f3
        ba0aa791d3b99896441ca4e9b8850f8b02df99df0210c91f97ba1339bd86956057ddf0ff1e2116d7d9e2c3b8156c640ea45eb5528ddf06
        bd07010af1310092aad6d39b3d0293
        """)
    static let gcdY = big(
        """
        745a25b82f7b59411da40cd89db932bf8c3fd3a661a45f3a1d05f009f7c918ab051b6621d1fb2dda980adef280fc26c34b5a7faa78e25d
        dd867eaaea296ab14ee9485a50d9a694dcb561d1216d1d869a9be9eae75d0be49337da2b0ee52bbedd3eaf9dbd8055fb1bc063b880eaa7
        01a50a47c1c7696e0e4f5e2dc5515482fb754893b23ccb7c8569942ad1b7e57b6a9fff65839d41c
        """)
    static let gcd = big("3e6195007ceacfb0b5d4134879d13675d03cfb8aa4e79b9424186e1a1744c9180ed14f887d1")
}

/// The Jacobi symbol from its definition: the product of Legendre symbols over the prime
/// factorisation of n, each by Euler's criterion a^((p−1)/2) mod p (independent of `BigNum.jacobi`).
private func jacobiByDefinition(_ a: Int, _ n: Int) -> Int {
    func legendre(_ a: Int, _ p: Int) -> Int {
        let r = ((a % p) + p) % p
        if r == 0 { return 0 }
        var result = 1
        var base = r
        var e = (p - 1) / 2
        while e > 0 {
            if e & 1 == 1 { result = result * base % p }
            base = base * base % p
            e >>= 1
        }
        return result == 1 ? 1 : -1
    }
    var symbol = 1
    var rest = n
    var p = 3
    while rest > 1 {
        while rest % p == 0 {
            symbol *= legendre(a, p)
            rest /= p
        }
        p += 2
    }
    return symbol
}

@Suite("BigNum")
struct BigNumTests {
    @Test func knownAnswers() throws {
        #expect(try BigNum(4).modExp(13, 497) == 445)  // the textbook example
        #expect(try Vectors.a.modExp(Vectors.e, Vectors.m) == Vectors.power)
        #expect(try Vectors.a.modExp(Vectors.e, Vectors.m + .one) == Vectors.powerEven)
        #expect(try Vectors.a.modExpConstantTime(Vectors.e, Vectors.m) == Vectors.power)
        let context = try MontgomeryContext(modulus: Vectors.m)
        #expect(try context.exp(Vectors.a, Vectors.e) == Vectors.power)
        #expect(try context.expConstantTime(Vectors.a, Vectors.e) == Vectors.power)
        #expect(try context.exp(Vectors.a.withSecrecy(true), Vectors.e) == Vectors.power)
        #expect(try Vectors.a.modInverse(Vectors.m) == Vectors.inverse)
        #expect(try Vectors.a.withSecrecy(true).modInverse(Vectors.m) == Vectors.inverse)
        #expect(try (-Vectors.a).mod(Vectors.m) == Vectors.negatedMod)
        #expect(Vectors.gcdX.gcd(Vectors.gcdY) == Vectors.gcd)
        #expect((-Vectors.gcdX).gcd(Vectors.gcdY) == Vectors.gcd)
        #expect(BigNum(240).gcd(46) == 2)
        #expect(BigNum(0).gcd(0) == 0)
        #expect(BigNum(-12).gcd(18) == 6)
        #expect(try BigNum(3).modInverse(11) == 4)
        #expect(try BigNum(-3).modInverse(11) == 7)
        // Mersenne prime 2^127 − 1: Fermat.
        let m127 = try BigNum.powerOfTwo(127) - .one
        #expect(try BigNum(3).modExp(m127 - .one, m127) == .one)
        #expect(m127.isProbablePrime)
        #expect(!(m127 + 2).isProbablePrime)
        let (q, r) = try Vectors.a.quotientAndRemainder(dividingBy: 7)
        #expect(q * 7 + r == Vectors.a && r < 7 && !r.isNegative)
        let (q2, r2) = try BigNum(-7).quotientAndRemainder(dividingBy: 2)
        #expect(q2 == -3 && r2 == -1)  // truncating
        #expect(try BigNum(-7).mod(2) == 1)
        #expect(try BigNum(5).modSub(7, 11) == 9)
        #expect(try BigNum(5).modAdd(7, 11) == 1)
        #expect(try BigNum(5).modMul(7, 11) == 2)
        #expect(try BigNum(2).modExpSigned(-1, 11) == 6)
    }

    @Test func encodings() throws {
        let x = big("0102030405060708090a")
        #expect(x.magnitudeBytes() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        #expect(try x.bytes(paddedTo: 12) == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        #expect(BigNum(bytes: [0, 0, 1, 2]) == 258)
        #expect(BigNum(bytes: []) == .zero)
        #expect(BigNum.zero.magnitudeBytes().isEmpty)
        #expect(try BigNum.zero.bytes(paddedTo: 2) == [0, 0])
        #expect(x.hexString() == "102030405060708090a")
        #expect(BigNum(-255).hexString() == "-ff")
        #expect(BigNum.zero.hexString() == "0")
        #expect(try BigNum(hex: "0x00ff") == 255)
        #expect(try BigNum(hex: "-FF") == -255)
        #expect(BigNum(UInt64.max).uint64Value == UInt64.max)
        #expect(BigNum(-1).uint64Value == nil)
        #expect((BigNum(UInt64.max) + .one).uint64Value == nil)
        #expect(BigNum(Int.min) == -(BigNum(UInt64(1) << 63)))
        #expect(x.bitLength == 73 && x.byteLength == 10)
        #expect(BigNum(5).isOdd && !BigNum(6).isOdd && BigNum(0).isZero && BigNum(1).isOne)
        #expect(BigNum(-3).signum == -1 && BigNum(0).signum == 0 && BigNum(9).signum == 1)
        #expect(try BigNum(1).shiftedLeft(by: 100) == BigNum.powerOfTwo(100))
        #expect(try BigNum.powerOfTwo(100).shiftedRight(by: 99) == 2)
        #expect(BigNum(10).isBitSet(1) && !BigNum(10).isBitSet(0) && !BigNum(10).isBitSet(-1))
        #expect(BigNum(3) < BigNum(4) && BigNum(-5) < BigNum(2) && BigNum(7) == BigNum(bytes: [7]))
        #expect(Set([BigNum(7), BigNum(bytes: [0, 7]), BigNum(-7)]).count == 2)
        // Signed round trip.
        for v in [0, 1, -1, 255, -256, Int.max, Int.min + 1] {
            #expect(try BigNum(hex: BigNum(v).hexString()) == BigNum(v))
        }
    }

    @Test func jacobiSmallTable() throws {
        for n in stride(from: 1, through: 199, by: 2) {
            for a in -60...260 {
                #expect(try BigNum(a).jacobi(BigNum(n)) == jacobiByDefinition(a, n), "(\(a)/\(n))")
            }
        }
        #expect(try BigNum(1001).jacobi(9907) == -1)
    }

    /// For a prime p the Jacobi symbol is the Legendre symbol: Euler's criterion on big numbers.
    @Test func jacobiMatchesEulerCriterionForLargePrime() throws {
        let p = MPCFixtures.material.paillier[0].p.declassified()
        let half = try (p - .one).shiftedRight(by: 1)
        var rng = SeededRandom(seed: "jacobi")
        for _ in 0..<20 {
            let a = try BigNum.random(below: p, using: &rng, secret: false)
            let euler = try a.modExp(half, p)
            let expected = euler.isZero ? 0 : (euler.isOne ? 1 : -1)
            #expect(try a.jacobi(p) == expected)
        }
        // Multiplicativity in the top argument over a composite modulus N = pq.
        let n = MPCFixtures.paillierKeys[0].publicKey.n
        let x = try BigNum.random(below: n, using: &rng, secret: false)
        let y = try BigNum.random(below: n, using: &rng, secret: false)
        #expect(try x.modMul(y, n).jacobi(n) == x.jacobi(n) * y.jacobi(n))
    }

    @Test func primes() throws {
        for p in [5, 7, 11, 23, 47, 59, 83, 107] as [BigNum] { #expect(p.isSafePrime, "\(p)") }
        for p in [13, 17, 19, 29, 31, 37, 41, 43] as [BigNum] { #expect(p.isProbablePrime && !p.isSafePrime, "\(p)") }
        for c in [-7, 0, 1, 4, 9, 15, 21, 561, 1105] as [BigNum] { #expect(!c.isProbablePrime, "\(c)") }
        let safe = try BigNum.generatePrime(bits: 256, safe: true)
        #expect(safe.isSecret)
        #expect(safe.bitLength == 256)
        #expect(safe.isSafePrime)
        #expect(try safe.shiftedRight(by: 1).isProbablePrime)
        let plain = try BigNum.generatePrime(bits: 128, safe: false)
        #expect(plain.bitLength == 128 && plain.isProbablePrime)
    }

    @Test func randomness() throws {
        var rng = SeededRandom(seed: "random")
        let bound = try BigNum.powerOfTwo(200) + 12345
        for _ in 0..<200 {
            let x = try BigNum.random(below: bound, using: &rng)
            #expect(!x.isNegative && x < bound && x.isSecret)
            #expect(try BigNum.random(bits: 13, using: &rng) < 8192)
        }
        var symmetric = Set<Int>()
        for _ in 0..<300 {
            let x = try BigNum.random(inSymmetricRange: 3, using: &rng)
            symmetric.insert(x.isNegative ? -Int(x.magnitude.uint64Value!) : Int(x.uint64Value!))
        }
        #expect(symmetric == Set(-3...3))
        #expect(throws: CryptoError.self) { try BigNum.random(inSymmetricRange: -1, using: &rng) }
        #expect(try BigNum.random(inSymmetricRange: 0, using: &rng) == .zero)
        // Coprimality, public (variable-time inverse) and secret (BN_gcd) paths.
        for (a, b, expected) in [
            (6, 35, true), (6, 9, false), (0, 7, false), (1, 1, true), (0, 1, true), (-4, 9, true),
            (5, 0, false), (1, 0, true), (14, -21, false),
        ] {
            #expect(BigNum(a).isCoprime(to: BigNum(b)) == expected, "(\(a), \(b))")
            #expect(BigNum(a, secret: true).isCoprime(to: BigNum(b)) == expected, "(\(a), \(b)) secret")
        }
        // Every residue of a small bound shows up.
        var seen = Set<Int>()
        for _ in 0..<300 { seen.insert(Int(try BigNum.random(below: 7, using: &rng).uint64Value!)) }
        #expect(seen == Set(0..<7))
        // Same seed, same draws.
        var a = SeededRandom(seed: "same")
        var b = SeededRandom(seed: "same")
        #expect(try BigNum.random(below: bound, using: &a) == BigNum.random(below: bound, using: &b))
        #expect(try BigNum.random(bits: 0, using: &rng) == .zero)
        #expect(try BigNum.random(below: 1) == .zero)
        #expect(try BigNum.random(bits: 64).bitLength <= 64)
    }

    @Test func hostileInputsThrow() throws {
        let zero = BigNum.zero
        let negative = BigNum(-7)
        #expect(throws: CryptoError.self) { try BigNum(5).mod(zero) }
        #expect(throws: CryptoError.self) { try BigNum(5).mod(negative) }
        #expect(throws: CryptoError.self) { try BigNum(5).modAdd(1, zero) }
        #expect(throws: CryptoError.self) { try BigNum(5).modSub(1, negative) }
        #expect(throws: CryptoError.self) { try BigNum(5).modMul(1, zero) }
        #expect(throws: CryptoError.self) { try BigNum(5).modExp(3, zero) }
        #expect(throws: CryptoError.self) { try BigNum(5).modExp(3, negative) }
        #expect(throws: CryptoError.self) { try BigNum(5).modExp(negative, 11) }
        #expect(throws: CryptoError.self) { try BigNum(5).modExpConstantTime(3, zero) }
        #expect(throws: CryptoError.self) { try BigNum(5).modExpConstantTime(3, 12) }  // even
        #expect(throws: CryptoError.self) { try BigNum(5).modExpConstantTime(negative, 11) }
        #expect(throws: CryptoError.self) { try BigNum(5, secret: true).modExp(3, 12) }  // secret, even modulus
        #expect(throws: CryptoError.self) { try BigNum(6).modInverse(9) }
        #expect(throws: CryptoError.self) { try BigNum(0).modInverse(9) }
        #expect(throws: CryptoError.self) { try BigNum(5).modInverse(zero) }
        #expect(throws: CryptoError.self) { try BigNum(5).modInverse(1) }
        #expect(throws: CryptoError.self) { try BigNum(5).modInverse(negative) }
        #expect(throws: CryptoError.self) { try BigNum(6).modExpSigned(-1, 9) }
        #expect(throws: CryptoError.self) { try BigNum(5).jacobi(8) }
        #expect(throws: CryptoError.self) { try BigNum(5).jacobi(zero) }
        #expect(throws: CryptoError.self) { try BigNum(5).jacobi(negative) }
        #expect(throws: CryptoError.self) { try BigNum(5).quotientAndRemainder(dividingBy: zero) }
        #expect(throws: CryptoError.self) { try negative.bytes(paddedTo: 4) }
        #expect(throws: CryptoError.self) { try BigNum(65536).bytes(paddedTo: 2) }
        #expect(throws: CryptoError.self) { try BigNum(hex: "") }
        #expect(throws: CryptoError.self) { try BigNum(hex: "12g4") }
        #expect(throws: CryptoError.self) { try BigNum(hex: "-") }
        #expect(throws: CryptoError.self) { try BigNum.powerOfTwo(-1) }
        #expect(throws: CryptoError.self) { try BigNum.powerOfTwo(BigNum.maxBits + 1) }
        #expect(throws: CryptoError.self) { try BigNum(1).shiftedLeft(by: -1) }
        #expect(throws: CryptoError.self) { try BigNum.generatePrime(bits: 2, safe: true) }
        #expect(throws: CryptoError.self) { try BigNum.random(below: zero) }
        #expect(throws: CryptoError.self) { try BigNum.random(below: negative) }
        #expect(throws: CryptoError.self) { try BigNum.random(bits: -1) }
        for bad: BigNum in [0, 1, -3, 10] {
            #expect(throws: CryptoError.self) { try MontgomeryContext(modulus: bad) }
        }
        // Modulus 1 is legal where a positive modulus is all that is needed.
        #expect(try BigNum(5).modExp(3, 1) == .zero)
        #expect(try BigNum(5).mod(1) == .zero)
    }

    @Test func secrecy() throws {
        let secret = BigNum(42, secret: true)
        let visible = BigNum(42)
        #expect(secret.description == "<redacted>")
        #expect(String(reflecting: secret) == "BigNum(<redacted>)")
        #expect(visible.description == "0x2a")
        #expect(BigNum(-42).description == "-0x2a")
        #expect((secret + visible).isSecret && (visible * secret).isSecret && secret.negated().isSecret)
        #expect(try secret.modExp(3, 11).isSecret)
        #expect(!(visible + visible).isSecret)
        #expect(!secret.declassified().isSecret && secret.declassified() == visible)
        #expect(secret == visible)
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("42") && !dumped.contains("2a"))
    }

    @Test func constantTimeAgreesWithPlain() async throws {
        let m = MPCFixtures.paillierKeys[1].publicKey.nSquared
        let context = try MontgomeryContext(modulus: m)
        await propertyCheck(count: 20, input: Gen.uint8().array(of: 1...300), Gen.uint8().array(of: 1...300)) {
            base, e in
            let b = BigNum(bytes: base)
            let x = BigNum(bytes: e)
            let plain = try b.modExp(x, m)
            #expect(try context.expConstantTime(b, x) == plain)
            #expect(try context.exp(b, x) == plain)
            #expect(try b.modExpConstantTime(x, m) == plain)
        }
    }

    /// The sieve behind Π^mod's 4 roots: every prime up to 2^20 is found, the first one above is
    /// not, whatever the cofactor's size and sign.
    @Test func smallPrimeSieveFindsEveryPrimeUpToTheBound() throws {
        let big = try BigNum.generatePrime(bits: 1024, safe: false)
        #expect(SmallPrimeSieve.hasNoSmallPrimeFactor(big))
        #expect(SmallPrimeSieve.hasNoSmallPrimeFactor(big.negated()))
        #expect(!SmallPrimeSieve.hasNoSmallPrimeFactor(.zero))
        // 1048573 is the largest prime ≤ 2^20, 1048583 the smallest ≡ 3 (mod 4) above it.
        for small: UInt64 in [2, 3, 5, 65519, 65537, 999_983, 1_048_573] {
            #expect(!SmallPrimeSieve.hasNoSmallPrimeFactor(BigNum(small) * big), "\(small)")
            #expect(!SmallPrimeSieve.hasNoSmallPrimeFactor(BigNum(small) * BigNum(small) * big * big), "\(small)²")
        }
        #expect(SmallPrimeSieve.hasNoSmallPrimeFactor(BigNum(1_048_583 as UInt64) * big))
        #expect(SmallPrimeSieve.hasNoSmallPrimeFactor(BigNum(1_048_583 as UInt64)))
        // A product of two primes just above the bound, smaller than the primorial's words.
        #expect(SmallPrimeSieve.hasNoSmallPrimeFactor(BigNum(1_048_583 as UInt64) * BigNum(1_048_589 as UInt64)))
    }

    /// `isCoprime` and `modInverse` (GMP for public operands, blinded GMP for a secret value under
    /// a public modulus, OpenSSL for a secret modulus) against OpenSSL's `BN_gcd`, on values of
    /// every sign and size around the modulus, units and non-units of composite moduli alike.
    @Test func inversesAndCoprimalityAgreeWithGCD() async throws {
        let p = MPCFixtures.material.paillier[2].p
        let n = p * MPCFixtures.material.paillier[2].q
        let moduli: [BigNum] = [
            n, n * n, n * 6, p * p, try BigNum.powerOfTwo(2048), 15, 2, 97 * 89,
        ]
        await propertyCheck(
            count: 60, input: Gen.uint8().array(of: 0...600), Gen.int(in: 0...7), Gen.int(in: 0...3)
        ) { bytes, which, shape in
            let m = moduli[which]
            var x = BigNum(bytes: bytes)
            switch shape {
            case 1: x = x.negated()
            case 2: x = x * p  // shares the factor p with N, N², 6N, p²
            case 3: x = try x.mod(m) + m  // in [m, 2m)
            default: break
            }
            let unit = x.gcd(m).isOne
            for secretValue in [false, true] {
                for secretModulus in [false, true] {
                    let xs = x.withSecrecy(secretValue)
                    let ms = m.withSecrecy(secretModulus)
                    #expect(xs.isCoprime(to: ms) == unit, "coprime \(which)/\(shape)")
                    if unit {
                        let inverse = try xs.modInverse(ms)
                        #expect(try inverse.modMul(x, m) == .one.mod(m))
                        #expect(!inverse.isNegative && inverse < m)
                        #expect(inverse.isSecret == (secretValue || secretModulus))
                    } else {
                        #expect(throws: CryptoError.self) { try xs.modInverse(ms) }
                    }
                }
            }
        }
    }

    @Test func arithmeticLaws() async throws {
        let m = MPCFixtures.paillierKeys[0].publicKey.n
        await propertyCheck(
            count: 100, input: Gen.uint8().array(of: 0...64), Gen.uint8().array(of: 0...64), Gen.int(in: -1...1)
        ) { xs, ys, sign in
            let x = sign < 0 ? BigNum(bytes: xs).negated() : BigNum(bytes: xs)
            let y = BigNum(bytes: ys)
            #expect(x + y - y == x)
            #expect((x + y) * (x - y) == x * x - y * y)
            #expect(try (x * y).mod(m) == x.modMul(y, m))
            #expect(try (x + y).mod(m) == x.modAdd(y, m))
            if !y.isZero {
                let (q, r) = try x.quotientAndRemainder(dividingBy: y)
                #expect(q * y + r == x && r.magnitude < y)
            }
            if x.gcd(m).isOne && !x.isZero {
                #expect(try x.modInverse(m).modMul(x, m) == .one)
                #expect(try x.modExpSigned(-5, m).modMul(x.modExp(5, m), m) == .one)
            }
        }
    }
}
