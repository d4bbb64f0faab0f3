import CryptoPrimitives
import MPCMath

/// When and what a tss-signer precomputes for its Paillier randomizer pool (`PaillierNoncePool`).
/// Pure: elapsed times and pool counts come in, decisions go out, so table tests and a simulation
/// drive it without clocks; the service only measures the times and computes the randomizers.
public enum RandomizerRefill {
    /// Keys used (signed or presigned with) within this window keep randomizers ready.
    public static let keyWindow = Duration.seconds(3600)
    /// The pool fills only once no session has run for this long.
    public static let quietPeriod = Duration.seconds(1)

    /// Whether the pool may be topped up now: no session runs and none ended within the quiet
    /// period (`sinceLastSessionEnd` nil: none has ended yet).
    public static func mayRun(sessionsRunning: Int, sinceLastSessionEnd: Duration?) -> Bool {
        sessionsRunning == 0 && (sinceLastSessionEnd.map { $0 >= quietPeriod } ?? true)
    }

    /// Whether a key last used `sinceLastUse` ago is served.
    public static func serves(sinceLastUse: Duration) -> Bool { sinceLastUse < keyWindow }

    /// The randomizers still to make per modulus, in the order of `targets`, given how many the
    /// pool holds for each (`stocked`); moduli already at or above their target are left out.
    public static func shortfall(
        _ targets: [(key: PaillierPublicKey, count: Int)], stocked: (BigNum) -> Int
    ) -> [(key: PaillierPublicKey, missing: Int)] {
        targets.compactMap { target in
            let missing = target.count - stocked(target.key.n)
            return missing > 0 ? (target.key, missing) : nil
        }
    }
}
