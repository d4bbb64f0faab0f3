import CryptoPrimitives
import Logging
import Secp256k1
import Wire

/// Why a key file cannot be used. Messages never contain private key material.
public enum KeyFileError: Error, Equatable, CustomStringConvertible {
    case io(FileIOError)
    case alreadyExists(path: String)
    case malformed(path: String, reason: String)
    /// A public field (`address`, `pub_key`) does not match the private key.
    case mismatch(path: String, field: String, declared: String, derived: String)

    public var description: String {
        switch self {
        case .io(let e): "\(e)"
        case .alreadyExists(let path):
            "\(path) already exists; refusing to overwrite a key (use --force to replace it; the old key is then lost)"
        case .malformed(let path, let reason): "\(path): \(reason)"
        case .mismatch(let path, let field, let declared, let derived):
            "\(path): \(field) \(declared) does not match the private key (which gives \(derived))"
        }
    }
}

/// The contents of a secp256k1 key file:
///
/// ```json
/// {
///   "address": "0x…",      // EIP-55 checksummed Ethereum-style address of the key
///   "priv_key": "…",       // 32-byte scalar, 64 lower-case hex digits
///   "pub_key": "…"         // 33-byte compressed public key, 66 hex digits
/// }
/// ```
///
/// Written with mode 0600. Loading checks that `pub_key` and `address` match `priv_key` and
/// warns when the file is readable by group or others. Printing shows only the public part.
public protocol SecpKeyFile: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// What the file is, for messages ("validator key").
    static var kindName: String { get }
    var privateKey: PrivateKey { get }
    /// The address of `privateKey` (last 20 bytes of keccak-256 of the public key).
    var address: Address { get }
    init(privateKey: PrivateKey)
}

/// `config/priv_validator_key.json`: the validator's identity in consensus (votes, proposals,
/// the address in the genesis validator set and in peers' `persistent_peers`).
public struct ValidatorKeyFile: SecpKeyFile {
    public static let kindName = "validator key"
    public let privateKey: PrivateKey
    public let address: Address

    public init(privateKey: PrivateKey) {
        self.privateKey = privateKey
        self.address = Self.derivedAddress(privateKey.publicKey)
    }
}

/// `config/node_key.json`: the node's p2p transport identity.
public struct NodeKeyFile: SecpKeyFile {
    public static let kindName = "node key"
    public let privateKey: PrivateKey
    public let address: Address

    public init(privateKey: PrivateKey) {
        self.privateKey = privateKey
        self.address = Self.derivedAddress(privateKey.publicKey)
    }
}

/// `address` as an EIP-55 checksummed string.
public func checksummedAddress(_ address: Address) -> String {
    eip55Checksum(addressBytes: address.bytes)
}

extension SecpKeyFile {
    public var publicKey: PublicKey { privateKey.publicKey }
    /// `0x…` with the EIP-55 checksum.
    public var checksumAddress: String { checksummedAddress(address) }

    public var description: String {
        "\(Self.kindName) \(checksumAddress) (pub_key \(Hex.encode(publicKey.compressed)), priv_key <redacted>)"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(self, children: ["address": checksumAddress, "priv_key": "<redacted>"], displayStyle: .struct)
    }

    static func derivedAddress(_ key: PublicKey) -> Address {
        do {
            return try Address(bytes: key.ethereumAddressBytes)
        } catch {
            preconditionFailure("an Ethereum address is 20 bytes: \(error)")
        }
    }

    /// A fresh key from the system's secure random source.
    public static func generate() -> Self { Self(privateKey: .generate()) }

    /// The file's bytes. The caller must zero them after use (`secureZero`).
    func fileBytes() -> [UInt8] {
        let hex = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(256)
        out.append(contentsOf: "{\n  \"address\": \"\(checksumAddress)\",\n  \"priv_key\": \"".utf8)
        privateKey.withRawBytes { raw in
            for b in raw {
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0x0f)])
            }
        }
        out.append(contentsOf: "\",\n  \"pub_key\": \"\(Hex.encode(publicKey.compressed))\"\n}\n".utf8)
        return out
    }

    /// Writes the key file with mode 0600, atomically; with `overwrite: false` an existing file
    /// is never replaced (`KeyFileError.alreadyExists`).
    public func write(to path: String, overwrite: Bool) throws(KeyFileError) {
        var bytes = fileBytes()
        defer { secureZero(&bytes) }
        do {
            try FileIO.writeAtomically(path, bytes: bytes, mode: NodeHome.keyFileMode, overwrite: overwrite)
        } catch {
            if error.isAlreadyExists { throw .alreadyExists(path: path) }
            throw .io(error)
        }
    }

    /// Loads and checks a key file. A file accessible to group or others is used but logged as a
    /// warning on `logger`.
    public static func load(path: String, logger: Logger? = nil) throws(KeyFileError) -> Self {
        var bytes: [UInt8]
        do {
            bytes = try FileIO.read(path, maxBytes: 64 * 1024)
        } catch {
            throw .io(error)
        }
        defer { secureZero(&bytes) }
        if let warning = NodeHome.keyFilePermissionWarning(path) {
            logger?.warning("\(warning)")
        }
        return try parse(bytes, path: path)
    }

    /// Parses key-file bytes (`path` only names the file in errors).
    public static func parse(_ bytes: [UInt8], path: String) throws(KeyFileError) -> Self {
        func malformed(_ reason: String) -> KeyFileError { .malformed(path: path, reason: reason) }
        let json: JSONValue
        do {
            json = try JSONValue(parsing: bytes)
        } catch {
            throw malformed("not a \(kindName) file: \(error)")
        }
        guard case .object(let fields) = json else { throw malformed("not a \(kindName) file: expected a JSON object") }
        let expected: Set<String> = ["address", "pub_key", "priv_key"]
        if let unknown = fields.keys.sorted().first(where: { !expected.contains($0) }) {
            throw malformed("unknown field \(JSONValue.quoted(unknown)) (expected address, pub_key, priv_key)")
        }
        for name in ["priv_key", "pub_key", "address"] where fields[name]?.stringValue == nil {
            throw malformed(fields[name] == nil ? "missing field \(name)" : "field \(name) must be a string")
        }

        // priv_key: decoded straight into zeroed-on-free memory; the message never echoes it.
        let privHex = Array(fields["priv_key"]!.stringValue!.utf8)
        let digits = privHex.starts(with: Array("0x".utf8)) ? Array(privHex.dropFirst(2)) : privHex
        guard digits.count == 64 else { throw malformed("priv_key must be 64 hex digits (32 bytes)") }
        let privateKey: PrivateKey
        do {
            let secret = try SecretBytes(count: 32) { buffer in
                for i in 0..<32 {
                    guard let hi = hexNibble(digits[2 * i]), let lo = hexNibble(digits[2 * i + 1]) else {
                        throw KeyFileError.malformed(path: path, reason: "priv_key is not hex")
                    }
                    buffer[i] = hi << 4 | lo
                }
            }
            privateKey = try PrivateKey(secret: secret)
        } catch let error as KeyFileError {
            throw error
        } catch {
            throw malformed("priv_key is not a valid secp256k1 private key")
        }
        let key = Self(privateKey: privateKey)

        let pubText = fields["pub_key"]!.stringValue!
        let derivedPub = Hex.encode(key.publicKey.compressed)
        let declaredPub: PublicKey
        do {
            let pubBytes = try Hex.decode(pubText)
            guard pubBytes.count == 33 else { throw malformed("pub_key must be a 33-byte compressed public key") }
            declaredPub = try PublicKey(bytes: pubBytes)
        } catch let error as KeyFileError {
            throw error
        } catch {
            throw malformed("pub_key \(JSONValue.quoted(pubText)) is not a compressed secp256k1 public key: \(error)")
        }
        guard declaredPub == key.publicKey else {
            throw .mismatch(path: path, field: "pub_key", declared: pubText, derived: derivedPub)
        }

        let addressText = fields["address"]!.stringValue!
        let declaredAddress: [UInt8]
        do {
            declaredAddress = try parseEthereumAddress(addressText)
        } catch {
            throw malformed(
                "address \(JSONValue.quoted(addressText)) is not a 0x-prefixed 20-byte address with a valid EIP-55 checksum"
            )
        }
        guard declaredAddress == key.address.bytes else {
            throw .mismatch(path: path, field: "address", declared: addressText, derived: key.checksumAddress)
        }
        return key
    }
}

func hexNibble(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
    default: nil
    }
}
