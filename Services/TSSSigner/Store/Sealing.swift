import CryptoPrimitives
import Wire

/// Why the key store refused something. Messages never contain secret bytes.
public enum KeyStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The passphrase (or key file) does not open this store; nothing was written.
    case wrongPassphrase(String)
    /// A record or pool item failed authentication or names another record.
    case tampered(String)
    /// Bytes that do not decode.
    case corrupt(String)
    case notFound(String)
    /// An import or create would replace a different record.
    case conflict(String)
    /// A status change that the life cycle forbids (e.g. RETIRED → READY).
    case invalidTransition(String)
    case invalidArgument(String)
    /// Passphrase file problems, LevelDB errors.
    case io(String)

    public var description: String {
        switch self {
        case .wrongPassphrase(let m): "wrong keystore passphrase: \(m)"
        case .tampered(let m): "keystore record refused (tampered or misplaced): \(m)"
        case .corrupt(let m): "keystore data corrupt: \(m)"
        case .notFound(let m): "not found: \(m)"
        case .conflict(let m): "keystore conflict: \(m)"
        case .invalidTransition(let m): "invalid key status change: \(m)"
        case .invalidArgument(let m): "invalid argument: \(m)"
        case .io(let m): "keystore I/O: \(m)"
        }
    }
}

/// scrypt cost (RFC 7914), stored in the store so a store opens with the parameters it was made
/// with. Default N = 2^15, r = 8, p = 1 (32 MiB, the RFC's interactive-login choice); tests use
/// less. Stored values are bounded so a damaged header cannot ask for unbounded memory.
public struct ScryptParameters: Sendable, Equatable, CustomStringConvertible {
    public let log2N: UInt8
    public let r: UInt32
    public let p: UInt32

    public static let `default` = try! ScryptParameters(log2N: 15, r: 8, p: 1)

    public init(log2N: UInt8, r: UInt32, p: UInt32) throws(KeyStoreError) {
        guard (1...22).contains(log2N), (1...32).contains(r), (1...16).contains(p),
            let memory = Scrypt.memoryRequired(n: UInt64(1) << log2N, r: r, p: p), memory <= 1 << 30
        else { throw .invalidArgument("scrypt parameters out of range (log2 N 1-22, r 1-32, p 1-16, ≤ 1 GiB)") }
        self.log2N = log2N
        self.r = r
        self.p = p
    }

    public var n: UInt64 { UInt64(1) << log2N }
    public var description: String { "scrypt(N=2^\(log2N), r=\(r), p=\(p))" }

    func write(to w: inout WireWriter) {
        w.writeUInt8(log2N)
        w.writeUInt32(r)
        w.writeUInt32(p)
    }

    init(from r: inout WireReader) throws(KeyStoreError) {
        do {
            let log2N = try r.readUInt8()
            let rr = try r.readUInt32()
            let p = try r.readUInt32()
            try self.init(log2N: log2N, r: rr, p: p)
        } catch let error as KeyStoreError {
            throw error
        } catch {
            throw .corrupt("scrypt parameters: \(error)")
        }
    }
}

/// AES-256-GCM under a key derived for this box alone: k = HKDF-SHA256(master, salt, info), with a
/// random 32-byte salt and a random 12-byte nonce per box, so no (key, nonce) pair ever repeats
/// across records or rewrites.
struct SealedBox: Sendable, Equatable {
    static let saltByteCount = 32

    let salt: [UInt8]
    let nonce: [UInt8]
    /// ciphertext ‖ 16-byte tag.
    let sealed: [UInt8]

    static func seal<R: RandomSource>(
        _ plaintext: [UInt8], master: SecretBytes, info: String, aad: [UInt8], using rng: inout R
    ) throws(KeyStoreError) -> SealedBox {
        let salt = rng.bytes(saltByteCount)
        let nonce = rng.bytes(AESGCM.nonceByteCount)
        var key = try boxKey(master: master, salt: salt, info: info)
        defer { secureZero(&key) }
        do {
            return SealedBox(
                salt: salt, nonce: nonce,
                sealed: try AESGCM.seal(key: key, nonce: nonce, plaintext: plaintext, aad: aad))
        } catch {
            throw .io("AES-GCM seal: \(error)")
        }
    }

    /// The plaintext, or `tampered` if the tag does not verify (wrong key, changed bytes, other
    /// associated data). The caller zeroes the result.
    func open(master: SecretBytes, info: String, aad: [UInt8]) throws(KeyStoreError) -> [UInt8] {
        var key = try Self.boxKey(master: master, salt: salt, info: info)
        defer { secureZero(&key) }
        do {
            return try AESGCM.open(key: key, nonce: nonce, sealed: sealed, aad: aad)
        } catch {
            throw .tampered("authentication failed")
        }
    }

    private static func boxKey(master: SecretBytes, salt: [UInt8], info: String) throws(KeyStoreError) -> [UInt8] {
        var ikm = master.copyBytes()
        defer { secureZero(&ikm) }
        do {
            return try HKDF.sha256(ikm: ikm, salt: salt, info: Array(info.utf8), outputLength: AESGCM.keyByteCount)
        } catch {
            throw .io("HKDF: \(error)")
        }
    }

    func write(to w: inout WireWriter) {
        w.writeFixedBytes(salt)
        w.writeFixedBytes(nonce)
        w.writeBytes(sealed)
    }

    init(salt: [UInt8], nonce: [UInt8], sealed: [UInt8]) {
        self.salt = salt
        self.nonce = nonce
        self.sealed = sealed
    }

    init(from r: inout WireReader) throws(WireError) {
        salt = try r.readFixedBytes(count: Self.saltByteCount)
        nonce = try r.readFixedBytes(count: AESGCM.nonceByteCount)
        sealed = try r.readBytes(maxLength: 1 << 24)
        guard sealed.count >= AESGCM.tagByteCount else { throw .invalidValue("sealed box shorter than its tag") }
    }
}

/// The store-level header (`meta/keystore`): scrypt parameters and salt, and a verifier, a known
/// block sealed under the master key, so a wrong passphrase is detected before anything is read
/// or written.
///
/// Encoding (version 1): u8 version ‖ scrypt (u8 log2 N, u32 r, u32 p) ‖ 32-byte scrypt salt ‖
/// verifier box.
struct KeyStoreMeta: Sendable, Equatable {
    static let version: UInt8 = 1
    static let verifierPlaintext = Array("vn/tss/keystore/verifier/v1".utf8)
    static let verifierInfo = "vn/tss/keystore/verifier/v1"

    let scrypt: ScryptParameters
    let salt: [UInt8]
    let verifier: SealedBox

    /// The part the verifier authenticates (everything but the verifier itself).
    var prefixBytes: [UInt8] {
        var w = WireWriter()
        w.writeUInt8(Self.version)
        scrypt.write(to: &w)
        w.writeFixedBytes(salt)
        return w.take()
    }

    func encode() -> [UInt8] {
        var w = WireWriter()
        w.writeFixedBytes(prefixBytes)
        verifier.write(to: &w)
        return w.take()
    }

    init(scrypt: ScryptParameters, salt: [UInt8], verifier: SealedBox) {
        self.scrypt = scrypt
        self.salt = salt
        self.verifier = verifier
    }

    init(decoding bytes: [UInt8]) throws(KeyStoreError) {
        var r = WireReader(bytes)
        do {
            guard try r.readUInt8() == Self.version else { throw WireError.invalidValue("keystore header version") }
        } catch {
            throw .corrupt("keystore header: \(error)")
        }
        scrypt = try ScryptParameters(from: &r)
        do {
            salt = try r.readFixedBytes(count: 32)
            verifier = try SealedBox(from: &r)
            try r.finish()
        } catch {
            throw .corrupt("keystore header: \(error)")
        }
    }

    /// A new header for `master` (derived from the passphrase with `scrypt` and `salt`).
    static func make<R: RandomSource>(
        scrypt: ScryptParameters, salt: [UInt8], master: SecretBytes, using rng: inout R
    ) throws(KeyStoreError) -> KeyStoreMeta {
        var w = WireWriter()
        w.writeUInt8(version)
        scrypt.write(to: &w)
        w.writeFixedBytes(salt)
        let box = try SealedBox.seal(
            verifierPlaintext, master: master, info: verifierInfo, aad: w.bytes, using: &rng)
        return KeyStoreMeta(scrypt: scrypt, salt: salt, verifier: box)
    }

    /// True when `master` opens the verifier.
    func verifies(_ master: SecretBytes) -> Bool {
        guard let plain = try? verifier.open(master: master, info: Self.verifierInfo, aad: prefixBytes) else {
            return false
        }
        return plain == Self.verifierPlaintext
    }

    /// scrypt(passphrase, salt) → the 32-byte master key.
    static func deriveMaster(
        passphrase: SecretBytes, scrypt: ScryptParameters, salt: [UInt8]
    ) throws(KeyStoreError) -> SecretBytes {
        var password = passphrase.copyBytes()
        defer { secureZero(&password) }
        do {
            var out = try Scrypt.derive(
                password: password, salt: salt, n: scrypt.n, r: scrypt.r, p: scrypt.p, length: 32)
            return SecretBytes(zeroing: &out)
        } catch {
            throw .io("scrypt: \(error)")
        }
    }
}
