import Logging

/// A raw configuration value as written in TOML or in an environment variable.
public enum ConfigValue: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case integer(Int)
    case strings([String])

    public enum Kind: Sendable, Equatable, CustomStringConvertible {
        case string, integer, strings

        public var description: String {
            switch self {
            case .string: "a string"
            case .integer: "an integer"
            case .strings: "an array of strings"
            }
        }
    }

    public var kind: Kind {
        switch self {
        case .string: .string
        case .integer: .integer
        case .strings: .strings
        }
    }

    /// The value as a TOML literal (`"text"`, `42`, `["a", "b"]`).
    public var tomlLiteral: String {
        switch self {
        case .string(let s): JSONValue.quoted(s)
        case .integer(let i): String(i)
        case .strings(let items): "[" + items.map { JSONValue.quoted($0) }.joined(separator: ", ") + "]"
        }
    }

    public var description: String { tomlLiteral }
}

/// Why one value is not acceptable (without saying where it came from: the loader adds that).
public struct ConfigValueProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One documented configuration key: its name, type, default, environment variable and meaning,
/// plus how it maps onto `NodeConfig`.
public struct ConfigKeyDoc: Sendable {
    /// TOML section (`consensus`).
    public let section: String
    /// Key inside the section (`p2p_listen`).
    public let key: String
    /// Human description of the accepted values (`host:port`, `integer, milliseconds, 1-86400000`).
    public let type: String
    public let defaultValue: ConfigValue
    public let doc: String

    let kind: ConfigValue.Kind
    let assign: @Sendable (inout NodeConfig, ConfigValue) throws(ConfigValueProblem) -> Void
    let read: @Sendable (NodeConfig) -> ConfigValue

    /// `section.key`.
    public var name: String { "\(section).\(key)" }
    /// `VN_<SECTION>_<KEY>`.
    public var envVar: String { "VN_\(section.uppercased())_\(key.uppercased())" }
    /// The default as a TOML literal.
    public var defaultText: String { defaultValue.tomlLiteral }

    /// Reads this key's current value out of `config`.
    public func value(in config: NodeConfig) -> ConfigValue { read(config) }

    /// Sets this key in `config` from a raw value, with the same checks as when loading.
    public func set(_ value: ConfigValue, in config: inout NodeConfig) throws(ConfigValueProblem) {
        guard value.kind == kind else { throw ConfigValueProblem("expected \(kind), found \(value.kind)") }
        try assign(&config, value)
    }
}

/// A `[section]` of node.toml and what it is for.
public struct ConfigSectionDoc: Sendable {
    public let name: String
    public let doc: String
}

// MARK: - Typed constructors

extension ConfigKeyDoc {
    static func hostPort(
        _ section: String, _ key: String, _ path: WritableKeyPath<NodeConfig, HostPort> & Sendable,
        default value: String, doc: String
    ) -> ConfigKeyDoc {
        ConfigKeyDoc(
            section: section, key: key, type: "host:port", defaultValue: .string(value), doc: doc, kind: .string,
            assign: { (config: inout NodeConfig, raw: ConfigValue) throws(ConfigValueProblem) in
                guard case .string(let s) = raw else { throw ConfigValueProblem("expected a string") }
                do { config[keyPath: path] = try HostPort(parsing: s) } catch { throw ConfigValueProblem("\(error)") }
            },
            read: { .string($0[keyPath: path].description) })
    }

    static func optionalHostPort(
        _ section: String, _ key: String, _ path: WritableKeyPath<NodeConfig, HostPort?> & Sendable,
        doc: String
    ) -> ConfigKeyDoc {
        ConfigKeyDoc(
            section: section, key: key, type: "host:port, or empty", defaultValue: .string(""), doc: doc, kind: .string,
            assign: { (config: inout NodeConfig, raw: ConfigValue) throws(ConfigValueProblem) in
                guard case .string(let s) = raw else { throw ConfigValueProblem("expected a string") }
                if s.isEmpty {
                    config[keyPath: path] = nil
                } else {
                    do { config[keyPath: path] = try HostPort(parsing: s) } catch {
                        throw ConfigValueProblem("\(error)")
                    }
                }
            },
            read: { .string($0[keyPath: path]?.description ?? "") })
    }

    static func integer(
        _ section: String, _ key: String, _ path: WritableKeyPath<NodeConfig, Int> & Sendable,
        default value: Int, range: ClosedRange<Int>, unit: String, doc: String
    ) -> ConfigKeyDoc {
        ConfigKeyDoc(
            section: section, key: key, type: "integer, \(unit), \(range.lowerBound)-\(range.upperBound)",
            defaultValue: .integer(value), doc: doc, kind: .integer,
            assign: { (config: inout NodeConfig, raw: ConfigValue) throws(ConfigValueProblem) in
                guard case .integer(let i) = raw else { throw ConfigValueProblem("expected an integer") }
                guard range.contains(i) else {
                    throw ConfigValueProblem("\(i) is out of range \(range.lowerBound)-\(range.upperBound)")
                }
                config[keyPath: path] = i
            },
            read: { .integer($0[keyPath: path]) })
    }

    static func choice<E: RawRepresentable & CaseIterable & Sendable>(
        _ section: String, _ key: String, _ path: WritableKeyPath<NodeConfig, E> & Sendable,
        default value: E, doc: String
    ) -> ConfigKeyDoc where E.RawValue == String {
        let names = E.allCases.map(\.rawValue)
        return ConfigKeyDoc(
            section: section, key: key, type: "one of: " + names.joined(separator: ", "),
            defaultValue: .string(value.rawValue), doc: doc, kind: .string,
            assign: { (config: inout NodeConfig, raw: ConfigValue) throws(ConfigValueProblem) in
                guard case .string(let s) = raw else { throw ConfigValueProblem("expected a string") }
                guard let v = E(rawValue: s) else {
                    throw ConfigValueProblem("\(JSONValue.quoted(s)) is not one of: \(names.joined(separator: ", "))")
                }
                config[keyPath: path] = v
            },
            read: { .string($0[keyPath: path].rawValue) })
    }

    static func filePath(
        _ section: String, _ key: String, _ path: WritableKeyPath<NodeConfig, String> & Sendable, doc: String
    ) -> ConfigKeyDoc {
        ConfigKeyDoc(
            section: section, key: key, type: "file path, or empty", defaultValue: .string(""), doc: doc,
            kind: .string,
            assign: { (config: inout NodeConfig, raw: ConfigValue) throws(ConfigValueProblem) in
                guard case .string(let s) = raw else { throw ConfigValueProblem("expected a string") }
                guard s.utf8.count <= 4096, !s.utf8.contains(0) else {
                    throw ConfigValueProblem("a path of at most 4096 bytes without NUL is expected")
                }
                config[keyPath: path] = s
            },
            read: { .string($0[keyPath: path]) })
    }

    static func name(
        _ section: String, _ key: String, _ path: WritableKeyPath<NodeConfig, String> & Sendable,
        default value: String, doc: String
    ) -> ConfigKeyDoc {
        ConfigKeyDoc(
            section: section, key: key, type: "string, 1-64 printable characters", defaultValue: .string(value),
            doc: doc, kind: .string,
            assign: { (config: inout NodeConfig, raw: ConfigValue) throws(ConfigValueProblem) in
                guard case .string(let s) = raw else { throw ConfigValueProblem("expected a string") }
                if let problem = ConfigKeys.monikerProblem(s) { throw ConfigValueProblem(problem) }
                config[keyPath: path] = s
            },
            read: { .string($0[keyPath: path]) })
    }

    static func strings(
        _ section: String, _ key: String, _ path: WritableKeyPath<NodeConfig, [String]> & Sendable, type: String,
        doc: String
    ) -> ConfigKeyDoc {
        ConfigKeyDoc(
            section: section, key: key, type: type, defaultValue: .strings([]), doc: doc, kind: .strings,
            assign: { (config: inout NodeConfig, raw: ConfigValue) throws(ConfigValueProblem) in
                guard case .strings(let items) = raw else { throw ConfigValueProblem("expected an array of strings") }
                guard items.count <= 256, items.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 256 }) else {
                    throw ConfigValueProblem("at most 256 non-empty entries of at most 256 bytes each")
                }
                config[keyPath: path] = items
            },
            read: { .strings($0[keyPath: path]) })
    }

    static func peers(
        _ section: String, _ key: String, _ path: WritableKeyPath<NodeConfig, [PeerAddress]> & Sendable, doc: String
    ) -> ConfigKeyDoc {
        ConfigKeyDoc(
            section: section, key: key, type: "array of \"0xADDRESS@host:port\"", defaultValue: .strings([]),
            doc: doc, kind: .strings,
            assign: { (config: inout NodeConfig, raw: ConfigValue) throws(ConfigValueProblem) in
                guard case .strings(let items) = raw else { throw ConfigValueProblem("expected an array of strings") }
                var peers = [PeerAddress]()
                var problems = [String]()
                for item in items {
                    do throws(ConfigValueProblem) {
                        peers.append(try PeerAddress(parsing: item))
                    } catch {
                        problems.append(error.message)
                    }
                }
                guard problems.isEmpty else { throw ConfigValueProblem(problems.joined(separator: "; ")) }
                config[keyPath: path] = peers
            },
            read: { .strings($0[keyPath: path].map(\.description)) })
    }
}

// MARK: - The table

/// The single source of truth for `config/node.toml`.
public enum ConfigKeys {
    static let maxMs = 86_400_000

    public static let sections: [ConfigSectionDoc] = [
        ConfigSectionDoc(name: "node", doc: "Identity and logging, shared by all six services."),
        ConfigSectionDoc(name: "consensus", doc: "consensus-manager: BFT consensus, peers, the public HTTP API."),
        ConfigSectionDoc(name: "tss", doc: "tss-signer: threshold signing; its p2p listener carries MPC rounds."),
        ConfigSectionDoc(name: "inbox", doc: "inbox-listener: watches inbox contracts on client chains."),
        ConfigSectionDoc(name: "sandbox", doc: "sandbox-executor: runs requested containers in isolation."),
        ConfigSectionDoc(name: "bridge", doc: "bridge-adapter: L1 staking events and L2 head watching."),
        ConfigSectionDoc(name: "batch", doc: "batch-proposer: L2 batches submitted to L1 under the threshold key."),
        ConfigSectionDoc(name: "local", doc: "How the local services reach their consensus-manager."),
        ConfigSectionDoc(name: "rpc", doc: "Limits of the framed RPC protocol, for every connection."),
    ]

    public static let all: [ConfigKeyDoc] = [
        // [node]
        .name(
            "node", "moniker", \.node.moniker, default: "validator",
            doc: "Human-readable name of this node, shown in logs, /status and the genesis validator list."),
        .choice(
            "node", "log_level", \.node.logLevel, default: Logger.Level.info,
            doc: "Least severe log level that is written."),
        .choice(
            "node", "log_format", \.node.logFormat, default: LogFormat.json,
            doc: "Log line format on standard error: json (one object per line) or text."),

        // [consensus]
        .hostPort(
            "consensus", "p2p_listen", \.consensus.p2pListen, default: "127.0.0.1:26656",
            doc:
                "Where the consensus-manager accepts other validators' connections. Use 0.0.0.0:26656 to accept them from other hosts."
        ),
        .hostPort(
            "consensus", "http_listen", \.consensus.httpListen, default: "127.0.0.1:26657",
            doc: "Public HTTP API and /healthz, /readyz, /metrics, /status of the consensus-manager."),
        .hostPort(
            "consensus", "rpc_listen", \.consensus.rpcListen, default: "127.0.0.1:26658",
            doc:
                "Framed RPC listener that the local services connect to. Keep it on loopback unless the services run on other hosts."
        ),
        .peers(
            "consensus", "persistent_peers", \.consensus.persistentPeers,
            doc:
                "Validators to keep connected to, as \"0xVALIDATORADDRESS@host:port\" (their consensus.p2p_listen). In the environment: comma-separated."
        ),
        .integer(
            "consensus", "dial_backoff_min_ms", \.consensus.dialBackoffMinMs, default: 500, range: 1...maxMs,
            unit: "milliseconds",
            doc: "First delay before redialing a lost peer; it doubles (with jitter) up to dial_backoff_max_ms."),
        .integer(
            "consensus", "dial_backoff_max_ms", \.consensus.dialBackoffMaxMs, default: 30_000, range: 1...maxMs,
            unit: "milliseconds", doc: "Longest delay between redials of a peer."),
        .integer(
            "consensus", "peer_ping_interval_ms", \.consensus.peerPingIntervalMs, default: 10_000,
            range: 1...maxMs, unit: "milliseconds", doc: "How often an idle peer connection is pinged."),
        .integer(
            "consensus", "peer_timeout_ms", \.consensus.peerTimeoutMs, default: 30_000, range: 1...maxMs,
            unit: "milliseconds",
            doc: "A peer silent for this long is disconnected (must exceed peer_ping_interval_ms)."),
        .integer(
            "consensus", "timeout_propose_ms", \.consensus.timeoutProposeMs, default: 3000, range: 1...maxMs,
            unit: "milliseconds", doc: "Tendermint timeoutPropose of round 0 (Algorithm 1, line 57)."),
        .integer(
            "consensus", "timeout_propose_delta_ms", \.consensus.timeoutProposeDeltaMs, default: 500, range: 0...maxMs,
            unit: "milliseconds", doc: "Added to timeout_propose_ms per round, so that some round outlasts the delays."),
        .integer(
            "consensus", "timeout_prevote_ms", \.consensus.timeoutPrevoteMs, default: 1000, range: 1...maxMs,
            unit: "milliseconds", doc: "Tendermint timeoutPrevote of round 0 (Algorithm 1, line 61)."),
        .integer(
            "consensus", "timeout_prevote_delta_ms", \.consensus.timeoutPrevoteDeltaMs, default: 500, range: 0...maxMs,
            unit: "milliseconds", doc: "Added to timeout_prevote_ms per round."),
        .integer(
            "consensus", "timeout_precommit_ms", \.consensus.timeoutPrecommitMs, default: 1000, range: 1...maxMs,
            unit: "milliseconds", doc: "Tendermint timeoutPrecommit of round 0 (Algorithm 1, line 65)."),
        .integer(
            "consensus", "timeout_precommit_delta_ms", \.consensus.timeoutPrecommitDeltaMs, default: 500,
            range: 0...maxMs, unit: "milliseconds", doc: "Added to timeout_precommit_ms per round."),
        .integer(
            "consensus", "timeout_commit_ms", \.consensus.timeoutCommitMs, default: 1000, range: 0...maxMs,
            unit: "milliseconds",
            doc: "Pause after a block is committed before the next height starts (lets transactions gather)."),
        .integer(
            "consensus", "gossip_interval_ms", \.consensus.gossipIntervalMs, default: 500, range: 10...maxMs,
            unit: "milliseconds",
            doc:
                "How often the engine reports its height to peers, re-sends its own votes of a stalled round and asks for missing blocks."
        ),
        .integer(
            "consensus", "max_block_bytes", \.consensus.maxBlockBytes, default: 4 << 20, range: 1024...(16 << 20),
            unit: "bytes", doc: "Largest block (encoded) the engine proposes or accepts."),
        .integer(
            "consensus", "block_part_bytes", \.consensus.blockPartBytes, default: 64 << 10, range: 1024...(1 << 20),
            unit: "bytes", doc: "Size of the parts a proposed block is gossiped in."),
        .integer(
            "consensus", "mempool_max_txs", \.consensus.mempoolMaxTxs, default: 10_000, range: 1...10_000_000,
            unit: "transactions", doc: "Most transactions waiting in the mempool."),
        .integer(
            "consensus", "mempool_max_bytes", \.consensus.mempoolMaxBytes, default: 64 << 20, range: 1024...(1 << 30),
            unit: "bytes", doc: "Most transaction bytes waiting in the mempool."),

        // [tss]
        .hostPort(
            "tss", "p2p_listen", \.tss.p2pListen, default: "127.0.0.1:26659",
            doc: "Where the tss-signer accepts other validators' MPC connections."),
        .hostPort(
            "tss", "rpc_listen", \.tss.rpcListen, default: "127.0.0.1:26660",
            doc: "Framed RPC listener of the tss-signer (the local consensus-manager authorizes sessions here)."),
        .hostPort(
            "tss", "http_listen", \.tss.httpListen, default: "127.0.0.1:26661",
            doc: "/healthz, /readyz, /metrics, /status of the tss-signer."),
        .filePath(
            "tss", "keystore_passphrase_file", \.tss.keystorePassphraseFile,
            doc:
                "File whose contents (one trailing newline ignored) are the passphrase or key that seals data/tss.db (scrypt, AES-256-GCM). Relative paths are under the home. Empty: config/tss_keystore.key, created with 32 random bytes on first start; keep a copy off the host. A wrong file stops the tss-signer and changes nothing."
        ),
        .integer(
            "tss", "preparams_pool_target", \.tss.preparamsPoolTarget, default: 2, range: 0...64, unit: "items",
            doc:
                "Keygen pre-params (two safe primes each) generated in the background at low priority and kept sealed in data/tss.db; keygen takes one."
        ),
        .peers(
            "tss", "persistent_peers", \.tss.persistentPeers,
            doc:
                "Other validators' tss-signers, as \"0xVALIDATORADDRESS@host:port\" (their tss.p2p_listen); MPC sessions run only with these. In the environment: comma-separated."
        ),
        .integer(
            "tss", "session_timeout_ms", \.tss.sessionTimeoutMs, default: 60_000, range: 1_000...3_600_000,
            unit: "milliseconds",
            doc:
                "Deadline of one MPC session (keygen, presign, sign, reshare); a party still silent then is named unresponsive."
        ),
        .integer(
            "tss", "resend_interval_ms", \.tss.resendIntervalMs, default: 500, range: 20...60_000, unit: "milliseconds",
            doc: "Retransmission interval of unacknowledged MPC messages within a session."),
        .integer(
            "tss", "presign_pool_target", \.tss.presignPoolTarget, default: 4, range: 0...1024, unit: "presignatures",
            doc:
                "Presignatures this node keeps ready per key for the signer set it coordinates (itself and the next t parties); each is used once. 0 disables the pool. Needs a standing presign approval at every signer's consensus-manager."
        ),
        .integer(
            "tss", "nonce_pool_presignings", \.tss.noncePoolPresignings, default: 24, range: 0...256,
            unit: "presignings",
            doc:
                "Paillier randomizers (r, r^N mod N^2) this node computes while idle, for each key it signed or presigned with in the last hour, enough for this many presignings run on the spot (a signer set without pooled presignatures): 1 + 6t per presigning under its own key and 4 under each peer's. Kept in memory only, each used once. 0 disables them."
        ),

        // [inbox]
        .hostPort(
            "inbox", "rpc_listen", \.inbox.rpcListen, default: "127.0.0.1:26662",
            doc: "Framed RPC listener of the inbox-listener."),
        .hostPort(
            "inbox", "http_listen", \.inbox.httpListen, default: "127.0.0.1:26663",
            doc: "/healthz, /readyz, /metrics, /status of the inbox-listener."),

        // [sandbox]
        .hostPort(
            "sandbox", "rpc_listen", \.sandbox.rpcListen, default: "127.0.0.1:26664",
            doc: "Framed RPC listener of the sandbox-executor."),
        .hostPort(
            "sandbox", "http_listen", \.sandbox.httpListen, default: "127.0.0.1:26665",
            doc: "/healthz, /readyz, /metrics, /status of the sandbox-executor."),
        .choice(
            "sandbox", "runtime", \.sandbox.runtime, default: .runc,
            doc: "Container isolation: runc (default) or bubblewrap (cgroups managed by the executor)."),
        .filePath(
            "sandbox", "state_dir", \.sandbox.stateDir,
            doc:
                "Bundles, runc state and the image layer cache. Empty: data/sandbox under the home. Relative paths are under the home."
        ),
        .integer(
            "sandbox", "cache_max_mb", \.sandbox.cacheMaxMB, default: 2048, range: 16...1_048_576, unit: "MiB",
            doc: "Size of the unpacked-image cache; the least recently used images go first."),
        .integer(
            "sandbox", "max_concurrent", \.sandbox.maxConcurrent, default: 2, range: 1...256, unit: "jobs",
            doc: "Jobs running at once."),
        .integer(
            "sandbox", "max_queued", \.sandbox.maxQueued, default: 32, range: 0...100_000, unit: "jobs",
            doc: "Jobs waiting for a slot; more are refused as busy."),
        .integer(
            "sandbox", "default_timeout_ms", \.sandbox.defaultTimeoutMs, default: 10_000, range: 1...86_400_000,
            unit: "milliseconds", doc: "Wall-clock limit of a job that does not ask for one."),
        .integer(
            "sandbox", "max_timeout_ms", \.sandbox.maxTimeoutMs, default: 120_000, range: 1...86_400_000,
            unit: "milliseconds", doc: "The longest wall-clock limit a job may ask for."),
        .integer(
            "sandbox", "default_memory_mb", \.sandbox.defaultMemoryMB, default: 256, range: 8...65_536, unit: "MiB",
            doc: "Memory limit of a job that does not ask for one (swap is not allowed)."),
        .integer(
            "sandbox", "max_memory_mb", \.sandbox.maxMemoryMB, default: 4096, range: 8...65_536, unit: "MiB",
            doc: "The largest memory limit a job may ask for."),
        .integer(
            "sandbox", "default_pids", \.sandbox.defaultPids, default: 64, range: 4...65_536, unit: "processes",
            doc: "Process limit of a job that does not ask for one."),
        .integer(
            "sandbox", "max_pids", \.sandbox.maxPids, default: 4096, range: 4...65_536, unit: "processes",
            doc: "The largest process limit a job may ask for."),
        .integer(
            "sandbox", "default_cpu_millicores", \.sandbox.defaultCPUMillicores, default: 1000, range: 10...256_000,
            unit: "millicores", doc: "CPU quota of a job that does not ask for one (1000 = one core)."),
        .integer(
            "sandbox", "max_cpu_millicores", \.sandbox.maxCPUMillicores, default: 4000, range: 10...256_000,
            unit: "millicores", doc: "The largest CPU quota a job may ask for."),
        .integer(
            "sandbox", "default_output_bytes", \.sandbox.defaultOutputBytes, default: 1 << 20, range: 0...(4 << 20),
            unit: "bytes", doc: "Standard-output cap of a job that does not ask for one; more fails the job."),
        .integer(
            "sandbox", "max_output_bytes", \.sandbox.maxOutputBytes, default: 4 << 20, range: 0...(4 << 20),
            unit: "bytes", doc: "The largest standard-output cap a job may ask for."),
        .integer(
            "sandbox", "fetch_max_bytes", \.sandbox.fetchMaxBytes, default: 8 << 20, range: 1...(1 << 30),
            unit: "bytes", doc: "Largest source document fetched for a job."),
        .integer(
            "sandbox", "fetch_timeout_ms", \.sandbox.fetchTimeoutMs, default: 10_000, range: 100...600_000,
            unit: "milliseconds", doc: "Total time allowed for fetching one source (a slow server fails the job)."),
        .integer(
            "sandbox", "fetch_max_redirects", \.sandbox.fetchMaxRedirects, default: 5, range: 0...20,
            unit: "redirects", doc: "Redirects followed per source; each target is checked like the first URL."),
        .choice(
            "sandbox", "allow_image_tags", \.sandbox.allowImageTags, default: .no,
            doc:
                "Whether an image may be named by tag alone. Keep no: every validator must run the same bytes, which only a digest pins."
        ),
        .strings(
            "sandbox", "fetch_allow", \.sandbox.fetchAllow,
            type: "array of \"ip\", \"ip/prefix\" or \"host:port\"",
            doc:
                "Private, loopback or link-local addresses that sources may still be fetched from (by default none: a job cannot reach the operator's network)."
        ),
        .strings(
            "sandbox", "insecure_registries", \.sandbox.insecureRegistries, type: "array of \"host:port\"",
            doc: "OCI registries pulled from over plain http (every other registry needs https)."),
        .integer(
            "sandbox", "wasm_fuel", \.sandbox.wasmFuel, default: 1_000_000_000, range: 1_000...1_000_000_000_000,
            unit: "fuel units", doc: "Instruction budget of a WASM job."),
        .integer(
            "sandbox", "wasm_max_memory_mb", \.sandbox.wasmMaxMemoryMB, default: 256, range: 1...4096, unit: "MiB",
            doc: "Linear-memory cap of a WASM job."),

        // [bridge]
        .hostPort(
            "bridge", "rpc_listen", \.bridge.rpcListen, default: "127.0.0.1:26666",
            doc: "Framed RPC listener of the bridge-adapter."),
        .hostPort(
            "bridge", "http_listen", \.bridge.httpListen, default: "127.0.0.1:26667",
            doc: "/healthz, /readyz, /metrics, /status of the bridge-adapter."),

        // [batch]
        .hostPort(
            "batch", "rpc_listen", \.batch.rpcListen, default: "127.0.0.1:26668",
            doc: "Framed RPC listener of the batch-proposer."),
        .hostPort(
            "batch", "http_listen", \.batch.httpListen, default: "127.0.0.1:26669",
            doc: "/healthz, /readyz, /metrics, /status of the batch-proposer."),

        // [local]
        .optionalHostPort(
            "local", "consensus_rpc", \.local.consensusRPCOverride,
            doc:
                "Where the local services dial their consensus-manager. Empty: consensus.rpc_listen (a 0.0.0.0 or :: host becomes loopback)."
        ),
        .integer(
            "local", "heartbeat_interval_ms", \.local.heartbeatIntervalMs, default: 5_000, range: 1...maxMs,
            unit: "milliseconds", doc: "How often a local service reports liveness to the consensus-manager."),
        .integer(
            "local", "service_timeout_ms", \.local.serviceTimeoutMs, default: 15_000, range: 1...maxMs,
            unit: "milliseconds",
            doc: "Deadline of local RPC calls, and how long without a heartbeat before a service counts as down."),

        // [rpc]
        .integer(
            "rpc", "max_frame_bytes", \.rpc.maxFrameBytes, default: 16 << 20, range: 1024...(1 << 30),
            unit: "bytes",
            doc: "Largest frame accepted on any framed RPC or p2p connection; larger ones are rejected at the header."),
    ]

    /// The key named `section.key`, if any.
    public static func entry(named name: String) -> ConfigKeyDoc? {
        all.first { $0.name == name }
    }

    static func monikerProblem(_ s: String) -> String? {
        if s.isEmpty { return "must not be empty" }
        if s.count > 64 { return "longer than 64 characters" }
        if s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            return "contains control characters"
        }
        return nil
    }

    /// A Markdown table of every key (for the README).
    public static var docs: String {
        var lines = [
            "| Key | Type | Default | Environment | Description |",
            "|---|---|---|---|---|",
        ]
        for entry in all {
            let cells = [
                "`\(entry.name)`", entry.type, "`\(entry.defaultText)`", "`\(entry.envVar)`", entry.doc,
            ].map { $0.replacingPipes() }
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The default `config/node.toml`, with comments.
    public static var defaultTOML: String { NodeConfig.defaults.renderTOML() }
}

extension String {
    fileprivate func replacingPipes() -> String {
        split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|")
    }
}
