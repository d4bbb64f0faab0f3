import Wire

/// Which threshold-signing sessions this consensus-manager lets its tss-signer take part in
/// (issue 4). Until the PoS application exists, the only approvals are those its operator
/// submits through the local operator API; later the chain's committed requests will feed the
/// same table (as Metis' tss-server asks its PoS node for `/mpc/sign/{id}`).
///
/// Pure: time comes in as `nowMs`. An approval names a session kind and a key; for signing also
/// the purpose and the exact 32-byte digest. It serves every session that matches until it
/// expires (a coordinator may retry with another signer subset); the session ids it authorized
/// are kept (bounded) for the audit trail.
public struct TSSApprovalTable: Sendable {
    public struct Approval: Sendable, Equatable {
        public var kind: TSSSessionKind
        public var keyID: String
        public var purpose: String
        public var messageHash: [UInt8]
        public var expiresMs: UInt64
        /// Session ids authorized under this approval, oldest first (at most `maxSessionsKept`).
        public var sessions: [[UInt8]]
    }

    public enum ApprovalError: Error, Equatable, CustomStringConvertible {
        case full(Int)
        public var description: String {
            switch self {
            case .full(let max): "\(max) approvals are live; wait for some to expire"
            }
        }
    }

    public static let defaultCapacity = 10_000
    public static let maxSessionsKept = 16

    public let capacity: Int
    private var approvals: [String: Approval] = [:]
    public private(set) var authorized: UInt64 = 0
    public private(set) var refused: UInt64 = 0

    public init(capacity: Int = TSSApprovalTable.defaultCapacity) { self.capacity = capacity }

    public var count: Int { approvals.count }

    /// The lookup key: kind and key, plus purpose and digest for signing (the other kinds do not
    /// sign a message).
    static func slot(_ kind: TSSSessionKind, _ keyID: String, _ purpose: String, _ hash: [UInt8]) -> String {
        kind == .sign ? "\(kind)|\(keyID)|\(purpose)|\(Hex.encode(hash))" : "\(kind)|\(keyID)"
    }

    /// Records (or extends) an approval; returns its expiry (ms).
    @discardableResult
    public mutating func approve(_ request: TSSApproveRequest, nowMs: UInt64) throws(ApprovalError) -> UInt64 {
        let slot = Self.slot(request.kind, request.keyID, request.purpose, request.messageHash)
        let expires = nowMs + UInt64(request.ttlSeconds) * 1000
        if var existing = approvals[slot] {
            existing.expiresMs = max(existing.expiresMs, expires)
            approvals[slot] = existing
            return existing.expiresMs
        }
        if approvals.count >= capacity { prune(nowMs: nowMs) }
        guard approvals.count < capacity else { throw .full(capacity) }
        approvals[slot] = Approval(
            kind: request.kind, keyID: request.keyID, purpose: request.kind == .sign ? request.purpose : "",
            messageHash: request.kind == .sign ? request.messageHash : [UInt8](repeating: 0, count: 32),
            expiresMs: expires, sessions: [])
        return expires
    }

    /// May the tss-signer take part in this session?
    public mutating func authorize(_ request: TSSAuthorizeRequest, nowMs: UInt64) -> TSSAuthorizeReply {
        let slot = Self.slot(request.kind, request.keyID, request.purpose, request.messageHash)
        guard var approval = approvals[slot] else {
            refused += 1
            let what =
                request.kind == .sign
                ? "sign of key \(request.keyID) for purpose \"\(request.purpose)\" and hash 0x\(Hex.encode(request.messageHash))"
                : "\(request.kind) of key \(request.keyID)"
            return TSSAuthorizeReply(approved: false, reason: "no approval for \(what)")
        }
        guard approval.expiresMs > nowMs else {
            refused += 1
            approvals[slot] = nil
            return TSSAuthorizeReply(
                approved: false, reason: "the approval for \(request.kind) of \(request.keyID) expired")
        }
        if !approval.sessions.contains(request.sessionID) {
            approval.sessions.append(request.sessionID)
            if approval.sessions.count > Self.maxSessionsKept { approval.sessions.removeFirst() }
        }
        approvals[slot] = approval
        authorized += 1
        return TSSAuthorizeReply(approved: true, reason: "approved by the operator until \(approval.expiresMs) ms")
    }

    /// Drops expired approvals.
    public mutating func prune(nowMs: UInt64) {
        approvals = approvals.filter { $0.value.expiresMs > nowMs }
    }

    /// The approval for these fields, if any (for status and tests).
    public func approval(
        kind: TSSSessionKind, keyID: String, purpose: String = "", messageHash: [UInt8] = []
    ) -> Approval? {
        approvals[Self.slot(kind, keyID, purpose, messageHash)]
    }
}
