import CryptoPrimitives
import MPCMath
import Secp256k1
import Wire

/// Who presigns: exactly t+1 signers of a key, and the session id of this run.
public struct PresignParameters: Sendable {
    /// Unique per run (16…64 bytes).
    public var sessionID: [UInt8]
    /// Exactly t+1 parties of the key, strictly increasing, including us.
    public var signers: [PartyIndex]

    public init(sessionID: [UInt8], signers: [PartyIndex]) {
        self.sessionID = sessionID
        self.signers = signers
    }
}

/// What `Presigning` reports when it completes; the presignature itself is taken with
/// `takePresignature()`, once.
public struct PresignReady: Sendable, Equatable {
    /// R = k⁻¹·G.
    public let nonce: Point
    public let signers: [PartyIndex]
}

/// GG20 presigning (the offline phase of Fig. 6, Phases 1–5) with CGGMP21's range proofs, as a
/// pure state machine. With w_i = λ_i·x_i (Lagrange over the signer set):
///
///   Round 1 (broadcast)  K_i = Enc_i(k_i) (Phase 1; k_i, γ_i ← Z_q)
///           (direct → j) Π^enc of K_i against j's setup (CGGMP21 Fig. 7, round 1)
///   Round 2 (broadcast)  echo; Γ_i = γ_i·G with Π^sch
///           (direct → j) MtA for k_j·γ_i and MtAwc for k_j·w_i: `MtAResponse` with Π^aff-g whose
///                        X is Γ_i, resp. W_i = λ_i·X_i (Phase 2; CGGMP21 Fig. 7, round 2)
///   Round 3 (broadcast)  echo; δ_i = k_iγ_i + Σ(α_ij + β_ij) (Phase 3); σ_i = k_iw_i + Σ(α̂ + β̂) kept
///   Round 4 (broadcast)  echo; R = δ⁻¹·Γ (Phase 4); R̄_i = k_i·R and S_i = σ_i·R (Phases 5, 6)
///           (direct → j) Π^log* of (K_i, R̄_i) with base R (GG20's R_i consistency proof)
///   then                 Σ R̄_i = G (Phase 5 check) and Σ S_i = y (Phase 6 check).
///
/// The presignature (R, k_i, σ_i, R̄_j, S_j) is bound to the key id and the signer set; it is
/// noncopyable and `Presignature.sign` consumes it.
public struct Presigning: Sendable {
    enum Phase: Sendable {
        case running(round: UInt8)
        case done
        case aborted(Abort)
    }

    struct Nonces: Sendable {
        var k: Scalar
        var gamma: Scalar
        var rho: BigNum
        var sigma: Scalar = .zero
        var delta: Scalar = .zero
    }

    let share: KeyShare
    let params: PresignParameters
    var rounds: Rounds
    var phase: Phase = .running(round: 1)
    var nonces: Nonces?
    /// The presignature, filled once and taken once (shared by copies of this value).
    let output = OnceSlot<PresignatureSecrets>()

    // Public values, per signer.
    var paillier: [PartyIndex: PaillierPublicKey] = [:]
    var setups: [PartyIndex: RingPedersenParameters] = [:]
    var publicW: [PartyIndex: Point] = [:]
    var bigK: [PartyIndex: PaillierCiphertext] = [:]
    var bigGamma: [PartyIndex: Point] = [:]
    var betas: [PartyIndex: (gamma: Scalar, w: Scalar)] = [:]
    var nonce: Point = .infinity
    var lambda: Scalar = .zero

    var me: PartyIndex { share.me }
    var peers: [PartyIndex] { rounds.peers }
    public var droppedCount: Int { rounds.droppedCount }

    /// Starts presigning: checks the signer set, draws k_i, γ_i, and returns round 1.
    public static func start<R: RandomSource>(
        keyShare: KeyShare, params: PresignParameters, identityKey: PrivateKey, rng: inout R
    ) throws(Abort) -> (Presigning, [Message]) {
        func bad(_ why: String) -> Abort { Abort(culprits: [], reason: .invalidArguments(why)) }
        let signers = params.signers
        guard (16...64).contains(params.sessionID.count) else { throw bad("session id must be 16…64 bytes") }
        guard signers.count == keyShare.threshold + 1 else { throw bad("exactly t+1 signers") }
        guard zip(signers, signers.dropFirst()).allSatisfy({ $0 < $1 }), signers.contains(keyShare.me),
            signers.allSatisfy({ keyShare.parties.contains($0) })
        else { throw bad("signers must be increasing parties of the key, including us") }
        guard identityKey.publicKey == keyShare.identities[keyShare.index(of: keyShare.me)!] else {
            throw bad("identity key does not match")
        }
        let identities = Dictionary(
            uniqueKeysWithValues: signers.map { ($0, keyShare.identities[keyShare.index(of: $0)!]) })
        let rounds = Rounds(
            kind: .presign, sessionID: params.sessionID, me: keyShare.me, parties: signers, identities: identities,
            identity: identityKey, rounds: 1...4, directRounds: [1, 2, 4])
        let k = Scalar.random(using: &rng)
        let gamma = Scalar.random(using: &rng)
        var machine = Presigning(share: keyShare, params: params, rounds: rounds, nonces: nil)
        let ids = Dictionary(uniqueKeysWithValues: zip(keyShare.parties, keyShare.shareIDs))
        for j in signers {
            let index = keyShare.index(of: j)!
            machine.paillier[j] = keyShare.paillierKeys[index]
            machine.setups[j] = keyShare.ringPedersen[index]
            let l = try local("Lagrange") { try lagrangeCoefficient(j, signers: signers, shareIDs: ids) }
            machine.publicW[j] = keyShare.publicShares[index].multipliedVartime(by: l)
            if j == keyShare.me { machine.lambda = l }
        }
        // Phase 1: K_i = Enc_i(k_i; ρ_i) (owner-side CRT encryption).
        let (ciphertext, rho) = try local("encrypt k") {
            try keyShare.paillierSecret.encrypt(BigNum(k), using: &rng)
        }
        machine.nonces = Nonces(k: k, gamma: gamma, rho: rho)
        machine.bigK[keyShare.me] = ciphertext
        var out = [try machine.rounds.broadcast(round: 1, echoOf: nil) { $0.writeInteger(ciphertext.value) }]
        let statement = EncryptionProof.Statement(key: keyShare.paillierSecret.publicKey, ciphertext: ciphertext)
        for j in machine.peers {
            var t = machine.transcript("enc", prover: keyShare.me, recipient: j)
            let setup = machine.setups[j]!
            let proof = try local("Π^enc") {
                try EncryptionProof.prove(
                    statement: statement, plaintext: BigNum(k), randomness: rho, setup: setup, transcript: &t, rng: &rng
                )
            }
            out.append(machine.rounds.direct(round: 1, to: j) { $0.writeBytes(proof.encode()) })
        }
        return (machine, out)
    }

    /// Proof transcripts bind the session, the prover, the key id, the signer set and (for
    /// pairwise proofs) the recipient.
    func transcript(_ tag: String, prover: PartyIndex, recipient: PartyIndex? = nil) -> Transcript {
        var t = Transcript(protocolTag: "vn/tss/presign/" + tag, sessionID: params.sessionID, partyIndex: prover)
        t.append("key", bytes: share.keyID)
        t.append(
            "signers",
            bytes: params.signers.flatMap { s in (0..<4).map { UInt8(truncatingIfNeeded: s >> (24 - 8 * $0)) } })
        if let recipient { t.append("recipient", uint64: UInt64(recipient)) }
        return t
    }

    /// Feeds one message from `sender` (authenticated by the transport).
    public mutating func receive<R: RandomSource>(
        from sender: PartyIndex, _ message: Message, rng: inout R
    ) -> Action<PresignReady> {
        guard case .running(let round) = phase else {
            if case .aborted(let abort) = phase { return .aborted(abort) }
            rounds.droppedCount += 1
            return .wait
        }
        do throws(Abort) {
            guard try rounds.accept(message, from: sender, current: round) else { return .wait }
            var out: [Message] = []
            while case .running(let round) = phase, rounds.isComplete(round) {
                switch round {
                case 1:
                    try finishRound1()
                    out += try round2(rng: &rng)
                case 2:
                    try finishRound2()
                    out.append(try round3())
                case 3:
                    try finishRound3()
                    out += try round4(rng: &rng)
                default:
                    let ready = try finishRound4()
                    phase = .done
                    return .finished(ready, out)
                }
                phase = .running(round: round + 1)
            }
            return out.isEmpty ? .wait : .send(out)
        } catch {
            phase = .aborted(error)
            nonces = nil
            return .aborted(error)
        }
    }

    /// The presignature, once (nil afterwards, or before the protocol finished).
    public func takePresignature() -> Presignature? {
        guard case .done = phase, let secrets = output.take() else { return nil }
        return Presignature(secrets: secrets)
    }

    // MARK: Rounds

    mutating func finishRound1() throws(Abort) {
        let inbox = rounds.inbox(1)
        let bits = 2 * PaillierPublicKey.maximumModulusBits
        for j in peers {
            let value = try decodePayload(inbox.broadcasts[j]!) { r throws(WireError) in
                try r.readInteger(maxBits: bits)
            }
            guard let c = try? paillier[j]!.validate(ciphertext: value) else { throw .blame(j, .outOfRange("K_j")) }
            var t = transcript("enc", prover: j, recipient: me)
            let statement = EncryptionProof.Statement(key: paillier[j]!, ciphertext: c)
            let setup = setups[me]!
            let proof = try decodePayload(inbox.direct[j]!) { r throws(WireError) in try r.readBytes(maxLength: 1 << 14)
            }
            try requireProof(j, "Π^enc") {
                try EncryptionProof(decoding: proof).verify(statement: statement, setup: setup, transcript: &t)
            }
            bigK[j] = c
        }
    }

    mutating func round2<R: RandomSource>(rng: inout R) throws(Abort) -> [Message] {
        let n = nonces!
        let gammaPoint = Point.generatorMul(n.gamma)
        bigGamma[me] = gammaPoint
        var t = transcript("sch", prover: me)
        let sch = try local("Π^sch") {
            try SchnorrProof.prove(secret: n.gamma, publicPoint: gammaPoint, transcript: &t, rng: &rng)
        }
        var out = [
            try rounds.broadcast(round: 2, echoOf: 1) { w in
                w.writePoint(gammaPoint)
                w.writeBytes(sch.encode())
            }
        ]
        let w = lambda * share.secretShare
        let myKey = paillier[me]!
        for j in peers {
            // Phase 2: Bob's side of MtA (k_j·γ_i) and MtAwc (k_j·w_i), with Π^aff-g.
            var t1 = transcript("mta", prover: me, recipient: j)
            var t2 = transcript("mtawc", prover: me, recipient: j)
            let (aliceKey, aliceC, aliceSetup) = (paillier[j]!, bigK[j]!, setups[j]!)
            let mta = try local("MtA") {
                try MtAResponse.respond(
                    aliceKey: aliceKey, aliceCiphertext: aliceC, aliceSetup: aliceSetup, bobKey: myKey,
                    bobSecret: n.gamma, transcript: &t1, rng: &rng)
            }
            let mtawc = try local("MtAwc") {
                try MtAResponse.respond(
                    aliceKey: aliceKey, aliceCiphertext: aliceC, aliceSetup: aliceSetup, bobKey: myKey, bobSecret: w,
                    transcript: &t2, rng: &rng)
            }
            betas[j] = (mta.beta, mtawc.beta)
            out.append(
                rounds.direct(round: 2, to: j) { w in
                    for response in [mta, mtawc] {
                        w.writeInteger(response.d.value)
                        w.writeInteger(response.y.value)
                        w.writeBytes(response.proof.encode())
                    }
                })
        }
        return out
    }

    mutating func finishRound2() throws(Abort) {
        let inbox = rounds.inbox(2)
        let view = rounds.echoView(1)
        var n = nonces!
        var delta = n.k * n.gamma
        var sigma = n.k * (lambda * share.secretShare)
        let bits = 2 * PaillierPublicKey.maximumModulusBits
        for j in peers {
            let reader = try rounds.checkEcho(inbox.broadcasts[j]!, of: 1, view: view)
            let (gammaJ, schBytes) = try decodeRest(reader, from: j) { r throws(WireError) in
                (try r.readPoint(), try r.readBytes(maxLength: 128))
            }
            var t = transcript("sch", prover: j)
            try requireProof(j, "Π^sch(Γ_j)") {
                try SchnorrProof(decoding: schBytes).verify(publicPoint: gammaJ, transcript: &t)
            }
            bigGamma[j] = gammaJ
            let responses = try decodePayload(inbox.direct[j]!) { r throws(WireError) in
                try (0..<2).map { _ throws(WireError) in
                    (
                        try r.readInteger(maxBits: bits), try r.readInteger(maxBits: bits),
                        try r.readBytes(maxLength: 1 << 14)
                    )
                }
            }
            // Phase 2 checks: Π^aff-g for D_ij, Y_ij against X = Γ_j (MtA) and X = W_j (MtAwc).
            var shares: [Scalar] = []
            for (index, (dValue, yValue, proofBytes)) in responses.enumerated() {
                let name = index == 0 ? "MtA" : "MtAwc"
                guard let d = try? paillier[me]!.validate(ciphertext: dValue),
                    let y = try? paillier[j]!.validate(ciphertext: yValue)
                else { throw .blame(j, .outOfRange("\(name) ciphertext")) }
                let statement = AffineGroupProof.Statement(
                    verifierKey: paillier[me]!, proverKey: paillier[j]!, c: bigK[me]!, d: d, y: y,
                    x: index == 0 ? gammaJ : publicW[j]!)
                var t = transcript(index == 0 ? "mta" : "mtawc", prover: j, recipient: me)
                let setup = setups[me]!
                try requireProof(j, "Π^aff-g(\(name))") {
                    try AffineGroupProof(decoding: proofBytes).verify(
                        statement: statement, setup: setup, transcript: &t)
                }
                // α_ij = Dec_i(D_ij) (signed, no wrap-around by the proof's ranges), mod q.
                let alpha = try local("decrypt α") {
                    try Scalar(reducing: share.paillierSecret.decryptSigned(d))
                }
                shares.append(alpha)
            }
            // Phase 3: δ_i = k_iγ_i + Σ(α_ij + β_ij), σ_i = k_iw_i + Σ(α̂_ij + β̂_ij).
            delta += shares[0] + betas[j]!.gamma
            sigma += shares[1] + betas[j]!.w
        }
        betas = [:]
        n.delta = delta
        n.sigma = sigma
        nonces = n
    }

    mutating func round3() throws(Abort) -> Message {
        let delta = nonces!.delta
        return try rounds.broadcast(round: 3, echoOf: 2) { $0.writeFixedBytes(delta.bytes) }
    }

    mutating func finishRound3() throws(Abort) {
        let inbox = rounds.inbox(3)
        let view = rounds.echoView(2)
        var delta = nonces!.delta
        for j in peers {
            let reader = try rounds.checkEcho(inbox.broadcasts[j]!, of: 2, view: view)
            delta += try decodeRest(reader, from: j) { r throws(WireError) in try r.readScalar() }
        }
        // Phase 4: R = δ⁻¹·Γ with Γ = Σ Γ_j.
        guard let inverse = try? delta.inverse() else {
            throw Abort(culprits: [], reason: .unidentifiedNonceInconsistency)
        }
        let gamma = Point.sum(params.signers.map { bigGamma[$0]! })
        nonce = gamma.multipliedVartime(by: inverse)
        guard !nonce.isInfinity else { throw Abort(culprits: [], reason: .unidentifiedNonceInconsistency) }
    }

    var rBar: [PartyIndex: Point] = [:]
    var bigS: [PartyIndex: Point] = [:]

    mutating func round4<R: RandomSource>(rng: inout R) throws(Abort) -> [Message] {
        let n = nonces!
        let r = nonce
        let rBarMine = n.k * r
        let sMine = n.sigma * r
        rBar[me] = rBarMine
        bigS[me] = sMine
        var out = [
            try rounds.broadcast(round: 4, echoOf: 3) { w in
                w.writePoint(rBarMine)
                w.writePoint(sMine)
            }
        ]
        let statement = LogStarProof.Statement(key: paillier[me]!, ciphertext: bigK[me]!, point: rBarMine, base: r)
        for j in peers {
            // GG20 Phase 5 consistency: R̄_i = k_i·R for the k_i inside K_i (Π^log*, base R).
            var t = transcript("log*", prover: me, recipient: j)
            let setup = setups[j]!
            let proof = try local("Π^log*") {
                try LogStarProof.prove(
                    statement: statement, secret: BigNum(n.k), randomness: n.rho, setup: setup, transcript: &t,
                    rng: &rng)
            }
            out.append(rounds.direct(round: 4, to: j) { $0.writeBytes(proof.encode()) })
        }
        return out
    }

    mutating func finishRound4() throws(Abort) -> PresignReady {
        let inbox = rounds.inbox(4)
        let view = rounds.echoView(3)
        for j in peers {
            let reader = try rounds.checkEcho(inbox.broadcasts[j]!, of: 3, view: view)
            let (rj, sj) = try decodeRest(reader, from: j) { r throws(WireError) in
                (try r.readPoint(), try r.readPoint())
            }
            let statement = LogStarProof.Statement(key: paillier[j]!, ciphertext: bigK[j]!, point: rj, base: nonce)
            var t = transcript("log*", prover: j, recipient: me)
            let setup = setups[me]!
            let proofBytes = try decodePayload(inbox.direct[j]!) { r throws(WireError) in
                try r.readBytes(maxLength: 1 << 14)
            }
            try requireProof(j, "Π^log*(R̄_j)") {
                try LogStarProof(decoding: proofBytes).verify(statement: statement, setup: setup, transcript: &t)
            }
            rBar[j] = rj
            bigS[j] = sj
        }
        // GG20 Phase 5 check: Σ R̄_i = G. (A failure means some δ_j was wrong: type-5 blame.)
        guard Point.sum(params.signers.map { rBar[$0]! }) == .generator else {
            throw Abort(culprits: [], reason: .unidentifiedNonceInconsistency)
        }
        // GG20 Phase 6 check: Σ S_i = y. (A failure means some σ_j was wrong: type-7 blame.)
        guard Point.sum(params.signers.map { bigS[$0]! }) == share.publicKey else {
            throw Abort(culprits: [], reason: .unidentifiedSigmaInconsistency)
        }
        let n = nonces!
        nonces = nil
        let secrets = PresignatureSecrets(
            keyID: share.keyID, sessionID: params.sessionID, signers: params.signers, me: me, nonce: nonce,
            k: n.k, sigma: n.sigma, rBar: rBar, bigS: bigS, publicKey: share.publicKey,
            identities: rounds.identities, echo: rounds.echoView(4))
        guard output.fill(secrets) else {
            throw Abort(culprits: [], reason: .invalidArguments("presigning state reused"))
        }
        return PresignReady(nonce: nonce, signers: params.signers)
    }
}
