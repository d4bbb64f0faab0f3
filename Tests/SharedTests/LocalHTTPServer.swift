import Foundation

/// A real HTTP server on 127.0.0.1 (Python's http.server on an ephemeral port) for the HTTPFetch
/// tests. It exits when stopped, and also on its own when this process goes away (it watches its
/// standard input, which only we hold open).
final class LocalHTTPServer: @unchecked Sendable {
    static let script = #"""
        import http.server, os, sys, threading, time, urllib.parse

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code, body=b"", headers=(), length=True):
                self.send_response(code)
                for name, value in headers:
                    self.send_header(name, value)
                if length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def handle_any(self):
                path = self.path
                size = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(size) if size else b""
                if path == "/hello":
                    self.reply(200, b"hello world", [("X-Test", "yes")])
                elif path.startswith("/bytes/"):
                    self.reply(200, b"x" * int(path[len("/bytes/"):]))
                elif path.startswith("/stream/"):
                    self.reply(200, b"y" * int(path[len("/stream/"):]), length=False)
                elif path == "/slow":
                    time.sleep(5)
                    self.reply(200, b"late")
                elif path.startswith("/redirect/"):
                    left = int(path[len("/redirect/"):])
                    if left == 0:
                        self.reply(200, b"done")
                    else:
                        self.reply(302, b"", [("Location", "/redirect/%d" % (left - 1))])
                elif path.startswith("/redirect-to/"):
                    self.reply(302, b"", [("Location", urllib.parse.unquote(path[len("/redirect-to/"):]))])
                elif path == "/echo":
                    echo = (self.headers.get("X-Echo") or "").encode()
                    self.reply(200, self.command.encode() + b"\n" + echo + b"\n" + data)
                elif path.startswith("/status/"):
                    self.reply(int(path[len("/status/"):]), b"status body")
                elif path == "/bigheaders":
                    self.reply(200, b"ok", [("X-Big-%d" % i, "v" * 100) for i in range(100)])
                else:
                    self.reply(404, b"not found")

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(server.server_address[1], flush=True)
        sys.stdin.read()
        os._exit(0)
        """#

    struct StartFailed: Error, CustomStringConvertible {
        var description: String
    }

    private let process = Process()
    private let input = Pipe()
    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)" }

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
            throw StartFailed(description: "python3 http.server did not report a port")
        }
        self.port = port
    }

    func stop() {
        if process.isRunning {
            process.terminate()
        }
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

/// Runs `body` with a fresh server and always stops it afterwards.
func withHTTPServer<R>(_ body: (LocalHTTPServer) async throws -> R) async throws -> R {
    let server = try LocalHTTPServer()
    defer { server.stop() }
    return try await body(server)
}
