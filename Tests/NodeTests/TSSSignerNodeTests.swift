import CryptoPrimitives
import Foundation
import LevelDB
import Logging
import MPCTestSupport
import NIOPosix
import RPC
import Secp256k1
import Synchronization
import TSSCore
import TSSSigner
import TSSStore
import Testing
import Wire

/// Four `TSSSignerNode`s in one process, each with its own LevelDB key store (pre-params from the
/// fixtures) and its own p2p listener on 127.0.0.1: the coordinator/participant flows of issue 4
/// over real TCP. Each node's consensus-manager is played by an approval table (the unit under test
/// is the tss-signer; `tss_test.py` runs the real consensus-managers).
@Suite(.serialized) struct TSSSignerNodeTests {
    /// What a node's "consensus-manager" approved: kinds per key, and signing digests.
    final class Approvals: Sendable {
        let approved = Mutex<Set<String>>([])
        func allow(_ kind: TSSSessionKind, _ key: String, _ digest: [UInt8]? = nil) {
            approved.withLock { _ = $0.insert("\(kind)/\(key)/\(digest.map(Hex.encode) ?? "")") }
        }
        func check(_ r: TSSAuthorizeRequest) -> TSSAuthorizeReply {
            let exact = "\(r.kind)/\(r.keyID)/\(r.kind == .sign ? Hex.encode(r.messageHash) : "")"
            let ok = approved.withLock { $0.contains(exact) }
            return TSSAuthorizeReply(approved: ok, reason: ok ? "approved" : "no approval for \(exact)")
        }
    }

    struct Node {
        let key: PrivateKey
        let db: LevelDBStore
        let server: RPCServer
        let node: TSSSignerNode
        let store: KeyStore
        let approvals: Approvals
        var address: Address { node.me }
    }

    static func key(_ i: Int) -> PrivateKey { try! PrivateKey(bytes: SHA256.hash(Array("tss-node-\(i)".utf8))) }
    static func address(_ i: Int) -> Address { try! Address(bytes: key(i).publicKey.ethereumAddressBytes) }

    static func start(_ count: Int, noncePresignings: Int = 0) async throws -> [Node] {
        let group = MultiThreadedEventLoopGroup.singleton
        let validators = Dictionary(uniqueKeysWithValues: (0..<count).map { (address($0), key($0).publicKey) })
        let fixtures = MPCFixtures.material.paillier + MPCFixtures.material.ringPedersen
        var nodes: [Node] = []
        for i in 0..<count {
            let dir = try nodeKitTempDir("tss-node")
            let db = try LevelDBStore(path: dir + "/tss.db")
            let store = try KeyStore.open(
                db: db, passphrase: SecretBytes(Array("passphrase \(i)".utf8)),
                scrypt: try ScryptParameters(log2N: 10, r: 8, p: 1))
            let pool = try PreParamsPool(store: store, target: 0)
            for (p, q) in fixtures[(2 * i)..<(2 * i + 2)] {
                try pool.add(
                    try StoredPreParams(p: p, q: q, seed: SecretBytes.random(count: StoredPreParams.seedByteCount)))
            }
            let server = RPCServer(group: group)
            let network = try TSSPeerNetwork(
                chainID: "vn-test-1", key: key(i), endpoints: [:], group: group, logger: Logger(label: "tss-node-\(i)"))
            let sessions = TSSSessionManager(
                network: network, identity: key(i), configuration: .init(resendIntervalMs: 200, deadlineMs: 4_000))
            let approvals = Approvals()
            let node = try TSSSignerNode(
                chainID: "vn-test-1", key: key(i), store: store, pool: pool, network: network, sessions: sessions,
                validators: validators, presignTarget: 2, sessionTimeoutMs: 4_000, noncePresignings: noncePresignings,
                logger: Logger(label: "tss-node-\(i)"),
                authorize: { approvals.check($0) })
            // As the service does at start: a lease epoch, so pooled presignatures are leased ahead.
            node.recoverAfterRestart()
            network.register(on: server) { peer, envelope in sessions.deliver(from: peer, envelope) }
            network.registerProposals(on: server) { (proposal, sender) async throws(RPCError) in
                try await TSSSignerNode.answering { try await node.handleProposal(proposal, from: sender) }
            }
            network.registerAbandons(on: server) { (sid, notice, sender) async throws(RPCError) in
                try await TSSSignerNode.answering { try await node.handleAbandon(sid, notice, from: sender) }
            }
            _ = try await server.start()
            nodes.append(Node(key: key(i), db: db, server: server, node: node, store: store, approvals: approvals))
        }
        for node in nodes {
            for other in nodes where other.address != node.address {
                node.node.network.setEndpoint(other.address, host: "127.0.0.1", port: other.server.port!)
            }
        }
        return nodes
    }

    static func stop(_ nodes: [Node]) async {
        // Sessions still running at peers (the coordinator moved on) end before the stores close.
        for node in nodes { await node.node.shutdown() }
        for node in nodes {
            await node.node.network.close()
            await node.server.shutdown(gracePeriod: .milliseconds(100))
        }
    }

    static func call<T: Sendable>(_ body: () async throws -> T) async throws(RPCError) -> T {
        try await TSSSignerNode.answering(body)
    }

    static func verify(_ signature: TSSSignature, _ publicKey: [UInt8]) throws {
        let recoverable = try RecoverableSignature(bytes65: signature.r + signature.s + [signature.v])
        #expect(try PublicKey.recover(recoverable, digest: signature.messageHash).compressed == publicKey)
    }

    /// Paillier randomizers: filled while idle for the keys a node signed with (not for others),
    /// taken by a presigning on the spot exactly as many as it encrypts (1 + 6t under the
    /// signer's own key, 4 under its co-signer's), and the signature verifies.
    @Test func randomizerPoolServesPresigningOnTheSpot() async throws {
        let nodes = try await Self.start(3, noncePresignings: 2)
        let addresses = nodes.map(\.address)
        for n in nodes { n.approvals.allow(.keygen, "r") }
        let info = try await Self.call {
            try await nodes[0].node.keygen(TSSKeygenRequest(keyID: "r", parties: addresses, threshold: 1))
        }
        for n in nodes {
            for _ in 0..<100 where try n.node.keys("r").keys.first?.status != KeyStatus.ready.rawValue {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        // Nothing is filled for a key nobody has signed with yet.
        #expect(await nodes[0].node.refillNonces() == 0)
        func sign(_ label: String, by set: [Int]) async throws -> TSSSignature {
            let digest = SHA256.hash(Array(label.utf8))
            for n in nodes { n.approvals.allow(.sign, "r", digest) }
            let signature = try await Self.call {
                try await nodes[set[0]].node.sign(
                    TSSSignRequest(keyID: "r", messageHash: digest, purpose: "t", signers: set.map { addresses[$0] }))
            }
            try Self.verify(signature, info.publicKey)
            #expect(!signature.pooled)
            return signature
        }
        _ = try await sign("uses the key at 0 and 2", by: [0, 2])
        // Idle means no session for a second.
        try await Task.sleep(for: .milliseconds(1_200))
        // Per node with t = 1 and 2 presignings: (1 + 6) · 2 own, 4 · 2 for each of two peers.
        #expect(await nodes[0].node.refillNonces() == 30)
        #expect(await nodes[2].node.refillNonces() == 30)
        #expect(await nodes[1].node.refillNonces() == 0)
        #expect(await nodes[0].node.refillNonces() == 0)  // full
        _ = try await sign("with pooled randomizers", by: [0, 2])
        // Each signer used 7 under its own key and 4 under the other's; the third key's stay.
        #expect(nodes[0].node.nonces.total == 30 - 11 && nodes[2].node.nonces.total == 30 - 11)
        #expect(nodes[1].node.nonces.total == 0)
        await Self.stop(nodes)
    }

    @Test func keygenSignPoolRefusalReshareAndAStoppedSigner() async throws {
        let nodes = try await Self.start(4)
        let addresses = nodes.map(\.address)
        // Keygen among 0, 1, 2 with t = 1.
        for n in nodes[0..<3] { n.approvals.allow(.keygen, "k") }
        let info = try await Self.call {
            try await nodes[0].node.keygen(TSSKeygenRequest(keyID: "k", parties: Array(addresses[0..<3]), threshold: 1))
        }
        #expect(info.status == KeyStatus.ready.rawValue && info.publicKey.count == 33)
        for n in nodes[1..<3] {
            // The coordinator returns when its own part is done; the others finish within moments.
            for _ in 0..<100 where try n.node.keys("k").keys.first?.status != KeyStatus.ready.rawValue {
                try await Task.sleep(for: .milliseconds(50))
            }
            let list = try n.node.keys("k")
            #expect(list.keys.map(\.publicKey) == [info.publicKey])
            #expect(list.keys.map(\.keygenSession) == [info.keygenSession])
        }

        // A full signing by {0, 2}, coordinated by 2.
        var digest = SHA256.hash(Array("first".utf8))
        for n in nodes { n.approvals.allow(.sign, "k", digest) }
        let first = try await Self.call {
            try await nodes[2].node.sign(
                TSSSignRequest(keyID: "k", messageHash: digest, purpose: "t", signers: [addresses[0], addresses[2]]))
        }
        try Self.verify(first, info.publicKey)
        #expect(!first.pooled)

        // Presignature pool: node 0 keeps 2 for its own set {0, 1}, both leased ahead.
        for n in nodes { n.approvals.allow(.presign, "k") }
        #expect(await nodes[0].node.refillPresignatures() == 2)
        var rs: Set<[UInt8]> = [first.r]
        // Node 1 lost the one node 0 picks first (as a restart drops leased copies): the signing
        // tries the next pooled one instead of presigning on the spot.
        let record = try #require(
            try nodes[0].store.records().compactMap { try? $0.get() }.first {
                $0.id.keyID == "k" && $0.status == .ready
            }
        ).id
        let pool0 = try nodes[0].store.presignatures(record: record)
        #expect(pool0.count == 2 && pool0.allSatisfy(\.leased))
        _ = try nodes[1].store.takePresignature(record: record, presignSession: pool0[0].session)
        /// Node 0 signs `label`'s digest (every node approves it): verified, pooled, a new r.
        func signPooled(_ label: String) async throws {
            let digest = SHA256.hash(Array(label.utf8))
            for n in nodes { n.approvals.allow(.sign, "k", digest) }
            let signature = try await Self.call {
                try await nodes[0].node.sign(TSSSignRequest(keyID: "k", messageHash: digest, purpose: "t"))
            }
            try Self.verify(signature, info.publicKey)
            #expect(signature.pooled)
            #expect(rs.insert(signature.r).inserted)
        }
        try await signPooled("pooled after a lost copy")
        #expect(try nodes[0].store.presignatureCount(record: record) == 0)
        #expect(await nodes[0].node.refillPresignatures() == 2)
        // Two pooled signatures, distinct r.
        for round in 0..<2 { try await signPooled("pooled \(round)") }
        #expect(try nodes[1].node.keys("k").keys[0].presignatures == 0)

        // Node 1's consensus-manager did not approve this digest: node 1 refuses, naming itself.
        // The signing names a pooled presignature: node 1 prepares its part while it asks, and
        // uses nothing when refused; it drops its copy (node 0 took its own, so that presignature
        // can never be proposed again) and the two pools stay the same.
        #expect(await nodes[0].node.refillPresignatures() == 2)
        // Node 1's part of the last refill may still be storing its copy (node 0 finished first).
        var pooledAtOne = try nodes[1].node.keys("k").keys[0].presignatures
        for _ in 0..<100 where pooledAtOne < 2 {
            try await Task.sleep(for: .milliseconds(20))
            pooledAtOne = try nodes[1].node.keys("k").keys[0].presignatures
        }
        #expect(pooledAtOne == 2)
        digest = SHA256.hash(Array("not approved by 1".utf8))
        nodes[0].approvals.allow(.sign, "k", digest)
        do {
            _ = try await Self.call {
                try await nodes[0].node.sign(
                    TSSSignRequest(
                        keyID: "k", messageHash: digest, purpose: "t", signers: [addresses[0], addresses[1]]))
            }
            Issue.record("an unapproved signing succeeded")
        } catch {
            #expect(error.code == .permissionDenied)
            #expect(
                error.message.contains(
                    "not approved by the consensus-manager of \(checksummedAddressText(addresses[1]))"))
        }
        #expect(try nodes[0].node.keys("k").keys[0].presignatures == 1)
        var remainingAtOne = try nodes[1].node.keys("k").keys[0].presignatures
        for _ in 0..<100 where remainingAtOne != 1 {
            try await Task.sleep(for: .milliseconds(20))
            remainingAtOne = try nodes[1].node.keys("k").keys[0].presignatures
        }
        #expect(remainingAtOne == 1)
        #expect(
            try Set(nodes[0].store.presignatures(record: record).map(\.session))
                == Set(nodes[1].store.presignatures(record: record).map(\.session)))
        // The pools agree, so the next pooled signing by the set uses the remaining one.
        try await signPooled("pooled after a refusal")
        #expect(try nodes[1].node.keys("k").keys[0].presignatures == 0)

        // Reshare {0, 1, 2} t=1 → {0, 1, 2, 3} t=2: same key; the old records retire.
        for n in nodes { n.approvals.allow(.reshare, "k") }
        let reshared = try await Self.call {
            try await nodes[1].node.reshare(TSSReshareRequest(keyID: "k", newParties: addresses, newThreshold: 2))
        }
        #expect(reshared.publicKey == info.publicKey && reshared.keygenSession != info.keygenSession)
        // The coordinator returns when its own part is done; the others finish within moments.
        for n in nodes[0..<3] {
            var status: UInt8? = nil
            for _ in 0..<100 {
                status = try n.node.keys("k").keys.first { $0.keygenSession == info.keygenSession }?.status
                if status == KeyStatus.retired.rawValue { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(status == KeyStatus.retired.rawValue)
        }
        digest = SHA256.hash(Array("new committee".utf8))
        for n in nodes { n.approvals.allow(.sign, "k", digest) }
        let byNew = try await Self.call {
            try await nodes[3].node.sign(
                TSSSignRequest(
                    keyID: "k", messageHash: digest, purpose: "t", signers: [addresses[1], addresses[2], addresses[3]]))
        }
        try Self.verify(byNew, info.publicKey)
        // The retired share no longer signs.
        do {
            _ = try await Self.call {
                try await nodes[0].node.sign(
                    TSSSignRequest(
                        keyID: "k", messageHash: digest, purpose: "t", signers: [addresses[0], addresses[1]],
                        keygenSession: info.keygenSession))
            }
            Issue.record("a retired share signed")
        } catch {
            #expect(error.message.contains("RETIRED"))
        }

        // Node 2 refuses a signing that node 1 joined: the coordinator abandons it and node 1 ends
        // its part at once (the session deadline is 4 s; it would otherwise run until then).
        digest = SHA256.hash(Array("refused by 2".utf8))
        nodes[0].approvals.allow(.sign, "k", digest)
        nodes[1].approvals.allow(.sign, "k", digest)
        let refusedAt = ContinuousClock.now
        do {
            _ = try await Self.call {
                try await nodes[0].node.sign(
                    TSSSignRequest(
                        keyID: "k", messageHash: digest, purpose: "t",
                        signers: [addresses[0], addresses[1], addresses[2]]))
            }
            Issue.record("a signing refused by node 2 succeeded")
        } catch {
            #expect(error.code == .permissionDenied)
        }
        var abandoned = false
        for _ in 0..<60 {
            let status = await nodes[1].node.statusJSON()
            if case .object(let sessions)? = status["sessions"], case .array(let running)? = sessions["running"],
                running.isEmpty, case .array(let errors)? = sessions["recent_errors"],
                errors.contains(where: { "\($0)".contains("abandoned by the coordinator") })
            {
                abandoned = true
                break
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(abandoned, "node 1 did not end the abandoned session")
        #expect(ContinuousClock.now - refusedAt < .seconds(3))
        // An abandon notice for a session this node does not run, or from a node that does not
        // coordinate it, changes nothing.
        do {
            try await nodes[1].node.handleAbandon(
                SHA256.hash(Array("no such session".utf8)), TSSAbandon(reason: "x"), from: addresses[0])
            Issue.record("an abandon of an unknown session was accepted")
        } catch let error as RPCError {
            #expect(error.code == .notFound)
        }

        // Node 2 stops: a signing without a fixed set completes with {0, 1, 3}; a fixed set with 2
        // fails naming it.
        await nodes[2].node.network.close()
        await nodes[2].server.shutdown(gracePeriod: .milliseconds(100))
        digest = SHA256.hash(Array("without node 2".utf8))
        for n in nodes { n.approvals.allow(.sign, "k", digest) }
        let without = try await Self.call {
            try await nodes[0].node.sign(TSSSignRequest(keyID: "k", messageHash: digest, purpose: "t"))
        }
        try Self.verify(without, info.publicKey)
        #expect(!without.signers.contains(addresses[2]))
        do {
            _ = try await Self.call {
                try await nodes[0].node.sign(
                    TSSSignRequest(
                        keyID: "k", messageHash: digest, purpose: "t",
                        signers: [addresses[0], addresses[1], addresses[2]]))
            }
            Issue.record("a signing with a stopped signer succeeded")
        } catch {
            #expect(error.code == .unavailable)
            #expect(
                error.message.contains("unresponsive") && error.message.contains(checksummedAddressText(addresses[2])))
        }
        await Self.stop(nodes)
        for n in nodes { n.db.close() }
    }
}

private func checksummedAddressText(_ a: Address) -> String { eip55Checksum(addressBytes: a.bytes) }
