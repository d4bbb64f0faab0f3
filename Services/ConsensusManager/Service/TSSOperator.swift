import ConsensusManagerCore
import Foundation
import Logging
import NIOCore
import NIOPosix
import NodeKit
import RPC
import ServiceKit
import Synchronization
import Wire

/// The consensus-manager's side of threshold signing (issue 4):
///
/// - the operator API on the local RPC listener (loopback callers only): approve sessions, and
///   keygen / sign / reshare / re-key / keys, each recorded as an approval and then forwarded to
///   this node's tss-signer as a request tagged with a key derived from the validator key
///   (`LocalRequest`);
/// - `consensus.tssAuthorize`, which only this node's registered tss-signer may call, answered
///   from the `TSSApprovalTable`.
public final class TSSOperator: Sendable {
    let context: ServiceContext
    let logger: Logger
    let table = Mutex(TSSApprovalTable())
    private let client = Mutex<RPCClient?>(nil)
    /// Tags the requests forwarded to the tss-signer (`LocalRequest`).
    let requestKey: Result<LocalRequestKey, any Error>

    public init(context: ServiceContext) {
        self.context = context
        self.logger = context.logger
        self.requestKey = Result {
            try LocalRequestKey(validatorKey: context.validatorKey.privateKey, chainID: context.chainID)
        }
    }

    static func nowMs() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }

    public var approvals: Int { table.withLock { $0.count } }

    /// `isTSSSigner`: whether a connection is the registered tss-signer's (the registry lives in
    /// the node).
    public func register(on server: RPCServer, isTSSSigner: @escaping @Sendable (UInt64) -> Bool) {
        server.registerSync(MethodID.consensusTSSApprove, request: TSSApproveRequest.self) { [self] request, call in
            try Self.loopbackOnly(call)
            return try approve(request)
        }
        server.register(MethodID.consensusTSSKeygen, request: TSSKeygenRequest.self) { [self] request, call in
            try Self.loopbackOnly(call)
            try approve(TSSApproveRequest(kind: .keygen, keyID: request.keyID))
            let info: TSSKeyInfo = try await forward(request, method: MethodID.tssKeygen, timeout: .seconds(180))
            return info
        }
        server.register(MethodID.consensusTSSRekey, request: TSSKeyQuery.self) { [self] request, call in
            try Self.loopbackOnly(call)
            guard !request.keyID.isEmpty else { throw RPCError(.invalidArgument, "rekey needs a key id") }
            try approve(TSSApproveRequest(kind: .keygen, keyID: request.keyID))
            let info: TSSKeyInfo = try await forward(request, method: MethodID.tssRekey, timeout: .seconds(180))
            return info
        }
        // A signing's path: approved and forwarded on the event loop, the tss-signer's answer
        // passed back as it came (no task; at most the hop between the two connections' loops).
        // The forwarded call is not cancelled with this one (it ends at its own deadline).
        server.registerFuture(MethodID.consensusTSSSign) { [self] bytes, call in
            do {
                try Self.loopbackOnly(call)
                let request = try TSSSignRequest.decode(bytes)
                try approve(
                    TSSApproveRequest(
                        kind: .sign, keyID: request.keyID, purpose: request.purpose, messageHash: request.messageHash))
                return forwardRaw(request, method: MethodID.tssSign, timeout: .seconds(120), on: call.eventLoop)
            } catch let error as RPCError {
                return call.eventLoop.makeFailedFuture(error)
            } catch {
                return call.eventLoop.makeFailedFuture(RPCError(.invalidArgument, "malformed request: \(error)"))
            }
        }
        server.register(MethodID.consensusTSSReshare, request: TSSReshareRequest.self) { [self] request, call in
            try Self.loopbackOnly(call)
            try approve(TSSApproveRequest(kind: .reshare, keyID: request.keyID))
            let info: TSSKeyInfo = try await forward(request, method: MethodID.tssReshare, timeout: .seconds(300))
            return info
        }
        server.register(MethodID.consensusTSSKeys, request: TSSKeyQuery.self) { [self] request, call in
            try Self.loopbackOnly(call)
            let list: TSSKeyList = try await forward(request, method: MethodID.tssKeys, timeout: .seconds(10))
            return list
        }
        server.register(MethodID.consensusTSSStatus, request: Empty.self) { [self] request, call in
            try Self.loopbackOnly(call)
            let status: TSSStatusReply = try await forward(request, method: MethodID.tssStatus, timeout: .seconds(10))
            return status
        }
        server.registerSync(MethodID.consensusTSSAuthorize, request: TSSAuthorizeRequest.self) { [self] request, call in
            guard isTSSSigner(call.connectionID.rawValue) else {
                throw RPCError(.permissionDenied, "only this node's registered tss-signer may ask for authorization")
            }
            let reply = table.withLock { $0.authorize(request, nowMs: Self.nowMs()) }
            logger.info(
                "tss session authorization",
                metadata: [
                    "session": "\(Hex.encode(request.sessionID.prefix(8)))", "kind": "\(request.kind)",
                    "key": "\(request.keyID)", "approved": "\(reply.approved)", "reason": "\(reply.reason)",
                ])
            return reply
        }
    }

    @discardableResult
    func approve(_ request: TSSApproveRequest) throws(RPCError) -> TSSAuthorizeReply {
        let expires: UInt64
        do {
            expires = try table.withLock {
                (t: inout TSSApprovalTable) throws(TSSApprovalTable.ApprovalError) -> UInt64 in
                try t.approve(request, nowMs: Self.nowMs())
            }
        } catch {
            throw RPCError(.resourceExhausted, "\(error)")
        }
        logger.info(
            "tss session approved by the operator",
            metadata: [
                "kind": "\(request.kind)", "key": "\(request.keyID)", "purpose": "\(request.purpose)",
                "ttl_s": "\(request.ttlSeconds)",
            ])
        return TSSAuthorizeReply(approved: true, reason: "approved until \(expires) ms (Unix)")
    }

    static func loopbackOnly(_ call: RPCContext) throws(RPCError) {
        guard let address = call.remoteAddress?.ipAddress, address == "127.0.0.1" || address == "::1" else {
            throw RPCError(.permissionDenied, "the threshold-key operator API accepts loopback callers only")
        }
    }

    /// `request` tagged for this node's tss-signer with the key derived from the validator key.
    func sealed<Request: WireMessage>(_ request: Request, method: UInt16) throws(RPCError) -> [UInt8] {
        guard case .success(let key) = requestKey else {
            throw RPCError(.internal, "cannot derive the local request key")
        }
        do {
            return try LocalRequest.seal(
                request, method: method, chainID: context.chainID, key: key, nowUnixMs: Self.nowMs()
            ).encoded()
        } catch {
            throw RPCError(.internal, "cannot make the local request: \(error)")
        }
    }

    /// A failed call to the tss-signer: the connection goes when the tss-signer cannot be reached
    /// (the next call dials again). Anything that is not an `RPCError` (the event loop shutting
    /// down) counts as unreachable.
    func failed(_ error: any Error, on tss: RPCClient) -> RPCError {
        let failure = (error as? RPCError) ?? RPCError(.unavailable, "\(error)")
        if failure.code == .unavailable { drop(tss) }
        return failure
    }

    /// Sends `request` to this node's tss-signer (`sealed`), dialing it if needed; its answer's
    /// bytes, or its error unchanged.
    func forwardBytes<Request: WireMessage>(
        _ request: Request, method: UInt16, timeout: Duration
    ) async throws(RPCError) -> [UInt8] {
        let bytes = try sealed(request, method: method)
        let tss: RPCClient
        do { tss = try await connection() } catch {
            throw RPCError(.unavailable, "this node's tss-signer (\(context.config.tss.rpcListen)) is not reachable")
        }
        do {
            return try await tss.call(method: method, request: bytes, timeout: timeout)
        } catch {
            throw failed(error, on: tss)
        }
    }

    /// `forwardBytes`, decoded.
    func forward<Request: WireMessage, Response: WireMessage>(
        _ request: Request, method: UInt16, timeout: Duration
    ) async throws(RPCError) -> Response {
        let bytes = try await forwardBytes(request, method: method, timeout: timeout)
        do { return try Response.decode(bytes) } catch {
            throw RPCError(.internal, "invalid \(Response.self) in response: \(error)")
        }
    }

    /// `forwardBytes` without a task when the connection is up (the answer's bytes are passed on
    /// as they came).
    func forwardRaw<Request: WireMessage>(
        _ request: Request, method: UInt16, timeout: Duration, on eventLoop: any EventLoop
    ) -> EventLoopFuture<[UInt8]> {
        guard let tss = client.withLock({ $0 }), tss.isActive else {
            // Not connected (the first call, or after the tss-signer went away): dial in a task.
            let promise = eventLoop.makePromise(of: [UInt8].self)
            promise.completeWithTask { [self] in try await forwardBytes(request, method: method, timeout: timeout) }
            return promise.futureResult
        }
        let bytes: [UInt8]
        do { bytes = try sealed(request, method: method) } catch { return eventLoop.makeFailedFuture(error) }
        return tss.callFuture(method: method, request: bytes, timeout: TimeAmount(timeout))
            .flatMapErrorThrowing { [self] error in throw failed(error, on: tss) }
    }

    func connection() async throws -> RPCClient {
        if let existing = client.withLock({ $0 }), existing.isActive { return existing }
        let listen = context.config.tss.rpcListen
        let host = ["0.0.0.0", "::", ""].contains(listen.host) ? "127.0.0.1" : listen.host
        let fresh = try await RPCClient.connect(
            host: host, port: listen.port, group: MultiThreadedEventLoopGroup.singleton,
            maxFrameSize: context.config.rpc.maxFrameBytes, connectTimeout: .seconds(3), logger: logger)
        let winner = client.withLock { c -> RPCClient in
            if let other = c, other.isActive { return other }
            c = fresh
            return fresh
        }
        if winner !== fresh { await fresh.close() }
        return winner
    }

    func drop(_ stale: RPCClient) {
        client.withLock { if $0 === stale { $0 = nil } }
        Task { await stale.close() }
    }
}
