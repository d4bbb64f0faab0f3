import CryptoPrimitives
import Wire

extension TSSSessionProposal {
    /// SHA-256 of `sessionIDPreimage(chainID:)`: the same at every participant, different for any
    /// change of content, chain or nonce.
    public func sessionID(chainID: String) -> [UInt8] { SHA256.hash(sessionIDPreimage(chainID: chainID)) }
}
