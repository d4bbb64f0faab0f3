import ConsensusManagerCore
import RPC
import Wire

extension ConsensusEngine {
    /// Registers `p2p.consensusGossip` on a peer server: the envelope is verified (sender ∈
    /// validators, signature, chain, the `consensus` session, replay guard) on the event loop,
    /// in arrival order, then its payload goes to the engine. A rejected envelope is answered
    /// `unauthenticated` and counted by `proto`.
    public nonisolated func registerGossip(
        on server: RPCServer, proto: PeerProtocol, onReject: @escaping @Sendable () -> Void = {}
    ) {
        server.registerSync(MethodID.consensusGossip, request: Envelope.self) { [self] envelope, _ in
            let message: ConsensusGossip
            do {
                message = try proto.open(
                    envelope, type: MethodID.consensusGossip, session: .consensus, as: ConsensusGossip.self)
            } catch {
                onReject()
                throw RPCError(.unauthenticated, "\(error)")
            }
            deliver(message, from: envelope.sender)
            return Empty()
        }
    }
}
