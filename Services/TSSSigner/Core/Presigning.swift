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
///   Round 2 (broadcast)  echo; complaints about round 1; Γ_i = γ_i·G with Π^sch
///           (direct → j) MtA for k_j·γ_i and MtAwc for k_j·w_i: `MtAResponse` with Π^aff-g whose
///                        X is Γ_i, resp. W_i = λ_i·X_i (Phase 2; CGGMP21 Fig. 7, round 2)
///   Round 3 (broadcast)  echo; complaints about round 2; δ_i = k_iγ_i + Σ(α_ij + β_ij)
///                        (Phase 3); σ_i = k_iw_i + Σ(α̂ + β̂) kept
///   Round 4 (broadcast)  echo; R = δ⁻¹·Γ (Phase 4); R̄_i = k_i·R and S_i = σ_i·R (Phases 5, 6),
///                        or a failure marker when δ is not invertible / R is infinity
///           (direct → j) Π^log* of (K_i, R̄_i) with base R (GG20's R_i consistency proof)
///   Round 5 (broadcast)  echo; complaints about round 4; Σ R̄_i = G (Phase 5 check) and
///                        Σ S_i = y (Phase 6 check), each party's verdict tag, and on a failure
///                        the blame data: the type-5 reveal (GG20 §4.2) or the type-7 proofs
///                        (GG20 §4.3 with CGGMP21 §4.3's Π^mul* and Π^log*)
///   Round 6 (broadcast)  echo of round 5 (and nothing else). After a failure every party then
///                        computes the same verdict from the same (echo-checked) blame data;
///                        otherwise the presignature is released only now.
///
/// Why round 6 runs on success too (the verdict round's echo). Round 5 carries content a sender
/// can equivocate on: to one peer a valid verdict, to another a malformed one. Without an echo of
/// round 5 the first peer would release its presignature while the second aborts alone, and the
/// online round (which carries the same echo) never comes, since the second peer has no
/// presignature to sign with. Checking the echo inside the online round instead would cost
/// nothing extra only for the parties that finished; the aborted one would still have to tell
/// them, i.e. send a message of this protocol after it ended. The cheapest sound fix is therefore
/// one more echo-only broadcast (4 + 100·n payload bytes to each peer, no proof, no secret): the
/// aborting party's notice (`abortMessages`) *is* a round-6 broadcast, so every peer that saw the
/// valid version finds the sender's two signatures in it and names the same culprit.
/// What remains is inherent to point-to-point links: the last message of any protocol (here the
/// echo-only round 6) can itself be sent valid to one peer and invalid to another, and no later
/// message can reconcile that (agreement needs a broadcast channel). The host has to settle it
/// above the protocol: a presignature is to be used only once every signer has reported ready.
///
/// Complaints. Every direct message is signed by its sender. A recipient whose check of a
/// direct message fails does not abort alone: its next broadcast carries the signed message as
/// a complaint (and no body). Every party rebuilds the message, checks the signature and re-runs
/// the recipient's check, which uses only public values (the recipient's setup and Paillier
/// key, the sender's broadcasts); the accused is blamed if the check fails, the complainer
/// (`falseAccusation`) if it passes or the signature is not the accused's.
///
/// The presignature (R, k_i, σ_i, R̄_j, S_j) is bound to the key id and the signer set; it is
/// noncopyable and `Presignature.sign` consumes it.
public struct Presigning: Sendable {
    enum Phase: Sendable {
        case running(round: UInt8)
        case done
        case aborted(Abort)
    }

    /// What the Phase 5 / Phase 6 checks found (the verdict tag of round 5).
    enum Failure: UInt8, Sendable {
        case none = 0
        /// δ not invertible, R = ∞ or Σ R̄_i ≠ G: type-5 blame.
        case delta = 5
        /// Σ S_i ≠ y: type-7 blame.
        case sigma = 7
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
    var rBar: [PartyIndex: Point] = [:]
    var bigS: [PartyIndex: Point] = [:]
    /// Every signer's broadcast δ_j (round 3), ours included.
    var deltas: [PartyIndex: Scalar] = [:]
    var failure: Failure = .none

    // Kept for the blame procedures (the presignature is abandoned when they run).
    /// Our α_ij = Dec_i(D_ij) mod q, per Bob j (type 5).
    var myAlphas: [PartyIndex: Scalar] = [:]
    /// Our MtAwc answer's Y (Enc under our key of β̂'), per Alice j (type 7).
    var myWcY: [PartyIndex: PaillierCiphertext] = [:]
    /// Our MtAwc answers with their witnesses (β̂', randomness), per Alice j: type 7 proves each
    /// again against every verifier's setup.
    var myWcAnswers: [PartyIndex: MtAResponse] = [:]
    /// The blame data of round 5, per peer, read at round 6.
    var blameReaders: [PartyIndex: WireReader] = [:]
    /// Messages the host should still deliver after this machine aborted (see `abortMessages`).
    var noticeAfterAbort: [Message] = []

    /// After `.aborted`: messages the host should send anyway. (1) What the failing input
    /// produced before the failure (our broadcasts of earlier rounds: peers need them to reach
    /// the check themselves). (2) When we abort over the content of a round-k broadcast, a
    /// body-less round-(k+1) broadcast with our echo of round k: a peer that received a
    /// different, valid version from an equivocating sender finds the sender's two signatures in
    /// it and names the same culprit instead of waiting for us.
    public var abortMessages: [Message] { noticeAfterAbort }

    /// The round whose echo the online message carries (the verdict round).
    static let lastRound: UInt8 = 5

    var me: PartyIndex { share.me }
    var peers: [PartyIndex] { rounds.peers }
    public var droppedCount: Int { rounds.droppedCount }

    /// The largest signer set (t + 1). Type-7 blame has every party prove each of its n − 1
    /// MtAwc answers again for each of the n − 1 other setups: (n − 1)² Π^aff-g proofs of about
    /// 3.7 KB in one round-5 broadcast (which must stay under `Message.maximumPayloadBytes`:
    /// 15 signers ≈ 0.93 MB, 16 would not fit) and (n − 1)³ verifications at every party. Keygen
    /// and resharing refuse thresholds whose signing would exceed it.
    public static let maximumSigners = 15

    /// Starts presigning: checks the signer set, draws k_i, γ_i, and returns round 1.
    public static func start<R: RandomSource>(
        keyShare: KeyShare, params: PresignParameters, identityKey: PrivateKey, rng: inout R
    ) throws(Abort) -> (Presigning, [Message]) {
        func bad(_ why: String) -> Abort { Abort(culprits: [], reason: .invalidArguments(why)) }
        let signers = params.signers
        guard (16...64).contains(params.sessionID.count) else { throw bad("session id must be 16…64 bytes") }
        guard signers.count == keyShare.threshold + 1 else { throw bad("exactly t+1 signers") }
        guard signers.count <= maximumSigners else {
            throw bad("at most \(maximumSigners) signers (t ≤ \(maximumSigners - 1))")
        }
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
            identity: identityKey, rounds: 1...6, directRounds: [1, 2, 4])
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
                    statement: statement, plaintext: BigNum(k), randomness: rho, setup: setup, transcript: &t,
                    rng: &rng, proverSecret: keyShare.paillierSecret)
            }
            out.append(try machine.rounds.direct(round: 1, to: j) { $0.writeBytes(proof.encode()) })
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
        // The round being finished when a check fails (nil: the failure is in a header).
        var finishing: UInt8?
        // What this input produced before a failure (still owed to the peers).
        var out: [Message] = []
        do throws(Abort) {
            guard try rounds.accept(message, from: sender, current: round) else { return .wait }
            // A round-2 broadcast with complaints, or a round-4 failure marker, comes without the
            // round's direct messages: nobody waits for them.
            if message.to == .broadcast, message.round == 2 || message.round == 4,
                try Self.hasNoBody(message, parties: rounds.parties.count)
            {
                rounds.excused[message.round, default: []].insert(sender)
            }
            while case .running(let round) = phase, rounds.isComplete(round) {
                finishing = round
                switch round {
                case 1:
                    let complaints = try finishRound1()
                    out += try round2(complaints: complaints, rng: &rng)
                case 2:
                    let complaints = try finishRound2()
                    out.append(try round3(complaints: complaints))
                case 3:
                    try finishRound3()
                    out += try round4(rng: &rng)
                case 4:
                    let complaints = try finishRound4()
                    out.append(try round5(complaints: complaints, rng: &rng))
                case 5:
                    try finishRound5()
                    out.append(try rounds.broadcast(round: 6, echoOf: 5) { _ in })
                default:
                    guard let ready = try finishRound6() else {
                        throw Abort(culprits: [], reason: .internalError("blame round without a verdict"))
                    }
                    phase = .done
                    return .finished(ready, out)
                }
                phase = .running(round: round + 1)
            }
            return out.isEmpty ? .wait : .send(out)
        } catch {
            // Only a check of a round's (complete) broadcasts earns the notice: every party that
            // saw the same broadcasts fails the same check, so the notice matters only to a peer
            // that saw a different version, and the echo in it shows that peer the equivocation.
            // Messages of earlier rounds made by this same input go out too: peers need them to
            // reach the round where they can see the fault themselves.
            noticeAfterAbort = out
            if let k = finishing, k <= 5, !error.culprits.isEmpty, !error.culprits.contains(me),
                rounds.mine[k] != nil, rounds.mine[k + 1] == nil,
                let notice = try? rounds.broadcast(round: k + 1, echoOf: k, { _ in })
            {
                noticeAfterAbort.append(notice)
            }
            phase = .aborted(error)
            nonces = nil
            myAlphas = [:]
            betas = [:]
            myWcAnswers = [:]
            return .aborted(error)
        }
    }

    /// The presignature, once (nil afterwards, or before the protocol finished).
    public func takePresignature() -> Presignature? {
        guard case .done = phase, let secrets = output.take() else { return nil }
        return Presignature(secrets: secrets)
    }

    /// True for a round-2 broadcast carrying complaints, a round-4 failure marker, or an abort
    /// notice (an echo and nothing else).
    static func hasNoBody(_ message: Message, parties: Int) throws(Abort) -> Bool {
        var r = WireReader(message.payload)
        do {
            _ = try EchoEntry.read(from: &r, count: parties)
            if r.remaining == 0 { return true }
            if message.round == 4 { return try r.readUInt8() == 0 }
            return !(try Complaint.read(from: &r, maxCount: parties)).isEmpty
        } catch {
            throw .blame(message.from, .malformed("round \(message.round): \(error)"))
        }
    }

    // MARK: Checks of direct messages (run by the recipient, and by everyone on a complaint)

    /// Round 1: Π^enc of K_j (from `message.from`) against recipient i's setup.
    func checkEncryption(_ message: Message, recipient i: PartyIndex) throws(Abort) {
        let j = message.from
        let proof = try decodePayload(message) { r throws(WireError) in try r.readBytes(maxLength: 1 << 14) }
        var t = transcript("enc", prover: j, recipient: i)
        let statement = EncryptionProof.Statement(key: paillier[j]!, ciphertext: bigK[j]!)
        let setup = setups[i]!
        try requireProof(j, "Π^enc") {
            try EncryptionProof(decoding: proof).verify(
                statement: statement, setup: setup, transcript: &t, owner: share.paillierSecret.factorization)
        }
    }

    /// The two MtA answers of a round-2 direct message: (D, Y, proof) for MtA, then MtAwc.
    static func decodeMtA(_ r: inout WireReader) throws(WireError) -> [(BigNum, BigNum, [UInt8])] {
        let bits = 2 * PaillierPublicKey.maximumModulusBits
        return try (0..<2).map { _ throws(WireError) in
            (try r.readInteger(maxBits: bits), try r.readInteger(maxBits: bits), try r.readBytes(maxLength: 1 << 14))
        }
    }

    /// Round 2: Bob j's MtA and MtAwc answers to Alice i, Π^aff-g against X = Γ_j and X = W_j
    /// (Phase 2). Returns (D_ij, Y) for both.
    func checkMtA(
        _ message: Message, recipient i: PartyIndex
    ) throws(Abort) -> [(d: PaillierCiphertext, y: PaillierCiphertext)] {
        let j = message.from
        let responses = try decodePayload(message) { r throws(WireError) in try Self.decodeMtA(&r) }
        var result: [(d: PaillierCiphertext, y: PaillierCiphertext)] = []
        for (index, (dValue, yValue, proofBytes)) in responses.enumerated() {
            let name = index == 0 ? "MtA" : "MtAwc"
            guard let d = try? paillier[i]!.validate(ciphertext: dValue),
                let y = try? paillier[j]!.validate(ciphertext: yValue)
            else { throw .blame(j, .outOfRange("\(name) ciphertext")) }
            let statement = AffineGroupProof.Statement(
                verifierKey: paillier[i]!, proverKey: paillier[j]!, c: bigK[i]!, d: d, y: y,
                x: index == 0 ? bigGamma[j]! : publicW[j]!)
            var t = transcript(index == 0 ? "mta" : "mtawc", prover: j, recipient: i)
            let setup = setups[i]!
            try requireProof(j, "Π^aff-g(\(name))") {
                try AffineGroupProof(decoding: proofBytes).verify(
                    statement: statement, setup: setup, transcript: &t, owner: share.paillierSecret.factorization)
            }
            result.append((d, y))
        }
        return result
    }

    /// Whether a decrypted MtAwc plaintext α̂ = k_i·x + y (signed) is below 2^(ℓ'+1) in magnitude:
    /// always so for an honest Bob (x < q, |y| ≤ 2^ℓ') and any Alice whose k_i passed Π^enc
    /// (|k_i| ≤ 2^(ℓ+ε), so |k_i·x| ≤ 2^1024 < 2^ℓ'). Type-7 blame's ℓσ assumes this bound.
    /// (The bit length of a secret α̂ is read in variable time: it tells nothing beyond the
    /// range decision, as |y| is spread over ±2^ℓ'.)
    static func maskInRange(_ alphaHat: BigNum) -> Bool {
        alphaHat.bitLength <= ProofParameters.ellPrime + 1
    }

    /// Judges Alice's round-2 complaint that Bob's MtAwc answer D̂ decrypts beyond the honest
    /// range (always throws): the evidence is the opening (α̂, r) with D̂ = (1 + α̂·N)·r^N mod N².
    /// A valid opening of an out-of-range α̂ blames Bob; anything else, the complainer.
    func judgeMaskRange(
        _ dHat: PaillierCiphertext, evidence: [UInt8], accused: PartyIndex, by complainer: PartyIndex
    ) throws(Abort) -> Never {
        let key = paillier[complainer]!
        var r = WireReader(evidence)
        guard let alpha = try? r.readInteger(maxBits: Self.integerBits),
            let randomness = try? r.readInteger(maxBits: Self.integerBits), (try? r.finish()) != nil,
            !alpha.isNegative, alpha < key.n, (try? key.encrypt(alpha, randomness: randomness)) == dHat
        else { throw .blame(complainer, .falseAccusation) }
        let signed = alpha > key.n - alpha ? alpha - key.n : alpha
        if Self.maskInRange(signed) { throw .blame(complainer, .falseAccusation) }
        throw .blame(accused, .outOfRange("MtAwc plaintext α̂ beyond ±2^(ℓ'+1)"))
    }

    /// Round 4: Π^log* that R̄_j = k_j·R for the k_j inside K_j, against recipient i's setup.
    func checkLogStar(_ message: Message, recipient i: PartyIndex) throws(Abort) {
        let j = message.from
        let proofBytes = try decodePayload(message) { r throws(WireError) in try r.readBytes(maxLength: 1 << 14) }
        let statement = LogStarProof.Statement(key: paillier[j]!, ciphertext: bigK[j]!, point: rBar[j]!, base: nonce)
        var t = transcript("log*", prover: j, recipient: i)
        let setup = setups[i]!
        try requireProof(j, "Π^log*(R̄_j)") {
            try LogStarProof(decoding: proofBytes).verify(
                statement: statement, setup: setup, transcript: &t, owner: share.paillierSecret.factorization)
        }
    }

    /// Reads the complaints of every signer's broadcast of `round` (ours included) after checking
    /// the echo of `round − 1`; returns the readers positioned after the complaints, then judges
    /// the first complaint in party order (GG20 §4.2: a complaint is checked by everyone).
    mutating func readComplaints(round: UInt8, about directRound: UInt8) throws(Abort) -> [PartyIndex: WireReader] {
        let inbox = rounds.inbox(round)
        let view = rounds.echoView(round - 1)
        var readers: [PartyIndex: WireReader] = [:]
        var complaints: [(PartyIndex, [Complaint])] = []
        for j in params.signers {
            var reader: WireReader
            if j == me {
                reader = WireReader(rounds.mine[round]!.payload)
                do { _ = try EchoEntry.read(from: &reader, count: params.signers.count) } catch {
                    throw Abort(culprits: [], reason: .internalError("own echo"))
                }
            } else {
                reader = try rounds.checkEcho(inbox.broadcasts[j]!, of: round - 1, view: view)
            }
            let list: [Complaint]
            do { list = try Complaint.read(from: &reader, maxCount: params.signers.count) } catch {
                throw .blame(j, .malformed("complaints: \(error)"))
            }
            complaints.append((j, list))
            readers[j] = reader
        }
        for (complainer, list) in complaints {
            for complaint in list { try judge(complaint, by: complainer, round: directRound) }
        }
        return readers
    }

    /// Judges one complaint: always throws (the accused or the complainer is blamed).
    func judge(_ complaint: Complaint, by complainer: PartyIndex, round: UInt8) throws(Abort) -> Never {
        let accused = complaint.accused
        guard accused != complainer, params.signers.contains(accused), let key = rounds.identities[accused] else {
            throw .blame(complainer, .falseAccusation)
        }
        let message = complaint.message(
            kind: .presign, sessionID: params.sessionID, round: round, complainer: complainer)
        // Not signed by the accused: a forged complaint, its author is blamed.
        guard message.hasValidSignature(by: key) else { throw .blame(complainer, .falseAccusation) }
        // The values the check needs must exist (a complaint about a message that was never due
        // is the complainer's fault: e.g. a round-4 proof after a round-3 failure).
        switch round {
        case 2: guard bigGamma[accused] != nil else { throw .blame(complainer, .falseAccusation) }
        case 4: guard rBar[accused] != nil, !nonce.isInfinity else { throw .blame(complainer, .falseAccusation) }
        default: break
        }
        // Only a round-2 complaint about the size of α̂ carries evidence (see `judgeMaskRange`).
        guard complaint.evidence.isEmpty || round == 2 else { throw .blame(complainer, .falseAccusation) }
        switch round {
        case 1: try checkEncryption(message, recipient: complainer)
        case 2:
            let answers = try checkMtA(message, recipient: complainer)
            if !complaint.evidence.isEmpty {
                try judgeMaskRange(answers[1].d, evidence: complaint.evidence, accused: accused, by: complainer)
            }
        default: try checkLogStar(message, recipient: complainer)
        }
        throw .blame(complainer, .falseAccusation)
    }

    // MARK: Rounds

    mutating func finishRound1() throws(Abort) -> [Complaint] {
        let inbox = rounds.inbox(1)
        let bits = 2 * PaillierPublicKey.maximumModulusBits
        for j in peers {
            let value = try decodePayload(inbox.broadcasts[j]!) { r throws(WireError) in
                try r.readInteger(maxBits: bits)
            }
            guard let c = try? paillier[j]!.validate(ciphertext: value) else { throw .blame(j, .outOfRange("K_j")) }
            bigK[j] = c
        }
        var complaints: [Complaint] = []
        for j in peers {
            let message = inbox.direct[j]!
            do { try checkEncryption(message, recipient: me) } catch { complaints.append(Complaint(message)) }
        }
        return complaints
    }

    mutating func round2<R: RandomSource>(complaints: [Complaint], rng: inout R) throws(Abort) -> [Message] {
        if !complaints.isEmpty {
            return [try rounds.broadcast(round: 2, echoOf: 1) { Complaint.write(complaints, to: &$0) }]
        }
        let n = nonces!
        let gammaPoint = Point.generatorMul(n.gamma)
        bigGamma[me] = gammaPoint
        var t = transcript("sch", prover: me)
        let sch = try local("Π^sch") {
            try SchnorrProof.prove(secret: n.gamma, publicPoint: gammaPoint, transcript: &t, rng: &rng)
        }
        var out = [
            try rounds.broadcast(round: 2, echoOf: 1) { w in
                Complaint.write([], to: &w)
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
                    bobSecret: n.gamma, transcript: &t1, rng: &rng, bobPaillierSecret: share.paillierSecret)
            }
            let mtawc = try local("MtAwc") {
                try MtAResponse.respond(
                    aliceKey: aliceKey, aliceCiphertext: aliceC, aliceSetup: aliceSetup, bobKey: myKey, bobSecret: w,
                    transcript: &t2, rng: &rng, bobPaillierSecret: share.paillierSecret)
            }
            betas[j] = (mta.beta, mtawc.beta)
            myWcY[j] = mtawc.y
            myWcAnswers[j] = mtawc
            out.append(
                try rounds.direct(round: 2, to: j) { w in
                    for response in [mta, mtawc] {
                        w.writeInteger(response.d.value)
                        w.writeInteger(response.y.value)
                        w.writeBytes(response.proof.encode())
                    }
                })
        }
        return out
    }

    mutating func finishRound2() throws(Abort) -> [Complaint] {
        let readers = try readComplaints(round: 2, about: 1)
        for j in peers {
            let (gammaJ, schBytes) = try decodeRest(readers[j]!, from: j) { r throws(WireError) in
                (try r.readPoint(), try r.readBytes(maxLength: 128))
            }
            var t = transcript("sch", prover: j)
            try requireProof(j, "Π^sch(Γ_j)") {
                try SchnorrProof(decoding: schBytes).verify(publicPoint: gammaJ, transcript: &t)
            }
            bigGamma[j] = gammaJ
        }
        let inbox = rounds.inbox(2)
        var n = nonces!
        var delta = n.k * n.gamma
        var sigma = n.k * (lambda * share.secretShare)
        var complaints: [Complaint] = []
        for j in peers {
            let message = inbox.direct[j]!
            let answers: [(d: PaillierCiphertext, y: PaillierCiphertext)]
            do { answers = try checkMtA(message, recipient: me) } catch {
                complaints.append(Complaint(message))
                continue
            }
            // α_ij = Dec_i(D_ij) (signed, no wrap-around by the proof's ranges), mod q.
            let alpha = try local("decrypt α") {
                try Scalar(reducing: share.paillierSecret.decryptSigned(answers[0].d))
            }
            let alphaHatInteger = try local("decrypt α̂") { try share.paillierSecret.decryptSigned(answers[1].d) }
            guard Self.maskInRange(alphaHatInteger) else {
                // Bob's mask is beyond what an honest Bob draws (Π^aff-g's slack lets up to
                // 2^(ℓ'+ε) through): the σ_i it makes could not be proven in type-7 blame, which
                // would then name us. We show the opening instead, and everyone names Bob.
                let evidence = try local("α̂ opening") {
                    var w = WireWriter()
                    w.writeInteger(try share.paillierSecret.decrypt(answers[1].d).declassified())
                    w.writeInteger(try recoverRandomness(answers[1].d))
                    return w.take()
                }
                complaints.append(Complaint(message, evidence: evidence))
                continue
            }
            let alphaHat = try local("reduce α̂") { try Scalar(reducing: alphaHatInteger) }
            myAlphas[j] = alpha
            // Phase 3: δ_i = k_iγ_i + Σ(α_ij + β_ij), σ_i = k_iw_i + Σ(α̂_ij + β̂_ij).
            delta += alpha + betas[j]!.gamma
            sigma += alphaHat + betas[j]!.w
        }
        betas = [:]
        n.delta = delta
        n.sigma = sigma
        nonces = n
        return complaints
    }

    mutating func round3(complaints: [Complaint]) throws(Abort) -> Message {
        let delta = nonces!.delta
        return try rounds.broadcast(round: 3, echoOf: 2) { w in
            Complaint.write(complaints, to: &w)
            if complaints.isEmpty { w.writeFixedBytes(delta.bytes) }
        }
    }

    mutating func finishRound3() throws(Abort) {
        let readers = try readComplaints(round: 3, about: 2)
        var delta = nonces!.delta
        deltas[me] = delta
        for j in peers {
            let dj = try decodeRest(readers[j]!, from: j) { r throws(WireError) in try r.readScalar() }
            deltas[j] = dj
            delta += dj
        }
        // Phase 4: R = δ⁻¹·Γ with Γ = Σ Γ_j. A δ that is not invertible (a rushing party can
        // make Σδ_j = 0) or R = ∞ is a Phase-5 failure: type-5 blame after round 4.
        guard let inverse = try? delta.inverse() else {
            failure = .delta
            return
        }
        let gamma = Point.sum(params.signers.map { bigGamma[$0]! })
        nonce = gamma.multipliedVartime(by: inverse)
        if nonce.isInfinity { failure = .delta }
    }

    mutating func round4<R: RandomSource>(rng: inout R) throws(Abort) -> [Message] {
        if failure == .delta { return [try rounds.broadcast(round: 4, echoOf: 3) { $0.writeUInt8(0) }] }
        let n = nonces!
        let r = nonce
        let rBarMine = n.k * r
        let sMine = n.sigma * r
        rBar[me] = rBarMine
        bigS[me] = sMine
        var out = [
            try rounds.broadcast(round: 4, echoOf: 3) { w in
                w.writeUInt8(1)
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
                    rng: &rng, proverSecret: share.paillierSecret)
            }
            out.append(try rounds.direct(round: 4, to: j) { $0.writeBytes(proof.encode()) })
        }
        return out
    }

    mutating func finishRound4() throws(Abort) -> [Complaint] {
        let inbox = rounds.inbox(4)
        let view = rounds.echoView(3)
        for j in peers {
            let reader = try rounds.checkEcho(inbox.broadcasts[j]!, of: 3, view: view)
            // After the echo of round 3 every party has the same δ_j, so the same marker.
            let points = try decodeRest(reader, from: j) { r throws(WireError) -> (Point, Point)? in
                try r.readUInt8() == 0 ? nil : (try r.readPoint(), try r.readPoint())
            }
            guard (points == nil) == (failure == .delta) else { throw .blame(j, .malformed("round-4 failure marker")) }
            if let (rj, sj) = points {
                rBar[j] = rj
                bigS[j] = sj
            }
        }
        guard failure == .none else { return [] }
        var complaints: [Complaint] = []
        for j in peers {
            let message = inbox.direct[j]!
            do { try checkLogStar(message, recipient: me) } catch { complaints.append(Complaint(message)) }
        }
        guard complaints.isEmpty else { return complaints }
        // GG20 Phase 5 check: Σ R̄_i = G (a failure means some δ_j was wrong: type-5 blame).
        if Point.sum(params.signers.map { rBar[$0]! }) != .generator {
            failure = .delta
        } else if Point.sum(params.signers.map { bigS[$0]! }) != share.publicKey {
            // GG20 Phase 6 check: Σ S_i = y (a failure means some σ_j was wrong: type-7 blame).
            failure = .sigma
        }
        return []
    }

    mutating func round5<R: RandomSource>(complaints: [Complaint], rng: inout R) throws(Abort) -> Message {
        var blame = WireWriter()
        if complaints.isEmpty {
            blame.writeUInt8(failure.rawValue)
            switch failure {
            case .none: break
            case .delta: try writeType5Reveal(to: &blame)
            case .sigma: try writeType7Material(to: &blame, rng: &rng)
            }
        }
        let tail = blame.bytes
        return try rounds.broadcast(round: 5, echoOf: 4) { w in
            Complaint.write(complaints, to: &w)
            w.writeFixedBytes(tail)
        }
    }

    /// After round 5: the verdict tags agree; on a failure the blame data is kept for round 6.
    mutating func finishRound5() throws(Abort) {
        let readers = try readComplaints(round: 5, about: 4)
        for j in peers {
            var reader = readers[j]!
            let tag: UInt8
            do { tag = try reader.readUInt8() } catch { throw .blame(j, .malformed("verdict tag")) }
            // Round 4 was echo-checked: every party saw the same R̄_j, S_j, δ_j, so the same tag.
            guard tag == failure.rawValue else { throw .blame(j, .malformed("verdict tag")) }
            if failure == .none {
                _ = try decodeRest(reader, from: j) { _ throws(WireError) in () }
            } else {
                blameReaders[j] = reader
            }
        }
    }

    /// After the echo of round 5 (round 6): the presignature is released, or the blame verdict is
    /// thrown.
    mutating func finishRound6() throws(Abort) -> PresignReady? {
        let inbox = rounds.inbox(6)
        let view = rounds.echoView(5)
        for j in peers {
            let reader = try rounds.checkEcho(inbox.broadcasts[j]!, of: 5, view: view)
            _ = try decodeRest(reader, from: j) { _ throws(WireError) in () }
        }
        switch failure {
        case .delta: try type5Verdict()
        case .sigma: try type7Verdict()
        case .none: break
        }
        guard failure == .none else { return nil }
        let n = nonces!
        nonces = nil
        myAlphas = [:]
        myWcAnswers = [:]
        let secrets = PresignatureSecrets(
            keyID: share.keyID, sessionID: params.sessionID, signers: params.signers, me: me, nonce: nonce,
            k: n.k, sigma: n.sigma, rBar: rBar, bigS: bigS, publicKey: share.publicKey,
            identities: rounds.identities, echo: rounds.echoView(Self.lastRound))
        guard output.fill(secrets) else {
            throw Abort(culprits: [], reason: .invalidArguments("presigning state reused"))
        }
        return PresignReady(nonce: nonce, signers: params.signers)
    }
}
