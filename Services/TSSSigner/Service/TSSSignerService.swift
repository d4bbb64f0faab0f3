import LevelDB
import NodeKit
import ServiceKit
import Wire

/// `tss-signer`: GG20 threshold ECDSA and FROST signing; sealed key shards in `data/tss.db`.
///
/// Today the shell of the foundation: it serves its RPC port (every method answers
/// `unimplemented` until its issue lands), its HTTP endpoints, opens its stores and stays
/// registered with the local consensus-manager.
public enum TSSSignerService: LocalServiceDefinition {
    public static let kind = ServiceKind.tssSigner
    public static let stores: [NodeHome.Store] = [.tss]

    /// The sealed key store and the pre-params pool (`KeyStoreRuntime.swift`).
    public static func extras(
        context: ServiceContext, stores: [NodeHome.Store: LevelDBStore], link: ConsensusLink
    ) throws -> LocalServiceExtras {
        try TSSKeyStoreRuntime.open(context: context, db: stores[.tss]!).extras
    }
}
