import Logging
import ServiceLifecycle

/// Runs a service executable's services until SIGTERM or SIGINT.
public enum NodeRuntime {
    /// Runs `services` in one `ServiceGroup`. SIGTERM and SIGINT start a graceful shutdown (each
    /// service's graceful-shutdown handler runs, in reverse order of `services`); after
    /// `maximumGracefulShutdownDuration` the remaining services are cancelled. If any service
    /// returns or throws, the whole group shuts down gracefully too: a node never keeps running
    /// with a part missing (the supervisor restarts it). Rethrows the first service error.
    public static func run(
        services: [any Service], logger: Logger, maximumGracefulShutdownDuration: Duration = .seconds(30)
    ) async throws {
        let group = makeServiceGroup(
            services: services, logger: logger, handleSignals: true,
            maximumGracefulShutdownDuration: maximumGracefulShutdownDuration)
        try await group.run()
    }

    /// The group `run` uses. With `handleSignals: false` (tests) it ignores signals and is stopped
    /// with `triggerGracefulShutdown()`.
    public static func makeServiceGroup(
        services: [any Service], logger: Logger, handleSignals: Bool = false,
        maximumGracefulShutdownDuration: Duration = .seconds(30)
    ) -> ServiceGroup {
        var configuration = ServiceGroupConfiguration(
            services: services.map {
                ServiceGroupConfiguration.ServiceConfiguration(
                    service: $0,
                    successTerminationBehavior: .gracefullyShutdownGroup,
                    failureTerminationBehavior: .gracefullyShutdownGroup)
            },
            gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
            cancellationSignals: [],
            logger: logger)
        configuration.maximumGracefulShutdownDuration = maximumGracefulShutdownDuration
        return ServiceGroup(configuration: configuration)
    }
}

/// A service that runs `body` every `interval` until graceful shutdown (e.g. heartbeats, metric
/// sampling). Errors from `body` are logged and the loop goes on; the next run starts `interval`
/// after the previous one ended, so runs never overlap.
public struct PeriodicTask: Service, CustomStringConvertible {
    public let name: String
    public let interval: Duration
    public let runImmediately: Bool
    private let logger: Logger
    private let body: @Sendable () async throws -> Void

    public init(
        name: String, interval: Duration, runImmediately: Bool = true, logger: Logger,
        body: @escaping @Sendable () async throws -> Void
    ) {
        precondition(interval > .zero, "PeriodicTask interval must be positive")
        self.name = name
        self.interval = interval
        self.runImmediately = runImmediately
        self.logger = logger
        self.body = body
    }

    public var description: String { "PeriodicTask(\(name))" }

    public func run() async throws {
        let (name, interval, runImmediately, logger, body) = (name, interval, runImmediately, logger, body)
        do {
            try await cancelWhenGracefulShutdown {
                if !runImmediately { try await Task.sleep(for: interval) }
                while !Task.isCancelled {
                    do {
                        try await body()
                    } catch is CancellationError {
                        return
                    } catch {
                        logger.warning("periodic task failed", metadata: ["task": "\(name)", "error": "\(error)"])
                    }
                    try await Task.sleep(for: interval)
                }
            }
        } catch is CancellationError {
            // Graceful shutdown or cancellation: a normal end.
        }
    }
}
