import Foundation
import Secp256k1
import Wire

/// Why `init` or `testnet` refused or failed.
public enum NodeSetupError: Error, CustomStringConvertible {
    case invalidChainID(String)
    case invalidMoniker(String, reason: String)
    case wouldOverwrite([String])
    case invalidArgument(String)
    case portsOutOfRange(lowest: Int, highest: Int)
    case portUnavailable(host: String, port: Int, key: String, node: Int, reason: String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidChainID(let id):
            "invalid chain id \(JSONValue.quoted(id)): use 1-50 characters of a-z, 0-9 and -"
        case .invalidMoniker(let moniker, let reason): "invalid moniker \(JSONValue.quoted(moniker)): \(reason)"
        case .wouldOverwrite(let paths):
            "refusing to overwrite existing files (use --force to replace them; existing keys are then lost):\n"
                + paths.map { "  \($0)" }.joined(separator: "\n")
        case .invalidArgument(let message): message
        case .portsOutOfRange(let lowest, let highest):
            "the port layout needs ports \(lowest)-\(highest), beyond 65535: choose a lower --base-port or fewer validators"
        case .portUnavailable(let host, let port, let key, let node, let reason):
            "port \(port) on \(host) (node\(node) \(key)) is not free: \(reason); choose another --base-port"
        case .io(let message): message
        }
    }
}

/// What `init` created.
public struct InitResult: Sendable {
    public let home: NodeHome
    public let chainID: String
    public let moniker: String
    /// EIP-55 address of the validator key.
    public let validatorAddress: String
    /// EIP-55 address of the node (p2p) key.
    public let nodeAddress: String
}

/// Creating node homes: the layout of DESIGN §4 with fresh keys, a genesis and a node.toml.
public enum NodeSetup {
    /// The files `init`/`testnet` create in a home (existing ones are only replaced with `force`).
    public static func managedFiles(_ home: NodeHome) -> [String] {
        [home.validatorKeyFile, home.nodeKeyFile, home.genesisFile, home.configFile]
    }

    static func existingFiles(_ home: NodeHome) -> [String] {
        managedFiles(home).filter(FileIO.exists)
    }

    /// `init`: a single-validator chain in `home` (power 100) with default configuration.
    public static func initialize(
        home: NodeHome, chainID: String, moniker: String, force: Bool,
        genesisTime: Timestamp = Timestamp.now().wholeSeconds
    ) throws -> InitResult {
        guard Genesis.isValidChainID(chainID) else { throw NodeSetupError.invalidChainID(chainID) }
        if let problem = ConfigKeys.monikerProblem(moniker) {
            throw NodeSetupError.invalidMoniker(moniker, reason: problem)
        }
        let existing = existingFiles(home)
        guard force || existing.isEmpty else { throw NodeSetupError.wouldOverwrite(existing) }

        let validatorKey = ValidatorKeyFile.generate()
        let nodeKey = NodeKeyFile.generate()
        let genesis = Genesis(
            chainID: chainID, genesisTime: genesisTime,
            validators: [GenesisValidator(name: moniker, publicKey: validatorKey.publicKey, power: 100)])
        var config = NodeConfig.defaults
        config.node.moniker = moniker
        try writeHome(
            home, validatorKey: validatorKey, nodeKey: nodeKey, genesis: genesis, config: config, force: force)
        return InitResult(
            home: home, chainID: chainID, moniker: moniker, validatorAddress: validatorKey.checksumAddress,
            nodeAddress: nodeKey.checksumAddress)
    }

    static func writeHome(
        _ home: NodeHome, validatorKey: ValidatorKeyFile, nodeKey: NodeKeyFile, genesis: Genesis, config: NodeConfig,
        force: Bool
    ) throws {
        do {
            try home.createDirectories()
            try validatorKey.write(to: home.validatorKeyFile, overwrite: force)
            try nodeKey.write(to: home.nodeKeyFile, overwrite: force)
            try genesis.write(to: home.genesisFile, overwrite: force)
            try FileIO.writeAtomically(
                home.configFile, bytes: Array(config.renderTOML().utf8), mode: NodeHome.publicFileMode,
                overwrite: force)
        } catch let error as FileIOError where error.isAlreadyExists {
            throw NodeSetupError.wouldOverwrite([error.path])
        } catch let error as FileIOError {
            throw NodeSetupError.io("\(error)")
        }
    }
}
