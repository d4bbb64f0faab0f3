import Wire

/// The service's online round with one combiner (the signing's coordinator), at a signer that is
/// not the combiner: pure. The signer sends its share (round 1 of the sign session, GG20's online
/// message, to the combiner alone) and is done once the combiner's node has acknowledged it. The
/// combiner sends nothing back; it holds its session's route from before the proposals go out,
/// so a share its node accepts is in the running session (or that session is over), never in
/// a buffer it could be pushed out of. Until the acknowledgement comes, the session transport
/// sends the share again every resend interval, and at the deadline the combiner alone is named
/// (`SessionTransport.awaiting`).
///
/// What the signature became is the combiner's answer to its caller, with the signed shares as
/// evidence against a bad one; a signer has nothing to add to it.
public struct ShareHandover: Sendable {
    public let combiner: PartyIndex

    public init(combiner: PartyIndex) { self.combiner = combiner }

    /// Nothing is expected from anyone: the combiner answers nobody, and another signer's share
    /// (a peer that broadcasts the round) is not for us.
    public func receive(from sender: PartyIndex, _ message: Message) -> Action<Void> { .wait }

    /// The combiner's node acknowledged our share: the handover is over.
    public func delivered() -> Action<Void> { .finished((), []) }
}
