/// A listen or dial address: `host:port`, with IPv6 literals in brackets (`[::1]:26656`).
/// `host` is stored without brackets. Port 0 means "any free port" (tests).
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case empty
        case missingPort(String)
        case invalidPort(String)
        case portOutOfRange(Int)
        case invalidHost(String)

        public var description: String {
            switch self {
            case .empty: "empty address (expected host:port)"
            case .missingPort(let s): "missing port in \(JSONValue.quoted(s)) (expected host:port, IPv6 as [addr]:port)"
            case .invalidPort(let s): "invalid port \(JSONValue.quoted(s)) (expected a number 0-65535)"
            case .portOutOfRange(let p): "port \(p) out of range 0-65535"
            case .invalidHost(let s): "invalid host \(JSONValue.quoted(s))"
            }
        }
    }

    public init(host: String, port: Int) throws(ParseError) {
        guard (0...65535).contains(port) else { throw .portOutOfRange(port) }
        guard Self.isValidHost(host) else { throw .invalidHost(host) }
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port`.
    public init(parsing text: String) throws(ParseError) {
        guard !text.isEmpty else { throw .empty }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .invalidHost(text) }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .missingPort(text) }
            portText = rest.dropFirst()
            guard host.contains(":") else { throw .invalidHost(String(host)) }
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .missingPort(text) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            // An unbracketed IPv6 literal is ambiguous ("::1:80").
            guard !host.contains(":") else { throw .invalidHost(String(host)) }
        }
        guard !portText.isEmpty else { throw .missingPort(text) }
        guard portText.utf8.count <= 5, portText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let port = Int(portText)
        else { throw .invalidPort(String(portText)) }
        try self.init(host: String(host), port: port)
    }

    /// `host:port`, brackets around IPv6 literals.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether the host is a loopback address (`127.0.0.0/8`, `::1`, `localhost`).
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The same host with another port.
    public func with(port: Int) throws(ParseError) -> HostPort { try HostPort(host: host, port: port) }

    static func isValidHost(_ host: String) -> Bool {
        guard !host.isEmpty, host.utf8.count <= 253 else { return false }
        if host.contains(":") {
            // IPv6 literal: hex digits, colons, dots (embedded IPv4), optional %zone.
            let parts = host.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts[0].utf8.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { return false }
            if parts.count == 2 {
                guard !parts[1].isEmpty,
                    parts[1].utf8.allSatisfy({
                        isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
                    })
                else { return false }
            }
            return true
        }
        // Host name or IPv4: labels of letters, digits and hyphens, separated by single dots.
        for label in host.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.utf8.count <= 63,
                label.utf8.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") }),
                label.first != "-", label.last != "-"
            else { return false }
        }
        return true
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x46).contains(c) || (0x61...0x66).contains(c)
    }

    private static func isAlnum(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x5a).contains(c) || (0x61...0x7a).contains(c)
    }
}
