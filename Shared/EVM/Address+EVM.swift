import CryptoPrimitives
import Secp256k1
import Wire

extension Address {
    /// EIP-55 mixed-case checksummed form (`0x…`).
    public var checksummed: String { eip55Checksum(addressBytes: bytes) }

    /// Parses `0x` + 40 hex digits: all-lower or all-upper case is accepted as is, mixed case must
    /// carry a valid EIP-55 checksum.
    public init(eip55 text: String) throws(EVMError) {
        guard let bytes = try? parseEthereumAddress(text), let address = try? Address(bytes: bytes) else {
            throw .invalidAddress(text.count > 64 ? String(text.prefix(64)) + "…" : text)
        }
        self = address
    }

    /// The address of a secp256k1 public key.
    public init(publicKey: PublicKey) {
        // ethereumAddressBytes is always 20 bytes.
        self = try! Address(bytes: publicKey.ethereumAddressBytes)
    }

    /// The address of a contract created by `sender` with `nonce` (keccak(rlp([sender, nonce]))[12...]).
    public static func contractAddress(sender: Address, nonce: UInt64) -> Address {
        let encoded = RLP.encode(.list([.bytes(sender.bytes), .uint(nonce)]))
        return try! Address(bytes: Array(Keccak256.hash(encoded).suffix(20)))
    }
}
