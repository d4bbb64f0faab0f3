import COpenSSL

/// Secret bytes (keys, passphrases, shared secrets) in memory this object owns: zeroed with
/// OPENSSL_cleanse when the object is freed, never printed (`description`, `debugDescription` and
/// `dump` show `<redacted>` and no children), compared in constant time.
///
/// The contents are immutable after creation, so sharing across threads is safe.
public final class SecretBytes: @unchecked Sendable, Equatable, CustomStringConvertible,
    CustomDebugStringConvertible, CustomReflectable
{
    /// At least one byte is allocated so the base address is never nil.
    private let storage: UnsafeMutableRawBufferPointer
    /// Number of secret bytes.
    public let count: Int

    /// Copies `bytes`. The caller's array is left as it is; see `init(zeroing:)`.
    public convenience init(_ bytes: [UInt8]) {
        self.init(uninitializedCount: bytes.count)
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { storage.baseAddress!.copyMemory(from: base, byteCount: source.count) }
        }
    }

    /// Copies `bytes` and then zeroes the caller's array.
    public convenience init(zeroing bytes: inout [UInt8]) {
        self.init(bytes)
        secureZero(&bytes)
    }

    /// `count` bytes written by `body` (which receives a zero-filled buffer of exactly `count` bytes).
    public convenience init(count: Int, initializingWith body: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        guard count >= 0 else { throw CryptoError.invalidParameter("SecretBytes count must not be negative") }
        self.init(uninitializedCount: count)
        try body(UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// `count` fresh random bytes from `SecureRandom`.
    public static func random(count: Int) throws -> SecretBytes {
        try SecretBytes(count: count) { SecureRandom.fill($0) }
    }

    private init(uninitializedCount count: Int) {
        self.count = count
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(count, 1), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        OPENSSL_cleanse(storage.baseAddress, storage.count)
        storage.deallocate()
    }

    public var isEmpty: Bool { count == 0 }

    /// Read access to the secret bytes; the pointer must not escape `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// An explicit copy of the secret as an array (for APIs that need `[UInt8]`). The caller is
    /// responsible for that copy (`secureZero` it when done).
    public func copyBytes() -> [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// Constant-time comparison (CRYPTO_memcmp); different lengths compare unequal.
    public static func == (lhs: SecretBytes, rhs: SecretBytes) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return CRYPTO_memcmp(lhs.storage.baseAddress, rhs.storage.baseAddress, lhs.count) == 0
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "SecretBytes(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
