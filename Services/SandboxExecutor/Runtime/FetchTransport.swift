import Dispatch
import Foundation
import HTTPFetch
import SandboxCore

#if canImport(Glibc)
    import Glibc
#endif

/// Name resolution, separate so the fetcher resolves each host exactly once per hop and checks
/// what it got before anything connects.
public protocol HostResolver: Sendable {
    /// Every address of `host` (A and AAAA), in the resolver's order, without duplicates.
    func resolve(_ host: String) async throws(SandboxError) -> [IPAddress]
}

/// The system resolver (`getaddrinfo`, so /etc/hosts and nsswitch apply), run off the cooperative
/// thread pool because it blocks.
public struct SystemResolver: HostResolver {
    public init() {}

    private static let queue = DispatchQueue(label: "SandboxRuntime.resolver", attributes: .concurrent)

    public func resolve(_ host: String) async throws(SandboxError) -> [IPAddress] {
        let result: Result<[IPAddress], SandboxError> = await withCheckedContinuation { continuation in
            Self.queue.async { continuation.resume(returning: Self.lookup(host)) }
        }
        return try result.get()
    }

    static func lookup(_ host: String) -> Result<[IPAddress], SandboxError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let code = getaddrinfo(host, nil, &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        guard code == 0 else {
            return .failure(
                SandboxError(.fetchFailed, "cannot resolve \(host): \(String(cString: gai_strerror(code)))"))
        }
        var out: [IPAddress] = []
        var node = list
        while let info = node {
            if let sa = info.pointee.ai_addr {
                var address: IPAddress? = nil
                if info.pointee.ai_family == AF_INET {
                    address = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                        withUnsafeBytes(of: p.pointee.sin_addr) { .v4(Array($0)) }
                    }
                } else if info.pointee.ai_family == AF_INET6 {
                    address = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                        withUnsafeBytes(of: p.pointee.sin6_addr) { .v6(Array($0)) }
                    }
                }
                if let address, !out.contains(address) { out.append(address) }
            }
            node = info.pointee.ai_next
        }
        return .success(out)
    }
}

/// Caps for one fetch (all hops together).
public struct FetchLimits: Sendable, Hashable {
    /// Largest body accepted.
    public var maxBytes: Int
    /// Wall-clock cap for the whole fetch, resolution and redirects included.
    public var timeout: Duration
    /// Cap for each TCP (+ TLS) connect.
    public var connectTimeout: Duration
    /// Abort when fewer than `lowSpeedBytesPerSecond` flow for `lowSpeedTime` (a slow-loris server
    /// that trickles bytes just above it still hits `timeout`).
    public var lowSpeedBytesPerSecond: Int
    public var lowSpeedTime: Duration
    /// Redirects followed at most, each re-checked by the policy.
    public var maxRedirects: Int
    public var maxHeaderBytes: Int

    public init(
        maxBytes: Int = 8 << 20, timeout: Duration = .seconds(20), connectTimeout: Duration = .seconds(5),
        lowSpeedBytesPerSecond: Int = 1024, lowSpeedTime: Duration = .seconds(5), maxRedirects: Int = 5,
        maxHeaderBytes: Int = 64 << 10
    ) {
        self.maxBytes = maxBytes
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.lowSpeedBytesPerSecond = lowSpeedBytesPerSecond
        self.lowSpeedTime = lowSpeedTime
        self.maxRedirects = maxRedirects
        self.maxHeaderBytes = maxHeaderBytes
    }
}

/// GETs over libcurl under the URL policy: for every hop the host is resolved once, every address
/// checked, and the connection pinned to the checked address (CURLOPT_RESOLVE; proxies off);
/// redirects are followed here, not by libcurl, so each hop's target is checked the same way.
struct PolicedTransport: Sendable {
    let policy: URLPolicy
    let resolver: any HostResolver
    let client = HTTPFetchClient()

    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
        /// The URL that answered (after redirects).
        var url: SourceURL

        func header(_ name: String) -> String? {
            let wanted = name.lowercased()
            return headers.first { $0.0.lowercased() == wanted }?.1
        }
    }

    /// GET `url`, following up to `limits.maxRedirects` redirects. Non-redirect answers (any
    /// status) are returned; callers decide what a status means. `schemes` limits every hop.
    func get(
        _ start: SourceURL, headers: [(String, String)] = [], limits: FetchLimits,
        schemes: Set<String> = ["http", "https"]
    ) async throws(SandboxError) -> Response {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: limits.timeout)
        var url = start
        var redirects = 0
        while true {
            guard schemes.contains(url.scheme) else {
                throw SandboxError(.refused, "\(url.scheme) is not allowed for \(url.host)")
            }
            let resolved: [IPAddress]
            if url.hostAddress == nil {
                resolved = try await resolver.resolve(url.host)
            } else {
                resolved = []
            }
            let addresses = try policy.check(url, resolved: resolved)
            let remaining = deadline - clock.now
            guard remaining > .milliseconds(1) else {
                throw SandboxError(.fetchFailed, "\(url.host): fetch took longer than \(limits.timeout)")
            }
            var request = HTTPRequest(
                url: "\(url.scheme)://\(url.hostForRequest):\(url.port)\(url.target)", headers: headers,
                timeout: remaining, connectTimeout: min(limits.connectTimeout, remaining),
                stallTimeout: limits.lowSpeedTime, maxResponseBytes: limits.maxBytes,
                maxHeaderBytes: limits.maxHeaderBytes, maxRedirects: 0, allowedSchemes: [url.scheme],
                noProxy: true, lowSpeedBytesPerSecond: limits.lowSpeedBytesPerSecond)
            if url.hostAddress == nil {
                // Only the checked addresses; libcurl tries them in order (happy eyeballs among them).
                request.resolve = [
                    "\(url.host):\(url.port):" + addresses.map(\.uriHost).joined(separator: ",")
                ]
            }
            let response: HTTPResponse
            do {
                response = try await client.perform(request)
            } catch {
                throw Self.map(error, host: url.host, limits: limits)
            }
            guard [301, 302, 303, 307, 308].contains(response.status) else {
                return Response(status: response.status, headers: response.headers, body: response.body, url: url)
            }
            guard redirects < limits.maxRedirects else {
                throw SandboxError(.fetchFailed, "\(start.host): more than \(limits.maxRedirects) redirects")
            }
            redirects += 1
            guard let location = response.header("Location") else {
                throw SandboxError(.fetchFailed, "\(url.host): redirect without a Location header")
            }
            url = try url.resolving(location: location)
        }
    }

    static func map(_ error: HTTPFetchError, host: String, limits: FetchLimits) -> SandboxError {
        switch error {
        case .timeout:
            return SandboxError(.fetchFailed, "\(host): timed out (cap \(limits.timeout), or the transfer stalled)")
        case .responseTooLarge(let limit):
            return SandboxError(.fetchFailed, "\(host): response larger than \(limit) bytes")
        case .cancelled:
            return SandboxError(.cancelled, "fetch from \(host) cancelled")
        case .schemeNotAllowed(let scheme):
            return SandboxError(.refused, "\(host): scheme \(scheme) is not allowed")
        default:
            return SandboxError(.fetchFailed, "\(host): \(error)")
        }
    }
}

extension SourceURL {
    /// The host as it goes into the request URL: a name (pinned by CURLOPT_RESOLVE) or a literal.
    var hostForRequest: String { hostAddress?.uriHost ?? host }
}
