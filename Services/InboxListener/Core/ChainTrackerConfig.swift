import EVM
import Wire

/// Everything a `ChainTracker` needs to know about one chain. Plain values; the service reads
/// them from the node config.
public struct ChainTrackerConfig: Hashable, Sendable {
    /// The chain's EIP-155 id (request ids embed it).
    public var chainID: UInt64
    /// The Inbox contract (logs of any other address are rejected).
    public var inbox: Address
    /// The first block to scan on a fresh start (the inbox's deployment block).
    public var startBlock: UInt64
    /// Block hashes kept for reorg detection. A reorg whose fork point lies below the window
    /// halts the tracker (`.reorgBeyondWindow`); acknowledged ids of blocks below the window are
    /// evicted from the seen-set (they can no longer be rescanned). Keep it above the chain's
    /// finality depth and above `maxBlocksPerFetch`.
    public var window: Int
    /// Blocks per `.fetchBlocks` / `.fetchLogs` (keep `eth_getLogs` within server limits).
    public var maxBlocksPerFetch: UInt64
    /// Floor on the wait: a request asking for fewer confirmations waits this many (the chain's
    /// own reorg safety margin).
    public var minConfirmations: UInt64
    /// Cap on the wait: a request asking for more waits this many. Safe only when it is at
    /// least the chain's finality depth (more confirmations than finality add nothing).
    public var maxConfirmations: UInt64
    /// Requests forwarded and not yet acknowledged, at most.
    public var maxInFlight: Int
    /// Confirmed requests not yet acknowledged, above which the tracker stops fetching ahead
    /// (backpressure: the chain waits, nothing is dropped).
    public var maxQueued: Int
    public var limits: RequestLimits

    public enum Invalid: Error, Hashable, Sendable {
        case window(Int)
        case maxBlocksPerFetch(UInt64)
        case confirmations(min: UInt64, max: UInt64)
        case maxInFlight(Int)
        case maxQueued(Int)
        case limitsAboveWireMaximum
    }

    public init(
        chainID: UInt64, inbox: Address, startBlock: UInt64 = 0, window: Int = 256, maxBlocksPerFetch: UInt64 = 64,
        minConfirmations: UInt64 = 0, maxConfirmations: UInt64 = 10_000, maxInFlight: Int = 32, maxQueued: Int = 1024,
        limits: RequestLimits = .inboxContract
    ) throws(Invalid) {
        guard maxBlocksPerFetch >= 1 else { throw .maxBlocksPerFetch(maxBlocksPerFetch) }
        guard window >= 2, UInt64(window) > maxBlocksPerFetch else { throw .window(window) }
        guard minConfirmations <= maxConfirmations else {
            throw .confirmations(min: minConfirmations, max: maxConfirmations)
        }
        guard maxInFlight >= 1 else { throw .maxInFlight(maxInFlight) }
        guard maxQueued >= maxInFlight else { throw .maxQueued(maxQueued) }
        guard limits.isWithin(.wireMaximum) else { throw .limitsAboveWireMaximum }
        self.chainID = chainID
        self.inbox = inbox
        self.startBlock = startBlock
        self.window = window
        self.maxBlocksPerFetch = maxBlocksPerFetch
        self.minConfirmations = minConfirmations
        self.maxConfirmations = maxConfirmations
        self.maxInFlight = maxInFlight
        self.maxQueued = maxQueued
        self.limits = limits
    }

    /// The request's own count, raised to the floor and capped. A request in block b is ready
    /// once the verified tip is at least b + this.
    public func confirmationsToWait(_ request: InboxRequest) -> UInt64 {
        min(max(request.confirmations, minConfirmations), maxConfirmations)
    }

    public var decoder: InboxLogDecoder { InboxLogDecoder(chainID: chainID, inbox: inbox, limits: limits) }
}
