import Testing
import Wire

/// The consensus-manager → sandbox-executor messages: golden bytes (written by an independent
/// encoder from DESIGN §3, see `Fixtures/Sandbox*.hex`) and the caps enforced on decode.
@Suite struct SandboxMessagesTests {
    let jobID = (0..<32).map { UInt8($0) }

    var request: SandboxExecuteRequest {
        SandboxExecuteRequest(
            jobID: jobID, kind: .container,
            image: "127.0.0.1:5000/jobs/median@sha256:" + String(repeating: "ab", count: 32),
            arguments: ["/job/median.sh", "--field=price"], environment: ["MODE=median"],
            sources: ["http://127.0.0.1:8080/a.json", "https://example.org/b.json"],
            limits: SandboxJobLimits(
                timeoutMs: 5000, memoryBytes: 64 << 20, pids: 32, cpuMillicores: 500, outputBytes: 65536))
    }

    func check<M: WireMessage>(_ name: String, _ expected: M) throws {
        let bytes = try fixture(name)
        #expect(try M.decode(bytes) == expected)
        #expect(expected.encoded() == bytes)
        #expect(throws: WireError.self) { try M.decode(Array(bytes.dropLast())) }
        #expect(throws: WireError.trailingBytes(count: 1)) { try M.decode(bytes + [0]) }
    }

    @Test func executeRequestGolden() throws { try check("SandboxExecuteRequest", request) }

    @Test func executeResponseGolden() throws {
        try check(
            "SandboxExecuteResponse",
            SandboxExecuteResponse(
                jobID: jobID, failure: SandboxFailure(kind: 6, message: "timeout: killed after 5000 ms"),
                exitStatus: -119, output: Array("partial\n".utf8), resultHash: [UInt8](repeating: 0x5a, count: 32),
                imageDigest: "sha256:" + String(repeating: "cd", count: 32),
                inputs: [
                    SandboxInputDigest(url: "http://127.0.0.1:8080/a.json", sha256: [UInt8](repeating: 0x11, count: 32))
                ],
                usage: SandboxUsage(wallMs: 5003, cpuMs: 4990, peakMemoryBytes: 1 << 20)))
    }

    @Test func cancelRoundTrips() throws {
        let cancel = SandboxCancelRequest(jobID: jobID)
        #expect(try SandboxCancelRequest.decode(cancel.encoded()) == cancel)
        #expect(try SandboxCancelResponse.decode(SandboxCancelResponse(found: true).encoded()).found)
    }

    @Test func decodingRefusesWhatBreaksTheCaps() throws {
        var tooManyArguments = request
        tooManyArguments.arguments = Array(repeating: "x", count: SandboxWireLimits.maxArguments + 1)
        #expect(throws: WireError.self) { try SandboxExecuteRequest.decode(tooManyArguments.encoded()) }
        var longImage = request
        longImage.image = String(repeating: "a", count: SandboxWireLimits.maxImageReferenceBytes + 1)
        #expect(throws: WireError.self) { try SandboxExecuteRequest.decode(longImage.encoded()) }
        var empty = request
        empty.image = ""
        #expect(throws: WireError.self) { try SandboxExecuteRequest.decode(empty.encoded()) }
        var badKind = request.encoded()
        badKind[32] = 9
        #expect(throws: WireError.self) { try SandboxExecuteRequest.decode(badKind) }
    }

    @Test func aFailureMessageIsCutOnACharacterBoundary() {
        let failure = SandboxFailure(kind: 3, message: String(repeating: "é", count: 2000))
        #expect(failure.message.utf8.count <= SandboxWireLimits.maxMessageBytes)
        #expect(failure.message.allSatisfy { $0 == "é" })
    }
}
