import CCurl
import Dispatch
import Synchronization

/// `curl_global_init` runs exactly once, on first use (Swift runs global initializers once).
private let curlGlobalInitCode: Int = Int(curl_global_init(vn_curl_global_all()).rawValue)

/// Blocking transfers from `async` callers run here, off the cooperative thread pool.
private let blockingQueue = DispatchQueue(label: "HTTPFetch.blocking", attributes: .concurrent)

/// Set from a task-cancellation handler, read by the transfer's progress callback.
final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func cancel() { flag.store(true, ordering: .relaxed) }
    var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// Mutable state of one transfer, reached from libcurl's callbacks through a raw pointer.
/// Used by one thread only (the one inside curl_easy_perform).
private final class Transfer {
    let maxBody: Int
    let maxHeaderBytes: Int
    let cancellation: CancellationFlag?
    var body: [UInt8] = []
    var headers: [(String, String)] = []
    var headerBytes = 0
    var bodyTooLarge = false
    var headersTooLarge = false
    let errorBuffer: UnsafeMutablePointer<CChar>

    init(maxBody: Int, maxHeaderBytes: Int, cancellation: CancellationFlag?) {
        self.maxBody = maxBody
        self.maxHeaderBytes = maxHeaderBytes
        self.cancellation = cancellation
        let size = Int(vn_curl_error_size())
        errorBuffer = .allocate(capacity: size)
        errorBuffer.initialize(repeating: 0, count: size)
    }

    deinit { errorBuffer.deallocate() }

    var errorMessage: String { String(cString: errorBuffer) }
}

private let writeCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, user in
    guard let user else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
    let length = size * count
    guard transfer.body.count + length <= transfer.maxBody else {
        transfer.bodyTooLarge = true
        return 0  // not `length`: libcurl aborts with CURLE_WRITE_ERROR
    }
    if let data, length > 0 {
        transfer.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
    }
    return length
}

private let headerCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, user in
    guard let user else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
    let length = size * count
    transfer.headerBytes += length
    guard transfer.headerBytes <= transfer.maxHeaderBytes else {
        transfer.headersTooLarge = true
        return 0
    }
    guard let data, length > 0 else { return length }
    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        // A new response (1xx interim, or the next hop of a redirect): keep only the last one's.
        transfer.headers.removeAll()
        transfer.body.removeAll()
        return length
    }
    let trimmed = line.trimmingHTTPWhitespace()
    if trimmed.isEmpty { return length }
    if line.first == " " || line.first == "\t", !transfer.headers.isEmpty {
        // obs-fold continuation line.
        transfer.headers[transfer.headers.count - 1].1 += " " + trimmed
    } else if let colon = trimmed.unicodeScalars.firstIndex(of: ":") {
        let scalars = trimmed.unicodeScalars
        let name = String(Substring(scalars[..<colon])).trimmingHTTPWhitespace()
        let value = String(Substring(scalars[scalars.index(after: colon)...])).trimmingHTTPWhitespace()
        transfer.headers.append((name, value))
    }
    return length
}

private let progressCallback:
    @convention(c) (UnsafeMutableRawPointer?, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> Int32 = {
        user, _, _, _, _ in
        guard let user else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
        return transfer.cancellation?.isCancelled == true ? 1 : 0
    }

extension String {
    /// Trims spaces, tabs, CR and LF (by scalar: "\r\n" is one `Character`).
    func trimmingHTTPWhitespace() -> String {
        let ws: Set<Unicode.Scalar> = [" ", "\t", "\r", "\n"]
        var scalars = Substring(self).unicodeScalars
        while let first = scalars.first, ws.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, ws.contains(last) { scalars.removeLast() }
        return String(Substring(scalars))
    }
}

/// A blocking HTTP(S) client over libcurl. Each call uses its own easy handle, so one client may
/// be shared freely. Signals are never used (CURLOPT_NOSIGNAL = 1), so timeouts are safe in a
/// multi-threaded process.
public struct HTTPFetchClient: Sendable {
    public init() {}

    /// Performs the request on the calling thread.
    public func perform(_ request: HTTPRequest) throws(HTTPFetchError) -> HTTPResponse {
        try performBlocking(request, cancellation: nil)
    }

    /// Performs the request on a dedicated dispatch queue (never blocking the cooperative pool).
    /// Cancelling the calling task aborts the transfer with `HTTPFetchError.cancelled`.
    public func perform(_ request: HTTPRequest) async throws(HTTPFetchError) -> HTTPResponse {
        if Task.isCancelled { throw .cancelled }
        let flag = CancellationFlag()
        let result: Result<HTTPResponse, HTTPFetchError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                blockingQueue.async {
                    continuation.resume(
                        returning: Result { () throws(HTTPFetchError) in
                            try performBlocking(request, cancellation: flag)
                        })
                }
            }
        } onCancel: {
            flag.cancel()
        }
        return try result.get()
    }

    private func performBlocking(
        _ request: HTTPRequest, cancellation: CancellationFlag?
    ) throws(HTTPFetchError) -> HTTPResponse {
        guard curlGlobalInitCode == 0 else {
            throw .other(code: curlGlobalInitCode, message: "curl_global_init failed")
        }
        let plan = try validate(request)
        // The easy handle points into `transfer` (callbacks, error buffer): it must outlive the
        // handle, whose cleanup is deferred below and therefore runs first.
        let transfer = Transfer(
            maxBody: request.maxResponseBytes, maxHeaderBytes: request.maxHeaderBytes, cancellation: cancellation)
        defer { withExtendedLifetime(transfer) {} }

        guard let url = curl_url() else { throw .other(code: -1, message: "curl_url() returned NULL") }
        defer { curl_url_cleanup(url) }
        let parseCode = curl_url_set(url, CURLUPART_URL, request.url, vn_curlu_non_support_scheme())
        guard parseCode == CURLUE_OK else {
            throw .invalidURL(String(cString: curl_url_strerror(parseCode)))
        }
        let scheme = try urlPart(url, CURLUPART_SCHEME)?.lowercased() ?? ""
        guard request.allowedSchemes.contains(scheme) else { throw .schemeNotAllowed(scheme) }
        guard let host = try urlPart(url, CURLUPART_HOST), !host.isEmpty else { throw .invalidURL("URL has no host") }

        guard let handle = curl_easy_init() else { throw .other(code: -1, message: "curl_easy_init() returned NULL") }
        defer { curl_easy_cleanup(handle) }
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headerList) }
        var resolveList: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(resolveList) }
        for entry in request.resolve {
            guard let appended = curl_slist_append(resolveList, entry) else {
                throw .other(code: -1, message: "curl_slist_append failed")
            }
            resolveList = appended
        }
        for line in plan.headerLines {
            guard let appended = curl_slist_append(headerList, line) else {
                throw .other(code: -1, message: "curl_slist_append failed")
            }
            headerList = appended
        }

        let transferPointer = Unmanaged.passUnretained(transfer).toOpaque()
        let protocols = request.allowedSchemes.sorted().joined(separator: ",")

        var setup: [(String, CURLcode)] = [
            ("NOSIGNAL", vn_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)),
            ("CURLU", vn_curl_setopt_ptr(handle, CURLOPT_CURLU, UnsafeMutableRawPointer(url))),
            ("PROTOCOLS_STR", vn_curl_setopt_str(handle, CURLOPT_PROTOCOLS_STR, protocols)),
            ("REDIR_PROTOCOLS_STR", vn_curl_setopt_str(handle, CURLOPT_REDIR_PROTOCOLS_STR, protocols)),
            ("ERRORBUFFER", vn_curl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, transfer.errorBuffer)),
            ("TIMEOUT_MS", vn_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, plan.timeoutMs)),
            ("CONNECTTIMEOUT_MS", vn_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, plan.connectTimeoutMs)),
            ("LOW_SPEED_LIMIT", vn_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, request.lowSpeedBytesPerSecond)),
            ("LOW_SPEED_TIME", vn_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, plan.stallSeconds)),
            ("FOLLOWLOCATION", vn_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, request.maxRedirects > 0 ? 1 : 0)),
            ("MAXREDIRS", vn_curl_setopt_long(handle, CURLOPT_MAXREDIRS, request.maxRedirects)),
            ("WRITEFUNCTION", vn_curl_setopt_write(handle, writeCallback)),
            ("WRITEDATA", vn_curl_setopt_ptr(handle, CURLOPT_WRITEDATA, transferPointer)),
            ("HEADERFUNCTION", vn_curl_setopt_header(handle, headerCallback)),
            ("HEADERDATA", vn_curl_setopt_ptr(handle, CURLOPT_HEADERDATA, transferPointer)),
            ("XFERINFOFUNCTION", vn_curl_setopt_xferinfo(handle, progressCallback)),
            ("XFERINFODATA", vn_curl_setopt_ptr(handle, CURLOPT_XFERINFODATA, transferPointer)),
            ("NOPROGRESS", vn_curl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)),
            ("HTTPHEADER", vn_curl_setopt_ptr(handle, CURLOPT_HTTPHEADER, headerList)),
        ]
        if resolveList != nil {
            setup.append(("RESOLVE", vn_curl_setopt_ptr(handle, CURLOPT_RESOLVE, resolveList)))
        }
        if request.noProxy {
            // An empty proxy string disables every proxy, including those from the environment.
            setup.append(("PROXY", vn_curl_setopt_str(handle, CURLOPT_PROXY, "")))
        }
        if request.maxResponseBytes > 0 {
            // Lets libcurl refuse early when Content-Length already exceeds the limit.
            setup.append(
                (
                    "MAXFILESIZE_LARGE",
                    vn_curl_setopt_off(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(request.maxResponseBytes))
                ))
        }
        let method = request.method
        switch method {
        case "GET" where request.body == nil:
            setup.append(("HTTPGET", vn_curl_setopt_long(handle, CURLOPT_HTTPGET, 1)))
        case "HEAD":
            setup.append(("NOBODY", vn_curl_setopt_long(handle, CURLOPT_NOBODY, 1)))
        case "POST":
            setup.append(("POST", vn_curl_setopt_long(handle, CURLOPT_POST, 1)))
        default:
            setup.append(("CUSTOMREQUEST", vn_curl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, method)))
        }
        if request.body != nil || method == "POST" {
            let body = request.body ?? []
            setup.append(
                ("POSTFIELDSIZE_LARGE", vn_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            )
            // COPYPOSTFIELDS copies the bytes, so nothing here has to outlive the call.
            let code = body.withUnsafeBytes { raw in
                var empty: UInt8 = 0
                return raw.baseAddress.map {
                    vn_curl_setopt_ptr(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0))
                }
                    ?? vn_curl_setopt_ptr(handle, CURLOPT_COPYPOSTFIELDS, &empty)
            }
            setup.append(("COPYPOSTFIELDS", code))
        }
        if let failed = setup.first(where: { $0.1 != CURLE_OK }) {
            throw .invalidRequest(
                "libcurl refused option \(failed.0): \(String(cString: curl_easy_strerror(failed.1)))")
        }

        let code = curl_easy_perform(handle)
        if code != CURLE_OK {
            throw mapError(code, transfer: transfer, request: request)
        }
        var status = 0
        _ = vn_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var effective: UnsafeMutablePointer<CChar>? = nil
        _ = vn_curl_getinfo_str(handle, CURLINFO_EFFECTIVE_URL, &effective)
        return HTTPResponse(
            status: status, headers: transfer.headers, body: transfer.body,
            effectiveURL: effective.map { String(cString: $0) } ?? "")
    }

    private func urlPart(_ url: OpaquePointer, _ part: CURLUPart) throws(HTTPFetchError) -> String? {
        var value: UnsafeMutablePointer<CChar>? = nil
        let code = curl_url_get(url, part, &value, 0)
        defer { curl_free(value) }
        if code == CURLUE_NO_HOST || code == CURLUE_NO_SCHEME { return nil }
        guard code == CURLUE_OK, let value else { throw .invalidURL(String(cString: curl_url_strerror(code))) }
        return String(cString: value)
    }

    private func mapError(_ code: CURLcode, transfer: Transfer, request: HTTPRequest) -> HTTPFetchError {
        let message = transfer.errorMessage.isEmpty ? String(cString: curl_easy_strerror(code)) : transfer.errorMessage
        if transfer.bodyTooLarge || code == CURLE_FILESIZE_EXCEEDED {
            return .responseTooLarge(request.maxResponseBytes)
        }
        if transfer.headersTooLarge { return .headersTooLarge(request.maxHeaderBytes) }
        switch code {
        case CURLE_OPERATION_TIMEDOUT: return .timeout
        case CURLE_TOO_MANY_REDIRECTS: return .tooManyRedirects(request.maxRedirects)
        case CURLE_ABORTED_BY_CALLBACK where transfer.cancellation?.isCancelled == true: return .cancelled
        case CURLE_UNSUPPORTED_PROTOCOL: return .schemeNotAllowed(quotedName(in: message) ?? "unknown")
        case CURLE_URL_MALFORMAT: return .invalidURL(message)
        case CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT,
            CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
            CURLE_GOT_NOTHING, CURLE_SSL_CACERT_BADFILE, CURLE_HTTP2, CURLE_PARTIAL_FILE:
            return .connectionFailed(message)
        default:
            return .other(code: Int(code.rawValue), message: message)
        }
    }

    /// libcurl reports a refused protocol as `Protocol "ftp" not supported or disabled in libcurl`.
    private func quotedName(in message: String) -> String? {
        let parts = message.split(separator: "\"", omittingEmptySubsequences: false)
        return parts.count >= 3 ? parts[1].lowercased() : nil
    }

    private struct Plan {
        var headerLines: [String]
        var timeoutMs: Int
        var connectTimeoutMs: Int
        var stallSeconds: Int
    }

    private func validate(_ request: HTTPRequest) throws(HTTPFetchError) -> Plan {
        guard !request.url.isEmpty, request.url.utf8.count <= 64 * 1024 else {
            throw .invalidURL("URL is empty or longer than 64 KiB")
        }
        guard !request.url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7f }) else {
            throw .invalidURL("URL contains whitespace or control characters")
        }
        guard !request.allowedSchemes.isEmpty, request.allowedSchemes.isSubset(of: ["http", "https"]) else {
            throw .invalidRequest("allowedSchemes must be a non-empty subset of [http, https]")
        }
        guard isToken(request.method) else { throw .invalidRequest("method is not an HTTP token") }
        if request.method == "HEAD", request.body != nil { throw .invalidRequest("HEAD request with a body") }
        var lines: [String] = []
        var hasExpect = false
        for (name, value) in request.headers {
            guard isToken(name) else { throw .invalidRequest("header name is not an HTTP token") }
            guard !value.utf8.contains(where: { $0 == 0x0d || $0 == 0x0a || $0 == 0 }) else {
                throw .invalidRequest("header \(name) contains CR, LF or NUL")
            }
            if name.lowercased() == "expect" { hasExpect = true }
            // "Name;" is libcurl's syntax for a header with an empty value ("Name:" would remove it).
            lines.append(value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        if request.body != nil, !hasExpect { lines.append("Expect:") }  // no 100-continue round trip
        let timeoutMs = try milliseconds(request.timeout, "timeout")
        let connectMs = try milliseconds(request.connectTimeout, "connectTimeout")
        let stallMs = try milliseconds(request.stallTimeout, "stallTimeout")
        guard request.maxResponseBytes >= 0 else { throw .invalidRequest("maxResponseBytes must not be negative") }
        guard request.maxHeaderBytes > 0 else { throw .invalidRequest("maxHeaderBytes must be positive") }
        guard (0...50).contains(request.maxRedirects) else { throw .invalidRequest("maxRedirects must be in 0...50") }
        guard request.lowSpeedBytesPerSecond >= 1 else {
            throw .invalidRequest("lowSpeedBytesPerSecond must be at least 1")
        }
        for entry in request.resolve {
            // host:port:address, no whitespace or control characters (libcurl parses it loosely).
            guard entry.split(separator: ":", maxSplits: 2).count == 3,
                !entry.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7f })
            else { throw .invalidRequest("resolve entries must be host:port:address") }
        }
        return Plan(
            headerLines: lines, timeoutMs: timeoutMs, connectTimeoutMs: connectMs,
            stallSeconds: max(1, (stallMs + 999) / 1000))
    }

    /// A positive duration of at most one day, in whole milliseconds (rounded up).
    private func milliseconds(_ duration: Duration, _ name: String) throws(HTTPFetchError) -> Int {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0, duration > .zero, seconds <= 86_400 else {
            throw .invalidRequest("\(name) must be positive and at most one day")
        }
        let ms = Int(seconds) * 1000 + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
        return max(ms, 1)
    }

    private func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 256
            && s.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
                    || "!#$%&'*+-.^_`|~".utf8.contains(c)
            }
    }
}
