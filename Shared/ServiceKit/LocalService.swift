import ArgumentParser
import Foundation
import HTTPFetch
import LevelDB
import Logging
import NIOPosix
import NodeKit
import RPC
import ServiceLifecycle
import Wire

/// Names the service an executable runs; used by the shared commands.
public protocol ServiceIdentity: SendableMetatype {
    static var kind: ServiceKind { get }
}

/// A service that attaches to its local consensus-manager (every service but the
/// consensus-manager itself).
public protocol LocalServiceDefinition: ServiceIdentity {
    /// The LevelDB stores the service owns under `<home>/data/` (opened at start, readiness-checked).
    static var stores: [NodeHome.Store] { get }
    /// Registers the service's RPC handlers. Methods not registered answer `unimplemented`.
    static func registerHandlers(on server: RPCServer, context: ServiceContext, stores: [NodeHome.Store: LevelDBStore])
    /// The service's own behaviour (e.g. the inbox-listener's chain pollers); default: none.
    static func extras(
        context: ServiceContext, stores: [NodeHome.Store: LevelDBStore], link: ConsensusLink
    ) throws -> LocalServiceExtras
    /// As above, for a service whose RPC handlers need its own behaviour (the tss-signer's node):
    /// `server` is the service's RPC server, not started yet. Default: the variant above.
    static func extras(
        context: ServiceContext, stores: [NodeHome.Store: LevelDBStore], link: ConsensusLink, server: RPCServer
    ) throws -> LocalServiceExtras
}

/// What a service adds to the shared process shape: its own long-running services (run after the
/// link, stopped before it), readiness checks, and members of its `/status` object.
public struct LocalServiceExtras: Sendable {
    public var services: [any Service]
    public var readinessChecks: [ReadinessCheck]
    public var status: @Sendable () async -> [String: JSONValue]

    public init(
        services: [any Service] = [], readinessChecks: [ReadinessCheck] = [],
        status: @escaping @Sendable () async -> [String: JSONValue] = { [:] }
    ) {
        self.services = services
        self.readinessChecks = readinessChecks
        self.status = status
    }
}

extension LocalServiceDefinition {
    public static func registerHandlers(
        on server: RPCServer, context: ServiceContext, stores: [NodeHome.Store: LevelDBStore]
    ) {}

    public static func extras(
        context: ServiceContext, stores: [NodeHome.Store: LevelDBStore], link: ConsensusLink
    ) throws -> LocalServiceExtras { LocalServiceExtras() }

    public static func extras(
        context: ServiceContext, stores: [NodeHome.Store: LevelDBStore], link: ConsensusLink, server: RPCServer
    ) throws -> LocalServiceExtras { try extras(context: context, stores: stores, link: link) }
}

/// The process shape every local service shares: its RPC server, its HTTP endpoints, its stores
/// and its link to the consensus-manager, in one `ServiceGroup` that stops on SIGTERM / SIGINT.
public enum LocalServiceRunner {
    public static func run<D: LocalServiceDefinition>(_ definition: D.Type, home: NodeHome) async throws {
        let context = try ServiceContext.load(kind: D.kind, home: home)
        let logger = context.logger
        let listen = context.config.listen(D.kind)
        let stores = try openStores(D.stores, home: home)
        defer { for store in stores.values { store.close() } }

        let group = MultiThreadedEventLoopGroup.singleton
        let rpc = RPCServer(
            configuration: .init(
                host: listen.rpcListen.host, port: listen.rpcListen.port, maxFrameSize: context.config.rpc.maxFrameBytes
            ),
            group: group, logger: logger)
        D.registerHandlers(on: rpc, context: context, stores: stores)
        let link = ConsensusLink(
            context: context, rpcAddress: "\(listen.rpcListen)", httpAddress: "\(listen.httpListen)", group: group)
        let extras = try D.extras(context: context, stores: stores, link: link, server: rpc)
        let started = Monotonic.nowMs()
        let storeChecks = D.stores.map { ReadinessCheck.levelDB(name: "database:\($0.rawValue)", store: stores[$0]!) }
        let http = HealthHTTPServer(
            service: D.kind, config: context.config,
            readinessChecks: [link.readinessCheck] + storeChecks + extras.readinessChecks,
            status: {
                await extras.status().merging([
                    "service": .string(D.kind.name),
                    "version": .string(ServiceContext.version),
                    "chain_id": .string(context.chainID),
                    "validator": .string(checksummedAddress(context.validator)),
                    "moniker": .string(context.config.node.moniker),
                    "rpc_listen": .string("\(listen.rpcListen)"),
                    "http_listen": .string("\(listen.httpListen)"),
                    "uptime_ms": .uint(Monotonic.nowMs() - started),
                    "consensus_manager": link.statusJSON,
                    "stores": .array(D.stores.map { .string(home.dataPath($0)) }),
                ]) { _, shared in shared }
            }, logger: logger)
        logger.info(
            "starting", metadata: ["home": "\(home.path)", "validator": "\(checksummedAddress(context.validator))"])
        // Shutdown runs in reverse: the service's own first, then the link, then HTTP, then RPC.
        try await NodeRuntime.run(
            services: [RPCServerService(server: rpc, listen: listen.rpcListen, logger: logger), http, link]
                + extras.services,
            logger: logger)
        logger.info("stopped")
    }

    /// Opens (creating if missing) each store under `<home>/data/`.
    public static func openStores(_ names: [NodeHome.Store], home: NodeHome) throws -> [NodeHome.Store: LevelDBStore] {
        try home.createDirectories()
        var stores: [NodeHome.Store: LevelDBStore] = [:]
        for name in names {
            stores[name] = try LevelDBStore(path: home.dataPath(name))
        }
        return stores
    }
}

/// `<service> start --home H`: runs the service until SIGTERM or SIGINT.
public struct LocalStartCommand<D: LocalServiceDefinition>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "start", abstract: "Run the \(D.kind.name) service of a node home.")
    }

    @OptionGroup public var homeOption: HomeOption

    public init() {}

    public func run() async throws {
        try await ServiceCommandErrors.reporting {
            try await LocalServiceRunner.run(D.self, home: homeOption.resolve())
        }
    }
}

/// `<service> probe --home H`: exit 0 when the service's `/readyz` answers 200 (for health checks of
/// supervisors: systemd, compose).
public struct ProbeCommand<D: ServiceIdentity>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "probe", abstract: "Exit 0 if the \(D.kind.name) service's /readyz is green.")
    }

    @OptionGroup public var homeOption: HomeOption

    @Option(help: "Seconds to wait for the answer.")
    public var timeout: Int = 3

    public init() {}

    public func run() async throws {
        let config = try NodeConfig.load(home: homeOption.resolve())
        let listen = config.listen(D.kind).httpListen
        let host = ["0.0.0.0", "::", ""].contains(listen.host) ? "127.0.0.1" : listen.host
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let request = HTTPRequest(
            url: "http://\(hostPart):\(listen.port)/readyz", timeout: .seconds(max(1, timeout)),
            connectTimeout: .seconds(max(1, timeout)), maxResponseBytes: 64 << 10, maxRedirects: 0)
        do {
            let response = try await HTTPFetchClient().perform(request)
            let body = String(decoding: response.body, as: UTF8.self)
            print(body)
            if response.status != 200 { throw ExitCode(1) }
        } catch let error as HTTPFetchError {
            FileHandle.standardError.write(Data("\(D.kind.name) is not answering on \(listen): \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}

/// Prints a start-up error as one clear line (config, genesis, key or bind problems) and exits 1,
/// instead of a stack of Swift error descriptions.
public enum ServiceCommandErrors {
    public static func reporting(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
