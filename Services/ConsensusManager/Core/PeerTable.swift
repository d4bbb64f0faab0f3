import Wire

/// The consensus-manager's view of its peers: the validators of the genesis, which of them have
/// proven their identity (a signed hello) on a live link and answered a signed ping recently.
///
/// Pure: the shell reports link events with the current monotonic time; `connected` and the quorum
/// check are functions of the state and `now`.
public struct PeerTable: Sendable {
    public struct Peer: Sendable, Equatable {
        public let validator: Address
        public let dialAddress: String
        public let power: UInt64
        /// Monotonic ms of the last verified hello or pong on the outbound link; nil = never / lost.
        public var lastSeenMs: UInt64?
        public var lastRoundTripUs: UInt64?
        public var linkUp: Bool
        public var dials: UInt64
        public var failures: UInt64
        public var lastError: String?
    }

    public let selfValidator: Address
    public let selfPower: UInt64
    public let timeoutMs: UInt64
    public private(set) var peers: [Address: Peer]

    public enum Error: Swift.Error, Equatable, CustomStringConvertible {
        case duplicatePeer(Address)
        case selfAsPeer(Address)

        public var description: String {
            switch self {
            case .duplicatePeer(let a): "peer \(a) is listed twice"
            case .selfAsPeer(let a): "the node's own validator \(a) is listed as a peer"
            }
        }
    }

    public init(
        selfValidator: Address, selfPower: UInt64, peers: [(validator: Address, dialAddress: String, power: UInt64)],
        timeoutMs: UInt64
    ) throws(PeerTable.Error) {
        self.selfValidator = selfValidator
        self.selfPower = selfPower
        self.timeoutMs = timeoutMs
        var table: [Address: Peer] = [:]
        for p in peers {
            guard p.validator != selfValidator else { throw .selfAsPeer(p.validator) }
            guard table[p.validator] == nil else { throw .duplicatePeer(p.validator) }
            table[p.validator] = Peer(
                validator: p.validator, dialAddress: p.dialAddress, power: p.power, lastSeenMs: nil,
                lastRoundTripUs: nil, linkUp: false, dials: 0, failures: 0, lastError: nil)
        }
        self.peers = table
    }

    public mutating func dialing(_ v: Address) {
        peers[v]?.dials &+= 1
    }

    /// The peer answered our signed hello with its own, verified against its genesis key.
    public mutating func linkEstablished(_ v: Address, nowMs: UInt64) {
        guard peers[v] != nil else { return }
        peers[v]!.linkUp = true
        peers[v]!.lastSeenMs = nowMs
        peers[v]!.lastError = nil
    }

    public mutating func pong(_ v: Address, nowMs: UInt64, roundTripUs: UInt64) {
        guard let p = peers[v], p.linkUp else { return }
        peers[v]!.lastSeenMs = max(p.lastSeenMs ?? 0, nowMs)
        peers[v]!.lastRoundTripUs = roundTripUs
    }

    public mutating func linkLost(_ v: Address, error: String?) {
        guard peers[v] != nil else { return }
        peers[v]!.linkUp = false
        peers[v]!.lastSeenMs = nil
        peers[v]!.failures &+= 1
        peers[v]!.lastError = error
    }

    public func isConnected(_ v: Address, nowMs: UInt64) -> Bool {
        guard let p = peers[v], p.linkUp, let seen = p.lastSeenMs else { return false }
        return nowMs < seen || nowMs - seen <= timeoutMs
    }

    /// Summed in 128 bits: no sum of 64-bit powers can overflow.
    public var totalPower: UInt128 { peers.values.reduce(UInt128(selfPower)) { $0 + UInt128($1.power) } }

    /// Voting power this node can reach now: its own plus its connected peers'.
    public func reachablePower(nowMs: UInt64) -> UInt128 {
        peers.values.reduce(UInt128(selfPower)) {
            $0 + (isConnected($1.validator, nowMs: nowMs) ? UInt128($1.power) : 0)
        }
    }

    /// More than 2/3 of the total voting power is reachable (the BFT quorum; Tendermint's +2/3).
    public func hasQuorum(nowMs: UInt64) -> Bool {
        let total = totalPower
        return total > 0 && reachablePower(nowMs: nowMs) * 3 > total * 2
    }

    /// Peers sorted by address, for a stable `/status`.
    public var sorted: [Peer] { peers.values.sorted { $0.validator < $1.validator } }
}
