import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import Testing
import Wire

@testable import NodeKit

@Suite("NodeKit init and testnet")
struct NodeKitSetupTests {
    @Test func homeLayout() {
        let home = NodeHome(path: "/srv/vn/")
        #expect(home.path == "/srv/vn")
        #expect(home.configFile == "/srv/vn/config/node.toml")
        #expect(home.genesisFile == "/srv/vn/config/genesis.json")
        #expect(home.validatorKeyFile == "/srv/vn/config/priv_validator_key.json")
        #expect(home.nodeKeyFile == "/srv/vn/config/node_key.json")
        #expect(home.dataPath("tss.db") == "/srv/vn/data/tss.db")
        #expect(home.dataPath(.consensus) == "/srv/vn/data/consensus")
        #expect(home.dataPath(.batches) == "/srv/vn/data/batches")
        #expect(home.runDir == "/srv/vn/run")
    }

    @Test func homeOptionResolution() throws {
        let explicit = try HomeOption.parse(["--home", "/a/b"])
        #expect(explicit.resolve(environment: ["VN_HOME": "/env"]).path == "/a/b")
        let none = try HomeOption.parse([])
        #expect(none.resolve(environment: ["VN_HOME": "/env", "HOME": "/u"]).path == "/env")
        #expect(none.resolve(environment: ["HOME": "/u"]).path == "/u/.validator-node")
        #expect(none.resolve(environment: ["VN_HOME": "~/vn", "HOME": "/u"]).path == "/u/vn")
    }

    @Test func initCreatesLayoutAndRefusesOverwrite() throws {
        let dir = try nodeKitTempDir()
        defer { nodeKitRemoveTree(dir) }
        let home = NodeHome(path: dir + "/home")
        let result = try NodeSetup.initialize(home: home, chainID: "local-1", moniker: "alice", force: false)

        for d in [home.path, home.configDir, home.dataDir, home.runDir] {
            #expect(FileIO.isDirectory(d))
            #expect(try FileIO.permissions(d) == 0o700, "\(d)")
        }
        #expect(try FileIO.permissions(home.validatorKeyFile) == 0o600)
        #expect(try FileIO.permissions(home.nodeKeyFile) == 0o600)
        #expect(home.permissionWarnings().isEmpty)

        let validatorKey = try ValidatorKeyFile.load(path: home.validatorKeyFile)
        let nodeKey = try NodeKeyFile.load(path: home.nodeKeyFile)
        #expect(validatorKey.checksumAddress == result.validatorAddress)
        #expect(nodeKey.checksumAddress == result.nodeAddress)
        #expect(validatorKey.address != nodeKey.address)

        let genesis = try Genesis.load(path: home.genesisFile)
        #expect(genesis.chainID == "local-1")
        #expect(genesis.validators.count == 1)
        #expect(genesis.validators[0].address == validatorKey.address)
        #expect(genesis.validators[0].name == "alice")
        #expect(genesis.validators[0].power == 100)

        let config = try NodeConfig.load(home: home, environment: [:])
        var expected = NodeConfig.defaults
        expected.node.moniker = "alice"
        #expect(config == expected)

        // A second init refuses and leaves the keys alone.
        #expect {
            try NodeSetup.initialize(home: home, chainID: "local-1", moniker: "alice", force: false)
        } throws: { error in
            let text = "\(error)"
            return text.contains("refusing to overwrite") && text.contains(home.validatorKeyFile)
                && text.contains("--force")
        }
        #expect(try ValidatorKeyFile.load(path: home.validatorKeyFile).address == validatorKey.address)

        // --force replaces everything.
        let forced = try NodeSetup.initialize(home: home, chainID: "local-2", moniker: "bob", force: true)
        #expect(forced.validatorAddress != result.validatorAddress)
        #expect(try Genesis.load(path: home.genesisFile).chainID == "local-2")
        #expect(try FileIO.permissions(home.validatorKeyFile) == 0o600)
    }

    @Test func initRejectsBadArguments() throws {
        let dir = try nodeKitTempDir()
        defer { nodeKitRemoveTree(dir) }
        let home = NodeHome(path: dir)
        #expect { try NodeSetup.initialize(home: home, chainID: "Bad_ID", moniker: "m", force: false) } throws: {
            "\($0)".contains("invalid chain id")
        }
        #expect { try NodeSetup.initialize(home: home, chainID: "ok", moniker: "", force: false) } throws: {
            "\($0)".contains("invalid moniker")
        }
        #expect(!FileIO.exists(home.validatorKeyFile))
    }

    @Test func initCommandParses() throws {
        let command = try InitCommand.parse(["--home", "/x", "--chain-id", "c-1", "--moniker", "m", "--force"])
        #expect(command.homeOption.nodeHome.path == "/x")
        #expect(command.chainID == "c-1")
        #expect(command.moniker == "m")
        #expect(command.force)
        #expect(throws: (any Error).self) { try InitCommand.parse(["--home", "/x"]) }  // --chain-id is required
        let testnet = try TestnetCommand.parse(["--validators", "3", "--output", "/o", "--base-port", "30000"])
        #expect(
            testnet.validators == 3 && testnet.output == "/o" && testnet.basePort == 30000
                && testnet.host == "127.0.0.1")
    }

    @Test func portLayoutNeverCollides() {
        var seen = Set<Int>()
        for node in 0..<100 {
            let ports = TestnetPortLayout.ports(node: node, basePort: 20000)
            #expect(ports.count == TestnetPortLayout.offsets.count)
            for port in ports.values { #expect(seen.insert(port).inserted, "port \(port) reused") }
        }
        #expect(TestnetPortLayout.range(validators: 4, basePort: 26656) == 26656...26729)
    }

    /// Node 0 at base 26656 is the default configuration, and every listener key is laid out.
    @Test func portLayoutMatchesDefaultsAndCoversEveryListener() throws {
        let ports = TestnetPortLayout.ports(node: 0, basePort: 26656)
        let listenKeys = ConfigKeys.all.filter { $0.key.hasSuffix("_listen") }.map(\.name)
        #expect(Set(ports.keys) == Set(listenKeys))
        for (key, port) in ports {
            #expect(ConfigKeys.entry(named: key)?.defaultValue == .string("127.0.0.1:\(port)"), "\(key)")
        }
    }

    @Test func testnetOfFour() async throws {
        let dir = try nodeKitTempDir()
        defer { nodeKitRemoveTree(dir) }
        // Above Linux's ephemeral range (so test clients' sockets cannot take these ports); if a
        // port happens to be busy, the error says so and another base is tried.
        var attempt: (base: Int, summary: TestnetSummary)?
        for _ in 0..<5 where attempt == nil {
            let base = 61000 + Int.random(in: 0..<200) * 20
            do {
                attempt = (
                    base,
                    try await NodeSetup.createTestnet(
                        validators: 4, outputDir: dir, chainID: "devnet", host: "127.0.0.1", basePort: base,
                        force: false)
                )
            } catch NodeSetupError.portUnavailable {
                continue
            }
        }
        let (base, summary) = try #require(attempt)
        #expect(summary.nodes.count == 4)
        #expect(summary.text.contains("4-validator testnet"))

        var allPorts = Set<Int>()
        var genesisBytes = Set<[UInt8]>()
        var validatorAddresses = [Address]()
        for i in 0..<4 {
            let home = NodeHome(path: "\(dir)/node\(i)")
            let config = try NodeConfig.load(home: home, environment: [:])
            #expect(config.node.moniker == "node\(i)")
            for entry in ConfigKeys.all where entry.key.hasSuffix("_listen") {
                guard case .string(let s) = entry.value(in: config) else { continue }
                let hp = try HostPort(parsing: s)
                #expect(hp.host == "127.0.0.1")
                #expect(allPorts.insert(hp.port).inserted, "port \(hp.port) used twice")
            }
            #expect(config.consensus.persistentPeers.count == 3)
            #expect(try FileIO.permissions(home.validatorKeyFile) == 0o600)
            let key = try ValidatorKeyFile.load(path: home.validatorKeyFile)
            #expect(!config.consensus.persistentPeers.contains { $0.address == key.address })
            validatorAddresses.append(key.address)
            genesisBytes.insert(try FileIO.read(home.genesisFile))
        }
        #expect(allPorts.count == 4 * 14)
        #expect(genesisBytes.count == 1, "every node has the same genesis")

        let genesis = try Genesis.load(path: "\(dir)/node0/config/genesis.json")
        #expect(genesis.chainID == "devnet")
        #expect(genesis.validators.map(\.address) == validatorAddresses)
        #expect(genesis.validators.allSatisfy { $0.power == 100 })

        // Each node's peers are the other three, at their p2p listeners.
        let configs = try (0..<4).map {
            try NodeConfig.load(home: NodeHome(path: "\(dir)/node\($0)"), environment: [:])
        }
        for i in 0..<4 {
            let expected = (0..<4).filter { $0 != i }.map {
                PeerAddress(address: validatorAddresses[$0], endpoint: configs[$0].consensus.p2pListen)
            }
            #expect(configs[i].consensus.persistentPeers == expected)
        }

        // Running it again refuses to overwrite.
        await #expect {
            try await NodeSetup.createTestnet(
                validators: 4, outputDir: dir, chainID: "devnet", host: "127.0.0.1", basePort: base, force: false,
                checkPortsFree: false)
        } throws: { "\($0)".contains("refusing to overwrite") }
    }

    @Test func testnetNamesAPortInUse() async throws {
        let dir = try nodeKitTempDir()
        defer { nodeKitRemoveTree(dir) }
        // Occupy a port, then ask for a layout that needs it (node1's tss.rpc_listen). Ports above
        // Linux's ephemeral range, so that no test client's socket sits on the others.
        var blocker: (any Channel)?
        var base = 0
        for _ in 0..<10 where blocker == nil {
            base = 61000 + Int.random(in: 0..<200) * 20
            blocker = try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: base + TestnetPortLayout.stride + 4).get()
        }
        let channel = try #require(blocker)
        defer { channel.close(promise: nil) }
        let taken = base + TestnetPortLayout.stride + 4
        await #expect {
            try await NodeSetup.createTestnet(
                validators: 2, outputDir: dir, chainID: "devnet", host: "127.0.0.1", basePort: base, force: false)
        } throws: { error in
            let text = "\(error)"
            return text.contains("port \(taken) on 127.0.0.1 (node1 tss.rpc_listen) is not free")
                && text.contains("--base-port")
        }
        #expect(!FileIO.exists("\(dir)/node0"), "nothing is written when a port is taken")
    }

    @Test func testnetRejectsImpossibleLayouts() async throws {
        await #expect {
            try await NodeSetup.createTestnet(
                validators: 4, outputDir: "/nonexistent", chainID: "x", host: "127.0.0.1", basePort: 65500, force: false
            )
        } throws: { "\($0)".contains("beyond 65535") }
        await #expect {
            try await NodeSetup.createTestnet(
                validators: 0, outputDir: "/nonexistent", chainID: "x", host: "127.0.0.1", basePort: 30000, force: false
            )
        } throws: { "\($0)".contains("--validators") }
        await #expect {
            try await NodeSetup.createTestnet(
                validators: 2, outputDir: "/nonexistent", chainID: "x", host: "0.0.0.0", basePort: 30000, force: false)
        } throws: { "\($0)".contains("wildcard") }
    }
}
