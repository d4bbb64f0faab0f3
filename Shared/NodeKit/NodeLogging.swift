import Logging
import Synchronization
import Wire

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

@inline(__always) private func writeStandardError(_ buf: UnsafeRawPointer, _ n: Int) -> Int {
    write(2, buf, n)
}

/// Where log lines go. Each `write` receives one complete line (with its trailing newline) and
/// lines from concurrent loggers never interleave.
public final class LogSink: Sendable {
    private let lock = Mutex(())
    private let output: @Sendable ([UInt8]) -> Void

    /// `output` is called with one line at a time, serialized by the sink.
    public init(_ output: @escaping @Sendable ([UInt8]) -> Void) {
        self.output = output
    }

    public func write(line: [UInt8]) {
        lock.withLock { _ in output(line) }
    }

    /// Standard error, one `write(2)` loop per line.
    public static let standardError = LogSink { bytes in
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { writeStandardError($0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += n
        }
    }
}

/// Wraps a secret so that printing, interpolating, logging or dumping it shows `<redacted>`.
public struct Redacted<Wrapped: Sendable>: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    public let value: Wrapped
    public init(_ value: Wrapped) { self.value = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// A swift-log handler writing one structured line per event:
///
/// - json: `{"ts":"…","level":"info","service":"tss-signer","msg":"…","logger":"…", <metadata>}`
///   (the first five keys in that order, metadata after them sorted by key);
/// - text: `2025-01-02T03:04:05.678Z info  tss-signer: message key=value …`.
///
/// Metadata whose key names a secret (`priv_key`, `private_key`, `secret`, `passphrase`,
/// `password`, `mnemonic`, `seed`) is written as `<redacted>` whatever its value.
public struct NodeLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public let label: String
    public let service: String
    public let format: LogFormat
    let sink: LogSink

    public init(
        label: String, service: String, format: LogFormat, level: Logger.Level, sink: LogSink = .standardError,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.label = label
        self.service = service
        self.format = format
        self.logLevel = level
        self.sink = sink
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }
        if let error = event.error { merged["error"] = .string("\(error)") }
        let ts = Timestamp.now().rfc3339(fractionDigits: 3)
        let line: [UInt8]
        switch format {
        case .json: line = jsonLine(ts: ts, level: event.level, message: event.message.description, metadata: merged)
        case .text: line = textLine(ts: ts, level: event.level, message: event.message.description, metadata: merged)
        }
        sink.write(line: line)
    }

    static let reservedKeys: Set<String> = ["ts", "level", "service", "msg", "logger"]
    static let secretKeyFragments = [
        "priv_key", "private_key", "privkey", "secret", "passphrase", "password", "mnemonic", "seed",
    ]

    static func isSecretKey(_ key: String) -> Bool {
        let lower = key.lowercased()
        return secretKeyFragments.contains { lower.contains($0) }
    }

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let s): .string(s)
        case .stringConvertible(let c): .string(c.description)
        case .array(let items): .array(items.map(json))
        case .dictionary(let d): .object(d.mapValues(json))
        @unknown default: .string("\(value)")
        }
    }

    func jsonLine(ts: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(128 + message.utf8.count)
        out.append(contentsOf: "{\"ts\":".utf8)
        JSONValue.writeString(ts, into: &out)
        out.append(contentsOf: ",\"level\":".utf8)
        JSONValue.writeString(level.rawValue, into: &out)
        out.append(contentsOf: ",\"service\":".utf8)
        JSONValue.writeString(service, into: &out)
        out.append(contentsOf: ",\"msg\":".utf8)
        JSONValue.writeString(message, into: &out)
        out.append(contentsOf: ",\"logger\":".utf8)
        JSONValue.writeString(label, into: &out)
        for key in metadata.keys.sorted() {
            let value: JSONValue = Self.isSecretKey(key) ? .string("<redacted>") : Self.json(metadata[key]!)
            out.append(UInt8(ascii: ","))
            JSONValue.writeString(Self.reservedKeys.contains(key) ? "meta." + key : key, into: &out)
            out.append(UInt8(ascii: ":"))
            value.write(into: &out, pretty: false, depth: 0)
        }
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    func textLine(ts: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> [UInt8] {
        let levelText = level.rawValue + String(repeating: " ", count: max(0, 8 - level.rawValue.count))
        var line = "\(ts) \(levelText) \(service): \(Self.singleLine(message))"
        for key in metadata.keys.sorted() {
            let text: String
            if Self.isSecretKey(key) {
                text = "<redacted>"
            } else if case .string(let s) = metadata[key]! {
                text = s
            } else {
                text = Self.json(metadata[key]!).serialized()
            }
            let needsQuotes = text.isEmpty || text.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" })
            line += " \(key)=" + (needsQuotes ? JSONValue.quoted(text) : Self.singleLine(text))
        }
        return Array((line + "\n").utf8)
    }

    /// Control characters (newlines) escaped so that one event stays one line.
    static func singleLine(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else { return s }
        let quoted = JSONValue.quoted(s)
        return String(quoted.dropFirst().dropLast())
    }
}

/// Process-wide logging setup for a service executable.
public enum NodeLogging {
    private static let bootstrapped = Mutex(false)

    /// Routes every `Logger` of the process to a `NodeLogHandler` for `service`. Only the first
    /// call per process takes effect (swift-log allows one bootstrap); it returns false for later
    /// calls, so tests may call it freely.
    @discardableResult
    public static func bootstrap(
        service: String, level: Logger.Level, format: LogFormat, sink: LogSink = .standardError
    ) -> Bool {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return false }
        LoggingSystem.bootstrap { label in
            NodeLogHandler(label: label, service: service, format: format, level: level, sink: sink)
        }
        return true
    }

    /// Bootstraps from the `[node]` section of a loaded configuration.
    @discardableResult
    public static func bootstrap(service: ServiceKind, config: NodeConfig) -> Bool {
        bootstrap(service: service.name, level: config.node.logLevel, format: config.node.logFormat)
    }
}
