import JSON

/// Image manifests, indexes and configs (issue 7): the OCI image spec v1.1 (`manifest.md`,
/// `image-index.md`, `config.md`, `descriptor.md`) and Docker's image manifest v2 schema 2, which
/// registries still serve. Everything here is parsed from bytes the registry sent, so every field
/// is checked: media types against the known set, every descriptor's digest (sha256 only) and
/// size, counts and sizes against caps. Anything unexpected is `.invalidRequest` (the image the job
/// named is unusable) rather than a guess.
public enum OCIMediaType {
    public static let imageManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let imageIndex = "application/vnd.oci.image.index.v1+json"
    public static let imageConfig = "application/vnd.oci.image.config.v1+json"
    public static let layerTar = "application/vnd.oci.image.layer.v1.tar"
    public static let layerTarGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let layerTarZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"

    /// What a manifest request accepts (the `Accept` header), most preferred first.
    public static let manifestAccept = [imageManifest, imageIndex, dockerManifest, dockerManifestList]
}

/// Caps on what a registry may send.
public struct OCILimits: Sendable, Hashable {
    public var maxManifestBytes: Int
    public var maxConfigBytes: Int
    public var maxLayers: Int
    public var maxLayerBytes: Int64
    /// Compressed layers together.
    public var maxImageBytes: Int64
    public var maxIndexEntries: Int

    public init(
        maxManifestBytes: Int = 4 << 20, maxConfigBytes: Int = 4 << 20, maxLayers: Int = 128,
        maxLayerBytes: Int64 = 512 << 20, maxImageBytes: Int64 = 1 << 30, maxIndexEntries: Int = 256
    ) {
        self.maxManifestBytes = maxManifestBytes
        self.maxConfigBytes = maxConfigBytes
        self.maxLayers = maxLayers
        self.maxLayerBytes = maxLayerBytes
        self.maxImageBytes = maxImageBytes
        self.maxIndexEntries = maxIndexEntries
    }
}

/// How a layer's bytes are compressed.
public enum LayerCompression: String, Sendable, Hashable {
    case plain
    case gzip
}

public struct OCIDescriptor: Sendable, Hashable {
    public let mediaType: String
    public let digest: OCIDigest
    public let size: Int64
    /// For index entries.
    public let platform: OCIPlatform?

    public init(mediaType: String, digest: OCIDigest, size: Int64, platform: OCIPlatform? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.platform = platform
    }

    /// The layer compression its media type names (only layer descriptors).
    public var layerCompression: LayerCompression? {
        switch mediaType {
        case OCIMediaType.layerTar: .plain
        case OCIMediaType.layerTarGzip, OCIMediaType.dockerLayerGzip: .gzip
        default: nil
        }
    }

    static func parse(_ value: JSONValue, what: String, maxSize: Int64) throws(SandboxError) -> OCIDescriptor {
        func bad(_ why: String) -> SandboxError { SandboxError(.invalidRequest, "\(what) descriptor: \(why)") }
        guard value.objectValue != nil else { throw bad("not an object") }
        guard let mediaType = value["mediaType"]?.stringValue, !mediaType.isEmpty, mediaType.utf8.count <= 255
        else { throw bad("missing mediaType") }
        guard let digestText = value["digest"]?.stringValue else { throw bad("missing digest") }
        let digest = try OCIDigest(parsing: digestText)
        guard let size = value["size"]?.int64Value, size >= 0 else { throw bad("size missing or negative") }
        guard size <= maxSize else { throw bad("size \(size) exceeds the cap of \(maxSize) bytes") }
        if value["urls"] != nil {
            // Foreign / non-distributable layers point at other servers: never followed.
            throw bad("external urls are not supported")
        }
        var platform: OCIPlatform? = nil
        if let p = value["platform"] {
            guard let os = p["os"]?.stringValue, let architecture = p["architecture"]?.stringValue else {
                throw bad("platform without os or architecture")
            }
            platform = OCIPlatform(os: os, architecture: architecture, variant: p["variant"]?.stringValue)
        }
        return OCIDescriptor(mediaType: mediaType, digest: digest, size: size, platform: platform)
    }
}

public struct OCIPlatform: Sendable, Hashable {
    public let os: String
    public let architecture: String
    public let variant: String?

    public init(os: String, architecture: String, variant: String? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// The only platform the executor runs.
    public static let linuxAMD64 = OCIPlatform(os: "linux", architecture: "amd64")
}

/// An image manifest: one config and the layers, bottom first.
public struct OCIImageManifest: Sendable, Hashable {
    public let mediaType: String
    public let config: OCIDescriptor
    public let layers: [OCIDescriptor]

    public var layersSize: Int64 { layers.reduce(0) { $0 + $1.size } }
}

/// A parsed manifest document: an image manifest, or an index whose linux/amd64 entry names one.
public enum OCIManifestDocument: Sendable, Hashable {
    case image(OCIImageManifest)
    /// The descriptor of the linux/amd64 image manifest the index lists.
    case index(OCIDescriptor)

    /// Parses a manifest response. The media type is the document's `mediaType` field, else the
    /// response's Content-Type; when both are present they must agree.
    public static func parse(
        _ bytes: [UInt8], contentType: String?, limits: OCILimits = OCILimits()
    ) throws(SandboxError) -> OCIManifestDocument {
        func bad(_ why: String) -> SandboxError { SandboxError(.invalidRequest, "manifest: \(why)") }
        guard bytes.count <= limits.maxManifestBytes else {
            throw bad("larger than \(limits.maxManifestBytes) bytes")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(bytes, maxDepth: 16) } catch { throw bad("not JSON: \(error)") }
        guard json.objectValue != nil else { throw bad("not a JSON object") }
        guard json["schemaVersion"]?.intValue == 2 else { throw bad("schemaVersion must be 2") }
        let header = contentType.map { String($0.prefix { $0 != ";" }).trimmingSpaces().lowercased() }
        let declared = json["mediaType"]?.stringValue
        if let declared, let header, !header.isEmpty, header != declared {
            throw bad("Content-Type \(header) does not match mediaType \(declared)")
        }
        guard let mediaType = declared ?? header else { throw bad("no media type") }
        switch mediaType {
        case OCIMediaType.imageManifest, OCIMediaType.dockerManifest:
            return .image(try parseImage(json, mediaType: mediaType, limits: limits))
        case OCIMediaType.imageIndex, OCIMediaType.dockerManifestList:
            return .index(try pickPlatform(json, limits: limits))
        default:
            throw bad("unsupported media type \(mediaType)")
        }
    }

    static func parseImage(
        _ json: JSONValue, mediaType: String, limits: OCILimits
    ) throws(SandboxError)
        -> OCIImageManifest
    {
        func bad(_ why: String) -> SandboxError { SandboxError(.invalidRequest, "manifest: \(why)") }
        guard let configValue = json["config"] else { throw bad("no config") }
        let config = try OCIDescriptor.parse(configValue, what: "config", maxSize: Int64(limits.maxConfigBytes))
        guard config.mediaType == OCIMediaType.imageConfig || config.mediaType == OCIMediaType.dockerConfig else {
            throw bad("config media type \(config.mediaType) is not an image config")
        }
        guard let layerValues = json["layers"]?.arrayValue else { throw bad("no layers array") }
        guard layerValues.count <= limits.maxLayers else { throw bad("more than \(limits.maxLayers) layers") }
        var layers: [OCIDescriptor] = []
        var total: Int64 = 0
        for value in layerValues {
            let layer = try OCIDescriptor.parse(value, what: "layer", maxSize: limits.maxLayerBytes)
            guard layer.layerCompression != nil else {
                throw bad("layer media type \(layer.mediaType) is not supported (tar or tar+gzip only)")
            }
            total += layer.size
            guard total <= limits.maxImageBytes else {
                throw bad("layers exceed the image cap of \(limits.maxImageBytes) bytes")
            }
            layers.append(layer)
        }
        return OCIImageManifest(mediaType: mediaType, config: config, layers: layers)
    }

    /// The linux/amd64 entry of an index (the first, if several; variants are ignored for amd64).
    static func pickPlatform(_ json: JSONValue, limits: OCILimits) throws(SandboxError) -> OCIDescriptor {
        func bad(_ why: String) -> SandboxError { SandboxError(.invalidRequest, "image index: \(why)") }
        guard let entries = json["manifests"]?.arrayValue else { throw bad("no manifests array") }
        guard entries.count <= limits.maxIndexEntries else { throw bad("more than \(limits.maxIndexEntries) entries") }
        var chosen: OCIDescriptor? = nil
        for value in entries {
            let entry = try OCIDescriptor.parse(value, what: "index entry", maxSize: Int64(limits.maxManifestBytes))
            guard let platform = entry.platform, platform.os == "linux", platform.architecture == "amd64" else {
                continue
            }
            guard entry.mediaType == OCIMediaType.imageManifest || entry.mediaType == OCIMediaType.dockerManifest
            else { throw bad("linux/amd64 entry has media type \(entry.mediaType), not an image manifest") }
            if chosen == nil { chosen = entry }
        }
        guard let chosen else { throw SandboxError(.imageNotFound, "image index has no linux/amd64 manifest") }
        return chosen
    }
}

/// The parts of an image config the runner uses (OCI `config.md` / Docker's container config).
public struct OCIImageConfig: Sendable, Hashable {
    public var entrypoint: [String]
    public var cmd: [String]
    /// `NAME=value` entries.
    public var env: [String]
    public var workingDir: String
    /// `uid[:gid]` or a name; empty when unset.
    public var user: String
    /// Uncompressed layer digests (`rootfs.diff_ids`), bottom first.
    public var diffIDs: [OCIDigest]

    public init(
        entrypoint: [String] = [], cmd: [String] = [], env: [String] = [], workingDir: String = "",
        user: String = "", diffIDs: [OCIDigest] = []
    ) {
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.env = env
        self.workingDir = workingDir
        self.user = user
        self.diffIDs = diffIDs
    }

    /// The process arguments: Entrypoint followed by Cmd.
    public var arguments: [String] { entrypoint + cmd }

    /// Parses a config blob; the architecture and OS, when given, must be amd64 and linux, and the
    /// layer count (if `layerCount` is given) must match `rootfs.diff_ids`.
    public static func parse(
        _ bytes: [UInt8], layerCount: Int? = nil, limits: OCILimits = OCILimits()
    ) throws(SandboxError) -> OCIImageConfig {
        func bad(_ why: String) -> SandboxError { SandboxError(.invalidRequest, "image config: \(why)") }
        guard bytes.count <= limits.maxConfigBytes else { throw bad("larger than \(limits.maxConfigBytes) bytes") }
        let json: JSONValue
        do { json = try JSONValue.parse(bytes, maxDepth: 32) } catch { throw bad("not JSON: \(error)") }
        guard json.objectValue != nil else { throw bad("not a JSON object") }
        if let arch = json["architecture"]?.stringValue, arch != "amd64" {
            throw bad("architecture \(arch), not amd64")
        }
        if let os = json["os"]?.stringValue, os != "linux" { throw bad("os \(os), not linux") }
        func strings(_ value: JSONValue?, _ name: String) throws(SandboxError) -> [String] {
            guard let value, !value.isNull else { return [] }
            guard let array = value.arrayValue else { throw bad("\(name) is not an array") }
            var out: [String] = []
            for item in array {
                guard let s = item.stringValue, !s.utf8.contains(0) else {
                    throw bad("\(name) holds a non-string or a NUL")
                }
                out.append(s)
            }
            return out
        }
        func string(_ value: JSONValue?, _ name: String) throws(SandboxError) -> String {
            guard let value, !value.isNull else { return "" }
            guard let s = value.stringValue, !s.utf8.contains(0) else { throw bad("\(name) is not a string") }
            return s
        }
        let c = json["config"]
        var config = OCIImageConfig()
        if let c, !c.isNull {
            guard c.objectValue != nil else { throw bad("config is not an object") }
            config.entrypoint = try strings(c["Entrypoint"], "Entrypoint")
            config.cmd = try strings(c["Cmd"], "Cmd")
            config.env = try strings(c["Env"], "Env")
            config.workingDir = try string(c["WorkingDir"], "WorkingDir")
            config.user = try string(c["User"], "User")
            for entry in config.env where !entry.contains("=") { throw bad("Env entry without '='") }
        }
        if let rootfs = json["rootfs"] {
            guard rootfs["type"]?.stringValue == "layers" else { throw bad("rootfs.type must be layers") }
            for id in try strings(rootfs["diff_ids"], "rootfs.diff_ids") {
                config.diffIDs.append(try OCIDigest(parsing: id))
            }
            if let layerCount, config.diffIDs.count != layerCount {
                throw bad("\(config.diffIDs.count) diff_ids for \(layerCount) layers")
            }
        }
        return config
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
