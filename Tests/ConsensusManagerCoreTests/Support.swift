import ConsensusManagerCore
import Secp256k1
import Tendermint
import Wire

/// Validator `n`'s key: the 32-byte big-endian integer `n` (fixed, so fixtures are stable).
func key(_ n: UInt8) -> PrivateKey { try! PrivateKey(bytes: [UInt8](repeating: 0, count: 31) + [n]) }
func address(_ n: UInt8) -> Address { try! Address(bytes: key(n).publicKey.ethereumAddressBytes) }

let chainID = "test-chain"

/// Validators 1…4, power 1 each (a quorum is 3).
let fourSet = try! ValidatorSet((1...4).map { Validator(address: address($0), power: 1) })

/// Signed precommits of `signers` for `blockID` at `(height, round)`.
func commit(_ height: Height, _ round: Round = 0, _ blockID: ValueID, by signers: [UInt8]) -> SignedCommit {
    SignedCommit(
        height: height, round: round, blockID: blockID,
        votes: signers.map { n in
            try! SignedVote.sign(.precommit(height, round, blockID, from: address(n)), chainID: chainID, key: key(n))
        })
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// A chain of `count` blocks built and committed by validators 1…4 through the real `ChainTip`.
func buildChain(_ count: Int, txsPerBlock: Int = 2) -> (tips: [ChainTip], blocks: [(Block, SignedCommit)]) {
    var app = KeyValueApp()
    var tip = ChainTip.genesis(chainID: chainID, validators: fourSet, appHash: app.appHash)
    var tips = [tip]
    var blocks: [(Block, SignedCommit)] = []
    for h in 1...count {
        let txs = (0..<txsPerBlock).map { bytes("k\(h)-\($0)=v\($0)") }
        let block = tip.makeBlock(
            round: 0, proposer: tip.validators.proposer.address, timeMs: UInt64(h) * 1000, txs: txs)
        let c = commit(Height(UInt64(h)), 0, block.hash, by: [1, 2, 3])
        _ = app.finalizeBlock(block)
        tip = tip.advanced(block: block, commit: c, appHash: app.commit())
        tips.append(tip)
        blocks.append((block, c))
    }
    return (tips, blocks)
}
