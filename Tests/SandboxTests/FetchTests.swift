import CryptoPrimitives
import Foundation
import SandboxCore
import SandboxRuntime
import Testing

/// A real HTTP server on 127.0.0.1 for the fetcher tests (Python's http.server on an ephemeral
/// port). It exits when stopped, and on its own when this process goes away (it watches its
/// standard input, which only we hold open).
final class FetchTestServer: @unchecked Sendable {
    static let script = #"""
        import http.server, os, sys, threading, time, urllib.parse

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, code, body=b"", headers=()):
                self.send_response(code)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = self.path
                if path.startswith("/price/"):
                    self.reply(200, b'{"price": %s}' % path[len("/price/"):].encode())
                elif path.startswith("/bytes/"):
                    self.reply(200, b"x" * int(path[len("/bytes/"):]))
                elif path == "/stream-big":
                    # No Content-Length: the cap must stop it while it streams.
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    try:
                        for _ in range(1000):
                            self.wfile.write(b"z" * 65536)
                    except OSError:
                        pass
                    self.close_connection = True
                elif path == "/slowloris":
                    # Headers at once, then a byte every 0.2 s: always above a 1 B/s low-speed
                    # limit, so only the total time cap can end it.
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    try:
                        for _ in range(100000):
                            self.wfile.write(b"s")
                            self.wfile.flush()
                            time.sleep(0.2)
                    except OSError:
                        pass
                    self.close_connection = True
                elif path == "/stall":
                    self.send_response(200)
                    self.send_header("Content-Length", "10")
                    self.end_headers()
                    self.wfile.flush()
                    time.sleep(30)
                elif path == "/loop":
                    self.reply(302, b"", [("Location", "/loop")])
                elif path.startswith("/hops/"):
                    left = int(path[len("/hops/"):])
                    if left == 0:
                        self.reply(200, b"arrived")
                    else:
                        self.reply(302, b"", [("Location", "/hops/%d" % (left - 1))])
                elif path.startswith("/redirect-to/"):
                    self.reply(307, b"", [("Location", urllib.parse.unquote(path[len("/redirect-to/"):]))])
                elif path == "/host":
                    self.reply(200, (self.headers.get("Host") or "").encode())
                elif path == "/missing":
                    self.reply(404, b"no")
                else:
                    self.reply(404, b"not found")

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(server.server_address[1], flush=True)
        sys.stdin.read()
        os._exit(0)
        """#

    struct StartFailed: Error {}

    private let process = Process()
    private let input = Pipe()
    let port: Int
    var base: String { "http://127.0.0.1:\(port)" }

    init() throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let text = String(data: line, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
            let port = Int(text)
        else {
            process.terminate()
            process.waitUntilExit()
            throw StartFailed()
        }
        self.port = port
    }

    func stop() {
        if process.isRunning { process.terminate() }
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

func withFetchServer<R>(_ body: (FetchTestServer) async throws -> R) async throws -> R {
    let server = try FetchTestServer()
    defer { server.stop() }
    return try await body(server)
}

/// A resolver with fixed answers, for names that must not (or cannot) go to DNS.
struct FixedResolver: HostResolver {
    var answers: [String: [IPAddress]]
    func resolve(_ host: String) async throws(SandboxError) -> [IPAddress] {
        guard let found = answers[host] else { throw SandboxError(.fetchFailed, "cannot resolve \(host)") }
        return found
    }
}

@Suite("Source fetching", .serialized)
struct FetchTests {
    func fetcher(
        _ server: FetchTestServer, limits: FetchLimits = FetchLimits(), extra: [String] = []
    )
        throws(SandboxError) -> SourceFetcher
    {
        SourceFetcher(policy: try URLPolicy(allowlist: ["127.0.0.1:\(server.port)"] + extra), limits: limits)
    }

    /// The SandboxError `body` threw (nil if none; any other error becomes `.internal`).
    func failure(_ body: () async throws -> Void) async -> SandboxError? {
        do {
            try await body()
            return nil
        } catch let error as SandboxError {
            return error
        } catch {
            return SandboxError(.internal, "unexpected error: \(error)")
        }
    }

    @Test func fetchesAndHashes() async throws {
        try await withFetchServer { server in
            let url = server.base + "/price/123.45"
            let source = try await fetcher(server).fetch(url)
            #expect(source.body == Array(#"{"price": 123.45}"#.utf8))
            #expect(source.input.url == url && source.status == 200)
            #expect(source.input.sha256 == SHA256.hash(source.body))
            // Many at once, results in order.
            let urls = (1...5).map { server.base + "/price/\($0)" }
            let all = try await fetcher(server).fetchAll(urls)
            #expect(all.map(\.input.url) == urls)
            #expect(all.map { String(decoding: $0.body, as: UTF8.self) } == (1...5).map { #"{"price": \#($0)}"# })
            let missing = await failure { _ = try await fetcher(server).fetch(server.base + "/missing") }
            #expect(missing?.kind == .fetchFailed && missing?.message.contains("404") == true)
        }
    }

    @Test func loopbackIsRefusedUnlessAllowlisted() async throws {
        try await withFetchServer { server in
            let plain = SourceFetcher(policy: URLPolicy())
            let refused = await failure { _ = try await plain.fetch(server.base + "/price/1") }
            #expect(refused?.kind == .refused)
            // Another port on the same address is not covered by a host:port entry.
            let otherPort = SourceFetcher(policy: try URLPolicy(allowlist: ["127.0.0.1:1"]))
            #expect(await failure { _ = try await otherPort.fetch(server.base + "/price/1") }?.kind == .refused)
            // "localhost" resolves to loopback: refused as well.
            let byName = await failure { _ = try await plain.fetch("http://localhost:\(server.port)/price/1") }
            #expect(byName?.kind == .refused)
            // A CIDR entry admits it.
            let cidr = SourceFetcher(policy: try URLPolicy(allowlist: ["127.0.0.0/8"]))
            #expect(try await cidr.fetch(server.base + "/price/7").body == Array(#"{"price": 7}"#.utf8))
        }
    }

    @Test func connectionIsPinnedToTheCheckedAddress() async throws {
        try await withFetchServer { server in
            // "pinned.invalid" exists in no DNS: the request can only succeed if libcurl connects to
            // the address our resolver returned and the policy checked (CURLOPT_RESOLVE).
            let resolver = FixedResolver(answers: ["pinned.invalid": [IPAddress(parsing: "127.0.0.1")!]])
            let allowed = SourceFetcher(
                policy: try URLPolicy(allowlist: ["127.0.0.1/32"]), resolver: resolver)
            let source = try await allowed.fetch("http://pinned.invalid:\(server.port)/host")
            #expect(String(decoding: source.body, as: UTF8.self) == "pinned.invalid:\(server.port)")
            // The same name resolving to a public and a private address (rebinding) is refused.
            let mixed = FixedResolver(answers: [
                "pinned.invalid": [IPAddress(parsing: "93.184.216.34")!, IPAddress(parsing: "127.0.0.1")!]
            ])
            let strict = SourceFetcher(policy: URLPolicy(), resolver: mixed)
            let refused = await failure { _ = try await strict.fetch("http://pinned.invalid:\(server.port)/host") }
            #expect(refused?.kind == .refused)
        }
    }

    @Test func sizeIsCapped() async throws {
        try await withFetchServer { server in
            let small = try fetcher(server, limits: FetchLimits(maxBytes: 1000))
            #expect(try await small.fetch(server.base + "/bytes/1000").body.count == 1000)
            let declared = await failure { _ = try await small.fetch(server.base + "/bytes/1001") }
            #expect(declared?.kind == .fetchFailed && declared?.message.contains("larger than 1000") == true)
            let streamed = await failure { _ = try await small.fetch(server.base + "/stream-big") }
            #expect(streamed?.kind == .fetchFailed && streamed?.message.contains("larger than 1000") == true)
        }
    }

    @Test func slowLorisHitsTheTimeCap() async throws {
        try await withFetchServer { server in
            // 5 bytes/s trickle beats a 1 B/s low-speed limit; only the total cap ends it.
            let limits = FetchLimits(
                timeout: .seconds(2), lowSpeedBytesPerSecond: 1, lowSpeedTime: .seconds(60))
            let error = await failure {
                _ = try await fetcher(server, limits: limits).fetch(server.base + "/slowloris")
            }
            #expect(error?.kind == .fetchFailed && error?.message.contains("timed out") == true)
            // A server that sends headers and then nothing hits the low-speed limit.
            let stall = FetchLimits(timeout: .seconds(20), lowSpeedBytesPerSecond: 1, lowSpeedTime: .seconds(1))
            let stalled = await failure { _ = try await fetcher(server, limits: stall).fetch(server.base + "/stall") }
            #expect(stalled?.kind == .fetchFailed && stalled?.message.contains("timed out") == true)
        }
    }

    @Test func redirectsAreCappedAndChecked() async throws {
        try await withFetchServer { server in
            let f = try fetcher(server, limits: FetchLimits(maxRedirects: 3))
            #expect(try await f.fetch(server.base + "/hops/3").body == Array("arrived".utf8))
            let tooMany = await failure { _ = try await f.fetch(server.base + "/hops/4") }
            #expect(tooMany?.kind == .fetchFailed && tooMany?.message.contains("redirects") == true)
            let loop = await failure { _ = try await f.fetch(server.base + "/loop") }
            #expect(loop?.kind == .fetchFailed && loop?.message.contains("redirects") == true)

            // A redirect to an address the policy refuses (another loopback port, the metadata
            // service, a private range) is refused before any connection is made.
            for target in [
                "http://127.0.0.1:1/x", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/",
                "http://[::1]:\(server.port)/price/1",
            ] {
                let encoded = target.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let error = await failure { _ = try await f.fetch(server.base + "/redirect-to/" + encoded) }
                #expect(error?.kind == .refused, "\(target): \(String(describing: error))")
            }
            // To a scheme other than http(s), or with userinfo: refused too.
            for target in ["file:///etc/passwd", "ftp://127.0.0.1/", "http://u:p@127.0.0.1:\(server.port)/"] {
                let encoded = target.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let error = await failure { _ = try await f.fetch(server.base + "/redirect-to/" + encoded) }
                #expect(error?.kind == .refused, "\(target)")
            }
            // "localhost" resolves to 127.0.0.1, which the 127.0.0.1:<port> entry admits (an IP
            // entry names the address dialled, whatever the name).
            let local = "http%3A%2F%2Flocalhost%3A\(server.port)%2Fprice%2F5"
            #expect(try await f.fetch(server.base + "/redirect-to/" + local).body == Array(#"{"price": 5}"#.utf8))
            // A relative redirect to an allowlisted place is followed ("../price/42").
            let relative = "..%2Fprice%2F42"
            #expect(try await f.fetch(server.base + "/redirect-to/" + relative).body == Array(#"{"price": 42}"#.utf8))
        }
    }

    @Test func malformedURLsAreRejectedBeforeAnyRequest() async {
        let f = SourceFetcher(policy: URLPolicy())
        #expect(await failure { _ = try await f.fetch("http://exa mple.com/") }?.kind == .invalidRequest)
        #expect(await failure { _ = try await f.fetch("ftp://example.com/") }?.kind == .refused)
        #expect(await failure { _ = try await f.fetch("http://2130706433/") }?.kind == .invalidRequest)
        #expect(await failure { _ = try await f.fetch("http://user:pw@example.com/") }?.kind == .refused)
    }
}
