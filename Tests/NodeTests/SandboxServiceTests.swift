import Foundation
import NIOPosix
import NodeKit
import RPC
import SandboxExecutor
import ServiceKit
import Testing
import Wire

/// The sandbox-executor's RPC as the consensus-manager calls it: `sandbox.execute` over a real
/// local connection answers a refused request with its failure kind (a bare tag), a malformed one
/// with `invalidArgument`, and `sandbox.cancel` of an unknown job with `found: false`. Needs root
/// and runc, like the service.
@Suite(.serialized) struct SandboxServiceTests {
    static func canRun() -> Bool { getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc") }

    @Test(.enabled(if: canRun())) func executeAndCancelOverRPC() async throws {
        let (dir, homes) = try await ServiceShellTests.testnet()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let context = try ServiceContext.load(kind: .sandboxExecutor, home: homes[0])
        let server = RPCServer(group: MultiThreadedEventLoopGroup.singleton)
        SandboxExecutorService.registerHandlers(on: server, context: context, stores: [:])
        let port = try await server.start()
        let client = try await RPCClient.connect(
            host: "127.0.0.1", port: port, group: MultiThreadedEventLoopGroup.singleton)
        let jobID = [UInt8](repeating: 7, count: 32)

        let response: SandboxExecuteResponse = try await client.call(
            method: MethodID.sandboxExecute,
            request: SandboxExecuteRequest(jobID: jobID, kind: .container, image: "127.0.0.1:5000/jobs/median:latest"))
        #expect(response.jobID == jobID)
        #expect(response.failure?.kind == 2)  // refused: a bare tag
        #expect(response.resultHash.isEmpty)

        let cancel: SandboxCancelResponse = try await client.call(
            method: MethodID.sandboxCancel, request: SandboxCancelRequest(jobID: jobID))
        #expect(!cancel.found)

        // Bytes that are no request at all.
        do {
            _ = try await client.call(method: MethodID.sandboxExecute, request: [1, 2, 3])
            Issue.record("a malformed request was answered")
        } catch { #expect(error.code == .invalidArgument) }

        await client.close()
        await server.shutdown(gracePeriod: .milliseconds(100))
        // The executor made a cgroup parent of its own; nothing may stay.
        await SandboxExecutorService.shutdownExecutor()
        try? FileManager.default.removeItem(atPath: homes[0].dataDir + "/sandbox")
    }
}
