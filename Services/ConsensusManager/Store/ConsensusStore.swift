import LevelDB
import Synchronization
import Tendermint
import Wire

/// Why a consensus store operation failed.
public enum ConsensusStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// LevelDB failed (I/O, lock, …); nothing of the operation was written.
    case storage(String)
    /// Stored data that cannot be trusted: a damaged WAL record that is not the last one, an
    /// unreadable guard, block or state record, or records that contradict each other. The node
    /// must not run on it (an operator restores the data directory).
    case corruption(key: String, reason: String)
    /// The double-sign guard refused the message; nothing was written.
    case doubleSignRefused(GuardVerdict)
    /// The caller broke the order of heights (a record for a committed or ended height, a block
    /// that does not follow the latest one).
    case outOfOrder(String)
    /// A block whose certificate is for another value.
    case invalidBlock(String)

    public var description: String {
        switch self {
        case .storage(let m): "consensus store: \(m)"
        case .corruption(let key, let reason): "consensus store corrupted at \(key): \(reason)"
        case .doubleSignRefused(let v): "double-sign guard: \(v)"
        case .outOfOrder(let m): "consensus store: out of order: \(m)"
        case .invalidBlock(let m): "consensus store: invalid block: \(m)"
        }
    }
}

/// What `ConsensusStore.open` found.
public struct WALReplay: Hashable, Sendable {
    /// The height to run: the WAL's last height if it has no end marker, else the one after the
    /// last committed height; nil when nothing was ever persisted (start at genesis).
    public let height: Height?
    /// This node's signed messages of `height`, in the order they were written: the input of
    /// `Driver.restore(config:height:validators:signed:)`.
    public let records: [SignedMessage]
    /// A damaged last record that was dropped (and deleted); the shell logs it.
    public let droppedTail: WALDamage?
    /// The last signed step (the guard), which may be above `records` if the dropped tail was a
    /// signed message.
    public let lastSigned: SignedStep?
}

/// The consensus-manager's durable state in its LevelDB (`<home>/data/consensus`): the WAL, the
/// last-signed guard and the block store (key layouts in `WALRecord.swift`,
/// `LastSignedGuard.swift`, `BlockRecords.swift`). It shares the database with other key prefixes
/// (`inbox/req/`) and never touches them.
///
/// The host performs the driver's effects through it:
/// - `.persistSigned(m)` → `appendSigned(m)`: the guard check, then the WAL record and the new
///   last-signed step in one synced batch; only after it returns may the message be signed;
/// - `.broadcastProposal` / `.broadcastVote` → `verdict(for:)` must be permitted before signing
///   (it is for every message persisted at this height, e.g. the re-sends after `restore`);
/// - `.decide` → the host executes the block, then `commit` saves block, certificate and state
///   with the WAL's end-of-height marker and prunes older WAL heights, all in one synced batch.
///
/// At start, `open` replays the WAL; `Driver.restore` takes `records` of `height`.
public final class ConsensusStore: Sendable {
    private struct State: Sendable {
        var lastSigned: SignedStep?
        var latestHeight: Height?
        /// Height of the last WAL record, whether it has ended, and the next sequence in it.
        var walHeight: Height?
        var walEnded = false
        var nextSequence: UInt32 = 0
        /// The signed messages of `walHeight` in the WAL (while it has not ended).
        var persisted: Set<SignedStep> = []
    }

    public let store: LevelDBStore
    private let state: Mutex<State>

    private init(store: LevelDBStore, state: State) {
        self.store = store
        self.state = Mutex(state)
    }

    // MARK: Open and replay

    /// Reads the guard, the latest state and the WAL. A cut or checksum-failing last WAL record is
    /// deleted (synced, after every other check passed) and reported in `droppedTail`; any other
    /// damage throws `.corruption` and changes nothing. (LevelDB drops incomplete synced batches
    /// itself, so a damaged tail means disk damage or a bug: it is reported, and the last-signed
    /// guard, written in the same batch, still refuses a conflicting vote.)
    public static func open(_ store: LevelDBStore) throws(ConsensusStoreError) -> (ConsensusStore, WALReplay) {
        var s = State()
        if let bytes = try get(store, SignedStep.key) {
            do {
                s.lastSigned = try SignedStep.decode(bytes)
            } catch {
                throw .corruption(key: "guard/last-signed", reason: "\(error)")
            }
        }
        if let bytes = try get(store, BlockRecords.stateKey) {
            do {
                s.latestHeight = try BlockRecords.decodeState(bytes).height
            } catch {
                throw .corruption(key: "state/chain", reason: "\(error)")
            }
        }

        var entries: [(height: Height, sequence: UInt32, value: [UInt8])] = []
        do {
            try store.forEach(prefix: WALRecord.prefix) { key, value in
                guard let parsed = WALRecord.parseKey(key) else {
                    throw ConsensusStoreError.corruption(key: Hex.encode(key), reason: "not a WAL key")
                }
                entries.append((parsed.height, parsed.sequence, value))
                return true
            }
        } catch let error as ConsensusStoreError {
            throw error
        } catch {
            throw .storage("\(error)")
        }

        var records: [(height: Height, sequence: UInt32, record: WALRecord)] = []
        var dropped: WALDamage?
        for (i, entry) in entries.enumerated() {
            switch WALRecord.decode(entry.value, height: entry.height) {
            case .success(let record):
                records.append((entry.height, entry.sequence, record))
            case .failure(let defect):
                let damage = WALDamage(height: entry.height, sequence: entry.sequence, defect: defect)
                // A record whose checksum holds was written whole (e.g. by a newer binary): never
                // drop it, wherever it is.
                if case .undecodable = defect {
                    throw .corruption(key: keyName(entry.height, entry.sequence), reason: "\(defect)")
                }
                guard i == entries.count - 1 else {
                    // Records after it were written later: this one is not a cut last write.
                    throw .corruption(key: keyName(entry.height, entry.sequence), reason: "\(defect), not at the tail")
                }
                dropped = damage
            }
        }

        var replayHeight: Height?
        var replayRecords: [SignedMessage] = []
        if let last = records.last {
            let h = last.height
            let mine = records.filter { $0.height == h }
            for (i, entry) in mine.enumerated() {
                if case .endHeight = entry.record, i != mine.count - 1 {
                    throw .corruption(key: keyName(entry.height, entry.sequence), reason: "records after end of height")
                }
            }
            s.walHeight = h
            s.nextSequence = last.sequence &+ 1
            if case .endHeight = last.record {
                s.walEnded = true
                replayHeight = h.next
            } else {
                replayHeight = h
                for entry in mine {
                    if case .signed(let m) = entry.record {
                        replayRecords.append(m)
                        s.persisted.insert(SignedStep(m))
                    }
                }
                if let latest = s.latestHeight, h <= latest {
                    // The commit writes the block and the end marker in one batch: a committed
                    // height without its marker lost it to the dropped tail, else the data lie.
                    guard dropped?.height == h else {
                        throw .corruption(
                            key: keyName(h, last.sequence),
                            reason: "height \(h) has no end marker but block \(latest) is committed")
                    }
                    s.walEnded = true
                    s.persisted = []
                    replayRecords = []
                }
            }
        }
        if let latest = s.latestHeight, replayHeight.map({ $0 <= latest }) ?? true {
            replayHeight = latest.next
        }
        // Only now, with every check passed, delete the damaged tail: an open that ends in
        // `.corruption` leaves the data exactly as it found them, for the operator.
        if let dropped {
            do {
                try store.delete(WALRecord.key(height: dropped.height, sequence: dropped.sequence), sync: true)
            } catch {
                throw .storage("\(error)")
            }
        }
        let replay = WALReplay(
            height: replayHeight, records: replayRecords, droppedTail: dropped, lastSigned: s.lastSigned)
        return (ConsensusStore(store: store, state: s), replay)
    }

    // MARK: WAL and guard

    /// The last signed step (the guard).
    public var lastSigned: SignedStep? { state.withLock { $0.lastSigned } }

    /// Whether `message` may be signed now (see `LastSignedGuard.check`).
    public func verdict(for message: SignedMessage) -> GuardVerdict {
        state.withLock { s in Self.verdict(SignedStep(message), s) }
    }

    private static func verdict(_ step: SignedStep, _ s: State) -> GuardVerdict {
        let persisted = s.walHeight == step.height && !s.walEnded ? s.persisted : []
        return LastSignedGuard.check(step, last: s.lastSigned, persisted: persisted)
    }

    /// The driver's `.persistSigned(message)`: checks the guard, then writes the WAL record and the
    /// new last-signed step in one synced batch. When it returns, the message may be signed and
    /// sent; when it throws, it must not be. Appending a message already in the WAL is a no-op.
    public func appendSigned(_ message: SignedMessage) throws(ConsensusStoreError) {
        try state.withLock { (s: inout State) throws(ConsensusStoreError) in
            let h = message.height
            if let latest = s.latestHeight, h <= latest {
                throw .outOfOrder("a record for height \(h), but block \(latest) is committed")
            }
            if let w = s.walHeight, h < w || (h == w && s.walEnded) {
                throw .outOfOrder("a record for height \(h) after the WAL reached height \(w)")
            }
            let step = SignedStep(message)
            let verdict = Self.verdict(step, s)
            guard verdict.isPermitted else { throw .doubleSignRefused(verdict) }
            let sameHeight = s.walHeight == h
            if sameHeight, s.persisted.contains(step) { return }
            let sequence = sameHeight ? s.nextSequence : 0
            var batch = WriteBatch()
            batch.put(WALRecord.key(height: h, sequence: sequence), WALRecord.signed(message).encoded())
            // The record and the guard move together: after a crash, either both or neither.
            if verdict == .permitted { batch.put(SignedStep.key, step.encoded()) }
            try Self.write(store, batch)
            if !sameHeight { s.persisted = [] }
            s.walHeight = h
            s.walEnded = false
            s.nextSequence = sequence + 1
            s.persisted.insert(step)
            if verdict == .permitted { s.lastSigned = step }
        }
    }

    // MARK: Block store

    /// The height of the latest committed block.
    public var latestHeight: Height? { state.withLock { $0.latestHeight } }

    /// Saves a decided block atomically in one synced batch: the block (`value`), its commit
    /// certificate, the state after it, the WAL's end-of-height marker, and the deletion of the
    /// WAL records of older heights. The certificate's signatures were checked by the caller
    /// (the driver verified the quorum); here the block must be its value and follow the latest.
    public func commit(
        value: Value, certificate: CommitCertificate, state chainState: [UInt8]
    )
        throws(ConsensusStoreError)
    {
        let h = certificate.height
        guard certificate.valueID == value.id else {
            throw .invalidBlock("certificate for \(certificate.valueID), block \(value.id)")
        }
        guard chainState.count <= BlockRecords.maxStateBytes else {
            throw .invalidBlock("state of \(chainState.count) bytes exceeds \(BlockRecords.maxStateBytes)")
        }
        try state.withLock { (s: inout State) throws(ConsensusStoreError) in
            if let latest = s.latestHeight, h != latest.next {
                throw .outOfOrder("block \(h) after block \(latest)")
            }
            if let w = s.walHeight, w > h || (w == h && s.walEnded) {
                throw .outOfOrder("block \(h) while the WAL is at height \(w)\(s.walEnded ? " (ended)" : "")")
            }
            let sequence = s.walHeight == h ? s.nextSequence : 0
            var batch = WriteBatch()
            batch.put(BlockRecords.blockKey(h), BlockRecords.encode(value))
            batch.put(BlockRecords.commitKey(h), BlockRecords.encode(certificate))
            batch.put(
                WALRecord.key(height: h, sequence: sequence),
                WALRecord.endHeight(height: h, round: certificate.round, valueID: value.id).encoded())
            do {
                try store.forEach(prefix: WALRecord.prefix) { key, _ in
                    guard let parsed = WALRecord.parseKey(key), parsed.height < h else { return false }
                    batch.delete(key)
                    return true
                }
            } catch {
                throw .storage("\(error)")
            }
            batch.put(BlockRecords.stateKey, BlockRecords.encodeState(ChainState(height: h, bytes: chainState)))
            try Self.write(store, batch)
            s.latestHeight = h
            s.walHeight = h
            s.walEnded = true
            s.nextSequence = sequence + 1
            s.persisted = []
        }
    }

    /// The block committed at `height`, or nil.
    public func block(at height: Height) throws(ConsensusStoreError) -> StoredBlock? {
        let blockKey = BlockRecords.blockKey(height)
        guard let blockBytes = try Self.get(store, blockKey) else { return nil }
        guard let commitBytes = try Self.get(store, BlockRecords.commitKey(height)) else {
            throw .corruption(key: "commit/\(height)", reason: "block without its commit certificate")
        }
        let value: Value
        let certificate: CommitCertificate
        do {
            value = try BlockRecords.decode(blockBytes, as: Value.self)
            certificate = try BlockRecords.decode(commitBytes, as: CommitCertificate.self)
        } catch {
            throw .corruption(key: "block/\(height)", reason: "\(error)")
        }
        guard certificate.height == height, certificate.valueID == value.id else {
            throw .corruption(key: "block/\(height)", reason: "the certificate is for another height or value")
        }
        return StoredBlock(height: height, value: value, certificate: certificate)
    }

    /// The state saved with the latest block, or nil before the first commit.
    public func chainState() throws(ConsensusStoreError) -> ChainState? {
        guard let bytes = try Self.get(store, BlockRecords.stateKey) else { return nil }
        do {
            return try BlockRecords.decodeState(bytes)
        } catch {
            throw .corruption(key: "state/chain", reason: "\(error)")
        }
    }

    // MARK: LevelDB

    private static func get(_ store: LevelDBStore, _ key: [UInt8]) throws(ConsensusStoreError) -> [UInt8]? {
        do {
            return try store.get(key)
        } catch {
            throw .storage("\(error)")
        }
    }

    private static func write(_ store: LevelDBStore, _ batch: WriteBatch) throws(ConsensusStoreError) {
        do {
            try store.write(batch, sync: true)
        } catch {
            throw .storage("\(error)")
        }
    }

    static func keyName(_ h: Height, _ sequence: UInt32) -> String { "wal/\(h)/\(sequence)" }
}
