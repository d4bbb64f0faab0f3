import ConsensusManagerCore
import Testing
import Wire

/// The consensus-manager's approvals of threshold-signing sessions (issue 4).
@Suite struct TSSApprovalTableTests {
    static let digest = [UInt8](repeating: 0x42, count: 32)

    static func ask(
        _ kind: TSSSessionKind, _ key: String = "k1", purpose: String = "batch", hash: [UInt8] = digest,
        session: UInt8 = 1
    ) -> TSSAuthorizeRequest {
        TSSAuthorizeRequest(
            sessionID: [UInt8](repeating: session, count: 32), kind: kind, keyID: key, purpose: purpose,
            messageHash: hash)
    }

    @Test func signingNeedsTheExactKeyPurposeAndDigest() throws {
        var table = TSSApprovalTable()
        #expect(!table.authorize(Self.ask(.sign), nowMs: 0).approved)
        try table.approve(
            TSSApproveRequest(kind: .sign, keyID: "k1", purpose: "batch", messageHash: Self.digest, ttlSeconds: 10),
            nowMs: 1_000)
        #expect(table.authorize(Self.ask(.sign), nowMs: 2_000).approved)
        #expect(!table.authorize(Self.ask(.sign, "k2"), nowMs: 2_000).approved)
        #expect(!table.authorize(Self.ask(.sign, purpose: "other"), nowMs: 2_000).approved)
        #expect(!table.authorize(Self.ask(.sign, hash: [UInt8](repeating: 1, count: 32)), nowMs: 2_000).approved)
        #expect(!table.authorize(Self.ask(.presign), nowMs: 2_000).approved)
        // Several sessions (a retry with another subset) under one approval, each remembered once.
        #expect(table.authorize(Self.ask(.sign, session: 2), nowMs: 3_000).approved)
        #expect(table.authorize(Self.ask(.sign, session: 2), nowMs: 3_000).approved)
        #expect(
            table.approval(kind: .sign, keyID: "k1", purpose: "batch", messageHash: Self.digest)?.sessions.count == 2)
        // Expired.
        let late = table.authorize(Self.ask(.sign), nowMs: 11_001)
        #expect(!late.approved && late.reason.contains("expired"))
        #expect(table.count == 0)
    }

    @Test func otherKindsIgnorePurposeAndDigest() throws {
        var table = TSSApprovalTable()
        try table.approve(TSSApproveRequest(kind: .presign, keyID: "k1", ttlSeconds: 60), nowMs: 0)
        try table.approve(TSSApproveRequest(kind: .keygen, keyID: "k2", ttlSeconds: 60), nowMs: 0)
        #expect(
            table.authorize(Self.ask(.presign, purpose: "", hash: [UInt8](repeating: 0, count: 32)), nowMs: 1).approved)
        #expect(table.authorize(Self.ask(.presign, purpose: "anything"), nowMs: 1).approved)
        #expect(table.authorize(Self.ask(.keygen, "k2"), nowMs: 1).approved)
        #expect(!table.authorize(Self.ask(.keygen, "k1"), nowMs: 1).approved)
        #expect(!table.authorize(Self.ask(.reshare, "k1"), nowMs: 1).approved)
        // Approving again extends, never shortens.
        try table.approve(TSSApproveRequest(kind: .presign, keyID: "k1", ttlSeconds: 1), nowMs: 0)
        #expect(table.authorize(Self.ask(.presign), nowMs: 30_000).approved)
    }

    @Test func boundedWithExpiredOnesPrunedFirst() throws {
        var table = TSSApprovalTable(capacity: 2)
        try table.approve(TSSApproveRequest(kind: .keygen, keyID: "a", ttlSeconds: 1), nowMs: 0)
        try table.approve(TSSApproveRequest(kind: .keygen, keyID: "b", ttlSeconds: 100), nowMs: 0)
        #expect(throws: TSSApprovalTable.ApprovalError.full(2)) {
            try table.approve(TSSApproveRequest(kind: .keygen, keyID: "c", ttlSeconds: 100), nowMs: 500)
        }
        // Once "a" expired, there is room.
        try table.approve(TSSApproveRequest(kind: .keygen, keyID: "c", ttlSeconds: 100), nowMs: 2_000)
        #expect(table.count == 2)
        #expect(table.authorize(Self.ask(.keygen, "c"), nowMs: 2_001).approved)
    }

    @Test func auditTrailIsBoundedAndReasonsNameWhatIsMissing() throws {
        var table = TSSApprovalTable()
        try table.approve(TSSApproveRequest(kind: .presign, keyID: "k1", ttlSeconds: 60), nowMs: 0)
        let many = TSSApprovalTable.maxSessionsKept + 5
        for session in 1...many {
            #expect(table.authorize(Self.ask(.presign, session: UInt8(session)), nowMs: 1).approved)
        }
        // The newest sessions are kept, the oldest dropped.
        let kept = try #require(table.approval(kind: .presign, keyID: "k1")).sessions
        #expect(kept.count == TSSApprovalTable.maxSessionsKept)
        #expect(kept.first == [UInt8](repeating: UInt8(many - TSSApprovalTable.maxSessionsKept + 1), count: 32))
        #expect(kept.last == [UInt8](repeating: UInt8(many), count: 32))
        #expect(table.authorized == UInt64(many))

        let wrongKind = table.authorize(Self.ask(.reshare), nowMs: 1)
        #expect(!wrongKind.approved && wrongKind.reason == "no approval for reshare of key k1")
        let unsigned = table.authorize(Self.ask(.sign, "k9", purpose: "batch"), nowMs: 1)
        #expect(!unsigned.approved && unsigned.reason.contains("sign of key k9 for purpose \"batch\""))
        #expect(unsigned.reason.contains(Hex.encode(Self.digest)))
        #expect(table.refused == 2)
    }
}
