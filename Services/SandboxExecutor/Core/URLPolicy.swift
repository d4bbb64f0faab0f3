/// Which source URLs the executor may fetch, and which addresses it may connect to (issue 7).
///
/// Validators fetch URLs that clients chose, so a URL is hostile input: it may aim at the
/// operator's own network (SSRF: 127.0.0.1, 10/8, the cloud metadata service at 169.254.169.254,
/// ...). The defence has three parts, all decided here without any I/O:
/// 1. `SourceURL.parse` accepts a small, strict subset of RFC 3986: http or https, no userinfo, an
///    ASCII host (IDNs only as punycode), a valid port, no fragment, percent-encoding checked;
///    numeric host spellings that resolvers read as IPv4 (`2130706433`, `0x7f.1`, `0177.0.0.1`,
///    `127.1`) are refused, so the host we check is the host that gets dialled.
/// 2. `IPAddress.classify` names every special-purpose range of the IANA IPv4 and IPv6
///    special-purpose address registries (RFC 6890 and updates); only `.global` is reachable by
///    default.
/// 3. `URLPolicy.check` takes *every* address the host resolved to: one refused address refuses the
///    URL (DNS answers mixing a public and a private address are a rebinding trick), and the caller
///    then pins the connection to a checked address.
/// An explicit allowlist (config) re-admits addresses otherwise refused; tests use it for 127.0.0.1.

// MARK: - IP addresses

/// An IPv4 or IPv6 address as bytes (network order).
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4([UInt8])
    case v6([UInt8])

    /// The address bytes (4 or 16).
    public var bytes: [UInt8] {
        switch self {
        case .v4(let b), .v6(let b): b
        }
    }

    /// Parses a strict dotted-quad IPv4 (no leading zeros, no short forms) or an RFC 4291 IPv6
    /// text form (with an optional trailing dotted quad; no zone id). Nil when it is neither.
    public init?(parsing text: String) {
        if let v4 = Self.parseV4(Array(text.utf8)) {
            self = .v4(v4)
        } else if let v6 = Self.parseV6(Array(text.utf8)) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    static func parseV4(_ s: [UInt8]) -> [UInt8]? {
        let parts = s.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(isDigit) else { return nil }
            if part.count > 1, part.first == UInt8(ascii: "0") { return nil }  // octal in inet_aton
            let value = part.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard value <= 255 else { return nil }
            out.append(UInt8(value))
        }
        return out
    }

    static func parseV6(_ s: [UInt8]) -> [UInt8]? {
        guard s.count >= 2, s.count <= 45 else { return nil }
        let colon = UInt8(ascii: ":")
        // Groups of 1...4 hex digits; a dotted quad may stand for the last two groups.
        func groups(_ part: ArraySlice<UInt8>, quadAllowed: Bool) -> [UInt8]? {
            if part.isEmpty { return [] }
            let pieces = part.split(separator: colon, omittingEmptySubsequences: false)
            var out: [UInt8] = []
            for (index, piece) in pieces.enumerated() {
                if quadAllowed, index == pieces.count - 1, piece.contains(UInt8(ascii: ".")) {
                    guard let quad = parseV4(Array(piece)) else { return nil }
                    out += quad
                    continue
                }
                guard (1...4).contains(piece.count), piece.allSatisfy(isHexDigit) else { return nil }
                let value = piece.reduce(UInt16(0)) { $0 << 4 | UInt16(hexValue($1)) }
                out += [UInt8(value >> 8), UInt8(value & 0xff)]
            }
            return out
        }
        guard let gap = s.indices.dropLast().first(where: { s[$0] == colon && s[$0 + 1] == colon }) else {
            guard let all = groups(s[...], quadAllowed: true), all.count == 16 else { return nil }
            return all
        }
        // "::" stands for one or more zero groups, and appears at most once.
        guard let head = groups(s[..<gap], quadAllowed: false),
            let tail = groups(s[(gap + 2)...], quadAllowed: true), head.count + tail.count <= 14
        else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }

    /// Dotted quad, or RFC 5952 canonical IPv6 text (lower case, the longest run of two or more
    /// zero groups as "::").
    public var description: String {
        switch self {
        case .v4(let b):
            return b.map(String.init).joined(separator: ".")
        case .v6(let b):
            var groups: [UInt16] = []
            for i in stride(from: 0, to: 16, by: 2) { groups.append(UInt16(b[i]) << 8 | UInt16(b[i + 1])) }
            var bestStart = -1
            var bestLength = 1
            var i = 0
            while i < 8 {
                if groups[i] == 0 {
                    var j = i
                    while j < 8, groups[j] == 0 { j += 1 }
                    if j - i > bestLength {
                        bestStart = i
                        bestLength = j - i
                    }
                    i = j
                } else {
                    i += 1
                }
            }
            func hex(_ range: Range<Int>) -> String {
                groups[range].map { String($0, radix: 16) }.joined(separator: ":")
            }
            if bestStart < 0 { return hex(0..<8) }
            return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
        }
    }

    /// The RFC 3986 host form: IPv6 in brackets.
    public var uriHost: String {
        switch self {
        case .v4: description
        case .v6: "[\(description)]"
        }
    }
}

/// What an address is, for the connect policy. Everything but `.global` is refused by default.
public enum AddressClass: String, Sendable, Hashable, CaseIterable {
    case global
    /// 0.0.0.0/8 ("this network"), ::/128.
    case unspecified
    /// 127.0.0.0/8, ::1.
    case loopback
    /// RFC 1918: 10/8, 172.16/12, 192.168/16.
    case `private`
    /// RFC 6598 shared address space 100.64/10 (carrier-grade NAT).
    case cgnat
    /// 169.254/16 (incl. cloud metadata at 169.254.169.254), fe80::/10.
    case linkLocal
    /// fc00::/7 (RFC 4193).
    case uniqueLocal
    /// fec0::/10, deprecated by RFC 3879 but still routed by some stacks.
    case siteLocal
    /// 224/4, ff00::/8.
    case multicast
    /// 255.255.255.255.
    case broadcast
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32.
    case documentation
    /// 198.18/15, 2001:2::/48.
    case benchmarking
    /// ::ffff:0:0/96: an IPv4 address behind an IPv6 socket; refused as a class (the embedded
    /// address is what gets dialled, and DNS has no business returning one).
    case ipv4Mapped
    /// 64:ff9b::/96, 64:ff9b:1::/48 (RFC 6052, 8215): a NAT64 gateway may translate to any IPv4.
    case nat64
    /// 2002::/16 (6to4), 2001::/32 (Teredo): tunnels that embed an IPv4 address.
    case tunnel
    /// Any other IANA special-purpose or unallocated range (192.0.0/24, 240/4, ::/96, 100::/64,
    /// ORCHID, outside 2000::/3, ...).
    case reserved
}

extension IPAddress {
    /// Classifies per the IANA special-purpose address registries.
    public var addressClass: AddressClass {
        switch self {
        case .v4(let b): Self.classifyV4(b)
        case .v6(let b): Self.classifyV6(b)
        }
    }

    static func classifyV4(_ b: [UInt8]) -> AddressClass {
        func within(_ prefix: [UInt8], _ bits: Int) -> Bool { IPNetwork.matches(b, prefix: prefix, bits: bits) }
        if b == [255, 255, 255, 255] { return .broadcast }
        if within([0, 0, 0, 0], 8) { return .unspecified }
        if within([127, 0, 0, 0], 8) { return .loopback }
        if within([10, 0, 0, 0], 8) || within([172, 16, 0, 0], 12) || within([192, 168, 0, 0], 16) {
            return .private
        }
        if within([100, 64, 0, 0], 10) { return .cgnat }
        if within([169, 254, 0, 0], 16) { return .linkLocal }
        if within([224, 0, 0, 0], 4) { return .multicast }
        if within([192, 0, 2, 0], 24) || within([198, 51, 100, 0], 24) || within([203, 0, 113, 0], 24) {
            return .documentation
        }
        if within([198, 18, 0, 0], 15) { return .benchmarking }
        if within([192, 0, 0, 0], 24) || within([192, 88, 99, 0], 24) || within([240, 0, 0, 0], 4) {
            return .reserved
        }
        return .global
    }

    static func classifyV6(_ b: [UInt8]) -> AddressClass {
        func within(_ prefix: [UInt8], _ bits: Int) -> Bool {
            IPNetwork.matches(b, prefix: prefix + Array(repeating: 0, count: 16 - prefix.count), bits: bits)
        }
        if b == [UInt8](repeating: 0, count: 16) { return .unspecified }
        if b == [UInt8](repeating: 0, count: 15) + [1] { return .loopback }
        if within([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 96) { return .ipv4Mapped }
        if within([0, 0x64, 0xff, 0x9b], 96) || within([0, 0x64, 0xff, 0x9b, 0, 1], 48) { return .nat64 }
        if within([0xfe, 0x80], 10) { return .linkLocal }
        if within([0xfe, 0xc0], 10) { return .siteLocal }
        if within([0xfc, 0x00], 7) { return .uniqueLocal }
        if within([0xff], 8) { return .multicast }
        if within([0x20, 0x01, 0x0d, 0xb8], 32) { return .documentation }
        if within([0x20, 0x01, 0x00, 0x02, 0, 0], 48) { return .benchmarking }
        if within([0x20, 0x02], 16) || within([0x20, 0x01, 0, 0], 32) { return .tunnel }
        // 2001::/23 is IETF protocol assignments (ORCHID, AMT, ...); the rest of 2000::/3 is
        // global unicast; everything outside 2000::/3 (::/96 IPv4-compatible, 100::/64 discard,
        // ...) is not routable on the internet.
        if within([0x20, 0x01, 0x00, 0x00], 23) { return .reserved }
        if within([0x20], 3) { return .global }
        return .reserved
    }
}

/// An address range in CIDR notation.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    /// `a.b.c.d/n` or `v6/n`; the host bits must be zero (a typo in config should not silently
    /// allow a different range).
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(parsing: String(parts[0])),
            (1...3).contains(parts[1].count), parts[1].utf8.allSatisfy(isDigit),
            parts[1] == "0" || parts[1].first != "0", let bits = Int(parts[1]),
            bits <= address.bytes.count * 8
        else { return nil }
        let masked = Self.mask(address.bytes, bits)
        guard masked == address.bytes else { return nil }
        self.address = address
        self.prefixLength = bits
    }

    public init(host address: IPAddress) {
        self.address = address
        self.prefixLength = address.bytes.count * 8
    }

    public func contains(_ other: IPAddress) -> Bool {
        switch (address, other) {
        case (.v4, .v4), (.v6, .v6): Self.matches(other.bytes, prefix: address.bytes, bits: prefixLength)
        default: false
        }
    }

    public var description: String { "\(address)/\(prefixLength)" }

    static func mask(_ bytes: [UInt8], _ bits: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let keep = min(8, max(0, bits - index * 8))
            return keep == 0 ? 0 : byte & UInt8(truncatingIfNeeded: 0xff << (8 - keep))
        }
    }

    static func matches(_ bytes: [UInt8], prefix: [UInt8], bits: Int) -> Bool {
        bytes.count == prefix.count && mask(bytes, bits) == mask(prefix, bits)
    }
}

// MARK: - Source URLs

/// A source URL that passed the strict parser. `text` is the URL exactly as given (it enters the
/// result hash); the other fields are what the fetcher dials and requests.
public struct SourceURL: Sendable, Hashable, CustomStringConvertible {
    public let text: String
    /// "http" or "https" (lower case).
    public let scheme: String
    /// Lower case: a DNS name (LDH labels, punycode allowed), a dotted quad, or an IPv6 address
    /// without brackets.
    public let host: String
    /// The host when it is an IP literal.
    public let hostAddress: IPAddress?
    /// The explicit port, or the scheme's default.
    public let port: Int
    /// Path and query ("/" when the URL has none), as sent in the request line.
    public let target: String

    public static let maxLength = 8192

    /// Parses `text` strictly (see the file comment). Syntax errors are `.invalidRequest`; a
    /// scheme other than http(s) and userinfo are `.refused`.
    public static func parse(_ text: String) throws(SandboxError) -> SourceURL {
        let bytes = Array(text.utf8)
        func bad(_ why: String) -> SandboxError { SandboxError(.invalidRequest, "source URL: \(why)") }
        guard !bytes.isEmpty, bytes.count <= maxLength else { throw bad("empty or longer than \(maxLength) bytes") }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw bad("contains whitespace, control or non-ASCII characters (IDNs must be punycode)")
        }
        guard let schemeEnd = bytes.firstIndex(of: UInt8(ascii: ":")) else { throw bad("no scheme") }
        let scheme = String(decoding: bytes[..<schemeEnd], as: UTF8.self).lowercased()
        guard scheme == "http" || scheme == "https" else {
            guard !scheme.isEmpty, scheme.utf8.allSatisfy({ isAlphaNum($0) || "+-.".utf8.contains($0) }) else {
                throw bad("no scheme")
            }
            throw SandboxError(.refused, "source URL scheme \(scheme) is not allowed (http and https only)")
        }
        var rest = bytes[(schemeEnd + 1)...]
        guard rest.starts(with: "//".utf8) else { throw bad("missing // after the scheme") }
        rest = rest.dropFirst(2)
        guard !rest.contains(UInt8(ascii: "#")) else { throw bad("fragments are not allowed") }
        let authorityEnd =
            rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) ?? rest.endIndex
        let authority = Array(rest[..<authorityEnd])
        var target = Array(rest[authorityEnd...])
        guard !authority.contains(UInt8(ascii: "@")) else {
            throw SandboxError(.refused, "source URL: userinfo (user:password@) is not allowed")
        }
        guard !authority.contains(UInt8(ascii: "\\")) else { throw bad("backslash in the authority") }
        let (host, address, port) = try parseAuthority(authority, defaultPort: scheme == "https" ? 443 : 80)
        if target.first == UInt8(ascii: "?") { target.insert(UInt8(ascii: "/"), at: 0) }
        if target.isEmpty { target = Array("/".utf8) }
        try checkTarget(target)
        return SourceURL(
            text: text, scheme: scheme, host: host, hostAddress: address, port: port,
            target: String(decoding: target, as: UTF8.self))
    }

    /// `host[:port]`, where host is `[v6]`, a dotted quad or a DNS name.
    static func parseAuthority(_ a: [UInt8], defaultPort: Int) throws(SandboxError) -> (String, IPAddress?, Int) {
        func bad(_ why: String) -> SandboxError { SandboxError(.invalidRequest, "source URL: \(why)") }
        var hostPart: ArraySlice<UInt8>
        var portPart: ArraySlice<UInt8>? = nil
        if a.first == UInt8(ascii: "[") {
            guard let close = a.firstIndex(of: UInt8(ascii: "]")) else { throw bad("unterminated [IPv6] host") }
            hostPart = a[1..<close]
            let after = a[(close + 1)...]
            if !after.isEmpty {
                guard after.first == UInt8(ascii: ":") else { throw bad("junk after the [IPv6] host") }
                portPart = after.dropFirst()
            }
            guard !hostPart.contains(UInt8(ascii: "%")) else { throw bad("IPv6 zone identifiers are not allowed") }
            guard let v6 = IPAddress.parseV6(Array(hostPart)) else { throw bad("malformed IPv6 address") }
            let port = try portPart.map { (p) throws(SandboxError) in try parsePort(p) } ?? defaultPort
            let address = IPAddress.v6(v6)
            return (address.description, address, port)
        }
        let colons = a.indices.filter { a[$0] == UInt8(ascii: ":") }
        guard colons.count <= 1 else { throw bad("IPv6 hosts must be in brackets") }
        if let colon = colons.first {
            hostPart = a[..<colon]
            portPart = a[(colon + 1)...]
        } else {
            hostPart = a[...]
        }
        let port = try portPart.map { (p) throws(SandboxError) in try parsePort(p) } ?? defaultPort
        let host = String(decoding: hostPart, as: UTF8.self).lowercased()
        if let v4 = IPAddress.parseV4(Array(host.utf8)) { return (host, .v4(v4), port) }
        try checkDNSName(host)
        return (host, nil, port)
    }

    static func parsePort(_ p: ArraySlice<UInt8>) throws(SandboxError) -> Int {
        guard (1...5).contains(p.count), p.allSatisfy(isDigit), p.first != UInt8(ascii: "0"),
            let port = Int(String(decoding: p, as: UTF8.self)), (1...65535).contains(port)
        else { throw SandboxError(.invalidRequest, "source URL: port must be 1...65535 without leading zeros") }
        return port
    }

    /// LDH labels of 1...63 characters, at most 253 in all, not starting or ending with a hyphen.
    /// A name whose last label is numeric (or hex, 0x...) is one that resolvers parse as an IPv4
    /// number in some legacy form: refused (WHATWG URL's "ends in a number" rule).
    static func checkDNSName(_ host: String) throws(SandboxError) {
        func bad(_ why: String) -> SandboxError { SandboxError(.invalidRequest, "source URL host: \(why)") }
        guard !host.isEmpty, host.utf8.count <= 253 else { throw bad("empty or longer than 253 characters") }
        let labels = host.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        for label in labels {
            guard (1...63).contains(label.count) else { throw bad("empty or over-long label") }
            guard label.allSatisfy({ isAlphaNum($0) || $0 == UInt8(ascii: "-") }) else {
                throw bad("only letters, digits and hyphens are allowed (IDNs as punycode)")
            }
            guard label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-") else {
                throw bad("a label starts or ends with a hyphen")
            }
        }
        if let last = labels.last {
            let lower = Array(last)
            if lower.allSatisfy(isDigit) || (lower.starts(with: "0x".utf8) && lower.dropFirst(2).allSatisfy(isHexDigit))
            {
                throw bad("a numeric host that is not a dotted quad (legacy IPv4 forms are refused)")
            }
        }
    }

    /// Path and query: RFC 3986 pchar, "/", "?", with well-formed percent-encoding.
    static func checkTarget(_ t: [UInt8]) throws(SandboxError) {
        let allowed = Set("-._~!$&'()*+,;=:@/?".utf8)
        var i = 0
        while i < t.count {
            let c = t[i]
            if c == UInt8(ascii: "%") {
                guard i + 2 < t.count, isHexDigit(t[i + 1]), isHexDigit(t[i + 2]) else {
                    throw SandboxError(.invalidRequest, "source URL: malformed percent-encoding")
                }
                i += 3
                continue
            }
            guard isAlphaNum(c) || allowed.contains(c) else {
                throw SandboxError(
                    .invalidRequest, "source URL: character '\(Character(Unicode.Scalar(c)))' must be percent-encoded")
            }
            i += 1
        }
    }

    /// The URL a redirect's `Location` names, resolved against this one (RFC 3986 §5.2, with dot
    /// segments removed) and parsed strictly again.
    public func resolving(location: String) throws(SandboxError) -> SourceURL {
        let loc = location
        guard !loc.isEmpty else { throw SandboxError(.fetchFailed, "redirect without a Location") }
        let bytes = Array(loc.utf8)
        // An absolute URL has a scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":".
        if let colon = bytes.firstIndex(of: UInt8(ascii: ":")),
            let first = bytes.first, isAlpha(first),
            bytes[..<colon].allSatisfy({ isAlphaNum($0) || "+-.".utf8.contains($0) }),
            !bytes[..<colon].contains(UInt8(ascii: "/"))
        {
            return try SourceURL.parse(loc)
        }
        let authority = port == (scheme == "https" ? 443 : 80) ? hostForURI : "\(hostForURI):\(port)"
        if loc.hasPrefix("//") { return try SourceURL.parse("\(scheme):\(loc)") }
        let origin = "\(scheme)://\(authority)"
        let basePath = String(target.prefix { $0 != "?" })
        if loc.hasPrefix("/") { return try SourceURL.parse(origin + Self.removeDotSegments(loc)) }
        if loc.hasPrefix("?") { return try SourceURL.parse(origin + basePath + loc) }
        let directory = basePath.lastIndex(of: "/").map { String(basePath[...$0]) } ?? "/"
        return try SourceURL.parse(origin + Self.removeDotSegments(directory + loc))
    }

    var hostForURI: String { hostAddress?.uriHost ?? host }

    /// RFC 3986 §5.2.4 on the path part (the query, if any, is kept as is).
    static func removeDotSegments(_ pathAndQuery: String) -> String {
        let query = pathAndQuery.firstIndex(of: "?").map { String(pathAndQuery[$0...]) } ?? ""
        let path = String(pathAndQuery.prefix { $0 != "?" })
        var output: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (index, segment) in segments.enumerated() {
            let isLast = index == segments.count - 1
            switch segment {
            case ".":
                if isLast { output.append("") }
            case "..":
                if !output.isEmpty { output.removeLast() }
                if isLast { output.append("") }
            default:
                output.append(segment)
            }
        }
        return "/" + output.joined(separator: "/") + query
    }

    public var description: String { "\(scheme)://\(hostForURI):\(port)" }
}

// MARK: - The policy

/// One allowlist entry from config.
public enum AllowlistEntry: Sendable, Hashable, CustomStringConvertible {
    /// Any address in the range, any port (`10.1.0.0/16`, `127.0.0.1/32`, `::1/128`, or a bare IP).
    case network(IPNetwork)
    /// Exactly this host (as written in the URL, or an IP it resolved to) and port
    /// (`127.0.0.1:8080`, `[::1]:8080`, `registry.internal:5000`).
    case hostPort(host: String, port: Int)

    public init(parsing text: String) throws(SandboxError) {
        func bad() -> SandboxError {
            SandboxError(.invalidRequest, "allowlist entry '\(text)' is not host:port, an IP or a CIDR range")
        }
        guard !text.isEmpty, text.utf8.count <= 300, text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw bad()
        }
        if text.contains("/") {
            guard let network = IPNetwork(parsing: text) else { throw bad() }
            self = .network(network)
            return
        }
        if let address = IPAddress(parsing: text) {
            self = .network(IPNetwork(host: address))
            return
        }
        guard let (host, _, port) = try? SourceURL.parseAuthority(Array(text.utf8), defaultPort: 0), port != 0 else {
            throw bad()
        }
        self = .hostPort(host: host, port: port)
    }

    public var description: String {
        switch self {
        case .network(let n): n.description
        case .hostPort(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}

public struct URLPolicy: Sendable, Hashable {
    public var allowlist: [AllowlistEntry]

    public init(allowlist: [AllowlistEntry] = []) {
        self.allowlist = allowlist
    }

    /// From config strings; any malformed entry is an error (never silently dropped).
    public init(allowlist entries: [String]) throws(SandboxError) {
        var parsed: [AllowlistEntry] = []
        for entry in entries { parsed.append(try AllowlistEntry(parsing: entry)) }
        self.allowlist = parsed
    }

    /// Whether connecting to `address` for `url` is permitted.
    public func permits(_ address: IPAddress, for url: SourceURL) -> Bool {
        if address.addressClass == .global { return true }
        return allowlist.contains { entry in
            switch entry {
            case .network(let network): network.contains(address)
            case .hostPort(let host, let port):
                // An IP entry names the address dialled; a name entry names the URL's host.
                port == url.port && (IPAddress(parsing: host).map { $0 == address } ?? (host == url.host))
            }
        }
    }

    /// Checks every address `url`'s host resolved to (or its literal address) and returns the ones
    /// to connect to, in order. One refused address refuses the URL.
    public func check(_ url: SourceURL, resolved: [IPAddress]) throws(SandboxError) -> [IPAddress] {
        let addresses = url.hostAddress.map { [$0] } ?? resolved
        guard !addresses.isEmpty else { throw SandboxError(.fetchFailed, "host \(url.host) has no address") }
        for address in addresses where !permits(address, for: url) {
            throw SandboxError(
                .refused,
                "\(url.host) resolves to \(address) (\(address.addressClass.rawValue)), which is not allowed; "
                    + "an operator may allowlist it")
        }
        return addresses
    }
}

// MARK: - Character classes

@inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
@inline(__always) func isAlpha(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) }
@inline(__always) func isAlphaNum(_ c: UInt8) -> Bool { isDigit(c) || isAlpha(c) }
@inline(__always) func isHexDigit(_ c: UInt8) -> Bool {
    isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}
@inline(__always) func hexValue(_ c: UInt8) -> UInt8 {
    isDigit(c) ? c - 0x30 : (c | 0x20) - 0x61 + 10
}
