import ArgumentParser
import Foundation

/// `--home DIR`: the node home. Default: `$VN_HOME`, else `~/.validator-node`.
public struct HomeOption: ParsableArguments {
    @Option(name: .long, help: "Node home directory (default: $VN_HOME, else ~/.validator-node).")
    public var home: String?

    public init() {}

    /// The home to use given `environment`.
    public func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) -> NodeHome {
        if let home, !home.isEmpty { return NodeHome(path: Self.expandTilde(home, environment: environment)) }
        if let fromEnv = environment["VN_HOME"], !fromEnv.isEmpty {
            return NodeHome(path: Self.expandTilde(fromEnv, environment: environment))
        }
        return NodeHome(path: FileIO.join(Self.userHome(environment), ".validator-node"))
    }

    /// The resolved home for this process's environment.
    public var nodeHome: NodeHome { resolve() }

    static func userHome(_ environment: [String: String]) -> String {
        if let home = environment["HOME"], !home.isEmpty { return home }
        return NSHomeDirectory()
    }

    static func expandTilde(_ path: String, environment: [String: String]) -> String {
        if path == "~" { return userHome(environment) }
        if path.hasPrefix("~/") { return FileIO.join(userHome(environment), String(path.dropFirst(2))) }
        return path
    }
}

/// `init --home H --chain-id X [--moniker M] [--force]`: creates a node home with fresh keys, a
/// single-validator genesis and the default node.toml.
public struct InitCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a node home: keys, a single-validator genesis and the default config/node.toml.",
        discussion: """
            Refuses to overwrite existing keys, genesis or config unless --force is given \
            (replacing a validator key loses the old one for good).
            """)

    @OptionGroup public var homeOption: HomeOption

    @Option(name: .customLong("chain-id"), help: "Chain id: 1-50 characters of a-z, 0-9 and -.")
    public var chainID: String

    @Option(help: "Name of this node (in logs, /status and the genesis).")
    public var moniker: String = "validator"

    @Flag(help: "Overwrite existing keys, genesis and config.")
    public var force = false

    public init() {}

    public func run() throws {
        let result = try NodeSetup.initialize(
            home: homeOption.nodeHome, chainID: chainID, moniker: moniker, force: force)
        print(
            """
            Initialized node home \(result.home) for chain \(JSONValue.quoted(result.chainID)).
              moniker            \(result.moniker)
              validator address  \(result.validatorAddress)
              node address       \(result.nodeAddress)
              config             \(result.home.configFile)
              genesis            \(result.home.genesisFile)
              keys (mode 0600)   \(result.home.validatorKeyFile), \(result.home.nodeKeyFile)
            Back up the key files; anyone who reads them can sign as this validator.
            """)
    }
}

/// `testnet --validators N --output DIR --chain-id X --host H --base-port P [--force]`: N node
/// homes sharing one genesis, with collision-free ports and full-mesh persistent peers.
public struct TestnetCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "testnet",
        abstract: "Create the homes of a local multi-validator testnet (DIR/node0 …).",
        discussion: """
            Node i listens on base-port + \(TestnetPortLayout.stride)·i + offset for each of its \
            \(TestnetPortLayout.offsets.count) listeners; every port is checked free first. Each \
            node lists the others in consensus.persistent_peers.
            """)

    @Option(help: "Number of validators (1-100).")
    public var validators: Int = 4

    @Option(help: "Directory for the node homes.")
    public var output: String = "testnet"

    @Option(name: .customLong("chain-id"), help: "Chain id: 1-50 characters of a-z, 0-9 and -.")
    public var chainID: String = "testnet"

    @Option(help: "Address every node listens on and dials its peers at.")
    public var host: String = "127.0.0.1"

    @Option(name: .customLong("base-port"), help: "First port of node0.")
    public var basePort: Int = 26656

    @Flag(help: "Overwrite existing homes' keys, genesis and config.")
    public var force = false

    public init() {}

    public func run() async throws {
        let summary = try await NodeSetup.createTestnet(
            validators: validators, outputDir: output, chainID: chainID, host: host, basePort: basePort, force: force)
        print(summary.text)
    }
}

/// `config docs` prints every configuration key (Markdown table: key, environment variable,
/// default, meaning); `config default` prints the default `node.toml` with its comments.
public struct ConfigCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Print the configuration reference or the default node.toml.",
        subcommands: [Docs.self, Default.self])

    public init() {}

    public struct Docs: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "docs", abstract: "Every key of node.toml, its environment variable and default (Markdown).")
        public init() {}
        public func run() { print(ConfigKeys.docs, terminator: "") }
    }

    public struct Default: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "default", abstract: "The default node.toml, every key commented.")
        public init() {}
        public func run() { print(ConfigKeys.defaultTOML, terminator: "") }
    }
}
