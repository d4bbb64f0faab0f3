import Foundation
import Logging
import NodeKit
import Wire

/// Everything a service process reads at start-up from its home: config (file + environment),
/// genesis and the validator key. Loading validates all three; a problem is a clear error that
/// names the file or key, printed before the process exits.
public struct ServiceContext: Sendable {
    public let kind: ServiceKind
    public let home: NodeHome
    public let config: NodeConfig
    public let genesis: Genesis
    public let validatorKey: ValidatorKeyFile
    public let logger: Logger
    /// Random per process start: lets the consensus-manager tell a restart from a reconnect.
    public let instanceID: [UInt8]

    public var validator: Address { validatorKey.address }
    public var chainID: String { genesis.chainID }
    public static let version = "0.1.0"

    public enum LoadError: Error, CustomStringConvertible {
        case missingHome(String)
        case notAValidator(Address, chainID: String)

        public var description: String {
            switch self {
            case .missingHome(let path):
                "no node home at \(path) (create one with `consensus-manager init --home \(path) --chain-id ...`)"
            case .notAValidator(let a, let chainID):
                "this node's validator key \(checksummedAddress(a)) is not a validator in the genesis of \(chainID)"
            }
        }
    }

    /// Loads and validates the home, bootstraps logging (once per process) and metrics.
    public static func load(
        kind: ServiceKind, home: NodeHome, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> ServiceContext {
        guard FileManager.default.fileExists(atPath: home.configFile) else { throw LoadError.missingHome(home.path) }
        let config = try NodeConfig.load(home: home, environment: environment)
        NodeLogging.bootstrap(service: kind, config: config)
        NodeMetrics.bootstrap()
        var logger = Logger(label: "vn.\(kind.name)")
        logger.logLevel = config.node.logLevel
        let genesis = try Genesis.load(path: home.genesisFile)
        let key = try ValidatorKeyFile.load(path: home.validatorKeyFile, logger: logger)
        guard genesis.validators.contains(where: { $0.address == key.address }) else {
            throw LoadError.notAValidator(key.address, chainID: genesis.chainID)
        }
        return ServiceContext(
            kind: kind, home: home, config: config, genesis: genesis, validatorKey: key, logger: logger,
            instanceID: SecureRandomID.make())
    }
}

/// 16 bytes from the OS CSPRNG.
enum SecureRandomID {
    static func make() -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        return (0..<RegisterService.instanceIDLength).map { _ in UInt8.random(in: 0...255, using: &g) }
    }
}
