import ConsensusManagerCore
import Tendermint
import Testing
import Wire

@Suite("Block format, signed commits, chain tip")
struct BlockTests {

    @Test("golden block: encoding and hash are pinned, and decode gives the block back")
    func golden() throws {
        let (_, blocks) = buildChain(2)
        let block = blocks[1].0
        let hex = Hex.encode(block.encoded())
        #expect(hex == Self.block2Full)
        #expect(Hex.encode(block.hash.bytes) == Self.block2Hash)
        #expect(try Block.decode(Hex.decode(Self.block2Full)) == block)
    }

    /// Block 2 of the fixed chain (`buildChain`: keys 1…4, deterministic RFC 6979 signatures):
    /// header (chain "test-chain", height 2, round 0, time 2000, proposer, previous hash, last
    /// commit hash, tx root, app hash), two txs `k2-0=v0` `k2-1=v1`, the signed commit of block 1.
    /// It pins the wire format: a change here is a format change (a new version), never a drift.
    static let block2Hash = "3e61b8dbf732c65f9caf00f14bc12b85cf17f53e1ad073c7c274d850a5993541"
    static let block2Full =
        "0000000a746573742d636861696e0000000000000002000000000000000000000000000007d02b5ad5c4795c026514f8"
        + "317c7a215e218dccd6cfb09980c56402a48890ea489d7ccc6be4e61f65f7b29759218364d3aeb831267019cf58a342c6"
        + "af810e1033255ccc63061ff849cf4ad4e1a4b7803cc060582e10e58693492b3d2a1b45519a2ffa2a54e1b5cb8c9fc3e9"
        + "b94110ab504b6f8c2c24f833c9cbdcb0f42c1c75efef89a756f78022a0bbe271a8bcc33871b82de99990000000020000"
        + "00076b322d303d7630000000076b322d313d76310100000000000000010000000000000000b09980c56402a48890ea48"
        + "9d7ccc6be4e61f65f7b29759218364d3aeb831267000000003020000000000000001000000000000000001b09980c564"
        + "02a48890ea489d7ccc6be4e61f65f7b29759218364d3aeb83126702b5ad5c4795c026514f8317c7a215e218dccd6cf39"
        + "ccfeeae705a28dd2aa667e6282907a8b227e62b3c6b0d18af53adfda63f320261d048948695225727535fcc4eea5132e"
        + "133d05bea7a86fdf4225ad4b00051200020000000000000001000000000000000001b09980c56402a48890ea489d7ccc"
        + "6be4e61f65f7b29759218364d3aeb83126706813eb9362372eef6200f3b1dbc3f819671cba69272d08cddd5c584e2895"
        + "2c72fd53f5f0301c35f863f3fc1926fede4f09da5c995a957998e17688165f87e169d3f12c9f30a01bbce263c5015256"
        + "201af9ea39c601020000000000000001000000000000000001b09980c56402a48890ea489d7ccc6be4e61f65f7b29759"
        + "218364d3aeb83126707e5f4552091a69125d5dfcb7b8c2659029395bdf653fbd775bfec43004a6dc71f579d28fd3cf0a"
        + "44799153b5345810104fff4c4f16f435efef386c53f07b75315d7037662b97014fc02bb2395415b09ea9e642d201"

    @Test("decode refuses trailing bytes, height 0, a round of -1 and oversized transactions")
    func hostileBlocks() throws {
        let (_, blocks) = buildChain(1)
        let good = blocks[0].0.encoded()
        #expect(throws: WireError.self) { try Block.decode(good + [0]) }
        var zeroHeight = good
        let heightAt = 4 + chainID.utf8.count
        for i in heightAt..<(heightAt + 8) { zeroHeight[i] = 0 }
        #expect(throws: WireError.self) { try Block.decode(zeroHeight) }
        var noRound = good
        for i in (heightAt + 8)..<(heightAt + 16) { noRound[i] = 0xff }
        #expect(throws: WireError.self) { try Block.decode(noRound) }
        let header = blocks[0].0.header
        let big = Block(header: header, txs: [[UInt8](repeating: 1, count: Block.maxTxBytes + 1)], lastCommit: nil)
        #expect(throws: WireError.self) { try Block.decode(big.encoded()) }
    }

    @Test("a signed commit verifies with 3 of 4 signatures and not with fewer or forged ones")
    func signedCommits() throws {
        let id = Value(bytes: bytes("block")).id
        try commit(5, 1, id, by: [1, 2, 3]).verify(chainID: chainID, validators: fourSet)
        try commit(5, 1, id, by: [1, 2, 3, 4]).verify(chainID: chainID, validators: fourSet, height: 5, blockID: id)
        #expect(throws: CommitError.self) {
            try commit(5, 1, id, by: [1, 2]).verify(chainID: chainID, validators: fourSet)
        }
        // A non-member's signature adds nothing.
        #expect(throws: CommitError.certificate(.unknownValidator(address(9)))) {
            try commit(5, 1, id, by: [1, 2, 9]).verify(chainID: chainID, validators: fourSet)
        }
        // Another chain's signatures.
        let foreign = SignedCommit(
            height: 5, round: 1, blockID: id,
            votes: [1, 2, 3].map { n in
                try! SignedVote.sign(.precommit(5, 1, id, from: address(n)), chainID: "other", key: key(n))
            })
        let firstSigner = [1, 2, 3].map { address(UInt8($0)) }.min()!
        #expect(throws: CommitError.badSignature(firstSigner)) {
            try foreign.verify(chainID: chainID, validators: fourSet)
        }
        // Validator 4's key signing in validator 3's name.
        let impostor = SignedVote(
            vote: .precommit(5, 1, id, from: address(3)),
            signature: try ConsensusSignature.sign(
                Vote.precommit(5, 1, id, from: address(3)).signBytes(chainID: chainID), key: key(4)))
        let forged = SignedCommit(
            height: 5, round: 1, blockID: id, votes: commit(5, 1, id, by: [1, 2]).votes + [impostor])
        #expect(throws: CommitError.badSignature(address(3))) {
            try forged.verify(chainID: chainID, validators: fourSet)
        }
        // A prevote is no precommit; a precommit for nil is for another value.
        let prevote = try SignedVote.sign(.prevote(5, 1, id, from: address(3)), chainID: chainID, key: key(3))
        let mixed = SignedCommit(
            height: 5, round: 1, blockID: id, votes: commit(5, 1, id, by: [1, 2]).votes + [prevote])
        #expect(throws: CommitError.self) { try mixed.verify(chainID: chainID, validators: fourSet) }
        #expect(throws: CommitError.wrongBlock(expected: Value(bytes: []).id, got: id)) {
            try commit(5, 1, id, by: [1, 2, 3]).verify(
                chainID: chainID, validators: fourSet, height: 5, blockID: Value(bytes: []).id)
        }
        #expect(throws: CommitError.wrongHeight(expected: 6, got: 5)) {
            try commit(5, 1, id, by: [1, 2, 3]).verify(chainID: chainID, validators: fourSet, height: 6, blockID: id)
        }
        // Round trip, and the decoder refuses unsorted votes.
        let c = commit(5, 1, id, by: [1, 2, 3])
        #expect(try SignedCommit.decode(c.encoded()) == c)
    }

    @Test("the chain tip accepts the next block and refuses every broken field")
    func tipChecks() throws {
        let (tips, blocks) = buildChain(3)
        let tip = tips[2]
        let good = blocks[2].0
        try tip.check(good)
        func altered(
            chain: String? = nil, height: Height? = nil, previous: [UInt8]? = nil, lastCommitHash: [UInt8]? = nil,
            txRoot: [UInt8]? = nil, appHash: [UInt8]? = nil, txs: [[UInt8]]? = nil, lastCommit: SignedCommit?? = nil
        ) -> Block {
            let h = good.header
            return Block(
                header: BlockHeader(
                    chainID: chain ?? h.chainID, height: height ?? h.height, round: h.round, timeMs: h.timeMs,
                    proposer: h.proposer, previousBlockHash: previous ?? h.previousBlockHash,
                    lastCommitHash: lastCommitHash ?? h.lastCommitHash, txRoot: txRoot ?? h.txRoot,
                    appHash: appHash ?? h.appHash),
                txs: txs ?? good.txs, lastCommit: lastCommit ?? good.lastCommit)
        }
        let zero = BlockHeader.zeroHash
        let rows: [(Block, BlockError)] = [
            (altered(chain: "other"), .wrongChain("other")),
            (altered(height: 5), .wrongHeight(expected: 3, got: 5)),
            (altered(previous: zero), .wrongPrevious),
            (altered(appHash: zero), .wrongAppHash),
            (altered(txs: [bytes("x=1")]), .wrongTxRoot),
            (altered(lastCommitHash: zero), .wrongLastCommitHash),
            (altered(lastCommitHash: zero, lastCommit: .some(nil)), .missingLastCommit),
        ]
        for (block, expected) in rows {
            #expect(throws: expected) { try tip.check(block) }
        }
        // A last commit with too few signatures, consistently hashed.
        let weak = commit(2, 0, ValueID(bytes: tip.lastBlockHash), by: [1, 2])
        #expect(throws: BlockError.lastCommit(.certificate(.insufficientPower(have: 2, total: 4)))) {
            try tip.check(altered(lastCommitHash: Block.commitHash(weak), lastCommit: .some(weak)))
        }
        // The first block must not carry one.
        let first = blocks[0].0
        let withCommit = Block(header: first.header, txs: first.txs, lastCommit: weak)
        #expect(throws: BlockError.wrongLastCommitHash) { try tips[0].check(withCommit) }
        // The tip round-trips through its stored form.
        #expect(try ChainTip.decode(tip.encoded()) == tip)
    }
}
