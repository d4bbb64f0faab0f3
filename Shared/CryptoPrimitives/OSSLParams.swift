import COpenSSL

/// Builds an OSSL_PARAM array whose data outlives the OpenSSL call: OSSL_PARAM_construct_* stores
/// pointers, so every value is copied into memory owned here (and cleansed on release, since
/// KDF inputs are secret). Keys must be static C strings from the shim (ENVIRONMENT.md).
final class OSSLParams {
    private var allocations: [UnsafeMutableRawBufferPointer] = []
    private var params: [OSSL_PARAM] = []

    deinit {
        for buffer in allocations {
            OPENSSL_cleanse(buffer.baseAddress, buffer.count)
            buffer.deallocate()
        }
    }

    private func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(bytes.count, 1), alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        if let base = bytes.baseAddress, bytes.count > 0 {
            buffer.baseAddress!.copyMemory(from: base, byteCount: bytes.count)
        }
        allocations.append(buffer)
        return buffer
    }

    func octets(_ key: UnsafePointer<CChar>, _ bytes: [UInt8]) {
        let buffer = bytes.withUnsafeBytes { copy($0) }
        params.append(OSSL_PARAM_construct_octet_string(key, buffer.baseAddress, bytes.count))
    }

    /// `value` must be a static C string (it is not copied).
    func utf8(_ key: UnsafePointer<CChar>, _ value: UnsafePointer<CChar>) {
        params.append(OSSL_PARAM_construct_utf8_string(key, UnsafeMutablePointer(mutating: value), 0))
    }

    func uint64(_ key: UnsafePointer<CChar>, _ value: UInt64) {
        var v = value
        let buffer = withUnsafeBytes(of: &v) { copy($0) }
        params.append(OSSL_PARAM_construct_uint64(key, buffer.baseAddress!.assumingMemoryBound(to: UInt64.self)))
    }

    func uint32(_ key: UnsafePointer<CChar>, _ value: UInt32) {
        var v = value
        let buffer = withUnsafeBytes(of: &v) { copy($0) }
        params.append(OSSL_PARAM_construct_uint32(key, buffer.baseAddress!.assumingMemoryBound(to: UInt32.self)))
    }

    /// The parameters followed by the end marker.
    func withParams<R>(_ body: (UnsafePointer<OSSL_PARAM>) throws -> R) rethrows -> R {
        let all = params + [OSSL_PARAM_construct_end()]
        return try all.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }
}

/// Runs the named EVP_KDF with `params` and returns `length` bytes.
func evpKDFDerive(_ name: String, length: Int, params: OSSLParams) throws(CryptoError) -> [UInt8] {
    ERR_clear_error()
    guard let kdf = EVP_KDF_fetch(nil, name, nil) else { throw opensslError("EVP_KDF_fetch(\(name))") }
    defer { EVP_KDF_free(kdf) }
    guard let ctx = EVP_KDF_CTX_new(kdf) else { throw opensslError("EVP_KDF_CTX_new(\(name))") }
    defer { EVP_KDF_CTX_free(ctx) }
    var out = [UInt8](repeating: 0, count: length)
    let ok = params.withParams { p in
        out.withUnsafeMutableBufferPointer { EVP_KDF_derive(ctx, $0.baseAddress, $0.count, p) }
    }
    guard ok == 1 else {
        secureZero(&out)
        throw opensslError("EVP_KDF_derive(\(name))")
    }
    return out
}
