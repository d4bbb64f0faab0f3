import CryptoPrimitives
import MPCMath
import Secp256k1
import Wire

/// What a finished presigning leaves for the online phase.
struct PresignatureSecrets: Sendable {
    let keyID: [UInt8]
    let sessionID: [UInt8]
    let signers: [PartyIndex]
    let me: PartyIndex
    /// R = k⁻¹·G.
    let nonce: Point
    let k: Scalar
    let sigma: Scalar
    /// R̄_j = k_j·R and S_j = σ_j·R of every signer (checked: Σ R̄_j = G, Σ S_j = y).
    let rBar: [PartyIndex: Point]
    let bigS: [PartyIndex: Point]
    let publicKey: Point
    let identities: [PartyIndex: PublicKey]
    /// Our view of the round-5 broadcasts (`Presigning.lastRound`), echoed in the online message.
    let echo: [EchoEntry]
}

/// A presignature (GG20's offline output): single use. It is noncopyable and `sign` consumes
/// it, so the compiler refuses a second signature with the same nonce. Bound to the key id and
/// the signer set; the online message is bound to the presigning session.
public struct Presignature: ~Copyable, Sendable {
    let secrets: PresignatureSecrets

    init(secrets: PresignatureSecrets) { self.secrets = secrets }

    public var keyID: [UInt8] { secrets.keyID }
    public var signers: [PartyIndex] { secrets.signers }
    public var nonce: Point { secrets.nonce }
    /// The presigning session it came from (its online round's messages carry this id).
    public var sessionID: [UInt8] { secrets.sessionID }

    /// Online signing (GG20 Fig. 7, Phase 7 "one round"): s_i = m·k_i + r·σ_i for the 32-byte
    /// `digest`. Returns the machine that combines the shares and the broadcast carrying s_i.
    /// `sent: false` (a combiner whose own share goes to nobody: the service's online round)
    /// leaves that message unsigned; it must then never be sent, and no peer would accept it.
    public consuming func sign(
        digest: [UInt8], identityKey: PrivateKey, sent: Bool = true
    ) throws(Abort) -> (OnlineSigning, Message) {
        let s = secrets
        guard digest.count == 32 else {
            throw Abort(culprits: [], reason: .invalidArguments("digest must be 32 bytes"))
        }
        guard identityKey.publicKey == s.identities[s.me] else {
            throw Abort(culprits: [], reason: .invalidArguments("identity key does not match"))
        }
        // r = R.x mod q.
        let x = Array(s.nonce.encoded.dropFirst())
        guard let r = scalarReducing(x), !r.isZero, let m = scalarReducing(digest) else {
            throw Abort(culprits: [], reason: .internalError("degenerate nonce"))
        }
        let si = m * s.k + r * s.sigma
        var w = WireWriter()
        EchoEntry.write(s.echo, to: &w)
        w.writeFixedBytes(si.bytes)
        let share = Message(kind: .sign, sessionID: s.sessionID, round: 1, from: s.me, to: .broadcast, payload: w.bytes)
        let message = sent ? try local("sign share") { try share.signed(with: identityKey) } : share
        let machine = OnlineSigning(
            secrets: s, digest: digest, m: m, r: r, shares: [s.me: si], echoView: s.echo)
        return (machine, message)
    }
}

/// Combines the online shares (GG20 §4.3, phase 7): s = Σ s_j, low-S normalized, and verified by
/// recovering it to the group key with libsecp256k1 before it is released. Only when that
/// check fails is each share checked alone (s_j·R = m·R̄_j + r·S_j, which holds exactly for
/// s_j = m·k_j + r·σ_j: the type-7 identification), so a bad share names its sender; a signature
/// that verifies needs no per-share check (three point multiplications per share saved on the
/// online round's critical path).
public struct OnlineSigning: Sendable {
    let publicKey: Point
    let nonce: Point
    let rBar: [PartyIndex: Point]
    let bigS: [PartyIndex: Point]
    let signers: [PartyIndex]
    let header: HeaderCheck
    let digest: [UInt8]
    let m: Scalar
    let r: Scalar
    var shares: [PartyIndex: Scalar]
    let echoView: [EchoEntry]
    var result: Result<RecoverableSignature, Abort>?
    public private(set) var droppedCount = 0

    init(
        secrets s: PresignatureSecrets, digest: [UInt8], m: Scalar, r: Scalar, shares: [PartyIndex: Scalar],
        echoView: [EchoEntry]
    ) {
        publicKey = s.publicKey
        nonce = s.nonce
        rBar = s.rBar
        bigS = s.bigS
        signers = s.signers
        header = HeaderCheck(
            kind: .sign, sessionID: s.sessionID, me: s.me, parties: s.signers, identities: s.identities, rounds: 1...1)
        self.digest = digest
        self.m = m
        self.r = r
        self.shares = shares
        self.echoView = echoView
    }

    public mutating func receive(from sender: PartyIndex, _ message: Message) -> Action<RecoverableSignature> {
        switch result {
        case .failure(let abort): return .aborted(abort)
        case .success:
            droppedCount += 1
            return .wait
        case nil: break
        }
        do throws(Abort) {
            guard try header.check(message, from: sender) else {
                droppedCount += 1
                return .wait
            }
            guard case .broadcast = message.to else { throw .blame(sender, .malformed("direct message")) }
            var r = WireReader(message.payload)
            let entries: [EchoEntry]
            do { entries = try EchoEntry.read(from: &r, count: signers.count) } catch {
                throw .blame(sender, .malformed("echo: \(error)"))
            }
            // The echo of presigning's last round (5), same session id.
            try EchoEntry.verify(
                entries, echoer: sender,
                mine: Dictionary(uniqueKeysWithValues: echoView.map { ($0.party, $0) }),
                parties: signers, identities: header.identities, kind: .presign, sessionID: header.sessionID,
                round: Presigning.lastRound)
            let sj = try decodeRest(r, from: sender) { r throws(WireError) in try r.readScalar() }
            if let previous = shares[sender] {
                if previous == sj {
                    droppedCount += 1
                    return .wait
                }
                throw .blame(sender, .equivocation)
            }
            shares[sender] = sj
            guard shares.count == signers.count else { return .wait }
            let signature: RecoverableSignature
            do { signature = try combine() } catch {
                // Type-7 identification: the first share (in party order) that fails its own
                // equation is blamed; if every share holds, the failure is ours.
                if let bad = signers.first(where: { !shareHolds($0) }) { throw .blame(bad, .invalidSignatureShare) }
                throw error
            }
            result = .success(signature)
            return .finished(signature, [])
        } catch {
            result = .failure(error)
            return .aborted(error)
        }
    }

    /// s_j·R = m·R̄_j + r·S_j for party j's share.
    func shareHolds(_ j: PartyIndex) -> Bool {
        guard let sj = shares[j], let rj = rBar[j], let bigSj = bigS[j] else { return false }
        return nonce.multipliedVartime(by: sj) == rj.multipliedVartime(by: m) + bigSj.multipliedVartime(by: r)
    }

    /// s = Σ s_j; (r, s) low-S normalized with the recovery id v = parity of R.y (flipped with s);
    /// verified by recovery to y with libsecp256k1 before release.
    func combine() throws(Abort) -> RecoverableSignature {
        let s = signers.reduce(Scalar.zero) { $0 + shares[$1]! }
        // R.x < q (else r ≠ R.x and the recovery id would need bit 1, which Ethereum refuses).
        let x = Array(nonce.encoded.dropFirst())
        guard x == r.bytes, !s.isZero else { throw Abort(culprits: [], reason: .internalError("degenerate signature")) }
        var v: Int32 = nonce.encoded[0] == 0x03 ? 1 : 0
        return try local("signature") {
            let raw = try ECDSASignature(compact: r.bytes + s.bytes)
            let normalized = raw.normalized
            if normalized != raw { v ^= 1 }
            let recoverable = try RecoverableSignature(compact: normalized.compact, recoveryID: v)
            // The verification: recovery computes Q = r⁻¹(s·R − e·G) from R (x = r, parity v);
            // Q = y holds exactly when s·R = e·G + r·y, the ECDSA equation, so recovering to y
            // verifies (r, s) under y and checks v in the same step.
            guard try PublicKey.recover(recoverable, digest: digest) == publicKey.publicKey() else {
                throw Abort(culprits: [], reason: .internalError("combined signature does not verify"))
            }
            return recoverable
        }
    }
}
