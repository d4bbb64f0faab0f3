/// Errors of the MPC math layer. Each names what was wrong, never a secret value. Values that
/// arrive from peers are validated by the `validate…` / `init(…) throws` entry points and fail
/// with the cases below; the protocol layer maps them to a blamed party.
public enum MPCMathError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A Paillier or ring-Pedersen modulus / key is malformed (too small, even, not a Blum
    /// integer, primes not safe, …); the text says which check failed.
    case invalidKey(String)
    /// A Paillier plaintext outside the accepted range ([0, N) or |m| ≤ (N − 1)/2).
    case plaintextOutOfRange
    /// A Paillier ciphertext outside Z*_{N²} (not in (0, N²) or not coprime to N).
    case invalidCiphertext
    /// Encryption randomness outside Z*_N.
    case invalidRandomness
    /// A ring-Pedersen element outside Z*_Ñ (or trivial).
    case invalidRingPedersenElement
    /// A parameter out of its documented range; the text names it.
    case invalidParameter(String)

    public var description: String {
        switch self {
        case .invalidKey(let why): "invalid key: \(why)"
        case .plaintextOutOfRange: "Paillier plaintext out of range"
        case .invalidCiphertext: "invalid Paillier ciphertext (must be in Z*_{N^2})"
        case .invalidRandomness: "invalid Paillier randomness (must be in Z*_N)"
        case .invalidRingPedersenElement: "invalid ring-Pedersen element (must be in Z*_N, not 0 or 1)"
        case .invalidParameter(let why): "invalid parameter: \(why)"
        }
    }
}
