import Tendermint
import Wire

/// Why a block does not extend the chain.
public enum BlockError: Error, Hashable, Sendable, CustomStringConvertible {
    case undecodable(String)
    case wrongChain(String)
    case wrongHeight(expected: Height, got: Height)
    case wrongPrevious
    case wrongAppHash
    case wrongTxRoot
    case wrongLastCommitHash
    case missingLastCommit
    case unexpectedLastCommit
    case lastCommit(CommitError)
    case wrongProposer(expected: Address, got: Address)
    case rejectedByApplication
    case commit(CommitError)

    public var description: String {
        switch self {
        case .undecodable(let why): "not a block: \(why)"
        case .wrongChain(let c): "block of chain \(c)"
        case .wrongHeight(let e, let g): "block at height \(g), expected \(e)"
        case .wrongPrevious: "the previous block hash is not our last block"
        case .wrongAppHash: "the app hash is not our state after the previous block"
        case .wrongTxRoot: "the tx root does not match the transactions"
        case .wrongLastCommitHash: "the last commit hash does not match the last commit"
        case .missingLastCommit: "the block has no commit of its predecessor"
        case .unexpectedLastCommit: "the first block carries a last commit"
        case .lastCommit(let e): "last commit: \(e)"
        case .wrongProposer(let e, let g): "block proposed by \(g), expected \(e)"
        case .rejectedByApplication: "the application refused the block"
        case .commit(let e): "commit: \(e)"
        }
    }
}

/// What a node knows after its last committed block, and all it needs to build and check the
/// next one: the state saved with each block (`ConsensusStore.commit`'s `chainState`).
///
/// Wire layout: `u8 version (1) · string chainID · u64 height · 32-byte lastBlockHash ·
/// optional SignedCommit lastCommit · 32-byte appHash · u64 lastBlockTimeMs ·
/// ValidatorSet validators (of height + 1) · optional ValidatorSet lastValidators (of height)`.
public struct ChainTip: Hashable, Sendable, WireMessage {
    public static let version: UInt8 = 1

    public let chainID: String
    /// The last committed height (0 before the first block).
    public let height: Height
    public let lastBlockHash: [UInt8]
    /// The signed commit of block `height` (nil at genesis).
    public let lastCommit: SignedCommit?
    /// The application's hash after block `height`.
    public let appHash: [UInt8]
    public let lastBlockTimeMs: UInt64
    /// The validators of height `height + 1`.
    public let validators: ValidatorSet
    /// The validators of height `height` (nil at genesis): they signed `lastCommit`.
    public let lastValidators: ValidatorSet?

    public init(
        chainID: String, height: Height, lastBlockHash: [UInt8], lastCommit: SignedCommit?, appHash: [UInt8],
        lastBlockTimeMs: UInt64, validators: ValidatorSet, lastValidators: ValidatorSet?
    ) {
        self.chainID = chainID
        self.height = height
        self.lastBlockHash = lastBlockHash
        self.lastCommit = lastCommit
        self.appHash = appHash
        self.lastBlockTimeMs = lastBlockTimeMs
        self.validators = validators
        self.lastValidators = lastValidators
    }

    /// Before the first block.
    public static func genesis(chainID: String, validators: ValidatorSet, appHash: [UInt8]) -> ChainTip {
        ChainTip(
            chainID: chainID, height: 0, lastBlockHash: BlockHeader.zeroHash, lastCommit: nil, appHash: appHash,
            lastBlockTimeMs: 0, validators: validators, lastValidators: nil)
    }

    public var nextHeight: Height { height.next }

    /// The block a proposer offers at `nextHeight`.
    public func makeBlock(round: Round, proposer: Address, timeMs: UInt64, txs: [[UInt8]]) -> Block {
        Block(
            header: BlockHeader(
                chainID: chainID, height: nextHeight, round: round, timeMs: timeMs, proposer: proposer,
                previousBlockHash: lastBlockHash, lastCommitHash: Block.commitHash(lastCommit),
                txRoot: Block.txRoot(txs),
                appHash: appHash),
            txs: txs, lastCommit: lastCommit)
    }

    /// Checks that `block` extends this tip: chain, height, predecessor, app hash, roots, and the
    /// predecessor's commit (signatures against `lastValidators`). The proposer of a proposal is
    /// checked by the caller, which knows the round.
    public func check(_ block: Block) throws(BlockError) {
        let h = block.header
        guard h.chainID == chainID else { throw .wrongChain(h.chainID) }
        guard h.height == nextHeight else { throw .wrongHeight(expected: nextHeight, got: h.height) }
        guard h.previousBlockHash == lastBlockHash else { throw .wrongPrevious }
        guard h.appHash == appHash else { throw .wrongAppHash }
        guard h.txRoot == Block.txRoot(block.txs) else { throw .wrongTxRoot }
        guard h.lastCommitHash == Block.commitHash(block.lastCommit) else { throw .wrongLastCommitHash }
        if let lastValidators {
            guard let commit = block.lastCommit else { throw .missingLastCommit }
            do {
                try commit.verify(
                    chainID: chainID, validators: lastValidators, height: height, blockID: ValueID(bytes: lastBlockHash)
                )
            } catch {
                throw .lastCommit(error)
            }
        } else if block.lastCommit != nil {
            throw .unexpectedLastCommit
        }
    }

    /// Checks a block received by block sync: it decodes, extends this tip, and `commit` proves
    /// it was decided (more than 2/3 of `validators`' power signed precommits for its hash).
    public func checkSynced(value: Value, commit: SignedCommit) throws(BlockError) -> Block {
        do {
            try commit.verify(chainID: chainID, validators: validators, height: nextHeight, blockID: value.id)
        } catch {
            throw .commit(error)
        }
        let block: Block
        do {
            block = try Block.decode(value: value)
        } catch {
            throw .undecodable("\(error)")
        }
        try check(block)
        return block
    }

    /// The tip after `block` was committed with `commit`, the application now at `appHash`.
    /// The validator set does not change yet (the PoS application will supply changes); its
    /// proposer priorities move by one election per height (CometBFT).
    public func advanced(block: Block, commit: SignedCommit, appHash: [UInt8]) -> ChainTip {
        // `next()` without changes cannot fail (no validator is added or removed).
        let nextSet = (try? validators.next()) ?? validators
        return ChainTip(
            chainID: chainID, height: block.header.height, lastBlockHash: commit.blockID.bytes, lastCommit: commit,
            appHash: appHash, lastBlockTimeMs: block.header.timeMs, validators: nextSet, lastValidators: validators)
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeUInt8(Self.version)
        writer.writeString(chainID)
        writer.writeMessage(height)
        writer.writeFixedBytes(lastBlockHash)
        writer.writeOptional(lastCommit) { $0.writeMessage($1) }
        writer.writeFixedBytes(appHash)
        writer.writeUInt64(lastBlockTimeMs)
        writer.writeMessage(validators)
        writer.writeOptional(lastValidators) { $0.writeMessage($1) }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        let v = try reader.readUInt8()
        guard v == Self.version else { throw .invalidValue("unknown chain tip version \(v)") }
        chainID = try reader.readString(maxLength: BlockHeader.maxChainIDLength)
        height = try reader.readMessage(Height.self)
        lastBlockHash = try reader.readFixedBytes(count: 32)
        lastCommit = try reader.readOptional { (r: inout WireReader) throws(WireError) in
            try r.readMessage(SignedCommit.self)
        }
        appHash = try reader.readFixedBytes(count: 32)
        lastBlockTimeMs = try reader.readUInt64()
        validators = try reader.readMessage(ValidatorSet.self)
        lastValidators = try reader.readOptional { (r: inout WireReader) throws(WireError) in
            try r.readMessage(ValidatorSet.self)
        }
    }
}
