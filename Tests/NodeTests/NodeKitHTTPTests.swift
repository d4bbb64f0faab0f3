import LevelDB
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import Testing

@testable import NodeKit

@Suite("NodeKit HTTP endpoints")
struct NodeKitHTTPTests {
    /// Runs `server` in a ServiceGroup, calls `body` with its port, then shuts it down gracefully
    /// and checks that `run()` returned.
    func withServer(
        _ server: HealthHTTPServer, _ body: (Int) async throws -> Void
    ) async throws {
        let group = NodeRuntime.makeServiceGroup(services: [server], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let port = try await server.waitUntilListening()
            #expect(port > 0)
            #expect(server.boundPort == port)
            do {
                try await body(port)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(server.boundPort == nil, "stopped after graceful shutdown")
    }

    @Test func endpointsOverARealSocket() async throws {
        let registry = NodeMetrics.bootstrap()
        #expect(NodeMetrics.bootstrap() === registry, "a second bootstrap returns the same registry")
        Counter(label: "nodekit_test_requests_total").increment(by: 3)

        let healthy = Mutex(true)
        let config = HealthHTTPServer.Configuration(
            listen: try HostPort(parsing: "127.0.0.1:0"),
            readinessChecks: [
                ReadinessCheck(name: "database") { .ready("open") },
                ReadinessCheck(name: "peers") {
                    healthy.withLock { $0 } ? .ready("3 connected") : .notReady("0 of 3 connected")
                },
            ],
            status: { ["height": 42, "moniker": "node0", "epoch": .uint(7), "signer": .null] })
        let server = HealthHTTPServer(configuration: config, logger: Logger(label: "http"))

        try await withServer(server) { port in
            let health = try await nodeKitHTTPRequest(port: port, path: "/healthz")
            #expect(health.status == 200)
            #expect(health.body == "{\"status\":\"ok\"}\n")
            #expect(health.headers["content-type"] == "application/json")

            let ready = try await nodeKitHTTPRequest(port: port, path: "/readyz")
            #expect(ready.status == 200)
            let readyJSON = try JSONValue(parsing: ready.body)
            #expect(readyJSON["status"] == "ok")
            #expect(readyJSON["checks"]?[0]?["name"] == "database")
            #expect(readyJSON["checks"]?[1]?["detail"] == "3 connected")

            healthy.withLock { $0 = false }
            let notReady = try await nodeKitHTTPRequest(port: port, path: "/readyz")
            #expect(notReady.status == 503)
            let notReadyJSON = try JSONValue(parsing: notReady.body)
            #expect(notReadyJSON["status"] == "unavailable")
            #expect(notReadyJSON["checks"]?[0]?["ok"] == true)
            #expect(notReadyJSON["checks"]?[1]?["ok"] == false)
            #expect(notReadyJSON["checks"]?[1]?["detail"] == "0 of 3 connected")

            let metrics = try await nodeKitHTTPRequest(port: port, path: "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.headers["content-type"] == "text/plain; version=0.0.4")
            #expect(metrics.body.contains("nodekit_test_requests_total 3"))

            let status = try await nodeKitHTTPRequest(port: port, path: "/status?verbose=1")
            #expect(status.status == 200)
            #expect(status.body == "{\"epoch\":7,\"height\":42,\"moniker\":\"node0\",\"signer\":null}\n")

            let missing = try await nodeKitHTTPRequest(port: port, path: "/nope")
            #expect(missing.status == 404)
            let post = try await nodeKitHTTPRequest(port: port, method: "POST", path: "/healthz", body: "x")
            #expect(post.status == 405)
            #expect(post.headers["allow"] == "GET")
            let big = try await nodeKitHTTPRequest(
                port: port, method: "GET", path: "/healthz", body: String(repeating: "x", count: 10_000))
            #expect(big.status == 413)

            // Keep-alive: two requests on one connection.
            let replies = try await nodeKitHTTPKeepAlive(port: port, paths: ["/healthz", "/status"])
            #expect(replies.map(\.status) == [200, 200])
        }
    }

    @Test func hungCheckTimesOut() async throws {
        let config = HealthHTTPServer.Configuration(
            listen: try HostPort(parsing: "127.0.0.1:0"),
            readinessChecks: [
                ReadinessCheck(name: "stuck") {
                    // Ignores cancellation on purpose.
                    try? await Task.sleep(for: .seconds(3600))
                    return .ready()
                },
                ReadinessCheck(name: "fine") { .ready() },
            ],
            checkTimeout: .milliseconds(200),
            status: {
                try? await Task.sleep(for: .seconds(3600))
                return [:]
            })
        let server = HealthHTTPServer(configuration: config, logger: Logger(label: "http"))
        try await withServer(server) { port in
            let clock = ContinuousClock()
            let start = clock.now
            let reply = try await nodeKitHTTPRequest(port: port, path: "/readyz")
            #expect(clock.now - start < .seconds(5))
            #expect(reply.status == 503)
            let json = try JSONValue(parsing: reply.body)
            #expect(json["checks"]?[0]?["ok"] == false)
            #expect(json["checks"]?[0]?["detail"]?.stringValue?.contains("no answer within") == true)
            #expect(json["checks"]?[1]?["ok"] == true)
            let status = try await nodeKitHTTPRequest(port: port, path: "/status")
            #expect(status.status == 503)
        }
    }

    @Test func bindFailureIsReported() async throws {
        let first = HealthHTTPServer(
            configuration: .init(listen: try HostPort(parsing: "127.0.0.1:0")), logger: Logger(label: "http"))
        try await withServer(first) { port in
            let second = HealthHTTPServer(
                configuration: .init(listen: try HostPort(parsing: "127.0.0.1:\(port)")), logger: Logger(label: "http"))
            await #expect { try await second.run() } throws: { error in
                "\(error)".contains("cannot listen for HTTP on 127.0.0.1:\(port)")
            }
            await #expect(throws: (any Error).self) { try await second.waitUntilListening() }
        }
    }

    @Test func levelDBReadinessCheck() async throws {
        let dir = try nodeKitTempDir()
        defer { nodeKitRemoveTree(dir) }
        let store = try LevelDBStore(path: dir + "/db")
        let server = HealthHTTPServer(
            configuration: .init(listen: try HostPort(parsing: "127.0.0.1:0")), logger: Logger(label: "http"))
        server.addReadinessCheck(.levelDB(name: "consensus-db", store: store))
        let open = await server.respond(method: .GET, uri: "/readyz")
        #expect(open.status == .ok)
        store.close()
        let closed = await server.respond(method: .GET, uri: "/readyz")
        #expect(closed.status == .serviceUnavailable)
        let json = try JSONValue(parsing: closed.body)
        #expect(json["checks"]?[0]?["name"] == "consensus-db")
        #expect(json["checks"]?[0]?["detail"]?.stringValue?.hasSuffix("is closed") == true)
    }

    @Test func readinessRunnerKeepsOrderAndRunsConcurrently() async {
        // A barrier, not a stopwatch: every check waits until all five have started. Run one after
        // another, the first would wait in vain and report "not concurrent".
        let started = Atomic<Int>(0)
        let checks = (0..<5).map { i in
            ReadinessCheck(name: "c\(i)") {
                started.add(1, ordering: .relaxed)
                var waited = 0
                while started.load(ordering: .relaxed) < 5 {
                    if waited >= 3000 { return .notReady("not concurrent") }
                    try? await Task.sleep(for: .milliseconds(10))
                    waited += 10
                }
                return i % 2 == 0 ? .ready() : .notReady("odd")
            }
        }
        let reports = await ReadinessCheck.runAll(checks, timeout: .seconds(10))
        #expect(reports.map(\.name) == ["c0", "c1", "c2", "c3", "c4"])
        #expect(reports.map(\.result.ok) == [true, false, true, false, true])
        #expect(reports.map(\.result.detail).allSatisfy { $0 != "not concurrent" }, "checks run concurrently")
    }
}
