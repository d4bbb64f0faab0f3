import ArgumentParser
import NIOPosix
import NodeKit
import RPC
import ServiceKit
import ServiceLifecycle
import Wire

/// The consensus-manager process: the local RPC server (the hub the five local services attach
/// to), the peer RPC server and the peer links (signed envelopes between validators), the
/// consensus store, and the HTTP endpoints.
public enum ConsensusManagerRunner {
    public static func run(home: NodeHome) async throws {
        let context = try ServiceContext.load(kind: .consensusManager, home: home)
        let logger = context.logger
        let config = context.config
        let stores = try LocalServiceRunner.openStores([.consensus], home: home)
        defer { for store in stores.values { store.close() } }
        let node = try ConsensusManagerNode(context: context, store: stores[.consensus]!)

        let group = MultiThreadedEventLoopGroup.singleton
        let local = RPCServer(
            configuration: .init(
                host: config.consensus.rpcListen.host, port: config.consensus.rpcListen.port,
                maxFrameSize: config.rpc.maxFrameBytes),
            group: group, logger: logger)
        node.registerLocalHandlers(on: local)
        let p2p = RPCServer(
            configuration: .init(
                host: config.consensus.p2pListen.host, port: config.consensus.p2pListen.port,
                maxFrameSize: config.rpc.maxFrameBytes, maxConcurrentCallsPerConnection: 256),
            group: group, logger: logger)
        node.registerPeerHandlers(on: p2p)
        let http = HealthHTTPServer(
            service: .consensusManager, config: config, readinessChecks: node.readinessChecks,
            status: { await node.fullStatus() },
            routes: ["/inbox/requests": { node.inbox.requestsJSON }, "/blocks": { await node.engine.recentBlocks() }],
            logger: logger)
        logger.info(
            "starting",
            metadata: [
                "home": "\(home.path)", "validator": "\(checksummedAddress(context.validator))",
                "peers": "\(config.consensus.persistentPeers.count)",
            ])
        try await NodeRuntime.run(
            services: [
                RPCServerService(server: local, listen: config.consensus.rpcListen, logger: logger),
                RPCServerService(server: p2p, listen: config.consensus.p2pListen, logger: logger),
                http,
                PeerLinks(node: node, group: group),
                ConsensusEngineService(engine: node.engine),
            ],
            logger: logger)
        logger.info("stopped")
    }
}

/// Runs the engine as a service of the node (until graceful shutdown).
public struct ConsensusEngineService: Service, CustomStringConvertible {
    let engine: ConsensusEngine

    public init(engine: ConsensusEngine) { self.engine = engine }

    public var description: String { "ConsensusEngine" }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await engine.run()
        }
    }
}

/// `consensus-manager start --home H`.
public struct ConsensusManagerStartCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "start", abstract: "Run the consensus-manager of a node home.")

    @OptionGroup public var homeOption: HomeOption

    public init() {}

    public func run() async throws {
        try await ServiceCommandErrors.reporting { try await ConsensusManagerRunner.run(home: homeOption.resolve()) }
    }
}

public enum ConsensusManagerIdentity: ServiceIdentity {
    public static let kind = ServiceKind.consensusManager
}
