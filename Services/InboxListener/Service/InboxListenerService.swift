import LevelDB
import NodeKit
import ServiceKit
import Wire

/// `inbox-listener`: reads requests from inbox contracts on EVM chains (`[[inbox.chains]]`),
/// one `ChainPoller` per chain, cursors and seen-sets in `data/inbox.db`, and forwards
/// confirmed requests to the local consensus-manager (`MethodID.submitInboxRequests`).
public enum InboxListenerService: LocalServiceDefinition {
    public static let kind = ServiceKind.inboxListener
    public static let stores: [NodeHome.Store] = [.inbox]

    public static func extras(
        context: ServiceContext, stores: [NodeHome.Store: LevelDBStore], link: ConsensusLink
    ) throws -> LocalServiceExtras {
        let pollers = try context.config.inboxChains.map {
            try ChainPoller(
                chain: $0, store: stores[.inbox]!, link: link,
                forwardTimeout: .milliseconds(context.config.local.serviceTimeoutMs), logger: context.logger)
        }
        if pollers.isEmpty {
            context.logger.notice("no [[inbox.chains]] configured: nothing to read")
        }
        let chains = ReadinessCheck(name: "chains") {
            let reasons = pollers.compactMap(\.notReadyReason)
            if reasons.isEmpty { return .ready("\(pollers.count) chains reachable") }
            return .notReady(reasons.joined(separator: "; "))
        }
        return LocalServiceExtras(
            services: pollers, readinessChecks: [chains],
            status: { ["chains": .array(pollers.map(\.statusJSON))] })
    }
}
