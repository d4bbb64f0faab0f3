import CryptoPrimitives
import Secp256k1
import TSSCore
import Testing

/// Resharing a (t=1, n=3) key to a new committee of four with t' = 2: the key and its address
/// stay, the new shares sign, a dealer that leaves gets nothing, a bad dealing names its dealer.
@Suite struct ResharingTests {
    static let old = Keys.t1n3
    static func newcomer(_ label: String) -> PrivateKey {
        try! PrivateKey(bytes: SHA256.hash(Array("newcomer-\(label)".utf8)))
    }

    /// Dealers: old parties 0 and 2 (0 leaves). New committee: old 2, old 1 (which does not deal),
    /// two newcomers.
    static let dealerKeys = [Party.identity(0), Party.identity(2)]
    static let receiverKeys = [Party.identity(2), Party.identity(1), newcomer("a"), newcomer("b")]

    static func parameters(session: String) -> ResharingParameters {
        let share = old[0]!
        return ResharingParameters(
            sessionID: sessionID(session), publicKey: share.publicKey,
            dealers: [0, 2].map { i in
                ResharingDealer(
                    identity: Party.identity(PartyIndex(i)).publicKey, shareID: share.shareIDs[i],
                    publicShare: share.publicShares[i])
            },
            newThreshold: 2,
            receivers: receiverKeys.enumerated().map { k, key in
                ResharingReceiver(identity: key.publicKey, shareID: Scalar(UInt64(k + 1)))
            })
    }

    /// Runs the resharing; results by participant number (dealers 0 and 2 are participants 0 and
    /// 1; old party 1 and the newcomers are 2, 3 and 4).
    static func run(session: String, tamper: Tamper? = nil) throws -> [PartyIndex: Result<ResharingOutput, Abort>] {
        let params = parameters(session: session)
        let keys = params.participants.map { identity in (dealerKeys + receiverKeys).first { $0.publicKey == identity }!
        }
        var machines: [PartyIndex: Resharing] = [:]
        var rngs: [PartyIndex: SeededRandom] = [:]
        var initial: [PartyIndex: [Message]] = [:]
        for (p, key) in keys.enumerated() {
            let participant = PartyIndex(p)
            var rng = SeededRandom(seed: "\(session)-\(p)")
            let oldIndex = [0, 1, 2].first { Party.identity(PartyIndex($0)).publicKey == key.publicKey }
            let isDealer = dealerKeys.contains { $0.publicKey == key.publicKey }
            let isReceiver = receiverKeys.contains { $0.publicKey == key.publicKey }
            let (machine, out) = try Resharing.start(
                params: params, identityKey: key, oldShare: isDealer ? old[PartyIndex(oldIndex!)] : nil,
                preParams: isReceiver ? Party.preParams(PartyIndex(5 + p)) : nil, rng: &rng)
            machines[participant] = machine
            rngs[participant] = rng
            initial[participant] = out
        }
        return Simulator.run(
            parties: machines.keys.sorted(), initial: initial, tamper: tamper,
            abortMessages: { machines[$0]!.abortMessages }
        ) { party, sender, message in machines[party]!.receive(from: sender, message, rng: &rngs[party]!) }
    }

    @Test func theNewCommitteeKeepsTheKeyAndSigns() throws {
        let results = try Self.run(session: "reshare-ok")
        #expect(results.count == 5)
        // The leaving dealer (participant 0) finishes without a share.
        #expect(try results[0]!.get().share == nil)
        var shares: [PartyIndex: KeyShare] = [:]
        for participant: PartyIndex in 1...4 {
            let share = try #require(try results[participant]!.get().share)
            shares[share.me] = share
        }
        #expect(shares.count == 4)
        let y = Self.old[0]!.publicKey
        for share in shares.values {
            #expect(share.publicKey == y)
            #expect(share.threshold == 2 && share.parties.count == 4)
            #expect(share.groupPublicKey.ethereumAddress == Self.old[0]!.groupPublicKey.ethereumAddress)
        }
        // Every participant computed the same new key material (same key id).
        #expect(Set(shares.values.map(\.keyID)).count == 1)
        #expect(shares.values.first!.keyID != Self.old[0]!.keyID)

        // Signing by a 3-subset of the new committee (including both newcomers).
        let signers: [PartyIndex] = [1, 2, 3]
        let digest = SHA256.hash(Array("signed by the new committee".utf8))
        var machines: [PartyIndex: Presigning] = [:]
        var rngs: [PartyIndex: SeededRandom] = [:]
        var initial: [PartyIndex: [Message]] = [:]
        for i in signers {
            var rng = SeededRandom(seed: "new-committee-\(i)")
            let (machine, out) = try Presigning.start(
                keyShare: shares[i]!, params: PresignParameters(sessionID: sessionID("new-presign"), signers: signers),
                identityKey: Self.receiverKeys[Int(i)], rng: &rng)
            machines[i] = machine
            rngs[i] = rng
            initial[i] = out
        }
        let presign = Simulator.run(parties: signers, initial: initial) { party, sender, message in
            machines[party]!.receive(from: sender, message, rng: &rngs[party]!)
        }
        #expect(signers.allSatisfy { (try? presign[$0]!.get()) != nil })
        var online: [PartyIndex: OnlineSigning] = [:]
        var onlineInitial: [PartyIndex: [Message]] = [:]
        for i in signers {
            let (machine, message) = try machines[i]!.takePresignature()!.sign(
                digest: digest, identityKey: Self.receiverKeys[Int(i)])
            online[i] = machine
            onlineInitial[i] = [message]
        }
        let signed = Simulator.run(parties: signers, initial: onlineInitial) { party, sender, message in
            online[party]!.receive(from: sender, message)
        }
        for i in signers {
            let signature = try signed[i]!.get()
            #expect(try PublicKey.recover(signature, digest: digest) == Self.old[0]!.groupPublicKey)
        }
    }

    @Test func aDealerThatDealsAnotherValueIsNamed() throws {
        // Participant 1 (old party 2, a dealer) replaces A_0 in its round-2 broadcast with G and
        // re-signs it: its dealing no longer carries λ·X_2. Every other participant names it.
        let echoBytes = 4 + 5 * 100
        let tamper: Tamper = { message, _ in
            guard message.from == 1, message.round == 2, message.to == .broadcast else { return nil }
            var payload = message.payload
            // Echo prefix, then u32 count and the first 33-byte point.
            let first = echoBytes + 4
            payload.replaceSubrange(first..<(first + 33), with: Point.generator.encoded)
            var forged = message
            forged.payload = payload
            return try! forged.signed(with: Party.identity(2))
        }
        let results = try Self.run(session: "reshare-bad-dealing", tamper: tamper)
        for participant: PartyIndex in [0, 2, 3, 4] {
            guard case .failure(let abort) = results[participant] else {
                Issue.record("participant \(participant) did not abort")
                continue
            }
            #expect(abort.culprits == [1])
            #expect(abort.reason == .invalidShare)
        }
    }

    @Test func badParametersAreRefusedBeforeAnythingIsSent() {
        var rng = SeededRandom(seed: "bad-params")
        var params = Self.parameters(session: "reshare-bad")
        // Dealers whose public shares do not give the key.
        params.dealers[1].publicShare = Point.generator
        #expect(throws: Abort.self) {
            try Resharing.start(
                params: params, identityKey: Party.identity(0), oldShare: Self.old[0], preParams: nil, rng: &rng)
        }
        // A zero share id, a receiver without pre-params, a dealer without its share, an outsider.
        params = Self.parameters(session: "reshare-bad")
        params.receivers[3].shareID = .zero
        #expect(throws: Abort.self) {
            try Resharing.start(
                params: params, identityKey: Self.newcomer("b"), oldShare: nil, preParams: Party.preParams(9), rng: &rng
            )
        }
        params = Self.parameters(session: "reshare-bad")
        #expect(throws: Abort.self) {
            try Resharing.start(
                params: params, identityKey: Self.newcomer("a"), oldShare: nil, preParams: nil, rng: &rng)
        }
        #expect(throws: Abort.self) {
            try Resharing.start(
                params: params, identityKey: Party.identity(0), oldShare: nil, preParams: nil, rng: &rng)
        }
        #expect(throws: Abort.self) {
            try Resharing.start(
                params: params, identityKey: Self.newcomer("stranger"), oldShare: nil, preParams: Party.preParams(9),
                rng: &rng)
        }
        // A dealer handing in another party's share.
        #expect(throws: Abort.self) {
            try Resharing.start(
                params: params, identityKey: Party.identity(0), oldShare: Self.old[1], preParams: nil, rng: &rng)
        }
    }
}
