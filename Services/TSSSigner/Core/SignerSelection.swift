import Wire

/// Which t + 1 validators sign, as a pure decision (DESIGN §7: no clock reads, no randomness; the
/// time is passed in), so the simulator and table tests reach it. The tss-signer keeps one value
/// and asks it:
///
/// - `ownSet`: the set this node keeps presignatures for — itself and the next t parties in the
///   key's party order, wrapping around (each node a different set, so the pools of all nodes
///   together cover every party);
/// - `choose`: a fresh set for a signing without a usable pooled presignature — this node first
///   (it coordinates), then the other parties in the key's order, those that went silent within
///   `avoidMs` last, `excluding` never (the ones already found silent in this request);
/// - `markSilent` / `isAvoided`: parties named unresponsive by a session are avoided for
///   `avoidMs` (a pooled set containing one is skipped, refills for it wait).
public struct SignerSelection: Sendable, Equatable {
    public let me: Address
    /// Party → until when (ms, Unix) it is avoided.
    public private(set) var avoidUntil: [Address: UInt64] = [:]

    /// How long a silent party is avoided.
    public static let avoidMs: UInt64 = 30_000

    public init(me: Address) { self.me = me }

    /// `me` and the next `threshold` parties after it in `parties` (the key's order), sorted; nil
    /// when `me` holds no share or the key has fewer than t + 1 parties.
    /// After `missing` pooled presignatures of one set were found missing at a signer (a restart
    /// drops the leased ones, the oldest of the set everywhere), whether the coordinator tries the
    /// next pooled one (true) or presigns on the spot: at most `leases` + 1 pooled tries.
    public static func triesNextPooled(afterMissing missing: Int, leases: Int) -> Bool {
        missing >= 1 && missing <= leases
    }

    public static func ownSet(parties: [Address], me: Address, threshold: Int) -> [Address]? {
        guard threshold >= 0, threshold < parties.count, let mine = parties.firstIndex(of: me) else { return nil }
        return (0...threshold).map { parties[(mine + $0) % parties.count] }.sorted()
    }

    /// Whether a member of `set` is avoided at `nowMs`.
    public func isAvoided(_ set: [Address], nowMs: UInt64) -> Bool {
        set.contains { (avoidUntil[$0] ?? 0) > nowMs }
    }

    /// The latest time until which a member of `set` is avoided, if one is at `nowMs`.
    public func avoidedUntil(_ set: [Address], nowMs: UInt64) -> UInt64? {
        set.compactMap { avoidUntil[$0] }.filter { $0 > nowMs }.max()
    }

    /// Parties a session named unresponsive (never this node itself).
    public mutating func markSilent(_ silent: [Address], nowMs: UInt64) {
        for party in silent where party != me { avoidUntil[party] = nowMs + Self.avoidMs }
        // Expired entries are dropped: the table stays as small as the set of recent failures.
        avoidUntil = avoidUntil.filter { $0.value > nowMs }
    }

    /// t + 1 signers: this node, then the others not `excluding`, recently silent ones last;
    /// sorted. nil when this node holds no share or fewer than t others remain.
    public func choose(
        parties: [Address], threshold: Int, excluding excluded: Set<Address>, nowMs: UInt64
    ) -> [Address]? {
        guard threshold >= 0, parties.contains(me) else { return nil }
        let others = parties.filter { $0 != me && !excluded.contains($0) }
        let preferred =
            others.filter { (avoidUntil[$0] ?? 0) <= nowMs } + others.filter { (avoidUntil[$0] ?? 0) > nowMs }
        guard preferred.count >= threshold else { return nil }
        return ([me] + preferred.prefix(threshold)).sorted()
    }
}
