import COpenSSL

/// SHA-256 (FIPS 180-4) through OpenSSL's EVP interface.
public enum SHA256 {
    public static let digestByteCount = 32

    public static func hash<C: Collection>(_ data: C) -> [UInt8] where C.Element == UInt8 {
        if let digest = data.withContiguousStorageIfAvailable({ digest(UnsafeRawBufferPointer($0)) }) {
            return digest
        }
        return Array(data).withUnsafeBytes { digest($0) }
    }

    private static func digest(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: digestByteCount)
        var outLength: UInt32 = 0
        let base = input.baseAddress ?? UnsafeRawPointer(emptyInputSentinel)
        let ok = out.withUnsafeMutableBufferPointer {
            EVP_Digest(base, input.count, $0.baseAddress, &outLength, EVP_sha256(), nil)
        }
        // EVP_Digest on a built-in digest fails only when memory allocation fails.
        guard ok == 1, outLength == UInt32(digestByteCount) else {
            fatalError("SHA-256: \(opensslError("EVP_Digest"))")
        }
        return out
    }
}

/// HMAC-SHA-256 (RFC 2104) through OpenSSL's EVP_MAC interface. Keys of any length are accepted,
/// including empty ones.
public enum HMACSHA256 {
    public static let macByteCount = 32

    public static func authenticate(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: macByteCount)
        var outLength = 0
        let result = withNonNilBytes(key) { keyPointer, keyCount in
            withNonNilBytes(message) { messagePointer, messageCount in
                out.withUnsafeMutableBufferPointer { o in
                    EVP_Q_mac(
                        nil, "HMAC", nil, "SHA256", nil,
                        keyPointer, keyCount,
                        messagePointer.assumingMemoryBound(to: UInt8.self), messageCount,
                        o.baseAddress, o.count, &outLength)
                }
            }
        }
        // With a built-in digest this fails only when memory allocation fails.
        guard result != nil, outLength == macByteCount else {
            fatalError("HMAC-SHA-256: \(opensslError("EVP_Q_mac"))")
        }
        return out
    }

    /// Recomputes the MAC and compares it in constant time.
    public static func isValid(mac: [UInt8], key: [UInt8], message: [UInt8]) -> Bool {
        constantTimeEquals(authenticate(key: key, message: message), mac)
    }
}

/// Compares two byte arrays in time independent of their contents (CRYPTO_memcmp). Arrays of
/// different lengths are unequal; the length itself is not treated as secret.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    if a.isEmpty { return true }
    return a.withUnsafeBytes { pa in
        b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, pa.count) == 0 }
    }
}

/// Overwrites the array's bytes with zeros in a way the optimizer may not remove (OPENSSL_cleanse).
/// Copies of the array made earlier are not affected.
public func secureZero(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { raw in
        if let base = raw.baseAddress, raw.count > 0 { OPENSSL_cleanse(base, raw.count) }
    }
}
