import CryptoPrimitives
import MPCMath
import Secp256k1
import Wire

/// Runs `body`; any error that is not an `Abort` is our own bug (checked inputs only).
func local<T>(_ what: String, _ body: () throws -> T) throws(Abort) -> T {
    do { return try body() } catch let abort as Abort { throw abort } catch {
        throw Abort(culprits: [], reason: .internalError("\(what): \(error)"))
    }
}

/// Who takes part in a key generation, and the public setup they agree on beforehand.
public struct KeygenParameters: Sendable {
    /// Unique per run (16…64 bytes); every message and proof is bound to it.
    public var sessionID: [UInt8]
    /// t: any t+1 parties sign; t+1 Feldman coefficients per dealer.
    public var threshold: Int
    /// The parties, strictly increasing.
    public var parties: [PartyIndex]
    public var me: PartyIndex
    /// Each party's share id x_j (the Shamir evaluation point): non-zero and distinct mod q.
    public var shareIDs: [PartyIndex: Scalar]
    /// Each party's identity key (signs its broadcasts).
    public var identities: [PartyIndex: PublicKey]

    /// `shareIDs` default to x_j = j + 1.
    public init(
        sessionID: [UInt8], threshold: Int, parties: [PartyIndex], me: PartyIndex,
        identities: [PartyIndex: PublicKey], shareIDs: [PartyIndex: Scalar]? = nil
    ) {
        self.sessionID = sessionID
        self.threshold = threshold
        self.parties = parties
        self.me = me
        self.identities = identities
        self.shareIDs = shareIDs ?? Dictionary(uniqueKeysWithValues: parties.map { ($0, Scalar.of($0 &+ 1)) })
    }

    func validate() throws(Abort) {
        func bad(_ why: String) -> Abort { Abort(culprits: [], reason: .invalidArguments(why)) }
        guard (16...64).contains(sessionID.count) else { throw bad("session id must be 16…64 bytes") }
        guard parties.count >= 2, parties.count <= 255 else { throw bad("2…255 parties") }
        guard zip(parties, parties.dropFirst()).allSatisfy({ $0 < $1 }) else { throw bad("parties must increase") }
        guard parties.contains(me) else { throw bad("me is not a party") }
        guard threshold >= 1, threshold < parties.count else { throw bad("1 ≤ t < n") }
        guard threshold < Presigning.maximumSigners else {
            throw bad(
                "t ≤ \(Presigning.maximumSigners - 1): a signing takes t + 1 ≤ \(Presigning.maximumSigners) signers")
        }
        guard Set(identities.keys) == Set(parties) else { throw bad("one identity key per party") }
        // Share ids non-zero and distinct mod q (a zero id would hand out f(0) = u_i itself).
        guard Set(shareIDs.keys) == Set(parties) else { throw bad("one share id per party") }
        let ids = parties.map { shareIDs[$0]! }
        guard ids.allSatisfy({ !$0.isZero }) else { throw bad("share id ≡ 0 mod q") }
        guard Set(ids.map(\.bytes)).count == ids.count else { throw bad("share ids not distinct mod q") }
    }
}

/// A party's Paillier and ring-Pedersen secrets, generated ahead of time (safe primes are slow).
public struct KeygenPreParams: Sendable {
    public let paillier: PaillierSecretKey
    public let ringPedersen: RingPedersenSecret

    public init(paillier: PaillierSecretKey, ringPedersen: RingPedersenSecret) {
        self.paillier = paillier
        self.ringPedersen = ringPedersen
    }
}

/// GG20 key generation (Fig. 5, §3 "Key generation protocol") with CGGMP21's auxiliary-info proofs
/// (Fig. 6: Π^mod, Π^prm, Π^fac), as a pure state machine.
///
///   Round 1 (broadcast)  V_i = H(sid, i, A_i, salt) (Phase 1 commitment), N_i with Π^mod,
///                        (Ñ_i, s_i, t_i) with Π^prm.
///   Round 2 (broadcast)  echo of round 1; decommitment (A_i0…A_it, salt) of the Feldman VSS of u_i
///                        (Phase 2); every share σ_{i→j} = f_i(x_j) encrypted under N_j (broadcast,
///                        so a complaint can be checked by all).
///           (direct → j) Π^fac of N_i against j's ring-Pedersen setup.
///   Round 3 (broadcast)  echo of round 2; Π^sch of x_i (Phase 3); complaints (dealer, σ, ρ) that
///                        open a share failing the Feldman check.
///   Round 4 (broadcast)  echo of round 3; then the key share.
///
/// Equivocation. Every broadcast of rounds 1–3 is echoed (hash and sender's signature) in the
/// next round, and the echo is checked before the next round's content is read. A party that
/// aborts over the content of a round-k broadcast (k ≤ 3) still sends a body-less round-(k+1)
/// broadcast, its echo (`abortMessages`; a round-2 notice also excuses its Π^fac direct
/// messages): a peer that got a different, valid version from the same sender finds that
/// sender's second signature in it and names the same culprit instead of waiting. Round 4 is
/// itself an echo and the last message: a sender can make it valid for one peer and invalid for
/// another, and no later message of a finite protocol over point-to-point links could reconcile
/// the two (agreement needs a broadcast channel). The host has to settle that above the
/// protocol: a key share is to be activated only once every party has reported it ready.
public struct Keygen: Sendable {
    enum Phase: Sendable {
        case running(round: UInt8)
        case done
        case aborted(Abort)
    }

    let params: KeygenParameters
    let pre: KeygenPreParams
    let identity: PrivateKey
    var phase: Phase = .running(round: 1)
    var inboxes: [UInt8: RoundInbox] = [:]
    /// Our own broadcast of each round (for our echo view).
    var mine: [UInt8: Message] = [:]
    /// Stale or duplicate messages dropped.
    public private(set) var droppedCount = 0

    // Secrets (zeroed by their types when dropped).
    var coefficients: [Scalar]
    /// The Phase-1 commitment's salt: secret until the round-2 decommitment (zeroed when freed,
    /// printed as `<redacted>`).
    let salt: SecretBytes
    var secretShare: Scalar = .zero

    // What peers sent.
    var paillierKeys: [PartyIndex: PaillierPublicKey] = [:]
    var setups: [PartyIndex: RingPedersenParameters] = [:]
    var commitments: [PartyIndex: [UInt8]] = [:]
    var feldman: [PartyIndex: [Point]] = [:]
    var encryptedShares: [PartyIndex: [PartyIndex: PaillierCiphertext]] = [:]
    var publicShares: [PartyIndex: Point] = [:]
    var publicKey: Point = .infinity
    /// Our complaints about round-2 direct messages (Π^fac), broadcast in round 3.
    var facComplaints: [Complaint] = []
    /// Messages the host should still deliver after this machine aborted (see `abortMessages`).
    var noticeAfterAbort: [Message] = []

    /// After `.aborted`: messages the host should send anyway, as `Presigning.abortMessages`.
    /// (1) What the failing input produced before the failure (our broadcasts of earlier rounds:
    /// peers need them to reach the check themselves). (2) When we abort over the content of the
    /// round-k broadcasts (k ≤ 3), a body-less round-(k+1) broadcast: our echo of round k and
    /// nothing else. A peer that received a different, valid version from an equivocating sender
    /// finds the sender's second signature in it (`checkEchoes`, run before any content of round
    /// k+1 is read) and names the same culprit instead of waiting for us.
    public var abortMessages: [Message] { noticeAfterAbort }

    static let rounds: ClosedRange<UInt8> = 1...4

    var me: PartyIndex { params.me }
    var peers: [PartyIndex] { params.parties.filter { $0 != params.me } }
    var header: HeaderCheck {
        HeaderCheck(
            kind: .keygen, sessionID: params.sessionID, me: me, parties: params.parties,
            identities: params.identities, rounds: Self.rounds)
    }

    /// Starts a keygen: checks the arguments, draws u_i and the polynomial, and returns the
    /// round-1 broadcast.
    public static func start<R: RandomSource>(
        params: KeygenParameters, preParams: KeygenPreParams, identityKey: PrivateKey, rng: inout R
    ) throws(Abort) -> (Keygen, [Message]) {
        try params.validate()
        guard identityKey.publicKey == params.identities[params.me] else {
            throw Abort(culprits: [], reason: .invalidArguments("identity key does not match"))
        }
        // Phase 1: u_i and f_i(z) = u_i + a_1 z + … + a_t z^t.
        let coefficients = (0...params.threshold).map { _ in Scalar.random(using: &rng) }
        var salt = rng.bytes(32)
        var machine = Keygen(
            params: params, pre: preParams, identity: identityKey, coefficients: coefficients,
            salt: SecretBytes(zeroing: &salt))
        let message = try machine.round1(rng: &rng)
        return (machine, [message])
    }

    /// Feeds one message from `sender` (authenticated by the transport).
    public mutating func receive<R: RandomSource>(
        from sender: PartyIndex, _ message: Message, rng: inout R
    ) -> Action<KeyShare> {
        guard case .running(let round) = phase else {
            if case .aborted(let abort) = phase { return .aborted(abort) }
            droppedCount += 1
            return .wait
        }
        // The round being finished when a check fails (nil: the failure is in a header).
        var finishing: UInt8?
        // What this input produced before a failure (still owed to the peers).
        var out: [Message] = []
        do throws(Abort) {
            guard try header.check(message, from: sender) else {
                droppedCount += 1
                return .wait
            }
            guard message.round >= round else {
                droppedCount += 1
                return .wait
            }
            // Only round 2 has direct messages.
            if case .party = message.to, message.round != 2 {
                throw .blame(sender, .malformed("direct message in round \(message.round)"))
            }
            guard try inboxes[message.round, default: RoundInbox()].add(message) else {
                droppedCount += 1
                return .wait
            }
            return try advance(finishing: &finishing, out: &out, rng: &rng)
        } catch {
            // As in `Presigning.receive`: only a check of a round's complete broadcasts that names
            // a peer earns the notice (every party with the same view fails the same check, so
            // the notice matters only to a peer that saw a different version).
            noticeAfterAbort = out
            if let k = finishing, k <= 3, !error.culprits.isEmpty, !error.culprits.contains(me),
                mine[k] != nil, mine[k + 1] == nil,
                let notice = try? broadcast(round: k + 1, echoOf: k, { _ in })
            {
                noticeAfterAbort.append(notice)
            }
            phase = .aborted(error)
            coefficients = []
            secretShare = .zero
            return .aborted(error)
        }
    }

    /// True when round `round` has every peer's broadcast and, in round 2, every peer's Π^fac
    /// except from a peer whose broadcast is an abort notice (an echo and nothing else: it sends
    /// no direct message, and its echo is checked first when the round is finished).
    func isComplete(_ round: UInt8) -> Bool {
        let inbox = inboxes[round, default: RoundInbox()]
        let echoOnly = 4 + params.parties.count * EchoEntry.encodedByteCount
        return peers.allSatisfy { j in
            guard let broadcast = inbox.broadcasts[j] else { return false }
            return round != 2 || inbox.direct[j] != nil || broadcast.payload.count == echoOnly
        }
    }

    mutating func advance<R: RandomSource>(
        finishing: inout UInt8?, out: inout [Message], rng: inout R
    ) throws(Abort) -> Action<KeyShare> {
        while case .running(let round) = phase, isComplete(round) {
            finishing = round
            let inbox = inboxes[round]!
            switch round {
            case 1:
                try finishRound1(inbox)
                out += try round2(rng: &rng)
                phase = .running(round: 2)
            case 2:
                let complaints = try finishRound2(inbox)
                out.append(try round3(complaints: complaints, rng: &rng))
                phase = .running(round: 3)
            case 3:
                try finishRound3(inbox)
                out.append(try broadcast(round: 4, echoOf: 3) { _ in })
                phase = .running(round: 4)
            default:
                try checkEchoes(inbox, of: 3)
                let share = try makeKeyShare()
                phase = .done
                coefficients = []
                return .finished(share, out)
            }
        }
        return out.isEmpty ? .wait : .send(out)
    }

    // MARK: Message helpers

    func transcript(_ tag: String, prover: PartyIndex, recipient: PartyIndex? = nil) -> Transcript {
        var t = Transcript(protocolTag: "vn/tss/keygen/" + tag, sessionID: params.sessionID, partyIndex: prover)
        if let recipient { t.append("recipient", uint64: UInt64(recipient)) }
        return t
    }

    /// A signed broadcast of `round`, carrying the echo of round `echoOf` first.
    mutating func broadcast(
        round: UInt8, echoOf: UInt8?, _ body: (inout WireWriter) throws -> Void
    ) throws(Abort) -> Message {
        var w = WireWriter()
        if let echoOf { EchoEntry.write(echoView(echoOf), to: &w) }
        try local("encode round \(round)") { try body(&w) }
        let message = try local("sign") {
            try Message(
                kind: .keygen, sessionID: params.sessionID, round: round, from: me, to: .broadcast, payload: w.bytes
            ).signed(with: identity)
        }
        mine[round] = message
        return message
    }

    func echoView(_ round: UInt8) -> [EchoEntry] {
        params.parties.map { j in EchoEntry(j == me ? mine[round]! : inboxes[round]!.broadcasts[j]!) }
    }

    func checkEchoes(_ inbox: RoundInbox, of round: UInt8) throws(Abort) {
        let view = Dictionary(uniqueKeysWithValues: echoView(round).map { ($0.party, $0) })
        for j in peers {
            let message = inbox.broadcasts[j]!
            var r = WireReader(message.payload)
            let entries: [EchoEntry]
            do { entries = try EchoEntry.read(from: &r, count: params.parties.count) } catch {
                throw .blame(j, .malformed("echo: \(error)"))
            }
            try EchoEntry.verify(
                entries, echoer: j, mine: view, parties: params.parties, identities: params.identities, kind: .keygen,
                sessionID: params.sessionID, round: round)
        }
    }

    /// The payload after the echo prefix.
    func afterEcho(_ message: Message) throws(Abort) -> [UInt8] {
        try decodePayload(message) { r throws(WireError) in
            _ = try EchoEntry.read(from: &r, count: params.parties.count)
            let rest = try r.readFixedBytes(count: r.remaining)
            return rest
        }
    }

    // MARK: Round 1

    static func commitment(sessionID: [UInt8], party: PartyIndex, points: [Point], salt: [UInt8]) -> [UInt8] {
        var w = WireWriter()
        w.writeString("vn/tss/keygen/commit/v1")
        w.writeBytes(sessionID)
        w.writeUInt32(party)
        w.writeArray(points) { $0.writePoint($1) }
        w.writeFixedBytes(salt)
        return SHA256.hash(w.bytes)
    }

    var feldmanVector: [Point] { coefficients.map { Point.generatorMul($0) } }

    mutating func round1<R: RandomSource>(rng: inout R) throws(Abort) -> Message {
        var saltBytes = salt.copyBytes()
        defer { secureZero(&saltBytes) }
        let v = Self.commitment(sessionID: params.sessionID, party: me, points: feldmanVector, salt: saltBytes)
        let paillier = pre.paillier.publicKey
        let setup = pre.ringPedersen.parameters
        // CGGMP21 Fig. 6, round 1: ψ = Π^mod(N_i), ψ̂ = Π^prm(Ñ_i, s_i, t_i).
        var tMod = transcript("mod", prover: me)
        var tPrm = transcript("prm", prover: me)
        let mod = try local("Π^mod") { try ModulusProof.prove(key: pre.paillier, transcript: &tMod, rng: &rng) }
        let prm = try local("Π^prm") {
            try RingPedersenProof.prove(secret: pre.ringPedersen, transcript: &tPrm, rng: &rng)
        }
        paillierKeys[me] = paillier
        setups[me] = setup
        return try broadcast(round: 1, echoOf: nil) { w in
            w.writeFixedBytes(v)
            w.writeInteger(paillier.n)
            w.writeInteger(setup.n)
            w.writeInteger(setup.s)
            w.writeInteger(setup.t)
            w.writeBytes(mod.encode())
            w.writeBytes(prm.encode())
        }
    }

    mutating func finishRound1(_ inbox: RoundInbox) throws(Abort) {
        let bits = PaillierPublicKey.maximumModulusBits
        for j in peers {
            let message = inbox.broadcasts[j]!
            let (v, n, nHat, s, t, modBytes, prmBytes) = try decodePayload(message) { r throws(WireError) in
                (
                    try r.readFixedBytes(count: 32), try r.readInteger(maxBits: bits), try r.readInteger(maxBits: bits),
                    try r.readInteger(maxBits: bits), try r.readInteger(maxBits: bits),
                    try r.readBytes(maxLength: 1 << 17), try r.readBytes(maxLength: 1 << 17)
                )
            }
            guard let key = try? PaillierPublicKey(n: n) else { throw .blame(j, .outOfRange("Paillier modulus")) }
            guard let setup = try? RingPedersenParameters(n: nHat, s: s, t: t) else {
                throw .blame(j, .outOfRange("ring-Pedersen parameters"))
            }
            var tMod = transcript("mod", prover: j)
            var tPrm = transcript("prm", prover: j)
            try requireProof(j, "Π^mod") {
                try ModulusProof(decoding: modBytes).verify(modulus: n, transcript: &tMod)
            }
            try requireProof(j, "Π^prm") {
                try RingPedersenProof(decoding: prmBytes).verify(parameters: setup, transcript: &tPrm)
            }
            commitments[j] = v
            paillierKeys[j] = key
            setups[j] = setup
        }
        // No modulus of one party among another's, N or Ñ (a reused modulus means shared
        // factors). N_i = Ñ_i within one party is allowed: CGGMP21 Fig. 6 uses one modulus for both.
        for (a, b) in pairs(params.parties) {
            let ofA: Set<BigNum> = [paillierKeys[a]!.n, setups[a]!.n]
            if !ofA.isDisjoint(with: [paillierKeys[b]!.n, setups[b]!.n]) {
                throw Abort(culprits: [a, b].filter { $0 != me }, reason: .duplicateModulus)
            }
        }
    }

    // MARK: Round 2

    mutating func round2<R: RandomSource>(rng: inout R) throws(Abort) -> [Message] {
        var shares: [(PartyIndex, PaillierCiphertext)] = []
        for j in peers {
            // Phase 2: σ_{i→j} = f_i(x_j), encrypted under N_j.
            var sigma = BigNum(Self.evaluate(coefficients, at: params.shareIDs[j]!))
            defer { sigma = .zero }
            let c = try local("encrypt share") { try paillierKeys[j]!.encrypt(sigma, using: &rng).ciphertext }
            shares.append((j, c))
        }
        secretShare = Self.evaluate(coefficients, at: params.shareIDs[me]!)
        encryptedShares[me] = Dictionary(uniqueKeysWithValues: shares)
        let points = feldmanVector
        // Phase 2 decommitment: the salt becomes public here.
        let salt = self.salt.copyBytes()
        var out = [
            try broadcast(round: 2, echoOf: 1) { w in
                w.writeArray(points) { $0.writePoint($1) }
                w.writeFixedBytes(salt)
                w.writeArray(shares) { w, entry in
                    w.writeUInt32(entry.0)
                    w.writeInteger(entry.1.value)
                }
            }
        ]
        for j in peers {
            // CGGMP21 Fig. 6, round 3: Π^fac of N_i against j's setup, bound to j.
            var t = transcript("fac", prover: me, recipient: j)
            let proof = try local("Π^fac") {
                try NoSmallFactorProof.prove(key: pre.paillier, setup: setups[j]!, transcript: &t, rng: &rng)
            }
            // Direct messages are signed too, so a recipient's complaint can carry them as evidence.
            let message = try local("sign direct") {
                try Message(
                    kind: .keygen, sessionID: params.sessionID, round: 2, from: me, to: .party(j),
                    payload: proof.encode()
                ).signed(with: identity)
            }
            out.append(message)
        }
        return out
    }

    /// f(x) = Σ a_k x^k (Horner).
    static func evaluate(_ coefficients: [Scalar], at x: Scalar) -> Scalar {
        var acc = Scalar.zero
        for a in coefficients.reversed() { acc = acc * x + a }
        return acc
    }

    /// Σ x^k · A_k (public).
    static func evaluate(_ points: [Point], at x: Scalar) -> Point {
        var acc = Point.infinity
        for a in points.reversed() { acc = (acc.isInfinity ? acc : acc.multipliedVartime(by: x)) + a }
        return acc
    }

    /// Returns our complaints (dealer, σ, ρ) against shares failing the Feldman check.
    mutating func finishRound2(_ inbox: RoundInbox) throws(Abort) -> [(PartyIndex, BigNum, BigNum)] {
        try checkEchoes(inbox, of: 1)
        let t = params.threshold
        var complaints: [(PartyIndex, BigNum, BigNum)] = []
        var sum = secretShare
        feldman[me] = feldmanVector
        for j in peers {
            let rest = try afterEcho(inbox.broadcasts[j]!)
            var probe = inbox.broadcasts[j]!
            probe.payload = rest
            let (points, salt, shares) = try decodePayload(probe) { r throws(WireError) in
                let points = try r.readArray(maxCount: 256, minimumElementSize: 33) { r throws(WireError) in
                    try r.readPoint()
                }
                let salt = try r.readFixedBytes(count: 32)
                let shares = try r.readArray(maxCount: 256, minimumElementSize: 5) { r throws(WireError) in
                    (try r.readUInt32(), try r.readInteger(maxBits: 2 * PaillierPublicKey.maximumModulusBits))
                }
                return (points, salt, shares)
            }
            // Exactly t+1 coefficient commitments (a longer vector raises the threshold).
            guard points.count == t + 1 else {
                throw .blame(j, .wrongCommitmentLength(found: points.count, required: t + 1))
            }
            // Phase 2: the decommitment opens V_j.
            guard Self.commitment(sessionID: params.sessionID, party: j, points: points, salt: salt) == commitments[j]
            else { throw .blame(j, .invalidDecommitment) }
            // One ciphertext for every other party, in order, each in Z*_{N_k²}.
            guard shares.map(\.0) == params.parties.filter({ $0 != j }) else {
                throw .blame(j, .malformed("encrypted share list"))
            }
            var cts: [PartyIndex: PaillierCiphertext] = [:]
            for (k, value) in shares {
                guard let c = try? paillierKeys[k]!.validate(ciphertext: value) else {
                    throw .blame(j, .outOfRange("encrypted share for \(k)"))
                }
                cts[k] = c
            }
            // CGGMP21 Fig. 6, round 3 check: Π^fac of N_j against our setup. A failure becomes a
            // complaint (the signed message) that every party re-checks in round 3.
            var tr = transcript("fac", prover: j, recipient: me)
            let owner = pre.ringPedersen.factorization
            do {
                try requireProof(j, "Π^fac") {
                    try NoSmallFactorProof(decoding: inbox.direct[j]!.payload).verify(
                        modulus: paillierKeys[j]!.n, setup: setups[me]!, transcript: &tr, owner: owner)
                }
            } catch { facComplaints.append(Complaint(inbox.direct[j]!)) }
            feldman[j] = points
            encryptedShares[j] = cts
            // Phase 2, Feldman check of our share: σ·G = Σ x_i^k A_jk, σ < q.
            let c = cts[me]!
            let sigma = try local("decrypt share") { try pre.paillier.decrypt(c) }
            if sigma < CurveOrder.q, let share = try? Scalar(reducing: sigma),
                Point.generatorMul(share) == Self.evaluate(points, at: params.shareIDs[me]!)
            {
                sum += share
            } else {
                let rho = try local("open share") { try Self.openRandomness(c, plaintext: sigma, key: pre.paillier) }
                complaints.append((j, sigma.declassified(), rho.declassified()))
            }
        }
        secretShare = sum
        // Phase 3: y = Σ A_j0 and X_k = Σ_j f_j(x_k)·G for every party.
        publicKey = Point.sum(params.parties.map { feldman[$0]![0] })
        for k in params.parties {
            publicShares[k] = Point.sum(params.parties.map { Self.evaluate(feldman[$0]!, at: params.shareIDs[k]!) })
        }
        return complaints
    }

    /// The encryption randomness of c = (1 + N)^m ρ^N: ρ = (c·(1 − mN) mod N)^(N⁻¹ mod φ(N)) mod N.
    static func openRandomness(_ c: PaillierCiphertext, plaintext m: BigNum, key: PaillierSecretKey) throws -> BigNum {
        let n = key.publicKey.n
        let nn = key.publicKey.nSquared
        let rToN = try c.value.modMul(BigNum.one.modSub(m * n, nn), nn).mod(n)
        return try rToN.modExpConstantTime(n.modInverse(key.phi), n)
    }

    // MARK: Round 3

    mutating func round3<R: RandomSource>(
        complaints: [(PartyIndex, BigNum, BigNum)], rng: inout R
    ) throws(Abort) -> Message {
        // Phase 3: Π^sch of x_i for X_i (skipped as zero proof bytes when we complain: x_i is wrong).
        var proof: [UInt8] = []
        if complaints.isEmpty {
            var t = transcript("sch", prover: me)
            let x = secretShare
            let point = publicShares[me]!
            proof = try local("Π^sch") {
                try SchnorrProof.prove(secret: x, publicPoint: point, transcript: &t, rng: &rng).encode()
            }
        }
        let facComplaints = self.facComplaints
        return try broadcast(round: 3, echoOf: 2) { w in
            w.writeBytes(proof)
            Complaint.write(facComplaints, to: &w)
            w.writeArray(complaints) { w, c in
                w.writeUInt32(c.0)
                w.writeInteger(c.1)
                w.writeInteger(c.2)
            }
        }
    }

    mutating func finishRound3(_ inbox: RoundInbox) throws(Abort) {
        try checkEchoes(inbox, of: 2)
        let bits = PaillierPublicKey.maximumModulusBits
        var decoded: [PartyIndex: ([UInt8], [Complaint], [(PartyIndex, BigNum, BigNum)])] = [:]
        for j in params.parties {
            var message = j == me ? mine[3]! : inbox.broadcasts[j]!
            message.payload = try afterEcho(message)
            decoded[j] = try decodePayload(message) { r throws(WireError) in
                let proof = try r.readBytes(maxLength: 128)
                let fac = try Complaint.read(from: &r, maxCount: params.parties.count)
                let complaints = try r.readArray(maxCount: 256, minimumElementSize: 12) { r throws(WireError) in
                    (try r.readUInt32(), try r.readInteger(maxBits: bits), try r.readInteger(maxBits: bits))
                }
                return (proof, fac, complaints)
            }
        }
        // Complaints about a round-2 Π^fac: everyone checks the accused's signature and re-runs
        // the proof against the complainer's (public) setup.
        for a in params.parties {
            for complaint in decoded[a]!.1 { try judgeFactorComplaint(complaint, by: a) }
        }
        // GG20 §4.2: a complaint opens the share (σ, ρ) of C_{d→a}; everyone re-encrypts it and
        // runs the Feldman check. Opening does not match or the share is fine: the accuser lied.
        var culprits: [PartyIndex] = []
        var reason: Reason?
        for a in params.parties {
            for (d, sigma, rho) in decoded[a]!.2 {
                guard d != a, let cts = encryptedShares[d], let c = cts[a] else {
                    culprits.append(a)
                    reason = reason ?? .falseAccusation
                    continue
                }
                let key = paillierKeys[a]!
                let opens = key.isUnit(rho) && sigma < key.n && (try? key.encrypt(sigma, randomness: rho)) == c
                let valid =
                    sigma < CurveOrder.q
                    && (try? Scalar(reducing: sigma)).map {
                        Point.generatorMul($0) == Self.evaluate(feldman[d]!, at: params.shareIDs[a]!)
                    } == true
                if opens && !valid {
                    culprits.append(d)
                    reason = reason ?? .invalidShare
                } else {
                    culprits.append(a)
                    reason = reason ?? .falseAccusation
                }
            }
        }
        if let reason { throw Abort(culprits: culprits, reason: reason) }
        // Phase 3: Π^sch of x_j for X_j.
        for j in peers {
            var t = transcript("sch", prover: j)
            let point = publicShares[j]!
            try requireProof(j, "Π^sch") {
                try SchnorrProof(decoding: decoded[j]!.0).verify(publicPoint: point, transcript: &t)
            }
        }
    }

    // MARK: Output

    func makeKeyShare() throws(Abort) -> KeyShare {
        try local("key share") {
            try KeyShare(
                threshold: params.threshold, parties: params.parties, me: me,
                shareIDs: params.parties.map { params.shareIDs[$0]! }, publicKey: publicKey,
                publicShares: params.parties.map { publicShares[$0]! },
                paillierKeys: params.parties.map { paillierKeys[$0]! },
                ringPedersen: params.parties.map { setups[$0]! },
                identities: params.parties.map { params.identities[$0]! },
                secretShare: secretShare, paillierSecret: pre.paillier)
        }
    }
}

/// All unordered pairs.
func pairs<T>(_ items: [T]) -> [(T, T)] {
    var out: [(T, T)] = []
    for i in items.indices { for j in items.indices where j > i { out.append((items[i], items[j])) } }
    return out
}

extension Keygen {
    /// Judges a complaint about a round-2 Π^fac (always throws): the accused is blamed if its
    /// signed message fails the check anyone can run, the complainer otherwise.
    func judgeFactorComplaint(_ complaint: Complaint, by complainer: PartyIndex) throws(Abort) {
        let accused = complaint.accused
        guard accused != complainer, params.parties.contains(accused), let key = params.identities[accused] else {
            throw .blame(complainer, .falseAccusation)
        }
        // Π^fac is checked with public values only: a complaint carries no evidence here.
        guard complaint.evidence.isEmpty else { throw .blame(complainer, .falseAccusation) }
        let message = complaint.message(
            kind: .keygen, sessionID: params.sessionID, round: 2, complainer: complainer)
        guard message.hasValidSignature(by: key) else { throw .blame(complainer, .falseAccusation) }
        var tr = transcript("fac", prover: accused, recipient: complainer)
        let (n, setup) = (paillierKeys[accused]!.n, setups[complainer]!)
        try requireProof(accused, "Π^fac") {
            try NoSmallFactorProof(decoding: message.payload).verify(modulus: n, setup: setup, transcript: &tr)
        }
        throw .blame(complainer, .falseAccusation)
    }
}
