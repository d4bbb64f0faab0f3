import CryptoPrimitives
import MPCMath
import Secp256k1
import Testing

/// The published attacks on GG18/GG20 implementations, reproduced against this proof layer.
///
/// - BitForge (Fireblocks, eprint 2023/1234, "6ix1een"): a Paillier modulus with small factors
///   lets the MtA partner extract key shares. Two shapes: many small primes (refused by Π^mod),
///   and a genuine two-prime Blum modulus with one tiny prime (Π^mod accepts it: refused by
///   Π^fac). Keygen must require both.
/// - TSSHOCK (Verichains): a ring-Pedersen / dlnproof with a single iteration is forgeable for
///   an s outside ⟨t⟩; and challenges hashed from an ambiguous encoding collide.
@Suite("Proofs: published attacks")
struct ProofAttackTests {
    /// A 2040-bit prime ≡ 3 (mod 4) (`openssl prime -generate -bits 2040`, redrawn until ≡ 3 mod 4).
    static let bigPrime = big(
        """
        FB011676183EF3B7D7038E5B3DA041CB48DB9EF405E4E8E63FED740D3A886EFD6A592678A28FFAD4226DB0A7F22838BE1298C4F2E905EF20
        CC203FA2E1FCF8E4FE1ADD377DB3B2F96E1D8030FD75CD6879F3268E0BFD543FB0A81E96C3C1AD208259134403E545C541DEB406C20289AC
        CF213E87575299E7148CD0E4E34A8A5CFADE1ACCF52F7B59DC3BD53276AA65C80FDED309D7CA214130CFB50A90271403FDC35FF37F1E0F3E
        F443DC2B269EE83EEF06103A1E7290071EFE411B8A17D1A17C01834C81AEE225CC644AE776D31ACFCD69DA07410E69E435A8C9592FE6EE63
        D9CD043AD0D00F87F42F54D603EC6284FFCA0B8FBB1A1E530CCD0EFCD2F1DF
        """)

    /// The 16 largest primes ≡ 3 (mod 4) below 2^16 (found by trial division).
    static let smallPrimes: [BigNum] = {
        var found: [BigNum] = []
        var candidate = 65535
        while found.count < 16 {
            if candidate % 4 == 3, (2..<256).allSatisfy({ candidate % $0 != 0 || candidate == $0 }) {
                found.append(BigNum(candidate))
            }
            candidate -= 1
        }
        return found
    }()

    // MARK: (a) BitForge: Paillier moduli with small factors

    /// N = 65519 · Q: two primes ≡ 3 (mod 4), one of 16 bits. It has the shape of a Paillier key,
    /// and it *is* a Paillier-Blum integer. Π^mod's sieve refuses it (a prime factor below 2^20);
    /// Π^fac refuses it too, because the big factor Q cannot be shown to lie within ±2^ℓ·√N. With
    /// the smallest admissible prime ≡ 3 mod 4 above the sieve (1048583) in place of 65519, Π^mod
    /// verifies (the sieve is not a test of balance) and Π^fac still refuses.
    @Test func twoPrimeModulusWithATinyFactor() throws {
        let q = Self.bigPrime
        #expect(q.isProbablePrime && q.bitLength == 2040)
        var rng = SeededRandom(seed: "bitforge-two-prime")
        for (small, sieved) in [(BigNum(65519), true), (BigNum(1_048_583), false)] {
            #expect(small.isProbablePrime)
            let n = small * q
            #expect(n.bitLength >= ProofParameters.minimumModulusBits)
            // Accepted by the shape checks of a Paillier public key.
            _ = try PaillierPublicKey(n: n)
            #expect(SmallPrimeSieve.hasNoSmallPrimeFactor(n) == !sieved)

            var t1 = ZK.transcript()
            let mod = try ModulusProof.prove(modulus: n, p: small, q: q, transcript: &t1, rng: &rng)
            var v1 = ZK.transcript()
            if sieved {
                #expect(throws: ProofError.invalidStatement("N has a prime factor below 2^20")) {
                    try mod.verify(modulus: n, transcript: &v1)
                }
            } else {
                // A Paillier-Blum integer with no factor below 2^20: Π^mod passes.
                try mod.verify(modulus: n, transcript: &v1)
            }

            // Π^fac refuses it, whichever way round the factors are given.
            for (p, qq, field) in [(small, q, "z2"), (q, small, "z1")] {
                var t2 = ZK.transcript()
                let fac = try NoSmallFactorProof.prove(
                    modulus: n, p: p, q: qq, setup: ZK.setup, transcript: &t2, rng: &rng)
                var v2 = ZK.transcript()
                #expect(throws: ProofError.outOfRange("\(field) ∉ ±2^(ℓ+ε)·√N0")) {
                    try fac.verify(modulus: n, setup: ZK.setup, transcript: &v2)
                }
            }
        }
    }

    /// What the 4 N-th roots of Π^mod are for: N = r²·Q with r = 1048583 just above the sieve
    /// bound, so gcd(N, φ(N)) = r and N passes the sieve. The cheater knows the factors and w is
    /// chosen so that every one of the 80 fourth-root rounds is answerable (Z*_{r²} has an odd-order
    /// subgroup of squares, so squares mod r² have fourth roots). An N-th root of y exists only
    /// when y's image in the order-r subgroup is 1 (probability 1/r per root), so the roots fail:
    /// the best the cheater can send is refused at z[0].
    @Test func squareFactorAboveTheSieveIsCaughtByTheRoots() throws {
        let r = BigNum(1_048_583)
        let rr = r * r
        let q = Self.bigPrime
        let n = rr * q
        #expect(SmallPrimeSieve.hasNoSmallPrimeFactor(n))
        var rng = SeededRandom(seed: "square-factor")
        // w: a square modulo r, a non-square modulo Q, so Jacobi(w, N) = (w/Q) = −1.
        var w: BigNum
        repeat {
            w = try BigNum.random(below: n, using: &rng, secret: false)
        } while try !w.isCoprime(to: n) || w.jacobi(r) != 1 || w.jacobi(q) != -1
        #expect(try w.jacobi(n) == -1)

        var t = ZK.transcript()
        let ys = try ModulusProof.challenges(modulus: n, w: w, transcript: &t)
        // Fourth roots: mod r², the squares form a group of odd order r(r−1)/2, where x ↦ x^4 is
        // a bijection with inverse x ↦ x^(4⁻¹ mod r(r−1)/2); mod Q, as the honest prover does.
        let squaresOrderR = try (r * (r - .one)).shiftedRight(by: 1)
        let fourthRootR = try BigNum(4).modInverse(squaresOrderR)
        let quarterQ = try (q + .one).shiftedRight(by: 2)
        let fourthRootQ = try quarterQ.modMul(quarterQ, q - .one)
        var rounds: [ModulusProof.Round] = []
        for y in ys {
            var chosen: (a: Bool, b: Bool, value: BigNum)?
            for (a, b) in [(false, false), (true, false), (false, true), (true, true)] {
                var value = y
                if b { value = try value.modMul(w, n) }
                if a { value = n - value }
                if try value.jacobi(r) == 1, try value.jacobi(q) == 1 {
                    chosen = (a, b, value)
                    break
                }
            }
            let c = try #require(chosen)
            let x = try crt([try c.value.modExp(fourthRootR, rr), try c.value.modExp(fourthRootQ, q)], [rr, q])
            #expect(try x.modExp(BigNum(4), n) == c.value)
            rounds.append(.init(x: x, a: c.a, b: c.b))
        }
        // The best N-th-root attempt: invert N where it is invertible (mod Q − 1 and mod r − 1).
        let roots = try ys.prefix(ProofParameters.modulusRoots).map { y in
            try crt([y.modExp(n.modInverse(r - .one), rr), y.modExp(n.modInverse(q - .one), q)], [rr, q])
        }
        for (z, y) in zip(roots, ys) { #expect(try z.modExp(n, n) != y) }
        let forged = ModulusProof(w: w, rounds: rounds, roots: roots)
        var v = ZK.transcript()
        #expect(throws: ProofError.equationFailed("Fig. 16: z[0]^N = y[0]")) {
            try forged.verify(modulus: n, transcript: &v)
        }
    }

    /// N = (16 primes of 16 bits) · P₁ · P₂ (the "6ix1een" shape): Π^fac alone is satisfied by the
    /// balanced split p = 16 primes · P₁, q = P₂ (it bounds sizes, not primality), but Π^mod
    /// refuses it — by its sieve at once, and the fourth-root rounds would too: a round is
    /// answerable only if some (−1)^a·w^b·y is a square modulo all 18 primes (probability
    /// 4/2^18), and all 80 must be.
    @Test func sixteenSmallPrimes() throws {
        let (p1, p2) = MPCFixtures.material.paillier[5]
        let bigPrimes = [p1.declassified(), p2.declassified()]
        let smallProduct = Self.smallPrimes.reduce(BigNum.one, *)
        let n = smallProduct * bigPrimes[0] * bigPrimes[1]
        #expect(n.bitLength > 2048 && n.bitLength <= ProofParameters.maximumModulusBits)
        _ = try PaillierPublicKey(n: n)
        var rng = SeededRandom(seed: "bitforge-16")

        // Π^fac with a balanced split verifies: it is not the check that catches this shape.
        var t1 = ZK.transcript()
        let fac = try NoSmallFactorProof.prove(
            modulus: n, p: smallProduct * bigPrimes[0], q: bigPrimes[1], setup: ZK.setup, transcript: &t1, rng: &rng)
        var v1 = ZK.transcript()
        try fac.verify(modulus: n, setup: ZK.setup, transcript: &v1)

        // Π^mod, attacker 1: the honest algorithm on the composite "prime" p.
        #expect(throws: ProofError.self) {
            var t = ZK.transcript()
            let proof = try ModulusProof.prove(
                modulus: n, p: smallProduct * bigPrimes[0], q: bigPrimes[1], transcript: &t, rng: &rng)
            var v = ZK.transcript()
            try proof.verify(modulus: n, transcript: &v)
        }

        // Π^mod, attacker 2: knows all 18 primes and answers every round as well as it can.
        let primes = Self.smallPrimes + bigPrimes
        var w: BigNum
        repeat { w = try BigNum.random(below: n, using: &rng, secret: false) } while try w.jacobi(n) != -1
        var t2 = ZK.transcript()
        let ys = try ModulusProof.challenges(modulus: n, w: w, transcript: &t2)
        var answerable = 0
        var rounds: [ModulusProof.Round] = []
        var roots: [BigNum] = []
        for y in ys {
            var best: (a: Bool, b: Bool, value: BigNum, squares: Int)?
            for (a, b) in [(false, false), (true, false), (false, true), (true, true)] {
                var value = y
                if b { value = try value.modMul(w, n) }
                if a { value = n - value }
                let squares = try primes.filter { try value.jacobi($0) == 1 }.count
                if best == nil || squares > best!.squares { best = (a, b, value, squares) }
            }
            let choice = best!
            if choice.squares == primes.count { answerable += 1 }
            // Per prime: a fourth root where the value is a square, N-th roots everywhere.
            let x = try crt(
                primes.map { r in
                    let e = try (r + .one).shiftedRight(by: 2)
                    return try choice.value.modExp(e.modMul(e, r - .one), r)
                }, primes)
            if roots.count < ProofParameters.modulusRoots {
                roots.append(try crt(primes.map { r in try y.modExp(n.modInverse(r - .one), r) }, primes))
            }
            rounds.append(.init(x: x, a: choice.a, b: choice.b))
        }
        #expect(answerable < ProofParameters.repetitions)
        let forged = ModulusProof(w: w, rounds: rounds, roots: roots)
        var v2 = ZK.transcript()
        // The sieve refuses N before any round is looked at ...
        #expect(throws: ProofError.invalidStatement("N has a prime factor below 2^20")) {
            try forged.verify(modulus: n, transcript: &v2)
        }
        // ... and without it, the fourth roots would: the N-th roots are right (gcd(N, φ(N)) = 1
        // here), but some round has no valid answer.
        for (z, y) in zip(roots, ys) { #expect(try z.modExp(n, n) == y) }
    }

    /// x with x ≡ residues[i] (mod moduli[i]) (Garner).
    func crt(_ residues: [BigNum], _ moduli: [BigNum]) throws -> BigNum {
        var x = residues[0]
        var m = moduli[0]
        for (r, mi) in zip(residues.dropFirst(), moduli.dropFirst()) {
            let h = try (r - x).mod(mi).modMul(m.modInverse(mi), mi)
            x = x + m * h
            m = m * mi
        }
        return x
    }

    // MARK: (b) TSSHOCK: a one-iteration ring-Pedersen proof

    /// s = −s₀ is a non-square modulo p̃, so s ∉ ⟨t⟩ (t is a square): a false statement. With one
    /// binary challenge the forger guesses e = 0, sends A = t^z and answers z, and wins half the
    /// time (here: after grinding z until the challenge bit is 0). A one-round verifier accepts;
    /// this one refuses the count, at decoding and at verification. The same trick over 80
    /// rounds fails.
    @Test func oneIterationRingPedersenProofIsRefused() throws {
        let secret = MPCFixtures.ringPedersen[0]
        let n = secret.parameters.n
        let t = secret.parameters.t
        let s = n - secret.parameters.s
        #expect(try s.jacobi(secret.primes.p.declassified()) == -1)  // not a square mod p̃: s ∉ ⟨t⟩
        let bad = try RingPedersenParameters(n: n, s: s, t: t)  // the shape checks accept it

        var rng = SeededRandom(seed: "tsshock")
        var forged: RingPedersenProof?
        for _ in 0..<64 {
            let z = try BigNum.random(below: n, using: &rng, secret: false)
            let a = try t.modExp(z, n)
            var transcript = ZK.transcript()
            let bits = try RingPedersenProof.challenges(parameters: bad, commitments: [a], transcript: &transcript)
            if !bits[0] {
                forged = RingPedersenProof(commitments: [a], responses: [z])
                break
            }
        }
        let proof = try #require(forged)
        // The single-round equation t^z = A·s^e holds for the challenge e = 0 …
        #expect(try t.modExp(proof.responses[0], n) == proof.commitments[0])
        // … but the proof is refused.
        var v = ZK.transcript()
        #expect(throws: ProofError.wrongRepetitionCount(found: 1, required: 80)) {
            try proof.verify(parameters: bad, transcript: &v)
        }
        #expect(throws: ProofError.wrongRepetitionCount(found: 1, required: 80)) {
            try RingPedersenProof(decoding: proof.encode())
        }

        // The same strategy over 80 rounds: every A_i = t^z_i, betting on e_i = 0 everywhere.
        var zs: [BigNum] = []
        for _ in 0..<80 { zs.append(try BigNum.random(below: n, using: &rng, secret: false)) }
        let full = RingPedersenProof(commitments: try zs.map { try t.modExp($0, n) }, responses: zs)
        var v80 = ZK.transcript()
        #expect(throws: ProofError.self) { try full.verify(parameters: bad, transcript: &v80) }
        // One good round repeated 80 times is no better.
        let repeated = RingPedersenProof(
            commitments: Array(repeating: proof.commitments[0], count: 80),
            responses: Array(repeating: proof.responses[0], count: 80))
        var vr = ZK.transcript()
        #expect(throws: ProofError.self) { try repeated.verify(parameters: bad, transcript: &vr) }
        // And an honest proof for the true parameters cannot be moved to the false ones.
        var tp = ZK.transcript()
        let honest = try RingPedersenProof.prove(secret: secret, transcript: &tp, rng: &rng)
        var vh = ZK.transcript()
        #expect(throws: ProofError.self) { try honest.verify(parameters: bad, transcript: &vh) }
    }

    // MARK: (c) TSSHOCK: ambiguous transcript encodings

    /// Two Π^enc first messages whose integers concatenate to the same bytes (bytes moved from A
    /// to S): a hash over the plain concatenation gives both the same challenge; ours does not.
    @Test func splitCommitmentsGetDifferentChallenges() throws {
        let honest = try ProofEncryptionTests.honest(seed: "split")
        let c = honest.proof.commitment
        let sBytes = c.s.magnitudeBytes()
        let aBytes = c.a.magnitudeBytes()
        // Move the first k bytes of A to the end of S, k chosen so that A keeps a non-zero lead.
        let k = try #require((1..<8).first { aBytes[$0] != 0 })
        let split = EncryptionProof.Commitment(
            s: BigNum(bytes: sBytes + aBytes.prefix(k)), a: BigNum(bytes: aBytes.dropFirst(k)), c: c.c)
        #expect(split != c)
        let concatenation = { (x: EncryptionProof.Commitment) in
            x.s.magnitudeBytes() + x.a.magnitudeBytes() + x.c.magnitudeBytes()
        }
        #expect(concatenation(split) == concatenation(c))
        #expect(SHA256.hash(concatenation(split)) == SHA256.hash(concatenation(c)))  // the naive hash collides
        var t1 = ZK.transcript()
        var t2 = ZK.transcript()
        let e1 = try EncryptionProof.challenge(
            statement: honest.statement, setup: ZK.setup, commitment: c, transcript: &t1)
        let e2 = try EncryptionProof.challenge(
            statement: honest.statement, setup: ZK.setup, commitment: split, transcript: &t2)
        #expect(e1 != e2)
        // The proof with the re-split commitment is refused.
        var moved = honest.proof
        moved.commitment = split
        var v = ZK.transcript()
        #expect(throws: ProofError.self) {
            try moved.verify(statement: honest.statement, setup: ZK.setup, transcript: &v)
        }

        // The same for Π^prm's list of commitments, and for the statement vs. the first message.
        let a1 = ProofRingPedersenTests.proof.commitments
        let a1Bytes = a1[0].magnitudeBytes()
        let a2Bytes = a1[1].magnitudeBytes()
        let j = try #require((1..<8).first { a2Bytes[$0] != 0 })
        var resplit = a1
        resplit[0] = BigNum(bytes: a1Bytes + a2Bytes.prefix(j))
        resplit[1] = BigNum(bytes: a2Bytes.dropFirst(j))
        #expect(resplit.flatMap { $0.magnitudeBytes() } == a1.flatMap { $0.magnitudeBytes() })
        var t3 = ZK.transcript()
        var t4 = ZK.transcript()
        let params = ProofRingPedersenTests.parameters
        #expect(
            try RingPedersenProof.challenges(parameters: params, commitments: a1, transcript: &t3)
                != RingPedersenProof.challenges(parameters: params, commitments: resplit, transcript: &t4))
    }

    /// Protocol tag, session id and party index are framed too: moving bytes between the tag and
    /// the session id gives a different transcript, so a proof does not verify under the re-split
    /// context; nor under a party index that reads the same bytes differently.
    @Test func splitContextsGetDifferentChallenges() throws {
        var rng = SeededRandom(seed: "split-context")
        let x = Scalar.random(using: &rng)
        let point = Point.generatorMul(x)
        var t = Transcript(protocolTag: "vn/zk", sessionID: Array("ab".utf8), partyIndex: 0x0102)
        let proof = try SchnorrProof.prove(secret: x, publicPoint: point, transcript: &t, rng: &rng)
        var same = Transcript(protocolTag: "vn/zk", sessionID: Array("ab".utf8), partyIndex: 0x0102)
        try proof.verify(publicPoint: point, transcript: &same)
        let resplits = [
            Transcript(protocolTag: "vn/zka", sessionID: Array("b".utf8), partyIndex: 0x0102),
            Transcript(protocolTag: "vn/z", sessionID: Array("kab".utf8), partyIndex: 0x0102),
            Transcript(protocolTag: "vn/zk", sessionID: Array("ab".utf8) + [0x01], partyIndex: 0x02),
            Transcript(protocolTag: "vn/zk", sessionID: Array("a".utf8), partyIndex: 0x6201_02),
        ]
        for var other in resplits {
            #expect(throws: ProofError.self) { try proof.verify(publicPoint: point, transcript: &other) }
        }
    }
}
