import HTTPFetch
import Synchronization
import Wire

/// Settings of one chain's JSON-RPC client.
public struct EthereumRPCConfiguration: Sendable {
    /// HTTP(S) URLs of endpoints serving the same chain, in order of preference.
    public var endpoints: [String]
    /// When set, each endpoint's `eth_chainId` is checked before its first use; an endpoint on
    /// another chain is never used, and transactions for another chain are refused.
    public var expectedChainID: UInt64?
    /// Limit for one HTTP exchange (connect + request + response).
    public var requestTimeout: Duration
    public var connectTimeout: Duration
    /// Largest response body accepted.
    public var maxResponseBytes: Int
    /// Attempts per call, over all endpoints (1 = no retry). Only transport failures, HTTP
    /// errors and malformed responses are retried; JSON-RPC error objects are answers.
    public var maxAttempts: Int
    /// Delay before the second attempt; doubled for each further one, capped at `maxBackoff`
    /// (each delay is jittered down to half).
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    /// Most requests in one batch.
    public var maxBatchSize: Int

    public init(
        endpoints: [String], expectedChainID: UInt64? = nil, requestTimeout: Duration = .seconds(10),
        connectTimeout: Duration = .seconds(3), maxResponseBytes: Int = 32 << 20, maxAttempts: Int = 4,
        initialBackoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(2), maxBatchSize: Int = 256
    ) {
        self.endpoints = endpoints
        self.expectedChainID = expectedChainID
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
        self.maxResponseBytes = maxResponseBytes
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.maxBatchSize = maxBatchSize
    }
}

public enum EthereumRPCError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The server answered with a JSON-RPC error object.
    case rpc(method: String, code: Int, message: String, data: JSONValue?)
    /// The HTTP exchange failed (connect, timeout, size cap …). `endpoint` is host:port only.
    case transport(endpoint: String, HTTPFetchError)
    /// A non-200 HTTP status without a JSON-RPC error body.
    case httpStatus(endpoint: String, status: Int)
    /// The body is not a valid JSON-RPC response, or the result does not have the promised shape.
    case malformedResponse(endpoint: String, method: String, reason: String)
    /// The endpoint serves another chain; it is not used again.
    case wrongChain(endpoint: String, expected: UInt64, got: UInt64)
    /// Every endpoint is on the wrong chain.
    case noUsableEndpoint
    /// A request this client refuses to send (bad arguments, a transaction for another chain).
    case invalidRequest(String)
    case cancelled

    /// Worth another attempt, possibly on another endpoint.
    public var isRetryable: Bool {
        switch self {
        case .transport, .httpStatus, .malformedResponse, .wrongChain: true
        case .rpc, .noUsableEndpoint, .invalidRequest, .cancelled: false
        }
    }

    /// For `.rpc` errors whose data carries `Error(string)` revert data: the reason.
    public var revertReason: String? {
        guard case .rpc(_, _, _, let data) = self, let text = data?.stringValue,
            let bytes = try? EVMHex.data(text)
        else { return nil }
        return ABI.decodeRevertReason(bytes)
    }

    public var description: String {
        switch self {
        case .rpc(let method, let code, let message, let data):
            "\(method): JSON-RPC error \(code): \(message)"
                + (data.map { " (data \(String(describing: $0).prefix(200)))" } ?? "")
        case .transport(let endpoint, let e): "\(endpoint): \(e)"
        case .httpStatus(let endpoint, let status): "\(endpoint): HTTP status \(status)"
        case .malformedResponse(let endpoint, let method, let reason):
            "\(endpoint): \(method): malformed response: \(reason)"
        case .wrongChain(let endpoint, let expected, let got): "\(endpoint): serves chain \(got), expected \(expected)"
        case .noUsableEndpoint: "no endpoint serves the expected chain"
        case .invalidRequest(let m): "invalid request: \(m)"
        case .cancelled: "cancelled"
        }
    }
}

/// One JSON-RPC call for `EthereumRPC.batch`.
public struct RPCRequest: Hashable, Sendable {
    public var method: String
    public var params: [JSONValue]

    public init(method: String, params: [JSONValue] = []) {
        self.method = method
        self.params = params
    }
}

/// Per-endpoint counters (for `/status` and logs).
public struct RPCEndpointStatus: Sendable, Hashable {
    /// host:port (URLs may carry credentials and are never shown).
    public var name: String
    public var requests: Int
    public var failures: Int
    public var consecutiveFailures: Int
    public var lastError: String?
    /// The chain id was checked and matches (always false when no chain id is expected).
    public var chainVerified: Bool
    /// On the wrong chain: never used again.
    public var disabled: Bool
}

/// A JSON-RPC client for one EVM chain over libcurl (`HTTPFetch`): several endpoints with
/// failover, retries with exponential backoff for transport failures only, per-endpoint chain-id
/// checks, batches, strict decoding of every response. Safe to share between tasks.
public final class EthereumRPC: Sendable {
    public let configuration: EthereumRPCConfiguration
    private let http = HTTPFetchClient()
    private let names: [String]
    private let state: Mutex<State>
    private let observer: (@Sendable (RPCEndpointStatus, EthereumRPCError) -> Void)?

    private struct State {
        var preferred = 0
        var nextID = 1
        var endpoints: [RPCEndpointStatus]
    }

    /// `observer` hears about every failed attempt (for logging), with the endpoint's counters.
    public init(
        _ configuration: EthereumRPCConfiguration,
        observer: (@Sendable (RPCEndpointStatus, EthereumRPCError) -> Void)? = nil
    ) throws(EthereumRPCError) {
        guard !configuration.endpoints.isEmpty else { throw .invalidRequest("no endpoints") }
        guard configuration.maxAttempts >= 1, configuration.maxBatchSize >= 1 else {
            throw .invalidRequest("maxAttempts and maxBatchSize must be at least 1")
        }
        if let id = configuration.expectedChainID, id > UnsignedTransaction.maxChainID {
            throw .invalidRequest("expected chain id too large")
        }
        self.configuration = configuration
        names = configuration.endpoints.enumerated().map { EthereumRPC.displayName($1, index: $0) }
        state = Mutex(
            State(
                endpoints: names.map {
                    RPCEndpointStatus(
                        name: $0, requests: 0, failures: 0, consecutiveFailures: 0, lastError: nil,
                        chainVerified: false,
                        disabled: false)
                }))
        self.observer = observer
    }

    /// host[:port] of a URL, without scheme, credentials, path or query.
    static func displayName(_ url: String, index: Int) -> String {
        var rest = Substring(url)
        if let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://") {
            rest = rest[rest.index(colon, offsetBy: 3)...]
        }
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        return rest.isEmpty ? "endpoint-\(index)" : String(rest)
    }

    /// Counters of every endpoint, in configuration order.
    public var endpointStatus: [RPCEndpointStatus] { state.withLock { $0.endpoints } }

    // MARK: Methods (DESIGN §6)

    public func chainID() async throws(EthereumRPCError) -> UInt64 {
        try await request("eth_chainId", []) { try EVMHex.uint64(Self.string($0)) }
    }

    public func blockNumber() async throws(EthereumRPCError) -> UInt64 {
        try await request("eth_blockNumber", []) { try EVMHex.uint64(Self.string($0)) }
    }

    /// The block with its transaction hashes; nil when the block does not exist (yet).
    public func block(_ tag: BlockTag) async throws(EthereumRPCError) -> Block? {
        try await request("eth_getBlockByNumber", [tag.json, .bool(false)]) { $0.isNull ? nil : try Block(json: $0) }
    }

    public func logs(_ filter: LogFilter) async throws(EthereumRPCError) -> [Log] {
        try await request("eth_getLogs", [filter.json]) { try Self.logs($0) }
    }

    /// Decodes an `eth_getLogs` result (also for batched calls).
    public static func logs(_ value: JSONValue) throws(RPCDecodingError) -> [Log] {
        guard let items = value.arrayValue else { throw RPCDecodingError("result is not an array") }
        var logs: [Log] = []
        logs.reserveCapacity(items.count)
        for item in items { logs.append(try Log(json: item)) }
        return logs
    }

    public func transactionCount(
        _ address: Address, at tag: BlockTag = .pending
    ) async throws(EthereumRPCError) -> UInt64 {
        try await request("eth_getTransactionCount", [.string(address.description), tag.json]) {
            try EVMHex.uint64(Self.string($0))
        }
    }

    /// nil while the transaction is not mined (or unknown).
    public func transactionReceipt(_ hash: Hash32) async throws(EthereumRPCError) -> TransactionReceipt? {
        try await request("eth_getTransactionReceipt", [.string(hash.description)]) {
            $0.isNull ? nil : try TransactionReceipt(json: $0)
        }
    }

    /// The call's return data. A revert is an `.rpc` error (see `EthereumRPCError.revertReason`).
    public func call(_ call: CallRequest, at tag: BlockTag = .latest) async throws(EthereumRPCError) -> [UInt8] {
        try await request("eth_call", [call.json, tag.json]) { try EVMHex.data(Self.string($0)) }
    }

    public func estimateGas(_ call: CallRequest, at tag: BlockTag? = nil) async throws(EthereumRPCError) -> UInt64 {
        try await request("eth_estimateGas", [call.json] + (tag.map { [$0.json] } ?? [])) {
            try EVMHex.uint64(Self.string($0))
        }
    }

    public func feeHistory(
        blockCount: UInt64, newest: BlockTag = .latest, rewardPercentiles: [Double] = []
    ) async throws(EthereumRPCError) -> FeeHistory {
        guard rewardPercentiles.allSatisfy({ $0 >= 0 && $0 <= 100 }),
            zip(rewardPercentiles, rewardPercentiles.dropFirst()).allSatisfy({ $0 <= $1 })
        else { throw .invalidRequest("reward percentiles must be increasing values in 0...100") }
        let percentiles = JSONValue.array(rewardPercentiles.map { .number(String($0)) })
        return try await request("eth_feeHistory", [.string(EVMHex.quantity(blockCount)), newest.json, percentiles]) {
            try FeeHistory(json: $0)
        }
    }

    /// Broadcasts a signed transaction and returns its hash. Refuses a transaction for another
    /// chain than `expectedChainID` (and an unprotected one when a chain id is expected).
    ///
    /// A send is never blindly repeated: after a failure that leaves open whether the node got
    /// the transaction (timeout, dropped connection, garbage answer), the client first asks
    /// whether the chain knows the hash, and only re-sends (the same bytes, so at worst a
    /// duplicate the pool drops) when it does not. A JSON-RPC error after such an ambiguous
    /// attempt ("already known", "nonce too low") is likewise checked against the chain first.
    public func sendRawTransaction(_ transaction: SignedTransaction) async throws(EthereumRPCError) -> Hash32 {
        if let expected = configuration.expectedChainID, transaction.transaction.chainID != expected {
            throw .invalidRequest(
                "transaction for chain \(transaction.transaction.chainID.map(String.init) ?? "none"), client for \(expected)"
            )
        }
        let params: [JSONValue] = [.string(EVMHex.encode(transaction.rawBytes))]
        var ambiguous = false
        var lastError: EthereumRPCError = .noUsableEndpoint
        for attempt in 0..<configuration.maxAttempts {
            if attempt > 0 { try await backoff(attempt: attempt) }
            guard let index = pickEndpoint() else { throw lastError }
            do throws(EthereumRPCError) {
                try await ensureChain(index)
                let result = try await exchange(index, method: "eth_sendRawTransaction", params: params)
                guard let text = result.stringValue, let hash = try? Hash32(hex: text), hash == transaction.hash else {
                    throw EthereumRPCError.malformedResponse(
                        endpoint: names[index], method: "eth_sendRawTransaction",
                        reason: "result is not this transaction's hash \(transaction.hash)")
                }
                recordSuccess(index)
                return hash
            } catch .rpc(let method, let code, let message, let data) {
                recordSuccess(index)  // the endpoint works; the node rejected the transaction
                if ambiguous, await isKnown(transaction.hash) { return transaction.hash }
                throw .rpc(method: method, code: code, message: message, data: data)
            } catch let error where error.isRetryable {
                recordFailure(index, error)
                lastError = error
                ambiguous = true
                if await isKnown(transaction.hash) { return transaction.hash }
            } catch {
                throw error
            }
        }
        throw lastError
    }

    /// Decodes (and so validates) raw bytes first, then sends them as above.
    public func sendRawTransaction(_ raw: [UInt8]) async throws(EthereumRPCError) -> Hash32 {
        let transaction: SignedTransaction
        do {
            transaction = try SignedTransaction.decode(raw, expectedChainID: configuration.expectedChainID)
        } catch {
            throw .invalidRequest("raw transaction: \(error)")
        }
        return try await sendRawTransaction(transaction)
    }

    /// Whether any endpoint knows the transaction (pending or mined). Failures count as "not
    /// known". `eth_getTransactionByHash`, or the receipt where that method is missing.
    private func isKnown(_ hash: Hash32) async -> Bool {
        let params: [JSONValue] = [.string(hash.description)]
        for index in usableEndpoints() {
            do {
                let tx = try await exchange(index, method: "eth_getTransactionByHash", params: params)
                if !tx.isNull { return true }
            } catch .rpc(_, let code, _, _) where code == -32601 {
                if let receipt = try? await exchange(index, method: "eth_getTransactionReceipt", params: params),
                    !receipt.isNull
                {
                    return true
                }
            } catch {
                continue
            }
        }
        return false
    }

    /// Sends up to `maxBatchSize` calls in one HTTP request. The whole batch is retried on
    /// transport failures (so it must not contain sends); each call's JSON-RPC error is its own.
    public func batch(_ requests: [RPCRequest]) async throws(EthereumRPCError) -> [Result<JSONValue, EthereumRPCError>]
    {
        if requests.isEmpty { return [] }
        guard requests.count <= configuration.maxBatchSize else {
            throw .invalidRequest("batch of \(requests.count) calls (at most \(configuration.maxBatchSize))")
        }
        guard !requests.contains(where: { $0.method == "eth_sendRawTransaction" || $0.method == "eth_sendTransaction" })
        else { throw .invalidRequest("sends are not batched (they are not retried blindly)") }
        return try await withRetries { (index) async throws(EthereumRPCError) in
            try await self.exchangeBatch(index, requests)
        }
    }

    /// One call with retries and failover; the raw `result`.
    public func call(_ method: String, _ params: [JSONValue] = []) async throws(EthereumRPCError) -> JSONValue {
        guard method != "eth_sendRawTransaction", method != "eth_sendTransaction" else {
            throw .invalidRequest("use sendRawTransaction (sends are not retried blindly)")
        }
        return try await request(method, params) { $0 }
    }

    // MARK: Retries and failover

    private func withRetries<T>(
        _ operation: (Int) async throws(EthereumRPCError) -> T
    ) async throws(EthereumRPCError) -> T {
        var lastError: EthereumRPCError = .noUsableEndpoint
        for attempt in 0..<configuration.maxAttempts {
            if attempt > 0 { try await backoff(attempt: attempt) }
            guard let index = pickEndpoint() else { throw lastError }
            do throws(EthereumRPCError) {
                try await ensureChain(index)
                let value = try await operation(index)
                recordSuccess(index)
                return value
            } catch let error where error.isRetryable {
                recordFailure(index, error)
                lastError = error
            } catch .rpc(let method, let code, let message, let data) {
                recordSuccess(index)
                throw .rpc(method: method, code: code, message: message, data: data)
            } catch {
                throw error
            }
        }
        throw lastError
    }

    private func backoff(attempt: Int) async throws(EthereumRPCError) {
        let exponent = min(attempt - 1, 20)
        var delay = configuration.initialBackoff * (1 << exponent)
        if delay > configuration.maxBackoff { delay = configuration.maxBackoff }
        delay = delay * Double.random(in: 0.5...1.0)
        do { try await Task.sleep(for: delay) } catch { throw .cancelled }
    }

    private func usableEndpoints() -> [Int] {
        state.withLock { s in
            let n = s.endpoints.count
            return (0..<n).map { (s.preferred + $0) % n }.filter { !s.endpoints[$0].disabled }
        }
    }

    /// The preferred endpoint (the last one that worked), skipping disabled ones.
    private func pickEndpoint() -> Int? { usableEndpoints().first }

    private func recordSuccess(_ index: Int) {
        state.withLock { s in
            s.endpoints[index].requests += 1
            s.endpoints[index].consecutiveFailures = 0
        }
    }

    /// Counts the failure and moves the preference to the next endpoint (failover).
    private func recordFailure(_ index: Int, _ error: EthereumRPCError) {
        let status = state.withLock { s in
            s.endpoints[index].requests += 1
            s.endpoints[index].failures += 1
            s.endpoints[index].consecutiveFailures += 1
            s.endpoints[index].lastError = error.description
            if case .wrongChain = error { s.endpoints[index].disabled = true }
            if s.preferred == index { s.preferred = (index + 1) % s.endpoints.count }
            return s.endpoints[index]
        }
        observer?(status, error)
    }

    /// Checks the endpoint's chain id once (when one is expected).
    private func ensureChain(_ index: Int) async throws(EthereumRPCError) {
        guard let expected = configuration.expectedChainID else { return }
        if state.withLock({ $0.endpoints[index].chainVerified }) { return }
        let result = try await exchange(index, method: "eth_chainId", params: [])
        guard let text = result.stringValue, let id = try? EVMHex.uint64(text) else {
            throw .malformedResponse(endpoint: names[index], method: "eth_chainId", reason: "result is not a quantity")
        }
        guard id == expected else { throw .wrongChain(endpoint: names[index], expected: expected, got: id) }
        state.withLock { $0.endpoints[index].chainVerified = true }
    }

    // MARK: One HTTP exchange

    private func nextIDs(_ count: Int) -> Range<Int> {
        state.withLock { s in
            let start = s.nextID
            s.nextID += count
            return start..<(start + count)
        }
    }

    private static func requestObject(_ method: String, _ params: [JSONValue], id: Int) -> JSONValue {
        .object(["jsonrpc": .string("2.0"), "id": .number(id), "method": .string(method), "params": .array(params)])
    }

    private func post(_ index: Int, _ body: [UInt8]) async throws(EthereumRPCError) -> (status: Int, body: [UInt8]) {
        let request = HTTPRequest(
            url: configuration.endpoints[index], method: "POST",
            headers: [("Content-Type", "application/json"), ("Accept", "application/json")], body: body,
            timeout: configuration.requestTimeout, connectTimeout: configuration.connectTimeout,
            stallTimeout: configuration.requestTimeout, maxResponseBytes: configuration.maxResponseBytes,
            maxRedirects: 0)
        do {
            let response = try await http.perform(request)
            return (response.status, response.body)
        } catch .cancelled {
            throw .cancelled
        } catch {
            throw .transport(endpoint: names[index], error)
        }
    }

    private func exchange(_ index: Int, method: String, params: [JSONValue]) async throws(EthereumRPCError) -> JSONValue
    {
        let id = nextIDs(1).lowerBound
        let (status, body) = try await post(index, Self.requestObject(method, params, id: id).serializedBytes())
        guard let json = try? JSONValue.parse(body) else {
            if status != 200 { throw .httpStatus(endpoint: names[index], status: status) }
            throw .malformedResponse(endpoint: names[index], method: method, reason: "body is not JSON")
        }
        do {
            return try Self.unwrap(json, id: id, method: method)
        } catch {
            switch error {
            case .rpc(let error): throw error
            case .decoding(let error):
                if status != 200 { throw .httpStatus(endpoint: names[index], status: status) }
                throw .malformedResponse(endpoint: names[index], method: method, reason: error.reason)
            }
        }
    }

    private enum ErrorOrDecoding: Error {
        case rpc(EthereumRPCError)
        case decoding(RPCDecodingError)
    }

    /// A response's result, or its error object (`.rpc`); `.decoding` for protocol violations.
    private static func unwrap(_ json: JSONValue, id: Int?, method: String) throws(ErrorOrDecoding) -> JSONValue {
        guard case .object(let o) = json else { throw .decoding(RPCDecodingError("response is not an object")) }
        guard o["jsonrpc"] == .string("2.0") else { throw .decoding(RPCDecodingError("jsonrpc is not \"2.0\"")) }
        // An error may carry a null id (JSON-RPC 2.0 §5: the request's id could not be read).
        if let id, o["id"] != .number(id), !(o["id"] == .null && o["result"] == nil) {
            throw .decoding(RPCDecodingError("response id does not match"))
        }
        switch (o["result"], o["error"]) {
        case (let result?, nil):
            return result
        case (nil, let error?):
            guard case .object(let e) = error, let code = e["code"]?.intValue, let message = e["message"]?.stringValue
            else { throw .decoding(RPCDecodingError("error object without integer code and string message")) }
            throw .rpc(.rpc(method: method, code: code, message: message, data: e["data"]))
        default:
            throw .decoding(RPCDecodingError("response must hold exactly one of result and error"))
        }
    }

    private func exchangeBatch(
        _ index: Int, _ requests: [RPCRequest]
    ) async throws(EthereumRPCError) -> [Result<JSONValue, EthereumRPCError>] {
        let ids = Array(nextIDs(requests.count))
        let body = JSONValue.array(zip(requests, ids).map { Self.requestObject($0.method, $0.params, id: $1) })
        let (status, responseBody) = try await post(index, body.serializedBytes())
        let malformed = { (reason: String) in
            EthereumRPCError.malformedResponse(endpoint: self.names[index], method: "batch", reason: reason)
        }
        guard let json = try? JSONValue.parse(responseBody) else {
            if status != 200 { throw .httpStatus(endpoint: names[index], status: status) }
            throw malformed("body is not JSON")
        }
        guard case .array(let items) = json else {
            // A single error object answers the whole batch (e.g. batches not supported).
            if case .object = json {
                do {
                    _ = try Self.unwrap(json, id: nil, method: "batch")
                } catch {
                    switch error {
                    case .rpc(let e): throw e
                    case .decoding(let e):
                        throw status != 200 ? .httpStatus(endpoint: names[index], status: status) : malformed(e.reason)
                    }
                }
            }
            throw malformed("batch response is not an array")
        }
        guard items.count == requests.count else {
            throw malformed("\(items.count) responses for \(requests.count) requests")
        }
        var byID: [Int: Result<JSONValue, EthereumRPCError>] = [:]
        for item in items {
            guard let id = item["id"]?.intValue, let position = ids.firstIndex(of: id), byID[id] == nil else {
                throw malformed("response with an unknown or repeated id")
            }
            do {
                byID[id] = .success(try Self.unwrap(item, id: id, method: requests[position].method))
            } catch {
                switch error {
                case .rpc(let e): byID[id] = .failure(e)
                case .decoding(let e): throw malformed(e.reason)
                }
            }
        }
        return ids.map { byID[$0]! }
    }

    // MARK: Result decoding

    private static func string(_ value: JSONValue) throws(RPCDecodingError) -> String {
        guard let s = value.stringValue else { throw RPCDecodingError("result is not a string") }
        return s
    }

    /// One call with retries and failover, its result decoded inside the attempt: a result of
    /// the wrong shape counts against that endpoint and fails over like a transport error.
    private func request<T>(
        _ method: String, _ params: [JSONValue], _ decode: @escaping (JSONValue) throws -> T
    ) async throws(EthereumRPCError) -> T {
        try await withRetries { (index) async throws(EthereumRPCError) in
            let result = try await self.exchange(index, method: method, params: params)
            do {
                return try decode(result)
            } catch {
                throw .malformedResponse(endpoint: self.names[index], method: method, reason: String(describing: error))
            }
        }
    }
}
