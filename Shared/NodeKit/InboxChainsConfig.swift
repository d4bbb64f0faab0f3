import Secp256k1
import TOMLKit
import Wire

/// One `[[inbox.chains]]` table of `node.toml`: an EVM chain whose inbox contract the
/// inbox-listener reads.
///
/// The key table (`ConfigKeys`) holds scalars and string arrays only; `inbox.chains` is its one
/// documented exception: an array of tables, parsed here with the same error reporting, and not
/// settable from the environment.
///
/// ```toml
/// [[inbox.chains]]
/// chain_id = 1337
/// rpc = ["http://127.0.0.1:8545", "http://127.0.0.1:8546"]   # failover order
/// inbox = "0x…"            # Inbox contract address
/// start_block = 0           # first block to scan when there is no cursor yet
/// poll_interval_ms = 500
/// ```
public struct InboxChainConfig: Sendable, Equatable {
    /// EIP-155 chain id, 1 … 2^63 − 1 (the node's answer to `eth_chainId` must match).
    public var chainID: UInt64
    /// JSON-RPC endpoints in failover order: 1 … 8 distinct http(s) URLs.
    public var rpc: [String]
    /// The Inbox contract.
    public var inbox: Address
    /// First block scanned when the chain has no cursor yet.
    public var startBlock: UInt64
    /// Delay between polls, 10 … 3,600,000 ms.
    public var pollIntervalMs: Int

    public init(chainID: UInt64, rpc: [String], inbox: Address, startBlock: UInt64 = 0, pollIntervalMs: Int = 1000) {
        self.chainID = chainID
        self.rpc = rpc
        self.inbox = inbox
        self.startBlock = startBlock
        self.pollIntervalMs = pollIntervalMs
    }

    public static let key = "inbox.chains"
    static let fields = ["chain_id", "rpc", "inbox", "start_block", "poll_interval_ms"]
    static let maxEndpoints = 8
    static let pollRange = 10...3_600_000

    /// Parses the `inbox.chains` value; every problem goes to `problem(key, message)` with keys
    /// like `inbox.chains[1].rpc`. Duplicate chain ids are refused.
    static func parse(_ value: TOMLValueConvertible, problem: (String, String) -> Void) -> [InboxChainConfig] {
        guard value.type == .array, let array = value.array else {
            problem(key, "expected an array of tables ([[inbox.chains]]), found \(value.type)")
            return []
        }
        var chains: [InboxChainConfig] = []
        var firstIndex: [UInt64: Int] = [:]
        for (index, element) in array.enumerated() {
            let at = "\(key)[\(index)]"
            guard element.type == .table, let table = element.table else {
                problem(at, "expected a table, found \(element.type)")
                continue
            }
            guard let chain = parseOne(table, at: at, problem: problem) else { continue }
            if let first = firstIndex[chain.chainID] {
                problem("\(at).chain_id", "chain \(chain.chainID) is already configured by \(key)[\(first)]")
                continue
            }
            firstIndex[chain.chainID] = index
            chains.append(chain)
        }
        return chains
    }

    private static func parseOne(
        _ table: TOMLTable, at: String, problem: (String, String) -> Void
    ) -> InboxChainConfig? {
        var ok = true
        func fail(_ field: String, _ message: String) {
            problem("\(at).\(field)", message)
            ok = false
        }
        for name in table.keys.sorted() where !fields.contains(name) {
            fail(name, "unknown key (known: \(fields.joined(separator: ", ")))")
        }
        func integer(_ field: String, required: Bool, range: ClosedRange<Int>) -> Int? {
            guard let v = table[field] else {
                if required { fail(field, "missing (required)") }
                return nil
            }
            guard v.type == .int, let i = v.int else {
                fail(field, "expected an integer, found \(v.type)")
                return nil
            }
            guard range.contains(i) else {
                fail(field, "\(i) is out of range \(range.lowerBound)…\(range.upperBound)")
                return nil
            }
            return i
        }
        let chainID = integer("chain_id", required: true, range: 1...Int.max)
        let startBlock = integer("start_block", required: false, range: 0...Int.max) ?? 0
        let poll = integer("poll_interval_ms", required: false, range: pollRange) ?? 1000

        var endpoints: [String] = []
        if let v = table["rpc"] {
            if v.type == .array, let items = v.array {
                for (i, item) in items.enumerated() {
                    guard item.type == .string, let s = item.string else {
                        fail("rpc", "element \(i): expected a string, found \(item.type)")
                        continue
                    }
                    if let why = endpointProblem(s) {
                        fail("rpc", "element \(i): \(why)")
                    } else if endpoints.contains(s) {
                        fail("rpc", "element \(i): \(JSONValue.quoted(s)) is listed twice")
                    } else {
                        endpoints.append(s)
                    }
                }
                if items.count == 0 { fail("rpc", "needs at least one endpoint") }
                if items.count > maxEndpoints { fail("rpc", "\(items.count) endpoints, at most \(maxEndpoints)") }
            } else {
                fail("rpc", "expected an array of URLs, found \(v.type)")
            }
        } else {
            fail("rpc", "missing (required)")
        }

        var inbox: Address?
        if let v = table["inbox"] {
            if v.type == .string, let s = v.string {
                if let bytes = try? parseEthereumAddress(s), let a = try? Address(bytes: bytes), s.hasPrefix("0x") {
                    if a.bytes.allSatisfy({ $0 == 0 }) { fail("inbox", "the zero address is not a contract") }
                    inbox = a
                } else {
                    fail(
                        "inbox",
                        "\(JSONValue.quoted(s)) is not a 0x-prefixed 20-byte address (mixed case must carry a valid EIP-55 checksum)"
                    )
                }
            } else {
                fail("inbox", "expected a string, found \(v.type)")
            }
        } else {
            fail("inbox", "missing (required)")
        }
        guard ok, let chainID, let inbox else { return nil }
        return InboxChainConfig(
            chainID: UInt64(chainID), rpc: endpoints, inbox: inbox, startBlock: UInt64(startBlock),
            pollIntervalMs: poll)
    }

    /// Why `url` is not an endpoint the JSON-RPC client can use, or nil.
    static func endpointProblem(_ url: String) -> String? {
        let lower = url.lowercased()
        guard let scheme = ["http://", "https://"].first(where: { lower.hasPrefix($0) }) else {
            return "\(JSONValue.quoted(url)) is not an http:// or https:// URL"
        }
        let rest = url.dropFirst(scheme.count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.contains("@") else {
            return "\(JSONValue.quoted(url)) has no host (or carries credentials)"
        }
        guard url.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "\"" }), url.utf8.count <= 2048 else {
            return "\(JSONValue.quoted(url)) contains spaces, quotes or non-ASCII characters, or is too long"
        }
        return nil
    }
}
