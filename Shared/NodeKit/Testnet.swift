import NIOCore
import NIOPosix
import Wire

/// The port layout of a local testnet: node `i` uses `basePort + i·stride + offset` for each
/// listener, so no two listeners of any node share a port. With `basePort` 26656 node 0 gets
/// exactly the defaults of `ConfigKeys.all`.
public enum TestnetPortLayout {
    /// Ports reserved per node (14 used, the rest free for listeners added later).
    public static let stride = 20

    /// Every listener key of node.toml and its offset from the node's first port.
    public static let offsets: [(key: String, offset: Int)] = [
        ("consensus.p2p_listen", 0),
        ("consensus.http_listen", 1),
        ("consensus.rpc_listen", 2),
        ("tss.p2p_listen", 3),
        ("tss.rpc_listen", 4),
        ("tss.http_listen", 5),
        ("inbox.rpc_listen", 6),
        ("inbox.http_listen", 7),
        ("sandbox.rpc_listen", 8),
        ("sandbox.http_listen", 9),
        ("bridge.rpc_listen", 10),
        ("bridge.http_listen", 11),
        ("batch.rpc_listen", 12),
        ("batch.http_listen", 13),
    ]

    /// The ports of node `node` (0-based), by config key.
    public static func ports(node: Int, basePort: Int) -> [String: Int] {
        var out = [String: Int]()
        for (key, offset) in offsets { out[key] = basePort + node * stride + offset }
        return out
    }

    /// The lowest and highest port `validators` nodes use.
    public static func range(validators: Int, basePort: Int) -> ClosedRange<Int> {
        basePort...(basePort + (validators - 1) * stride + offsets.map(\.offset).max()!)
    }
}

/// What `testnet` created.
public struct TestnetSummary: Sendable {
    public struct Node: Sendable {
        public let index: Int
        public let moniker: String
        public let home: NodeHome
        public let validatorAddress: String
        public let config: NodeConfig
    }

    public let chainID: String
    public let outputDir: String
    public let nodes: [Node]

    /// A few lines for the terminal.
    public var text: String {
        var lines = ["Created a \(nodes.count)-validator testnet \(JSONValue.quoted(chainID)) in \(outputDir):"]
        for node in nodes {
            lines.append(
                "  \(node.moniker)  \(node.validatorAddress)  p2p \(node.config.consensus.p2pListen)"
                    + "  http \(node.config.consensus.httpListen)  home \(node.home)")
        }
        if let first = nodes.first {
            let last = nodes.last!
            let lo = first.config.consensus.p2pListen.port
            let hi = TestnetPortLayout.range(validators: nodes.count, basePort: lo).upperBound
            lines.append(
                "Ports \(lo)-\(hi) (node i: \(lo) + \(TestnetPortLayout.stride)·i + offset); see each node's config/node.toml."
            )
            lines.append("Run each of the six services with --home \(first.home) … --home \(last.home).")
        }
        return lines.joined(separator: "\n")
    }
}

extension NodeSetup {
    /// `testnet`: `validators` homes `outputDir/node0…`, one shared genesis (power 100 each),
    /// collision-free ports (checked free by binding each first) and full-mesh persistent peers.
    public static func createTestnet(
        validators: Int, outputDir: String, chainID: String, host: String, basePort: Int, force: Bool,
        checkPortsFree: Bool = true, genesisTime: Timestamp = Timestamp.now().wholeSeconds
    ) async throws -> TestnetSummary {
        guard (1...100).contains(validators) else {
            throw NodeSetupError.invalidArgument("--validators must be 1-100, got \(validators)")
        }
        guard Genesis.isValidChainID(chainID) else { throw NodeSetupError.invalidChainID(chainID) }
        guard HostPort.isValidHost(host), host != "0.0.0.0", host != "::" else {
            throw NodeSetupError.invalidArgument(
                "--host \(JSONValue.quoted(host)) must be an address the nodes can dial (e.g. 127.0.0.1), not a wildcard"
            )
        }
        guard basePort >= 1 else {
            throw NodeSetupError.invalidArgument("--base-port must be 1-65535, got \(basePort)")
        }
        let range = TestnetPortLayout.range(validators: validators, basePort: basePort)
        guard range.upperBound <= 65535 else {
            throw NodeSetupError.portsOutOfRange(lowest: range.lowerBound, highest: range.upperBound)
        }

        let homes = (0..<validators).map { NodeHome(path: FileIO.join(outputDir, "node\($0)")) }
        let existing = homes.flatMap(existingFiles)
        guard force || existing.isEmpty else { throw NodeSetupError.wouldOverwrite(existing) }

        if checkPortsFree {
            for node in 0..<validators {
                for (key, port) in TestnetPortLayout.ports(node: node, basePort: basePort).sorted(by: {
                    $0.value < $1.value
                }) {
                    if let reason = await PortProbe.unavailableReason(host: host, port: port) {
                        throw NodeSetupError.portUnavailable(
                            host: host, port: port, key: key, node: node, reason: reason)
                    }
                }
            }
        }

        let validatorKeys = (0..<validators).map { _ in ValidatorKeyFile.generate() }
        let nodeKeys = (0..<validators).map { _ in NodeKeyFile.generate() }
        let genesis = Genesis(
            chainID: chainID, genesisTime: genesisTime,
            validators: validatorKeys.enumerated().map {
                GenesisValidator(name: "node\($0.offset)", publicKey: $0.element.publicKey, power: 100)
            })
        try genesis.validate()

        var configs = [NodeConfig]()
        for node in 0..<validators {
            var config = NodeConfig.defaults
            config.node.moniker = "node\(node)"
            for (key, port) in TestnetPortLayout.ports(node: node, basePort: basePort) {
                guard let entry = ConfigKeys.entry(named: key) else {
                    preconditionFailure("port layout names unknown key \(key)")
                }
                try entry.set(.string(HostPort(host: host, port: port).description), in: &config)
            }
            configs.append(config)
        }
        for node in 0..<validators {
            configs[node].consensus.persistentPeers = (0..<validators).filter { $0 != node }.map { peer in
                PeerAddress(address: validatorKeys[peer].address, endpoint: configs[peer].consensus.p2pListen)
            }
            configs[node].tss.persistentPeers = (0..<validators).filter { $0 != node }.map { peer in
                PeerAddress(address: validatorKeys[peer].address, endpoint: configs[peer].tss.p2pListen)
            }
            // Same checks as loading the file would apply.
            let problems = configs[node].crossCheck()
            guard problems.isEmpty else {
                throw NodeSetupError.invalidArgument(problems.map(\.description).joined(separator: "\n"))
            }
        }

        var nodes = [TestnetSummary.Node]()
        for node in 0..<validators {
            try writeHome(
                homes[node], validatorKey: validatorKeys[node], nodeKey: nodeKeys[node], genesis: genesis,
                config: configs[node], force: force)
            nodes.append(
                .init(
                    index: node, moniker: "node\(node)", home: homes[node],
                    validatorAddress: validatorKeys[node].checksumAddress, config: configs[node]))
        }
        return TestnetSummary(chainID: chainID, outputDir: outputDir, nodes: nodes)
    }
}

/// Checks whether a TCP port can be listened on.
public enum PortProbe {
    /// nil if `host:port` can be bound now (the socket is closed again at once), else why not.
    public static func unavailableReason(
        host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async -> String? {
        do {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port)
                .get()
            try? await channel.close()
            return nil
        } catch let error as IOError {
            return error.description
        } catch {
            return "\(error)"
        }
    }
}
