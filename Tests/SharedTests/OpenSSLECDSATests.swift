import CryptoPrimitives
import Secp256k1
import Testing

/// OpenSSL's secp256k1 ECDSA verification (`OpenSSLECDSA`): an outside vector, agreement with
/// libsecp256k1 on fresh signatures, and every tampered part rejected.
@Suite("OpenSSL ECDSA verify")
struct OpenSSLECDSATests {
    // Made with coincurve 21.0.0 (Deploy/devchain venv): key SHA-256("vn openssl ecdsa vector"),
    // digest SHA-256("hello threshold world"), RFC 6979 nonce, low s.
    static let compressed = hex("02b59dd2f7b086ec6702e8aca4fa01da6311ae3cd77127f208793943ef10889bce")
    static let uncompressed = hex(
        """
        04b59dd2f7b086ec6702e8aca4fa01da6311ae3cd77127f208793943ef10889bce\
        b748c5b5f82ec2ae05d263773cbfd3ce7df31c395d3ca81f391fd98f30876e8e
        """)
    static let digest = hex("98132a1f3a1a67471d7d9087c78b0ec007cdc5a1c5a0badb3c60386e17805442")
    static let r = hex("27b5005f6611cb6482365382764b3787dae937194aedf5abd86577aba4400c6e")
    static let s = hex("31647f38a2b3553c73a7760282c498a9e85d016116cc76afae8c0005f77f9e56")
    static let order = hex("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141")

    static func verify(
        key: [UInt8] = compressed, digest: [UInt8] = digest, r: [UInt8] = r, s: [UInt8] = s
    ) throws
        -> Bool
    {
        try OpenSSLECDSA.verify(publicKey: key, digest: digest, r: r, s: s)
    }

    /// n − x for 32-byte big-endian x.
    static func orderMinus(_ x: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var borrow = 0
        for i in (0..<32).reversed() {
            var d = Int(order[i]) - Int(x[i]) - borrow
            borrow = d < 0 ? 1 : 0
            if d < 0 { d += 256 }
            out[i] = UInt8(d)
        }
        return out
    }

    @Test func knownVectorVerifiesWithBothKeyEncodings() throws {
        #expect(try Self.verify())
        #expect(try Self.verify(key: Self.uncompressed))
        // The same vector through libsecp256k1, so both libraries agree on it.
        let key = try PublicKey(bytes: Self.compressed)
        #expect(key.verify(try ECDSASignature(compact: Self.r + Self.s), digest: Self.digest))
    }

    @Test func tamperedPartsAreRejected() throws {
        for i in [0, 13, 31] {
            var r = Self.r
            r[i] ^= 0x01
            #expect(try !Self.verify(r: r), "r byte \(i)")
            var s = Self.s
            s[i] ^= 0x80
            #expect(try !Self.verify(s: s), "s byte \(i)")
            var digest = Self.digest
            digest[i] ^= 0x04
            #expect(try !Self.verify(digest: digest), "digest byte \(i)")
        }
        // r and s swapped; another key (the vector's point negated: 03 prefix).
        #expect(try !Self.verify(r: Self.s, s: Self.r))
        #expect(try !Self.verify(key: [0x03] + Self.compressed.dropFirst()))
    }

    @Test func outOfRangeScalarsAreRejected() throws {
        let zero = [UInt8](repeating: 0, count: 32)
        #expect(try !Self.verify(r: zero))
        #expect(try !Self.verify(s: zero))
        #expect(try !Self.verify(r: Self.order))
        #expect(try !Self.verify(s: Self.order))
        // r + n does not fit 32 bytes; r = n + small wraps to an unrelated value: both refused.
        #expect(try !Self.verify(r: [UInt8](repeating: 0xff, count: 32)))
    }

    /// OpenSSL has no low-S rule: the high-S twin (r, n − s) verifies there, while libsecp256k1's
    /// `verify` refuses it. The threshold signer releases low-S only (checked by its tests).
    @Test func highSTwinVerifiesInOpenSSLOnly() throws {
        let high = Self.orderMinus(Self.s)
        #expect(try Self.verify(s: high))
        let key = try PublicKey(bytes: Self.compressed)
        #expect(!key.verify(try ECDSASignature(compact: Self.r + high), digest: Self.digest))
    }

    @Test func malformedInputsThrow() throws {
        #expect(throws: CryptoError.self) { try Self.verify(key: Array(Self.compressed.dropLast())) }
        #expect(throws: CryptoError.self) { try Self.verify(digest: Array(Self.digest.prefix(20))) }
        #expect(throws: CryptoError.self) { try Self.verify(r: Array(Self.r.dropFirst())) }
        #expect(throws: CryptoError.self) { try Self.verify(s: Self.s + [0]) }
        // x = 5 is not the x-coordinate of a curve point (5³ + 7 = 132 is a non-residue mod p).
        #expect(throws: CryptoError.self) {
            try Self.verify(key: [0x02] + [UInt8](repeating: 0, count: 31) + [5])
        }
        // An uncompressed point off the curve (y changed).
        var offCurve = Self.uncompressed
        offCurve[64] ^= 1
        #expect(throws: CryptoError.self) { try Self.verify(key: offCurve) }
    }

    /// Fresh libsecp256k1 signatures over random keys and digests verify in OpenSSL, and a
    /// signature under one key does not verify under another.
    @Test func agreesWithLibsecp256k1() throws {
        for i in 0..<16 {
            let key = try PrivateKey(bytes: SHA256.hash(Array("openssl agreement \(i)".utf8)))
            let other = try PrivateKey(bytes: SHA256.hash(Array("openssl other \(i)".utf8)))
            let digest = SHA256.hash(Array("digest \(i)".utf8))
            let signature = try key.sign(digest: digest).compact
            let r = Array(signature[0..<32])
            let s = Array(signature[32..<64])
            #expect(try OpenSSLECDSA.verify(publicKey: key.publicKey.compressed, digest: digest, r: r, s: s))
            #expect(try OpenSSLECDSA.verify(publicKey: key.publicKey.uncompressed, digest: digest, r: r, s: s))
            #expect(try !OpenSSLECDSA.verify(publicKey: other.publicKey.compressed, digest: digest, r: r, s: s))
        }
    }
}
