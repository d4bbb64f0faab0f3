import CryptoPrimitives

/// What went wrong with a job, as the consensus-manager and the client see it (issue 7). Every
/// failure of the executor maps to exactly one kind; the message is for humans and logs.
public enum SandboxErrorKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// The request itself is malformed (bad reference, bad URL syntax, limits out of range).
    case invalidRequest
    /// Refused by policy: a bare tag, a private / loopback address not allowlisted, a scheme other than http(s).
    case refused
    /// A source URL could not be fetched (network, HTTP status, size or time cap, too many redirects).
    case fetchFailed
    /// The image (or WASM module) does not exist in the registry.
    case imageNotFound
    /// A manifest, blob or module did not hash to the digest that pinned it.
    case digestMismatch
    /// The job ran past its wall-clock limit and was killed.
    case timeout
    /// The job exceeded its memory limit and was killed.
    case outOfMemory
    /// The job wrote more than the output cap.
    case outputTooLarge
    /// A WASM job ran out of fuel (instruction budget).
    case fuelExhausted
    /// The job was cancelled by its caller.
    case cancelled
    /// The queue is full.
    case busy
    /// A failure of the executor itself (runc missing, disk full, ...).
    case `internal`
}

public struct SandboxError: Error, Sendable, Equatable, CustomStringConvertible {
    public let kind: SandboxErrorKind
    public let message: String

    public init(_ kind: SandboxErrorKind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// One fetched input as it enters the result hash: where it came from and what it was.
public struct FetchedInput: Sendable, Equatable {
    public let url: String
    public let sha256: [UInt8]
    public init(url: String, sha256: [UInt8]) {
        self.url = url
        self.sha256 = sha256
    }
}

/// The result hash (issue 7): sha256 over a domain tag and the length-prefixed (inputs, image
/// digest, output), so every validator that saw the same inputs and ran the same image to the same
/// output gets the same 32 bytes, and no two different triples share an encoding.
public enum ResultHash {
    public static let domain = Array("vn/sandbox/result/v1".utf8)

    public static func compute(
        inputs: [FetchedInput], imageDigest: String, exitStatus: Int32, output: [UInt8]
    )
        -> [UInt8]
    {
        var bytes: [UInt8] = []
        func put(_ field: [UInt8]) {
            let n = UInt64(field.count)
            for shift in stride(from: 56, through: 0, by: -8) {
                bytes.append(UInt8(truncatingIfNeeded: n >> UInt64(shift)))
            }
            bytes.append(contentsOf: field)
        }
        put(domain)
        put(withUnsafeBytes(of: UInt32(inputs.count).bigEndian) { Array($0) })
        for input in inputs {
            put(Array(input.url.utf8))
            put(input.sha256)
        }
        put(Array(imageDigest.utf8))
        put(withUnsafeBytes(of: exitStatus.bigEndian) { Array($0) })
        put(output)
        return SHA256.hash(bytes)
    }
}
