import Tendermint
import Wire

/// `checkTx`'s answer.
public enum TxVerdict: Hashable, Sendable {
    case accept
    case reject(String)

    public var isAccepted: Bool { self == .accept }
}

/// The answer to an application query.
public struct QueryResult: Hashable, Sendable {
    public let found: Bool
    public let value: [UInt8]
    /// The height of the committed state that answered.
    public let height: Height

    public init(found: Bool, value: [UInt8], height: Height) {
        self.found = found
        self.value = value
        self.height = height
    }
}

/// The replicated application behind the consensus engine, shaped like ABCI 2.0 (CometBFT
/// `CheckTx`, `PrepareProposal`, `ProcessProposal`, `FinalizeBlock`, `Commit`, `Query`), in process
/// and pure: the engine calls it from one place, in this order for every height —
/// `prepareProposal` (proposer) / `processProposal` (everyone), then `finalizeBlock` and `commit`
/// for the decided block. `checkTx` and `query` read the committed state only.
///
/// Determinism is the contract: the same blocks in the same order give the same `appHash` on
/// every node; nothing may depend on clocks, randomness or the node.
public protocol Application: Sendable {
    /// The last committed height (0 before the first block).
    var height: Height { get }
    /// The hash of the committed state (what the next block's header carries).
    var appHash: [UInt8] { get }

    /// Whether `tx` may enter the mempool now (against the committed state).
    func checkTx(_ tx: [UInt8]) -> TxVerdict
    /// The transactions of the proposer's block, chosen among the mempool's `candidates` (in
    /// their order), at most `maxBytes` of transaction bytes in total.
    func prepareProposal(height: Height, candidates: [[UInt8]], maxBytes: Int) -> [[UInt8]]
    /// Whether a proposed block is acceptable (`valid(v)` in Algorithm 1, as far as the
    /// application is concerned; the engine checks the header and commits itself).
    func processProposal(_ block: Block) -> Bool
    /// Executes the decided block; one result per transaction.
    mutating func finalizeBlock(_ block: Block) -> [TxVerdict]
    /// Makes the finalized block the committed state; returns the new app hash.
    mutating func commit() -> [UInt8]
    /// Reads the committed state.
    func query(path: String, data: [UInt8]) -> QueryResult
}
