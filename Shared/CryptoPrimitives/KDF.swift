import COpenSSL

/// HKDF (RFC 5869) through OpenSSL's EVP_KDF "HKDF" (extract-then-expand).
public enum HKDF {
    /// HKDF-SHA-256. `ikm` must not be empty; an empty `salt` means HashLen zero bytes (RFC 5869
    /// §2.2); `outputLength` must be in 1...255·32.
    public static func sha256(ikm: [UInt8], salt: [UInt8], info: [UInt8], outputLength: Int) throws -> [UInt8] {
        guard !ikm.isEmpty else { throw CryptoError.invalidParameter("HKDF input keying material is empty") }
        guard (1...(255 * 32)).contains(outputLength) else {
            throw CryptoError.invalidParameter("HKDF-SHA-256 output length must be in 1...8160, got \(outputLength)")
        }
        let params = OSSLParams()
        params.utf8(vn_ossl_kdf_param_digest, vn_ossl_sha256)
        params.octets(vn_ossl_kdf_param_key, ikm)
        if !salt.isEmpty { params.octets(vn_ossl_kdf_param_salt, salt) }
        if !info.isEmpty { params.octets(vn_ossl_kdf_param_info, info) }
        return try evpKDFDerive("HKDF", length: outputLength, params: params)
    }
}

/// scrypt (RFC 7914) through OpenSSL's EVP_KDF "SCRYPT".
public enum Scrypt {
    /// Largest memory a derivation may use unless the caller raises it: 2 GiB.
    public static let defaultMaxMemoryBytes: UInt64 = 2 << 30
    /// Largest output accepted.
    public static let maxOutputLength = 1 << 16

    /// Memory scrypt needs for these parameters: 128·r·(N + 2) for V plus 128·r·p for B (the
    /// amount OpenSSL checks against its `maxmem`), or nil on overflow.
    public static func memoryRequired(n: UInt64, r: UInt32, p: UInt32) -> UInt64? {
        let block = 128 * UInt64(r)
        let (nPlus2, o1) = n.addingReportingOverflow(2)
        let (v, o2) = block.multipliedReportingOverflow(by: nPlus2)
        let (b, o3) = block.multipliedReportingOverflow(by: UInt64(p))
        let (total, o4) = v.addingReportingOverflow(b)
        return o1 || o2 || o3 || o4 ? nil : total
    }

    /// scrypt(password, salt, N, r, p, dkLen). N must be a power of two > 1 and below 2^(16·r);
    /// r, p ≥ 1 with r·p < 2^30; `length` in 1...65536; the memory needed (`memoryRequired`) must
    /// not exceed `maxMemoryBytes`. Empty password and salt are allowed (RFC 7914 §12 vector 1).
    public static func derive(
        password: [UInt8], salt: [UInt8], n: UInt64, r: UInt32, p: UInt32, length: Int,
        maxMemoryBytes: UInt64 = defaultMaxMemoryBytes
    ) throws -> [UInt8] {
        guard n > 1, n & (n - 1) == 0 else {
            throw CryptoError.invalidParameter("scrypt N must be a power of two greater than 1, got \(n)")
        }
        guard r >= 1, p >= 1 else { throw CryptoError.invalidParameter("scrypt r and p must be at least 1") }
        guard UInt64(r) * UInt64(p) < (1 << 30) else {
            throw CryptoError.invalidParameter("scrypt r·p must be below 2^30")
        }
        if r < 4, n >= (UInt64(1) << (16 * UInt64(r))) {
            throw CryptoError.invalidParameter("scrypt N must be below 2^(16·r)")
        }
        guard (1...maxOutputLength).contains(length) else {
            throw CryptoError.invalidParameter("scrypt output length must be in 1...\(maxOutputLength), got \(length)")
        }
        guard let memory = memoryRequired(n: n, r: r, p: p), memory <= maxMemoryBytes else {
            throw CryptoError.invalidParameter(
                "scrypt parameters need more memory than the limit of \(maxMemoryBytes) bytes")
        }
        let params = OSSLParams()
        params.octets(vn_ossl_kdf_param_password, password)
        params.octets(vn_ossl_kdf_param_salt, salt)
        params.uint64(vn_ossl_kdf_param_scrypt_n, n)
        params.uint32(vn_ossl_kdf_param_scrypt_r, r)
        params.uint32(vn_ossl_kdf_param_scrypt_p, p)
        params.uint64(vn_ossl_kdf_param_scrypt_maxmem, memory)
        return try evpKDFDerive("SCRYPT", length: length, params: params)
    }
}
