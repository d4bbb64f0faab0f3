// Messages of the local (service ↔ consensus-manager) and peer (validator ↔ validator)
// protocols. Each is a `WireMessage`; its fields are encoded in declaration order (see
// `WireWriter`), and each has a golden fixture in `Tests/ProtocolTests/Fixtures/`.

/// Limits on free-form fields, enforced on decode (hostile input) and by senders' own checks.
public enum WireLimits {
    /// Chain ids, versions, addresses of endpoints ("host:port"), …
    public static let maxShortString = 256
}

/// The empty message (`0` bytes), for calls without arguments or results.
public struct Empty: WireMessage {
    public init() {}
    public func encode(to writer: inout WireWriter) {}
    public init(from reader: inout WireReader) throws(WireError) {}
}

/// The six services of one validator (DESIGN §2). Encoded as a one-byte tag.
public enum ServiceKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case consensusManager = 1
    case tssSigner = 2
    case inboxListener = 3
    case sandboxExecutor = 4
    case bridgeAdapter = 5
    case batchProposer = 6

    /// The executable's name, e.g. `"tss-signer"`.
    public var name: String {
        switch self {
        case .consensusManager: "consensus-manager"
        case .tssSigner: "tss-signer"
        case .inboxListener: "inbox-listener"
        case .sandboxExecutor: "sandbox-executor"
        case .bridgeAdapter: "bridge-adapter"
        case .batchProposer: "batch-proposer"
        }
    }

    /// The kind whose `name` is `name`.
    public init?(name: String) {
        guard let kind = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = kind
    }

    public var description: String { name }
}

/// A local service announces itself to the consensus-manager (`MethodID.registerService`); the
/// reply is `RegisterServiceAck`. The registration lives as long as the connection.
public struct RegisterService: WireMessage {
    public static let instanceIDLength = 16

    public var kind: ServiceKind
    /// The service's software version, e.g. `"0.1.0"`.
    public var version: String
    /// 16 random bytes chosen at process start: tells a restart from a reconnect.
    /// (Immutable: its length is checked once, in `init`.)
    public let instanceID: [UInt8]
    /// Where the service's own RPC listens (`"127.0.0.1:7102"`), empty if it serves none.
    public var rpcAddress: String
    /// Where its HTTP endpoints (`/healthz`, `/metrics`, …) listen.
    public var httpAddress: String

    /// `instanceID` must be 16 bytes.
    public init(kind: ServiceKind, version: String, instanceID: [UInt8], rpcAddress: String, httpAddress: String) {
        precondition(instanceID.count == Self.instanceIDLength, "instanceID must be 16 bytes")
        self.kind = kind
        self.version = version
        self.instanceID = instanceID
        self.rpcAddress = rpcAddress
        self.httpAddress = httpAddress
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeTag(kind)
        writer.writeString(version)
        writer.writeFixedBytes(instanceID)
        writer.writeString(rpcAddress)
        writer.writeString(httpAddress)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        kind = try reader.readTag()
        version = try reader.readString(maxLength: WireLimits.maxShortString)
        instanceID = try reader.readFixedBytes(count: Self.instanceIDLength)
        rpcAddress = try reader.readString(maxLength: WireLimits.maxShortString)
        httpAddress = try reader.readString(maxLength: WireLimits.maxShortString)
    }
}

/// The consensus-manager's answer to `RegisterService`.
public struct RegisterServiceAck: WireMessage {
    public var chainID: String
    /// This node's validator address.
    public var validator: Address
    /// How often the service must send `ServiceHeartbeat`.
    public var heartbeatIntervalMs: UInt32

    public init(chainID: String, validator: Address, heartbeatIntervalMs: UInt32) {
        self.chainID = chainID
        self.validator = validator
        self.heartbeatIntervalMs = heartbeatIntervalMs
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeString(chainID)
        writer.writeAddress(validator)
        writer.writeUInt32(heartbeatIntervalMs)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        chainID = try reader.readString(maxLength: WireLimits.maxShortString)
        validator = try reader.readAddress()
        heartbeatIntervalMs = try reader.readUInt32()
    }
}

/// A registered service's liveness signal (`MethodID.heartbeat`); `sequence` increases by one
/// per heartbeat since registration. Reply: `Empty`.
public struct ServiceHeartbeat: WireMessage {
    public var kind: ServiceKind
    public var sequence: UInt64

    public init(kind: ServiceKind, sequence: UInt64) {
        self.kind = kind
        self.sequence = sequence
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeTag(kind)
        writer.writeUInt64(sequence)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        kind = try reader.readTag()
        sequence = try reader.readUInt64()
    }
}

/// First message on a validator-to-validator connection (`MethodID.peerHello`). Meant to travel
/// as an `Envelope` payload, so the claimed validator address is proven by the signature.
/// Reply: the other side's `PeerHello`.
public struct PeerHello: WireMessage {
    public var chainID: String
    public var validator: Address
    /// The address peers should dial, `"host:port"`.
    public var p2pAddress: String
    public var version: String

    public init(chainID: String, validator: Address, p2pAddress: String, version: String) {
        self.chainID = chainID
        self.validator = validator
        self.p2pAddress = p2pAddress
        self.version = version
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeString(chainID)
        writer.writeAddress(validator)
        writer.writeString(p2pAddress)
        writer.writeString(version)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        chainID = try reader.readString(maxLength: WireLimits.maxShortString)
        validator = try reader.readAddress()
        p2pAddress = try reader.readString(maxLength: WireLimits.maxShortString)
        version = try reader.readString(maxLength: WireLimits.maxShortString)
    }
}

/// Application-level liveness probe between peers (`MethodID.peerPing`); answered by `PeerPong`
/// with the same nonce.
public struct PeerPing: WireMessage {
    public var nonce: UInt64

    public init(nonce: UInt64) { self.nonce = nonce }

    public func encode(to writer: inout WireWriter) { writer.writeUInt64(nonce) }

    public init(from reader: inout WireReader) throws(WireError) { nonce = try reader.readUInt64() }
}

/// Answer to `PeerPing`, echoing its nonce.
public struct PeerPong: WireMessage {
    public var nonce: UInt64

    public init(nonce: UInt64) { self.nonce = nonce }

    public func encode(to writer: inout WireWriter) { writer.writeUInt64(nonce) }

    public init(from reader: inout WireReader) throws(WireError) { nonce = try reader.readUInt64() }
}
