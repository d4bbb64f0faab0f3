import ConsensusManagerCore
import Logging
import NIOCore
import NodeKit
import RPC
import ServiceKit
import ServiceLifecycle
import Wire

/// Dials every persistent peer and keeps each link alive: connect → signed hello (the answer must
/// be signed by that peer's genesis key) → a signed ping every `consensus.peer_ping_interval_ms`.
/// Any failure drops the link and redials with exponential backoff and jitter
/// (`consensus.dial_backoff_min_ms` … `dial_backoff_max_ms`).
public struct PeerLinks: Service, CustomStringConvertible {
    let node: ConsensusManagerNode
    let group: any EventLoopGroup

    public init(node: ConsensusManagerNode, group: any EventLoopGroup) {
        self.node = node
        self.group = group
    }

    public var description: String { "PeerLinks" }

    public func run() async throws {
        let peers = node.context.config.consensus.persistentPeers
        // A single validator has no peer to keep: stay until shutdown (a service that returns
        // would stop the whole node).
        if peers.isEmpty {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { tasks in
                for peer in peers {
                    tasks.addTask { await self.maintain(peer) }
                }
            }
        }
    }

    private func maintain(_ peer: PeerAddress) async {
        var backoff = node.context.config.consensus.dialBackoff
        var random = SystemRandomNumberGenerator()
        let logger = node.context.logger
        while !Task.isCancelled {
            node.peers.withLock { $0.dialing(peer.address) }
            var wasUp = false
            do {
                try await link(peer) {
                    wasUp = true
                    backoff.reset()
                    logger.info("peer connected", metadata: ["peer": "\(peer)"])
                }
            } catch {
                node.peers.withLock { $0.linkLost(peer.address, error: "\(error)") }
                if wasUp {
                    logger.warning("peer link lost", metadata: ["peer": "\(peer)", "error": "\(error)"])
                } else {
                    logger.debug("peer dial failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
                }
            }
            if Task.isCancelled { break }
            try? await Task.sleep(for: backoff.next(using: &random))
        }
    }

    private struct LinkError: Error, CustomStringConvertible {
        let description: String
    }

    private func link(_ peer: PeerAddress, onUp: () -> Void) async throws {
        let config = node.context.config
        let proto = node.peerProtocol
        let timeout = config.consensus.peerTimeout
        let client = try await RPCClient.connect(
            host: peer.endpoint.host, port: peer.endpoint.port, group: group, maxFrameSize: config.rpc.maxFrameBytes,
            connectTimeout: .milliseconds(Int64(min(config.consensus.peerTimeoutMs, 5000))), logger: node.context.logger
        )
        defer { Task { await client.close() } }

        let hello = try proto.seal(
            PeerHello(
                chainID: node.context.chainID, validator: node.context.validator,
                p2pAddress: "\(config.consensus.p2pListen)", version: ServiceContext.version),
            type: MethodID.peerHello, session: .request)
        let answer: Envelope = try await client.call(method: MethodID.peerHello, request: hello, timeout: timeout)
        let theirHello = try proto.open(
            answer, type: MethodID.peerHello, session: .response, as: PeerHello.self, from: peer.address)
        guard theirHello.chainID == node.context.chainID, theirHello.validator == peer.address else {
            throw LinkError(description: "peer answered for chain \(theirHello.chainID) / \(theirHello.validator)")
        }
        node.peers.withLock { $0.linkEstablished(peer.address, nowMs: Monotonic.nowMs()) }
        node.transport.attach(peer.address, client: client)
        defer { node.transport.detach(peer.address, client: client) }
        onUp()

        var nonce = UInt64.random(in: 0...UInt64.max / 2)
        while !Task.isCancelled {
            try await Task.sleep(for: config.consensus.peerPingInterval)
            nonce &+= 1
            let sentUs = Monotonic.nowUs()
            let ping = try proto.seal(PeerPing(nonce: nonce), type: MethodID.peerPing, session: .request)
            let reply: Envelope = try await client.call(method: MethodID.peerPing, request: ping, timeout: timeout)
            let pong = try proto.open(
                reply, type: MethodID.peerPing, session: .response, as: PeerPong.self, from: peer.address)
            guard pong.nonce == nonce else {
                throw LinkError(description: "pong for nonce \(pong.nonce), expected \(nonce)")
            }
            let now = Monotonic.nowUs()
            node.peers.withLock { $0.pong(peer.address, nowMs: now / 1000, roundTripUs: now - sentUs) }
        }
    }
}
