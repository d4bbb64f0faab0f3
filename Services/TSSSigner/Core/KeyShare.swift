import CryptoPrimitives
import MPCMath
import Secp256k1
import Wire

/// One party's output of `Keygen` (GG20 Fig. 5): its secret share x_i of the group key and its
/// Paillier secret key, with the public material of all parties that signing needs.
///
/// Versioned canonical encoding (`encode()` / `init(decoding:)`, which re-checks x_i·G = X_i,
/// p·q = N_i and that the public shares interpolate to the public key). The encoding holds the
/// secrets: store it sealed (issue 4). `description` never shows them.
public struct KeyShare: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public static let version: UInt8 = 1

    public let threshold: Int
    public let parties: [PartyIndex]
    public let me: PartyIndex
    /// Share ids x_j, in `parties` order.
    public let shareIDs: [Scalar]
    /// y = Σ u_j·G.
    public let publicKey: Point
    /// X_j = x_j·G, in `parties` order.
    public let publicShares: [Point]
    public let paillierKeys: [PaillierPublicKey]
    public let ringPedersen: [RingPedersenParameters]
    public let identities: [PublicKey]
    let secretShare: Scalar
    let paillierSecret: PaillierSecretKey
    /// SHA-256 of the public part: what presignatures are bound to.
    public let keyID: [UInt8]

    init(
        threshold: Int, parties: [PartyIndex], me: PartyIndex, shareIDs: [Scalar], publicKey: Point,
        publicShares: [Point], paillierKeys: [PaillierPublicKey], ringPedersen: [RingPedersenParameters],
        identities: [PublicKey], secretShare: Scalar, paillierSecret: PaillierSecretKey
    ) throws {
        let n = parties.count
        guard n >= 2, threshold >= 1, threshold < n, parties.contains(me),
            zip(parties, parties.dropFirst()).allSatisfy({ $0 < $1 }),
            [shareIDs.count, publicShares.count, paillierKeys.count, ringPedersen.count, identities.count]
                .allSatisfy({ $0 == n })
        else { throw Abort(culprits: [], reason: .invalidArguments("inconsistent key share")) }
        self.threshold = threshold
        self.parties = parties
        self.me = me
        self.shareIDs = shareIDs
        self.publicKey = publicKey
        self.publicShares = publicShares
        self.paillierKeys = paillierKeys
        self.ringPedersen = ringPedersen
        self.identities = identities
        self.secretShare = secretShare
        self.paillierSecret = paillierSecret
        // The key id is the same at every party: the public part without `me`.
        var w = WireWriter()
        Self.writePublic(
            &w, threshold: threshold, parties: parties, me: nil, shareIDs: shareIDs, publicKey: publicKey,
            publicShares: publicShares, paillierKeys: paillierKeys, ringPedersen: ringPedersen,
            identities: identities)
        keyID = SHA256.hash(Array("vn/tss/key-id/v1".utf8) + w.bytes)
        guard let i = parties.firstIndex(of: me), Point.generatorMul(secretShare) == publicShares[i],
            paillierSecret.publicKey == paillierKeys[i], !publicKey.isInfinity
        else { throw Abort(culprits: [], reason: .invalidArguments("key share secrets do not match")) }
        // The public shares lie on one degree-t polynomial with f(0)·G = y.
        let ids = Dictionary(uniqueKeysWithValues: zip(parties, shareIDs))
        let basis = Array(parties.prefix(threshold + 1))
        func interpolate(at x: Scalar) throws -> Point {
            var terms: [Point] = []
            for (j, xj) in zip(basis, basis.map { ids[$0]! }) {
                var coefficient = Scalar.one
                for k in basis where k != j {
                    coefficient *= (x - ids[k]!) * (try (xj - ids[k]!).inverse())
                }
                terms.append(publicShares[parties.firstIndex(of: j)!].multipliedVartime(by: coefficient))
            }
            return Point.sum(terms)
        }
        guard try interpolate(at: .zero) == publicKey else {
            throw Abort(culprits: [], reason: .invalidArguments("public shares do not interpolate to y"))
        }
        for (k, xk) in zip(parties, shareIDs).dropFirst(threshold + 1) {
            guard try interpolate(at: xk) == publicShares[parties.firstIndex(of: k)!] else {
                throw Abort(culprits: [], reason: .invalidArguments("public shares not of degree t"))
            }
        }
    }

    /// The group key as an ECDSA public key (Ethereum address: `.ethereumAddress`).
    public var groupPublicKey: PublicKey {
        // Keygen refuses an infinite y.
        try! publicKey.publicKey()
    }

    func index(of party: PartyIndex) -> Int? { parties.firstIndex(of: party) }

    // MARK: Encoding

    static func writePublic(
        _ w: inout WireWriter, threshold: Int, parties: [PartyIndex], me: PartyIndex?, shareIDs: [Scalar],
        publicKey: Point, publicShares: [Point], paillierKeys: [PaillierPublicKey],
        ringPedersen: [RingPedersenParameters], identities: [PublicKey]
    ) {
        w.writeUInt8(version)
        w.writeUInt16(UInt16(threshold))
        w.writeArray(parties) { $0.writeUInt32($1) }
        if let me { w.writeUInt32(me) }
        w.writeArray(shareIDs) { $0.writeFixedBytes($1.bytes) }
        w.writePoint(publicKey)
        w.writeArray(publicShares) { $0.writePoint($1) }
        w.writeArray(paillierKeys) { $0.writeInteger($1.n) }
        w.writeArray(ringPedersen) { w, rp in
            w.writeInteger(rp.n)
            w.writeInteger(rp.s)
            w.writeInteger(rp.t)
        }
        w.writeArray(identities) { $0.writeFixedBytes($1.compressed) }
    }

    /// version ‖ public part ‖ x_i ‖ p ‖ q (secret: store sealed).
    /// The returned array holds the secrets: the caller seals it and `secureZero`s it. No other
    /// copy is left behind: the temporary byte arrays of x_i, p and q are zeroed, and the writer is
    /// sized up front so that appending never reallocates (a reallocation would free a buffer
    /// holding part of the secrets without zeroing it).
    public func encode() -> [UInt8] {
        var head = WireWriter()
        Self.writePublic(
            &head, threshold: threshold, parties: parties, me: me, shareIDs: shareIDs, publicKey: publicKey,
            publicShares: publicShares, paillierKeys: paillierKeys, ringPedersen: ringPedersen,
            identities: identities)
        var x = secretShare.bytes
        let (p, q) = paillierSecret.primes
        var pBytes = p.magnitudeBytes()
        var qBytes = q.magnitudeBytes()
        defer {
            secureZero(&x)
            secureZero(&pBytes)
            secureZero(&qBytes)
        }
        var w = WireWriter(reservingCapacity: head.count + x.count + 8 + pBytes.count + qBytes.count)
        w.writeFixedBytes(head.take())
        w.writeFixedBytes(x)
        w.writeBytes(pBytes)
        w.writeBytes(qBytes)
        return w.take()
    }

    public init(decoding bytes: [UInt8]) throws {
        var r = WireReader(bytes)
        guard try r.readUInt8() == Self.version else { throw WireError.invalidValue("key share version") }
        let bits = PaillierPublicKey.maximumModulusBits
        let threshold = Int(try r.readUInt16())
        let parties = try r.readArray(maxCount: 255, minimumElementSize: 4) { r throws(WireError) in try r.readUInt32()
        }
        let me = try r.readUInt32()
        let ids = try r.readArray(maxCount: 255, minimumElementSize: 32) { r throws(WireError) in try r.readScalar() }
        let y = try r.readPoint()
        let shares = try r.readArray(maxCount: 255, minimumElementSize: 33) { r throws(WireError) in try r.readPoint() }
        let ns = try r.readArray(maxCount: 255, minimumElementSize: 5) { r throws(WireError) in
            try r.readInteger(maxBits: bits)
        }
        let rps = try r.readArray(maxCount: 255, minimumElementSize: 15) { r throws(WireError) in
            (try r.readInteger(maxBits: bits), try r.readInteger(maxBits: bits), try r.readInteger(maxBits: bits))
        }
        let identities = try r.readArray(maxCount: 255, minimumElementSize: 33) { r throws(WireError) in
            try r.readFixedBytes(count: 33)
        }
        var secretBytes = try r.readFixedBytes(count: 32)
        defer { secureZero(&secretBytes) }
        // The arrays p and q are read into are copies of the secrets: zeroed once BIGNUM has them.
        var pBytes = try r.readBytes(maxLength: bits / 8)
        defer { secureZero(&pBytes) }
        var qBytes = try r.readBytes(maxLength: bits / 8)
        defer { secureZero(&qBytes) }
        let p = BigNum(bytes: pBytes, secret: true)
        let q = BigNum(bytes: qBytes, secret: true)
        try r.finish()
        try self.init(
            threshold: threshold, parties: parties, me: me, shareIDs: ids, publicKey: y, publicShares: shares,
            paillierKeys: try ns.map { try PaillierPublicKey(n: $0) },
            ringPedersen: try rps.map { try RingPedersenParameters(n: $0.0, s: $0.1, t: $0.2) },
            identities: try identities.map { try PublicKey(bytes: $0) }, secretShare: try Scalar(bytes: secretBytes),
            paillierSecret: try PaillierSecretKey(p: p, q: q, validatingPrimes: false))
    }

    public var description: String {
        "KeyShare(v\(Self.version), party \(me), t=\(threshold), n=\(parties.count), y=\(publicKey), secret <redacted>)"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension KeyShare {
    /// The Paillier randomizers `presignings` presignings of this share take, per modulus: each
    /// takes 1 + 6t under its own key (K, and per co-signer Π^enc's and Π^log*'s A, two MtA
    /// answers' Y and two Π^aff-g B_y) and 4 under each co-signer's (two masks D, two Π^aff-g A).
    public func paillierNonceTargets(presignings: Int) -> [(key: PaillierPublicKey, count: Int)] {
        let own = paillierSecret.publicKey
        return [(own, (1 + 6 * threshold) * presignings)]
            + paillierKeys.filter { $0 != own }.map { ($0, 4 * presignings) }
    }

    /// One randomizer for `key` computed now into `pool` (by CRT when it is this share's own key).
    public func precomputePaillierNonce<R: RandomSource>(
        for key: PaillierPublicKey, into pool: PaillierNoncePool, using rng: inout R
    ) throws {
        try pool.precompute(for: key, owner: key == paillierSecret.publicKey ? paillierSecret : nil, using: &rng)
    }
}
