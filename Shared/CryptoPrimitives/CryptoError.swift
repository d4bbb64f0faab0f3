import COpenSSL

/// Errors from this module. Messages name the parameter or the OpenSSL reason; they never contain
/// key, nonce, plaintext or password bytes.
public enum CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A key has the wrong length for the algorithm (AES-256-GCM: 32 bytes).
    case invalidKeyLength
    /// A nonce has the wrong length (AES-GCM here: 12 bytes).
    case invalidNonceLength
    /// An AEAD tag did not verify: the ciphertext, tag, nonce, AAD or key is wrong.
    case authenticationFailed
    /// OpenSSL reported a failure; the text is OpenSSL's reason string and the failing call.
    case openssl(String)
    /// A parameter is out of range; the text names it.
    case invalidParameter(String)

    public var description: String {
        switch self {
        case .invalidKeyLength: "invalid key length"
        case .invalidNonceLength: "invalid nonce length"
        case .authenticationFailed: "authentication failed"
        case .openssl(let reason): "OpenSSL error: \(reason)"
        case .invalidParameter(let reason): "invalid parameter: \(reason)"
        }
    }
}

/// Drains this thread's OpenSSL error queue into one `CryptoError.openssl`, prefixed by the call
/// that failed. OpenSSL reason strings carry no input bytes.
func opensslError(_ call: String) -> CryptoError {
    var reasons: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        buffer.withUnsafeMutableBufferPointer { ERR_error_string_n(code, $0.baseAddress, $0.count) }
        reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return .openssl(reasons.isEmpty ? "\(call) failed" : "\(call) failed: \(reasons.joined(separator: "; "))")
}

/// A pointer that is never nil, for C APIs that reject NULL even with a zero length.
/// Empty Swift arrays may hand out a nil base address.
nonisolated(unsafe) let emptyInputSentinel: UnsafeMutableRawPointer = {
    let p = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
    p.storeBytes(of: 0, as: UInt8.self)
    return p
}()

/// Calls `body` with a non-nil base pointer and the byte count of `bytes`.
func withNonNilBytes<R>(_ bytes: [UInt8], _ body: (UnsafeMutableRawPointer, Int) throws -> R) rethrows -> R {
    try bytes.withUnsafeBytes { raw in
        if let base = raw.baseAddress, raw.count > 0 {
            return try body(UnsafeMutableRawPointer(mutating: base), raw.count)
        }
        return try body(emptyInputSentinel, 0)
    }
}
