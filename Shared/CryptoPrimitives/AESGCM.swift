import COpenSSL

/// AES-256-GCM (NIST SP 800-38D) through OpenSSL's EVP interface: 32-byte keys, 12-byte nonces,
/// 16-byte tags appended to the ciphertext. A nonce must never be reused with the same key; use
/// `sealWithRandomNonce` when no counter is at hand.
public enum AESGCM {
    public static let keyByteCount = 32
    public static let nonceByteCount = 12
    public static let tagByteCount = 16
    /// Inputs are passed to OpenSSL as `int` lengths.
    static let maxInputByteCount = Int(Int32.max) - 64

    /// Returns ciphertext ‖ 16-byte tag.
    public static func seal(key: [UInt8], nonce: [UInt8], plaintext: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        try validate(key: key, nonce: nonce)
        guard plaintext.count <= maxInputByteCount, aad.count <= maxInputByteCount else {
            throw CryptoError.invalidParameter("AES-GCM input too large")
        }
        ERR_clear_error()
        guard let ctx = EVP_CIPHER_CTX_new() else { throw opensslError("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        guard EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce) == 1 else {
            throw opensslError("EVP_EncryptInit_ex")
        }
        var outLength: Int32 = 0
        if !aad.isEmpty {
            guard EVP_EncryptUpdate(ctx, nil, &outLength, aad, Int32(aad.count)) == 1 else {
                throw opensslError("EVP_EncryptUpdate(aad)")
            }
        }
        var sealed = [UInt8](repeating: 0, count: plaintext.count + tagByteCount)
        let ok: Bool = sealed.withUnsafeMutableBufferPointer { out in
            var written = 0
            if !plaintext.isEmpty {
                guard EVP_EncryptUpdate(ctx, out.baseAddress, &outLength, plaintext, Int32(plaintext.count)) == 1
                else { return false }
                written = Int(outLength)
            }
            guard EVP_EncryptFinal_ex(ctx, out.baseAddress! + written, &outLength) == 1 else { return false }
            written += Int(outLength)
            guard written == plaintext.count else { return false }
            return EVP_CIPHER_CTX_ctrl(
                ctx, EVP_CTRL_GCM_GET_TAG, Int32(tagByteCount), out.baseAddress! + plaintext.count) == 1
        }
        guard ok else { throw opensslError("AES-GCM encryption") }
        return sealed
    }

    /// Verifies the tag and returns the plaintext; throws `authenticationFailed` on any mismatch.
    public static func open(key: [UInt8], nonce: [UInt8], sealed: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        try validate(key: key, nonce: nonce)
        guard sealed.count >= tagByteCount else {
            throw CryptoError.invalidParameter("AES-GCM sealed input is shorter than the 16-byte tag")
        }
        guard sealed.count <= maxInputByteCount, aad.count <= maxInputByteCount else {
            throw CryptoError.invalidParameter("AES-GCM input too large")
        }
        let ciphertextCount = sealed.count - tagByteCount
        var tag = Array(sealed[ciphertextCount...])
        ERR_clear_error()
        guard let ctx = EVP_CIPHER_CTX_new() else { throw opensslError("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        guard EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce) == 1 else {
            throw opensslError("EVP_DecryptInit_ex")
        }
        var outLength: Int32 = 0
        if !aad.isEmpty {
            guard EVP_DecryptUpdate(ctx, nil, &outLength, aad, Int32(aad.count)) == 1 else {
                throw opensslError("EVP_DecryptUpdate(aad)")
            }
        }
        // One spare byte so the final call always has a valid output pointer.
        var plaintext = [UInt8](repeating: 0, count: ciphertextCount + 1)
        enum Outcome { case ok, failed, badTag }
        let outcome: Outcome = plaintext.withUnsafeMutableBufferPointer { out in
            var written = 0
            if ciphertextCount > 0 {
                let ok = sealed.withUnsafeBufferPointer {
                    EVP_DecryptUpdate(ctx, out.baseAddress, &outLength, $0.baseAddress, Int32(ciphertextCount))
                }
                guard ok == 1 else { return .failed }
                written = Int(outLength)
            }
            let tagSet = tag.withUnsafeMutableBytes {
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(tagByteCount), $0.baseAddress)
            }
            guard tagSet == 1 else { return .failed }
            guard EVP_DecryptFinal_ex(ctx, out.baseAddress! + written, &outLength) == 1 else { return .badTag }
            return written + Int(outLength) == ciphertextCount ? .ok : .failed
        }
        switch outcome {
        case .ok:
            plaintext.removeLast()
            return plaintext
        case .badTag:
            secureZero(&plaintext)
            ERR_clear_error()
            throw CryptoError.authenticationFailed
        case .failed:
            secureZero(&plaintext)
            throw opensslError("AES-GCM decryption")
        }
    }

    /// Seals under a fresh random 12-byte nonce and returns nonce ‖ ciphertext ‖ tag.
    public static func sealWithRandomNonce(key: [UInt8], plaintext: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        let nonce = SecureRandom.bytes(nonceByteCount)
        return try nonce + seal(key: key, nonce: nonce, plaintext: plaintext, aad: aad)
    }

    /// Opens the output of `sealWithRandomNonce`.
    public static func openWithPrefixedNonce(key: [UInt8], combined: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        guard combined.count >= nonceByteCount + tagByteCount else {
            throw CryptoError.invalidParameter("AES-GCM combined input is shorter than nonce and tag")
        }
        return try open(
            key: key, nonce: Array(combined[..<nonceByteCount]), sealed: Array(combined[nonceByteCount...]), aad: aad)
    }

    private static func validate(key: [UInt8], nonce: [UInt8]) throws {
        guard key.count == keyByteCount else { throw CryptoError.invalidKeyLength }
        guard nonce.count == nonceByteCount else { throw CryptoError.invalidNonceLength }
    }
}
