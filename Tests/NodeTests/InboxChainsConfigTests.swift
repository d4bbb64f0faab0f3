import Testing
import Wire

@testable import NodeKit

@Suite("inbox.chains config")
struct InboxChainsConfigTests {
    static let inboxA = "0x5FbDB2315678afecb367f032d93F642f64180aa3"

    @Test("two chains parse with their fields and defaults")
    func parses() throws {
        let config = try NodeConfig.parse(
            toml: """
                [inbox]
                rpc_listen = "127.0.0.1:26662"

                [[inbox.chains]]
                chain_id = 1337
                rpc = ["http://127.0.0.1:8545", "https://rpc.example.org/v1?key=x"]   # failover order
                inbox = "\(Self.inboxA)"
                start_block = 12
                poll_interval_ms = 500

                [[inbox.chains]]
                chain_id = 59144
                rpc = ["http://127.0.0.1:8546"]
                inbox = "0x00000000000000000000000000000000000000aa"
                """)
        #expect(config.inboxChains.count == 2)
        let a = config.inboxChains[0]
        #expect(a.chainID == 1337 && a.startBlock == 12 && a.pollIntervalMs == 500)
        #expect(a.rpc == ["http://127.0.0.1:8545", "https://rpc.example.org/v1?key=x"])
        #expect(checksummedAddress(a.inbox) == Self.inboxA)
        let b = config.inboxChains[1]
        #expect(b.chainID == 59144 && b.startBlock == 0 && b.pollIntervalMs == 1000)
        #expect(NodeConfig.defaults.inboxChains.isEmpty)
    }

    /// Each case: the chain table's lines, and the key and words the problem must name.
    @Test(
        "every field is validated, naming the chain's index and key",
        arguments: [
            ("rpc = [\"http://a:1\"]\ninbox = \"\(inboxA)\"", "inbox.chains[0].chain_id", "missing"),
            ("chain_id = 0\nrpc = [\"http://a:1\"]\ninbox = \"\(inboxA)\"", "inbox.chains[0].chain_id", "out of range"),
            ("chain_id = \"1\"\nrpc = [\"http://a:1\"]\ninbox = \"\(inboxA)\"", "inbox.chains[0].chain_id", "integer"),
            ("chain_id = 1\ninbox = \"\(inboxA)\"", "inbox.chains[0].rpc", "missing"),
            ("chain_id = 1\nrpc = []\ninbox = \"\(inboxA)\"", "inbox.chains[0].rpc", "at least one"),
            ("chain_id = 1\nrpc = \"http://a:1\"\ninbox = \"\(inboxA)\"", "inbox.chains[0].rpc", "array"),
            ("chain_id = 1\nrpc = [\"ws://a:1\"]\ninbox = \"\(inboxA)\"", "inbox.chains[0].rpc", "http"),
            ("chain_id = 1\nrpc = [\"http://\"]\ninbox = \"\(inboxA)\"", "inbox.chains[0].rpc", "no host"),
            ("chain_id = 1\nrpc = [\"http://u:p@a:1\"]\ninbox = \"\(inboxA)\"", "inbox.chains[0].rpc", "credentials"),
            (
                "chain_id = 1\nrpc = [\"http://a:1\", \"http://a:1\"]\ninbox = \"\(inboxA)\"", "inbox.chains[0].rpc",
                "twice"
            ),
            ("chain_id = 1\nrpc = [1]\ninbox = \"\(inboxA)\"", "inbox.chains[0].rpc", "expected a string"),
            ("chain_id = 1\nrpc = [\"http://a:1\"]", "inbox.chains[0].inbox", "missing"),
            ("chain_id = 1\nrpc = [\"http://a:1\"]\ninbox = \"0x1234\"", "inbox.chains[0].inbox", "20-byte"),
            (
                "chain_id = 1\nrpc = [\"http://a:1\"]\ninbox = \"0x5fbDB2315678afecb367f032d93F642f64180aa3\"",
                "inbox.chains[0].inbox", "EIP-55"
            ),
            (
                "chain_id = 1\nrpc = [\"http://a:1\"]\ninbox = \"0x0000000000000000000000000000000000000000\"",
                "inbox.chains[0].inbox", "zero address"
            ),
            (
                "chain_id = 1\nrpc = [\"http://a:1\"]\ninbox = \"\(inboxA)\"\nstart_block = -1",
                "inbox.chains[0].start_block", "out of range"
            ),
            (
                "chain_id = 1\nrpc = [\"http://a:1\"]\ninbox = \"\(inboxA)\"\npoll_interval_ms = 5",
                "inbox.chains[0].poll_interval_ms", "out of range"
            ),
            (
                "chain_id = 1\nrpc = [\"http://a:1\"]\ninbox = \"\(inboxA)\"\nconfirmations = 3",
                "inbox.chains[0].confirmations", "unknown key"
            ),
        ])
    func invalidField(lines: String, key: String, words: String) {
        let toml = "[[inbox.chains]]\n" + lines + "\n"
        do {
            _ = try NodeConfig.parse(toml: toml, file: "node.toml")
            Issue.record("accepted: \(lines)")
        } catch {
            #expect(error.problems.contains { $0.key == key && $0.message.contains(words) }, "\(error)")
        }
    }

    @Test("a duplicate chain id is refused, naming both entries")
    func duplicateChain() {
        let chain = "chain_id = 7\nrpc = [\"http://a:1\"]\ninbox = \"\(Self.inboxA)\"\n"
        do {
            _ = try NodeConfig.parse(toml: "[[inbox.chains]]\n\(chain)\n[[inbox.chains]]\n\(chain)")
            Issue.record("accepted a duplicate chain")
        } catch {
            #expect(
                error.problems.contains {
                    $0.key == "inbox.chains[1].chain_id" && $0.message.contains("already configured by inbox.chains[0]")
                }, "\(error)")
        }
    }

    @Test("inbox.chains must be an array of tables, and has no environment override")
    func shape() {
        #expect(throws: ConfigError.self) { try NodeConfig.parse(toml: "[inbox]\nchains = 3\n") }
        #expect(throws: ConfigError.self) { try NodeConfig.parse(toml: "[inbox]\nchains = [1]\n") }
        #expect(throws: ConfigError.self) { try NodeConfig.parse(toml: "", environment: ["VN_INBOX_CHAINS": "x"]) }
    }
}
