import NodeKit
import ServiceKit
import Wire

/// `batch-proposer`: L2 blocks into batches sent to L1, signed by the threshold key; tracking in `data/batches`.
///
/// Today the shell of the foundation: it serves its RPC port (every method answers
/// `unimplemented` until its issue lands), its HTTP endpoints, opens its stores and stays
/// registered with the local consensus-manager.
public enum BatchProposerService: LocalServiceDefinition {
    public static let kind = ServiceKind.batchProposer
    public static let stores: [NodeHome.Store] = [.batches]
}
