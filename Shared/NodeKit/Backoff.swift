/// Exponential backoff with jitter for reconnects. Pure: the random source is passed in, so a
/// seeded generator gives a reproducible schedule.
///
/// Attempt `k` (from 0) has the ceiling `min(max, min · 2^k)`; the delay is drawn uniformly from
/// `[max(min, ceiling / 2), ceiling]`. Every delay therefore lies in `[min, max]`, the ceiling
/// doubles until it reaches `max`, and peers that lost the same node do not redial in lockstep.
public struct Backoff: Sendable, Equatable {
    public let min: Duration
    public let max: Duration
    /// Delays handed out since the last `reset()`.
    public private(set) var attempt: Int = 0

    public init(min: Duration, max: Duration) {
        precondition(min > .zero, "backoff minimum must be positive")
        precondition(min <= max, "backoff minimum \(min) exceeds maximum \(max)")
        self.min = min
        self.max = max
    }

    /// The upper bound of the delay for attempt `attempt`.
    public func ceiling(forAttempt attempt: Int) -> Duration {
        let minNs = Self.nanoseconds(min)
        let maxNs = Self.nanoseconds(max)
        var ceiling = minNs
        var k = 0
        while k < attempt, ceiling < maxNs {
            ceiling = ceiling > maxNs / 2 ? maxNs : ceiling * 2
            k += 1
        }
        return .nanoseconds(Swift.min(ceiling, maxNs))
    }

    /// The delay to wait before the next attempt; advances the attempt counter.
    public mutating func next<G: RandomNumberGenerator>(using random: inout G) -> Duration {
        let ceilingNs = Self.nanoseconds(ceiling(forAttempt: attempt))
        let floorNs = Swift.max(Self.nanoseconds(min), ceilingNs / 2)
        attempt = attempt == Int.max ? attempt : attempt + 1
        guard floorNs < ceilingNs else { return .nanoseconds(ceilingNs) }
        return .nanoseconds(Int64.random(in: floorNs...ceilingNs, using: &random))
    }

    /// After a successful connection: the next delay starts from `min` again.
    public mutating func reset() { attempt = 0 }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (seconds, attoseconds) = d.components
        let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? Int64.min : Int64.max }
        let (total, overflow2) = ns.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflow2 ? Int64.max : total
    }
}
