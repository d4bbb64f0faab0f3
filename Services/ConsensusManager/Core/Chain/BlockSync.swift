import Tendermint
import Wire

/// Block-sync decisions (CometBFT's blocksync reactor, one block at a time): peers report the
/// height they have committed; a node behind asks one of them for the block and its signed
/// commit at its next height and accepts only what `ChainTip.checkSynced` verifies. Pure: the
/// engine passes the monotonic time in.
///
/// One request is in flight at a time; it is given up after `requestTimeoutMs` (or when its peer
/// answers something unusable), and the next request goes to another peer that has the height,
/// in rotation, so a peer that withholds or lies only costs a timeout.
public struct BlockSync: Sendable {
    public struct Request: Hashable, Sendable {
        public let peer: Address
        public let height: Height
        public let sentMs: UInt64
    }

    public struct Counters: Hashable, Sendable {
        public var requested: UInt64 = 0
        public var applied: UInt64 = 0
        public var refused: UInt64 = 0
        public var timedOut: UInt64 = 0
        public var unsolicited: UInt64 = 0
    }

    public let requestTimeoutMs: UInt64
    public private(set) var peerHeights: [Address: Height] = [:]
    public private(set) var inFlight: Request?
    public private(set) var counters = Counters()
    /// The last peer asked, for the rotation.
    private var lastPeer: Address?

    public init(requestTimeoutMs: UInt64 = 2000) {
        self.requestTimeoutMs = requestTimeoutMs
    }

    /// A peer said it has committed `height` (heights only grow: an older report is ignored,
    /// except after the peer's link was lost, see `forget`).
    public mutating func peerReported(_ peer: Address, committed height: Height) {
        if let known = peerHeights[peer], known >= height { return }
        peerHeights[peer] = height
    }

    public mutating func forget(_ peer: Address) {
        peerHeights[peer] = nil
        if inFlight?.peer == peer { inFlight = nil }
    }

    /// The highest height any peer reported.
    public var bestPeerHeight: Height? { peerHeights.values.max() }

    /// Whether some peer has committed `height`.
    public func isBehind(next height: Height) -> Bool { (bestPeerHeight ?? 0) >= height }

    /// The request to send now for our next height `next`, if any: nil while one is in flight
    /// and not timed out, or when no peer has `next`.
    public mutating func nextRequest(next: Height, nowMs: UInt64) -> Request? {
        if let r = inFlight {
            if r.height == next, nowMs < r.sentMs + requestTimeoutMs { return nil }
            if r.height == next { counters.timedOut += 1 }
            inFlight = nil
        }
        let candidates = peerHeights.filter { $0.value >= next }.keys.sorted()
        guard !candidates.isEmpty else { return nil }
        // Rotate: the first candidate after the last one asked.
        let last = lastPeer
        let peer = candidates.first { c in last.map { $0 < c } ?? true } ?? candidates[0]
        lastPeer = peer
        let request = Request(peer: peer, height: next, sentMs: nowMs)
        inFlight = request
        counters.requested += 1
        return request
    }

    /// What to do with a block-sync answer.
    public enum Verdict: Hashable, Sendable {
        /// Verified: commit it (then ask for the next height).
        case apply(Block, SignedCommit)
        /// Not for our next height, or not asked for: ignore.
        case ignore
        /// It does not verify: drop it and ask someone else.
        case refuse(BlockError)
    }

    /// Decides on an answer from `peer` with `value` and `commit` for our chain at `tip`.
    public mutating func received(from peer: Address, value: Value, commit: SignedCommit, tip: ChainTip) -> Verdict {
        guard commit.height == tip.nextHeight else {
            counters.unsolicited += 1
            return .ignore
        }
        if inFlight?.peer == peer, inFlight?.height == commit.height { inFlight = nil }
        do {
            let block = try tip.checkSynced(value: value, commit: commit)
            counters.applied += 1
            return .apply(block, commit)
        } catch {
            counters.refused += 1
            return .refuse(error)
        }
    }
}
