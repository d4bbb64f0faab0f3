import NodeKit
import ServiceKit
import Wire

/// `bridge-adapter`: The Metis bridge: L1 staking events, L2 head watching; cursors in `data/bridge`.
///
/// Today the shell of the foundation: it serves its RPC port (every method answers
/// `unimplemented` until its issue lands), its HTTP endpoints, opens its stores and stays
/// registered with the local consensus-manager.
public enum BridgeAdapterService: LocalServiceDefinition {
    public static let kind = ServiceKind.bridgeAdapter
    public static let stores: [NodeHome.Store] = [.bridge]
}
