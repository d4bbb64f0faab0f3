import Wire

/// The service's online round with one combiner (the signing's coordinator), at a signer that is
/// not the combiner: pure. The signer sends its share (round 1 of the sign session, GG20's online
/// message, to the combiner alone) and waits for the combiner's notice (round 2) that the round
/// is over. The notice is the acknowledgement: until it comes, the session transport sends the
/// share again every resend interval (a share the combiner's node could not keep, e.g. one that
/// arrived before its session and was pushed out of the early buffer, is sent again), and at the
/// deadline the combiner alone is named (`SessionTransport.awaiting`).
///
/// The notice carries no inner signature: the envelope it travels in is signed by the combiner's
/// validator key and the transport checks that its sender is the combiner. It is no evidence
/// against anyone; "failed" only ends the signer's wait (the combiner names the culprits in its
/// own answer, with the signed shares as evidence).
public struct ShareHandover: Sendable {
    /// What the combiner's notice says.
    public enum Notice: UInt8, Sendable {
        /// It combined, verified and recovered the signature.
        case signed = 0
        /// The round ended without a signature (a share failed its check, a signer was silent,
        /// or the session was cancelled there).
        case failed = 1
    }

    /// The notice's round: the one after the shares' round.
    public static let noticeRound: UInt8 = 2

    let combiner: PartyIndex
    let sessionID: [UInt8]

    /// `sessionID`: the protocol session the online messages carry (the presigning's).
    public init(combiner: PartyIndex, sessionID: [UInt8]) {
        self.combiner = combiner
        self.sessionID = sessionID
    }

    /// The combiner's notice to the other signers when its round ends.
    public static func notice(_ notice: Notice, sessionID: [UInt8], from combiner: PartyIndex) -> Message {
        Message(
            kind: .sign, sessionID: sessionID, round: noticeRound, from: combiner, to: .broadcast,
            payload: [notice.rawValue])
    }

    /// Finishes with true when the combiner signed and false when it failed; anything else (a
    /// message of another round or from another signer) is ignored. A notice that says neither
    /// blames the combiner.
    public func receive(from sender: PartyIndex, _ message: Message) -> Action<Bool> {
        guard sender == combiner, message.from == combiner, message.kind == .sign,
            message.sessionID == sessionID, message.round == Self.noticeRound, case .broadcast = message.to
        else { return .wait }
        guard message.payload.count == 1, let notice = Notice(rawValue: message.payload[0]) else {
            return .aborted(.blame(combiner, .malformed("the combiner's notice")))
        }
        return .finished(notice == .signed, [])
    }
}
