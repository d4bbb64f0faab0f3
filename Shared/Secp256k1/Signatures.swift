import CSecp256k1

/// The group order n of secp256k1, big-endian.
let groupOrder: [UInt8] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
    0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41,
]
/// ⌊n / 2⌋, big-endian: s is low when s ≤ this.
let halfOrder: [UInt8] = [
    0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x5D, 0x57, 0x6E, 0x73, 0x57, 0xA4, 0x50, 0x1D, 0xDF, 0xE9, 0x2F, 0x46, 0x68, 0x1B, 0x20, 0xA0,
]

/// Big-endian comparison of equal-length byte strings (public data only).
func lessOrEqual(_ a: ArraySlice<UInt8>, _ b: [UInt8]) -> Bool {
    for (x, y) in zip(a, b) where x != y { return x < y }
    return true
}

/// An ECDSA signature (r, s) with 0 < r, s < n. Parsing accepts high-s (so foreign signatures can
/// be inspected); `PublicKey.verify` rejects it. Signatures made here are always low-s.
public struct ECDSASignature: Hashable, Sendable, CustomStringConvertible {
    /// r ‖ s, 32 bytes each, big-endian.
    public let compact: [UInt8]

    /// 64 bytes r ‖ s with both in 1...n-1.
    public init(compact: [UInt8]) throws {
        guard compact.count == 64 else { throw Secp256k1Error.invalidSignature }
        var sig = secp256k1_ecdsa_signature()
        // parse_compact rejects r or s ≥ n; zero is allowed there, so check it here.
        guard secp256k1_ecdsa_signature_parse_compact(context, &sig, compact) == 1,
            compact[0..<32].contains(where: { $0 != 0 }), compact[32..<64].contains(where: { $0 != 0 })
        else { throw Secp256k1Error.invalidSignature }
        self.compact = compact
    }

    /// Strict DER: exactly the canonical encoding (re-encoding must give the same bytes).
    public init(der: [UInt8]) throws {
        guard (8...72).contains(der.count) else { throw Secp256k1Error.invalidSignature }
        var sig = secp256k1_ecdsa_signature()
        guard secp256k1_ecdsa_signature_parse_der(context, &sig, der, der.count) == 1 else {
            throw Secp256k1Error.invalidSignature
        }
        var compact = [UInt8](repeating: 0, count: 64)
        _ = secp256k1_ecdsa_signature_serialize_compact(context, &compact, &sig)
        let signature = try ECDSASignature(compact: compact)
        guard signature.der == der else { throw Secp256k1Error.invalidSignature }
        self = signature
    }

    /// Canonical DER (at most 72 bytes).
    public var der: [UInt8] {
        var sig = secp256k1_ecdsa_signature()
        _ = secp256k1_ecdsa_signature_parse_compact(context, &sig, compact)
        var out = [UInt8](repeating: 0, count: 72)
        var length = 72
        _ = secp256k1_ecdsa_signature_serialize_der(context, &out, &length, &sig)
        return Array(out.prefix(length))
    }

    public var r: [UInt8] { Array(compact[0..<32]) }
    public var s: [UInt8] { Array(compact[32..<64]) }

    /// s ≤ n/2 (the only form `verify` accepts).
    public var isLowS: Bool { lessOrEqual(compact[32..<64], halfOrder) }

    /// The low-s twin (s → n − s when s is high); the same signature otherwise.
    public var normalized: ECDSASignature {
        var sig = secp256k1_ecdsa_signature()
        _ = secp256k1_ecdsa_signature_parse_compact(context, &sig, compact)
        var normal = secp256k1_ecdsa_signature()
        _ = secp256k1_ecdsa_signature_normalize(context, &normal, &sig)
        var out = [UInt8](repeating: 0, count: 64)
        _ = secp256k1_ecdsa_signature_serialize_compact(context, &out, &normal)
        // r and s stay in 1...n-1 under normalization.
        return (try? ECDSASignature(compact: out)) ?? self
    }

    public var description: String { "ECDSASignature(0x\(hexEncode(compact)))" }
}

/// A recoverable ECDSA signature r ‖ s ‖ v with v ∈ {0, 1} (add 27, or 35 + 2·chainId, for
/// Ethereum's encodings at the call site).
public struct RecoverableSignature: Hashable, Sendable, CustomStringConvertible {
    /// r ‖ s ‖ v.
    public let bytes65: [UInt8]

    public init(bytes65: [UInt8]) throws {
        guard bytes65.count == 65 else { throw Secp256k1Error.invalidSignature }
        guard bytes65[64] <= 1 else { throw Secp256k1Error.invalidRecoveryID }
        _ = try ECDSASignature(compact: Array(bytes65[0..<64]))
        self.bytes65 = bytes65
    }

    /// Convenience: 64-byte r ‖ s and a recovery id in {0, 1}.
    public init(compact: [UInt8], recoveryID: Int32) throws {
        guard recoveryID == 0 || recoveryID == 1 else { throw Secp256k1Error.invalidRecoveryID }
        guard compact.count == 64 else { throw Secp256k1Error.invalidSignature }
        try self.init(bytes65: compact + [UInt8(recoveryID)])
    }

    public var recoveryID: Int32 { Int32(bytes65[64]) }

    /// The plain (r, s) signature.
    public var signature: ECDSASignature {
        // Validated in init.
        try! ECDSASignature(compact: Array(bytes65[0..<64]))
    }

    public var description: String { "RecoverableSignature(0x\(hexEncode(bytes65)))" }
}
