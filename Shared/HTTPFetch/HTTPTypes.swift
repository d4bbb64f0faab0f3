/// One HTTP(S) request with hard limits. Every limit is enforced by libcurl or by this module's
/// callbacks, never by trusting the server.
public struct HTTPRequest: Sendable {
    public var url: String
    /// An HTTP token (GET, POST, PUT, DELETE, HEAD, …).
    public var method: String
    /// Sent in order. Names must be HTTP tokens; values must not contain CR, LF or NUL.
    public var headers: [(String, String)]
    public var body: [UInt8]?
    /// Wall-clock limit for the whole transfer, redirects included.
    public var timeout: Duration
    /// Limit for establishing each connection (TCP + TLS).
    public var connectTimeout: Duration
    /// Abort when fewer than 1 byte/s flows for this long (whole seconds, at least 1 s).
    public var stallTimeout: Duration
    /// Largest response body accepted (per response; the body of the final response is returned).
    public var maxResponseBytes: Int
    /// Largest total of response header bytes accepted over the whole transfer.
    public var maxHeaderBytes: Int
    /// Redirects followed at most; 0 means redirects are not followed and the 3xx is returned.
    public var maxRedirects: Int
    /// Schemes allowed for the URL and for every redirect: a non-empty subset of http, https.
    public var allowedSchemes: Set<String>
    /// Addresses to use instead of DNS, as libcurl's CURLOPT_RESOLVE entries `host:port:address`
    /// (an IPv6 address in brackets). Pins the connection to an address the caller has checked, so
    /// a second DNS answer (rebinding) cannot change where the request goes; TLS still verifies the
    /// certificate against `host`.
    public var resolve: [String]
    /// Ignore the `http_proxy` / `https_proxy` / `ALL_PROXY` environment variables, so the
    /// connection goes where `resolve` says (no proxy in between).
    public var noProxy: Bool
    /// The stall limit's threshold: the transfer is aborted when fewer than this many bytes per
    /// second flow for `stallTimeout`.
    public var lowSpeedBytesPerSecond: Int

    public init(
        url: String,
        method: String = "GET",
        headers: [(String, String)] = [],
        body: [UInt8]? = nil,
        timeout: Duration = .seconds(30),
        connectTimeout: Duration = .seconds(10),
        stallTimeout: Duration = .seconds(30),
        maxResponseBytes: Int = 16 << 20,
        maxHeaderBytes: Int = 256 << 10,
        maxRedirects: Int = 5,
        allowedSchemes: Set<String> = ["http", "https"],
        resolve: [String] = [],
        noProxy: Bool = false,
        lowSpeedBytesPerSecond: Int = 1
    ) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
        self.maxResponseBytes = maxResponseBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxRedirects = maxRedirects
        self.allowedSchemes = allowedSchemes
        self.resolve = resolve
        self.noProxy = noProxy
        self.lowSpeedBytesPerSecond = lowSpeedBytesPerSecond
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Headers of the final response, in order as received.
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// The URL of the final response (after redirects).
    public var effectiveURL: String

    public init(status: Int, headers: [(String, String)], body: [UInt8], effectiveURL: String) {
        self.status = status
        self.headers = headers
        self.body = body
        self.effectiveURL = effectiveURL
    }

    /// The first header with this name (case-insensitive).
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.0.lowercased() == wanted }?.1
    }
}

/// Failures of `HTTPFetchClient.perform`. Messages never include the request URL (it may carry
/// credentials or API keys); they may name the host.
public enum HTTPFetchError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The URL does not parse, or has no host.
    case invalidURL(String)
    /// A request field is out of range (method, header, timeout, limit, scheme list).
    case invalidRequest(String)
    /// The URL's scheme, or a redirect's, is not in `allowedSchemes`.
    case schemeNotAllowed(String)
    /// The total, connect or stall timeout expired.
    case timeout
    /// The response body exceeded `maxResponseBytes` (the limit is given).
    case responseTooLarge(Int)
    /// The response headers exceeded `maxHeaderBytes` (the limit is given).
    case headersTooLarge(Int)
    /// More than `maxRedirects` redirects (the limit is given).
    case tooManyRedirects(Int)
    /// DNS, TCP, TLS or the connection failed; libcurl's message.
    case connectionFailed(String)
    /// The calling task was cancelled.
    case cancelled
    /// Any other libcurl failure: the CURLcode and libcurl's message.
    case other(code: Int, message: String)

    public var description: String {
        switch self {
        case .invalidURL(let m): "invalid URL: \(m)"
        case .invalidRequest(let m): "invalid request: \(m)"
        case .schemeNotAllowed(let s): "scheme not allowed: \(s)"
        case .timeout: "request timed out"
        case .responseTooLarge(let limit): "response body larger than \(limit) bytes"
        case .headersTooLarge(let limit): "response headers larger than \(limit) bytes"
        case .tooManyRedirects(let limit): "more than \(limit) redirects"
        case .connectionFailed(let m): "connection failed: \(m)"
        case .cancelled: "request cancelled"
        case .other(let code, let m): "HTTP transfer failed (curl \(code)): \(m)"
        }
    }
}
