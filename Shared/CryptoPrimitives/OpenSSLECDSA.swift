import COpenSSL

/// secp256k1 ECDSA verification by OpenSSL 3 (EVP_PKEY), independent of libsecp256k1: an
/// interoperability oracle for the tests (issue 3: every threshold signature the tests produce
/// verifies with both libraries). Production signing verifies with libsecp256k1, which also
/// enforces low S; this one cannot replace it. Verification only.
///
/// OpenSSL accepts any s in [1, n−1] (no low-S rule, unlike libsecp256k1's `verify`), and checks
/// that the public key is a point on the curve when it is imported.
public enum OpenSSLECDSA {
    /// Whether (r, s) is a valid ECDSA signature of the 32-byte `digest` under `publicKey`
    /// (SEC 1 encoding: 33-byte compressed or 65-byte uncompressed). r and s are 32-byte
    /// big-endian integers. Throws for malformed inputs (wrong lengths, a key not on the curve);
    /// returns false for a well-formed signature that does not verify, or r, s outside [1, n−1].
    public static func verify(publicKey: [UInt8], digest: [UInt8], r: [UInt8], s: [UInt8]) throws(CryptoError) -> Bool {
        guard publicKey.count == 33 || publicKey.count == 65 else {
            throw .invalidParameter("public key must be 33 or 65 bytes")
        }
        guard digest.count == 32 else { throw .invalidParameter("digest must be 32 bytes") }
        guard r.count == 32, s.count == 32 else { throw .invalidParameter("r and s must be 32 bytes") }
        ERR_clear_error()
        let key = try importPublicKey(publicKey)
        defer { EVP_PKEY_free(key) }
        let der = try derSignature(r: r, s: s)
        guard let ctx = EVP_PKEY_CTX_new(key, nil) else { throw opensslError("EVP_PKEY_CTX_new") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_verify_init(ctx) == 1 else { throw opensslError("EVP_PKEY_verify_init") }
        // 1: valid; 0: invalid; < 0: the signature could not be parsed or checked (r or s out
        // of range is reported this way by some OpenSSL versions): not a valid signature.
        let result = der.withUnsafeBufferPointer { sig in
            digest.withUnsafeBufferPointer { EVP_PKEY_verify(ctx, sig.baseAddress, sig.count, $0.baseAddress, 32) }
        }
        ERR_clear_error()
        return result == 1
    }

    /// EVP_PKEY_fromdata with the group name and the encoded point (OpenSSL decodes it with
    /// EC_POINT_oct2point, which refuses points off the curve and the point at infinity).
    static func importPublicKey(_ bytes: [UInt8]) throws(CryptoError) -> OpaquePointer {
        let params = OSSLParams()
        params.utf8(vn_ossl_pkey_param_group_name, vn_ossl_secp256k1)
        params.octets(vn_ossl_pkey_param_pub_key, bytes)
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else {
            throw opensslError("EVP_PKEY_CTX_new_from_name(EC)")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_fromdata_init(ctx) == 1 else { throw opensslError("EVP_PKEY_fromdata_init") }
        var key: OpaquePointer?
        let ok = params.withParams { p in
            EVP_PKEY_fromdata(ctx, &key, vn_EVP_PKEY_PUBLIC_KEY, UnsafeMutablePointer(mutating: p))
        }
        guard ok == 1, let key else { throw opensslError("EVP_PKEY_fromdata(secp256k1 public key)") }
        return key
    }

    /// DER `SEQUENCE { INTEGER r, INTEGER s }` via ECDSA_SIG (i2d_ECDSA_SIG picks the minimal
    /// encoding).
    static func derSignature(r: [UInt8], s: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard let sig = ECDSA_SIG_new() else { throw opensslError("ECDSA_SIG_new") }
        defer { ECDSA_SIG_free(sig) }
        let rBN = r.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, 32, nil) }
        let sBN = s.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, 32, nil) }
        guard let rBN, let sBN else {
            BN_free(rBN)
            BN_free(sBN)
            throw opensslError("BN_bin2bn")
        }
        // ECDSA_SIG_set0 takes ownership of both numbers.
        guard ECDSA_SIG_set0(sig, rBN, sBN) == 1 else {
            BN_free(rBN)
            BN_free(sBN)
            throw opensslError("ECDSA_SIG_set0")
        }
        let length = i2d_ECDSA_SIG(sig, nil)
        guard length > 0 else { throw opensslError("i2d_ECDSA_SIG") }
        var out = [UInt8](repeating: 0, count: Int(length))
        let written = out.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_ECDSA_SIG(sig, &cursor)
        }
        guard written == length else { throw opensslError("i2d_ECDSA_SIG") }
        return out
    }
}
