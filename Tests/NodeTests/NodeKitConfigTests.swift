import Foundation
import Logging
import Testing
import Wire

@testable import NodeKit

@Suite("NodeKit config")
struct NodeKitConfigTests {
    @Test func defaultsRenderAndParseBack() throws {
        let text = ConfigKeys.defaultTOML
        let parsed = try NodeConfig.parse(toml: text)
        #expect(parsed == NodeConfig.defaults)
        // Every key is in the rendered file with its doc, env var and default.
        for entry in ConfigKeys.all {
            #expect(text.contains("\n\(entry.key) = "), "\(entry.name) missing from the default file")
            #expect(text.contains(entry.envVar))
        }
        for section in ConfigKeys.sections { #expect(text.contains("[\(section.name)]")) }
    }

    @Test func documentedDefaults() {
        let d = NodeConfig.defaults
        #expect(d.consensus.p2pListen.description == "127.0.0.1:26656")
        #expect(d.rpc.maxFrameBytes == 16 * 1024 * 1024)
        #expect(d.node.logLevel == .info)
        #expect(d.local.consensusRPCOverride == nil)
        #expect(d.consensusRPC == d.consensus.rpcListen)
        #expect(d.listen(.tssSigner).httpListen == d.tss.httpListen)
        #expect(ConfigKeys.entry(named: "consensus.http_listen")?.envVar == "VN_CONSENSUS_HTTP_LISTEN")
        #expect(ConfigKeys.entry(named: "rpc.max_frame_bytes")?.defaultText == "16777216")
    }

    /// Every key maps onto its own field: set all of them to non-default values, render, parse.
    @Test func everyKeyRoundTrips() throws {
        var config = NodeConfig.defaults
        var port = 40000
        for entry in ConfigKeys.all {
            let value: ConfigValue
            switch entry.defaultValue {
            case .integer(let i):
                // One more, or one less where the default is the top of the range.
                let up = ConfigValue.integer(i == 1024 ? 2048 : i + 1)
                var probe = config
                value = (try? entry.set(up, in: &probe)) != nil ? up : .integer(i - 1)
            case .strings:
                value = .strings([
                    "0x00000000000000000000000000000000000000aa@10.0.0.1:1",
                    "0x00000000000000000000000000000000000000bb@[::1]:2",
                ])
            case .string(let s):
                if entry.type.hasPrefix("host:port") {
                    port += 1
                    value = .string("10.1.2.3:\(port)")
                } else if entry.type.hasPrefix("one of") {
                    // Another of the listed choices ("info" → "debug" for the log level).
                    let choices = entry.type.dropFirst("one of: ".count).split(separator: ", ").map(String.init)
                    value = .string(s == "info" ? "debug" : choices.first { $0 != s } ?? s)
                } else {
                    value = .string("renamed \"node\"")
                }
            }
            try entry.set(value, in: &config)
            #expect(entry.value(in: config) != entry.defaultValue, "\(entry.name) did not change")
        }
        let reparsed = try NodeConfig.parse(toml: config.renderTOML())
        #expect(reparsed == config)
        #expect(reparsed.consensus.persistentPeers.count == 2)
        #expect(reparsed.consensus.persistentPeers[1].endpoint.host == "::1")
        #expect(reparsed.local.consensusRPCOverride != nil)
    }

    /// The table covers every stored field of NodeConfig (a new field without a key fails here).
    @Test func tableCoversEveryField() {
        func leaves(_ value: Any) -> Int {
            let mirror = Mirror(reflecting: value)
            if value is HostPort || value is HostPort? || value is [PeerAddress] || mirror.children.isEmpty { return 1 }
            if mirror.displayStyle == .enum { return 1 }
            // `inboxChains` (`[[inbox.chains]]`) is the table's one documented exception.
            return mirror.children.filter { $0.label != "inboxChains" }.reduce(0) { $0 + leaves($1.value) }
        }
        #expect(leaves(NodeConfig.defaults) == ConfigKeys.all.count)
        #expect(Set(ConfigKeys.all.map(\.name)).count == ConfigKeys.all.count)
    }

    @Test func docsTableListsEveryKey() {
        let docs = ConfigKeys.docs
        #expect(docs.hasPrefix("| Key | Type | Default | Environment | Description |"))
        for entry in ConfigKeys.all {
            #expect(docs.contains("`\(entry.name)`"))
            #expect(docs.contains("`\(entry.envVar)`"))
        }
        #expect(docs.split(separator: "\n").count == ConfigKeys.all.count + 2)
    }

    @Test func partialFileKeepsDefaults() throws {
        let config = try NodeConfig.parse(
            toml: """
                [node]
                moniker = "alpha"
                [consensus]
                http_listen = "0.0.0.0:8080"
                persistent_peers = ["0x00000000000000000000000000000000000000aa@peer.example:26656"]
                """)
        #expect(config.node.moniker == "alpha")
        #expect(config.consensus.httpListen == (try HostPort(parsing: "0.0.0.0:8080")))
        #expect(config.consensus.p2pListen == NodeConfig.defaults.consensus.p2pListen)
        #expect(config.consensus.persistentPeers.first?.endpoint.host == "peer.example")
        #expect(config.tss == NodeConfig.defaults.tss)
    }

    @Test func environmentOverridesFile() throws {
        let env = [
            "VN_CONSENSUS_HTTP_LISTEN": "0.0.0.0:9000",
            "VN_NODE_LOG_LEVEL": "debug",
            "VN_CONSENSUS_PEER_TIMEOUT_MS": " 45000 ",
            "VN_CONSENSUS_PERSISTENT_PEERS":
                "0x00000000000000000000000000000000000000aa@h1:1, 0x00000000000000000000000000000000000000bb@h2:2",
            "VN_LOCAL_CONSENSUS_RPC": "[::1]:7000",
            "VN_HOME": "/ignored", "PATH": "/usr/bin",
        ]
        let config = try NodeConfig.parse(toml: "[consensus]\nhttp_listen = \"127.0.0.1:1\"\n", environment: env)
        #expect(config.consensus.httpListen.description == "0.0.0.0:9000")
        #expect(config.node.logLevel == .debug)
        #expect(config.consensus.peerTimeoutMs == 45000)
        #expect(config.consensus.persistentPeers.map(\.endpoint.host) == ["h1", "h2"])
        #expect(config.consensusRPC.description == "[::1]:7000")
    }

    @Test func wildcardConsensusListenIsDialedOnLoopback() throws {
        let config = try NodeConfig.parse(toml: "[consensus]\nrpc_listen = \"0.0.0.0:5555\"\n")
        #expect(config.consensusRPC.description == "127.0.0.1:5555")
    }

    private func problems(_ toml: String, env: [String: String] = [:]) -> [String] {
        do throws(ConfigError) {
            _ = try NodeConfig.parse(toml: toml, file: "/h/config/node.toml", environment: env)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    @Test func unknownSectionAndKeyAreNamed() {
        let found = problems(
            """
            stray = 2
            [consensus]
            p2p_listn = "127.0.0.1:1"
            [telemetry]
            enabled = 1
            """)
        #expect(found.count == 3)
        #expect(found.contains { $0.hasPrefix("/h/config/node.toml: consensus.p2p_listn: unknown key") })
        #expect(found.contains { $0.contains("telemetry") && $0.contains("unknown section") })
        #expect(found.contains { $0.contains("stray") && $0.contains("unknown top-level key") })
    }

    @Test func wrongTypesAreNamed() {
        let found = problems(
            """
            [consensus]
            dial_backoff_min_ms = "500"
            p2p_listen = 26656
            persistent_peers = "0x00000000000000000000000000000000000000aa@h:1"
            [rpc]
            max_frame_bytes = 1.5
            """)
        #expect(found.count == 4)
        #expect(found.contains { $0.contains("consensus.dial_backoff_min_ms: expected an integer, found string") })
        #expect(found.contains { $0.contains("consensus.p2p_listen: expected a string, found integer") })
        #expect(found.contains { $0.contains("consensus.persistent_peers: expected an array of strings") })
        #expect(found.contains { $0.contains("rpc.max_frame_bytes: expected an integer, found floating-point") })
    }

    @Test func invalidValuesAreNamed() {
        let found = problems(
            """
            [node]
            log_level = "loud"
            [consensus]
            p2p_listen = "127.0.0.1:70000"
            http_listen = "localhost"
            rpc_listen = "::1:80"
            persistent_peers = ["nobody@h:1", "0x00000000000000000000000000000000000000aa@h"]
            [rpc]
            max_frame_bytes = 10
            """)
        #expect(found.contains { $0.contains("node.log_level") && $0.contains("not one of: trace, debug") })
        #expect(found.contains { $0.contains("consensus.p2p_listen: port 70000 out of range 0-65535") })
        #expect(found.contains { $0.contains("consensus.http_listen: missing port") })
        #expect(found.contains { $0.contains("consensus.rpc_listen: invalid host") })
        #expect(found.contains { $0.contains("consensus.persistent_peers") && $0.contains("nobody") })
        #expect(found.contains { $0.contains("consensus.persistent_peers") && $0.contains("missing port") })
        #expect(found.contains { $0.contains("rpc.max_frame_bytes: 10 is out of range") })
    }

    @Test func badChecksumInPeerIsRejected() {
        // Mixed case that is not the EIP-55 checksum.
        let found = problems("[consensus]\npersistent_peers = [\"0xAa00000000000000000000000000000000000000@h:1\"]\n")
        #expect(found.count == 1)
        #expect(found.first?.contains("EIP-55") == true)
    }

    @Test func tomlSyntaxErrorGivesLine() {
        let found = problems("[consensus]\nhttp_listen = \"unterminated\n")
        #expect(found.count == 1)
        #expect(found.first?.contains("/h/config/node.toml: invalid TOML at line 2") == true)
    }

    @Test func environmentErrorsNameTheVariable() {
        let found = problems(
            "",
            env: [
                "VN_CONSENSUS_HTTP_LISTEN": "nope",
                "VN_RPC_MAX_FRAME_BYTES": "lots",
                "VN_CONSENSUS_HTTP_LISTN": "127.0.0.1:1",
            ])
        #expect(found.count == 3)
        #expect(
            found.contains {
                $0.hasPrefix("environment variable VN_CONSENSUS_HTTP_LISTEN: consensus.http_listen: missing port")
            })
        #expect(
            found.contains {
                $0.hasPrefix("environment variable VN_RPC_MAX_FRAME_BYTES: rpc.max_frame_bytes: expected an integer")
            })
        #expect(
            found.contains { $0.hasPrefix("environment variable VN_CONSENSUS_HTTP_LISTN: no such configuration key") })
    }

    @Test func crossKeyRules() {
        let found = problems(
            """
            [consensus]
            dial_backoff_min_ms = 5000
            dial_backoff_max_ms = 100
            peer_ping_interval_ms = 30000
            peer_timeout_ms = 30000
            persistent_peers = ["0x00000000000000000000000000000000000000aa@h:1", "0x00000000000000000000000000000000000000AA@h:2"]
            [tss]
            http_listen = "0.0.0.0:26657"
            """)
        #expect(found.contains { $0.contains("consensus.dial_backoff_min_ms: 5000 exceeds") })
        #expect(found.contains { $0.contains("consensus.peer_timeout_ms") })
        #expect(found.contains { $0.contains("name the same validator") })
        #expect(found.contains { $0.contains("tss.http_listen") && $0.contains("clashes with consensus.http_listen") })
    }

    @Test func loadFromHomeAndMissingFile() throws {
        let dir = try nodeKitTempDir()
        defer { nodeKitRemoveTree(dir) }
        let home = NodeHome(path: dir)
        do throws(ConfigError) {
            _ = try NodeConfig.load(home: home, environment: [:])
            Issue.record("expected a missing-file error")
        } catch {
            #expect(error.description.contains(home.configFile))
            #expect(error.description.contains("init"))
        }
        try home.createDirectories()
        try FileIO.writeAtomically(
            home.configFile, bytes: Array("[node]\nmoniker = \"m\"\n".utf8), mode: 0o644, overwrite: false)
        let config = try NodeConfig.load(home: home, environment: ["VN_NODE_LOG_FORMAT": "text"])
        #expect(config.node.moniker == "m")
        #expect(config.node.logFormat == .text)
    }

    @Test(arguments: [
        ("127.0.0.1:26656", "127.0.0.1", 26656),
        ("[::1]:0", "::1", 0),
        ("[fe80::1%eth0]:65535", "fe80::1%eth0", 65535),
        ("node-1.example.com:80", "node-1.example.com", 80),
    ])
    func hostPortParses(text: String, host: String, port: Int) throws {
        let hp = try HostPort(parsing: text)
        #expect(hp.host == host)
        #expect(hp.port == port)
        #expect(hp.description == text)
    }

    @Test(arguments: [
        "", "host", "host:", ":80", "h:-1", "h:65536", "h:80x", "::1:80", "[::1]80", "[::1]", "a..b:1", "bad host:1",
        "[zz]:1",
    ])
    func hostPortRejects(text: String) {
        #expect(throws: HostPort.ParseError.self) { try HostPort(parsing: text) }
    }
}
