import Logging
import Metrics
import NIOCore
import NIOPosix
import NodeKit
import RPC
import ServiceLifecycle
import Synchronization
import Wire

/// A local service's link to its consensus-manager (DESIGN §2: the hub every local service talks
/// to): dial `local.consensus_rpc`, register (kind, instance, endpoints), then heartbeat every
/// `local.heartbeat_interval_ms`. Any failure closes the link and redials with backoff.
///
/// The consensus-manager's answer is checked: it must serve the same chain and the same validator
/// as this service's own home, so a service pointed at another node's consensus-manager by a
/// config mistake never counts as connected.
public final class ConsensusLink: Service, Sendable, CustomStringConvertible {
    public enum Phase: String, Sendable {
        case connecting, registered, disconnected, misconfigured, stopped
    }

    public struct Snapshot: Sendable {
        public var phase: Phase
        public var lastAckMs: UInt64?
        public var registrations: UInt64
        public var failures: UInt64
        public var lastError: String?
    }

    private let context: ServiceContext
    private let rpcAddress: String
    private let httpAddress: String
    private let group: any EventLoopGroup
    private let state: Mutex<Snapshot>
    private let client = Mutex<RPCClient?>(nil)
    private let failuresCounter: Counter

    public init(context: ServiceContext, rpcAddress: String, httpAddress: String, group: any EventLoopGroup) {
        self.context = context
        self.rpcAddress = rpcAddress
        self.httpAddress = httpAddress
        self.group = group
        self.state = Mutex(Snapshot(phase: .connecting, lastAckMs: nil, registrations: 0, failures: 0, lastError: nil))
        self.failuresCounter = Counter(label: "vn_consensus_link_failures_total")
    }

    public var description: String { "ConsensusLink(\(context.config.consensusRPC))" }

    public var snapshot: Snapshot { state.withLock { $0 } }

    /// Registered, the connection open, and the last heartbeat acknowledged within
    /// `local.service_timeout_ms`.
    public func isConnected(nowMs: UInt64 = Monotonic.nowMs()) -> Bool {
        let s = snapshot
        guard s.phase == .registered, let ack = s.lastAckMs else { return false }
        guard client.withLock({ $0?.isActive ?? false }) else { return false }
        return nowMs < ack || nowMs - ack <= UInt64(context.config.local.serviceTimeoutMs)
    }

    public var readinessCheck: ReadinessCheck {
        ReadinessCheck(name: "consensus-manager") { [self] in
            let s = snapshot
            if isConnected() { return .ready("registered with \(context.config.consensusRPC)") }
            return .notReady(
                "\(s.phase.rawValue) (\(context.config.consensusRPC))" + (s.lastError.map { ": \($0)" } ?? ""))
        }
    }

    public var statusJSON: JSONValue {
        let s = snapshot
        return .object([
            "address": .string("\(context.config.consensusRPC)"),
            "connected": .bool(isConnected()),
            "phase": .string(s.phase.rawValue),
            "registrations": .uint(s.registrations),
            "failures": .uint(s.failures),
            "last_error": s.lastError.map { .string($0) } ?? .null,
        ])
    }

    /// The link is not registered (connecting, lost, or pointed at another node).
    public struct NotConnected: Error, CustomStringConvertible {
        public let description: String
    }

    /// Calls the consensus-manager on the registered connection (the one it knows this service
    /// by). Throws `NotConnected` while the link is down, else what the call throws.
    public func call<Request: WireMessage, Response: WireMessage>(
        method: UInt16, request: Request, timeout: Duration
    ) async throws -> Response {
        guard isConnected(), let c = client.withLock({ $0 }) else {
            let s = snapshot
            let open = client.withLock { $0?.isActive ?? false }
            throw NotConnected(
                description: "no live link to the consensus-manager (\(s.phase.rawValue)"
                    + (open ? ", heartbeat overdue" : ", connection closed") + ")"
                    + (s.lastError.map { ": \($0)" } ?? ""))
        }
        return try await c.call(method: method, request: request, timeout: timeout)
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { try await self.loop() }
        state.withLock { $0.phase = .stopped }
        if let c = client.withLock({ c in
            defer { c = nil }; return c
        }) {
            await c.close()
        }
    }

    private func loop() async throws {
        var backoff = Backoff(min: .milliseconds(100), max: .seconds(2))
        var random = SystemRandomNumberGenerator()
        while !Task.isCancelled {
            do {
                try await session(onRegistered: { backoff.reset() })
            } catch {
                recordFailure(error)
            }
            if Task.isCancelled { break }
            try await Task.sleep(for: backoff.next(using: &random))
        }
    }

    private func recordFailure(_ error: any Error) {
        failuresCounter.increment()
        let message = "\(error)"
        let previous = state.withLock { s -> Phase in
            let p = s.phase
            s.failures &+= 1
            s.lastError = message
            if s.phase != .misconfigured { s.phase = .disconnected }
            return p
        }
        if previous == .registered {
            context.logger.warning("lost the consensus-manager link", metadata: ["error": "\(message)"])
        } else {
            context.logger.debug("consensus-manager link attempt failed", metadata: ["error": "\(message)"])
        }
    }

    private struct Misconfigured: Error, CustomStringConvertible {
        let description: String
    }

    /// One connection's life: connect, register, heartbeat until something fails.
    private func session(onRegistered: () -> Void) async throws {
        let target = context.config.consensusRPC
        state.withLock { if $0.phase != .misconfigured { $0.phase = .connecting } }
        let c = try await RPCClient.connect(
            host: target.host, port: target.port, group: group, maxFrameSize: context.config.rpc.maxFrameBytes,
            connectTimeout: .seconds(2), logger: context.logger)
        client.withLock { $0 = c }
        defer { Task { await c.close() } }
        let timeout = Duration.milliseconds(context.config.local.serviceTimeoutMs)
        let ack: RegisterServiceAck = try await c.call(
            method: MethodID.registerService,
            request: RegisterService(
                kind: context.kind, version: ServiceContext.version, instanceID: context.instanceID,
                rpcAddress: rpcAddress, httpAddress: httpAddress),
            timeout: timeout)
        guard ack.chainID == context.chainID, ack.validator == context.validator else {
            let message =
                "the consensus-manager at \(target) serves chain \(ack.chainID) / validator "
                + "\(checksummedAddress(ack.validator)), this home is \(context.chainID) / "
                + "\(checksummedAddress(context.validator))"
            state.withLock { $0.phase = .misconfigured }
            context.logger.error("consensus-manager mismatch", metadata: ["detail": "\(message)"])
            throw Misconfigured(description: message)
        }
        state.withLock {
            $0.phase = .registered
            $0.lastAckMs = Monotonic.nowMs()
            $0.registrations &+= 1
            $0.lastError = nil
        }
        onRegistered()
        context.logger.info("registered with the consensus-manager", metadata: ["address": "\(target)"])
        let interval = Duration.milliseconds(max(Int(ack.heartbeatIntervalMs), 50))
        var sequence: UInt64 = 0
        while !Task.isCancelled {
            try await Task.sleep(for: interval)
            sequence &+= 1
            let _: Empty = try await c.call(
                method: MethodID.heartbeat, request: ServiceHeartbeat(kind: context.kind, sequence: sequence),
                timeout: timeout)
            state.withLock { $0.lastAckMs = Monotonic.nowMs() }
        }
    }
}
