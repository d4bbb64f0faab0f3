/// Container image references (issue 7), per the OCI distribution spec's grammar
/// (distribution/reference `reference.go`):
///
///     reference  := registry "/" name [ ":" tag ] [ "@" digest ]
///     registry   := host [ ":" port ]
///     name       := component ( "/" component )*
///     component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
///     tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
///     digest     := "sha256:" 64 lower-case hex digits
///
/// Every validator must run the same bytes, so a job names its image by digest; a tag is a
/// mutable pointer (the registry may answer each validator differently) and is refused unless the
/// operator allows tags. The registry is always explicit: there is no implied docker.io.

/// A content digest. Only sha256 is accepted (the spec registers sha512 too, but nothing here
/// produces it, and one algorithm keeps one cache key per blob).
public struct OCIDigest: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// 64 lower-case hex digits.
    public let hex: String

    public init(parsing text: String) throws(SandboxError) {
        guard text.hasPrefix("sha256:") else {
            throw SandboxError(.invalidRequest, "digest algorithm must be sha256")
        }
        let hex = text.dropFirst("sha256:".count)
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ isDigit($0) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw SandboxError(.invalidRequest, "sha256 digest must be 64 lower-case hex digits")
        }
        self.hex = String(hex)
    }

    /// The digest of `bytes` (already hashed: 32 bytes).
    public init(sha256 bytes: [UInt8]) {
        precondition(bytes.count == 32, "a sha256 digest is 32 bytes")
        hex = bytes.map { b in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(b >> 4)], digits[Int(b & 0xf)]], as: UTF8.self)
        }.joined()
    }

    public var description: String { "sha256:\(hex)" }

    public static func < (a: OCIDigest, b: OCIDigest) -> Bool { a.hex < b.hex }
}

public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    /// `host[:port]`, lower case.
    public let registry: String
    public let registryHost: String
    public let registryPort: Int?
    /// The repository path (`library/busybox`).
    public let repository: String
    public let tag: String?
    public let digest: OCIDigest?

    /// The longest reference accepted, and the spec's limit on the repository name.
    public static let maxLength = 512
    public static let maxRepositoryLength = 255

    /// Parses `text` (syntax errors are `.invalidRequest`); a reference without a digest is
    /// `.refused` unless `allowTags`.
    public static func parse(_ text: String, allowTags: Bool = false) throws(SandboxError) -> ImageReference {
        func bad(_ why: String) -> SandboxError { SandboxError(.invalidRequest, "image reference: \(why)") }
        guard !text.isEmpty, text.utf8.count <= maxLength else { throw bad("empty or too long") }
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw bad("contains whitespace, control or non-ASCII characters")
        }
        var rest = Substring(text)
        var digest: OCIDigest? = nil
        if let at = rest.firstIndex(of: "@") {
            digest = try OCIDigest(parsing: String(rest[rest.index(after: at)...]))
            rest = rest[..<at]
        }
        guard let slash = rest.firstIndex(of: "/") else {
            throw bad("the registry must be explicit (registry[:port]/repository@sha256:...)")
        }
        let registryText = rest[..<slash]
        var name = rest[rest.index(after: slash)...]
        var tag: String? = nil
        // A ":" after the last "/" separates the tag (the registry's port colon comes before it).
        if let colon = name.lastIndex(of: ":") {
            let candidate = name[name.index(after: colon)...]
            guard isTag(candidate) else { throw bad("malformed tag") }
            tag = String(candidate)
            name = name[..<colon]
        }
        let (host, port) = try parseRegistry(registryText)
        guard !name.isEmpty, name.utf8.count <= maxRepositoryLength else {
            throw bad("repository name empty or longer than \(maxRepositoryLength)")
        }
        for component in name.split(separator: "/", omittingEmptySubsequences: false) {
            guard isComponent(component) else {
                throw bad("repository component '\(component)' must match [a-z0-9]+(([._]|__|-+)[a-z0-9]+)*")
            }
        }
        if digest == nil, !allowTags {
            throw SandboxError(
                .refused, "image reference must be pinned by digest (@sha256:...); tags are not allowed by config")
        }
        if digest == nil, tag == nil {
            throw SandboxError(.invalidRequest, "image reference has neither a tag nor a digest")
        }
        return ImageReference(
            registry: port.map { "\(host):\($0)" } ?? host, registryHost: host, registryPort: port,
            repository: String(name), tag: tag, digest: digest)
    }

    /// What the manifest request names: the digest when there is one, else the tag.
    public var manifestReference: String { digest?.description ?? tag ?? "" }

    public var description: String {
        var s = "\(registry)/\(repository)"
        if let tag { s += ":\(tag)" }
        if let digest { s += "@\(digest)" }
        return s
    }

    static func parseRegistry(_ text: Substring) throws(SandboxError) -> (String, Int?) {
        func bad(_ why: String) -> SandboxError { SandboxError(.invalidRequest, "image registry: \(why)") }
        let lower = text.lowercased()
        guard !lower.contains("@") else { throw bad("userinfo is not allowed") }
        guard let (host, _, port) = try? SourceURL.parseAuthority(Array(lower.utf8), defaultPort: 0) else {
            throw bad("'\(lower)' is not host[:port]")
        }
        // A registry without a dot, a port or the name localhost is a repository component in
        // docker's shorthand (`library/busybox`): require an explicit registry instead.
        guard port != 0 || host.contains(".") || host.contains(":") || host == "localhost" else {
            throw bad("'\(lower)' is not a registry host (the registry must be explicit)")
        }
        return (host.contains(":") ? "[\(host)]" : host, port == 0 ? nil : port)
    }

    static func isTag(_ s: Substring) -> Bool {
        let u = Array(s.utf8)
        guard (1...128).contains(u.count), isAlphaNum(u[0]) || u[0] == UInt8(ascii: "_") else { return false }
        return u.allSatisfy { isAlphaNum($0) || "_.-".utf8.contains($0) }
    }

    /// `[a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*`
    static func isComponent(_ s: Substring) -> Bool {
        let u = Array(s.utf8)
        func alnum(_ c: UInt8) -> Bool { isDigit(c) || (c >= 0x61 && c <= 0x7a) }
        guard let first = u.first, let last = u.last, alnum(first), alnum(last) else { return false }
        var i = 0
        while i < u.count {
            if alnum(u[i]) {
                i += 1
                continue
            }
            // A separator run: ".", "_", "__" or one or more "-".
            var j = i
            while j < u.count, !alnum(u[j]) { j += 1 }
            let separator = u[i..<j]
            let ok =
                separator.elementsEqual(".".utf8) || separator.elementsEqual("_".utf8)
                || separator.elementsEqual("__".utf8) || separator.allSatisfy { $0 == UInt8(ascii: "-") }
            guard ok else { return false }
            i = j
        }
        return true
    }
}
