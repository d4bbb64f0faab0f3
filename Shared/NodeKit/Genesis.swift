import CryptoPrimitives
import Foundation
import Secp256k1
import Wire

/// `config/genesis.json`: the chain's starting point, identical on every validator.
///
/// ```json
/// {
///   "chain_id": "testnet-1",
///   "genesis_time": "2025-01-02T03:04:05Z",
///   "params": {"epoch_length": 100, "max_block_bytes": 4194304, "max_validators": 100},
///   "validators": [{"address": "0x…", "name": "node0", "power": 100, "pub_key": "02…"}]
/// }
/// ```
///
/// Files are written canonically (sorted keys, two-space indentation), so equal geneses are
/// equal bytes; `canonicalHash()` identifies the chain. Unknown fields are rejected on load, so a
/// misspelt parameter is an error rather than a silent default.
public struct Genesis: Sendable, Equatable, Codable {
    public var chainID: String
    public var genesisTime: Timestamp
    public var validators: [GenesisValidator]
    public var params: GenesisParams

    public init(
        chainID: String, genesisTime: Timestamp, validators: [GenesisValidator], params: GenesisParams = .defaults
    ) {
        self.chainID = chainID
        self.genesisTime = genesisTime
        self.validators = validators
        self.params = params
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case chainID = "chain_id"
        case genesisTime = "genesis_time"
        case validators
        case params
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        chainID = try c.decode(String.self, forKey: .chainID)
        let timeText = try c.decode(String.self, forKey: .genesisTime)
        guard let time = Timestamp(rfc3339: timeText) else {
            throw DecodingError.dataCorruptedError(
                forKey: .genesisTime, in: c,
                debugDescription: "\(JSONValue.quoted(timeText)) is not an RFC 3339 time (e.g. 2025-01-02T03:04:05Z)")
        }
        genesisTime = time
        validators = try c.decode([GenesisValidator].self, forKey: .validators)
        params = try c.decode(GenesisParams.self, forKey: .params)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(chainID, forKey: .chainID)
        try c.encode(genesisTime.rfc3339(), forKey: .genesisTime)
        try c.encode(validators, forKey: .validators)
        try c.encode(params, forKey: .params)
    }

    /// Sum of all validators' power (after `validate()`, it cannot overflow).
    public var totalPower: UInt64 { validators.reduce(0) { $0 &+ $1.power } }

    /// The same rule as Tendermint: total voting power stays below 2^63 / 8, so that weighted
    /// computations on it (proposer priorities, 2/3 thresholds) never overflow.
    public static let maxTotalPower: UInt64 = UInt64(Int64.max) / 8

    /// Checks every rule, throwing the first violation.
    public func validate() throws(GenesisError) {
        guard Self.isValidChainID(chainID) else { throw .invalidChainID(chainID) }
        try params.validate()
        guard !validators.isEmpty else { throw .noValidators }
        guard validators.count <= params.maxValidators else {
            throw .tooManyValidators(count: validators.count, max: params.maxValidators)
        }
        var seen = [Address: Int]()
        var total: UInt64 = 0
        for (i, v) in validators.enumerated() {
            if let problem = ConfigKeys.monikerProblem(v.name) { throw .invalidName(index: i, reason: problem) }
            let derived = v.derivedAddress
            guard derived == v.address else {
                throw .addressMismatch(
                    index: i, name: v.name, declared: checksummedAddress(v.address),
                    derived: checksummedAddress(derived))
            }
            if let first = seen[v.address] {
                throw .duplicateAddress(address: checksummedAddress(v.address), first: first, second: i)
            }
            seen[v.address] = i
            guard v.power > 0 else { throw .zeroPower(index: i, name: v.name) }
            let (sum, overflow) = total.addingReportingOverflow(v.power)
            guard !overflow, sum <= Self.maxTotalPower else { throw .totalPowerTooLarge(max: Self.maxTotalPower) }
            total = sum
        }
    }

    /// `[a-z0-9-]{1,50}`.
    public static func isValidChainID(_ id: String) -> Bool {
        (1...50).contains(id.utf8.count)
            && id.utf8.allSatisfy {
                (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-")
            }
    }

    // MARK: Files

    /// The canonical JSON text: sorted keys; `pretty` (the file form) indents by two spaces.
    public func canonicalJSON(pretty: Bool = true) -> String {
        // Encode through Codable, then re-serialize with the deterministic writer so the bytes do
        // not depend on the Foundation version's formatting.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            let data = try encoder.encode(self)
            return try JSONValue(parsing: [UInt8](data)).serialized(pretty: pretty) + (pretty ? "\n" : "")
        } catch {
            preconditionFailure("genesis encodes to valid JSON: \(error)")
        }
    }

    /// SHA-256 of the compact canonical JSON: the chain's identity for handshakes.
    public func canonicalHash() -> [UInt8] {
        SHA256.hash(Array(canonicalJSON(pretty: false).utf8))
    }

    /// Parses and validates genesis JSON.
    public static func parse(_ bytes: [UInt8]) throws(GenesisError) -> Genesis {
        // The strict parser first: it rejects duplicate keys and reports byte offsets.
        let json: JSONValue
        do {
            json = try JSONValue(parsing: bytes)
        } catch {
            throw .malformed(field: "", reason: "\(error)")
        }
        try checkIntegers(json)
        let genesis: Genesis
        do {
            genesis = try JSONDecoder().decode(Genesis.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw GenesisError(decoding: error)
        } catch {
            throw .malformed(field: "", reason: "\(error)")
        }
        try genesis.validate()
        return genesis
    }

    /// Foundation's decoder reports a bad number (negative, fractional, too large) without saying
    /// where; check the integer fields here first so the error names the field.
    static func checkIntegers(_ json: JSONValue) throws(GenesisError) {
        func check(_ value: JSONValue?, _ field: String, unsigned: Bool) throws(GenesisError) {
            switch value {
            case .number?:
                guard let i = value?.int64Value else {
                    throw .malformed(field: field, reason: "expected an integer (no fraction, at most \(Int64.max))")
                }
                if unsigned, i < 0 { throw .malformed(field: field, reason: "must not be negative") }
            default:
                break  // missing or another type: the decoder names it
            }
        }
        try check(json["params"]?["max_block_bytes"], "params.max_block_bytes", unsigned: false)
        try check(json["params"]?["epoch_length"], "params.epoch_length", unsigned: true)
        try check(json["params"]?["max_validators"], "params.max_validators", unsigned: false)
        for (i, v) in (json["validators"]?.arrayValue ?? []).enumerated() {
            try check(v["power"], "validators[\(i)].power", unsigned: true)
        }
    }

    /// Loads and validates `path`; errors name the file.
    public static func load(path: String) throws(GenesisError) -> Genesis {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path, maxBytes: 64 << 20)
        } catch {
            throw .inFile(path: path, .unreadable(reason: "\(error)"))
        }
        do {
            return try parse(bytes)
        } catch {
            throw .inFile(path: path, error)
        }
    }

    /// Validates, then writes the canonical form with mode 0644 (atomically).
    public func write(to path: String, overwrite: Bool) throws(GenesisError) {
        try validate()
        do {
            try FileIO.writeAtomically(
                path, bytes: Array(canonicalJSON().utf8), mode: NodeHome.publicFileMode, overwrite: overwrite)
        } catch {
            if error.isAlreadyExists { throw .inFile(path: path, .alreadyExists) }
            throw .inFile(path: path, .unreadable(reason: "\(error)"))
        }
    }
}

/// One member of the initial validator set.
public struct GenesisValidator: Sendable, Equatable, Codable {
    public var name: String
    /// As declared in the file; `Genesis.validate()` checks it matches `publicKey`.
    public var address: Address
    public var publicKey: PublicKey
    public var power: UInt64

    /// A validator whose address is derived from `publicKey`.
    public init(name: String, publicKey: PublicKey, power: UInt64) {
        self.name = name
        self.publicKey = publicKey
        self.power = power
        self.address = ValidatorKeyFile.derivedAddress(publicKey)
    }

    /// Any combination, for tests of validation.
    public init(name: String, address: Address, publicKey: PublicKey, power: UInt64) {
        self.name = name
        self.address = address
        self.publicKey = publicKey
        self.power = power
    }

    public var derivedAddress: Address { ValidatorKeyFile.derivedAddress(publicKey) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, address
        case publicKey = "pub_key"
        case power
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        let addressText = try c.decode(String.self, forKey: .address)
        do {
            address = try Address(bytes: parseEthereumAddress(addressText))
        } catch {
            throw DecodingError.dataCorruptedError(
                forKey: .address, in: c,
                debugDescription:
                    "\(JSONValue.quoted(addressText)) is not a 0x-prefixed 20-byte address with a valid EIP-55 checksum"
            )
        }
        let pubText = try c.decode(String.self, forKey: .publicKey)
        do {
            let bytes = try Hex.decode(pubText)
            guard bytes.count == 33 else { throw Secp256k1Error.invalidPublicKey }
            publicKey = try PublicKey(bytes: bytes)
        } catch {
            throw DecodingError.dataCorruptedError(
                forKey: .publicKey, in: c,
                debugDescription: "\(JSONValue.quoted(pubText)) is not a 33-byte compressed secp256k1 public key in hex"
            )
        }
        power = try c.decode(UInt64.self, forKey: .power)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(checksummedAddress(address), forKey: .address)
        try c.encode(Hex.encode(publicKey.compressed), forKey: .publicKey)
        try c.encode(power, forKey: .power)
    }
}

/// Consensus parameters fixed at genesis. New parameters are added here with a documented
/// meaning and bound; every one must be present in the file.
public struct GenesisParams: Sendable, Equatable, Codable {
    /// Largest block (header + transactions) a proposer may build, in bytes.
    public var maxBlockBytes: Int64
    /// Blocks per epoch (validator-set and sequencer rotation happen at epoch boundaries).
    public var epochLength: UInt64
    /// Largest active validator set (churn-in is capped at this size).
    public var maxValidators: Int

    public init(maxBlockBytes: Int64, epochLength: UInt64, maxValidators: Int) {
        self.maxBlockBytes = maxBlockBytes
        self.epochLength = epochLength
        self.maxValidators = maxValidators
    }

    public static let defaults = GenesisParams(maxBlockBytes: 4 << 20, epochLength: 100, maxValidators: 100)

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxBlockBytes = "max_block_bytes"
        case epochLength = "epoch_length"
        case maxValidators = "max_validators"
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxBlockBytes = try c.decode(Int64.self, forKey: .maxBlockBytes)
        epochLength = try c.decode(UInt64.self, forKey: .epochLength)
        maxValidators = try c.decode(Int.self, forKey: .maxValidators)
    }

    public func validate() throws(GenesisError) {
        guard (1024...(100 << 20)).contains(maxBlockBytes) else {
            throw .invalidParam(name: "max_block_bytes", reason: "\(maxBlockBytes) is outside 1024-104857600")
        }
        guard (1...1_000_000_000).contains(epochLength) else {
            throw .invalidParam(name: "epoch_length", reason: "\(epochLength) is outside 1-1000000000")
        }
        guard (1...10_000).contains(maxValidators) else {
            throw .invalidParam(name: "max_validators", reason: "\(maxValidators) is outside 1-10000")
        }
    }
}

/// Why a genesis cannot be used.
public indirect enum GenesisError: Error, Equatable, CustomStringConvertible {
    case inFile(path: String, GenesisError)
    case unreadable(reason: String)
    case alreadyExists
    /// JSON syntax or a field of the wrong type/format; `field` is a path like `validators[1].pub_key`.
    case malformed(field: String, reason: String)
    case invalidChainID(String)
    case invalidParam(name: String, reason: String)
    case noValidators
    case tooManyValidators(count: Int, max: Int)
    case invalidName(index: Int, reason: String)
    case addressMismatch(index: Int, name: String, declared: String, derived: String)
    case duplicateAddress(address: String, first: Int, second: Int)
    case zeroPower(index: Int, name: String)
    case totalPowerTooLarge(max: UInt64)

    public var description: String {
        switch self {
        case .inFile(let path, let error): "\(path): \(error)"
        case .unreadable(let reason): "cannot read genesis: \(reason)"
        case .alreadyExists: "genesis file already exists (use --force to replace it)"
        case .malformed(let field, let reason): field.isEmpty ? reason : "\(field): \(reason)"
        case .invalidChainID(let id):
            "chain_id \(JSONValue.quoted(id)) is invalid: use 1-50 characters of a-z, 0-9 and -"
        case .invalidParam(let name, let reason): "params.\(name): \(reason)"
        case .noValidators: "validators: the genesis needs at least one validator"
        case .tooManyValidators(let count, let max):
            "validators: \(count) validators exceed params.max_validators (\(max))"
        case .invalidName(let index, let reason): "validators[\(index)].name: \(reason)"
        case .addressMismatch(let index, let name, let declared, let derived):
            "validators[\(index)] (\(name)): address \(declared) does not match pub_key (which gives \(derived))"
        case .duplicateAddress(let address, let first, let second):
            "validators[\(second)]: address \(address) already used by validators[\(first)]"
        case .zeroPower(let index, let name): "validators[\(index)] (\(name)): power must be greater than 0"
        case .totalPowerTooLarge(let max): "validators: total power exceeds \(max)"
        }
    }

    init(decoding error: DecodingError) {
        func path(_ codingPath: [any CodingKey]) -> String {
            var out = ""
            for key in codingPath {
                if let i = key.intValue, key.stringValue == "Index \(i)" || Int(key.stringValue) == i {
                    out += "[\(i)]"
                } else {
                    out += out.isEmpty ? key.stringValue : "." + key.stringValue
                }
            }
            return out
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            self = .malformed(field: field, reason: "missing")
        case .typeMismatch(let type, let context):
            self = .malformed(field: path(context.codingPath), reason: "expected \(Self.typeName(type))")
        case .valueNotFound(let type, let context):
            self = .malformed(field: path(context.codingPath), reason: "expected \(Self.typeName(type)), found null")
        case .dataCorrupted(let context):
            self = .malformed(field: path(context.codingPath), reason: context.debugDescription)
        @unknown default:
            self = .malformed(field: "", reason: "\(error)")
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is UInt64.Type: "an unsigned integer"
        case is Int64.Type, is Int.Type: "an integer"
        case is [GenesisValidator].Type: "an array of validators"
        default: "\(type)"
        }
    }
}

private struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// Throws `DecodingError.dataCorrupted` naming the first key of the object that `Keys` does not
/// know.
private func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ decoder: any Decoder, _: Keys.Type) throws {
    let container = try decoder.container(keyedBy: AnyCodingKey.self)
    let known = Set(Keys.allCases.map(\.stringValue))
    if let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
        throw DecodingError.dataCorrupted(
            .init(
                codingPath: decoder.codingPath + [AnyCodingKey(stringValue: unknown)],
                debugDescription:
                    "unknown field (expected one of: \(Keys.allCases.map(\.stringValue).sorted().joined(separator: ", ")))"
            ))
    }
}
