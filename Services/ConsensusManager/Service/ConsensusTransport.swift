import ConsensusManagerCore
import Logging
import NIOCore
import RPC
import Synchronization
import Wire

/// The engine's way to its peers: one outbound RPC connection per validator (the one `PeerLinks`
/// keeps after a verified hello), over which every `ConsensusGossip` travels as an envelope
/// signed by this node in the `consensus` session, method `p2p.consensusGossip`.
///
/// Order: the engine seals and hands over messages from one actor, and each connection writes its
/// calls in the order they were started, so a peer receives each sender's sequence numbers
/// increasing (its replay guard requires it).
///
/// Gossip is fire-and-forget: answers are not awaited, a lost connection loses messages, and the
/// engine recovers them by re-gossip and block sync. A peer that stops reading cannot grow our
/// memory without bound: beyond `maxOutstanding` unanswered calls its messages are dropped (and
/// counted).
public final class ConsensusTransport: Sendable {
    public static let maxOutstanding = 4096

    private final class Outstanding: Sendable {
        let count = Atomic<Int>(0)
    }

    private struct Link {
        let client: RPCClient
        let outstanding: Outstanding
    }

    private struct State {
        var links: [Address: Link] = [:]
        var sent: UInt64 = 0
        var dropped: UInt64 = 0
        var failed: UInt64 = 0
    }

    let proto: PeerProtocol
    let logger: Logger
    private let state = Mutex(State())
    private let failures = Outstanding()

    public init(proto: PeerProtocol, logger: Logger) {
        self.proto = proto
        self.logger = logger
    }

    /// A verified outbound connection to `peer` (replaces an older one).
    public func attach(_ peer: Address, client: RPCClient) {
        state.withLock { $0.links[peer] = Link(client: client, outstanding: Outstanding()) }
    }

    /// The connection to `peer` is gone (only if it is still `client`).
    public func detach(_ peer: Address, client: RPCClient) {
        state.withLock { s in
            if let link = s.links[peer], link.client === client { s.links[peer] = nil }
        }
    }

    public var connectedPeers: [Address] { state.withLock { $0.links.keys.sorted() } }

    public var counters: (sent: UInt64, dropped: UInt64, failed: UInt64) {
        let (sent, dropped) = state.withLock { ($0.sent, $0.dropped) }
        return (sent, dropped, UInt64(failures.count.load(ordering: .relaxed)))
    }

    /// Sends `message` to every connected peer (one signature for all).
    public func broadcast(_ message: ConsensusGossip) {
        send(message, to: nil)
    }

    /// Sends `message` to `peer` only.
    public func send(_ message: ConsensusGossip, to peer: Address) {
        send(message, to: Optional(peer))
    }

    private func send(_ message: ConsensusGossip, to peer: Address?) {
        let targets: [Link] = state.withLock { s in
            if let peer { return s.links[peer].map { [$0] } ?? [] }
            return Array(s.links.values)
        }
        guard !targets.isEmpty else { return }
        let envelope: Envelope
        do {
            envelope = try proto.seal(message, type: MethodID.consensusGossip, session: .consensus)
        } catch {
            logger.error("cannot sign a consensus message", metadata: ["error": "\(error)"])
            return
        }
        let bytes = envelope.encoded()
        var sent: UInt64 = 0
        var dropped: UInt64 = 0
        for link in targets {
            guard link.outstanding.count.wrappingAdd(1, ordering: .relaxed).newValue <= Self.maxOutstanding else {
                link.outstanding.count.wrappingSubtract(1, ordering: .relaxed)
                dropped += 1
                continue
            }
            sent += 1
            let outstanding = link.outstanding
            let failures = failures
            link.client.callFuture(method: MethodID.consensusGossip, request: bytes, timeout: .seconds(30))
                .whenComplete { result in
                    outstanding.count.wrappingSubtract(1, ordering: .relaxed)
                    if case .failure = result { failures.count.wrappingAdd(1, ordering: .relaxed) }
                }
        }
        state.withLock {
            $0.sent += sent
            $0.dropped += dropped
        }
    }
}
