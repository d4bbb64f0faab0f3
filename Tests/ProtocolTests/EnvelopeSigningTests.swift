import CryptoPrimitives
import Secp256k1
import Testing
import Wire

@testable import RPC

@Suite("Envelope signing")
struct EnvelopeSigningTests {
    let key = try! PrivateKey(bytes: Array(repeating: 0, count: 31) + [1])
    let other = try! PrivateKey(bytes: Array(repeating: 0, count: 31) + [2])
    let session = Array("keygen-01".utf8)

    func sign(
        _ sequence: UInt64, key: PrivateKey? = nil, chain: String = "vn-devnet-1", session: [UInt8]? = nil
    ) throws -> Envelope {
        try Envelope.signed(
            chainID: chain, session: session ?? self.session, round: 1, sequence: sequence,
            payloadType: 0x0301, payload: PeerPing(nonce: sequence), key: key ?? self.key)
    }

    @Test func signedEnvelopeVerifies() throws {
        let envelope = try sign(1)
        // Private key 1 → the well-known address of the generator point.
        #expect(envelope.sender.description == "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf")
        #expect(try envelope.recoverSigner() == envelope.sender)
        var verifier = EnvelopeVerifier(chainID: "vn-devnet-1")
        #expect(verifier.verify(envelope) == .accepted)
        // Survives the wire.
        #expect(verifier.verify(try Envelope.decode(try sign(2).encoded())) == .accepted)
        #expect(verifier.counters.accepted == 2)
    }

    @Test func signingIsDeterministicAndFrozen() throws {
        // RFC 6979 nonces: the same envelope always gets the same signature; the fixture freezes
        // digest and signature (checked independently, see Fixtures/Envelope.signed.hex).
        let envelope = try sign(7)
        #expect(try sign(7) == envelope)
        let bytes = try fixture("Envelope.signed")
        #expect(envelope.encoded() == bytes)
        #expect(try Envelope.decode(bytes) == envelope)
    }

    @Test func tamperedFieldsAreRejected() throws {
        let envelope = try sign(1)
        var verifier = EnvelopeVerifier(chainID: "vn-devnet-1")
        // Change the payload, keep the signature: recovers to some other address (or nothing).
        let tampered = try Envelope(
            chainID: envelope.chainID, sender: envelope.sender, session: envelope.session,
            round: envelope.round, sequence: envelope.sequence, payloadType: envelope.payloadType,
            payload: [0], signature: envelope.signature)
        switch verifier.verify(tampered) {
        case .rejected(.signerMismatch), .rejected(.badSignature): break
        case let other: Issue.record("tampered envelope: \(other)")
        }
        // Claim another sender.
        let impostor = try Envelope(
            chainID: envelope.chainID, sender: try Address(bytes: other.publicKey.ethereumAddressBytes),
            session: envelope.session, round: envelope.round, sequence: envelope.sequence,
            payloadType: envelope.payloadType, payload: envelope.payload, signature: envelope.signature)
        // The sender is signed too, so the signature recovers to an unrelated address.
        switch verifier.verify(impostor) {
        case .rejected(.signerMismatch(let signer, let sender)):
            #expect(sender == impostor.sender && signer != impostor.sender)
        case let other: Issue.record("impostor: \(other)")
        }
        // Garbage signature.
        let garbage = try envelope.withSignature(Array(repeating: 0xff, count: 65))
        guard case .rejected(.badSignature) = verifier.verify(garbage) else {
            Issue.record("garbage signature accepted"); return
        }
        // The original still verifies: rejections did not advance the replay guard.
        #expect(verifier.verify(envelope) == .accepted)
        #expect(verifier.counters.rejected == 3)
    }

    @Test func highSMalleatedSignatureIsRejected() throws {
        let envelope = try sign(1)
        // s' = n - s, v' = 1 - v: the same signature in its malleable form.
        let n = hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
        let s = Array(envelope.signature[32..<64])
        var flipped = [UInt8](repeating: 0, count: 32)
        var borrow = 0
        for i in (0..<32).reversed() {
            let d = Int(n[i]) - Int(s[i]) - borrow
            flipped[i] = UInt8((d + 256) % 256)
            borrow = d < 0 ? 1 : 0
        }
        let malleated = try envelope.withSignature(
            Array(envelope.signature[0..<32]) + flipped + [1 - envelope.signature[64]])
        var verifier = EnvelopeVerifier(chainID: "vn-devnet-1")
        guard case .rejected(.badSignature) = verifier.verify(malleated) else {
            Issue.record("high-s accepted"); return
        }
        #expect(verifier.verify(envelope) == .accepted)
    }

    @Test func wrongChainReplayAndOtherSessionAreRejected() throws {
        var verifier = EnvelopeVerifier(chainID: "vn-devnet-1", sessions: .only([session]))
        #expect(verifier.verify(try sign(5)) == .accepted)
        #expect(verifier.verify(try sign(5)) == .rejected(.replayed(sequence: 5, lastAccepted: 5)))
        #expect(verifier.verify(try sign(4)) == .rejected(.replayed(sequence: 4, lastAccepted: 5)))
        #expect(verifier.verify(try sign(6, chain: "vn-mainnet")) == .rejected(.wrongChain("vn-mainnet")))
        #expect(verifier.verify(try sign(6, session: [9])) == .rejected(.unknownSession([9])))
        #expect(verifier.verify(try sign(6)) == .accepted)
        // Another validator has its own sequence stream.
        #expect(verifier.verify(try sign(1, key: other)) == .accepted)
        let counters = verifier.counters
        #expect(
            counters.accepted == 3 && counters.replayed == 2 && counters.wrongChain == 1 && counters.unknownSession == 1
        )
    }
}
