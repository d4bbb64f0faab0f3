import Logging
import NodeKit
import RPC
import ServiceLifecycle

/// Runs an `RPCServer` as a lifecycle service: listens on start, closes every connection on
/// graceful shutdown.
public struct RPCServerService: Service, CustomStringConvertible {
    public let server: RPCServer
    public let listen: HostPort
    private let logger: Logger

    public init(server: RPCServer, listen: HostPort, logger: Logger) {
        self.server = server
        self.listen = listen
        self.logger = logger
    }

    public var description: String { "RPCServer(\(listen))" }

    public func run() async throws {
        let port = try await server.start()
        logger.info("rpc listening", metadata: ["address": "\(listen.host):\(port)"])
        // Wait for graceful shutdown (or cancellation), then close the listener and connections.
        try? await gracefulShutdown()
        await server.shutdown()
        logger.info("rpc stopped", metadata: ["address": "\(listen.host):\(port)"])
    }
}
