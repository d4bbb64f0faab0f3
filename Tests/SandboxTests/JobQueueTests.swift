import SandboxCore
import Testing

@Suite struct JobQueueTests {
    func id(_ n: UInt8) -> [UInt8] { [UInt8](repeating: n, count: 32) }

    @Test func admitsUpToTheLimitThenQueuesThenRefuses() {
        var queue = JobQueue<String>(maxConcurrent: 2, maxQueued: 1)
        guard case .start = queue.submit(id: id(1), job: "a") else { Issue.record("first job should start"); return }
        guard case .start = queue.submit(id: id(2), job: "b") else { Issue.record("second job should start"); return }
        guard case .queued(let position) = queue.submit(id: id(3), job: "c") else {
            Issue.record("third job should wait")
            return
        }
        #expect(position == 0)
        guard case .refused(let error) = queue.submit(id: id(4), job: "d") else {
            Issue.record("a full queue must refuse")
            return
        }
        #expect(error.kind == .busy)
        #expect(queue.runningCount == 2 && queue.queuedCount == 1)
    }

    @Test func aDuplicateLiveIDIsRefusedButMayBeReusedAfterItsEnd() {
        var queue = JobQueue<Int>(maxConcurrent: 1, maxQueued: 4)
        _ = queue.submit(id: id(1), job: 1)
        guard case .refused(let error) = queue.submit(id: id(1), job: 2) else {
            Issue.record("duplicate id accepted")
            return
        }
        #expect(error.kind == .invalidRequest)
        _ = queue.submit(id: id(2), job: 3)
        guard case .refused = queue.submit(id: id(2), job: 4) else {
            Issue.record("duplicate of a queued id accepted")
            return
        }
        #expect(queue.finish(id: id(1)).map(\.job) == [3])
        guard case .queued = queue.submit(id: id(1), job: 5) else {
            Issue.record("a finished id must be usable again")
            return
        }
    }

    @Test func finishingStartsWaitingJobsInOrder() {
        var queue = JobQueue<Int>(maxConcurrent: 1, maxQueued: 3)
        _ = queue.submit(id: id(1), job: 1)
        _ = queue.submit(id: id(2), job: 2)
        _ = queue.submit(id: id(3), job: 3)
        #expect(queue.finish(id: id(1)).map(\.id) == [id(2)])
        #expect(queue.finish(id: id(9)).isEmpty)  // unknown: nothing changes
        #expect(queue.runningCount == 1)
        #expect(queue.finish(id: id(2)).map(\.id) == [id(3)])
        #expect(queue.finish(id: id(3)).isEmpty)
        #expect(queue.runningCount == 0 && queue.queuedCount == 0)
    }

    @Test func cancellationRemovesWaitingJobsAndFlagsRunningOnes() {
        var queue = JobQueue<Int>(maxConcurrent: 1, maxQueued: 3)
        _ = queue.submit(id: id(1), job: 1)
        _ = queue.submit(id: id(2), job: 2)
        _ = queue.submit(id: id(3), job: 3)
        #expect(queue.cancel(id: id(2)) == .removedFromQueue)
        #expect(queue.cancel(id: id(2)) == .notFound)
        #expect(queue.cancel(id: id(1)) == .stopRunning)
        #expect(queue.isLive(id(1)))  // until the shell reports its end
        #expect(queue.finish(id: id(1)).map(\.id) == [id(3)])
        #expect(queue.cancel(id: id(7)) == .notFound)
    }

    @Test func wireCodesAreStableAndRoundTrip() {
        #expect(SandboxErrorKind.timeout.wireCode == 6)
        #expect(Set(SandboxErrorKind.allCases.map(\.wireCode)).count == SandboxErrorKind.allCases.count)
        for kind in SandboxErrorKind.allCases { #expect(SandboxErrorKind(wireCode: kind.wireCode) == kind) }
        #expect(SandboxErrorKind(wireCode: 0) == nil)
        #expect(SandboxErrorKind(wireCode: 200) == nil)
    }
}
