import CryptoPrimitives

/// Π^mod: the modulus N is a Paillier-Blum integer (CGGMP21 Fig. 16): N = pq with p ≡ q ≡ 3
/// (mod 4) and gcd(N, φ(N)) = 1. With m = 80 rounds a prover whose N has more than two prime
/// factors, or a square factor, is caught except with probability 2^-80; so a modulus built
/// from many small primes (the BitForge "6ix1een" construction) is refused here. A two-prime N
/// with one *small* prime passes: that is what Π^fac is for.
///
/// Prover (knows p, q):
///   step 1  w ← Z_N with Jacobi(w, N) = −1
///   step 2  y_1 … y_m ← Z_N (here: from the transcript after absorbing N and w)
///   step 3  for each i: the unique a_i, b_i ∈ {0, 1} with y'_i = (−1)^a_i · w^b_i · y_i a square
///           mod p and mod q; x_i = y'_i^(1/4) mod N; and, for i ≤ k only, z_i = y_i^(N⁻¹ mod φ(N))
/// Verifier: N odd and composite, with no prime factor below 2^20; w ∈ Z*_N with Jacobi(w, N) = −1;
///           exactly m rounds and k roots; x_i^4 = (−1)^a_i · w^b_i · y_i (mod N) for i ≤ m and
///           z_i^N = y_i (mod N) for i ≤ k.
///
/// k = ⌈m / 20⌉ = 4 N-th roots instead of Fig. 16's m: the trial-division variant of Goldberg,
/// Reyzin, Sagga and Baldimtsi ("Efficient noninteractive certification of RSA moduli and
/// beyond", ASIACRYPT 2019, §3). The roots are there to show gcd(N, φ(N)) = 1. If a prime r
/// divides both, the N-th power map on Z*_N has a kernel of order ≥ r (Cauchy gives an element
/// of order r, and r | N), so a uniform y_i has an N-th root with probability ≤ 1/r. Every such r
/// divides N, and the verifier first checks by one gcd with the primorial that no prime ≤ 2^20
/// divides N, so each root is forged with probability < 2^-20 and k = 4 roots give < 2^-80,
/// Fig. 16's error for m = 80. (The fourth roots keep all m rounds: their error is 1/2 each.)
/// This removes 76 of 80 full-size exponentiations from every verification (and from proving).
///
/// Encoding: tag 0x02 ‖ version ‖ w ‖ u16 m ‖ m × (x_i ‖ flags) ‖ u16 k ‖ z_1 … z_k,
/// flags = a_i | b_i << 1.
public struct ModulusProof: Sendable, Equatable {
    /// One round's answer (Fig. 16, step 3).
    public struct Round: Sendable, Equatable {
        /// x_i with x_i^4 = (−1)^a_i · w^b_i · y_i mod N.
        public var x: BigNum
        public var a: Bool
        public var b: Bool

        public init(x: BigNum, a: Bool, b: Bool) {
            self.x = x
            self.a = a
            self.b = b
        }
    }

    /// w with Jacobi(w, N) = −1 (Fig. 16, step 1).
    public var w: BigNum
    /// Exactly `ProofParameters.repetitions` rounds.
    public var rounds: [Round]
    /// z_i = y_i^(N⁻¹ mod φ(N)) mod N for the first `ProofParameters.modulusRoots` challenges.
    public var roots: [BigNum]

    static let label = "cggmp21/mod/v2-sieved"

    public init(w: BigNum, rounds: [Round], roots: [BigNum]) {
        self.w = w
        self.rounds = rounds
        self.roots = roots
    }
    // MARK: Prover

    /// Proves that the owner's Paillier modulus is a Paillier-Blum integer.
    public static func prove<R: RandomSource>(
        key: PaillierSecretKey, transcript: inout Transcript, rng: inout R
    ) throws -> ModulusProof {
        try prove(modulus: key.publicKey.n, p: key.p, q: key.q, transcript: &transcript, rng: &rng)
    }

    /// Proves that N = p·q is a Paillier-Blum integer. Checks p·q = N, p ≡ q ≡ 3 (mod 4) and
    /// gcd(N, φ(N)) = 1; nothing about the size of p and q (that is Π^fac's statement).
    public static func prove<R: RandomSource>(
        modulus n: BigNum, p: BigNum, q: BigNum, transcript: inout Transcript, rng: inout R
    ) throws -> ModulusProof {
        let n = n.declassified()
        try checkModulus(n)
        guard p * q == n, p != q, p.isBitSet(0), p.isBitSet(1), q.isBitSet(0), q.isBitSet(1) else {
            throw ProofError.invalidWitness("N is not p·q with p ≡ q ≡ 3 mod 4")
        }
        let crt = try CRTContext(p: p, q: q)
        // N⁻¹ mod (p − 1) and mod (q − 1): the CRT halves of N⁻¹ mod φ(N).
        guard let nInverseP = try? n.modInverse(crt.pMinusOne), let nInverseQ = try? n.modInverse(crt.qMinusOne) else {
            throw ProofError.invalidWitness("gcd(N, φ(N)) ≠ 1")
        }
        // Fourth roots: for p = 4k + 3 let e = ((p + 1)/4)² mod (p − 1). Then 4e ≡ (p + 1)/2
        // (mod p − 1), so (u^e)^4 = u^((p+1)/2) = (u/p)·u: one exponentiation gives both the
        // Legendre symbol of u (compare the fourth power with u) and, for a square u, a fourth
        // root. Roots are multiplicative, so that of (−1)^a·w^b·y is (−1)^(ae)·(w^e)^b·y^e.
        let quarterP = try (crt.p + .one).shiftedRight(by: 2)
        let quarterQ = try (crt.q + .one).shiftedRight(by: 2)
        let rootP = try quarterP.modMul(quarterP, crt.pMinusOne)
        let rootQ = try quarterQ.modMul(quarterQ, crt.qMinusOne)
        /// (u^e mod p, whether u is a square mod p) and the same modulo q, both exponentiations
        /// as one constant-time pair.
        func rootsAndSymbols(_ u: BigNum) throws -> (p: (BigNum, Bool), q: (BigNum, Bool)) {
            let (root1, root2) = try crt.expModPrimes(u, u, ep: rootP, eq: rootQ)
            func symbol(_ root: BigNum, _ r: BigNum) throws -> Bool {
                let square = try root.modMul(root, r)
                return try square.modMul(square, r) == u.withSecrecy(true).mod(r)
            }
            return ((root1, try symbol(root1, crt.p)), (root2, try symbol(root2, crt.q)))
        }
        let minusOne = try rootsAndSymbols(n - .one)
        let (minusOneRootP, minusOneRootQ) = (minusOne.p.0, minusOne.q.0)

        // Fig. 16, step 1: w ← Z_N with Jacobi(w, N) = −1 (public, so the variable-time Jacobi is fine).
        var w: BigNum
        repeat {
            w = try BigNum.random(below: n, using: &rng, secret: false)
        } while try !w.isUnit(modulo: n) || w.jacobi(n) != -1
        let wRoots = try rootsAndSymbols(w)
        let (wRootP, wSquareModP) = wRoots.p
        let wRootQ = wRoots.q.0

        // Fig. 16, step 2: y_i from the transcript.
        let ys = try challenges(modulus: n, w: w, transcript: &transcript)

        // Fig. 16, step 3.
        var rounds: [Round] = []
        var nthRoots: [BigNum] = []
        rounds.reserveCapacity(ys.count)
        for (i, y) in ys.enumerated() {
            guard y.isUnit(modulo: n) else { throw ProofError.invalidWitness("challenge shares a factor with N") }
            let roots = try rootsAndSymbols(y)
            var (xp, yp) = roots.p
            var (xq, yq) = roots.q
            // (−1/p) = (−1/q) = −1 and (w/p) = −(w/q): b = 1 iff y's symbols differ, then a
            // fixes the common sign, making (−1)^a·w^b·y a square modulo both primes.
            let b = yp != yq
            let symbolAfterW = b ? (yp == wSquareModP) : yp
            let a = !symbolAfterW
            if b {
                xp = try xp.modMul(wRootP, crt.p)
                xq = try xq.modMul(wRootQ, crt.q)
            }
            if a {
                xp = try xp.modMul(minusOneRootP, crt.p)
                xq = try xq.modMul(minusOneRootQ, crt.q)
            }
            let x = try crt.combine(xp, xq).declassified()
            rounds.append(Round(x: x, a: a, b: b))
            if i < ProofParameters.modulusRoots {
                nthRoots.append(try crt.exp(y, ep: nInverseP, eq: nInverseQ).declassified())
            }
        }
        return ModulusProof(w: w, rounds: rounds, roots: nthRoots)
    }

    /// The challenges y_1 … y_m ∈ Z_N after absorbing the label, N and w (Fig. 16, step 2).
    public static func challenges(modulus n: BigNum, w: BigNum, transcript: inout Transcript) throws -> [BigNum] {
        transcript.beginProof(label)
        transcript.append("N", integer: n)
        transcript.append("w", integer: w)
        return try transcript.challenges("y", count: ProofParameters.repetitions, below: n)
    }

    /// The verifier's checks on N alone: odd, within the accepted sizes, and not prime. (A prime
    /// N ≡ 3 mod 4 passes every equation of Fig. 16, so this check is essential.)
    ///
    /// "Not prime" is one Miller–Rabin round to base 2, refusing N when it passes: every prime
    /// passes, so every prime is refused; a composite that passes (a strong pseudoprime to base 2,
    /// which a product of two random large primes is not in practice) is refused too, the safe
    /// direction. One exponentiation, where `isProbablePrime` would spend up to 128 on a hostile
    /// prime N.
    public static func checkModulus(_ n: BigNum) throws(ProofError) {
        try checkModulusShape(n, "N")
        guard let passes = try? isStrongProbablePrimeToBaseTwo(n), !passes else {
            throw .invalidStatement("N is prime")
        }
    }

    /// Miller–Rabin with the single base 2, for odd n > 3: n − 1 = 2^s·d with d odd; n passes
    /// when 2^d ≡ 1 or 2^(d·2^j) ≡ −1 (mod n) for some j < s.
    static func isStrongProbablePrimeToBaseTwo(_ n: BigNum) throws -> Bool {
        let nMinusOne = n - .one
        var s = 0
        while !nMinusOne.isBitSet(s) { s += 1 }
        let d = try nMinusOne.shiftedRight(by: s)
        let context = try MontgomeryContext(modulus: n)
        var x = try context.exp(BigNum(2 as UInt64), d)
        if x.isOne || x == nMinusOne { return true }
        for _ in 1..<max(s, 1) {
            x = try x.modMul(x, n)
            if x == nMinusOne { return true }
            if x.isOne { return false }
        }
        return false
    }

    // MARK: Verifier

    public func verify(modulus n: BigNum, transcript: inout Transcript) throws(ProofError) {
        try Self.checkModulus(n)
        // The sieve that lets k = 4 roots stand for Fig. 16's 80 (see the type's comment).
        guard SmallPrimeSieve.hasNoSmallPrimeFactor(n) else {
            throw .invalidStatement("N has a prime factor below 2^\(SmallPrimeSieve.boundBits)")
        }
        // Fig. 16 (verifier): w ∈ Z*_N with Jacobi(w, N) = −1.
        guard w.isUnit(modulo: n) else { throw .notInGroup("w") }
        guard (try? w.jacobi(n)) == -1 else { throw .notInGroup("w (Jacobi symbol must be −1)") }
        guard rounds.count == ProofParameters.repetitions else {
            throw .wrongRepetitionCount(found: rounds.count, required: ProofParameters.repetitions)
        }
        guard roots.count == ProofParameters.modulusRoots else {
            throw .wrongRepetitionCount(found: roots.count, required: ProofParameters.modulusRoots)
        }
        try checkUnits(
            rounds.enumerated().map { i, round in (round.x, "x[\(i)]") } + roots.enumerated().map { ($1, "z[\($0)]") },
            modulo: n)
        try withProofErrors {
            let ys = try Self.challenges(modulus: n, w: w, transcript: &transcript)
            let context = try MontgomeryContext(modulus: n)
            let four = BigNum(4 as UInt64)
            for (i, (round, y)) in zip(rounds, ys).enumerated() {
                // Fig. 16, check 2: x_i^4 = (−1)^a_i · w^b_i · y_i mod N.
                var expected = y
                if round.b { expected = try expected.modMul(w, n) }
                if round.a { expected = n - expected }
                guard try context.exp(round.x, four) == expected else {
                    throw ProofError.equationFailed("Fig. 16: x[\(i)]^4 = (−1)^a·w^b·y[\(i)]")
                }
            }
            for (i, (z, y)) in zip(roots, ys).enumerated() {
                // Fig. 16, check 1: z_i^N = y_i mod N (i ≤ k).
                guard try context.exp(z, n) == y else {
                    throw ProofError.equationFailed("Fig. 16: z[\(i)]^N = y[\(i)]")
                }
            }
        }
    }

    public func isValid(modulus n: BigNum, transcript: inout Transcript) -> Bool {
        (try? verify(modulus: n, transcript: &transcript)) != nil
    }

    // MARK: Encoding

    public func encode() -> [UInt8] {
        var writer = ProofWriter(.modulus)
        writer.unsigned(w)
        writer.count(rounds.count)
        for round in rounds {
            writer.unsigned(round.x)
            writer.byte((round.a ? 1 : 0) | (round.b ? 2 : 0))
        }
        writer.count(roots.count)
        for z in roots { writer.unsigned(z) }
        return writer.bytes
    }

    /// Decodes; a round count other than m, or a root count other than k, is refused before any
    /// of them is read.
    public init(decoding bytes: [UInt8]) throws(ProofError) {
        var reader = try ProofReader(bytes, tag: .modulus)
        w = try reader.unsigned("w", maxBits: FieldBits.modulus)
        let count = try reader.count("m")
        guard count == ProofParameters.repetitions else {
            throw .wrongRepetitionCount(found: count, required: ProofParameters.repetitions)
        }
        var rounds: [Round] = []
        rounds.reserveCapacity(count)
        for i in 0..<count {
            let x = try reader.unsigned("x[\(i)]", maxBits: FieldBits.modulus)
            let flags = try reader.byte("flags[\(i)]")
            guard flags <= 3 else { throw .malformed("flags[\(i)] has unknown bits") }
            rounds.append(Round(x: x, a: flags & 1 != 0, b: flags & 2 != 0))
        }
        let rootCount = try reader.count("k")
        guard rootCount == ProofParameters.modulusRoots else {
            throw .wrongRepetitionCount(found: rootCount, required: ProofParameters.modulusRoots)
        }
        var roots: [BigNum] = []
        for i in 0..<rootCount { roots.append(try reader.unsigned("z[\(i)]", maxBits: FieldBits.modulus)) }
        self.rounds = rounds
        self.roots = roots
        try reader.finish()
    }
}
