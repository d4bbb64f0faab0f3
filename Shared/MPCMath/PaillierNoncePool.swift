import CryptoPrimitives
import Synchronization

/// Paillier randomizers (r, r^N mod N²) computed ahead of time, per modulus: a tss-signer fills it
/// while idle for its own key and its peers', and a presigning that runs on the spot (a signer set
/// nobody keeps presignatures for: explicit signers, or a failover after a silent signer) takes
/// from it instead of spending an N²-size exponentiation per encryption: eight of a 3-of-5
/// signer's sixteen 4096-bit exponentiations, and its thirteen own-key ones.
///
/// Each randomizer is handed out once (removed under the lock); nothing is persisted (a restart
/// starts empty); the numbers are secret `BigNum`s, wiped when the last reference goes.
public final class PaillierNoncePool: PaillierNonceSource {
    private let stock = Mutex<[BigNum: [PaillierNonce]]>([:])

    public init() {}

    public func takeNonce(modulus n: BigNum) -> PaillierNonce? {
        stock.withLock { $0[n]?.popLast() }
    }

    /// Computes one randomizer for `key` and stocks it (by CRT when `owner` holds the key's
    /// factorisation). Randomizers enter a pool only this way, so none is ever stocked twice.
    public func precompute<R: RandomSource>(
        for key: PaillierPublicKey, owner: PaillierSecretKey?, using rng: inout R
    )
        throws
    {
        let nonce = try key.precomputeNonce(using: &rng, owner: owner)
        stock.withLock { $0[nonce.modulus, default: []].append(nonce) }
    }

    /// Randomizers ready for modulus n.
    public func count(modulus n: BigNum) -> Int { stock.withLock { $0[n]?.count ?? 0 } }

    /// Randomizers ready, all moduli together.
    public var total: Int { stock.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    /// Drops every modulus not in `keep` (keys retired or reshared away) and returns how many
    /// randomizers went.
    @discardableResult
    public func retain(only keep: Set<BigNum>) -> Int {
        stock.withLock { s in
            let gone = s.filter { !keep.contains($0.key) }
            for modulus in gone.keys { s[modulus] = nil }
            return gone.values.reduce(0) { $0 + $1.count }
        }
    }
}
