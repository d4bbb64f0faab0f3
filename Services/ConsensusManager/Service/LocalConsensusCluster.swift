import ConsensusManagerCore
import Foundation
import LevelDB
import Logging
import NIOCore
import NIOPosix
import RPC
import Secp256k1
import Synchronization
import Tendermint
import Wire

/// `n` consensus engines in one process, each with its own LevelDB under `directory`, its own
/// peer RPC server on 127.0.0.1 (a port the kernel picks) and an RPC connection to every other:
/// the real engine, store, transport and sockets, without the rest of the node (tests and
/// `vn-bench`). Members can be killed (the engine stops, the server and its links close, the
/// database closes without any further write: what a `kill -9` leaves) and restarted from their
/// database.
public final class LocalConsensusCluster: Sendable {
    public struct Member: Sendable {
        public let key: PrivateKey
        public let address: Address
        public let engine: ConsensusEngine
        let transport: ConsensusTransport
        let proto: PeerProtocol
        let server: RPCServer
        let db: LevelDBStore
        let task: Task<Void, Never>
        public let port: Int
    }

    public let chainID: String
    public let keys: [PrivateKey]
    public let validators: ValidatorSet
    public let directory: String
    public let settings: ConsensusEngineSettings
    let logger: Logger
    let group: any EventLoopGroup
    private let members: Mutex<[Member?]>
    /// Outbound clients, `[from][to]`.
    private let clients: Mutex<[[RPCClient?]]>

    private init(
        chainID: String, keys: [PrivateKey], validators: ValidatorSet, directory: String,
        settings: ConsensusEngineSettings, logger: Logger, group: any EventLoopGroup
    ) {
        self.chainID = chainID
        self.keys = keys
        self.validators = validators
        self.directory = directory
        self.settings = settings
        self.logger = logger
        self.group = group
        self.members = Mutex(Array(repeating: nil, count: keys.count))
        self.clients = Mutex(Array(repeating: Array(repeating: nil, count: keys.count), count: keys.count))
    }

    /// Starts `keys.count` engines (power 1 each) and connects them all.
    public static func start(
        chainID: String = "local-cluster", keys: [PrivateKey], directory: String, settings: ConsensusEngineSettings,
        logger: Logger = Logger(label: "vn.consensus.cluster"),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> LocalConsensusCluster {
        let validators = try ValidatorSet(
            keys.map { Validator(address: try Address(bytes: $0.publicKey.ethereumAddressBytes), power: 1) })
        let cluster = LocalConsensusCluster(
            chainID: chainID, keys: keys, validators: validators, directory: directory, settings: settings,
            logger: logger, group: group)
        for i in keys.indices { try await cluster.launch(i) }
        for i in keys.indices { await cluster.connect(i) }
        return cluster
    }

    public var count: Int { keys.count }

    public func member(_ i: Int) -> Member? { members.withLock { $0[i] } }

    public var running: [Int] { members.withLock { m in m.indices.filter { m[$0] != nil } } }

    private func launch(_ i: Int) async throws {
        let key = keys[i]
        let address = try Address(bytes: key.publicKey.ethereumAddressBytes)
        let db = try LevelDBStore(path: directory + "/node\(i)")
        let proto = PeerProtocol(
            chainID: chainID, key: key, selfAddress: address, validators: Set(validators.validators.map(\.address)))
        var log = logger
        log[metadataKey: "node"] = "\(i)"
        let transport = ConsensusTransport(proto: proto, logger: log)
        let engine: ConsensusEngine
        do {
            engine = try ConsensusEngine(
                chainID: chainID, key: key, validators: validators, db: db, settings: settings, transport: transport,
                logger: log)
        } catch {
            db.close()
            throw error
        }
        let server = RPCServer(
            configuration: .init(host: "127.0.0.1", port: 0, maxConcurrentCallsPerConnection: 4096), group: group,
            logger: log)
        engine.registerGossip(on: server, proto: proto)
        let port = try await server.start()
        let task = Task { await engine.run() }
        members.withLock {
            $0[i] = Member(
                key: key, address: address, engine: engine, transport: transport, proto: proto, server: server, db: db,
                task: task, port: port)
        }
    }

    /// Connects member `i` to every running member and every running member to it.
    private func connect(_ i: Int) async {
        let running = self.running
        for j in running where j != i {
            await dial(from: i, to: j)
            await dial(from: j, to: i)
        }
    }

    private func dial(from i: Int, to j: Int) async {
        guard let a = member(i), let b = member(j) else { return }
        do {
            let client = try await RPCClient.connect(host: "127.0.0.1", port: b.port, group: group)
            clients.withLock { $0[i][j] = client }
            a.transport.attach(b.address, client: client)
        } catch {
            logger.warning("cluster dial failed", metadata: ["from": "\(i)", "to": "\(j)", "error": "\(error)"])
        }
    }

    /// Stops member `i` abruptly: its engine, server and connections go, its database closes.
    public func kill(_ i: Int) async {
        guard
            let m = members.withLock({ m -> Member? in
                defer { m[i] = nil }
                return m[i]
            })
        else { return }
        m.task.cancel()
        await m.task.value
        await m.server.shutdown(gracePeriod: .milliseconds(100))
        let gone: [(Int, RPCClient)] = clients.withLock { c in
            var out: [(Int, RPCClient)] = []
            for j in c.indices {
                if let x = c[i][j] { out.append((j, x)) }
                if let x = c[j][i] { out.append((j, x)) }
                c[i][j] = nil
                c[j][i] = nil
            }
            return out
        }
        for (j, client) in gone {
            if let other = member(j) { other.transport.detach(m.address, client: client) }
            await client.close()
        }
        m.db.close()
    }

    /// Starts member `i` again from its database and reconnects it.
    public func restart(_ i: Int) async throws {
        try await launch(i)
        await connect(i)
    }

    /// The committed height of every running member.
    public func heights() async -> [Int: UInt64] {
        var out: [Int: UInt64] = [:]
        for i in running {
            if let m = member(i) { out[i] = await m.engine.committedHeight.value }
        }
        return out
    }

    public func shutdown() async {
        for i in running { await kill(i) }
    }
}
