import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import NodeKit

@Suite("NodeKit runtime, logging, JSON")
struct NodeKitRuntimeTests {
    // MARK: Backoff

    @Test func backoffStaysWithinBoundsAndGrows() {
        var rng = NodeKitSeededRandom(seed: 1)
        var backoff = Backoff(min: .milliseconds(100), max: .seconds(5))
        var previousCeiling = Duration.zero
        for attempt in 0..<40 {
            let ceiling = backoff.ceiling(forAttempt: attempt)
            #expect(ceiling >= previousCeiling)
            previousCeiling = ceiling
            let delay = backoff.next(using: &rng)
            #expect(delay >= .milliseconds(100) && delay <= .seconds(5), "attempt \(attempt): \(delay)")
            #expect(delay <= ceiling && delay >= ceiling / 2 || delay == .milliseconds(100))
        }
        #expect(backoff.ceiling(forAttempt: 0) == .milliseconds(100))
        #expect(backoff.ceiling(forAttempt: 3) == .milliseconds(800))
        #expect(backoff.ceiling(forAttempt: 1000) == .seconds(5))
        #expect(backoff.attempt == 40)
        backoff.reset()
        #expect(backoff.attempt == 0)
        #expect(backoff.next(using: &rng) == .milliseconds(100), "the first delay is the minimum")
    }

    @Test func backoffIsDeterministicForASeedAndJittered() {
        func schedule(_ seed: UInt64) -> [Duration] {
            var rng = NodeKitSeededRandom(seed: seed)
            var backoff = Backoff(min: .milliseconds(10), max: .seconds(60))
            return (0..<12).map { _ in backoff.next(using: &rng) }
        }
        #expect(schedule(7) == schedule(7))
        #expect(schedule(7) != schedule(8))
    }

    @Test func backoffWithEqualBounds() {
        var rng = NodeKitSeededRandom(seed: 3)
        var backoff = Backoff(min: .seconds(1), max: .seconds(1))
        for _ in 0..<5 { #expect(backoff.next(using: &rng) == .seconds(1)) }
    }

    @Test func configBackoff() {
        let backoff = NodeConfig.defaults.consensus.dialBackoff
        #expect(backoff.min == .milliseconds(500))
        #expect(backoff.max == .seconds(30))
    }

    // MARK: PeriodicTask and NodeRuntime

    @Test func periodicTaskRunsUntilGracefulShutdown() async throws {
        let count = Mutex(0)
        let task = PeriodicTask(name: "tick", interval: .milliseconds(10), logger: Logger(label: "t")) {
            let n = count.withLock { c in
                c += 1
                return c
            }
            if n == 2 { throw TestFailure() }
        }
        let group = NodeRuntime.makeServiceGroup(services: [task], logger: Logger(label: "t"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while count.withLock({ $0 }) < 5 { try await Task.sleep(for: .milliseconds(5)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let final = count.withLock { $0 }
        try await Task.sleep(for: .milliseconds(50))
        #expect(count.withLock { $0 } == final, "no runs after shutdown")
        #expect(final >= 5, "an error in one run does not stop the loop")
    }

    struct TestFailure: Error {}

    @Test func serviceEndingStopsTheGroup() async throws {
        // One service returning ends the whole group (gracefully), rather than running half a node.
        let other = PeriodicTask(name: "forever", interval: .seconds(3600), logger: Logger(label: "t")) {}
        let group = NodeRuntime.makeServiceGroup(services: [other, ReturningService()], logger: Logger(label: "t"))
        try await group.run()
    }

    struct ReturningService: Service {
        func run() async throws {}
    }

    // MARK: Logging

    final class Captured: Sendable {
        let lines = Mutex([String]())
        var sink: LogSink {
            LogSink { bytes in self.lines.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) } }
        }
        var all: [String] { lines.withLock { $0 } }
    }

    @Test func jsonLogLines() throws {
        let captured = Captured()
        let sink = captured.sink
        var logger = Logger(label: "consensus.p2p") { label in
            NodeLogHandler(label: label, service: "consensus-manager", format: .json, level: .info, sink: sink)
        }
        logger[metadataKey: "peer"] = "0xabc"
        logger.debug("hidden")
        logger.info(
            "peer connected\nsecond line",
            metadata: [
                "attempt": "3", "priv_key": "deadbeef", "nested": ["a": "1"], "list": ["x", "y"], "msg": "clash",
            ])
        let lines = captured.all
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.hasSuffix("}\n"))
        #expect(line.filter { $0 == "\n" }.count == 1, "one event, one line")
        #expect(line.hasPrefix("{\"ts\":\""))
        #expect(
            line.contains(
                ",\"level\":\"info\",\"service\":\"consensus-manager\",\"msg\":\"peer connected\\nsecond line\",\"logger\":\"consensus.p2p\""
            ))
        #expect(!line.contains("deadbeef"))
        let json = try JSONValue(parsing: String(line.dropLast()))
        #expect(json["priv_key"] == "<redacted>")
        #expect(json["peer"] == "0xabc")
        #expect(json["attempt"] == "3")
        #expect(json["nested"]?["a"] == "1")
        #expect(json["list"]?[1] == "y")
        #expect(json["meta.msg"] == "clash")
        #expect(json["msg"] == "peer connected\nsecond line")
        let ts = try #require(json["ts"]?.stringValue)
        #expect(Timestamp(rfc3339: ts) != nil)
    }

    @Test func textLogLines() throws {
        let captured = Captured()
        let sink = captured.sink
        let logger = Logger(label: "x") { label in
            NodeLogHandler(label: label, service: "tss-signer", format: .text, level: .trace, sink: sink)
        }
        logger.warning("keygen slow", metadata: ["session": "s1", "note": "has space", "passphrase": "hunter2"])
        let line = try #require(captured.all.first)
        #expect(
            line.contains(" warning  tss-signer: keygen slow note=\"has space\" passphrase=<redacted> session=s1\n"))
        #expect(!line.contains("hunter2"))
    }

    @Test func concurrentLoggingKeepsLinesWhole() async throws {
        let captured = Captured()
        let sink = captured.sink
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    let logger = Logger(label: "c") { label in
                        NodeLogHandler(label: label, service: "s", format: .json, level: .info, sink: sink)
                    }
                    for i in 0..<50 { logger.info("m", metadata: ["t": "\(t)", "i": "\(i)"]) }
                }
            }
        }
        let lines = captured.all
        #expect(lines.count == 400)
        for line in lines { #expect((try? JSONValue(parsing: line)) != nil) }
    }

    @Test func bootstrapIsOncePerProcess() {
        // Whatever ran first, a later bootstrap must not crash and reports that it did nothing.
        NodeLogging.bootstrap(service: "test", level: .critical, format: .json, sink: LogSink { _ in })
        #expect(NodeLogging.bootstrap(service: "test", level: .critical, format: .json) == false)
    }

    @Test func redactedNeverPrints() {
        let secret = Redacted("hunter2")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        #expect(!dumped.contains("hunter2"))
    }

    // MARK: JSONValue

    @Test func jsonSerializationIsSortedAndEscaped() throws {
        let value: JSONValue = ["b": [1, 2.5, true, nil], "a": "x\"y\\z\n\u{01}é", "c": [:], "d": []]
        #expect(value.serialized() == #"{"a":"x\"y\\z\n\u0001é","b":[1,2.5,true,null],"c":{},"d":[]}"#)
        #expect(try JSONValue(parsing: value.serialized()) == value)
        #expect(
            value.serialized(pretty: true) == """
                {
                  "a": "x\\"y\\\\z\\n\\u0001é",
                  "b": [
                    1,
                    2.5,
                    true,
                    null
                  ],
                  "c": {},
                  "d": []
                }
                """)
        #expect(JSONValue.double(.infinity).serialized() == "null")
        #expect(JSONValue.uint(UInt64.max) == .number("18446744073709551615"))
    }

    @Test func jsonParserIsStrict() throws {
        for bad in [
            "", "{", "[1,]", "{\"a\":1,}", "01", "1.", "\"\\x\"", "{\"a\":1,\"a\":2}", "tru", "[1] x",
            "\"\u{01}\"", "\"\\ud800\"", String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
        ] {
            #expect(throws: JSONValue.ParseError.self, "\(bad)") { try JSONValue(parsing: bad) }
        }
        let parsed = try JSONValue(parsing: " {\"k\" : [ -0.5e2 , \"\\u00e9\\ud83d\\ude00\" ] } ")
        #expect(parsed == ["k": [.number("-0.5e2"), "é😀"]])
        #expect(parsed["k"]?[0]?.doubleValue == -50)
        #expect(try JSONValue(parsing: "9223372036854775807") == .int(Int64.max))
        // Numbers keep their text: nothing above 2^63 is rounded.
        #expect(try JSONValue(parsing: "9223372036854775808") == .number("9223372036854775808"))
        #expect(try JSONValue(parsing: "9223372036854775808").uint64Value == 9_223_372_036_854_775_808)
    }
}
