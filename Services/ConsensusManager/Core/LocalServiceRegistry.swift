import Wire

/// Which local services (tss-signer, inbox-listener, ...) are attached to this consensus-manager.
///
/// Pure: the shell feeds registrations, heartbeats and connection closes with the current monotonic
/// time in milliseconds; readiness is a function of the state and `now`. A service counts as
/// connected while the connection it registered on is open and its last heartbeat is younger than
/// `timeoutMs` (so a half-open TCP connection cannot keep a dead service green).
public struct LocalServiceRegistry: Sendable {
    public struct Entry: Sendable, Equatable {
        public let kind: ServiceKind
        public let instanceID: [UInt8]
        public let version: String
        public let rpcAddress: String
        public let httpAddress: String
        public let connection: UInt64
        public let registeredAtMs: UInt64
        public var lastHeartbeatMs: UInt64
        public var heartbeats: UInt64
    }

    public enum RegistrationOutcome: Equatable, Sendable {
        /// First registration of this kind (or after a disconnect).
        case registered
        /// A new instance replaced one still registered (e.g. restarted before the old connection
        /// was seen to close); the old connection should be closed by the shell.
        case replaced(oldConnection: UInt64)
        /// Not a kind this consensus-manager serves (e.g. a second consensus-manager).
        case rejected(reason: String)
    }

    public let expected: [ServiceKind]
    public let timeoutMs: UInt64
    private var entries: [ServiceKind: Entry] = [:]
    /// Registrations, replacements, disconnects and timeouts seen; for `/metrics` and `/status`.
    public private(set) var disconnects: UInt64 = 0

    public init(expected: [ServiceKind], timeoutMs: UInt64) {
        self.expected = expected
        self.timeoutMs = timeoutMs
    }

    public mutating func register(_ r: RegisterService, connection: UInt64, nowMs: UInt64) -> RegistrationOutcome {
        guard expected.contains(r.kind) else {
            return .rejected(reason: "\(r.kind.name) is not a local service of a consensus-manager")
        }
        let entry = Entry(
            kind: r.kind, instanceID: r.instanceID, version: r.version, rpcAddress: r.rpcAddress,
            httpAddress: r.httpAddress, connection: connection, registeredAtMs: nowMs, lastHeartbeatMs: nowMs,
            heartbeats: 0)
        let previous = entries.updateValue(entry, forKey: r.kind)
        if let previous, previous.connection != connection {
            return .replaced(oldConnection: previous.connection)
        }
        return .registered
    }

    /// Records a heartbeat. Returns false when the kind is not registered on this connection, which
    /// tells the service to register again (e.g. after the consensus-manager restarted).
    public mutating func heartbeat(kind: ServiceKind, connection: UInt64, nowMs: UInt64) -> Bool {
        guard var e = entries[kind], e.connection == connection else { return false }
        e.lastHeartbeatMs = max(e.lastHeartbeatMs, nowMs)
        e.heartbeats &+= 1
        entries[kind] = e
        return true
    }

    /// Forgets every service registered on a closed connection; returns their kinds.
    @discardableResult
    public mutating func connectionClosed(_ connection: UInt64) -> [ServiceKind] {
        let gone = entries.values.filter { $0.connection == connection }.map(\.kind)
        for k in gone { entries[k] = nil }
        disconnects &+= UInt64(gone.count)
        return gone.sorted { $0.rawValue < $1.rawValue }
    }

    public func entry(_ kind: ServiceKind) -> Entry? { entries[kind] }

    public func isConnected(_ kind: ServiceKind, nowMs: UInt64) -> Bool {
        guard let e = entries[kind] else { return false }
        return nowMs &- e.lastHeartbeatMs <= timeoutMs || nowMs < e.lastHeartbeatMs
    }

    public struct View: Sendable, Equatable {
        public let kind: ServiceKind
        public let connected: Bool
        public let entry: Entry?
        /// Milliseconds since the last heartbeat, if registered.
        public let silentForMs: UInt64?
    }

    /// One row per expected service, in the order given at init.
    public func snapshot(nowMs: UInt64) -> [View] {
        expected.map { k in
            let e = entries[k]
            return View(
                kind: k, connected: isConnected(k, nowMs: nowMs), entry: e,
                silentForMs: e.map { nowMs >= $0.lastHeartbeatMs ? nowMs - $0.lastHeartbeatMs : 0 })
        }
    }
}
