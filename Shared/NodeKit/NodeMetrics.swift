import Metrics
import Prometheus
import Synchronization

/// Process-wide metrics: swift-metrics bootstrapped with a Prometheus registry, so every
/// `Counter(label:)`, `Gauge`, `Timer`, ... of the process appears on `/metrics`.
public enum NodeMetrics {
    private static let state = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Bootstraps `MetricsSystem` once per process and returns the registry. Later calls (tests)
    /// return the same registry without bootstrapping again.
    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry {
        state.withLock { current in
            if let registry = current { return registry }
            let registry = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.defaultDurationHistogramBuckets = [
                .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5),
                .seconds(5), .seconds(10),
            ]
            MetricsSystem.bootstrap(factory)
            current = registry
            return registry
        }
    }

    /// The process registry (bootstrapping if needed).
    public static var registry: PrometheusCollectorRegistry { bootstrap() }

    /// The Prometheus text exposition of the process registry.
    public static func render() -> String { render(registry) }

    public static func render(_ registry: PrometheusCollectorRegistry) -> String {
        registry.emitToString()
    }

    /// `text/plain; version=0.0.4` — the Prometheus text format's content type.
    public static let contentType = "text/plain; version=0.0.4"
}
