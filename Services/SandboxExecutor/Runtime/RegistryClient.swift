import CryptoPrimitives
import SandboxCore

/// How the executor talks to registries.
public struct RegistryConfig: Sendable, Hashable {
    /// Registries (`host:port` as written in image references) that may be reached over plain
    /// http, e.g. a local test registry. All others are https only.
    public var plainHTTPRegistries: Set<String>
    public var limits: OCILimits
    /// Caps for manifest and config requests.
    public var manifestFetch: FetchLimits
    /// Caps for layer requests (the size cap comes from each descriptor).
    public var blobFetch: FetchLimits

    public init(
        plainHTTPRegistries: Set<String> = [], limits: OCILimits = OCILimits(),
        manifestFetch: FetchLimits = FetchLimits(maxBytes: 4 << 20, timeout: .seconds(30)),
        blobFetch: FetchLimits = FetchLimits(timeout: .seconds(300), lowSpeedTime: .seconds(10))
    ) {
        self.plainHTTPRegistries = plainHTTPRegistries
        self.limits = limits
        self.manifestFetch = manifestFetch
        self.blobFetch = blobFetch
    }
}

/// An image whose manifest and config have been fetched and verified.
public struct ResolvedImage: Sendable, Hashable {
    public let reference: ImageReference
    /// The digest the reference pinned (for a tag reference, the digest of what the registry sent).
    public let pinnedDigest: OCIDigest
    /// The image manifest actually used (differs from `pinnedDigest` when that names an index).
    public let manifestDigest: OCIDigest
    public let manifest: OCIImageManifest
    public let configBytes: [UInt8]
    public let config: OCIImageConfig
}

/// The OCI distribution API (distribution-spec v1.1 "Pull") over libcurl (issue 7): the manifest
/// by digest with the Accept header listing the manifest types we parse, then blobs; every body is
/// sha256-checked against the digest that named it (`.digestMismatch`) and capped by the size
/// its descriptor declared. The registry host is subject to the same `URLPolicy` as sources (an
/// image reference is client input too: it must not reach the operator's network), with pinned
/// connections and redirects checked hop by hop (blob GETs usually redirect to storage).
///
/// Not supported: registry authentication (401 → `.fetchFailed`), zstd layers, foreign layers.
public struct RegistryClient: Sendable {
    public let config: RegistryConfig
    let transport: PolicedTransport

    public init(config: RegistryConfig, policy: URLPolicy, resolver: any HostResolver = SystemResolver()) {
        self.config = config
        self.transport = PolicedTransport(policy: policy, resolver: resolver)
    }

    /// Fetches and verifies the manifest (following an index to its linux/amd64 manifest) and the
    /// config.
    public func resolve(_ reference: ImageReference) async throws(SandboxError) -> ResolvedImage {
        let top = try await manifest(reference, reference.manifestReference, expected: reference.digest)
        let pinned = top.digest
        var manifestDigest = pinned
        let image: OCIImageManifest
        switch top.document {
        case .image(let m):
            image = m
        case .index(let entry):
            let inner = try await manifest(reference, entry.digest.description, expected: entry.digest)
            guard inner.bytes.count == entry.size else {
                throw SandboxError(.digestMismatch, "\(reference): manifest size differs from its index entry")
            }
            guard case .image(let m) = inner.document else {
                throw SandboxError(.invalidRequest, "\(reference): an index entry names another index")
            }
            image = m
            manifestDigest = entry.digest
        }
        let configBytes = try await blob(reference, image.config)
        let config = try OCIImageConfig.parse(configBytes, layerCount: image.layers.count, limits: self.config.limits)
        return ResolvedImage(
            reference: reference, pinnedDigest: pinned, manifestDigest: manifestDigest, manifest: image,
            configBytes: configBytes, config: config)
    }

    /// A blob's bytes, checked against `descriptor` (size and sha256).
    public func blob(_ reference: ImageReference, _ descriptor: OCIDescriptor) async throws(SandboxError) -> [UInt8] {
        guard descriptor.size <= Int64(Int.max / 2) else { throw SandboxError(.invalidRequest, "blob too large") }
        var limits = config.blobFetch
        limits.maxBytes = Int(descriptor.size)
        let response = try await get(reference, "blobs/\(descriptor.digest)", accept: [], limits: limits)
        try check(response.status, reference, what: "blob \(descriptor.digest)")
        let actual = OCIDigest(sha256: SHA256.hash(response.body))
        guard response.body.count == descriptor.size, actual == descriptor.digest else {
            throw SandboxError(
                .digestMismatch,
                "\(reference.registry): blob \(descriptor.digest) arrived as \(actual) (\(response.body.count) bytes)")
        }
        return response.body
    }

    struct FetchedManifest {
        var bytes: [UInt8]
        var digest: OCIDigest
        var document: OCIManifestDocument
    }

    func manifest(
        _ reference: ImageReference, _ name: String, expected: OCIDigest?
    ) async throws(SandboxError)
        -> FetchedManifest
    {
        var limits = config.manifestFetch
        limits.maxBytes = config.limits.maxManifestBytes
        let response = try await get(
            reference, "manifests/\(name)", accept: OCIMediaType.manifestAccept, limits: limits)
        try check(response.status, reference, what: "manifest")
        let digest = OCIDigest(sha256: SHA256.hash(response.body))
        if let expected, digest != expected {
            throw SandboxError(.digestMismatch, "\(reference.registry): manifest \(expected) arrived as \(digest)")
        }
        let document = try OCIManifestDocument.parse(
            response.body, contentType: response.header("Content-Type"), limits: config.limits)
        return FetchedManifest(bytes: response.body, digest: digest, document: document)
    }

    func check(_ status: Int, _ reference: ImageReference, what: String) throws(SandboxError) {
        switch status {
        case 200: return
        case 404: throw SandboxError(.imageNotFound, "\(reference): \(what) not found in the registry")
        case 401, 403:
            throw SandboxError(.fetchFailed, "\(reference.registry) requires authentication (not supported)")
        default: throw SandboxError(.fetchFailed, "\(reference.registry) answered HTTP \(status) for the \(what)")
        }
    }

    func get(
        _ reference: ImageReference, _ path: String, accept: [String], limits: FetchLimits
    )
        async throws(SandboxError) -> PolicedTransport.Response
    {
        let plain = config.plainHTTPRegistries.contains(reference.registry)
        let scheme = plain ? "http" : "https"
        let url = try SourceURL.parse("\(scheme)://\(reference.registry)/v2/\(reference.repository)/\(path)")
        var headers: [(String, String)] = []
        if !accept.isEmpty { headers.append(("Accept", accept.joined(separator: ", "))) }
        // Redirects (blob storage) stay https, except on a registry explicitly allowed plain http.
        return try await transport.get(
            url, headers: headers, limits: limits, schemes: plain ? ["http", "https"] : ["https"])
    }
}
