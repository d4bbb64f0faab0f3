import EVM
import Wire

extension InboxRequest {
    /// The request as the consensus-manager receives it (`SubmitInboxRequests`); encodes to the
    /// same bytes as the request itself.
    public var record: InboxRequestRecord {
        InboxRequestRecord(
            requestID: id.bigEndianBytes, sender: sender, requestingChainID: requestingChainID,
            containerURL: containerURL, params: containerParams, sourceURLs: sourceURLs,
            targetChainID: targetChainID.bigEndianBytes, fee: fee.bigEndianBytes, confirmations: confirmations,
            chainID: origin.chainID, blockNumber: origin.blockNumber, blockHash: origin.blockHash.bytes,
            transactionHash: origin.transactionHash.bytes, logIndex: origin.logIndex)
    }

    public var key: InboxRequestKey { InboxRequestKey(chainID: origin.chainID, requestID: id.bigEndianBytes) }
}

/// How the shell turns the consensus-manager's answers into tracker inputs (pure).
public enum ForwardBatch {
    /// At most this many requests per call (`InboxWireLimits.maxBatch`).
    public static func chunks(_ requests: [InboxRequest]) -> [[InboxRequest]] {
        stride(from: 0, to: requests.count, by: InboxWireLimits.maxBatch).map {
            Array(requests[$0..<min($0 + InboxWireLimits.maxBatch, requests.count)])
        }
    }

    /// What one answer means for the tracker.
    public struct Outcome: Equatable, Sendable {
        /// Feed in order: `.forwarded(id)` for every request the consensus-manager accepted or
        /// refused (a refusal is final: another body is known under the id; sending it again
        /// cannot change that), then `.forwardFailed` if some were not taken (pool full).
        public var inputs: [ChainTracker.Input]
        public var accepted: Int
        public var refused: [InboxRequestRefusal]
        /// Sent, neither accepted nor refused: sent again later.
        public var notTaken: Int
        /// Keys in the answer that were not in the batch (a confused consensus-manager): ignored.
        public var unexpected: Int
    }

    public static func outcome(sent: [InboxRequest], ack: SubmitInboxRequestsAck) -> Outcome {
        var byKey: [InboxRequestKey: UInt256] = [:]
        for r in sent { byKey[r.key] = r.id }
        var done: Set<InboxRequestKey> = []
        var inputs: [ChainTracker.Input] = []
        var unexpected = 0
        var refused: [InboxRequestRefusal] = []
        var accepted = 0
        for key in ack.accepted {
            guard let id = byKey[key], done.insert(key).inserted else {
                unexpected += 1
                continue
            }
            accepted += 1
            inputs.append(.forwarded(id))
        }
        for refusal in ack.refused {
            guard let id = byKey[refusal.key], done.insert(refusal.key).inserted else {
                unexpected += 1
                continue
            }
            refused.append(refusal)
            inputs.append(.forwarded(id))
        }
        let notTaken = sent.count - done.count
        if notTaken > 0 { inputs.append(.forwardFailed) }
        return Outcome(inputs: inputs, accepted: accepted, refused: refused, notTaken: notTaken, unexpected: unexpected)
    }
}
