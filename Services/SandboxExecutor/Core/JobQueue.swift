/// The executor's admission decisions (issue 7), pure: at most `maxConcurrent` jobs run, at most
/// `maxQueued` wait (first in, first out), a job id is live at most once, and a cancellation
/// either removes a waiting job or tells the shell to stop a running one. The shell performs the
/// outcomes (starts, kills) and reports each end with `finish`.
public struct JobQueue<Job: Sendable>: Sendable {
    public let maxConcurrent: Int
    public let maxQueued: Int
    public private(set) var running: [[UInt8]: Job] = [:]
    private var waiting: [(id: [UInt8], job: Job)] = []

    public enum Admission: Sendable {
        /// Start it now.
        case start
        /// It waits; `position` jobs are ahead of it (0: next).
        case queued(position: Int)
        /// Refused: `.busy` when the queue is full, `.invalidRequest` for a live duplicate id.
        case refused(SandboxError)
    }

    public enum Cancellation: Sendable, Equatable {
        /// No live job has this id (never known, or already finished).
        case notFound
        /// It was waiting and is gone; nothing ran.
        case removedFromQueue
        /// It runs: the shell must stop it (its end is still reported with `finish`).
        case stopRunning
    }

    public init(maxConcurrent: Int, maxQueued: Int) {
        precondition(maxConcurrent >= 1 && maxQueued >= 0, "at least one job runs; the queue may be empty")
        self.maxConcurrent = maxConcurrent
        self.maxQueued = maxQueued
    }

    public var queuedCount: Int { waiting.count }
    public var runningCount: Int { running.count }

    /// The waiting job with this id, if any.
    public func queued(_ id: [UInt8]) -> Job? { waiting.first { $0.id == id }?.job }

    public func isLive(_ id: [UInt8]) -> Bool {
        running[id] != nil || waiting.contains { $0.id == id }
    }

    public mutating func submit(id: [UInt8], job: Job) -> Admission {
        guard !isLive(id) else {
            return .refused(SandboxError(.invalidRequest, "a job with this id is already queued or running"))
        }
        if running.count < maxConcurrent, waiting.isEmpty {
            running[id] = job
            return .start
        }
        guard waiting.count < maxQueued else {
            return .refused(
                SandboxError(.busy, "\(running.count) jobs running and \(waiting.count) queued (the limits)"))
        }
        waiting.append((id, job))
        return .queued(position: waiting.count - 1)
    }

    /// Records the end of a running job; returns the waiting jobs that start now (in order).
    public mutating func finish(id: [UInt8]) -> [(id: [UInt8], job: Job)] {
        guard running.removeValue(forKey: id) != nil else { return [] }
        var started: [(id: [UInt8], job: Job)] = []
        while running.count < maxConcurrent, !waiting.isEmpty {
            let next = waiting.removeFirst()
            running[next.id] = next.job
            started.append(next)
        }
        return started
    }

    public mutating func cancel(id: [UInt8]) -> Cancellation {
        if running[id] != nil { return .stopRunning }
        if let index = waiting.firstIndex(where: { $0.id == id }) {
            waiting.remove(at: index)
            return .removedFromQueue
        }
        return .notFound
    }
}

extension SandboxErrorKind {
    /// The byte that carries the kind in `SandboxFailure` (stable: never renumber).
    public var wireCode: UInt8 {
        switch self {
        case .invalidRequest: 1
        case .refused: 2
        case .fetchFailed: 3
        case .imageNotFound: 4
        case .digestMismatch: 5
        case .timeout: 6
        case .outOfMemory: 7
        case .outputTooLarge: 8
        case .fuelExhausted: 9
        case .cancelled: 10
        case .busy: 11
        case .internal: 12
        }
    }

    /// The kind of a wire code; nil for a code this version does not know.
    public init?(wireCode: UInt8) {
        guard let kind = Self.allCases.first(where: { $0.wireCode == wireCode }) else { return nil }
        self = kind
    }
}
