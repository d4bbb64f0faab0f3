import CryptoPrimitives
import Secp256k1
import Wire

/// One EIP-2930 access-list entry (carried by EIP-1559 transactions).
public struct AccessListEntry: Hashable, Sendable {
    public var address: Address
    public var storageKeys: [Hash32]

    public init(address: Address, storageKeys: [Hash32] = []) {
        self.address = address
        self.storageKeys = storageKeys
    }
}

/// A legacy transaction, EIP-155 replay-protected when `chainID` is set.
public struct LegacyTransaction: Hashable, Sendable {
    public var nonce: UInt64
    public var gasPrice: UInt256
    public var gasLimit: UInt64
    /// nil creates a contract.
    public var to: Address?
    public var value: UInt256
    public var data: [UInt8]
    /// The EIP-155 chain id; nil signs the pre-EIP-155 way (v = 27/28), valid on every chain.
    public var chainID: UInt64?

    public init(
        nonce: UInt64, gasPrice: UInt256, gasLimit: UInt64, to: Address?, value: UInt256 = .zero,
        data: [UInt8] = [], chainID: UInt64?
    ) {
        self.nonce = nonce
        self.gasPrice = gasPrice
        self.gasLimit = gasLimit
        self.to = to
        self.value = value
        self.data = data
        self.chainID = chainID
    }
}

/// An EIP-1559 (type 2) transaction.
public struct EIP1559Transaction: Hashable, Sendable {
    public var chainID: UInt64
    public var nonce: UInt64
    public var maxPriorityFeePerGas: UInt256
    public var maxFeePerGas: UInt256
    public var gasLimit: UInt64
    public var to: Address?
    public var value: UInt256
    public var data: [UInt8]
    public var accessList: [AccessListEntry]

    public init(
        chainID: UInt64, nonce: UInt64, maxPriorityFeePerGas: UInt256, maxFeePerGas: UInt256, gasLimit: UInt64,
        to: Address?, value: UInt256 = .zero, data: [UInt8] = [], accessList: [AccessListEntry] = []
    ) {
        self.chainID = chainID
        self.nonce = nonce
        self.maxPriorityFeePerGas = maxPriorityFeePerGas
        self.maxFeePerGas = maxFeePerGas
        self.gasLimit = gasLimit
        self.to = to
        self.value = value
        self.data = data
        self.accessList = accessList
    }
}

public enum TransactionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The raw bytes are not valid RLP, or a field has the wrong shape.
    case malformed(RLPError)
    /// A typed envelope this module does not handle (EIP-2718 type byte), e.g. 1 (EIP-2930).
    case unsupportedType(UInt8)
    /// The first byte is neither a type byte (0x00…0x7f) nor an RLP list.
    case notATransaction
    /// Legacy `v` that is neither 27/28 nor 35 + 2·chainID + {0, 1}; or a y-parity other than 0/1.
    case invalidV
    /// r or s is 0 or ≥ n.
    case invalidSignature
    /// s > n/2 (EIP-2): never accepted, never produced.
    case highS
    /// No public key recovers from the signature.
    case recoveryFailed
    /// The transaction's chain id differs from the one expected.
    case wrongChainID(expected: UInt64, got: UInt64?)
    /// A chain id too large to encode v in 64 bits (≤ (2^64 − 36) / 2 is accepted).
    case chainIDTooLarge
    /// nonce = 2^64 − 1 (EIP-2681).
    case nonceTooLarge
    /// maxPriorityFeePerGas > maxFeePerGas.
    case priorityFeeAboveMaxFee
    /// gasLimit × fee overflows 256 bits.
    case feeOverflow
    /// The external signer produced a signature that does not recover to its own address.
    case signerMismatch(expected: Address, recovered: Address?)
    /// The external signer returned malformed r / s / recovery id.
    case signerOutput(String)

    public var description: String {
        switch self {
        case .malformed(let e): "malformed transaction: \(e)"
        case .unsupportedType(let t): "unsupported transaction type \(t)"
        case .notATransaction: "not a transaction (neither a type byte nor an RLP list)"
        case .invalidV: "invalid v / y-parity"
        case .invalidSignature: "invalid signature (r or s out of range)"
        case .highS: "signature s is above n/2 (EIP-2)"
        case .recoveryFailed: "no sender recovers from the signature"
        case .wrongChainID(let e, let g): "chain id \(g.map(String.init) ?? "none (unprotected)"), expected \(e)"
        case .chainIDTooLarge: "chain id too large"
        case .nonceTooLarge: "nonce must be below 2^64 - 1 (EIP-2681)"
        case .priorityFeeAboveMaxFee: "maxPriorityFeePerGas above maxFeePerGas"
        case .feeOverflow: "gasLimit x fee overflows 256 bits"
        case .signerMismatch(let e, let r):
            "signer for \(e.checksummed) produced a signature recovering to \(r?.checksummed ?? "nothing")"
        case .signerOutput(let m): "signer output invalid: \(m)"
        }
    }
}

/// (r, s, y-parity) with 1 ≤ r < n, 1 ≤ s ≤ n/2 and y-parity ∈ {0, 1}.
public struct TransactionSignature: Hashable, Sendable {
    public let r: UInt256
    public let s: UInt256
    public let yParity: UInt8

    /// Checks the ranges (low s included).
    public init(r: UInt256, s: UInt256, yParity: UInt8) throws(TransactionError) {
        guard yParity <= 1 else { throw .invalidV }
        guard !r.isZero, r < secp256k1Order, !s.isZero, s < secp256k1Order else { throw .invalidSignature }
        guard s <= secp256k1HalfOrder else { throw .highS }
        self.r = r
        self.s = s
        self.yParity = yParity
    }

    var recoverable: RecoverableSignature {
        get throws(TransactionError) {
            do {
                return try RecoverableSignature(
                    compact: r.bigEndianBytes + s.bigEndianBytes, recoveryID: Int32(yParity))
            } catch {
                throw .invalidSignature
            }
        }
    }
}

let secp256k1Order = UInt256(
    bigEndian: Hex.decodeStatic("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"))!
let secp256k1HalfOrder = UInt256(
    bigEndian: Hex.decodeStatic("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0"))!

extension Hex {
    /// For constants in this module's source only.
    static func decodeStatic(_ text: String) -> [UInt8] { try! decode(text) }
}

/// A transaction before signing.
public enum UnsignedTransaction: Hashable, Sendable {
    case legacy(LegacyTransaction)
    case eip1559(EIP1559Transaction)

    /// Largest chain id whose legacy v (35 + 2·id + 1) fits in 64 bits.
    public static let maxChainID: UInt64 = (UInt64.max - 36) / 2

    public var chainID: UInt64? {
        switch self {
        case .legacy(let t): t.chainID
        case .eip1559(let t): t.chainID
        }
    }

    public var nonce: UInt64 {
        switch self {
        case .legacy(let t): t.nonce
        case .eip1559(let t): t.nonce
        }
    }

    /// The rules every transaction built or decoded here must meet beyond its encoding.
    public func validate() throws(TransactionError) {
        switch self {
        case .legacy(let t):
            if let id = t.chainID, id > Self.maxChainID { throw .chainIDTooLarge }
            guard t.nonce < .max else { throw .nonceTooLarge }
            guard !UInt256(t.gasLimit).multipliedReportingOverflow(by: t.gasPrice).overflow else { throw .feeOverflow }
        case .eip1559(let t):
            guard t.chainID <= Self.maxChainID else { throw .chainIDTooLarge }
            guard t.nonce < .max else { throw .nonceTooLarge }
            guard t.maxPriorityFeePerGas <= t.maxFeePerGas else { throw .priorityFeeAboveMaxFee }
            guard !UInt256(t.gasLimit).multipliedReportingOverflow(by: t.maxFeePerGas).overflow else {
                throw .feeOverflow
            }
        }
    }

    private static func toItem(_ to: Address?) -> RLPItem { .bytes(to?.bytes ?? []) }

    private static func accessListItem(_ list: [AccessListEntry]) -> RLPItem {
        .list(list.map { .list([.bytes($0.address.bytes), .list($0.storageKeys.map { .bytes($0.bytes) })]) })
    }

    /// The fields before the signature, in wire order.
    private var fields: [RLPItem] {
        switch self {
        case .legacy(let t):
            [.uint(t.nonce), .uint(t.gasPrice), .uint(t.gasLimit), Self.toItem(t.to), .uint(t.value), .bytes(t.data)]
        case .eip1559(let t):
            [
                .uint(t.chainID), .uint(t.nonce), .uint(t.maxPriorityFeePerGas), .uint(t.maxFeePerGas),
                .uint(t.gasLimit), Self.toItem(t.to), .uint(t.value), .bytes(t.data), Self.accessListItem(t.accessList),
            ]
        }
    }

    /// What is hashed for signing: EIP-155's nine fields (chainId, 0, 0) or the six pre-EIP-155
    /// fields for legacy; `0x02 ‖ rlp([chainId, …, accessList])` for EIP-1559.
    public var signingPayload: [UInt8] {
        switch self {
        case .legacy(let t):
            var items = fields
            if let id = t.chainID { items += [.uint(id), .uint(0), .uint(0)] }
            return RLP.encode(.list(items))
        case .eip1559:
            return [0x02] + RLP.encode(.list(fields))
        }
    }

    /// keccak256(signingPayload): the digest the signer signs.
    public var signingHash: Hash32 { Hash32.keccak(signingPayload) }

    /// The network form with `signature` attached.
    func encoded(with signature: TransactionSignature) -> [UInt8] {
        switch self {
        case .legacy(let t):
            let v: UInt64 = t.chainID.map { 35 + 2 * $0 + UInt64(signature.yParity) } ?? 27 + UInt64(signature.yParity)
            return RLP.encode(.list(fields + [.uint(v), .uint(signature.r), .uint(signature.s)]))
        case .eip1559:
            let tail: [RLPItem] = [.uint(UInt64(signature.yParity)), .uint(signature.r), .uint(signature.s)]
            return [0x02] + RLP.encode(.list(fields + tail))
        }
    }

    /// Attaches a signature made elsewhere; recovers and records the sender.
    public func attaching(_ signature: TransactionSignature) throws(TransactionError) -> SignedTransaction {
        try validate()
        let sender = try SignedTransaction.recoverSender(signature, digest: signingHash)
        return SignedTransaction(transaction: self, signature: signature, sender: sender)
    }

    /// Has `signer` sign the signing hash. A high s is normalized (s → n − s, parity flipped); a
    /// missing recovery id is found by trying both; the result must recover to `signer.address`.
    public func signed(by signer: some TransactionSigner) async throws -> SignedTransaction {
        try validate()
        let digest = signingHash
        let parts = try await signer.sign(digest: digest.bytes)
        guard parts.r.count == 32, parts.s.count == 32 else {
            throw TransactionError.signerOutput("r, s must be 32 bytes")
        }
        guard let ecdsa = try? ECDSASignature(compact: parts.r + parts.s) else {
            throw TransactionError.signerOutput("r or s out of range")
        }
        let normal = ecdsa.normalized
        let flipped = normal.compact != ecdsa.compact
        let candidates: [UInt8]
        if let id = parts.recoveryID {
            guard id <= 1 else { throw TransactionError.signerOutput("recovery id \(id)") }
            candidates = [flipped ? id ^ 1 : id]
        } else {
            candidates = [0, 1]
        }
        var recovered: Address? = nil
        for parity in candidates {
            let signature = try TransactionSignature(
                r: UInt256(bigEndian: normal.r)!, s: UInt256(bigEndian: normal.s)!, yParity: parity)
            let sender = try? SignedTransaction.recoverSender(signature, digest: digest)
            if sender == signer.address {
                return SignedTransaction(transaction: self, signature: signature, sender: signer.address)
            }
            recovered = recovered ?? sender
        }
        throw TransactionError.signerMismatch(expected: signer.address, recovered: recovered)
    }
}

/// A signed transaction: its network bytes, hash and (recovered) sender.
public struct SignedTransaction: Hashable, Sendable {
    public let transaction: UnsignedTransaction
    public let signature: TransactionSignature
    public let sender: Address
    /// The network form (`eth_sendRawTransaction`'s parameter).
    public let rawBytes: [UInt8]
    /// keccak256(rawBytes): the transaction hash.
    public let hash: Hash32

    init(transaction: UnsignedTransaction, signature: TransactionSignature, sender: Address) {
        self.transaction = transaction
        self.signature = signature
        self.sender = sender
        rawBytes = transaction.encoded(with: signature)
        hash = Hash32.keccak(rawBytes)
    }

    static func recoverSender(_ signature: TransactionSignature, digest: Hash32) throws(TransactionError) -> Address {
        let recoverable = try signature.recoverable
        do {
            return Address(publicKey: try PublicKey.recover(recoverable, digest: digest.bytes))
        } catch {
            throw .recoveryFailed
        }
    }

    /// Decodes a raw transaction (legacy or type 2), checks every field's canonical form, the
    /// signature ranges (low s) and, when `expectedChainID` is given, the chain id; recovers the
    /// sender. Unprotected legacy transactions (v = 27/28) are refused when a chain id is
    /// expected unless `allowUnprotected`.
    public static func decode(
        _ raw: [UInt8], expectedChainID: UInt64? = nil, allowUnprotected: Bool = false
    ) throws(TransactionError) -> SignedTransaction {
        guard let first = raw.first else { throw .malformed(.empty) }
        let transaction: UnsignedTransaction
        let signature: TransactionSignature
        do {
            switch first {
            case 0xc0...0xff:
                (transaction, signature) = try decodeLegacy(RLP.decode(raw).asList(count: 9))
            case 0x02:
                (transaction, signature) = try decode1559(RLP.decode(Array(raw.dropFirst())).asList(count: 12))
            case 0x00...0x7f:
                throw TransactionError.unsupportedType(first)
            default:
                throw TransactionError.notATransaction
            }
        } catch let error as RLPError {
            throw .malformed(error)
        } catch let error as TransactionError {
            throw error
        } catch {
            throw .notATransaction  // unreachable: only the two error types above are thrown
        }
        if let expected = expectedChainID {
            if let id = transaction.chainID {
                guard id == expected else { throw .wrongChainID(expected: expected, got: id) }
            } else if !allowUnprotected {
                throw .wrongChainID(expected: expected, got: nil)
            }
        }
        let signed = try transaction.attaching(signature)
        // Every field was read in canonical form, so re-encoding gives the input back; the hash is
        // computed from the re-encoding and must be the hash of what was received.
        guard signed.rawBytes == raw else { throw .malformed(.nonCanonicalLength(offset: 0)) }
        return signed
    }

    private static func to(_ item: RLPItem) throws -> Address? {
        let b = try item.asBytes()
        if b.isEmpty { return nil }
        return try Address(bytes: item.asBytes(count: 20))
    }

    private static func decodeLegacy(_ f: [RLPItem]) throws -> (UnsignedTransaction, TransactionSignature) {
        let v = try f[6].asUInt64()
        let chainID: UInt64?
        let parity: UInt8
        switch v {
        case 27, 28:
            chainID = nil
            parity = UInt8(v - 27)
        case 35...:
            chainID = (v - 35) / 2
            parity = UInt8((v - 35) % 2)
        default:
            throw TransactionError.invalidV
        }
        let t = LegacyTransaction(
            nonce: try f[0].asUInt64(), gasPrice: try f[1].asUInt256(), gasLimit: try f[2].asUInt64(),
            to: try to(f[3]), value: try f[4].asUInt256(), data: try f[5].asBytes(), chainID: chainID)
        let signature = try TransactionSignature(r: f[7].asUInt256(), s: f[8].asUInt256(), yParity: parity)
        return (.legacy(t), signature)
    }

    private static func decode1559(_ f: [RLPItem]) throws -> (UnsignedTransaction, TransactionSignature) {
        var accessList: [AccessListEntry] = []
        for entry in try f[8].asList() {
            let pair = try entry.asList(count: 2)
            let keys = try pair[1].asList().map { item throws in try Hash32(bytes: item.asBytes(count: 32)) }
            accessList.append(
                AccessListEntry(address: try Address(bytes: pair[0].asBytes(count: 20)), storageKeys: keys))
        }
        let t = EIP1559Transaction(
            chainID: try f[0].asUInt64(), nonce: try f[1].asUInt64(), maxPriorityFeePerGas: try f[2].asUInt256(),
            maxFeePerGas: try f[3].asUInt256(), gasLimit: try f[4].asUInt64(), to: try to(f[5]),
            value: try f[6].asUInt256(), data: try f[7].asBytes(), accessList: accessList)
        let parity = try f[9].asUInt64()
        guard parity <= 1 else { throw TransactionError.invalidV }
        let signature = try TransactionSignature(r: f[10].asUInt256(), s: f[11].asUInt256(), yParity: UInt8(parity))
        return (.eip1559(t), signature)
    }
}
