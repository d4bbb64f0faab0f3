import CryptoPrimitives
import Testing

@Suite("SHA-256, HMAC, HKDF, scrypt")
struct DigestAndKDFTests {
    @Test func sha256Vectors() {
        #expect(hexString(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            hexString(SHA256.hash(bytes("abc"))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let twoBlock = bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
        #expect(hexString(SHA256.hash(twoBlock)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hash(twoBlock[...]) == SHA256.hash(twoBlock))
        #expect(SHA256.hash(twoBlock.lazy.map { $0 }) == SHA256.hash(twoBlock))
    }

    // RFC 4231 §4.2, 4.3, 4.4, 4.7, 4.8.
    @Test func hmacRFC4231() {
        let cases: [(key: [UInt8], data: [UInt8], mac: String)] = [
            (
                [UInt8](repeating: 0x0b, count: 20), bytes("Hi There"),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
            ),
            (
                bytes("Jefe"), bytes("what do ya want for nothing?"),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
            ),
            (
                [UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50),
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
            ),
            (
                [UInt8](repeating: 0xaa, count: 131), bytes("Test Using Larger Than Block-Size Key - Hash Key First"),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
            ),
            (
                [UInt8](repeating: 0xaa, count: 131),
                bytes(
                    "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."
                ),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
            ),
        ]
        for c in cases {
            let mac = HMACSHA256.authenticate(key: c.key, message: c.data)
            #expect(hexString(mac) == c.mac)
            #expect(HMACSHA256.isValid(mac: mac, key: c.key, message: c.data))
            var tampered = mac
            tampered[31] ^= 1
            #expect(!HMACSHA256.isValid(mac: tampered, key: c.key, message: c.data))
        }
        // Empty key and message are valid HMAC inputs.
        #expect(
            hexString(HMACSHA256.authenticate(key: [], message: []))
                == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    // RFC 5869 Appendix A, test cases 1–3.
    @Test func hkdfRFC5869() throws {
        let okm1 = try HKDF.sha256(
            ikm: [UInt8](repeating: 0x0b, count: 22), salt: hex("000102030405060708090a0b0c"),
            info: hex("f0f1f2f3f4f5f6f7f8f9"), outputLength: 42)
        #expect(
            hexString(okm1) == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        let okm2 = try HKDF.sha256(
            ikm: (0x00...0x4f).map { UInt8($0) }, salt: (0x60...0xaf).map { UInt8($0) },
            info: (0xb0...0xff).map { UInt8($0) }, outputLength: 82)
        #expect(
            hexString(okm2) == """
                b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87
                """)
        let okm3 = try HKDF.sha256(ikm: [UInt8](repeating: 0x0b, count: 22), salt: [], info: [], outputLength: 42)
        #expect(
            hexString(okm3) == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
        // An explicit all-zero salt is the same as no salt (RFC 5869 §2.2).
        let zeroSalt = try HKDF.sha256(
            ikm: [UInt8](repeating: 0x0b, count: 22), salt: [UInt8](repeating: 0, count: 32),
            info: [], outputLength: 42)
        #expect(zeroSalt == okm3)
        #expect(try HKDF.sha256(ikm: [1], salt: [], info: [], outputLength: 8160).count == 8160)
    }

    @Test func hkdfRejectsBadParameters() {
        #expect(throws: CryptoError.self) { try HKDF.sha256(ikm: [], salt: [], info: [], outputLength: 32) }
        #expect(throws: CryptoError.self) { try HKDF.sha256(ikm: [1], salt: [], info: [], outputLength: 0) }
        #expect(throws: CryptoError.self) { try HKDF.sha256(ikm: [1], salt: [], info: [], outputLength: -1) }
        #expect(throws: CryptoError.self) { try HKDF.sha256(ikm: [1], salt: [], info: [], outputLength: 8161) }
    }

    // RFC 7914 §12, the three vectors that fit in 16 MiB.
    @Test func scryptRFC7914() throws {
        let v1 = try Scrypt.derive(password: [], salt: [], n: 16, r: 1, p: 1, length: 64)
        #expect(
            hexString(v1) == """
                77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906
                """)
        let v2 = try Scrypt.derive(password: bytes("password"), salt: bytes("NaCl"), n: 1024, r: 8, p: 16, length: 64)
        #expect(
            hexString(v2) == """
                fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640
                """)
        let v3 = try Scrypt.derive(
            password: bytes("pleaseletmein"), salt: bytes("SodiumChloride"),
            n: 16384, r: 8, p: 1, length: 64)
        #expect(
            hexString(v3) == """
                7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887
                """)
    }

    @Test func scryptRejectsBadParameters() {
        let p = bytes("pw"), s = bytes("salt")
        #expect(throws: CryptoError.self) { try Scrypt.derive(password: p, salt: s, n: 0, r: 8, p: 1, length: 32) }
        #expect(throws: CryptoError.self) { try Scrypt.derive(password: p, salt: s, n: 1, r: 8, p: 1, length: 32) }
        #expect(throws: CryptoError.self) { try Scrypt.derive(password: p, salt: s, n: 1000, r: 8, p: 1, length: 32) }
        #expect(throws: CryptoError.self) { try Scrypt.derive(password: p, salt: s, n: 16, r: 0, p: 1, length: 32) }
        #expect(throws: CryptoError.self) { try Scrypt.derive(password: p, salt: s, n: 16, r: 1, p: 0, length: 32) }
        #expect(throws: CryptoError.self) { try Scrypt.derive(password: p, salt: s, n: 16, r: 1, p: 1, length: 0) }
        #expect(throws: CryptoError.self) {
            try Scrypt.derive(password: p, salt: s, n: 1 << 16, r: 1, p: 1, length: 32)
        }
        // 2^20 · 8 · 128 bytes = 1 GiB is above a 64 MiB limit: refused before allocating.
        #expect(throws: CryptoError.self) {
            try Scrypt.derive(password: p, salt: s, n: 1 << 20, r: 8, p: 1, length: 32, maxMemoryBytes: 64 << 20)
        }
        #expect(throws: CryptoError.self) {
            try Scrypt.derive(password: p, salt: s, n: 1 << 62, r: 8, p: 1, length: 32)
        }
        #expect(Scrypt.memoryRequired(n: 16384, r: 8, p: 1) == 128 * 8 * (16384 + 2) + 128 * 8)
        #expect(Scrypt.memoryRequired(n: .max, r: 8, p: 1) == nil)
    }
}

@Suite("AES-256-GCM")
struct AESGCMTests {
    // McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13, 14, 16 (AES-256).
    @Test func knownVectors() throws {
        let zeroKey = [UInt8](repeating: 0, count: 32), zeroNonce = [UInt8](repeating: 0, count: 12)
        #expect(
            hexString(try AESGCM.seal(key: zeroKey, nonce: zeroNonce, plaintext: [], aad: []))
                == "530f8afbc74536b9a963b4f1c4cb738b")
        #expect(
            hexString(
                try AESGCM.seal(key: zeroKey, nonce: zeroNonce, plaintext: [UInt8](repeating: 0, count: 16), aad: []))
                == "cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919")

        let key = hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
        let nonce = hex("cafebabefacedbaddecaf888")
        let plaintext = hex(
            """
            d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525
            b16aedf5aa0de657ba637b39
            """)
        let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
        let sealed = try AESGCM.seal(key: key, nonce: nonce, plaintext: plaintext, aad: aad)
        #expect(
            hexString(sealed) == """
                522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662\
                76fc6ece0f4e1768cddf8853bb2d551b
                """)
        #expect(try AESGCM.open(key: key, nonce: nonce, sealed: sealed, aad: aad) == plaintext)
        #expect(
            try AESGCM.open(key: zeroKey, nonce: zeroNonce, sealed: hex("530f8afbc74536b9a963b4f1c4cb738b"), aad: [])
                == [])
    }

    @Test func tamperingIsDetected() throws {
        let key = SecureRandom.bytes(32), nonce = SecureRandom.bytes(12)
        let plaintext = bytes("key shard #7"), aad = bytes("keyId:session")
        let sealed = try AESGCM.seal(key: key, nonce: nonce, plaintext: plaintext, aad: aad)
        #expect(sealed.count == plaintext.count + 16)
        for index in [0, plaintext.count - 1, plaintext.count, sealed.count - 1] {
            var bad = sealed
            bad[index] ^= 0x80
            #expect(throws: CryptoError.authenticationFailed) {
                try AESGCM.open(key: key, nonce: nonce, sealed: bad, aad: aad)
            }
        }
        var otherKey = key
        otherKey[0] ^= 1
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.open(key: otherKey, nonce: nonce, sealed: sealed, aad: aad)
        }
        var otherNonce = nonce
        otherNonce[11] ^= 1
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.open(key: key, nonce: otherNonce, sealed: sealed, aad: aad)
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.open(key: key, nonce: nonce, sealed: sealed, aad: [])
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.open(key: key, nonce: nonce, sealed: Array(sealed.dropFirst()), aad: aad)
        }
    }

    @Test func rejectsBadLengths() {
        let key = [UInt8](repeating: 1, count: 32), nonce = [UInt8](repeating: 2, count: 12)
        #expect(throws: CryptoError.invalidKeyLength) {
            try AESGCM.seal(key: Array(key.prefix(16)), nonce: nonce, plaintext: [], aad: [])
        }
        #expect(throws: CryptoError.invalidKeyLength) { try AESGCM.seal(key: [], nonce: nonce, plaintext: [], aad: []) }
        #expect(throws: CryptoError.invalidNonceLength) {
            try AESGCM.seal(key: key, nonce: Array(nonce.prefix(8)), plaintext: [], aad: [])
        }
        #expect(throws: CryptoError.invalidNonceLength) {
            try AESGCM.open(key: key, nonce: nonce + [0], sealed: [UInt8](repeating: 0, count: 16), aad: [])
        }
        #expect(throws: CryptoError.self) {
            try AESGCM.open(key: key, nonce: nonce, sealed: [UInt8](repeating: 0, count: 15), aad: [])
        }
    }

    @Test func randomNonceRoundTrip() throws {
        let key = SecureRandom.bytes(32)
        let a = try AESGCM.sealWithRandomNonce(key: key, plaintext: bytes("hello"), aad: [])
        let b = try AESGCM.sealWithRandomNonce(key: key, plaintext: bytes("hello"), aad: [])
        #expect(a != b)
        #expect(try AESGCM.openWithPrefixedNonce(key: key, combined: a, aad: []) == bytes("hello"))
        #expect(throws: CryptoError.self) {
            try AESGCM.openWithPrefixedNonce(key: key, combined: Array(a.prefix(27)), aad: [])
        }
    }
}

@Suite("Secrets and randomness")
struct SecretTests {
    @Test func secretBytesNeverPrints() throws {
        let secret = SecretBytes(bytes("hunter2-very-secret"))
        #expect(secret.description == "<redacted>")
        #expect("\(secret)" == "<redacted>")
        #expect(!String(reflecting: secret).contains("hunter2"))
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("hunter2"))
        #expect(!dumped.contains("104"))  // 'h' as a decimal byte
        #expect(secret.count == 19)
        #expect(secret.withUnsafeBytes { Array($0) } == bytes("hunter2-very-secret"))
    }

    @Test func secretBytesEquality() throws {
        #expect(SecretBytes([1, 2, 3]) == SecretBytes([1, 2, 3]))
        #expect(SecretBytes([1, 2, 3]) != SecretBytes([1, 2, 4]))
        #expect(SecretBytes([1, 2, 3]) != SecretBytes([1, 2]))
        #expect(SecretBytes([]) == SecretBytes([]))
        #expect(SecretBytes([]).isEmpty)
        var source: [UInt8] = [9, 9, 9]
        let moved = SecretBytes(zeroing: &source)
        #expect(source == [0, 0, 0])
        #expect(moved.copyBytes() == [9, 9, 9])
        let random = try SecretBytes.random(count: 32)
        #expect(random.count == 32)
        #expect(random != (try SecretBytes.random(count: 32)))
        #expect(throws: CryptoError.self) { try SecretBytes(count: -1) { _ in } }
        let filled = try SecretBytes(count: 4) { $0.copyBytes(from: [1, 2, 3, 4]) }
        #expect(filled.copyBytes() == [1, 2, 3, 4])
    }

    @Test func constantTimeCompare() {
        #expect(constantTimeEquals([], []))
        #expect(constantTimeEquals([1, 2], [1, 2]))
        #expect(!constantTimeEquals([1, 2], [1, 3]))
        #expect(!constantTimeEquals([1, 2], [1, 2, 3]))
        var buffer: [UInt8] = [1, 2, 3]
        secureZero(&buffer)
        #expect(buffer == [0, 0, 0])
    }

    @Test func randomBytes() {
        #expect(SecureRandom.bytes(0) == [])
        let a = SecureRandom.bytes(32), b = SecureRandom.bytes(32)
        #expect(a.count == 32 && a != b)
        var rng = SecureRandomNumberGenerator()
        let values = (0..<16).map { _ in Int.random(in: 0..<1_000_000, using: &rng) }
        #expect(Set(values).count > 1)
    }

    @Test func errorsDescribeWithoutSecrets() {
        #expect(CryptoError.authenticationFailed.description == "authentication failed")
        #expect(CryptoError.invalidParameter("x").description.contains("x"))
    }
}
