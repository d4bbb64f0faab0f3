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
    public var sandbox: Sandbox
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
        /// The Tendermint engine (issue 5): round timeouts `base + round × delta` (Algorithm 1's
        /// timeoutPropose / timeoutPrevote / timeoutPrecommit), the pause after a commit, gossip.
        public var timeoutProposeMs: Int = 3000
        public var timeoutProposeDeltaMs: Int = 500
        public var timeoutPrevoteMs: Int = 1000
        public var timeoutPrevoteDeltaMs: Int = 500
        public var timeoutPrecommitMs: Int = 1000
        public var timeoutPrecommitDeltaMs: Int = 500
        public var timeoutCommitMs: Int = 1000
        public var gossipIntervalMs: Int = 500
        public var maxBlockBytes: Int = 4 << 20
        public var blockPartBytes: Int = 64 << 10
        public var mempoolMaxTxs: Int = 10_000
        public var mempoolMaxBytes: Int = 64 << 20

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
        /// `tss.persistent_peers`: other validators' tss-signer p2p endpoints.
        public var persistentPeers: [PeerAddress] = []
        /// `tss.session_timeout_ms`: deadline of one MPC session.
        public var sessionTimeoutMs: Int = 60_000
        /// `tss.resend_interval_ms`: retransmission interval within a session.
        public var resendIntervalMs: Int = 500
        /// `tss.presign_pool_target`: presignatures kept ready per key.
        public var presignPoolTarget: Int = 4
        /// `tss.nonce_pool_presignings`: Paillier randomizers kept per recently used key, counted
        /// in on-the-spot presignings they serve.
        public var noncePoolPresignings: Int = 24
    }

    /// `[sandbox]`: the sandbox-executor (issue 7): runtime, queue, per-job limits (defaults and
    /// maxima: a request may ask for less or more than the default, never more than the maximum),
    /// source fetching and registry policy, the image cache.
    public struct Sandbox: Sendable, Equatable {
        public var rpcListen: HostPort
        public var httpListen: HostPort
        public var runtime: SandboxRuntimeKind = .runc
        /// Bundles, runc state and the layer cache; empty: `<home>/data/sandbox`.
        public var stateDir: String = ""
        public var cacheMaxMB: Int = 2048
        public var maxConcurrent: Int = 2
        public var maxQueued: Int = 32
        public var defaultTimeoutMs: Int = 10_000
        public var maxTimeoutMs: Int = 120_000
        public var defaultMemoryMB: Int = 256
        public var maxMemoryMB: Int = 4096
        public var defaultPids: Int = 64
        public var maxPids: Int = 4096
        public var defaultCPUMillicores: Int = 1000
        public var maxCPUMillicores: Int = 4000
        public var defaultOutputBytes: Int = 1 << 20
        public var maxOutputBytes: Int = 4 << 20
        public var fetchMaxBytes: Int = 8 << 20
        public var fetchTimeoutMs: Int = 10_000
        public var fetchMaxRedirects: Int = 5
        public var allowImageTags: YesNo = .no
        /// Addresses source fetches may reach although private or loopback: `a.b.c.d/len`, `ip`,
        /// or `host:port`.
        public var fetchAllow: [String] = []
        /// Registries reached over plain http (`host:port`); every other one needs https.
        public var insecureRegistries: [String] = []
        public var wasmFuel: Int = 1_000_000_000
        public var wasmMaxMemoryMB: Int = 256
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
        case .sandboxExecutor: ServiceListen(rpcListen: sandbox.rpcListen, httpListen: sandbox.httpListen)
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
        sandbox = Sandbox(rpcListen: zero, httpListen: zero)
        bridge = inbox
        batch = inbox
        local = Local(consensusRPCOverride: nil, heartbeatIntervalMs: 0, serviceTimeoutMs: 0)
        rpc = RPCLimits(maxFrameBytes: 0)
    }
}

/// Which isolation the sandbox-executor runs containers with.
public enum SandboxRuntimeKind: String, Sendable, CaseIterable {
    case runc
    case bubblewrap
}

/// A yes/no switch in the configuration.
public enum YesNo: String, Sendable, CaseIterable {
    case no
    case yes

    public var isYes: Bool { self == .yes }
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
