import CryptoPrimitives
import MPCMath
import PropertyBased
import Secp256k1
import Testing

@Suite("Paillier")
struct PaillierTests {
    static let key = MPCFixtures.paillierKeys[0]
    static var pk: PaillierPublicKey { key.publicKey }

    @Test func roundTripAndKnownStructure() throws {
        var rng = SeededRandom(seed: "paillier-roundtrip")
        let n = Self.pk.n
        #expect(n.bitLength == 2048)
        for m in [BigNum.zero, .one, n - .one, try BigNum.random(below: n, using: &rng)] {
            let (c, r) = try Self.pk.encrypt(m, using: &rng)
            #expect(try Self.key.decrypt(c) == m)
            #expect(try Self.key.decryptTextbook(c) == m)
            // Enc(m; r) is deterministic in (m, r) and matches (1 + N)^m · r^N mod N² computed
            // the long way.
            #expect(try Self.pk.encrypt(m, randomness: r) == c)
            let longWay = try (n + .one).modExp(m, Self.pk.nSquared).modMul(
                r.modExp(n, Self.pk.nSquared), Self.pk.nSquared)
            #expect(c.value == longWay)
            #expect(!c.value.isSecret)
        }
        // The owner's CRT encryption gives the same ciphertext.
        for _ in 0..<5 {
            let m = try BigNum.random(below: n, using: &rng)
            let (c, r) = try Self.key.encrypt(m, using: &rng)
            #expect(try Self.pk.encrypt(m, randomness: r) == c)
            #expect(try Self.key.decrypt(c) == m)
        }
        #expect(throws: MPCMathError.plaintextOutOfRange) { try Self.key.encrypt(n, using: &rng) }
        #expect(throws: MPCMathError.invalidRandomness) { try Self.key.encrypt(.one, randomness: n) }
        // Signed plaintexts.
        let half = try (n - .one).shiftedRight(by: 1)
        for m in [BigNum(-1), BigNum(5), -half, half, try BigNum.powerOfTwo(1000).negated()] {
            let (c, _) = try Self.pk.encrypt(signed: m, using: &rng)
            #expect(try Self.key.decryptSigned(c) == m)
        }
    }

    @Test func crtAgreesWithTextbook() async throws {
        await propertyCheck(count: 15, input: Gen.uint8().array(of: 0...256), Gen.uint64()) { bytes, seed in
            var rng = SeededRandom(seed: "crt-\(seed)")
            let key = MPCFixtures.paillierKeys[Int(seed % 4)]
            let m = try BigNum(bytes: bytes).mod(key.publicKey.n)
            let (c, r) = try key.publicKey.encrypt(m, using: &rng)
            // The owner's encryption (CRT, half-size exponents) gives the same ciphertext.
            #expect(try key.encrypt(m, randomness: r) == c)
            let crt = try key.decrypt(c)
            #expect(crt == m)
            #expect(try key.decryptTextbook(c) == crt)
            // Any element of Z*_{N²} decrypts to the same value both ways, not only fresh ciphertexts.
            let arbitrary = try key.publicKey.validate(
                ciphertext: BigNum.random(below: key.publicKey.nSquared, using: &rng).declassified())
            #expect(try key.decrypt(arbitrary) == key.decryptTextbook(arbitrary))
        }
    }

    @Test func homomorphism() async throws {
        let pk = Self.pk
        let n = pk.n
        await propertyCheck(
            count: 15, input: Gen.uint8().array(of: 0...256), Gen.uint8().array(of: 0...256), Gen.int(in: -1...1)
        ) {
            xs, ys, sign in
            var rng = SeededRandom(seed: xs + ys)
            let a = try BigNum(bytes: xs).mod(n)
            let b = try BigNum(bytes: ys).mod(n)
            let k = sign < 0 ? BigNum(bytes: ys).negated() : BigNum(bytes: ys)
            let (ca, _) = try pk.encrypt(a, using: &rng)
            let (cb, _) = try pk.encrypt(b, using: &rng)
            #expect(try Self.key.decrypt(pk.add(ca, cb)) == a.modAdd(b, n))
            #expect(try Self.key.decrypt(pk.multiply(ca, by: k)) == a.modMul(k, n))
            // A secret multiplier takes the constant-time path and gives the same result.
            #expect(try pk.multiply(ca, by: k.withSecrecy(true)) == pk.multiply(ca, by: k))
            let fresh = try pk.rerandomize(ca, using: &rng)
            #expect(fresh != ca)
            #expect(try Self.key.decrypt(fresh) == a)
        }
        // The MtA shape (GG20 §3): Bob returns c_A^b ⊕ Enc(β') and Alice gets a·b + β' mod N.
        var rng = SeededRandom(seed: "mta")
        let a = try BigNum.random(below: CurveOrder.q, using: &rng)
        let b = try BigNum.random(below: CurveOrder.q, using: &rng)
        let betaPrime = try BigNum.random(bits: 512, using: &rng)
        let (cA, _) = try pk.encrypt(a, using: &rng)
        let response = try pk.add(pk.multiply(cA, by: b), pk.encrypt(betaPrime, using: &rng).ciphertext)
        #expect(try Self.key.decrypt(response) == a * b + betaPrime)
    }

    @Test func invalidCiphertextsAndPlaintextsRejected() throws {
        let pk = Self.pk
        let (p, q) = Self.key.primes
        for bad in [
            BigNum.zero, BigNum(-1), pk.nSquared, pk.nSquared + .one, pk.n, p.declassified(), q * 5,
            p * q * q,
        ] {
            #expect(throws: MPCMathError.invalidCiphertext) { try pk.validate(ciphertext: bad) }
        }
        #expect(try pk.validate(ciphertext: .one).value == .one)
        #expect(try pk.validate(ciphertext: pk.nSquared - .one).value == pk.nSquared - .one)
        var rng = SeededRandom(seed: "bad-plaintexts")
        #expect(throws: MPCMathError.plaintextOutOfRange) { try pk.encrypt(pk.n, using: &rng) }
        #expect(throws: MPCMathError.plaintextOutOfRange) { try pk.encrypt(BigNum(-1), using: &rng) }
        #expect(throws: MPCMathError.plaintextOutOfRange) { try pk.encrypt(signed: pk.n, using: &rng) }
        #expect(throws: MPCMathError.plaintextOutOfRange) {
            try pk.encrypt(signed: (pk.n + .one).shiftedRight(by: 1), using: &rng)
        }
        for r in [BigNum.zero, pk.n, pk.n + .one, BigNum(-3), p.declassified(), q * 2] {
            #expect(throws: MPCMathError.invalidRandomness) { try pk.encrypt(.one, randomness: r) }
        }
    }

    @Test func keyValidation() throws {
        let (p, q) = MPCFixtures.material.paillier[1]
        // The fixture primes pass the full check (safe primes).
        let key = try PaillierSecretKey(p: p, q: q)
        #expect(key.publicKey == MPCFixtures.paillierKeys[1].publicKey)
        #expect(key.phi == (p - .one) * (q - .one))
        #expect(throws: MPCMathError.self) { try PaillierSecretKey(p: p, q: p) }
        #expect(throws: MPCMathError.self) { try PaillierSecretKey(p: p, q: q + 2) }  // not prime (or not safe)
        #expect(throws: MPCMathError.self) { try PaillierSecretKey(p: p, q: q + .one) }  // even
        let small = try BigNum.generatePrime(bits: 512, safe: true)
        #expect(throws: MPCMathError.self) { try PaillierSecretKey(p: p, q: small) }  // sizes differ
        // Public-key shape checks (what a peer can send before the proofs).
        #expect(throws: MPCMathError.self) { try PaillierPublicKey(n: key.publicKey.n + .one) }  // even
        #expect(throws: MPCMathError.self) { try PaillierPublicKey(n: key.publicKey.n.negated()) }
        #expect(throws: MPCMathError.self) { try PaillierPublicKey(n: .zero) }
        #expect(throws: MPCMathError.self) { try PaillierPublicKey(n: p * small) }  // 1536 bits
        #expect(throws: MPCMathError.self) { try PaillierPublicKey(n: BigNum.powerOfTwo(9000) + .one) }
        // A safe-prime pair of 256 bits is refused: N would be far below 2048 bits.
        let s1 = try BigNum.generatePrime(bits: 256, safe: true)
        var s2 = try BigNum.generatePrime(bits: 256, safe: true)
        while s2 == s1 { s2 = try BigNum.generatePrime(bits: 256, safe: true) }
        #expect(throws: MPCMathError.self) { try PaillierSecretKey(p: s1, q: s2) }
        #expect(throws: MPCMathError.self) { try PaillierSecretKey.generate(modulusBits: 1024) }
    }

    @Test func secretKeyIsRedacted() {
        let key = Self.key
        #expect(key.description == "<redacted>")
        #expect(String(reflecting: key) == "PaillierSecretKey(<redacted>)")
        var dumped = ""
        dump(key, to: &dumped)
        #expect(!dumped.contains(key.primes.p.hexString().prefix(16)))
        #expect(key.primes.p.isSecret && key.primes.q.isSecret && key.phi.isSecret)
        #expect(key.publicKey.description == "PaillierPublicKey(2048 bits)")
    }
}

/// A seeded source that also offers a pool of precomputed randomizers.
struct PoolCarryingRandom: RandomSource, PaillierNonceCarrier {
    var inner: SeededRandom
    let pool: PaillierNoncePool
    var paillierNonces: (any PaillierNonceSource)? { pool }
    mutating func fill(_ out: UnsafeMutableRawBufferPointer) { inner.fill(out) }
}

@Suite("Paillier randomizer pool")
struct PaillierNoncePoolTests {
    /// Precomputed randomizers give the ciphertexts `encrypt(_:randomness:)` gives for the same
    /// r, on the public and the owner (CRT) paths; each is taken once; an empty pool falls back to
    /// fresh randomness; a pool never hands a key another modulus' randomizer.
    @Test func precomputedRandomizersEncryptLikeFreshOnesAndAreTakenOnce() throws {
        let owner = MPCFixtures.paillierKeys[0]
        let other = MPCFixtures.paillierKeys[1].publicKey
        let pool = PaillierNoncePool()
        var seed = SeededRandom(seed: "nonce-pool")
        try pool.precompute(for: owner.publicKey, owner: owner, using: &seed)
        try pool.precompute(for: owner.publicKey, owner: nil, using: &seed)
        try pool.precompute(for: other, owner: owner, using: &seed)  // not the owner of N: the ladder
        #expect(pool.count(modulus: owner.publicKey.n) == 2 && pool.count(modulus: other.n) == 1)
        var rng = PoolCarryingRandom(inner: SeededRandom(seed: "draws"), pool: pool)
        var seen: [BigNum] = []
        for i in 0..<3 {
            let m = BigNum(UInt64(1000 + i))
            let (c, r) = try owner.publicKey.encrypt(m, using: &rng)
            #expect(try c == owner.publicKey.encrypt(m, randomness: r))
            #expect(try owner.decrypt(c) == m)
            seen.append(r)
        }
        // Two came from the pool (each once), the third is fresh.
        #expect(pool.count(modulus: owner.publicKey.n) == 0)
        #expect(Set(seen).count == 3)
        // The owner's CRT path takes from the pool too.
        try pool.precompute(for: owner.publicKey, owner: owner, using: &seed)
        let (c, r) = try owner.encrypt(BigNum(7), using: &rng)
        #expect(pool.count(modulus: owner.publicKey.n) == 0)
        #expect(try c == owner.publicKey.encrypt(BigNum(7), randomness: r))
        // The other key's randomizer is used for that key only.
        let (c2, r2) = try other.encrypt(BigNum(9), using: &rng)
        #expect(pool.total == 0)
        #expect(try c2 == other.encrypt(BigNum(9), randomness: r2))
        // Retiring keys drops their randomizers.
        try pool.precompute(for: other, owner: nil, using: &seed)
        #expect("\(try #require(pool.takeNonce(modulus: other.n)))" == "PaillierNonce(<redacted>)")
        try pool.precompute(for: other, owner: nil, using: &seed)
        #expect(pool.retain(only: [owner.publicKey.n]) == 1 && pool.total == 0)
    }

    /// The provers take pooled randomizers where they encrypt (Π^enc's A, MtA's mask D and Y,
    /// Π^aff-g's A and B_y) and their proofs still verify and open as before.
    @Test func proofsWithPooledRandomizersVerify() throws {
        let alice = ZK.otherKey
        let bob = ZK.proverKey
        let pool = PaillierNoncePool()
        var seed = SeededRandom(seed: "nonce-pool-proofs")
        for _ in 0..<2 {
            for _ in 0..<2 {
                try pool.precompute(for: alice.publicKey, owner: nil, using: &seed)
                try pool.precompute(for: bob.publicKey, owner: bob, using: &seed)
            }
        }
        var rng = PoolCarryingRandom(inner: SeededRandom(seed: "nonce-pool-draws"), pool: pool)
        let k = try BigNum.random(below: CurveOrder.q, using: &rng)
        let (c, rho) = try alice.encrypt(k, using: &rng)
        var te = ZK.transcript()
        let enc = try EncryptionProof.prove(
            statement: .init(key: alice.publicKey, ciphertext: c), plaintext: k, randomness: rho, setup: ZK.setup,
            transcript: &te,
            rng: &rng, proverSecret: alice)
        var tv = ZK.transcript()
        try enc.verify(statement: .init(key: alice.publicKey, ciphertext: c), setup: ZK.setup, transcript: &tv)
        let x = Scalar.random(using: &rng)
        var t = ZK.transcript()
        let response = try MtAResponse.respond(
            aliceKey: alice.publicKey, aliceCiphertext: c, aliceSetup: ZK.setup, bobKey: bob.publicKey, bobSecret: x,
            transcript: &t, rng: &rng, bobPaillierSecret: bob)
        // K and Π^enc's A, D's mask and Π^aff-g's A under N₀; Y and B_y under N₁: all pooled.
        #expect(pool.total == 2)
        var tv2 = ZK.transcript()
        try response.proof.verify(
            statement: .init(
                verifierKey: alice.publicKey, proverKey: bob.publicKey, c: c, d: response.d, y: response.y,
                x: .generatorMul(x)),
            setup: ZK.setup, transcript: &tv2)
        let alpha = try alice.decryptSigned(response.d)
        #expect(alpha == BigNum(x) * k + response.betaPrime)
        #expect(try bob.decryptSigned(response.y) == response.betaPrime)
    }
}
