import CryptoPrimitives
import Wire

/// A 32-byte value: block and transaction hashes, log topics, storage keys.
public struct Hash32: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public enum Error: Swift.Error, Equatable { case invalidLength(Int) }

    public init(bytes: [UInt8]) throws(Hash32.Error) {
        guard bytes.count == 32 else { throw .invalidLength(bytes.count) }
        self.bytes = bytes
    }

    init(validated bytes: [UInt8]) {
        precondition(bytes.count == 32)
        self.bytes = bytes
    }

    /// `0x` + 64 hex digits (either case).
    public init(hex: String) throws {
        try self.init(bytes: EVMHex.data(hex))
    }

    /// keccak-256 of `data`.
    public static func keccak<C: Collection>(_ data: C) -> Hash32 where C.Element == UInt8 {
        Hash32(validated: Keccak256.hash(data))
    }

    public static let zero = Hash32(validated: [UInt8](repeating: 0, count: 32))

    /// `0x` + lower-case hex.
    public var description: String { "0x" + Hex.encode(bytes) }
}
