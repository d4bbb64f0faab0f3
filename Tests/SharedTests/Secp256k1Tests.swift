import CryptoPrimitives
import PropertyBased
import Secp256k1
import Testing

/// n − s for a 32-byte big-endian s (test helper to build the high-s twin).
private func orderMinus(_ s: [UInt8]) -> [UInt8] {
    let n = hex("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141")
    var out = [UInt8](repeating: 0, count: 32)
    var borrow = 0
    for i in (0..<32).reversed() {
        var d = Int(n[i]) - Int(s[i]) - borrow
        borrow = d < 0 ? 1 : 0
        if d < 0 { d += 256 }
        out[i] = UInt8(d)
    }
    return out
}

@Suite("secp256k1")
struct Secp256k1Tests {
    static let n = hex("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141")
    static let key46 = [UInt8](repeating: 0x46, count: 32)
    static let keyOne = [UInt8](repeating: 0, count: 31) + [1]
    static let generator = hex(
        """
        0479BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798\
        483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8
        """)

    // EIP-155's worked example: key 0x46…46, signing hash of the example transaction.
    @Test func eip155Example() throws {
        let key = try PrivateKey(bytes: Self.key46)
        #expect(
            hexString(key.publicKey.uncompressed) == """
                044bc2a31265153f07e70e0bab08724e6b85e217f8cd628ceb62974247bb493382ce28cab79ad7119ee1ad3ebcdb98a16805211530ecc6cfefa1b88e6dff99232a
                """)
        #expect(key.publicKey.ethereumAddress == "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F")
        #expect(
            eip55Checksum(addressBytes: key.publicKey.ethereumAddressBytes)
                == "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F")
        let digest = hex("daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53")
        let sig = try key.signRecoverable(digest: digest)
        // v = 37 = 35 + 2·1 + recid.
        #expect(sig.recoveryID == 0)
        #expect(hexString(sig.signature.r) == "28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276")
        #expect(hexString(sig.signature.s) == "67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83")
        #expect(try key.sign(digest: digest) == sig.signature)
        #expect(try PublicKey.recover(sig, digest: digest) == key.publicKey)
        #expect(
            hexString(sig.signature.der) == """
                3044022028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276022067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83
                """)
    }

    // Key 1 is G; RFC 6979 vector for sha256("Satoshi Nakamoto") (widely published, low-s form).
    @Test func keyOneAndRFC6979() throws {
        let key = try PrivateKey(bytes: Self.keyOne)
        #expect(key.publicKey.uncompressed == Self.generator)
        #expect(
            hexString(key.publicKey.compressed) == "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
        #expect(key.publicKey.ethereumAddress == "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf")
        let sig = try key.sign(digest: SHA256.hash(bytes("Satoshi Nakamoto")))
        #expect(
            hexString(sig.compact) == "934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d8"
                + "2442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e5")
        let two = try PrivateKey(bytes: [UInt8](repeating: 0, count: 31) + [2])
        #expect(two.publicKey.ethereumAddress == "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF")
    }

    @Test func publicKeyEncodings() throws {
        let key = PrivateKey.generate()
        let pub = key.publicKey
        #expect(pub.compressed.count == 33 && pub.uncompressed.count == 65)
        #expect(try PublicKey(bytes: pub.compressed) == pub)
        #expect(try PublicKey(bytes: pub.uncompressed) == pub)
        #expect(Set([try PublicKey(bytes: pub.compressed), pub]).count == 1)
        #expect(pub.ethereumAddressBytes.count == 20)
        #expect(pub.ethereumAddressBytes == Array(Keccak256.hash(pub.uncompressed.dropFirst()).suffix(20)))
        #expect(pub.description.hasPrefix("PublicKey(0x0"))
    }

    @Test func invalidPrivateKeysAreRejected() {
        let high = [UInt8](repeating: 0xff, count: 32)
        var nPlusOne = Self.n
        nPlusOne[31] += 1
        for bad in [
            [UInt8](repeating: 0, count: 32), Self.n, nPlusOne, high, [1], [], [UInt8](repeating: 1, count: 31),
            [UInt8](repeating: 1, count: 33),
        ] {
            #expect(throws: Secp256k1Error.invalidPrivateKey) { try PrivateKey(bytes: bad) }
        }
        var nMinusOne = Self.n
        nMinusOne[31] -= 1
        #expect(throws: Never.self) { try PrivateKey(bytes: nMinusOne) }
    }

    @Test func invalidPublicKeysAreRejected() {
        var offCurve = Self.generator
        offCurve[64] ^= 1
        var hybrid = Self.generator
        hybrid[0] = 0x06
        let compressedBadPrefix = [0x05] + Self.generator[1...32]
        let xAboveP = [0x02] + [UInt8](repeating: 0xff, count: 32)
        let cases: [[UInt8]] = [
            offCurve, hybrid, compressedBadPrefix, xAboveP, [0x04] + [UInt8](repeating: 0, count: 64),
            [], [0x02], Array(Self.generator.prefix(64)), Self.generator + [0], [0x00],
        ]
        for bad in cases {
            #expect(throws: Secp256k1Error.invalidPublicKey) { try PublicKey(bytes: bad) }
        }
        // Some x have no y on the curve: at least one of a handful of small x must be refused.
        let refused = (1...8).filter { x in
            (try? PublicKey(bytes: [0x02] + [UInt8](repeating: 0, count: 31) + [UInt8(x)])) == nil
        }
        #expect(!refused.isEmpty)
    }

    @Test func signVerifyAndTamper() throws {
        let key = PrivateKey.generate()
        let digest = Keccak256.hash(bytes("vote for block 42"))
        let sig = try key.sign(digest: digest)
        #expect(sig.isLowS)
        #expect(key.publicKey.verify(sig, digest: digest))
        var otherDigest = digest
        otherDigest[0] ^= 1
        #expect(!key.publicKey.verify(sig, digest: otherDigest))
        #expect(!PrivateKey.generate().publicKey.verify(sig, digest: digest))
        #expect(!key.publicKey.verify(sig, digest: Array(digest.prefix(31))))
        var tampered = sig.compact
        tampered[10] ^= 0x20
        if let bad = try? ECDSASignature(compact: tampered) {
            #expect(!key.publicKey.verify(bad, digest: digest))
        }
        // Deterministic (RFC 6979).
        #expect(try key.sign(digest: digest) == sig)
        #expect(throws: Secp256k1Error.invalidDigestLength) { try key.sign(digest: [1, 2, 3]) }
        #expect(throws: Secp256k1Error.invalidDigestLength) { try key.signRecoverable(digest: digest + [0]) }
    }

    @Test func highSIsRejected() throws {
        let key = PrivateKey.generate()
        let digest = SHA256.hash(bytes("malleability"))
        let sig = try key.signRecoverable(digest: digest)
        let highS = try ECDSASignature(compact: sig.signature.r + orderMinus(sig.signature.s))
        #expect(!highS.isLowS)
        #expect(!key.publicKey.verify(highS, digest: digest))
        #expect(highS.normalized == sig.signature)
        #expect(sig.signature.normalized == sig.signature)
        let highRecoverable = try RecoverableSignature(compact: highS.compact, recoveryID: 1 - sig.recoveryID)
        #expect(throws: Secp256k1Error.highS) { try PublicKey.recover(highRecoverable, digest: digest) }
    }

    @Test func signatureEncodings() throws {
        let sig = try PrivateKey.generate().sign(digest: SecureRandom.bytes(32))
        #expect(try ECDSASignature(compact: sig.compact) == sig)
        #expect(try ECDSASignature(der: sig.der) == sig)
        #expect(sig.der.count <= 72 && sig.der.first == 0x30)
        let zeros = [UInt8](repeating: 0, count: 32)
        let one = zeros.dropLast() + [1]
        for bad in [zeros + Array(one), Array(one) + zeros, Self.n + Array(one), Array(one) + Self.n, Array(one), []] {
            #expect(throws: Secp256k1Error.invalidSignature) { try ECDSASignature(compact: bad) }
        }
        // Non-canonical DER: an extra leading zero on r, a trailing byte, a truncated body.
        let r = hex("28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276")
        let s = hex("67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83")
        let canonical = [0x30, 0x44, 0x02, 0x20] + r + [0x02, 0x20] + s
        #expect(try ECDSASignature(der: canonical).compact == r + s)
        let padded = [0x30, 0x45, 0x02, 0x21, 0x00] + r + [0x02, 0x20] + s
        #expect(throws: Secp256k1Error.invalidSignature) { try ECDSASignature(der: padded) }
        #expect(throws: Secp256k1Error.invalidSignature) { try ECDSASignature(der: canonical + [0]) }
        #expect(throws: Secp256k1Error.invalidSignature) { try ECDSASignature(der: Array(canonical.dropLast())) }
        #expect(throws: Secp256k1Error.invalidSignature) { try ECDSASignature(der: []) }
    }

    @Test func recoverableSignatures() throws {
        let key = PrivateKey.generate()
        let digest = SecureRandom.bytes(32)
        let sig = try key.signRecoverable(digest: digest)
        #expect(sig.bytes65.count == 65)
        #expect(try RecoverableSignature(bytes65: sig.bytes65) == sig)
        #expect(try PublicKey.recover(sig, digest: digest) == key.publicKey)
        #expect(key.publicKey.verify(sig.signature, digest: digest))
        // Another digest recovers someone else (or nothing).
        var other = digest
        other[5] ^= 4
        #expect((try? PublicKey.recover(sig, digest: other)) != key.publicKey)
        // The other recovery id gives a different key.
        let flipped = try RecoverableSignature(compact: sig.signature.compact, recoveryID: 1 - sig.recoveryID)
        #expect((try? PublicKey.recover(flipped, digest: digest)) != key.publicKey)
        var badV = sig.bytes65
        badV[64] = 27
        #expect(throws: Secp256k1Error.invalidRecoveryID) { try RecoverableSignature(bytes65: badV) }
        badV[64] = 2
        #expect(throws: Secp256k1Error.invalidRecoveryID) { try RecoverableSignature(bytes65: badV) }
        #expect(throws: Secp256k1Error.invalidSignature) {
            try RecoverableSignature(bytes65: Array(sig.bytes65.prefix(64)))
        }
        #expect(throws: Secp256k1Error.invalidDigestLength) { try PublicKey.recover(sig, digest: []) }
    }

    @Test func ecdh() throws {
        let a = PrivateKey.generate(), b = PrivateKey.generate()
        let ab = try a.sharedSecret(with: b.publicKey)
        #expect(ab.count == 32)
        #expect(ab == (try b.sharedSecret(with: a.publicKey)))
        #expect(ab != (try a.sharedSecret(with: PrivateKey.generate().publicKey)))
        // Independent check: 1·(2G) = 2G, so the secret is SHA-256 of 2G compressed.
        let one = try PrivateKey(bytes: Self.keyOne)
        let two = try PrivateKey(bytes: [UInt8](repeating: 0, count: 31) + [2])
        #expect(try one.sharedSecret(with: two.publicKey) == SHA256.hash(two.publicKey.compressed))
        #expect(
            hexString(try one.sharedSecret(with: two.publicKey))
                == "b1c9938f01121e159887ac2c8d393a22e4476ff8212de13fe1939de2a236f0a7")
        // 0x46…46 · 7G, computed independently.
        let seven = try PublicKey(bytes: hex("025cbdf0646e5db4eaa398f365f2ea7a0e3d419b7e0330e39ce92bddedcac4f9bc"))
        #expect(
            hexString(try PrivateKey(bytes: Self.key46).sharedSecret(with: seven))
                == "0a4bfc3f6ecce16c83b256d0af7f45b0e4cd0d7aba4428a6d74fbdcfd4f763a5")
    }

    @Test func privateKeyNeverPrints() throws {
        let key = try PrivateKey(bytes: Self.key46)
        #expect(key.description == "<redacted>")
        #expect("\(key)" == "<redacted>")
        let reflected = String(reflecting: key)
        var dumped = ""
        dump(key, to: &dumped)
        for text in [reflected, dumped] {
            #expect(!text.contains("4646"))
            #expect(!text.contains("70"))  // 0x46 as decimal
        }
        #expect(key.withRawBytes { $0 } == Self.key46)
        #expect(try PrivateKey(bytes: key.withRawBytes { $0 }).publicKey == key.publicKey)
        #expect(throws: Secp256k1Error.invalidPrivateKey) { try PrivateKey(secret: SecretBytes([1, 2])) }
    }

    // EIP-55's examples (all-caps, all-lower and mixed).
    @Test func eip55Examples() throws {
        let examples = [
            "0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
            "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ]
        for example in examples {
            let raw = hex(String(example.dropFirst(2)))
            #expect(eip55Checksum(addressBytes: raw) == example)
            #expect(try parseEthereumAddress(example) == raw)
            #expect(try parseEthereumAddress(example.lowercased()) == raw)
        }
        // A wrong mixed case is refused; malformed strings too.
        #expect(throws: Secp256k1Error.invalidAddress) {
            try parseEthereumAddress("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
        }
        for bad in [
            "", "0x", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd", "0xgaaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        ] {
            #expect(throws: Secp256k1Error.invalidAddress) { try parseEthereumAddress(bad) }
        }
    }

    @Test func propertySignVerifyRecover() async {
        await propertyCheck(
            count: 200, input: Gen.uint8().array(of: 32), Gen.uint8().array(of: 32), Gen.int(in: 0..<256)
        ) { keyBytes, digest, bit in
            guard let key = try? PrivateKey(bytes: keyBytes) else { return }  // 0 or ≥ n: ~2^-128
            let sig = try key.signRecoverable(digest: digest)
            #expect(key.publicKey.verify(sig.signature, digest: digest))
            #expect(try PublicKey.recover(sig, digest: digest) == key.publicKey)
            #expect(try PublicKey(bytes: key.publicKey.compressed) == key.publicKey)
            // A flipped digest bit fails verification and recovers another key.
            var tamperedDigest = digest
            tamperedDigest[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(!key.publicKey.verify(sig.signature, digest: tamperedDigest))
            #expect((try? PublicKey.recover(sig, digest: tamperedDigest)) != key.publicKey)
            // A flipped signature bit (r or s) either fails to parse or fails to verify.
            var tamperedSig = sig.signature.compact
            tamperedSig[bit / 8 * 2 % 64] ^= 1 << UInt8(bit % 8)
            if let parsed = try? ECDSASignature(compact: tamperedSig) {
                #expect(!key.publicKey.verify(parsed, digest: digest))
            }
        }
    }
}
