import CryptoPrimitives
import MPCMath
import Secp256k1
import Wire

// The blame procedures of presigning (GG20, Gennaro–Goldfeder 2020, "One Round Threshold ECDSA
// with Identifiable Abort", §4.2 type-5 and §4.3 type-7 blame; CGGMP21 §4.3 "identification" for
// the zero-knowledge form of type 7). Both run only after the Phase 5 / Phase 6 check failed, so
// the presignature is abandoned. Round 5 carries each party's blame data, round 6 echoes it, and
// every party then computes the same verdict from the same data.
//
// Shared by both: the signed round-2 direct messages a party received (its MtA and MtAwc
// answers), so everyone knows the ciphertexts D_ij, D̂_ij, Y that only pairs saw. Their
// signatures make them evidence: a party cannot show an answer its peer never sent.
//
// Layout of the blame data (after the round-5 verdict tag):
//   received  = count ‖ (bytes payload ‖ bytes signature)*     (peers in party order)
//   type 5    = received ‖ k_i (32) ‖ ρ_i ‖ γ_i (32) ‖ count ‖ (α_ij ‖ r_ij)*
//   type 7    = received ‖ H_i ‖ count ‖ (bytes Π^mul* ‖ bytes Π^log*(σ))*  (per verifier)
//               ‖ count ‖ (count ‖ (bytes Π^aff-g)*)*  (per verifier, per Alice j: our MtAwc
//               answer (D̂_ji, Ŷ_ji) proven again against that verifier's setup)

/// A blame-data decoding or consistency failure (mapped to the revealing party).
struct BlameDataError: Error {
    let why: String
    init(_ why: String) { self.why = why }
}

extension Presigning {
    func others(_ i: PartyIndex) -> [PartyIndex] { params.signers.filter { $0 != i } }

    static let integerBits = 2 * PaillierPublicKey.maximumModulusBits

    func writeReceived(to w: inout WireWriter) {
        let inbox = rounds.inbox(2)
        w.writeArray(peers) { w, j in
            let message = inbox.direct[j]!
            w.writeBytes(message.payload)
            w.writeBytes(message.signature)
        }
    }

    /// The round-2 direct messages party i says it received, each checked to carry the sender's
    /// signature over (this session, round 2, sender → i).
    func readReceived(_ r: inout WireReader, of i: PartyIndex) throws -> [PartyIndex: Message] {
        let list = try r.readArray(maxCount: params.signers.count, minimumElementSize: 8) { r throws(WireError) in
            (try r.readBytes(maxLength: Message.maximumPayloadBytes), try r.readBytes(maxLength: 64))
        }
        let senders = others(i)
        guard list.count == senders.count else { throw BlameDataError("received count") }
        var result: [PartyIndex: Message] = [:]
        for (j, (payload, signature)) in zip(senders, list) {
            let message = Message(
                kind: .presign, sessionID: params.sessionID, round: 2, from: j, to: .party(i), payload: payload,
                signature: signature)
            guard message.hasValidSignature(by: rounds.identities[j]!) else { throw BlameDataError("signature") }
            result[j] = message
        }
        return result
    }

    /// The (D, Y) pairs of a round-2 answer, validated as ciphertexts: D under Alice i's key, Y
    /// under Bob j's (its recipient already checked the proofs; a party that reveals an answer
    /// it should have complained about is at fault).
    func answers(_ message: Message) throws -> [(d: PaillierCiphertext, y: PaillierCiphertext)] {
        guard case .party(let i) = message.to else { throw BlameDataError("not direct") }
        var r = WireReader(message.payload)
        let raw = try Self.decodeMTA(&r)
        try r.finish()
        return try raw.map {
            (try paillier[i]!.validate(ciphertext: $0.0), try paillier[message.from]!.validate(ciphertext: $0.1))
        }
    }

    static func decodeMTA(_ r: inout WireReader) throws -> [(BigNum, BigNum, [UInt8])] {
        do { return try decodeMtA(&r) } catch { throw BlameDataError("answer: \(error)") }
    }

    /// Paillier randomness of a ciphertext under our key: c ≡ r^N (mod N), so
    /// r = (c mod N)^(N⁻¹ mod φ(N)) mod N (gcd(N, φ(N)) = 1 for N = pq with safe primes).
    func recoverRandomness(_ c: PaillierCiphertext) throws -> BigNum {
        let secret = share.paillierSecret
        let n = secret.publicKey.n
        let exponent = try n.modInverse(secret.phi).withSecrecy(true)
        return try c.value.mod(n).modExpConstantTime(exponent, n).declassified()
    }

    // MARK: Type 5 (GG20 §4.2)

    /// Reveals k_i, ρ_i (K_i = Enc(k_i; ρ_i)), γ_i (Γ_i = γ_i·G) and, per Bob j, α_ij = Dec(D_ij)
    /// with D_ij's randomness r_ij, so anyone can check D_ij = Enc(α_ij; r_ij). These values
    /// belong to this abandoned presignature only: x_i, w_i, σ_i and the Paillier key stay
    /// secret (the MtAwc plaintexts are not revealed).
    func writeType5Reveal(to w: inout WireWriter) throws(Abort) {
        let n = nonces!
        let inbox = rounds.inbox(2)
        let opened = try local("type-5 openings") {
            try peers.map { j -> (BigNum, BigNum) in
                let d = try answers(inbox.direct[j]!)[0].d
                return (try share.paillierSecret.decrypt(d).declassified(), try recoverRandomness(d))
            }
        }
        writeReceived(to: &w)
        w.writeFixedBytes(n.k.bytes)
        w.writeInteger(n.rho)
        w.writeFixedBytes(n.gamma.bytes)
        w.writeArray(opened) { w, pair in
            w.writeInteger(pair.0)
            w.writeInteger(pair.1)
        }
    }

    /// Checks party i's reveal; returns (k_i, γ_i, α_ij mod q per Bob j).
    func readType5Reveal(of i: PartyIndex) throws -> (k: Scalar, gamma: Scalar, alphas: [PartyIndex: Scalar]) {
        var r = blameReaders[i]!
        let received = try readReceived(&r, of: i)
        let k = try r.readScalar()
        let rho = try r.readInteger(maxBits: Self.integerBits)
        let gamma = try r.readScalar()
        let pairs = try r.readArray(maxCount: params.signers.count, minimumElementSize: 8) { r throws(WireError) in
            (try r.readInteger(maxBits: Self.integerBits), try r.readInteger(maxBits: Self.integerBits))
        }
        try r.finish()
        let key = paillier[i]!
        guard try key.encrypt(BigNum(k, secret: false), randomness: rho) == bigK[i]! else {
            throw BlameDataError("K_i ≠ Enc(k_i; ρ_i)")
        }
        guard Point.generatorMul(gamma) == bigGamma[i]! else { throw BlameDataError("Γ_i ≠ γ_i·G") }
        let senders = others(i)
        guard pairs.count == senders.count else { throw BlameDataError("opening count") }
        var alphas: [PartyIndex: Scalar] = [:]
        for (j, (alpha, randomness)) in zip(senders, pairs) {
            let d = try answers(received[j]!)[0].d
            guard alpha < key.n, try key.encrypt(alpha, randomness: randomness) == d else {
                throw BlameDataError("D_ij ≠ Enc(α_ij; r_ij)")
            }
            // α as the signed plaintext (−N/2, N/2], then mod q (as the recipient computed it).
            let signed = alpha > key.n - alpha ? alpha - key.n : alpha
            alphas[j] = try Scalar(reducing: signed)
        }
        return (k, gamma, alphas)
    }

    /// Everyone recomputes δ_j = k_jγ_j + Σ_{i≠j} (α_ji + β_ji) with Bob j's share of k_iγ_j
    /// being β_ji = k_iγ_j − α_ij (α_ij + β_ji = k_iγ_j mod q, GG20 Phase 2), and names every j
    /// whose broadcast δ_j differs (GG20 §4.2, type-5 blame).
    func type5Verdict() throws(Abort) -> Never {
        var reveals: [PartyIndex: (k: Scalar, gamma: Scalar, alphas: [PartyIndex: Scalar])] = [:]
        reveals[me] = (nonces!.k, nonces!.gamma, myAlphas)
        var bad: [PartyIndex] = []
        for i in peers {
            do { reveals[i] = try readType5Reveal(of: i) } catch { bad.append(i) }
        }
        guard bad.isEmpty else { throw Abort(culprits: bad, reason: .invalidBlameData("type-5 reveal")) }
        var culprits: [PartyIndex] = []
        for j in params.signers {
            let rj = reveals[j]!
            var expected = rj.k * rj.gamma
            for i in others(j) {
                let ri = reveals[i]!
                expected += rj.alphas[i]! + ri.k * rj.gamma - ri.alphas[j]!
            }
            if expected != deltas[j]! { culprits.append(j) }
        }
        if culprits.isEmpty { throw Abort(culprits: [], reason: .unidentifiedNonceInconsistency) }
        throw Abort(culprits: culprits, reason: .inconsistentDelta)
    }

    // MARK: Type 7 (GG20 §4.3, in zero knowledge as CGGMP21 §4.3)

    /// Σ_i = H_i · Π_j D̂_ij · Π_j Ŷ_ij⁻¹ under N_i: H_i = Enc(k_i·w_i), D̂_ij = Enc(k_i·w_j + β̂'_ji)
    /// (Bob j's MtAwc answer to us), Ŷ_ij = Enc(β̂'_ij) (our own MtAwc mask for Alice j, whose
    /// share is β̂_ij = −β̂'_ij). Its plaintext is k_iw_i + Σ α̂_ij + Σ β̂_ij over the integers, ≡ σ_i
    /// (mod q), of magnitude below 2^ℓσ.
    func sigmaCiphertext(
        of i: PartyIndex, h: PaillierCiphertext, dHat: [PartyIndex: PaillierCiphertext],
        yHat: [PartyIndex: PaillierCiphertext]
    ) throws -> PaillierCiphertext {
        let key = paillier[i]!
        var c = h
        for j in others(i) {
            c = try key.add(c, dHat[j]!)
            c = try key.add(c, key.multiply(yHat[j]!, by: BigNum.one.negated()))
        }
        return c
    }

    func type7Transcripts(prover: PartyIndex, verifier: PartyIndex) -> (Transcript, Transcript) {
        (
            transcript("blame/mul*", prover: prover, recipient: verifier),
            transcript("blame/log*-sigma", prover: prover, recipient: verifier)
        )
    }

    /// The transcript of Bob `prover`'s MtAwc answer to Alice `alice`, proven again for `verifier`.
    func type7AffineTranscript(prover: PartyIndex, alice: PartyIndex, verifier: PartyIndex) -> Transcript {
        var t = transcript("blame/aff-g", prover: prover, recipient: verifier)
        t.append("alice", uint64: UInt64(alice))
        return t
    }

    /// Bob i's MtAwc answer to Alice j as j shows it (signed by i): D̂_ji carries k_j·w_i + β̂'
    /// for j's σ_j, Ŷ_ji carries β̂' for i's Σ_i. Only Alice checked that the two agree, against
    /// her own setup; a Bob colluding with his Alice could sign two that do not, and both
    /// parties' type-7 proofs would then hold while Σ S_i ≠ y (an abort nobody is named for).
    /// CGGMP21 §4.3's identification has every answer proven again for every verifier.
    func type7AffineStatement(
        bob i: PartyIndex, alice j: PartyIndex, answer: (d: PaillierCiphertext, y: PaillierCiphertext)
    )
        -> AffineGroupProof.Statement
    {
        AffineGroupProof.Statement(
            verifierKey: paillier[j]!, proverKey: paillier[i]!, c: bigK[j]!, d: answer.d, y: answer.y, x: publicW[i]!)
    }

    /// H_i = K_i^{w_i}·ρ^N with Π^mul* (CGGMP21 Fig. 31) and Π^log*(σ) that Σ_i decrypts to the
    /// σ of S_i = σ·R, each against every peer's setup (everyone checks all of them, so a prover
    /// colluding with one verifier still faces the honest verifiers' setups).
    func writeType7Material<R: RandomSource>(to w: inout WireWriter, rng: inout R) throws(Abort) {
        let key = paillier[me]!
        let inbox = rounds.inbox(2)
        let wi = lambda * share.secretShare
        let (h, proofs) = try local("type-7 proofs") {
            let rhoH = try key.randomUnit(using: &rng)
            let h = try MulStarProof.multiply(key: key, bigK[me]!, by: BigNum(wi), randomness: rhoH)
            var dHat: [PartyIndex: PaillierCiphertext] = [:]
            for j in peers { dHat[j] = try answers(inbox.direct[j]!)[1].d }
            let sigmaC = try sigmaCiphertext(of: me, h: h, dHat: dHat, yHat: myWcY)
            let x = try share.paillierSecret.decryptSigned(sigmaC).withSecrecy(true)
            let rx = try recoverRandomness(sigmaC)
            let mulStatement = MulStarProof.Statement(key: key, c: bigK[me]!, d: h, x: publicW[me]!)
            let logStatement = SigmaLogStarProof.Statement(key: key, ciphertext: sigmaC, point: bigS[me]!, base: nonce)
            var proofs: [([UInt8], [UInt8])] = []
            for j in peers {
                var (t1, t2) = type7Transcripts(prover: me, verifier: j)
                let mul = try? MulStarProof.prove(
                    statement: mulStatement, secret: BigNum(wi), randomness: rhoH, setup: setups[j]!, transcript: &t1,
                    rng: &rng)
                // Our S_i is not σ·R for the σ inside Σ_i only if our own state is corrupt: we
                // still send (empty) proofs, so every party names us rather than waiting.
                let log = try? SigmaLogStarProof.prove(
                    statement: logStatement, secret: x, randomness: rx, setup: setups[j]!, transcript: &t2, rng: &rng)
                proofs.append((mul?.encode() ?? [], log?.encode() ?? []))
            }
            return (h, proofs)
        }
        let wHat = BigNum(wi)
        let affine = try local("type-7 Π^aff-g") {
            try peers.map { verifier in
                try peers.map { alice -> [UInt8] in
                    let answer = myWcAnswers[alice]!
                    var t = type7AffineTranscript(prover: me, alice: alice, verifier: verifier)
                    return try AffineGroupProof.prove(
                        statement: type7AffineStatement(bob: me, alice: alice, answer: (answer.d, answer.y)),
                        witness: .init(x: wHat, y: answer.betaPrime, rho: answer.rho, rhoY: answer.rhoY),
                        setup: setups[verifier]!, transcript: &t, rng: &rng, proverSecret: share.paillierSecret
                    ).encode()
                }
            }
        }
        writeReceived(to: &w)
        w.writeInteger(h.value)
        w.writeArray(proofs) { w, pair in
            w.writeBytes(pair.0)
            w.writeBytes(pair.1)
        }
        w.writeArray(affine) { w, perAlice in w.writeArray(perAlice) { w, proof in w.writeBytes(proof) } }
    }

    /// Everyone rebuilds each Σ_i from the revealed answers and checks party i's proofs against
    /// every verifier's setup; a party whose proofs fail lied about S_i (GG20 §4.3).
    func type7Verdict() throws(Abort) -> Never {
        var received: [PartyIndex: [PartyIndex: Message]] = [me: [:]]
        for j in peers { received[me]![j] = rounds.inbox(2).direct[j]! }
        var hs: [PartyIndex: PaillierCiphertext] = [:]
        var proofs: [PartyIndex: [([UInt8], [UInt8])]] = [:]
        var affine: [PartyIndex: [[[UInt8]]]] = [:]
        var bad: [PartyIndex] = []
        for i in peers {
            do {
                var r = blameReaders[i]!
                received[i] = try readReceived(&r, of: i)
                hs[i] = try paillier[i]!.validate(ciphertext: try r.readInteger(maxBits: Self.integerBits))
                let list = try r.readArray(maxCount: params.signers.count, minimumElementSize: 8) {
                    r throws(WireError) in
                    (try r.readBytes(maxLength: 1 << 14), try r.readBytes(maxLength: 1 << 14))
                }
                let count = params.signers.count
                let reproofs = try r.readArray(maxCount: count, minimumElementSize: 4) { r throws(WireError) in
                    try r.readArray(maxCount: count, minimumElementSize: 4) { r throws(WireError) in
                        try r.readBytes(maxLength: 1 << 14)
                    }
                }
                try r.finish()
                guard list.count == others(i).count else { throw BlameDataError("proof count") }
                guard reproofs.count == others(i).count, reproofs.allSatisfy({ $0.count == others(i).count }) else {
                    throw BlameDataError("Π^aff-g count")
                }
                proofs[i] = list
                affine[i] = reproofs
                // Every answer it shows must be well formed (else it should have complained).
                for j in others(i) { _ = try answers(received[i]![j]!) }
            } catch { bad.append(i) }
        }
        guard bad.isEmpty else { throw Abort(culprits: bad, reason: .invalidBlameData("type-7 data")) }
        var culprits: [PartyIndex] = []
        for i in peers {
            let holds =
                (try? checkType7(of: i, h: hs[i]!, proofs: proofs[i]!, affine: affine[i]!, received: received))
                ?? false
            if !holds { culprits.append(i) }
        }
        if culprits.isEmpty { throw Abort(culprits: [], reason: .unidentifiedSigmaInconsistency) }
        throw Abort(culprits: culprits, reason: .inconsistentSigma)
    }

    func checkType7(
        of i: PartyIndex, h: PaillierCiphertext, proofs: [([UInt8], [UInt8])], affine: [[[UInt8]]],
        received: [PartyIndex: [PartyIndex: Message]]
    ) throws -> Bool {
        // i's MtAwc answers (as their Alices show them) agree with W_i, for every verifier.
        for (verifier, perAlice) in zip(others(i), affine) {
            for (alice, bytes) in zip(others(i), perAlice) {
                let answer = try answers(received[alice]![i]!)[1]
                var t = type7AffineTranscript(prover: i, alice: alice, verifier: verifier)
                guard
                    try AffineGroupProof(decoding: bytes).isValid(
                        statement: type7AffineStatement(bob: i, alice: alice, answer: answer),
                        setup: setups[verifier]!, transcript: &t)
                else { return false }
            }
        }
        var dHat: [PartyIndex: PaillierCiphertext] = [:]
        var yHat: [PartyIndex: PaillierCiphertext] = [:]
        for j in others(i) {
            dHat[j] = try answers(received[i]![j]!)[1].d
            // i's own MtAwc answer to Alice j, as j received it: Y under N_i.
            yHat[j] = try answers(received[j]![i]!)[1].y
        }
        let sigmaC = try sigmaCiphertext(of: i, h: h, dHat: dHat, yHat: yHat)
        let key = paillier[i]!
        let mulStatement = MulStarProof.Statement(key: key, c: bigK[i]!, d: h, x: publicW[i]!)
        let logStatement = SigmaLogStarProof.Statement(key: key, ciphertext: sigmaC, point: bigS[i]!, base: nonce)
        for (j, (mulBytes, logBytes)) in zip(others(i), proofs) {
            var (t1, t2) = type7Transcripts(prover: i, verifier: j)
            guard
                try MulStarProof(decoding: mulBytes).isValid(
                    statement: mulStatement, setup: setups[j]!, transcript: &t1),
                try SigmaLogStarProof(decoding: logBytes).isValid(
                    statement: logStatement, setup: setups[j]!, transcript: &t2)
            else { return false }
        }
        return true
    }
}
