import CryptoPrimitives
import Secp256k1
import Testing

@testable import TSSCore

/// `EchoEntry.verify`: who is blamed for each kind of echo entry, and that an entry equal to our
/// own view byte for byte is accepted without verifying its signature again.
@Suite("EchoCheck")
struct EchoCheckTests {
    static let sessionID = SHA256.hash(Array("echo-check".utf8))
    static let parties: [PartyIndex] = [0, 1, 2]
    static let identities = Dictionary(uniqueKeysWithValues: parties.map { ($0, Party.identity($0).publicKey) })

    /// Party j's signed entry for a payload (what its broadcast of round 5 carries).
    static func entry(_ j: PartyIndex, payload: String) -> EchoEntry {
        let hash = SHA256.hash(Array(payload.utf8))
        let digest = Message.broadcastDigest(kind: .presign, sessionID: sessionID, round: 5, from: j, payloadHash: hash)
        let signature = try! Party.identity(j).sign(digest: digest).compact
        return EchoEntry(party: j, payloadHash: hash, signature: signature)
    }

    static let view = parties.map { entry($0, payload: "payload of \($0)") }

    static func check(_ entries: [EchoEntry], mine: [EchoEntry] = view) -> Abort? {
        do throws(Abort) {
            try EchoEntry.verify(
                entries, echoer: 2, mine: Dictionary(uniqueKeysWithValues: mine.map { ($0.party, $0) }),
                parties: parties, identities: identities, kind: .presign, sessionID: sessionID, round: 5)
            return nil
        } catch {
            return error
        }
    }

    @Test func equalEchoPasses() {
        #expect(Self.check(Self.view) == nil)
    }

    @Test func anEntryEqualToOursIsNotVerifiedAgain() {
        // Our view's signatures were verified when the broadcasts arrived; a byte-equal entry adds
        // nothing. Shown with a view whose entry 1 carries a signature that would not verify.
        var view = Self.view
        view[1].signature = Array(repeating: 7, count: 64)
        #expect(Self.check(view, mine: view) == nil)
    }

    @Test func sameHashWithAnotherSignatureIsVerified() {
        var echo = Self.view
        echo[1].signature[10] ^= 1
        #expect(Self.check(echo) == Abort.blame(2, .forgedEcho))
    }

    @Test func aValidSignatureOnAnotherPayloadProvesEquivocation() {
        var echo = Self.view
        echo[0] = Self.entry(0, payload: "what party 0 told party 2")
        #expect(Self.check(echo) == Abort.blame(0, .equivocation))
    }

    @Test func aForgedEntryBlamesTheEchoer() {
        var echo = Self.view
        echo[0].payloadHash = SHA256.hash(Array("invented".utf8))
        #expect(Self.check(echo) == Abort.blame(2, .forgedEcho))
        // An entry replayed from another round is forged too.
        let otherRound = Message.broadcastDigest(
            kind: .presign, sessionID: Self.sessionID, round: 4, from: 1, payloadHash: Self.view[1].payloadHash)
        echo = Self.view
        echo[1].signature = try! Party.identity(1).sign(digest: otherRound).compact
        #expect(Self.check(echo) == Abort.blame(2, .forgedEcho))
    }

    @Test func wrongOrderIsMalformed() {
        let echo = [Self.view[1], Self.view[0], Self.view[2]]
        guard case .some(let abort) = Self.check(echo) else {
            Issue.record("accepted")
            return
        }
        #expect(abort.culprits == [2])
    }
}
