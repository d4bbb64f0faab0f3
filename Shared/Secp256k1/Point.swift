import CSecp256k1
import CryptoPrimitives

/// An element of the secp256k1 group, the point at infinity (the identity) included as an
/// explicit case: libsecp256k1 has no representation for it (`ec_pubkey_combine` fails on a zero
/// sum, `tweak_mul` and `pubkey_create` reject a zero scalar), so those cases are handled here.
///
/// Encoding: 33 bytes, SEC 1 compressed (0x02/0x03 ‖ X) for finite points and 33 zero bytes for
/// infinity (a prefix no finite point uses). `init(encoded:)` accepts both, `init(compressed:)`
/// only finite points; both reject points off the curve.
///
/// `k * P` and `Point.generatorMul(k)` are constant time in k (libsecp256k1's `ecmult_const`
/// via ECDH, and `ecmult_gen`); `multipliedVartime(by:)` is the faster variable-time product for
/// public scalars only.
public struct Point: Sendable, Hashable, CustomStringConvertible {
    enum Storage: Sendable {
        case infinity
        case finite(secp256k1_pubkey)
    }

    let storage: Storage

    init(storage: Storage) { self.storage = storage }

    public static let infinity = Point(storage: .infinity)

    /// G.
    public static let generator: Point = {
        let compressed: [UInt8] = [
            0x02,
            0x79, 0xBE, 0x66, 0x7E, 0xF9, 0xDC, 0xBB, 0xAC, 0x55, 0xA0, 0x62, 0x95, 0xCE, 0x87, 0x0B, 0x07,
            0x02, 0x9B, 0xFC, 0xDB, 0x2D, 0xCE, 0x28, 0xD9, 0x59, 0xF2, 0x81, 0x5B, 0x16, 0xF8, 0x17, 0x98,
        ]
        return try! Point(compressed: compressed)
    }()

    public static let encodedByteCount = 33

    /// 33 bytes: a compressed finite point, or 33 zero bytes for infinity.
    public init(encoded bytes: [UInt8]) throws {
        guard bytes.count == 33 else { throw GroupError.invalidPoint }
        if bytes.allSatisfy({ $0 == 0 }) {
            self = .infinity
        } else {
            try self.init(compressed: bytes)
        }
    }

    /// 33-byte SEC 1 compressed encoding of a finite point on the curve.
    public init(compressed bytes: [UInt8]) throws {
        guard bytes.count == 33, bytes[0] == 0x02 || bytes[0] == 0x03 else { throw GroupError.invalidPoint }
        var pubkey = secp256k1_pubkey()
        guard secp256k1_ec_pubkey_parse(context, &pubkey, bytes, 33) == 1 else { throw GroupError.invalidPoint }
        storage = .finite(pubkey)
    }

    public init(_ publicKey: PublicKey) {
        var pubkey = secp256k1_pubkey()
        // A PublicKey holds a validated uncompressed point.
        guard secp256k1_ec_pubkey_parse(context, &pubkey, publicKey.uncompressed, 65) == 1 else {
            fatalError("PublicKey held an invalid point")
        }
        storage = .finite(pubkey)
    }

    public var isInfinity: Bool {
        if case .infinity = storage { return true }
        return false
    }

    /// The 33-byte encoding (compressed; zeros for infinity).
    public var encoded: [UInt8] {
        guard case .finite(var pubkey) = storage else { return [UInt8](repeating: 0, count: 33) }
        var out = [UInt8](repeating: 0, count: 33)
        var length = 33
        _ = secp256k1_ec_pubkey_serialize(context, &out, &length, &pubkey, vn_secp256k1_ec_compressed())
        return out
    }

    /// The point as an ECDSA public key (throws for infinity).
    public func publicKey() throws -> PublicKey {
        guard !isInfinity else { throw GroupError.pointAtInfinity }
        return try PublicKey(bytes: encoded)
    }

    // MARK: Group law

    public static func + (p: Point, q: Point) -> Point { sum([p, q]) }

    public static prefix func - (p: Point) -> Point {
        guard case .finite(var pubkey) = p.storage else { return p }
        guard secp256k1_ec_pubkey_negate(context, &pubkey) == 1 else { fatalError("pubkey_negate failed") }
        return Point(storage: .finite(pubkey))
    }

    public static func - (p: Point, q: Point) -> Point { p + (-q) }

    public static func += (p: inout Point, q: Point) { p = p + q }

    /// Σ points. Infinity terms are skipped; a zero total (P + (−P), or all terms infinity) is
    /// infinity, the one case in which `ec_pubkey_combine` fails on valid inputs.
    public static func sum(_ points: [Point]) -> Point {
        var finite: [secp256k1_pubkey] = []
        finite.reserveCapacity(points.count)
        for p in points {
            if case .finite(let key) = p.storage { finite.append(key) }
        }
        switch finite.count {
        case 0: return .infinity
        case 1: return Point(storage: .finite(finite[0]))
        default: break
        }
        var out = secp256k1_pubkey()
        let ok = finite.withUnsafeBufferPointer { buffer -> Int32 in
            let base = buffer.baseAddress!
            let pointers: [UnsafePointer<secp256k1_pubkey>?] = (0..<buffer.count).map { base + $0 }
            return pointers.withUnsafeBufferPointer {
                secp256k1_ec_pubkey_combine(context, &out, $0.baseAddress!, buffer.count)
            }
        }
        return ok == 1 ? Point(storage: .finite(out)) : .infinity
    }

    /// k·G, constant time in k (`ec_pubkey_create`). Zero gives infinity.
    public static func generatorMul(_ k: Scalar) -> Point {
        if k.isZero { return .infinity }
        var pubkey = secp256k1_pubkey()
        let ok = k.withUnsafeBytes {
            secp256k1_ec_pubkey_create(context, &pubkey, $0.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        guard ok == 1 else { fatalError("pubkey_create rejected a valid non-zero scalar") }
        return Point(storage: .finite(pubkey))
    }

    /// k·P, constant time in k: libsecp256k1's ECDH (`ecmult_const`) with a "hash" that returns
    /// the product's coordinates, parsed back as an uncompressed point. k = 0 or P = ∞ give ∞.
    public static func * (k: Scalar, p: Point) -> Point {
        guard case .finite(var pubkey) = p.storage, !k.isZero else { return .infinity }
        var xy = [UInt8](repeating: 0, count: 64)
        let ok = k.withUnsafeBytes {
            secp256k1_ecdh(
                context, &xy, &pubkey, $0.baseAddress!.assumingMemoryBound(to: UInt8.self),
                vn_secp256k1_ecdh_xy(), nil)
        }
        guard ok == 1 else { fatalError("secp256k1_ecdh rejected a valid non-zero scalar") }
        var product = secp256k1_pubkey()
        let uncompressed = [UInt8(0x04)] + xy
        // k < n and P of prime order n: k·P is finite and on the curve.
        guard secp256k1_ec_pubkey_parse(context, &product, uncompressed, 65) == 1 else {
            fatalError("ECDH output is not on the curve")
        }
        return Point(storage: .finite(product))
    }

    public static func * (p: Point, k: Scalar) -> Point { k * p }

    /// k·P by `ec_pubkey_tweak_mul` (variable time in k: for public scalars, e.g. verifying a
    /// proof). k = 0 or P = ∞ give ∞.
    public func multipliedVartime(by k: Scalar) -> Point {
        guard case .finite(var pubkey) = storage, !k.isZero else { return .infinity }
        let ok = k.withUnsafeBytes {
            secp256k1_ec_pubkey_tweak_mul(context, &pubkey, $0.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        guard ok == 1 else { fatalError("pubkey_tweak_mul rejected a valid non-zero scalar") }
        return Point(storage: .finite(pubkey))
    }

    // MARK: Equality

    public static func == (p: Point, q: Point) -> Bool {
        switch (p.storage, q.storage) {
        case (.infinity, .infinity): return true
        case (.finite(var a), .finite(var b)): return secp256k1_ec_pubkey_cmp(context, &a, &b) == 0
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(encoded) }

    public var description: String {
        isInfinity ? "Point(infinity)" : "Point(0x\(hexEncode(encoded)))"
    }
}
