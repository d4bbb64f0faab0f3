/// Method numbers carried in the frame header (`u16`). The high byte groups methods by
/// protocol: `0x00` core, `0x01` local services ↔ consensus-manager, `0x02` validator peers.
/// Other areas allocate their ranges here so numbers never collide.
public enum MethodID {
    /// `Empty → Empty`: application-level round trip (distinct from `ping` frames).
    public static let ping: UInt16 = 0x0001

    /// `RegisterService → RegisterServiceAck`.
    public static let registerService: UInt16 = 0x0100
    /// `ServiceHeartbeat → Empty`.
    public static let heartbeat: UInt16 = 0x0101
    /// Service status query (`Empty →` the owning service's status message).
    public static let status: UInt16 = 0x0102

    /// `SubmitInboxRequests → SubmitInboxRequestsAck`: the local inbox-listener hands confirmed
    /// requests to its consensus-manager (only that service's registered connection may call it).
    public static let submitInboxRequests: UInt16 = 0x0110

    /// `ConsensusSubmitTx → ConsensusSubmitTxAck`: a transaction for the consensus mempool.
    public static let consensusSubmitTx: UInt16 = 0x0130
    /// `ConsensusBlockQuery → ConsensusBlockReply`: a committed block.
    public static let consensusGetBlock: UInt16 = 0x0131

    /// `SandboxExecuteRequest → SandboxExecuteResponse`: the local consensus-manager has the
    /// sandbox-executor run one job.
    public static let sandboxExecute: UInt16 = 0x0120
    /// `SandboxCancelRequest → SandboxCancelResponse`.
    public static let sandboxCancel: UInt16 = 0x0121

    /// `Envelope(PeerHello) → Envelope(PeerHello)`.
    public static let peerHello: UInt16 = 0x0200
    /// `Envelope(PeerPing) → Envelope(PeerPong)`.
    public static let peerPing: UInt16 = 0x0201
    /// `Envelope(consensus gossip) → Empty`: proposals, block parts, votes, transactions, status
    /// and block sync between consensus engines (the payload is `ConsensusGossip` of the
    /// consensus-manager's core), in their own envelope session.
    public static let consensusGossip: UInt16 = 0x0210

    /// Local operator API of the consensus-manager for threshold keys (loopback callers only).
    /// `TSSApproveRequest → TSSAuthorizeReply`: approve sessions (until the PoS application
    /// exists, the only approvals a consensus-manager gives).
    public static let consensusTSSApprove: UInt16 = 0x0140
    /// `TSSKeygenRequest → TSSKeyInfo`: approve the keygen and have the local tss-signer run it.
    public static let consensusTSSKeygen: UInt16 = 0x0141
    /// `TSSSignRequest → TSSSignature`: approve and have the local tss-signer coordinate it.
    public static let consensusTSSSign: UInt16 = 0x0142
    /// `TSSReshareRequest → TSSKeyInfo`.
    public static let consensusTSSReshare: UInt16 = 0x0143
    /// `TSSKeyQuery → TSSKeyInfo`: a fresh key under the same id, same parties and threshold.
    public static let consensusTSSRekey: UInt16 = 0x0144
    /// `TSSKeyQuery → TSSKeyList`: GetKey (a key id) or ListKeys (empty).
    public static let consensusTSSKeys: UInt16 = 0x0145
    /// `TSSAuthorizeRequest → TSSAuthorizeReply`: the local tss-signer (its registered
    /// connection only) asks before taking part in any session.
    public static let consensusTSSAuthorize: UInt16 = 0x0146
    /// `Empty → TSSStatusReply`: the local tss-signer's status (keys, sessions, pools, peers).
    public static let consensusTSSStatus: UInt16 = 0x0147

    /// `Envelope(tss datagram) → Empty`: one MPC datagram from a peer's tss-signer (issue 4).
    public static let tssDeliver: UInt16 = 0x0300
    /// The envelope payload type of an MPC datagram (a `SessionTransport` datagram's bytes).
    public static let tssDatagram: UInt16 = 0x0301
    /// `Envelope(TSSSessionProposal) → Empty`: a coordinator announces a session; the peer asks
    /// its own consensus-manager and joins, or refuses (`permissionDenied`, `failedPrecondition`).
    public static let tssPropose: UInt16 = 0x0302
    /// The envelope payload type of a `TSSSessionProposal`.
    public static let tssProposal: UInt16 = 0x0303
    /// `Envelope(TSSAbandon) → Empty`: the coordinator of a session gives it up; the peers that
    /// joined end their part at once.
    public static let tssAbandon: UInt16 = 0x0304
    /// The envelope payload type of a `TSSAbandon`.
    public static let tssAbandonNotice: UInt16 = 0x0305

    /// The consensus-manager → its tss-signer: each request is an `Envelope` signed with the
    /// node's validator key (payload type = the method), so only the local consensus-manager is
    /// obeyed. `Envelope(TSSKeygenRequest) → TSSKeyInfo`.
    public static let tssKeygen: UInt16 = 0x0310
    /// `Envelope(TSSSignRequest) → TSSSignature`.
    public static let tssSign: UInt16 = 0x0311
    /// `Envelope(TSSReshareRequest) → TSSKeyInfo`.
    public static let tssReshare: UInt16 = 0x0312
    /// `Envelope(TSSKeyQuery) → TSSKeyInfo`.
    public static let tssRekey: UInt16 = 0x0313
    /// `Envelope(TSSKeyQuery) → TSSKeyList`.
    public static let tssKeys: UInt16 = 0x0314
    /// `Envelope(Empty) → TSSStatusReply`.
    public static let tssStatus: UInt16 = 0x0315

    /// A readable name for logs, e.g. `"local.registerService"`, or the hex number.
    public static func name(_ method: UInt16) -> String {
        switch method {
        case ping: "ping"
        case registerService: "local.registerService"
        case heartbeat: "local.heartbeat"
        case status: "local.status"
        case submitInboxRequests: "inbox.submitRequests"
        case sandboxExecute: "sandbox.execute"
        case sandboxCancel: "sandbox.cancel"
        case tssDeliver: "tss.deliver"
        case tssPropose: "tss.propose"
        case tssAbandon: "tss.abandon"
        case tssKeygen: "tss.keygen"
        case tssSign: "tss.sign"
        case tssReshare: "tss.reshare"
        case tssRekey: "tss.rekey"
        case tssKeys: "tss.keys"
        case tssStatus: "tss.status"
        case consensusTSSStatus: "consensus.tssStatus"
        case consensusTSSApprove: "consensus.tssApprove"
        case consensusTSSKeygen: "consensus.tssKeygen"
        case consensusTSSSign: "consensus.tssSign"
        case consensusTSSReshare: "consensus.tssReshare"
        case consensusTSSRekey: "consensus.tssRekey"
        case consensusTSSKeys: "consensus.tssKeys"
        case consensusTSSAuthorize: "consensus.tssAuthorize"
        case peerHello: "p2p.hello"
        case peerPing: "p2p.ping"
        case consensusSubmitTx: "consensus.submitTx"
        case consensusGetBlock: "consensus.getBlock"
        case consensusGossip: "p2p.consensusGossip"
        default: "0x" + Hex.encode([UInt8(method >> 8), UInt8(method & 0xff)])
        }
    }
}
