/// Why an envelope was dropped. Each names the culprit's claim that failed.
public enum EnvelopeRejection: Error, Equatable, Sendable, CustomStringConvertible {
    /// The signature is malformed, non-canonical, or recovers to no key.
    case badSignature(String)
    /// The recovered signer is not the claimed sender.
    case signerMismatch(signer: Address, sender: Address)
    /// The envelope is for another chain.
    case wrongChain(String)
    /// The session is not one this node currently takes part in.
    case unknownSession([UInt8])
    /// The sequence is not above the last accepted for this sender and session.
    case replayed(sequence: UInt64, lastAccepted: UInt64)

    public var description: String {
        switch self {
        case .badSignature(let why): "bad signature: \(why)"
        case .signerMismatch(let signer, let sender): "signed by \(signer), claims sender \(sender)"
        case .wrongChain(let chain): "wrong chain id \"\(chain)\""
        case .unknownSession(let session): "unknown session 0x\(Hex.encode(session))"
        case .replayed(let sequence, let last): "replayed sequence \(sequence) (last accepted \(last))"
        }
    }
}

public enum EnvelopeVerdict: Equatable, Sendable {
    case accepted
    case rejected(EnvelopeRejection)
}

/// Drop counts by reason (DESIGN §3: dropped and counted, not thrown).
public struct EnvelopeCounters: Equatable, Sendable {
    public var accepted: UInt64 = 0
    public var badSignature: UInt64 = 0
    public var signerMismatch: UInt64 = 0
    public var wrongChain: UInt64 = 0
    public var unknownSession: UInt64 = 0
    public var replayed: UInt64 = 0

    public init() {}

    public var rejected: UInt64 { badSignature + signerMismatch + wrongChain + unknownSession + replayed }

    mutating func record(_ verdict: EnvelopeVerdict) {
        switch verdict {
        case .accepted: accepted &+= 1
        case .rejected(.badSignature): badSignature &+= 1
        case .rejected(.signerMismatch): signerMismatch &+= 1
        case .rejected(.wrongChain): wrongChain &+= 1
        case .rejected(.unknownSession): unknownSession &+= 1
        case .rejected(.replayed): replayed &+= 1
        }
    }
}

/// The pure half of envelope verification: given the address the signature recovered to (the
/// cryptography is done by the caller, see `EnvelopeVerifier` in `RPC`), checks in order
///
/// 1. a signer was recovered,
/// 2. it is the claimed sender,
/// 3. the chain id is ours (compared byte for byte, not by Unicode equivalence),
/// 4. the session is accepted by the policy,
/// 5. the sequence is fresh (`ReplayGuard`), which is recorded only when 1–4 passed.
public struct EnvelopeCheck: Sendable {
    public enum SessionPolicy: Sendable, Equatable {
        /// Any session (rely on the replay guard alone; see its eviction note).
        case any
        /// Only these sessions.
        case only(Set<[UInt8]>)
    }

    public let chainID: String
    public var sessions: SessionPolicy
    public private(set) var replayGuard: ReplayGuard
    public private(set) var counters = EnvelopeCounters()

    public init(chainID: String, sessions: SessionPolicy = .any, replayCapacity: Int = 4096) {
        self.chainID = chainID
        self.sessions = sessions
        self.replayGuard = ReplayGuard(capacity: replayCapacity)
    }

    /// Starts accepting `session` (switches an `.any` policy to `.only`).
    public mutating func openSession(_ session: [UInt8]) {
        switch sessions {
        case .any: sessions = .only([session])
        case .only(var set):
            set.insert(session)
            sessions = .only(set)
        }
    }

    /// Stops accepting `session` and forgets its replay state.
    public mutating func closeSession(_ session: [UInt8]) {
        if case .only(var set) = sessions {
            set.remove(session)
            sessions = .only(set)
        }
        replayGuard.forget(session: session)
    }

    /// Whether the policy accepts `session`.
    public func accepts(session: [UInt8]) -> Bool {
        switch sessions {
        case .any: true
        case .only(let set): set.contains(session)
        }
    }

    /// Checks `envelope` given the address its signature recovered to (`nil`: recovery failed),
    /// records the result in `counters` and, when accepted, in the replay guard.
    public mutating func check(_ envelope: Envelope, recoveredSigner: Address?) -> EnvelopeVerdict {
        let verdict = evaluate(envelope, recoveredSigner: recoveredSigner)
        counters.record(verdict)
        return verdict
    }

    /// Counts a rejection decided before the pure checks (e.g. a malformed signature).
    public mutating func record(_ rejection: EnvelopeRejection) -> EnvelopeVerdict {
        let verdict = EnvelopeVerdict.rejected(rejection)
        counters.record(verdict)
        return verdict
    }

    private mutating func evaluate(_ envelope: Envelope, recoveredSigner: Address?) -> EnvelopeVerdict {
        guard let signer = recoveredSigner else { return .rejected(.badSignature("no signer recovered")) }
        guard signer == envelope.sender else {
            return .rejected(.signerMismatch(signer: signer, sender: envelope.sender))
        }
        guard envelope.chainID.utf8.elementsEqual(chainID.utf8) else {
            return .rejected(.wrongChain(envelope.chainID))
        }
        guard accepts(session: envelope.session) else { return .rejected(.unknownSession(envelope.session)) }
        switch replayGuard.admit(sender: envelope.sender, session: envelope.session, sequence: envelope.sequence) {
        case .accept: return .accepted
        case .replay(let last): return .rejected(.replayed(sequence: envelope.sequence, lastAccepted: last))
        }
    }
}
