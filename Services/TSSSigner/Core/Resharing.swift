import CryptoPrimitives
import MPCMath
import Secp256k1
import Wire

/// One member of the old committee that deals its share in a resharing.
public struct ResharingDealer: Sendable, Equatable {
    public var identity: PublicKey
    /// Its share id x_i in the old key and its public share X_i = x_i·G.
    public var shareID: Scalar
    public var publicShare: Point

    public init(identity: PublicKey, shareID: Scalar, publicShare: Point) {
        self.identity = identity
        self.shareID = shareID
        self.publicShare = publicShare
    }
}

/// One member of the new committee.
public struct ResharingReceiver: Sendable, Equatable {
    public var identity: PublicKey
    /// Its share id x'_j in the new key: non-zero and distinct mod q.
    public var shareID: Scalar

    public init(identity: PublicKey, shareID: Scalar) {
        self.identity = identity
        self.shareID = shareID
    }
}

/// Who takes part in a resharing: t_old + 1 dealers of the old key, the new committee and its
/// threshold. Every participant is given the same parameters (the host takes them from the chain).
///
/// Participants are numbered: the dealers in order, then the receivers that are not dealers, in
/// order; messages carry that number. A party in both committees is one participant with both roles.
public struct ResharingParameters: Sendable {
    /// Unique per run (16…64 bytes).
    public var sessionID: [UInt8]
    /// y, the key being reshared (kept by the new committee).
    public var publicKey: Point
    public var dealers: [ResharingDealer]
    public var newThreshold: Int
    public var receivers: [ResharingReceiver]

    public init(
        sessionID: [UInt8], publicKey: Point, dealers: [ResharingDealer], newThreshold: Int,
        receivers: [ResharingReceiver]
    ) {
        self.sessionID = sessionID
        self.publicKey = publicKey
        self.dealers = dealers
        self.newThreshold = newThreshold
        self.receivers = receivers
    }

    /// Every participant's identity, in participant order.
    public var participants: [PublicKey] {
        var list = dealers.map(\.identity)
        for receiver in receivers where !list.contains(receiver.identity) { list.append(receiver.identity) }
        return list
    }

    func validate() throws(Abort) {
        func bad(_ why: String) -> Abort { Abort(culprits: [], reason: .invalidArguments(why)) }
        guard (16...64).contains(sessionID.count) else { throw bad("session id must be 16…64 bytes") }
        guard !publicKey.isInfinity else { throw bad("the key is the point at infinity") }
        guard dealers.count >= 2, Set(dealers.map(\.identity.compressed)).count == dealers.count else {
            throw bad("at least 2 distinct dealers")
        }
        guard receivers.count >= 2, receivers.count <= 255,
            Set(receivers.map(\.identity.compressed)).count == receivers.count
        else { throw bad("2…255 distinct receivers") }
        guard newThreshold >= 1, newThreshold < receivers.count else { throw bad("1 ≤ t' < n'") }
        guard newThreshold < Presigning.maximumSigners else {
            throw bad(
                "t' ≤ \(Presigning.maximumSigners - 1): a signing takes t' + 1 ≤ \(Presigning.maximumSigners) signers")
        }
        for ids in [dealers.map(\.shareID), receivers.map(\.shareID)] {
            guard ids.allSatisfy({ !$0.isZero }) else { throw bad("share id ≡ 0 mod q") }
            guard Set(ids.map(\.bytes)).count == ids.count else { throw bad("share ids not distinct mod q") }
        }
        // The dealers' Lagrange-weighted public shares must give y: they are t_old + 1 holders of
        // this key (a wrong set could never produce a valid dealing).
        guard (try? Self.lagrangeSum(dealers)) == publicKey else {
            throw bad("the dealers' public shares do not interpolate to the key")
        }
    }

    /// λ_i over the dealers' share ids, at 0 (GG20 §3 "w_i = λ_i x_i").
    static func lagrange(_ ids: [Scalar], at index: Int) throws -> Scalar {
        var coefficient = Scalar.one
        for (k, xk) in ids.enumerated() where k != index {
            coefficient *= (Scalar.zero - xk) * (try (ids[index] - xk).inverse())
        }
        return coefficient
    }

    static func lagrangeSum(_ dealers: [ResharingDealer]) throws -> Point {
        let ids = dealers.map(\.shareID)
        return Point.sum(
            try dealers.indices.map { dealers[$0].publicShare.multipliedVartime(by: try lagrange(ids, at: $0)) })
    }
}

/// What a resharing gives a participant: the new key share for a member of the new committee, nil
/// for a dealer leaving it (its old share is to be retired by the host either way).
public struct ResharingOutput: Sendable {
    public let share: KeyShare?
}

/// Resharing of a GG20 key from t_old + 1 members of the old committee to a new committee with a
/// new threshold, keeping y (and so the address): Desmedt–Jajodia redistribution with Feldman
/// VSS, as Wong–Wang–Wing's verifiable redistribution and GG20's key generation Phase 2 do it,
/// with the new committee's Paillier / ring-Pedersen setup proved as in CGGMP21 Fig. 6.
///
///   Round 1 (broadcast)  receivers: N_j with Π^mod, (Ñ_j, s_j, t_j) with Π^prm. Dealers only: empty.
///   Round 2 (broadcast)  echo of round 1; dealers: the Feldman vector (A_i0…A_it') of f_i with
///                        f_i(0) = w_i = λ_i·x_i, and σ_{i→j} = f_i(x'_j) encrypted under N_j for
///                        every receiver (broadcast, so a complaint can be judged by all).
///           (direct)     receivers to receivers: Π^fac of N_j against the recipient's setup.
///   Round 3 (broadcast)  echo of round 2; receivers: Π^sch of x'_j = Σ_i σ_{i→j}, complaints.
///   Round 4 (broadcast)  echo of round 3; then the new key share.
///
/// Every dealing is pinned to the old key without revealing anything: A_i0 must equal λ_i·X_i (the
/// dealer's public share, known to all), so Σ A_i0 = y and a dealer cannot change the secret; the
/// Feldman check pins each σ_{i→j} to A_i. Failures name their culprit as in `Keygen` (the same
/// echo rule for equivocation; the same judged complaints for shares and Π^fac).
public struct Resharing: Sendable {
    enum Phase: Sendable {
        case running(round: UInt8)
        case done
        case aborted(Abort)
    }

    let params: ResharingParameters
    let identity: PrivateKey
    let me: PartyIndex
    let participants: [PartyIndex]
    let identities: [PartyIndex: PublicKey]
    /// Participant number → dealer position / receiver position.
    let dealerOf: [PartyIndex: Int]
    let receiverOf: [PartyIndex: Int]
    let pre: KeygenPreParams?
    var phase: Phase = .running(round: 1)
    var inboxes: [UInt8: RoundInbox] = [:]
    var mine: [UInt8: Message] = [:]
    public private(set) var droppedCount = 0
    var noticeAfterAbort: [Message] = []

    // Secrets (zeroed by their types when dropped).
    var coefficients: [Scalar]
    var newShare: Scalar = .zero

    // Public material.
    var paillierKeys: [PartyIndex: PaillierPublicKey] = [:]
    var setups: [PartyIndex: RingPedersenParameters] = [:]
    var feldman: [PartyIndex: [Point]] = [:]
    var encryptedShares: [PartyIndex: [PartyIndex: PaillierCiphertext]] = [:]
    var publicShares: [PartyIndex: Point] = [:]
    var facComplaints: [Complaint] = []

    static let rounds: ClosedRange<UInt8> = 1...4

    /// After `.aborted`: what to send anyway (as `Keygen.abortMessages`).
    public var abortMessages: [Message] { noticeAfterAbort }

    var peers: [PartyIndex] { participants.filter { $0 != me } }
    var receiverPeers: [PartyIndex] { peers.filter { receiverOf[$0] != nil } }
    var isDealer: Bool { dealerOf[me] != nil }
    var isReceiver: Bool { receiverOf[me] != nil }
    var dealerParticipants: [PartyIndex] { participants.filter { dealerOf[$0] != nil } }
    var receiverParticipants: [PartyIndex] { participants.filter { receiverOf[$0] != nil } }

    var header: HeaderCheck {
        HeaderCheck(
            kind: .reshare, sessionID: params.sessionID, me: me, parties: participants, identities: identities,
            rounds: Self.rounds)
    }

    /// Starts a resharing at the participant holding `identityKey`. A dealer passes its old
    /// `oldShare` (checked against the parameters); a receiver passes fresh `preParams` (its new
    /// Paillier and ring-Pedersen keys).
    public static func start<R: RandomSource>(
        params: ResharingParameters, identityKey: PrivateKey, oldShare: KeyShare?, preParams: KeygenPreParams?,
        rng: inout R
    ) throws(Abort) -> (Resharing, [Message]) {
        func bad(_ why: String) -> Abort { Abort(culprits: [], reason: .invalidArguments(why)) }
        try params.validate()
        let list = params.participants
        guard let position = list.firstIndex(of: identityKey.publicKey) else { throw bad("not a participant") }
        let me = PartyIndex(position)
        let participants = (0..<PartyIndex(list.count)).map { $0 }
        var dealerOf: [PartyIndex: Int] = [:]
        var receiverOf: [PartyIndex: Int] = [:]
        for (k, dealer) in params.dealers.enumerated() {
            dealerOf[PartyIndex(list.firstIndex(of: dealer.identity)!)] = k
        }
        for (k, receiver) in params.receivers.enumerated() {
            receiverOf[PartyIndex(list.firstIndex(of: receiver.identity)!)] = k
        }
        var coefficients: [Scalar] = []
        if let d = dealerOf[me] {
            guard let oldShare else { throw bad("a dealer needs its old key share") }
            let dealer = params.dealers[d]
            guard oldShare.publicKey == params.publicKey, let k = oldShare.index(of: oldShare.me),
                oldShare.shareIDs[k] == dealer.shareID, oldShare.publicShares[k] == dealer.publicShare
            else { throw bad("the old key share is not the dealer's") }
            // f_i(z) = w_i + a_1 z + … + a_t' z^t' with w_i = λ_i·x_i.
            let lambda = try local("λ") { try ResharingParameters.lagrange(params.dealers.map(\.shareID), at: d) }
            coefficients =
                [lambda * oldShare.secretShare] + (0..<params.newThreshold).map { _ in Scalar.random(using: &rng) }
        }
        if receiverOf[me] != nil, preParams == nil { throw bad("a receiver needs pre-params") }
        var machine = Resharing(
            params: params, identity: identityKey, me: me, participants: participants,
            identities: Dictionary(uniqueKeysWithValues: zip(participants, list)), dealerOf: dealerOf,
            receiverOf: receiverOf, pre: receiverOf[me] != nil ? preParams : nil, coefficients: coefficients)
        let message = try machine.round1(rng: &rng)
        return (machine, [message])
    }

    /// Feeds one message from participant `sender` (authenticated by the transport).
    public mutating func receive<R: RandomSource>(
        from sender: PartyIndex, _ message: Message, rng: inout R
    ) -> Action<ResharingOutput> {
        guard case .running(let round) = phase else {
            if case .aborted(let abort) = phase { return .aborted(abort) }
            droppedCount += 1
            return .wait
        }
        var finishing: UInt8?
        var out: [Message] = []
        do throws(Abort) {
            guard try header.check(message, from: sender), message.round >= round else {
                droppedCount += 1
                return .wait
            }
            if case .party = message.to {
                guard message.round == 2, receiverOf[sender] != nil, isReceiver else {
                    throw .blame(sender, .malformed("direct message in round \(message.round)"))
                }
            }
            guard try inboxes[message.round, default: RoundInbox()].add(message) else {
                droppedCount += 1
                return .wait
            }
            return try advance(finishing: &finishing, out: &out, rng: &rng)
        } catch {
            noticeAfterAbort = out
            if let k = finishing, k <= 3, !error.culprits.isEmpty, !error.culprits.contains(me),
                mine[k] != nil, mine[k + 1] == nil,
                let notice = try? broadcast(round: k + 1, echoOf: k, { _ in })
            {
                noticeAfterAbort.append(notice)
            }
            phase = .aborted(error)
            coefficients = []
            newShare = .zero
            return .aborted(error)
        }
    }

    /// Round `round` is complete with every peer's broadcast and, in round 2 at a receiver, every
    /// other receiver's Π^fac (except from a peer whose broadcast is an abort notice).
    func isComplete(_ round: UInt8) -> Bool {
        let inbox = inboxes[round, default: RoundInbox()]
        let echoOnly = 4 + participants.count * EchoEntry.encodedByteCount
        return peers.allSatisfy { j in
            guard let broadcast = inbox.broadcasts[j] else { return false }
            let needsDirect = round == 2 && isReceiver && receiverOf[j] != nil
            return !needsDirect || inbox.direct[j] != nil || broadcast.payload.count == echoOnly
        }
    }

    mutating func advance<R: RandomSource>(
        finishing: inout UInt8?, out: inout [Message], rng: inout R
    ) throws(Abort) -> Action<ResharingOutput> {
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
                let output = ResharingOutput(share: isReceiver ? try makeKeyShare() : nil)
                phase = .done
                coefficients = []
                newShare = .zero
                return .finished(output, out)
            }
        }
        return out.isEmpty ? .wait : .send(out)
    }

    // MARK: Message helpers

    func transcript(_ tag: String, prover: PartyIndex, recipient: PartyIndex? = nil) -> Transcript {
        var t = Transcript(protocolTag: "vn/tss/reshare/" + tag, sessionID: params.sessionID, partyIndex: prover)
        if let recipient { t.append("recipient", uint64: UInt64(recipient)) }
        return t
    }

    mutating func broadcast(
        round: UInt8, echoOf: UInt8?, _ body: (inout WireWriter) throws -> Void
    ) throws(Abort) -> Message {
        var w = WireWriter()
        if let echoOf { EchoEntry.write(echoView(echoOf), to: &w) }
        try local("encode round \(round)") { try body(&w) }
        let message = try local("sign") {
            try Message(
                kind: .reshare, sessionID: params.sessionID, round: round, from: me, to: .broadcast, payload: w.bytes
            ).signed(with: identity)
        }
        mine[round] = message
        return message
    }

    func echoView(_ round: UInt8) -> [EchoEntry] {
        participants.map { j in EchoEntry(j == me ? mine[round]! : inboxes[round]!.broadcasts[j]!) }
    }

    func checkEchoes(_ inbox: RoundInbox, of round: UInt8) throws(Abort) {
        let view = Dictionary(uniqueKeysWithValues: echoView(round).map { ($0.party, $0) })
        for j in peers {
            var r = WireReader(inbox.broadcasts[j]!.payload)
            let entries: [EchoEntry]
            do { entries = try EchoEntry.read(from: &r, count: participants.count) } catch {
                throw .blame(j, .malformed("echo: \(error)"))
            }
            try EchoEntry.verify(
                entries, echoer: j, mine: view, parties: participants, identities: identities, kind: .reshare,
                sessionID: params.sessionID, round: round)
        }
    }

    /// The broadcast with its echo prefix removed (blames a malformed echo on the sender).
    func bodyOf(_ message: Message) throws(Abort) -> Message {
        var copy = message
        copy.payload = try decodePayload(message) { r throws(WireError) in
            _ = try EchoEntry.read(from: &r, count: participants.count)
            return try r.readFixedBytes(count: r.remaining)
        }
        return copy
    }

    // MARK: Round 1: the new committee's Paillier and ring-Pedersen setup

    mutating func round1<R: RandomSource>(rng: inout R) throws(Abort) -> Message {
        guard let pre else { return try broadcast(round: 1, echoOf: nil) { $0.writeUInt8(0) } }
        var tMod = transcript("mod", prover: me)
        var tPrm = transcript("prm", prover: me)
        // CGGMP21 Fig. 6, round 1: ψ = Π^mod(N_j), ψ̂ = Π^prm(Ñ_j, s_j, t_j).
        let mod = try local("Π^mod") { try ModulusProof.prove(key: pre.paillier, transcript: &tMod, rng: &rng) }
        let prm = try local("Π^prm") {
            try RingPedersenProof.prove(secret: pre.ringPedersen, transcript: &tPrm, rng: &rng)
        }
        let setup = pre.ringPedersen.parameters
        paillierKeys[me] = pre.paillier.publicKey
        setups[me] = setup
        return try broadcast(round: 1, echoOf: nil) { w in
            w.writeUInt8(1)
            w.writeInteger(pre.paillier.publicKey.n)
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
            let decoded = try decodePayload(message) {
                r throws(WireError) -> (BigNum, BigNum, BigNum, BigNum, [UInt8], [UInt8])? in
                guard try r.readUInt8() == 1 else { return nil }
                return (
                    try r.readInteger(maxBits: bits), try r.readInteger(maxBits: bits),
                    try r.readInteger(maxBits: bits),
                    try r.readInteger(maxBits: bits), try r.readBytes(maxLength: 1 << 17),
                    try r.readBytes(maxLength: 1 << 17)
                )
            }
            guard (decoded != nil) == (receiverOf[j] != nil) else {
                throw .blame(j, .malformed("round-1 body does not match the participant's role"))
            }
            guard let (n, nHat, s, t, modBytes, prmBytes) = decoded else { continue }
            guard let key = try? PaillierPublicKey(n: n) else { throw .blame(j, .outOfRange("Paillier modulus")) }
            guard let setup = try? RingPedersenParameters(n: nHat, s: s, t: t) else {
                throw .blame(j, .outOfRange("ring-Pedersen parameters"))
            }
            var tMod = transcript("mod", prover: j)
            var tPrm = transcript("prm", prover: j)
            try requireProof(j, "Π^mod") { try ModulusProof(decoding: modBytes).verify(modulus: n, transcript: &tMod) }
            try requireProof(j, "Π^prm") {
                try RingPedersenProof(decoding: prmBytes).verify(parameters: setup, transcript: &tPrm)
            }
            paillierKeys[j] = key
            setups[j] = setup
        }
        for (a, b) in pairs(receiverParticipants) {
            let ofA: Set<BigNum> = [paillierKeys[a]!.n, setups[a]!.n]
            if !ofA.isDisjoint(with: [paillierKeys[b]!.n, setups[b]!.n]) {
                throw Abort(culprits: [a, b].filter { $0 != me }, reason: .duplicateModulus)
            }
        }
    }

    // MARK: Round 2: the dealings

    var feldmanVector: [Point] { coefficients.map { Point.generatorMul($0) } }

    func newShareID(_ participant: PartyIndex) -> Scalar { params.receivers[receiverOf[participant]!].shareID }

    mutating func round2<R: RandomSource>(rng: inout R) throws(Abort) -> [Message] {
        var shares: [(PartyIndex, PaillierCiphertext)] = []
        if isDealer {
            for j in receiverParticipants where j != me {
                // σ_{i→j} = f_i(x'_j), encrypted under N_j.
                var sigma = BigNum(Keygen.evaluate(coefficients, at: newShareID(j)))
                defer { sigma = .zero }
                let c = try local("encrypt share") { try paillierKeys[j]!.encrypt(sigma, using: &rng).ciphertext }
                shares.append((j, c))
            }
            encryptedShares[me] = Dictionary(uniqueKeysWithValues: shares)
            feldman[me] = feldmanVector
        }
        let points = isDealer ? feldmanVector : []
        var out = [
            try broadcast(round: 2, echoOf: 1) { w in
                w.writeArray(points) { $0.writePoint($1) }
                w.writeArray(shares) { w, entry in
                    w.writeUInt32(entry.0)
                    w.writeInteger(entry.1.value)
                }
            }
        ]
        guard let pre else { return out }
        for j in receiverPeers {
            // CGGMP21 Fig. 6, round 3: Π^fac of N_j against the recipient's setup, bound to it.
            var t = transcript("fac", prover: me, recipient: j)
            let proof = try local("Π^fac") {
                try NoSmallFactorProof.prove(key: pre.paillier, setup: setups[j]!, transcript: &t, rng: &rng)
            }
            out.append(
                try local("sign direct") {
                    try Message(
                        kind: .reshare, sessionID: params.sessionID, round: 2, from: me, to: .party(j),
                        payload: proof.encode()
                    ).signed(with: identity)
                })
        }
        return out
    }

    /// Checks every dealing against the old key; returns our complaints (dealer, σ, ρ).
    mutating func finishRound2(_ inbox: RoundInbox) throws(Abort) -> [(PartyIndex, BigNum, BigNum)] {
        try checkEchoes(inbox, of: 1)
        let tNew = params.newThreshold
        let dealerIDs = params.dealers.map(\.shareID)
        var complaints: [(PartyIndex, BigNum, BigNum)] = []
        var sum = Scalar.zero
        if isDealer, isReceiver { sum = Keygen.evaluate(coefficients, at: newShareID(me)) }
        for j in peers {
            let body = try bodyOf(inbox.broadcasts[j]!)
            let (points, shares) = try decodePayload(body) { r throws(WireError) in
                let points = try r.readArray(maxCount: 256, minimumElementSize: 33) { r throws(WireError) in
                    try r.readPoint()
                }
                let shares = try r.readArray(maxCount: 256, minimumElementSize: 5) { r throws(WireError) in
                    (try r.readUInt32(), try r.readInteger(maxBits: 2 * PaillierPublicKey.maximumModulusBits))
                }
                return (points, shares)
            }
            guard let d = dealerOf[j] else {
                guard points.isEmpty, shares.isEmpty else { throw .blame(j, .malformed("a dealing from a non-dealer")) }
                continue
            }
            // Exactly t'+1 coefficient commitments (a longer vector raises the new threshold).
            guard points.count == tNew + 1 else {
                throw .blame(j, .wrongCommitmentLength(found: points.count, required: tNew + 1))
            }
            // The dealt value is the dealer's Lagrange-weighted old share: A_i0 = λ_i·X_i.
            let lambda = try local("λ") { try ResharingParameters.lagrange(dealerIDs, at: d) }
            guard points[0] == params.dealers[d].publicShare.multipliedVartime(by: lambda) else {
                throw .blame(j, .invalidShare)
            }
            guard shares.map(\.0) == receiverParticipants.filter({ $0 != j }) else {
                throw .blame(j, .malformed("encrypted share list"))
            }
            var cts: [PartyIndex: PaillierCiphertext] = [:]
            for (k, value) in shares {
                guard let c = try? paillierKeys[k]!.validate(ciphertext: value) else {
                    throw .blame(j, .outOfRange("encrypted share for \(k)"))
                }
                cts[k] = c
            }
            feldman[j] = points
            encryptedShares[j] = cts
            guard let pre, let c = cts[me] else { continue }
            // Feldman check of our share: σ·G = Σ x'^k A_ik, σ < q; a failure is a complaint.
            let sigma = try local("decrypt share") { try pre.paillier.decrypt(c) }
            if sigma < CurveOrder.q, let share = try? Scalar(reducing: sigma),
                Point.generatorMul(share) == Keygen.evaluate(points, at: newShareID(me))
            {
                sum += share
            } else {
                let rho = try local("open share") { try Keygen.openRandomness(c, plaintext: sigma, key: pre.paillier) }
                complaints.append((j, sigma.declassified(), rho.declassified()))
            }
        }
        // Π^fac of every other receiver's N against our setup; a failure is a complaint.
        if let pre {
            for j in receiverPeers {
                var tr = transcript("fac", prover: j, recipient: me)
                do {
                    try requireProof(j, "Π^fac") {
                        try NoSmallFactorProof(decoding: inbox.direct[j]!.payload).verify(
                            modulus: paillierKeys[j]!.n, setup: setups[me]!, transcript: &tr,
                            owner: pre.ringPedersen.factorization)
                    }
                } catch { facComplaints.append(Complaint(inbox.direct[j]!)) }
            }
        }
        newShare = sum
        let dealings = dealerParticipants.map { feldman[$0]! }
        guard Point.sum(dealings.map { $0[0] }) == params.publicKey else {
            throw Abort(culprits: [], reason: .internalError("dealings do not sum to the key"))
        }
        for k in receiverParticipants {
            publicShares[k] = Point.sum(dealings.map { Keygen.evaluate($0, at: newShareID(k)) })
        }
        return complaints
    }

    // MARK: Round 3: proofs of the new shares, complaints

    mutating func round3<R: RandomSource>(
        complaints: [(PartyIndex, BigNum, BigNum)], rng: inout R
    ) throws(Abort) -> Message {
        var proof: [UInt8] = []
        if isReceiver, complaints.isEmpty {
            var t = transcript("sch", prover: me)
            let (x, point) = (newShare, publicShares[me]!)
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
        for j in participants {
            let message = try bodyOf(j == me ? mine[3]! : inbox.broadcasts[j]!)
            decoded[j] = try decodePayload(message) { r throws(WireError) in
                let proof = try r.readBytes(maxLength: 128)
                let fac = try Complaint.read(from: &r, maxCount: participants.count)
                let complaints = try r.readArray(maxCount: 256, minimumElementSize: 12) { r throws(WireError) in
                    (try r.readUInt32(), try r.readInteger(maxBits: bits), try r.readInteger(maxBits: bits))
                }
                return (proof, fac, complaints)
            }
            if receiverOf[j] == nil, decoded[j]!.0.count + decoded[j]!.1.count + decoded[j]!.2.count > 0 {
                throw .blame(j, .malformed("round-3 body from a participant outside the new committee"))
            }
        }
        for a in participants {
            for complaint in decoded[a]!.1 { try judgeFactorComplaint(complaint, by: a) }
        }
        // A complaint opens (σ, ρ) of C_{d→a}; everyone re-encrypts it and runs the Feldman check.
        var culprits: [PartyIndex] = []
        var reason: Reason?
        for a in participants {
            for (d, sigma, rho) in decoded[a]!.2 {
                guard d != a, let c = encryptedShares[d]?[a] else {
                    culprits.append(a)
                    reason = reason ?? .falseAccusation
                    continue
                }
                let key = paillierKeys[a]!
                let opens = key.isUnit(rho) && sigma < key.n && (try? key.encrypt(sigma, randomness: rho)) == c
                let valid =
                    sigma < CurveOrder.q
                    && (try? Scalar(reducing: sigma)).map {
                        Point.generatorMul($0) == Keygen.evaluate(feldman[d]!, at: newShareID(a))
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
        for j in receiverPeers {
            var t = transcript("sch", prover: j)
            let point = publicShares[j]!
            try requireProof(j, "Π^sch") {
                try SchnorrProof(decoding: decoded[j]!.0).verify(publicPoint: point, transcript: &t)
            }
        }
    }

    /// As `Keygen.judgeFactorComplaint` (always throws).
    func judgeFactorComplaint(_ complaint: Complaint, by complainer: PartyIndex) throws(Abort) {
        let accused = complaint.accused
        guard accused != complainer, receiverOf[accused] != nil, receiverOf[complainer] != nil,
            let key = identities[accused]
        else { throw .blame(complainer, .falseAccusation) }
        // Π^fac is checked with public values only: a complaint carries no evidence here.
        guard complaint.evidence.isEmpty else { throw .blame(complainer, .falseAccusation) }
        let message = complaint.message(kind: .reshare, sessionID: params.sessionID, round: 2, complainer: complainer)
        guard message.hasValidSignature(by: key) else { throw .blame(complainer, .falseAccusation) }
        var tr = transcript("fac", prover: accused, recipient: complainer)
        let (n, setup) = (paillierKeys[accused]!.n, setups[complainer]!)
        try requireProof(accused, "Π^fac") {
            try NoSmallFactorProof(decoding: message.payload).verify(modulus: n, setup: setup, transcript: &tr)
        }
        throw .blame(complainer, .falseAccusation)
    }

    // MARK: Output

    func makeKeyShare() throws(Abort) -> KeyShare {
        let committee = receiverParticipants
        let ordered = committee.sorted { receiverOf[$0]! < receiverOf[$1]! }
        return try local("key share") {
            try KeyShare(
                threshold: params.newThreshold, parties: (0..<PartyIndex(ordered.count)).map { $0 },
                me: PartyIndex(receiverOf[me]!), shareIDs: params.receivers.map(\.shareID), publicKey: params.publicKey,
                publicShares: ordered.map { publicShares[$0]! }, paillierKeys: ordered.map { paillierKeys[$0]! },
                ringPedersen: ordered.map { setups[$0]! }, identities: params.receivers.map(\.identity),
                secretShare: newShare, paillierSecret: pre!.paillier)
        }
    }
}
