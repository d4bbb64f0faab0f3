import CryptoPrimitives
import Foundation
import Logging
import MPCTestSupport
import NIOPosix
import RPC
import Secp256k1
import TSSCore
import TSSSigner
import Testing
import Wire

/// Three tss-signers in one process, each with its own p2p listener on 127.0.0.1: keygen and
/// signing run over real TCP through signed envelopes, sealed direct messages and the session
/// transport; a party that never answers is named at the deadline; envelopes of another chain or
/// from a stranger are refused.
@Suite(.serialized) struct TSSNetworkTests {
    struct Node {
        let key: PrivateKey
        let server: RPCServer
        let network: TSSPeerNetwork
        let manager: TSSSessionManager
        var address: Address { network.me }
    }

    static func key(_ i: Int) -> PrivateKey { try! PrivateKey(bytes: SHA256.hash(Array("tss-net-\(i)".utf8))) }

    /// Starts `count` nodes that know each other's endpoints (`silent` ones never start a server).
    static func nodes(_ count: Int, deadlineMs: UInt64 = 120_000) async throws -> [Node] {
        let group = MultiThreadedEventLoopGroup.singleton
        var nodes: [Node] = []
        for i in 0..<count {
            let key = Self.key(i)
            let server = RPCServer(group: group)
            let network = try TSSPeerNetwork(
                chainID: "vn-test-1", key: key, endpoints: [:], group: group, logger: Logger(label: "tss-net-\(i)"))
            let manager = TSSSessionManager(
                network: network, identity: key,
                configuration: .init(resendIntervalMs: 200, deadlineMs: deadlineMs))
            network.register(on: server) { peer, envelope in manager.deliver(from: peer, envelope) }
            _ = try await server.start()
            nodes.append(Node(key: key, server: server, network: network, manager: manager))
        }
        for node in nodes {
            for other in nodes where other.address != node.address {
                node.network.setEndpoint(other.address, host: "127.0.0.1", port: other.server.port!)
            }
        }
        return nodes
    }

    static func stop(_ nodes: [Node]) async {
        for node in nodes {
            await node.network.close()
            await node.server.shutdown(gracePeriod: .milliseconds(100))
        }
    }

    static func participants(_ nodes: [Node]) -> [TSSSessionManager.Participant] {
        nodes.map { ($0.address, $0.key.publicKey) }
            .sorted { $0.0.bytes.lexicographicallyPrecedes($1.0.bytes) }
            .enumerated().map { TSSSessionManager.Participant(address: $1.0, identity: $1.1, party: PartyIndex($0)) }
    }

    static func preParams(_ i: Int) -> KeygenPreParams {
        KeygenPreParams(
            paillier: MPCFixtures.paillierKeys[i], ringPedersen: MPCFixtures.sharedModulusRingPedersen[i])
    }

    /// Keygen (t = 1) at all of `nodes`, concurrently; the shares in `nodes` order.
    static func keygen(_ nodes: [Node], _ participants: [TSSSessionManager.Participant]) async throws -> [KeyShare] {
        let identities = Dictionary(
            uniqueKeysWithValues: participants.enumerated().map { (PartyIndex($0), $1.identity) })
        let sid = SHA256.hash(Array("net-keygen".utf8))
        return try await withThrowingTaskGroup(of: (Int, KeyShare).self) { group in
            for (i, node) in nodes.enumerated() {
                group.addTask {
                    let share = try await node.manager.run(
                        sessionID: sid, participants: participants,
                        start: { me in
                            var rng = SecureRandomNumberGenerator()
                            return try Keygen.start(
                                params: KeygenParameters(
                                    sessionID: sid, threshold: 1, parties: [0, 1, 2], me: me, identities: identities),
                                preParams: Self.preParams(i), identityKey: node.key, rng: &rng)
                        },
                        receive: { machine, from, message in
                            var rng = SecureRandomNumberGenerator()
                            return machine.receive(from: from, message, rng: &rng)
                        })
                    return (i, share)
                }
            }
            var all: [(Int, KeyShare)] = []
            for try await share in group { all.append(share) }
            return all.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    @Test func keygenAndSigningOverTCP() async throws {
        let nodes = try await Self.nodes(3)
        let participants = Self.participants(nodes)
        let shares = try await Self.keygen(nodes, participants)
        #expect(shares.count == 3)
        #expect(Set(shares.map(\.keyID)).count == 1)

        // Presign + sign by parties 0 and 2 (by their positions in the agreed order).
        let signers: [PartyIndex] = [0, 2]
        let digest = SHA256.hash(Array("signed over the network".utf8))
        let signerNodes = signers.map { index in nodes.first { $0.address == participants[Int(index)].address }! }
        let signerParticipants = signers.map { participants[Int($0)] }
        let presignSID = SHA256.hash(Array("net-presign".utf8))
        let signSID = SHA256.hash(Array("net-sign".utf8))
        let signatures = try await withThrowingTaskGroup(of: RecoverableSignature.self) { group in
            for node in signerNodes {
                let share = shares.first { $0.identities[Int($0.me)] == node.key.publicKey }!
                group.addTask {
                    // The presigning session's parties are the signers (indices of the key).
                    let finished = try await node.manager.runPresigning(
                        sessionID: presignSID, participants: signerParticipants, share: share, identityKey: node.key)
                    guard let presignature = finished.takePresignature() else {
                        throw TSSSessionError.invalidArguments("no presignature")
                    }
                    return try await node.manager.runSigning(
                        sessionID: signSID, participants: signerParticipants, presignature: presignature,
                        digest: digest, identityKey: node.key)
                }
            }
            var all: [RecoverableSignature] = []
            for try await signature in group { all.append(signature) }
            return all
        }
        #expect(signatures.count == 2)
        for signature in signatures {
            #expect(try PublicKey.recover(signature, digest: digest) == shares[0].groupPublicKey)
        }
        await Self.stop(nodes)
    }

    /// Presigning by `signers` (indices into `participants`) in session `sid`: each signer node's
    /// presignature, by node index.
    static func presign(
        _ nodes: [Node], _ participants: [TSSSessionManager.Participant], shares: [KeyShare], signers: [Int],
        sid: [UInt8]
    ) async throws -> [Int: PresignatureCell] {
        let members = signers.map { participants[$0] }
        return try await withThrowingTaskGroup(of: (Int, PresignatureCell).self) { group in
            for (i, node) in nodes.enumerated() where members.contains(where: { $0.address == node.address }) {
                group.addTask {
                    let finished = try await node.manager.runPresigning(
                        sessionID: sid, participants: members, share: shares[i], identityKey: node.key)
                    guard let presignature = finished.takePresignature() else {
                        throw TSSSessionError.invalidArguments("no presignature")
                    }
                    return (i, PresignatureCell(presignature))
                }
            }
            var all: [Int: PresignatureCell] = [:]
            for try await (i, cell) in group { all[i] = cell }
            return all
        }
    }

    /// The online round with the coordinator as the only combiner: it returns the signature, the
    /// other signer nothing once the combiner's node accepted its share; a share the combiner's
    /// node could not take is sent again, and one that arrives before the combiner's session runs
    /// waits in its reservation; the combiner names a signer whose share never comes, and a
    /// signer names a combiner it cannot reach, each at the deadline.
    @Test func onlineRoundWithOneCombiner() async throws {
        let nodes = try await Self.nodes(3, deadlineMs: 4_000)
        let participants = Self.participants(nodes)
        let shares = try await Self.keygen(nodes, participants)
        // `participants` is sorted by address: map node indices through it.
        let position = { (node: Int) in participants.firstIndex { $0.address == nodes[node].address }! }
        let signers = [position(0), position(2)]
        let combiner = participants[signers[0]].party
        var presignatures: [[Int: PresignatureCell]] = []
        for run in 0..<5 {
            presignatures.append(
                try await Self.presign(
                    nodes, participants, shares: shares, signers: signers,
                    sid: SHA256.hash(Array("c-presign-\(run)".utf8))))
        }
        let members = signers.map { participants[$0] }
        let digest = SHA256.hash(Array("one combiner".utf8))
        @Sendable func sign(
            _ node: Int, _ cell: PresignatureCell, session: String
        ) async throws -> RecoverableSignature? {
            guard let presignature = cell.take() else { throw TSSSessionError.invalidArguments("taken") }
            return try await nodes[node].manager.runSigning(
                sessionID: SHA256.hash(Array(session.utf8)), participants: members, presignature: presignature,
                digest: digest, identityKey: nodes[node].key, combiner: combiner)
        }

        func session(_ name: String) -> [UInt8] { SHA256.hash(Array(name.utf8)) }

        // Both sign (the combiner reserved its session first, as the coordinator does before
        // proposing): the combiner gets the signature, the other signer nil.
        try nodes[0].manager.reserve(session("c-sign-1"))
        #expect(throws: TSSSessionError.duplicateSession) { try nodes[0].manager.reserve(session("c-sign-1")) }
        let (first, second) = (presignatures[0][0]!, presignatures[0][2]!)
        async let combined = sign(0, first, session: "c-sign-1")
        async let handedOver = sign(2, second, session: "c-sign-1")
        let signature = try #require(try await combined)
        #expect(try PublicKey.recover(signature, digest: digest) == shares[0].groupPublicKey)
        #expect(try await handedOver == nil)

        // The combiner's node cannot be reached at first, and its session has not started yet
        // (only reserved): the signer sends its share again until the combiner's node accepts
        // it, is done then, and the share waits in the reserved session until the combiner runs.
        try nodes[0].manager.reserve(session("c-sign-2"))
        nodes[2].network.setEndpoint(nodes[0].address, host: "127.0.0.1", port: 1)
        await nodes[2].network.close()
        let failedBefore = nodes[2].network.counters.failedSends
        let (late, early) = (presignatures[1][0]!, presignatures[1][2]!)
        async let signerSide = sign(2, early, session: "c-sign-2")
        try await Task.sleep(for: .milliseconds(100))
        nodes[2].network.setEndpoint(nodes[0].address, host: "127.0.0.1", port: nodes[0].server.port!)
        #expect(try await signerSide == nil)
        #expect(nodes[2].network.counters.failedSends > failedBefore)
        // Early datagrams may be pushed out; the share is not among them.
        nodes[0].manager.discardEarly(session("c-sign-2"))
        let again = try #require(try await sign(0, late, session: "c-sign-2"))
        #expect(try PublicKey.recover(again, digest: digest) == shares[0].groupPublicKey)

        // A combiner without a reservation refuses to run (its node's acceptance would mean
        // nothing); a reservation cancelled before the session adopts it ends that session; a
        // released one can be made again.
        await #expect(throws: TSSSessionError.self) {
            _ = try await sign(0, presignatures[3][0]!, session: "c-sign-unreserved")
        }
        try nodes[0].manager.reserve(session("c-sign-cancelled"))
        nodes[0].manager.cancel(session("c-sign-cancelled"), .cancelled("given up"))
        await #expect(throws: TSSSessionError.cancelled("given up")) {
            _ = try await sign(0, presignatures[4][0]!, session: "c-sign-cancelled")
        }
        try nodes[0].manager.reserve(session("c-sign-released"))
        nodes[0].manager.release(session("c-sign-released"))
        try nodes[0].manager.reserve(session("c-sign-released"))
        nodes[0].manager.release(session("c-sign-released"))

        // At the same time (one deadline for both): only the combiner runs session 3, and its
        // other signer is named; the signer cannot reach the combiner in session 4, and names it.
        try nodes[0].manager.reserve(session("c-sign-3"))
        nodes[2].network.setEndpoint(nodes[0].address, host: "127.0.0.1", port: 1)
        await nodes[2].network.close()  // drops the open connection: the next send dials port 1
        let (alone, unreachable) = (presignatures[2][0]!, presignatures[2][2]!)
        async let combinerWaits: (any Error)? = {
            do {
                _ = try await sign(0, alone, session: "c-sign-3")
                return nil
            } catch { return error }
        }()
        async let signerWaits: (any Error)? = {
            do {
                _ = try await sign(2, unreachable, session: "c-sign-4")
                return nil
            } catch { return error }
        }()
        let (combinerError, signerError) = await (combinerWaits, signerWaits)
        #expect(combinerError as? TSSSessionError == .unresponsive([nodes[2].address]))
        #expect(signerError as? TSSSessionError == .unresponsive([nodes[0].address]))
        await Self.stop(nodes)
    }

    @Test func aSilentPartyIsNamedAsUnresponsive() async throws {
        let nodes = try await Self.nodes(3, deadlineMs: 3_000)
        let participants = Self.participants(nodes)
        let identities = Dictionary(
            uniqueKeysWithValues: participants.enumerated().map { (PartyIndex($0), $1.identity) })
        let sid = SHA256.hash(Array("net-silent".utf8))
        let silent = participants[2].address
        // Two of the three start; the third never does.
        let outcomes = await withTaskGroup(of: (any Error)?.self) { group in
            for (i, node) in nodes.enumerated() where node.address != silent {
                group.addTask {
                    do {
                        _ = try await node.manager.run(
                            sessionID: sid, participants: participants,
                            start: { me in
                                var rng = SecureRandomNumberGenerator()
                                return try Keygen.start(
                                    params: KeygenParameters(
                                        sessionID: sid, threshold: 1, parties: [0, 1, 2], me: me, identities: identities
                                    ),
                                    preParams: Self.preParams(i), identityKey: node.key, rng: &rng)
                            },
                            receive: { machine, from, message in
                                var rng = SecureRandomNumberGenerator()
                                return machine.receive(from: from, message, rng: &rng)
                            })
                        return nil
                    } catch { return error }
                }
            }
            var all: [(any Error)?] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        #expect(outcomes.count == 2)
        for outcome in outcomes {
            #expect(outcome as? TSSSessionError == .unresponsive([silent]))
        }
        await Self.stop(nodes)
    }

    @Test func envelopesOfAnotherChainOrFromStrangersAreRefused() async throws {
        let nodes = try await Self.nodes(2)
        let target = nodes[0]
        let client = try await RPCClient.connect(
            host: "127.0.0.1", port: target.server.port!, group: MultiThreadedEventLoopGroup.singleton)
        func refused(_ envelope: Envelope) async -> Bool {
            do {
                let _: Empty = try await client.call(method: MethodID.tssDeliver, request: envelope)
                return false
            } catch { return error.code == .unauthenticated }
        }
        let session = SHA256.hash(Array("any".utf8))
        let known = nodes[1].key
        #expect(
            await refused(
                try Envelope.signed(
                    chainID: "another-chain", session: session, round: 1, sequence: 1,
                    payloadType: MethodID.tssDatagram, payload: [0], key: known)))
        #expect(
            await refused(
                try Envelope.signed(
                    chainID: "vn-test-1", session: session, round: 1, sequence: 1,
                    payloadType: MethodID.tssDatagram, payload: [0], key: Self.key(99))))
        #expect(
            await refused(
                try Envelope.signed(
                    chainID: "vn-test-1", session: session, round: 1, sequence: 1, payloadType: 0x0999,
                    payload: [0], key: known)))
        #expect(target.network.counters.rejected == 3)
        await client.close()
        await Self.stop(nodes)
    }
}

/// Holds a (noncopyable) presignature across task-group results until a test takes it.
final class PresignatureCell: @unchecked Sendable {
    private var presignature: Presignature?
    init(_ presignature: consuming Presignature) { self.presignature = consume presignature }
    func take() -> Presignature? {
        guard presignature != nil else { return nil }
        return presignature.take()
    }
}
