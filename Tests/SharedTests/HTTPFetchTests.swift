import Foundation
import HTTPFetch
import Testing

@Suite("HTTPFetch")
struct HTTPFetchTests {
    let client = HTTPFetchClient()

    /// The blocking overload (inside `async` code Swift picks the `async` one).
    func blocking(_ request: HTTPRequest) throws(HTTPFetchError) -> HTTPResponse {
        try client.perform(request)
    }

    @Test func okWithBodyAndHeaders() async throws {
        try await withHTTPServer { server in
            let response = try blocking(HTTPRequest(url: server.baseURL + "/hello"))
            #expect(response.status == 200)
            #expect(response.body == bytes("hello world"))
            #expect(response.header("x-test") == "yes")
            #expect(response.header("Content-Length") == "11")
            #expect(response.effectiveURL == server.baseURL + "/hello")
            let viaAsync = try await client.perform(HTTPRequest(url: server.baseURL + "/hello"))
            #expect(viaAsync.body == bytes("hello world"))
            let missing = try await client.perform(HTTPRequest(url: server.baseURL + "/nope"))
            #expect(missing.status == 404)
            let teapot = try await client.perform(HTTPRequest(url: server.baseURL + "/status/418"))
            #expect(teapot.status == 418 && teapot.body == bytes("status body"))
        }
    }

    @Test func methodsBodiesAndHeaders() async throws {
        try await withHTTPServer { server in
            let post = try await client.perform(
                HTTPRequest(
                    url: server.baseURL + "/echo", method: "POST", headers: [("X-Echo", "hi there")],
                    body: [0, 1, 2, 255]))
            #expect(post.body == bytes("POST\nhi there\n") + [0, 1, 2, 255])
            let put = try await client.perform(
                HTTPRequest(url: server.baseURL + "/echo", method: "PUT", body: bytes("x")))
            #expect(put.body == bytes("PUT\n\nx"))
            let emptyPost = try await client.perform(HTTPRequest(url: server.baseURL + "/echo", method: "POST"))
            #expect(emptyPost.body == bytes("POST\n\n"))
            let head = try await client.perform(HTTPRequest(url: server.baseURL + "/hello", method: "HEAD"))
            #expect(head.status == 200 && head.body.isEmpty)
            let delete = try await client.perform(HTTPRequest(url: server.baseURL + "/echo", method: "DELETE"))
            #expect(delete.body == bytes("DELETE\n\n"))
        }
    }

    @Test func responseSizeIsCapped() async throws {
        try await withHTTPServer { server in
            // Content-Length above the limit: refused before the body is read.
            #expect(throws: HTTPFetchError.responseTooLarge(1000)) {
                try client.perform(HTTPRequest(url: server.baseURL + "/bytes/2000", maxResponseBytes: 1000))
            }
            // No Content-Length: the write callback stops the transfer at the limit.
            #expect(throws: HTTPFetchError.responseTooLarge(1000)) {
                try client.perform(HTTPRequest(url: server.baseURL + "/stream/50000", maxResponseBytes: 1000))
            }
            let exact = try blocking(HTTPRequest(url: server.baseURL + "/bytes/1000", maxResponseBytes: 1000))
            #expect(exact.body.count == 1000)
            let streamed = try blocking(HTTPRequest(url: server.baseURL + "/stream/1000", maxResponseBytes: 1000))
            #expect(streamed.body.count == 1000)
            #expect(throws: HTTPFetchError.headersTooLarge(1024)) {
                try client.perform(HTTPRequest(url: server.baseURL + "/bigheaders", maxHeaderBytes: 1024))
            }
        }
    }

    @Test func slowEndpointTimesOut() async throws {
        try await withHTTPServer { server in
            let start = ContinuousClock.now
            #expect(throws: HTTPFetchError.timeout) {
                try client.perform(HTTPRequest(url: server.baseURL + "/slow", timeout: .milliseconds(500)))
            }
            #expect(ContinuousClock.now - start < .seconds(3))
            // The stall (low-speed) limit also ends a transfer that receives nothing. Timed around
            // the blocking call on this thread: an await could resume late on a busy machine.
            let stallStart = ContinuousClock.now
            #expect(throws: HTTPFetchError.timeout) {
                try client.perform(
                    HTTPRequest(url: server.baseURL + "/slow", timeout: .seconds(30), stallTimeout: .seconds(1)))
            }
            #expect(ContinuousClock.now - stallStart < .seconds(10), "the stall limit, not the 30 s total, ended it")
        }
    }

    @Test func redirectsAreCapped() async throws {
        try await withHTTPServer { server in
            let followed = try blocking(HTTPRequest(url: server.baseURL + "/redirect/3", maxRedirects: 5))
            #expect(followed.status == 200 && followed.body == bytes("done"))
            #expect(followed.effectiveURL == server.baseURL + "/redirect/0")
            #expect(throws: HTTPFetchError.tooManyRedirects(2)) {
                try client.perform(HTTPRequest(url: server.baseURL + "/redirect/3", maxRedirects: 2))
            }
            let notFollowed = try blocking(HTTPRequest(url: server.baseURL + "/redirect/3", maxRedirects: 0))
            #expect(notFollowed.status == 302)
            #expect(notFollowed.header("Location") == "/redirect/2")
        }
    }

    @Test func disallowedSchemesAreRefused() async throws {
        #expect(throws: HTTPFetchError.schemeNotAllowed("file")) {
            try client.perform(HTTPRequest(url: "file:///etc/passwd"))
        }
        #expect(throws: HTTPFetchError.schemeNotAllowed("ftp")) {
            try client.perform(HTTPRequest(url: "ftp://127.0.0.1/x"))
        }
        #expect(throws: HTTPFetchError.schemeNotAllowed("gopher")) {
            try client.perform(HTTPRequest(url: "gopher://127.0.0.1/"))
        }
        #expect(throws: HTTPFetchError.schemeNotAllowed("http")) {
            try client.perform(HTTPRequest(url: "http://127.0.0.1:1/", allowedSchemes: ["https"]))
        }
        #expect(throws: HTTPFetchError.invalidRequest("allowedSchemes must be a non-empty subset of [http, https]")) {
            try client.perform(HTTPRequest(url: "ftp://127.0.0.1/", allowedSchemes: ["ftp"]))
        }
        try await withHTTPServer { server in
            // A redirect to another scheme is refused too (CURLOPT_REDIR_PROTOCOLS_STR).
            for target in ["file:///etc/passwd", "ftp://127.0.0.1/x"] {
                let url =
                    server.baseURL + "/redirect-to/" + target.addingPercentEncoding(
                        withAllowedCharacters: .alphanumerics)!
                #expect(throws: HTTPFetchError.schemeNotAllowed(String(target.prefix { $0 != ":" }))) {
                    try client.perform(HTTPRequest(url: url))
                }
            }
        }
    }

    @Test func invalidRequestsAreRejected() {
        for url in ["", "not a url", "http://", "http:// spaced/", "://x", "http://exa\u{0}mple/"] {
            #expect(throws: HTTPFetchError.self) { try client.perform(HTTPRequest(url: url)) }
        }
        let base = "http://127.0.0.1:1/"
        let cases: [HTTPRequest] = [
            HTTPRequest(url: base, method: "GE T"),
            HTTPRequest(url: base, method: ""),
            HTTPRequest(url: base, headers: [("X-Injected", "a\r\nHost: evil")]),
            HTTPRequest(url: base, headers: [("Bad Name", "v")]),
            HTTPRequest(url: base, method: "HEAD", body: [1]),
            HTTPRequest(url: base, timeout: .zero),
            HTTPRequest(url: base, connectTimeout: .seconds(-1)),
            HTTPRequest(url: base, maxResponseBytes: -1),
            HTTPRequest(url: base, maxHeaderBytes: 0),
            HTTPRequest(url: base, maxRedirects: -1),
            HTTPRequest(url: base, maxRedirects: 51),
            HTTPRequest(url: base, allowedSchemes: []),
        ]
        for request in cases {
            do {
                _ = try client.perform(request)
                Issue.record("accepted an invalid request")
            } catch {
                guard case .invalidRequest = error else {
                    Issue.record("expected invalidRequest, got \(error)"); continue
                }
            }
        }
    }

    @Test func connectionRefused() async throws {
        let server = try LocalHTTPServer()
        let url = server.baseURL + "/hello"
        server.stop()
        do {
            _ = try blocking(HTTPRequest(url: url, connectTimeout: .seconds(2)))
            Issue.record("connected to a stopped server")
        } catch {
            guard case .connectionFailed(let message) = error else { Issue.record("got \(error)"); return }
            #expect(!message.contains("/hello"))
        }
    }

    @Test func cancellationAbortsTheTransfer() async throws {
        try await withHTTPServer { server in
            let client = self.client
            let url = server.baseURL + "/slow"
            let start = ContinuousClock.now
            let task = Task { () async throws(HTTPFetchError) -> HTTPResponse in
                try await client.perform(HTTPRequest(url: url, timeout: .seconds(120)))
            }
            try await Task.sleep(for: .milliseconds(300))
            task.cancel()
            let result = await task.result
            // `.cancelled` (not `.timeout`) is the proof; the bound only has to be well below the
            // 120 s timeout, since awaits can resume late while CPU-heavy suites hold the pool.
            #expect(throws: HTTPFetchError.cancelled) { try result.get() }
            #expect(ContinuousClock.now - start < .seconds(60))
        }
    }

    @Test func manyConcurrentRequests() async throws {
        try await withHTTPServer { server in
            let client = self.client
            let url = server.baseURL + "/bytes/10000"
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<16 {
                    group.addTask { try await client.perform(HTTPRequest(url: url)).body.count }
                }
                for try await count in group { #expect(count == 10000) }
            }
        }
    }
}
