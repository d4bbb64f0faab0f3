import NodeKit
import ServiceKit
import Wire

/// `inbox-listener`: Reads requests from inbox contracts on EVM chains; cursors in `data/inbox.db`.
///
/// Today the shell of the foundation: it serves its RPC port (every method answers
/// `unimplemented` until its issue lands), its HTTP endpoints, opens its stores and stays
/// registered with the local consensus-manager.
public enum InboxListenerService: LocalServiceDefinition {
    public static let kind = ServiceKind.inboxListener
    public static let stores: [NodeHome.Store] = [.inbox]
}
