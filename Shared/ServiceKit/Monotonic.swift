/// Milliseconds on a monotonic clock since the process started: the only time the service
/// shells hand to the pure cores (registries, peer tables), so wall-clock jumps cannot change a
/// readiness decision.
public enum Monotonic {
    private static let origin = ContinuousClock.now

    public static func nowMs() -> UInt64 {
        let d = ContinuousClock.now - origin
        let (seconds, attoseconds) = d.components
        return UInt64(max(0, seconds)) * 1000 + UInt64(max(0, attoseconds) / 1_000_000_000_000_000)
    }

    public static func nowUs() -> UInt64 {
        let d = ContinuousClock.now - origin
        let (seconds, attoseconds) = d.components
        return UInt64(max(0, seconds)) * 1_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000_000)
    }
}
