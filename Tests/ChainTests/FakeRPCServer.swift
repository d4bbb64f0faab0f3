import Foundation
import HTTPFetch

/// A scripted HTTP server on 127.0.0.1 (Python's http.server) for the `EthereumRPC` unit tests
/// only: it answers with canned bodies (mostly recorded from the dev chain, see
/// Fixtures/rpc-responses.json) and misbehaves on request (HTTP errors, garbage, stalls, dropped
/// connections). Each test scripts its own URL path, so one server serves every test. It exits
/// with the test process (it watches its standard input).
final class FakeRPCServer: @unchecked Sendable {
    static let script = #"""
        import http.server, json, os, sys, threading, time

        lock = threading.Lock()
        rules = {}   # path -> [rule]; a rule: {"method", "action", "body", "status", "seconds", "times"}
        seen = {}    # path -> [method or "batch"]

        def take(path, method):
            with lock:
                for rule in rules.get(path, []):
                    if rule.get("method", "*") in (method, "*") and rule.get("times", 1) != 0:
                        if "times" in rule:
                            rule["times"] -= 1
                        return rule
            return None

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                with lock:
                    self.send(200, json.dumps(seen.get(self.path, [])).encode())

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/_script":
                    with lock:
                        rules.update(json.loads(body))
                    return self.send(200, b"{}")
                request = json.loads(body)
                method = "batch" if isinstance(request, list) else request["method"]
                with lock:
                    seen.setdefault(self.path, []).append(method)
                rule = take(self.path, method)
                if rule is None:
                    return self.send(500, b"no rule")
                action = rule.get("action", "reply")
                if action == "sleep":
                    time.sleep(rule["seconds"])
                    action = "reply" if "body" in rule else "raw"
                if action == "close":
                    self.close_connection = True
                    return
                if action == "status":
                    return self.send(rule["status"], rule.get("body", "").encode())
                if action == "raw":
                    return self.send(200, rule.get("body", "").encode())
                if action == "big":
                    return self.send(200, b" " * rule["size"])
                reply = json.loads(rule["body"])
                if isinstance(reply, list):   # a recorded batch: re-stamp ids by position
                    for item, req in zip(reply, request):
                        item["id"] = req["id"]
                elif "id" in reply and rule.get("keep_id") is None:
                    reply["id"] = request["id"]
                self.send(200, json.dumps(reply).encode())

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
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The one server of this test process (started on first use).
    static let shared: FakeRPCServer = try! FakeRPCServer()

    private init() throws {
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
            throw StartFailed()
        }
        self.port = port
    }

    /// One scripted answer.
    struct Rule {
        var method = "*"
        var action = "reply"
        var body: String? = nil
        var status: Int? = nil
        var seconds: Double? = nil
        var size: Int? = nil
        /// How often the rule applies (nil: always).
        var times: Int? = nil

        var json: [String: Any] {
            var o: [String: Any] = ["method": method, "action": action]
            if let body { o["body"] = body }
            if let status { o["status"] = status }
            if let seconds { o["seconds"] = seconds }
            if let size { o["size"] = size }
            if let times { o["times"] = times }
            return o
        }
    }

    /// A fresh endpoint URL answering with `rules` (first matching rule wins).
    func endpoint(_ rules: [Rule]) throws -> String {
        let path = "/" + UUID().uuidString
        let body = try JSONSerialization.data(withJSONObject: [path: rules.map(\.json)])
        _ = try HTTPFetchClient().perform(HTTPRequest(url: baseURL + "/_script", method: "POST", body: Array(body)))
        return baseURL + path
    }

    /// The methods the endpoint received, in order ("batch" for batches).
    func received(_ url: String) throws -> [String] {
        let response = try HTTPFetchClient().perform(HTTPRequest(url: url))
        return (try JSONSerialization.jsonObject(with: Data(response.body)) as? [String]) ?? []
    }
}
