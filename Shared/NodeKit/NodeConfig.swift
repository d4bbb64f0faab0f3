import Logging
import Secp256k1
import Wire

/// `config/node.toml` as plain values. Every key, its default, its environment variable and its
/// documentation live in one table, `ConfigKeys.all`; the default file, the README table, parsing
/// and environment overrides are all derived from it. Build one with `NodeConfig.defaults` or
/// `NodeConfig.load(home:environment:)`.
public struct NodeConfig: Sendable, Equatable {
    public var node: Node
    public var consensus: Consensus
    public var tss: TSS
    public var inbox: ServiceListen
    public var sandbox: ServiceListen
    public var bridge: ServiceListen
    public var batch: ServiceListen
    public var local: Local
    public var rpc: RPCLimits
    /// `[[inbox.chains]]`: the chains the inbox-listener reads (the key table's one exception,
    /// see `InboxChainConfig`).
    public var inboxChains: [InboxChainConfig] = []

    /// `[node]`: identity and logging, shared by all six services.
    public struct Node: Sendable, Equatable {
        public var moniker: String
        public var logLevel: Logger.Level
        public var logFormat: LogFormat
    }

    /// `[consensus]`: the consensus-manager.
    public struct Consensus: Sendable, Equatable {
        public var p2pListen: HostPort
        public var rpcListen: HostPort
        public var httpListen: HostPort
        public var persistentPeers: [PeerAddress]
        public var dialBackoffMinMs: Int
        public var dialBackoffMaxMs: Int
        public var peerPingIntervalMs: Int
        public var peerTimeoutMs: Int

        public var dialBackoff: Backoff {
            Backoff(min: .milliseconds(dialBackoffMinMs), max: .milliseconds(dialBackoffMaxMs))
        }
        public var peerPingInterval: Duration { .milliseconds(peerPingIntervalMs) }
        public var peerTimeout: Duration { .milliseconds(peerTimeoutMs) }
    }

    /// `[tss]`: the tss-signer (its own p2p listener carries MPC rounds).
    public struct TSS: Sendable, Equatable {
        public var p2pListen: HostPort
        public var rpcListen: HostPort
        public var httpListen: HostPort
        /// `tss.keystore_passphrase_file`: the file whose contents seal the key store; empty means
        /// `<home>/config/tss_keystore.key` (created on first start). Relative paths are under the home.
        public var keystorePassphraseFile: String = ""
        /// `tss.preparams_pool_target`: pre-params kept ready for keygen.
        public var preparamsPoolTarget: Int = 2
    }

    /// The two listeners every service has: local framed RPC and the HTTP endpoints.
    public struct ServiceListen: Sendable, Equatable {
        public var rpcListen: HostPort
        public var httpListen: HostPort
    }

    /// `[local]`: how the local services reach their consensus-manager.
    public struct Local: Sendable, Equatable {
        /// Explicit `local.consensus_rpc`; nil (empty in the file) means `consensus.rpc_listen`.
        public var consensusRPCOverride: HostPort?
        public var heartbeatIntervalMs: Int
        public var serviceTimeoutMs: Int

        public var heartbeatInterval: Duration { .milliseconds(heartbeatIntervalMs) }
        public var serviceTimeout: Duration { .milliseconds(serviceTimeoutMs) }
    }

    /// `[rpc]`: limits of the framed RPC protocol (DESIGN §3).
    public struct RPCLimits: Sendable, Equatable {
        public var maxFrameBytes: Int
    }

    /// The address local services dial to reach the consensus-manager: `local.consensus_rpc`, or
    /// else `consensus.rpc_listen` (a wildcard listen host becomes loopback).
    public var consensusRPC: HostPort {
        if let explicit = local.consensusRPCOverride { return explicit }
        let listen = consensus.rpcListen
        switch listen.host {
        case "0.0.0.0": return HostPort(unchecked: "127.0.0.1", port: listen.port)
        case "::": return HostPort(unchecked: "::1", port: listen.port)
        default: return listen
        }
    }

    /// The RPC and HTTP listeners of one of the six services.
    public func listen(_ service: ServiceKind) -> ServiceListen {
        switch service {
        case .consensusManager: ServiceListen(rpcListen: consensus.rpcListen, httpListen: consensus.httpListen)
        case .tssSigner: ServiceListen(rpcListen: tss.rpcListen, httpListen: tss.httpListen)
        case .inboxListener: inbox
        case .sandboxExecutor: sandbox
        case .bridgeAdapter: bridge
        case .batchProposer: batch
        }
    }

    /// All defaults (the values documented in `ConfigKeys.all`).
    public static let defaults: NodeConfig = {
        var config = NodeConfig(blank: ())
        for entry in ConfigKeys.all {
            do {
                try entry.assign(&config, entry.defaultValue)
            } catch {
                preconditionFailure("default of \(entry.name) is invalid: \(error)")
            }
        }
        return config
    }()

    /// Every field set to a placeholder; only `defaults` uses it, then assigns every key.
    private init(blank: ()) {
        let zero = HostPort(unchecked: "127.0.0.1", port: 0)
        node = Node(moniker: "", logLevel: .info, logFormat: .json)
        consensus = Consensus(
            p2pListen: zero, rpcListen: zero, httpListen: zero, persistentPeers: [],
            dialBackoffMinMs: 0, dialBackoffMaxMs: 0, peerPingIntervalMs: 0, peerTimeoutMs: 0)
        tss = TSS(p2pListen: zero, rpcListen: zero, httpListen: zero)
        inbox = ServiceListen(rpcListen: zero, httpListen: zero)
        sandbox = inbox
        bridge = inbox
        batch = inbox
        local = Local(consensusRPCOverride: nil, heartbeatIntervalMs: 0, serviceTimeoutMs: 0)
        rpc = RPCLimits(maxFrameBytes: 0)
    }
}

public enum LogFormat: String, Sendable, CaseIterable {
    /// One JSON object per line.
    case json
    /// `timestamp LEVEL [service] message key=value ...`
    case text
}

/// A persistent peer: `0x<validator address>@host:port`.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    public let address: Address
    public let endpoint: HostPort

    public init(address: Address, endpoint: HostPort) {
        self.address = address
        self.endpoint = endpoint
    }

    public init(parsing text: String) throws(ConfigValueProblem) {
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw ConfigValueProblem("invalid peer \(JSONValue.quoted(text)): expected 0xVALIDATORADDRESS@host:port")
        }
        let addressText = String(parts[0])
        guard let bytes = try? parseEthereumAddress(addressText), let address = try? Address(bytes: bytes) else {
            throw ConfigValueProblem(
                "invalid peer \(JSONValue.quoted(text)): \(JSONValue.quoted(addressText)) is not a 0x-prefixed 20-byte address (mixed case must carry a valid EIP-55 checksum)"
            )
        }
        do {
            self.endpoint = try HostPort(parsing: String(parts[1]))
        } catch {
            throw ConfigValueProblem("invalid peer \(JSONValue.quoted(text)): \(error)")
        }
        self.address = address
    }

    /// `0x<EIP-55 address>@host:port`.
    public var description: String { "\(checksummedAddress(address))@\(endpoint)" }
}

extension HostPort {
    /// For values known to be valid (literals in this module).
    init(unchecked host: String, port: Int) {
        precondition(
            HostPort.isValidHost(host) && (0...65535).contains(port), "invalid built-in address \(host):\(port)")
        self.host = host
        self.port = port
    }
}
