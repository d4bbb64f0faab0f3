import EVM
import Testing
import Wire

@testable import InboxListenerCore

let chainID: UInt64 = 1337
let inbox = try! Address(hex: "0x5fbdb2315678afecb367f032d93f642f64180aa3")
let alice = try! Address(hex: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8")

func hash(_ tag: String) -> Hash32 { Hash32.keccak(Array(tag.utf8)) }

func config(
    window: Int = 16, perFetch: UInt64 = 4, minConfirmations: UInt64 = 0, maxConfirmations: UInt64 = 100,
    maxInFlight: Int = 8, maxQueued: Int = 64
) -> ChainTrackerConfig {
    try! ChainTrackerConfig(
        chainID: chainID, inbox: inbox, startBlock: 1, window: window, maxBlocksPerFetch: perFetch,
        minConfirmations: minConfirmations, maxConfirmations: maxConfirmations, maxInFlight: maxInFlight,
        maxQueued: maxQueued)
}

/// The fields of a request as a user sends it to the inbox (the contract adds id, sender, fee).
struct UserRequest: Hashable, Sendable {
    var tag: String
    var confirmations: UInt64 = 0
    var sources: [String] = ["https://a.example/1"]
}

/// The data of a `RequestCreated` log with `string` fields given as raw bytes (same ABI
/// encoding), so tests can put invalid UTF-8 in them.
func requestData(
    requestingChain: UInt256 = UInt256(chainID), url: [UInt8], params: [UInt8] = [1, 2, 3], sources: [[UInt8]],
    target: UInt256 = 59_144, fee: UInt256 = 1_000, confirmations: UInt256
) -> [UInt8] {
    try! ABI.encode(
        [
            .uint(requestingChain), .bytes(url), .bytes(params), .array(sources.map { .bytes($0) }), .uint(target),
            .uint(fee), .uint(confirmations),
        ],
        types: [.uint256, .bytes, .bytes, .dynamicArray(.bytes), .uint256, .uint256, .uint256])
}

/// A log as the Inbox emits it (through the real event encoder).
func requestLog(
    counter: UInt64, block: UInt64, blockHash: Hash32, logIndex: UInt64 = 0, request: UserRequest
) -> Log {
    let encoded = try! InboxLogDecoder.requestCreated.encodeLog([
        .uint(InboxRequest.requestID(chainID: chainID, counter: counter)), .address(alice), .uint(UInt256(chainID)),
        .string("https://container.example/\(request.tag)"), .bytes(Array(request.tag.utf8)),
        .array(request.sources.map { .string($0) }), .uint(59_144), .uint(1_000), .uint(UInt256(request.confirmations)),
    ])
    return Log(
        address: inbox, topics: encoded.topics, data: encoded.data, blockNumber: block, blockHash: blockHash,
        transactionHash: hash("tx/\(request.tag)/\(block)"), transactionIndex: logIndex, logIndex: logIndex)
}

/// A chain as a node serves it: blocks from genesis, the inbox's counter, reorgs that replace
/// the newest blocks (every mined block gets a fresh hash).
struct SimChain {
    struct SimBlock {
        var ref: BlockRef
        var requests: [UserRequest]
        var logs: [Log]
    }

    private(set) var blocks: [SimBlock]
    private var salt: UInt64 = 0

    init() {
        blocks = [SimBlock(ref: BlockRef(number: 0, hash: hash("genesis"), parentHash: .zero), requests: [], logs: [])]
    }

    var tip: UInt64 { UInt64(blocks.count - 1) }
    var headInput: ChainTracker.Input {
        let r = blocks.last!.ref
        return .head(number: r.number, hash: r.hash, parentHash: r.parentHash)
    }

    /// The inbox counter after the current tip.
    private var counter: UInt64 { blocks.reduce(0) { $0 + UInt64($1.requests.count) } }

    mutating func mine(_ requests: [UserRequest] = []) {
        salt += 1
        let number = tip + 1
        let h = hash("block/\(number)/\(salt)")
        var logs: [Log] = []
        let first = counter + 1
        for (i, r) in requests.enumerated() {
            logs.append(
                requestLog(counter: first + UInt64(i), block: number, blockHash: h, logIndex: UInt64(i), request: r))
        }
        blocks.append(
            SimBlock(
                ref: BlockRef(number: number, hash: h, parentHash: blocks.last!.ref.hash), requests: requests,
                logs: logs))
    }

    mutating func mine(count: Int) { for _ in 0..<count { mine() } }

    /// Drops the newest `depth` blocks; returns their requests (a node would return them to the
    /// pool).
    @discardableResult
    mutating func orphan(depth: Int) -> [UserRequest] {
        let dropped = blocks.suffix(depth)
        blocks.removeLast(depth)
        return dropped.flatMap(\.requests)
    }

    func block(_ number: UInt64) -> SimBlock { blocks[Int(number)] }

    func headers(_ range: ClosedRange<UInt64>) -> [BlockRef] {
        guard range.lowerBound <= tip else { return [] }
        return (range.lowerBound...min(range.upperBound, tip)).map { blocks[Int($0)].ref }
    }

    func logs(_ range: ClosedRange<UInt64>) -> [Log] {
        guard range.lowerBound <= tip else { return [] }
        return (range.lowerBound...min(range.upperBound, tip)).flatMap { blocks[Int($0)].logs }
    }

    /// Every request of the current chain with its id, block and block hash.
    var canonicalRequests: [(id: UInt256, block: UInt64, hash: Hash32, request: UserRequest)] {
        var out: [(UInt256, UInt64, Hash32, UserRequest)] = []
        var n: UInt64 = 0
        for b in blocks {
            for r in b.requests {
                n += 1
                out.append((InboxRequest.requestID(chainID: chainID, counter: n), b.ref.number, b.ref.hash, r))
            }
        }
        return out
    }
}

/// A shell in memory: performs the tracker's actions against a `SimChain` and records everything.
struct Harness {
    var tracker: ChainTracker
    var chain = SimChain()
    var persisted: ChainTrackerState?
    /// Forwarded, not yet acknowledged by the simulated consensus-manager.
    var network: [InboxRequest] = []
    var forwards: [InboxRequest] = []
    var acknowledged: [UInt256: InboxRequest] = [:]
    var reorgs: [ChainTracker.Reorg] = []
    var rejected: [ChainTracker.RejectedLog] = []
    var halts: [ChainTracker.Action] = []
    var lastActions: [ChainTracker.Action] = []
    /// Decode every persisted state from its bytes (slow; the property test samples it).
    var checkRoundTrip = true

    init(_ config: ChainTrackerConfig) { tracker = ChainTracker(config: config) }

    @discardableResult
    mutating func feed(_ input: ChainTracker.Input) -> ChainTracker.Action? {
        let actions = tracker.handle(input)
        lastActions = actions
        var fetch: ChainTracker.Action?
        var sawPersist = false
        for a in actions {
            switch a {
            case .persist(let s):
                persisted = s
                sawPersist = true
                if checkRoundTrip {
                    #expect((try? ChainTrackerState.decode(s.encoded())) == s, "persisted state round-trips")
                }
            case .forward(let batch):
                for r in batch {
                    #expect(acknowledged[r.id] == nil, "\(r.id) forwarded after its acknowledgement")
                }
                network += batch
                forwards += batch
            case .fetchBlocks, .fetchLogs:
                #expect(fetch == nil, "one fetch per input")
                fetch = a
            case .reorgDetected(let r): reorgs.append(r)
            case .rejected(let r): rejected += r
            case .reorgBeyondWindow: halts.append(a)
            }
        }
        // The durable state is written before anything is sent.
        if sawPersist, let p = actions.firstIndex(where: { if case .persist = $0 { true } else { false } }),
            let f = actions.firstIndex(where: { if case .forward = $0 { true } else { false } })
        {
            #expect(p < f)
        }
        return fetch
    }

    /// One poll: the head, then every fetch until the tracker asks for nothing more.
    /// `beforeAnswer` may change the chain between a fetch and its answer.
    mutating func poll(beforeAnswer: (ChainTracker.Action, inout SimChain) -> Void = { _, _ in }) {
        var fetch = feed(chain.headInput)
        var rounds = 0
        while let f = fetch {
            rounds += 1
            guard rounds < 10_000 else {
                Issue.record("poll does not converge")
                return
            }
            beforeAnswer(f, &chain)
            switch f {
            case .fetchBlocks(let r):
                let headers = chain.headers(r)
                guard !headers.isEmpty else { return }  // beyond the node's head: wait for the next poll
                fetch = feed(.blocks(headers))
            case .fetchLogs(let r):
                fetch = feed(.logs(r, chain.logs(r)))
            default:
                fetch = nil
            }
        }
    }

    /// The consensus-manager receives and acknowledges the oldest `count` requests in flight.
    mutating func acknowledge(_ count: Int = .max) {
        let n = min(count, network.count)
        let batch = network.prefix(n)
        network.removeFirst(n)
        for r in batch {
            let before = tracker.counters.forwarded
            feed(.forwarded(r.id))
            if tracker.counters.forwarded > before {
                #expect(acknowledged[r.id] == nil, "\(r.id) acknowledged twice")
                acknowledged[r.id] = r
            }
        }
    }

    /// The link drops: what was in flight is lost (perhaps delivered, never acknowledged).
    mutating func failLink() {
        network.removeAll()
        feed(.forwardFailed)
    }

    /// kill -9 and start again from what was persisted.
    mutating func restart() {
        network.removeAll()
        if let persisted {
            // Through the bytes, as the shell reads them back from LevelDB.
            let state = try! ChainTrackerState.decode(persisted.encoded())
            tracker = try! ChainTracker(config: tracker.config, restoring: state)
        } else {
            tracker = ChainTracker(config: tracker.config)
        }
    }

    var forwardedIDs: [UInt256] { forwards.map(\.id) }
}

extension InboxRequest {
    var tag: String { String(decoding: containerParams, as: UTF8.self) }
}
