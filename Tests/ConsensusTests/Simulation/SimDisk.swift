import ConsensusStore
import Tendermint
import Wire

/// A decided height as the block store keeps it.
struct SimBlock {
    let proposal: Proposal
    let certificate: CommitCertificate
}

/// What survives a node's crash: an in-memory `ConsensusStore`. It keeps the same rules, and for
/// the double-sign guard it calls the store's own pure `LastSignedGuard`:
/// - `appendSigned` (the driver's `.persistSigned`): the guard check, then the WAL record and the
///   new last-signed step together; a record for a committed height is refused;
/// - `verdict(for:)` before every broadcast (the host signs only what the guard permits: a
///   persisted message of the running height is a re-send);
/// - `commit`: the block, the end of the WAL height and the pruning of its records together;
/// - `replay`: what `ConsensusStore.open` hands to `Driver.restore` (the WAL height if it has not
///   ended, with its records; else the height after the last block, without records).
struct SimDisk {
    private(set) var blocks: [SimBlock] = []
    private(set) var wal: [SignedMessage] = []
    private(set) var walHeight: Height?
    private(set) var walEnded = false
    private(set) var lastSigned: SignedStep?
    private var persisted: Set<SignedStep> = []

    /// The height after the last committed block.
    var nextHeight: Height { Height(UInt64(blocks.count + 1)) }

    /// Why the store refused a record (the host must then not sign).
    enum Refusal: Error, CustomStringConvertible {
        case guardRefused(GuardVerdict)
        case outOfOrder(String)

        var description: String {
            switch self {
            case .guardRefused(let v): "double-sign guard: \(v)"
            case .outOfOrder(let m): "out of order: \(m)"
            }
        }
    }

    func verdict(for message: SignedMessage) -> GuardVerdict {
        let step = SignedStep(message)
        let current = walHeight == step.height && !walEnded ? persisted : []
        return LastSignedGuard.check(step, last: lastSigned, persisted: current)
    }

    /// Whether `message` is a record of the running WAL height (what a broadcast must be).
    func holds(_ message: SignedMessage) -> Bool {
        walHeight == message.height && !walEnded && persisted.contains(SignedStep(message))
    }

    mutating func appendSigned(_ message: SignedMessage) throws(Refusal) {
        let h = message.height
        guard h >= nextHeight else {
            throw .outOfOrder("a record for height \(h), but block \(blocks.count) is committed")
        }
        if let w = walHeight, h < w || (h == w && walEnded) {
            throw .outOfOrder("a record for height \(h) after the WAL reached height \(w)")
        }
        let step = SignedStep(message)
        let verdict = verdict(for: message)
        guard verdict.isPermitted else { throw .guardRefused(verdict) }
        if walHeight != h {
            wal = []
            persisted = []
        }
        walHeight = h
        walEnded = false
        if persisted.insert(step).inserted { wal.append(message) }
        if verdict == .permitted { lastSigned = step }
    }

    mutating func commit(_ block: SimBlock) throws(Refusal) {
        let h = block.certificate.height
        guard h == nextHeight else { throw .outOfOrder("block \(h) after block \(blocks.count)") }
        if let w = walHeight, w > h || (w == h && walEnded) { throw .outOfOrder("block \(h) with the WAL at \(w)") }
        blocks.append(block)
        walHeight = h
        walEnded = true
        wal = []
        persisted = []
    }

    /// The height to run after a restart and this node's signed messages of it.
    func replay() -> (height: Height, records: [SignedMessage]) {
        if let w = walHeight, !walEnded, w == nextHeight { return (w, wal) }
        return (nextHeight, [])
    }
}
