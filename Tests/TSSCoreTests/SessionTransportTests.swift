import CryptoPrimitives
import MPCTestSupport
import Secp256k1
import TSSCore
import Testing

/// Whole protocols run through `SessionTransport` over a seeded network that drops, duplicates
/// and reorders datagrams: retransmission gets every party to the end, duplicates reach the
/// protocol once, and a silent party is named at the deadline.
@Suite struct SessionTransportTests {
    /// A seeded lossy network in virtual time. Each party: a transport and a `receive` closure
    /// into its protocol machine.
    struct LossyNetwork {
        var rng: SeededRandom
        let dropPercent: UInt64
        let duplicatePercent: UInt64
        var inFlight: [(from: PartyIndex, datagram: SessionTransport.Datagram)] = []

        mutating func roll(_ percent: UInt64) -> Bool { rng.next() % 100 < percent }

        mutating func post(_ datagrams: [SessionTransport.Datagram], from: PartyIndex) {
            for datagram in datagrams where !roll(dropPercent) {
                inFlight.append((from, datagram))
                if roll(duplicatePercent) { inFlight.append((from, datagram)) }
            }
        }

        /// Everything in flight, in a random order.
        mutating func drain() -> [(from: PartyIndex, datagram: SessionTransport.Datagram)] {
            var batch = inFlight
            inFlight = []
            for i in stride(from: batch.count - 1, to: 0, by: -1) {
                batch.swapAt(i, Int(rng.next() % UInt64(i + 1)))
            }
            return batch
        }
    }

    enum Outcome<Output> {
        case finished(Output)
        case aborted(Abort)
        case expired([PartyIndex])
    }

    /// Runs one session among `parties`; `silent` parties never send anything.
    static func run<Output>(
        parties: [PartyIndex], session: [UInt8], initial: [PartyIndex: [Message]], network: inout LossyNetwork,
        silent: Set<PartyIndex> = [],
        receive: (PartyIndex, PartyIndex, Message) -> Action<Output>
    ) throws -> (outcomes: [PartyIndex: Outcome<Output>], transports: [PartyIndex: SessionTransport]) {
        let identities = Dictionary(uniqueKeysWithValues: parties.map { ($0, Party.identity($0).publicKey) })
        var transports: [PartyIndex: SessionTransport] = [:]
        var outcomes: [PartyIndex: Outcome<Output>] = [:]
        for i in parties {
            transports[i] = SessionTransport(
                sessionID: session, me: i, parties: parties, identity: Party.identity(i), identities: identities,
                configuration: .init(resendIntervalMs: 200, deadlineMs: 30_000), nowMs: 0)
            let out = try transports[i]!.send(initial[i] ?? [])
            if !silent.contains(i) { network.post(out, from: i) }
        }
        var now: UInt64 = 0
        while outcomes.count < parties.count - silent.count {
            now += 100
            for (from, datagram) in network.drain() where outcomes[datagram.to] == nil {
                let to = datagram.to
                guard
                    case .deliver(let message) = transports[to]!.receive(
                        datagram.bytes, from: from, round: datagram.round, sequence: datagram.sequence)
                else { continue }
                var out: [Message] = []
                switch receive(to, from, message) {
                case .wait: break
                case .send(let messages): out = messages
                case .finished(let output, let messages):
                    outcomes[to] = .finished(output)
                    transports[to]!.isSettled = true
                    out = messages
                case .aborted(let abort): outcomes[to] = .aborted(abort)
                }
                let datagrams = try transports[to]!.send(out)
                if !silent.contains(to) { network.post(datagrams, from: to) }
            }
            // Finished parties keep answering with retransmissions: their last messages may be lost.
            for i in parties where !silent.contains(i) {
                switch transports[i]!.tick(nowMs: now) {
                case .idle: break
                case .resend(let datagrams): network.post(datagrams, from: i)
                case .expired(let silentPeers): if outcomes[i] == nil { outcomes[i] = .expired(silentPeers) }
                }
            }
        }
        return (outcomes, transports)
    }

    @Test func keygenPresignAndSignCompleteOverALossyNetwork() throws {
        var network = LossyNetwork(rng: SeededRandom(seed: "lossy"), dropPercent: 30, duplicatePercent: 20)
        let parties: [PartyIndex] = [0, 1]
        let identities = Dictionary(uniqueKeysWithValues: parties.map { ($0, Party.identity($0).publicKey) })
        var rngs = Dictionary(uniqueKeysWithValues: parties.map { ($0, SeededRandom(seed: "transport-\($0)")) })

        // Keygen (t = 1, n = 2).
        var keygens: [PartyIndex: Keygen] = [:]
        var initial: [PartyIndex: [Message]] = [:]
        for i in parties {
            let params = KeygenParameters(
                sessionID: sessionID("transport-keygen"), threshold: 1, parties: parties, me: i, identities: identities)
            let (machine, out) = try Keygen.start(
                params: params, preParams: Party.preParams(i), identityKey: Party.identity(i), rng: &rngs[i]!)
            keygens[i] = machine
            initial[i] = out
        }
        let (keygenOutcomes, keygenTransports) = try Self.run(
            parties: parties, session: sessionID("transport-keygen"), initial: initial, network: &network
        ) { to, from, message in keygens[to]!.receive(from: from, message, rng: &rngs[to]!) }
        var shares: [PartyIndex: KeyShare] = [:]
        for (i, outcome) in keygenOutcomes {
            guard case .finished(let share) = outcome else {
                Issue.record("keygen at \(i) did not finish: \(outcome)")
                return
            }
            shares[i] = share
        }
        #expect(shares[0]!.publicKey == shares[1]!.publicKey)
        // The network did drop and duplicate: retransmissions and duplicates happened.
        #expect(keygenTransports.values.map(\.duplicateCount).reduce(0, +) > 0)
        #expect(keygenTransports.values.allSatisfy { $0.rejectedCount == 0 })

        // Presign and sign by both.
        var presigns: [PartyIndex: Presigning] = [:]
        initial = [:]
        for i in parties {
            let (machine, out) = try Presigning.start(
                keyShare: shares[i]!,
                params: PresignParameters(sessionID: sessionID("transport-presign"), signers: parties),
                identityKey: Party.identity(i), rng: &rngs[i]!)
            presigns[i] = machine
            initial[i] = out
        }
        let (presignOutcomes, _) = try Self.run(
            parties: parties, session: sessionID("transport-presign"), initial: initial, network: &network
        ) { to, from, message in presigns[to]!.receive(from: from, message, rng: &rngs[to]!) }
        #expect(presignOutcomes.values.allSatisfy { if case .finished = $0 { true } else { false } })

        let digest = SHA256.hash(Array("over the lossy network".utf8))
        var online: [PartyIndex: OnlineSigning] = [:]
        initial = [:]
        for i in parties {
            guard case .finished = presignOutcomes[i] else { return }
            let presignature = presigns[i]!.takePresignature()!
            let (machine, message) = try presignature.sign(digest: digest, identityKey: Party.identity(i))
            online[i] = machine
            initial[i] = [message]
        }
        let (signOutcomes, _) = try Self.run(
            parties: parties, session: sessionID("transport-presign"), initial: initial, network: &network
        ) { to, from, message in online[to]!.receive(from: from, message) }
        for (_, outcome) in signOutcomes {
            guard case .finished(let signature) = outcome else {
                Issue.record("signing did not finish: \(outcome)")
                return
            }
            #expect(try PublicKey.recover(signature, digest: digest) == shares[0]!.groupPublicKey)
        }
    }

    @Test func aSilentPartyIsNamedAtTheDeadline() throws {
        var network = LossyNetwork(rng: SeededRandom(seed: "silent"), dropPercent: 10, duplicatePercent: 10)
        let shares = Keys.t1n3
        let signers: [PartyIndex] = [0, 2]
        var rngs = Dictionary(uniqueKeysWithValues: signers.map { ($0, SeededRandom(seed: "silent-\($0)")) })
        var presigns: [PartyIndex: Presigning] = [:]
        var initial: [PartyIndex: [Message]] = [:]
        for i in signers {
            let (machine, out) = try Presigning.start(
                keyShare: shares[i]!, params: PresignParameters(sessionID: sessionID("silent"), signers: signers),
                identityKey: Party.identity(i), rng: &rngs[i]!)
            presigns[i] = machine
            initial[i] = out
        }
        let (outcomes, _) = try Self.run(
            parties: signers, session: sessionID("silent"), initial: initial, network: &network, silent: [2]
        ) { to, from, message in presigns[to]!.receive(from: from, message, rng: &rngs[to]!) }
        guard case .expired(let silent) = outcomes[0] else {
            Issue.record("party 0 should have expired: \(String(describing: outcomes[0]))")
            return
        }
        #expect(silent == [2])
    }

    /// A narrowed broadcast (the service's online round: shares go to the combiner only) reaches
    /// only the named peers, and the round still counts as ours: at the deadline the peers that
    /// did not send it are named, whether or not we sent them anything.
    @Test func aNarrowedBroadcastStillNamesTheSilentAtTheDeadline() throws {
        let parties: [PartyIndex] = [0, 1, 2]
        let identities = Dictionary(uniqueKeysWithValues: parties.map { ($0, Party.identity($0).publicKey) })
        func onlineShare(from party: PartyIndex, _ payload: UInt8) throws -> Message {
            try Message(
                kind: .sign, sessionID: sessionID("narrow"), round: 1, from: party, to: .broadcast, payload: [payload]
            ).signed(with: Party.identity(party))
        }
        func transport(_ me: PartyIndex) -> SessionTransport {
            SessionTransport(
                sessionID: sessionID("narrow"), me: me, parties: parties, identity: Party.identity(me),
                identities: identities, configuration: .init(resendIntervalMs: 100, deadlineMs: 1_000), nowMs: 0)
        }
        let share = try onlineShare(from: 1, 7)
        var signer = transport(1)
        let toCombiner = try signer.send([share], broadcastTo: [0])
        #expect(toCombiner.map(\.to) == [0])
        #expect(signer.tick(nowMs: 150) == .resend(toCombiner))

        let own = try onlineShare(from: 0, 8)
        var combiner = transport(0)
        #expect(try combiner.send([own], broadcastTo: []).isEmpty)
        #expect(combiner.currentRound == 1)
        #expect(combiner.tick(nowMs: 150) == .idle)
        let datagram = toCombiner[0]
        #expect(
            combiner.receive(datagram.bytes, from: 1, round: datagram.round, sequence: datagram.sequence)
                == .deliver(share))
        #expect(combiner.tick(nowMs: 1_000) == .expired(silent: [2]))
        // The signer waits for its combiner alone: only the combiner can be named.
        signer.awaiting = [0]
        #expect(signer.tick(nowMs: 1_000) == .expired(silent: [0]))
    }

    /// A signer of the one-combiner round: its share is sent again until the combiner's node
    /// acknowledges that datagram (another peer's acknowledgement, or one of another sequence,
    /// does not count), and then the handover is over; nothing any peer sends changes that.
    @Test func theCombinersAcknowledgementEndsTheHandover() throws {
        let parties: [PartyIndex] = [0, 1, 2]
        let identities = Dictionary(uniqueKeysWithValues: parties.map { ($0, Party.identity($0).publicKey) })
        let share = try Message(
            kind: .sign, sessionID: sessionID("handover"), round: 1, from: 1, to: .broadcast, payload: [7]
        ).signed(with: Party.identity(1))
        var signer = SessionTransport(
            sessionID: sessionID("handover"), me: 1, parties: parties, identity: Party.identity(1),
            identities: identities, configuration: .init(resendIntervalMs: 100, deadlineMs: 1_000), nowMs: 0)
        signer.awaiting = [0]
        #expect(!signer.isDelivered)
        let sent = try signer.send([share], broadcastTo: [0])
        #expect(sent.count == 1 && sent[0].to == 0)
        #expect(!signer.isDelivered)
        let byAnotherPeer = signer.acknowledged(sequence: sent[0].sequence, by: 2)
        let otherSequence = signer.acknowledged(sequence: sent[0].sequence + 1, by: 0)
        #expect(!byAnotherPeer && !otherSequence)
        #expect(signer.tick(nowMs: 150) == .resend(sent))
        let byTheCombiner = signer.acknowledged(sequence: sent[0].sequence, by: 0)
        #expect(byTheCombiner && signer.isDelivered)
        #expect(signer.tick(nowMs: 300) == .idle)

        let handover = ShareHandover(combiner: 0)
        for (sender, message) in [
            (
                0,
                Message(kind: .sign, sessionID: sessionID("handover"), round: 2, from: 0, to: .broadcast, payload: [0])
            ),
            (2, share),
        ] as [(PartyIndex, Message)] {
            guard case .wait = handover.receive(from: sender, message) else {
                Issue.record("not ignored: \(message) from \(sender)")
                return
            }
        }
        guard case .finished(_, let out) = handover.delivered(), out.isEmpty else {
            Issue.record("the acknowledgement did not end the handover")
            return
        }
    }

    @Test func foreignAndMisdirectedDatagramsAreRejected() throws {
        let parties: [PartyIndex] = [0, 1, 2]
        let identities = Dictionary(uniqueKeysWithValues: parties.map { ($0, Party.identity($0).publicKey) })
        func transport(_ i: PartyIndex, session: String = "rejects") -> SessionTransport {
            SessionTransport(
                sessionID: sessionID(session), me: i, parties: parties, identity: Party.identity(i),
                identities: identities, nowMs: 0)
        }
        var sender = transport(0)
        let direct = try Message(
            kind: .presign, sessionID: sessionID("rejects"), round: 1, from: 0, to: .party(1), payload: [1, 2, 3]
        ).signed(with: Party.identity(0))
        let datagram = try #require(try sender.send([direct]).first)
        #expect(datagram.to == 1)
        // The addressee reads it once; a replay is a duplicate.
        var one = transport(1)
        #expect(one.receive(datagram.bytes, from: 0, round: 1, sequence: datagram.sequence) == .deliver(direct))
        #expect(one.receive(datagram.bytes, from: 0, round: 1, sequence: datagram.sequence) == .duplicate)
        // Another party cannot open it; a wrong claimed sender, round or sequence fails too.
        var two = transport(2)
        guard case .rejected = two.receive(datagram.bytes, from: 0, round: 1, sequence: datagram.sequence) else {
            Issue.record("a third party opened a sealed message")
            return
        }
        var fresh = transport(1)
        for (from, round, sequence) in [
            (2, 1, datagram.sequence), (0, 2, datagram.sequence), (0, 1, datagram.sequence + 1),
        ] {
            guard
                case .rejected = fresh.receive(
                    datagram.bytes, from: PartyIndex(from), round: UInt8(round), sequence: sequence)
            else {
                Issue.record("accepted with from \(from) round \(round) sequence \(sequence)")
                return
            }
        }
        // A message of another session, relayed by the wrong peer, or from a stranger.
        var other = transport(1, session: "another")
        guard case .rejected = other.receive(datagram.bytes, from: 0, round: 1, sequence: datagram.sequence) else {
            Issue.record("accepted a message of another session")
            return
        }
        let broadcast = try Message(
            kind: .presign, sessionID: sessionID("rejects"), round: 1, from: 2, to: .broadcast, payload: [9]
        ).signed(with: Party.identity(2))
        guard case .rejected = fresh.receive([0] + broadcast.encode(), from: 0, round: 1, sequence: 5) else {
            Issue.record("accepted a broadcast relayed by another party")
            return
        }
        guard case .rejected = fresh.receive([0] + broadcast.encode(), from: 9, round: 1, sequence: 5) else {
            Issue.record("accepted a stranger")
            return
        }
        #expect(fresh.rejectedCount == 5)
    }
}
