/// The on-disk layout of one validator node (DESIGN §4). All six services of a validator share
/// one home; each reads its section of `config/node.toml` and owns one store under `data/`.
///
/// ```
/// <home>/config/node.toml
/// <home>/config/genesis.json
/// <home>/config/priv_validator_key.json   (0600)
/// <home>/config/node_key.json             (0600)
/// <home>/data/<store>/                    (LevelDB, one per service)
/// <home>/run/                             (pid files, sockets)
/// ```
public struct NodeHome: Sendable, Hashable, CustomStringConvertible {
    /// The home directory, as given (relative paths stay relative to the working directory).
    public let path: String

    public init(path: String) {
        var p = path
        while p.count > 1, p.hasSuffix("/") { p.removeLast() }
        self.path = p
    }

    public var description: String { path }

    public var configDir: String { FileIO.join(path, "config") }
    public var dataDir: String { FileIO.join(path, "data") }
    /// Pid files and other runtime state that does not survive a reboot's worth of meaning.
    public var runDir: String { FileIO.join(path, "run") }

    public var configFile: String { FileIO.join(configDir, "node.toml") }
    public var genesisFile: String { FileIO.join(configDir, "genesis.json") }
    public var validatorKeyFile: String { FileIO.join(configDir, "priv_validator_key.json") }
    public var nodeKeyFile: String { FileIO.join(configDir, "node_key.json") }

    /// The data stores of DESIGN §4, by owning service.
    public enum Store: String, Sendable, CaseIterable {
        case consensus = "consensus"
        case tss = "tss.db"
        case inbox = "inbox.db"
        case bridge = "bridge"
        case batches = "batches"
    }

    /// `<home>/data/<name>` (e.g. `dataPath("tss.db")`). `name` must be a single path component.
    public func dataPath(_ name: String) -> String {
        precondition(
            !name.isEmpty && !name.contains("/") && name != "." && name != "..",
            "data store name must be one path component, got \(name)")
        return FileIO.join(dataDir, name)
    }

    public func dataPath(_ store: Store) -> String { dataPath(store.rawValue) }

    /// Mode of every directory NodeKit creates under the home.
    public static let directoryMode: UInt32 = 0o700
    /// Mode of key files.
    public static let keyFileMode: UInt32 = 0o600
    /// Mode of non-secret files (config, genesis).
    public static let publicFileMode: UInt32 = 0o644

    /// Creates the home, `config/`, `data/` and `run/` (mode 0700) if missing. Existing
    /// directories keep their permissions; see `permissionWarnings()`.
    public func createDirectories() throws(FileIOError) {
        for dir in [path, configDir, dataDir, runDir] {
            try FileIO.makeDirectory(dir, mode: Self.directoryMode)
        }
    }

    /// Warnings about loose permissions on the home's secrets: key files readable by group or
    /// others, the config directory writable by group or others.
    public func permissionWarnings() -> [String] {
        var warnings = [String]()
        for file in [validatorKeyFile, nodeKeyFile] where FileIO.exists(file) {
            if let warning = Self.keyFilePermissionWarning(file) { warnings.append(warning) }
        }
        if let mode = try? FileIO.permissions(configDir), mode & 0o022 != 0 {
            warnings.append(
                "\(configDir) is writable by group or others (mode \(Self.octal(mode))); run: chmod 700 \(configDir)")
        }
        return warnings
    }

    /// A warning if `file` (a secret) is accessible to group or others, else nil.
    public static func keyFilePermissionWarning(_ file: String) -> String? {
        guard let mode = try? FileIO.permissions(file), mode & 0o077 != 0 else { return nil }
        return "\(file) is accessible by group or others (mode \(octal(mode))); run: chmod 600 \(file)"
    }

    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
