// Messages of the consensus-manager → sandbox-executor protocol (`MethodID.sandboxExecute`,
// `MethodID.sandboxCancel`). The executor's error kinds travel as one byte (`SandboxFailure.kind`);
// the sandbox-executor's core maps them to its `SandboxErrorKind` and refuses unknown codes.

/// Caps of the sandbox messages, enforced on decode.
public enum SandboxWireLimits {
    /// `registry[:port]/repo@sha256:<64 hex>`.
    public static let maxImageReferenceBytes = 512
    public static let maxArguments = 64
    public static let maxArgumentBytes = 4096
    public static let maxEnvironment = 64
    public static let maxEnvironmentBytes = 4096
    public static let maxSources = InboxWireLimits.maxSourceURLs
    public static let maxSourceURLBytes = InboxWireLimits.maxSourceURLBytes
    /// Standard output carried back (the executor's own cap is at most this).
    public static let maxOutputBytes = 4 << 20
    public static let maxMessageBytes = 1024
}

/// What runs: an OCI image in a container, or a WASM module (a registry blob pinned by its digest).
public enum SandboxJobKind: UInt8, Sendable, Hashable {
    case container = 1
    case wasm = 2
}

/// Per-job limits; 0 means "the executor's configured default". A value above the executor's
/// maximum is refused (`invalidRequest`), never silently lowered.
public struct SandboxJobLimits: WireMessage, Hashable {
    public var timeoutMs: UInt32
    public var memoryBytes: UInt64
    public var pids: UInt32
    public var cpuMillicores: UInt32
    public var outputBytes: UInt32

    public init(
        timeoutMs: UInt32 = 0, memoryBytes: UInt64 = 0, pids: UInt32 = 0, cpuMillicores: UInt32 = 0,
        outputBytes: UInt32 = 0
    ) {
        self.timeoutMs = timeoutMs
        self.memoryBytes = memoryBytes
        self.pids = pids
        self.cpuMillicores = cpuMillicores
        self.outputBytes = outputBytes
    }

    public static let defaults = SandboxJobLimits()

    public func encode(to writer: inout WireWriter) {
        writer.writeUInt32(timeoutMs)
        writer.writeUInt64(memoryBytes)
        writer.writeUInt32(pids)
        writer.writeUInt32(cpuMillicores)
        writer.writeUInt32(outputBytes)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        timeoutMs = try reader.readUInt32()
        memoryBytes = try reader.readUInt64()
        pids = try reader.readUInt32()
        cpuMillicores = try reader.readUInt32()
        outputBytes = try reader.readUInt32()
    }
}

/// `MethodID.sandboxExecute`: run one job. `jobID` names it for cancellation and logs (the
/// consensus-manager uses the request id); the executor refuses a second live job with the same id.
public struct SandboxExecuteRequest: WireMessage, Hashable {
    public var jobID: [UInt8]
    public var kind: SandboxJobKind
    /// `registry[:port]/repo@sha256:<hex>`: the image (container) or the module blob (wasm).
    public var image: String
    public var arguments: [String]
    /// `NAME=value` entries added to the image's environment.
    public var environment: [String]
    /// Fetched in order; job input i is source i (`/input/<i>` in a container).
    public var sources: [String]
    public var limits: SandboxJobLimits

    public init(
        jobID: [UInt8], kind: SandboxJobKind, image: String, arguments: [String] = [], environment: [String] = [],
        sources: [String] = [], limits: SandboxJobLimits = .defaults
    ) {
        precondition(jobID.count == 32, "a job id is 32 bytes")
        self.jobID = jobID
        self.kind = kind
        self.image = image
        self.arguments = arguments
        self.environment = environment
        self.sources = sources
        self.limits = limits
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeFixedBytes(jobID)
        writer.writeTag(kind)
        writer.writeString(image)
        writer.writeArray(arguments) { $0.writeString($1) }
        writer.writeArray(environment) { $0.writeString($1) }
        writer.writeArray(sources) { $0.writeString($1) }
        writer.writeMessage(limits)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        jobID = try reader.readFixedBytes(count: 32)
        kind = try reader.readTag(SandboxJobKind.self)
        image = try reader.readString(maxLength: SandboxWireLimits.maxImageReferenceBytes)
        arguments = try reader.readArray(maxCount: SandboxWireLimits.maxArguments, minimumElementSize: 4) {
            (r: inout WireReader) throws(WireError) in try r.readString(maxLength: SandboxWireLimits.maxArgumentBytes)
        }
        environment = try reader.readArray(maxCount: SandboxWireLimits.maxEnvironment, minimumElementSize: 4) {
            (r: inout WireReader) throws(WireError) in
            try r.readString(maxLength: SandboxWireLimits.maxEnvironmentBytes)
        }
        sources = try reader.readArray(maxCount: SandboxWireLimits.maxSources, minimumElementSize: 4) {
            (r: inout WireReader) throws(WireError) in try r.readString(maxLength: SandboxWireLimits.maxSourceURLBytes)
        }
        limits = try reader.readMessage(SandboxJobLimits.self)
        guard !image.utf8.isEmpty else { throw .invalidValue("empty image reference") }
    }
}

/// Why a job produced no result: the executor's error kind (one byte) and a message for humans.
public struct SandboxFailure: WireMessage, Hashable {
    public var kind: UInt8
    public var message: String

    public init(kind: UInt8, message: String) {
        self.kind = kind
        // Cut on a character boundary so that the message stays valid UTF-8 and within the cap.
        var cut = Substring(message)
        while cut.utf8.count > SandboxWireLimits.maxMessageBytes { cut = cut.dropLast() }
        self.message = String(cut)
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeUInt8(kind)
        writer.writeString(message)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        kind = try reader.readUInt8()
        message = try reader.readString(maxLength: SandboxWireLimits.maxMessageBytes)
    }
}

/// One fetched source as it entered the result hash.
public struct SandboxInputDigest: WireMessage, Hashable {
    public var url: String
    public var sha256: [UInt8]

    public init(url: String, sha256: [UInt8]) {
        precondition(sha256.count == 32, "a sha256 digest is 32 bytes")
        self.url = url
        self.sha256 = sha256
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeString(url)
        writer.writeFixedBytes(sha256)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        url = try reader.readString(maxLength: SandboxWireLimits.maxSourceURLBytes)
        sha256 = try reader.readFixedBytes(count: 32)
    }
}

/// What the job used.
public struct SandboxUsage: WireMessage, Hashable {
    public var wallMs: UInt64
    public var cpuMs: UInt64
    public var peakMemoryBytes: UInt64

    public init(wallMs: UInt64, cpuMs: UInt64, peakMemoryBytes: UInt64) {
        self.wallMs = wallMs
        self.cpuMs = cpuMs
        self.peakMemoryBytes = peakMemoryBytes
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeUInt64(wallMs)
        writer.writeUInt64(cpuMs)
        writer.writeUInt64(peakMemoryBytes)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        wallMs = try reader.readUInt64()
        cpuMs = try reader.readUInt64()
        peakMemoryBytes = try reader.readUInt64()
    }
}

/// `MethodID.sandboxExecute`'s answer. With `failure == nil` the job ran to its exit (any exit
/// status) and `resultHash` is the hash over (inputs, image digest, exit status, output); a
/// failure (timeout, out of memory, digest mismatch, …) is an answer too, not an RPC error, so
/// that validators can agree on it. RPC errors mean the request itself was refused.
public struct SandboxExecuteResponse: WireMessage, Hashable {
    public var jobID: [UInt8]
    public var failure: SandboxFailure?
    public var exitStatus: Int32
    public var output: [UInt8]
    public var resultHash: [UInt8]
    /// `sha256:<hex>` of the manifest (container) or module (wasm) that ran; empty if none did.
    public var imageDigest: String
    public var inputs: [SandboxInputDigest]
    public var usage: SandboxUsage

    public init(
        jobID: [UInt8], failure: SandboxFailure?, exitStatus: Int32, output: [UInt8], resultHash: [UInt8],
        imageDigest: String, inputs: [SandboxInputDigest], usage: SandboxUsage
    ) {
        precondition(jobID.count == 32 && (resultHash.isEmpty || resultHash.count == 32), "ids and hashes are 32 bytes")
        self.jobID = jobID
        self.failure = failure
        self.exitStatus = exitStatus
        self.output = output
        self.resultHash = resultHash
        self.imageDigest = imageDigest
        self.inputs = inputs
        self.usage = usage
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeFixedBytes(jobID)
        writer.writeOptional(failure) { $0.writeMessage($1) }
        writer.writeUInt32(UInt32(bitPattern: exitStatus))
        writer.writeBytes(output)
        writer.writeBytes(resultHash)
        writer.writeString(imageDigest)
        writer.writeArray(inputs) { $0.writeMessage($1) }
        writer.writeMessage(usage)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        jobID = try reader.readFixedBytes(count: 32)
        failure = try reader.readOptional { (r: inout WireReader) throws(WireError) in
            try r.readMessage(SandboxFailure.self)
        }
        exitStatus = Int32(bitPattern: try reader.readUInt32())
        output = try reader.readBytes(maxLength: SandboxWireLimits.maxOutputBytes)
        resultHash = try reader.readBytes(maxLength: 32)
        guard resultHash.isEmpty || resultHash.count == 32 else { throw .invalidValue("result hash length") }
        imageDigest = try reader.readString(maxLength: SandboxWireLimits.maxImageReferenceBytes)
        inputs = try reader.readArray(maxCount: SandboxWireLimits.maxSources, minimumElementSize: 36) {
            (r: inout WireReader) throws(WireError) in try r.readMessage(SandboxInputDigest.self)
        }
        usage = try reader.readMessage(SandboxUsage.self)
    }
}

/// `MethodID.sandboxCancel`: stop a queued or running job (its Execute call answers `cancelled`).
public struct SandboxCancelRequest: WireMessage, Hashable {
    public var jobID: [UInt8]

    public init(jobID: [UInt8]) {
        precondition(jobID.count == 32, "a job id is 32 bytes")
        self.jobID = jobID
    }

    public func encode(to writer: inout WireWriter) { writer.writeFixedBytes(jobID) }

    public init(from reader: inout WireReader) throws(WireError) { jobID = try reader.readFixedBytes(count: 32) }
}

/// Whether the job was known (queued or running) when the cancellation arrived.
public struct SandboxCancelResponse: WireMessage, Hashable {
    public var found: Bool

    public init(found: Bool) { self.found = found }

    public func encode(to writer: inout WireWriter) { writer.writeBool(found) }

    public init(from reader: inout WireReader) throws(WireError) { found = try reader.readBool() }
}
