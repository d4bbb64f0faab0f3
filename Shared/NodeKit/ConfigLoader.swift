import Foundation
import TOMLKit
import Wire

/// Everything wrong with a configuration, each problem naming the key and where the value came
/// from (the file or the environment variable).
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public enum Origin: Sendable, Equatable {
            /// The TOML file at this path.
            case file(String)
            /// The named environment variable.
            case environment(String)
            /// The combination of file and environment (a rule between two keys).
            case combined
        }

        public let origin: Origin
        /// `section.key`, or nil for problems with the file as a whole.
        public let key: String?
        public let message: String

        public init(origin: Origin, key: String?, message: String) {
            self.origin = origin
            self.key = key
            self.message = message
        }

        public var description: String {
            let keyPart = key.map { "\($0): " } ?? ""
            switch origin {
            case .file(let path): return "\(path): \(keyPart)\(message)"
            case .environment(let variable): return "environment variable \(variable): \(keyPart)\(message)"
            case .combined: return "configuration: \(keyPart)\(message)"
            }
        }
    }

    public let problems: [Problem]

    public init(problems: [Problem]) { self.problems = problems }

    public var description: String {
        if problems.count == 1 { return problems[0].description }
        return "\(problems.count) configuration problems:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

extension NodeConfig {
    /// Reads `<home>/config/node.toml`, then applies `VN_<SECTION>_<KEY>` environment variables.
    /// Keys missing from the file keep their defaults. Every problem (unknown section or key, wrong
    /// type, invalid value) is reported, not only the first.
    public static func load(
        home: NodeHome, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> NodeConfig {
        let path = home.configFile
        let text: String
        do {
            text = try FileIO.readString(path, maxBytes: 1 << 20)
        } catch {
            let hint = error.isNotFound ? " (create the node home with the `init` command)" : ""
            throw ConfigError(problems: [.init(origin: .file(path), key: nil, message: "\(error)\(hint)")])
        }
        return try parse(toml: text, file: path, environment: environment)
    }

    /// Parses TOML `text` (named `file` in errors) over the defaults, then applies `environment`.
    public static func parse(
        toml text: String, file: String = "node.toml", environment: [String: String] = [:]
    ) throws(ConfigError) -> NodeConfig {
        var config = NodeConfig.defaults
        var problems = [ConfigError.Problem]()
        let origin = ConfigError.Problem.Origin.file(file)

        func problem(_ key: String?, _ message: String) {
            problems.append(.init(origin: origin, key: key, message: message))
        }

        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            let at = "line \(error.source.begin.line), column \(error.source.begin.column)"
            throw ConfigError(problems: [
                .init(origin: origin, key: nil, message: "invalid TOML at \(at): \(error.description)")
            ])
        } catch {
            throw ConfigError(problems: [.init(origin: origin, key: nil, message: "invalid TOML: \(error)")])
        }

        withExtendedLifetime(root) {
            let knownSections = Set(ConfigKeys.sections.map(\.name))
            for sectionName in root.keys.sorted() {
                guard let sectionValue = root[sectionName] else { continue }
                guard knownSections.contains(sectionName) else {
                    if sectionValue.type == .table {
                        problem(
                            sectionName,
                            "unknown section [\(sectionName)] (known: \(ConfigKeys.sections.map(\.name).joined(separator: ", ")))"
                        )
                    } else {
                        problem(sectionName, "unknown top-level key (every key belongs to a [section])")
                    }
                    continue
                }
                guard sectionValue.type == .table, let table = sectionValue.table else {
                    problem(sectionName, "expected a table [\(sectionName)], found \(sectionValue.type)")
                    continue
                }
                for key in table.keys.sorted() {
                    let name = "\(sectionName).\(key)"
                    if name == InboxChainConfig.key, let value = table[key] {
                        config.inboxChains = InboxChainConfig.parse(value, problem: problem)
                        continue
                    }
                    guard let entry = ConfigKeys.entry(named: name) else {
                        let known = ConfigKeys.all.filter { $0.section == sectionName }.map(\.key)
                        problem(name, "unknown key (known in [\(sectionName)]: \(known.joined(separator: ", ")))")
                        continue
                    }
                    guard let value = table[key] else { continue }
                    do throws(ConfigValueProblem) {
                        let raw = try configValue(from: value, kind: entry.kind)
                        try entry.assign(&config, raw)
                    } catch {
                        problem(name, error.message)
                    }
                }
            }
        }

        problems += applyEnvironment(environment, to: &config)
        if problems.isEmpty { problems += config.crossCheck() }
        guard problems.isEmpty else { throw ConfigError(problems: problems) }
        return config
    }

    /// Applies `VN_<SECTION>_<KEY>` variables; unknown `VN_<SECTION>_*` names of a known section are
    /// errors (a typo must not be silently ignored). Other variables are left alone.
    static func applyEnvironment(_ environment: [String: String], to config: inout NodeConfig) -> [ConfigError.Problem]
    {
        var problems = [ConfigError.Problem]()
        let byVariable = Dictionary(uniqueKeysWithValues: ConfigKeys.all.map { ($0.envVar, $0) })
        let sectionPrefixes = ConfigKeys.sections.map { "VN_\($0.name.uppercased())_" }
        for variable in environment.keys.sorted() {
            guard variable.hasPrefix("VN_"), let text = environment[variable] else { continue }
            guard let entry = byVariable[variable] else {
                if let prefix = sectionPrefixes.first(where: { variable.hasPrefix($0) }) {
                    let known = ConfigKeys.all.filter { "VN_\($0.section.uppercased())_" == prefix }.map(\.envVar)
                    problems.append(
                        .init(
                            origin: .environment(variable), key: nil,
                            message: "no such configuration key (known: \(known.joined(separator: ", ")))"))
                }
                continue
            }
            do throws(ConfigValueProblem) {
                let raw: ConfigValue
                switch entry.kind {
                case .string:
                    raw = .string(text)
                case .integer:
                    let trimmed = text.trimmingCharacters(in: .whitespaces)
                    guard let i = Int(trimmed) else {
                        throw ConfigValueProblem("expected an integer, found \(JSONValue.quoted(text))")
                    }
                    raw = .integer(i)
                case .strings:
                    raw = .strings(
                        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                            !$0.isEmpty
                        })
                }
                try entry.assign(&config, raw)
            } catch {
                problems.append(.init(origin: .environment(variable), key: entry.name, message: error.message))
            }
        }
        return problems
    }

    private static func configValue(
        from value: TOMLValueConvertible, kind: ConfigValue.Kind
    ) throws(ConfigValueProblem) -> ConfigValue {
        func found(_ v: TOMLValueConvertible) -> String { "found \(v.type)" }
        switch kind {
        case .string:
            guard value.type == .string, let s = value.string else {
                throw ConfigValueProblem("expected a string, \(found(value))")
            }
            return .string(s)
        case .integer:
            guard value.type == .int, let i = value.int else {
                throw ConfigValueProblem("expected an integer, \(found(value))")
            }
            return .integer(i)
        case .strings:
            guard value.type == .array, let array = value.array else {
                throw ConfigValueProblem("expected an array of strings, \(found(value))")
            }
            var items = [String]()
            for (index, element) in array.enumerated() {
                guard element.type == .string, let s = element.string else {
                    throw ConfigValueProblem("element \(index): expected a string, \(found(element))")
                }
                items.append(s)
            }
            return .strings(items)
        }
    }

    /// Rules between keys, checked after file and environment.
    func crossCheck() -> [ConfigError.Problem] {
        var problems = [ConfigError.Problem]()
        func problem(_ key: String, _ message: String) {
            problems.append(.init(origin: .combined, key: key, message: message))
        }
        if consensus.dialBackoffMinMs > consensus.dialBackoffMaxMs {
            problem(
                "consensus.dial_backoff_min_ms",
                "\(consensus.dialBackoffMinMs) exceeds consensus.dial_backoff_max_ms (\(consensus.dialBackoffMaxMs))")
        }
        if consensus.peerTimeoutMs <= consensus.peerPingIntervalMs {
            problem(
                "consensus.peer_timeout_ms",
                "\(consensus.peerTimeoutMs) must exceed consensus.peer_ping_interval_ms (\(consensus.peerPingIntervalMs))"
            )
        }
        let sandboxPairs: [(String, Int, String, Int)] = [
            ("default_timeout_ms", sandbox.defaultTimeoutMs, "max_timeout_ms", sandbox.maxTimeoutMs),
            ("default_memory_mb", sandbox.defaultMemoryMB, "max_memory_mb", sandbox.maxMemoryMB),
            ("default_pids", sandbox.defaultPids, "max_pids", sandbox.maxPids),
            ("default_cpu_millicores", sandbox.defaultCPUMillicores, "max_cpu_millicores", sandbox.maxCPUMillicores),
            ("default_output_bytes", sandbox.defaultOutputBytes, "max_output_bytes", sandbox.maxOutputBytes),
        ]
        for (defaultKey, value, maxKey, maximum) in sandboxPairs where value > maximum {
            problem("sandbox.\(defaultKey)", "\(value) exceeds sandbox.\(maxKey) (\(maximum))")
        }
        for (key, peers) in [
            ("consensus.persistent_peers", consensus.persistentPeers), ("tss.persistent_peers", tss.persistentPeers),
        ] {
            var seenPeers = [Address: Int]()
            for (i, peer) in peers.enumerated() {
                if let first = seenPeers[peer.address] {
                    problem(key, "entries \(first) and \(i) name the same validator \(peer.address)")
                } else {
                    seenPeers[peer.address] = i
                }
            }
        }
        // Two listeners of this node on one port would fail at bind time; say which keys clash.
        let listeners = ConfigKeys.all.compactMap { entry -> (String, HostPort)? in
            guard entry.key.hasSuffix("_listen"), case .string(let s) = entry.read(self),
                let hp = try? HostPort(parsing: s),
                hp.port != 0
            else { return nil }
            return (entry.name, hp)
        }
        for i in listeners.indices {
            for j in listeners.indices where j > i {
                let (a, x) = listeners[i]
                let (b, y) = listeners[j]
                let wildcard: Set<String> = ["0.0.0.0", "::"]
                if x.port == y.port, x.host == y.host || wildcard.contains(x.host) || wildcard.contains(y.host) {
                    problem(b, "\(y) clashes with \(a) (\(x)); every listener needs its own port")
                }
            }
        }
        return problems
    }

    /// This configuration as `node.toml`, every key preceded by its documentation, type, default
    /// and environment variable.
    public func renderTOML() -> String {
        var out = """
            # Validator node configuration (config/node.toml), read by all six services.
            # Each service uses [node], [local], [rpc] and its own section.
            # Every key can be overridden by the environment variable VN_<SECTION>_<KEY>
            # (e.g. VN_CONSENSUS_HTTP_LISTEN=0.0.0.0:26657); arrays there are comma-separated.

            """
        for section in ConfigKeys.sections {
            out += "\n# \(section.doc)\n[\(section.name)]\n"
            for entry in ConfigKeys.all where entry.section == section.name {
                out += "\n"
                for line in Self.wrap(entry.doc, width: 98) { out += "# \(line)\n" }
                out += "# Type: \(entry.type). Default: \(entry.defaultText). Env: \(entry.envVar).\n"
                let value = entry.read(self)
                if case .strings(let items) = value, !items.isEmpty {
                    out += "\(entry.key) = [\n"
                    for item in items { out += "  \(JSONValue.quoted(item)),\n" }
                    out += "]\n"
                } else {
                    out += "\(entry.key) = \(value.tomlLiteral)\n"
                }
            }
            if section.name == "inbox" {
                // The key table's one exception (an array of tables): documented, not generated.
                out += """

                    # The chains to read, one [[inbox.chains]] table each (none by default; no environment
                    # override): chain_id (1 … 2^63-1), rpc (1-8 http(s) URLs, failover order), inbox (the
                    # Inbox contract), start_block (default 0), poll_interval_ms (10 … 3600000, default 1000).
                    # [[inbox.chains]]
                    # chain_id = 1337
                    # rpc = ["http://127.0.0.1:8545"]
                    # inbox = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
                    # start_block = 0
                    # poll_interval_ms = 1000

                    """
            }
        }
        return out
    }

    static func wrap(_ text: String, width: Int) -> [String] {
        var lines = [String]()
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += line.isEmpty ? String(word) : " " + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}
