import CryptoPrimitives
import Foundation
import RPC
import Secp256k1
import Testing
import Wire

/// The tss-signer messages (issue 4): golden bytes (written by an independent encoder from
/// DESIGN §3, see `Fixtures/TSS*.hex`), the checks on decode, the session id, and the gate that
/// lets a tss-signer obey only its own consensus-manager.
@Suite struct TSSMessagesTests {
    static func a(_ i: UInt8) -> Address { try! Address(bytes: [UInt8](repeating: i, count: 20)) }
    static func h(_ v: UInt8) -> [UInt8] { [UInt8](repeating: v, count: 32) }

    static let signProposal = TSSSessionProposal(
        kind: .sign, keyID: "k1", keygenSession: "0123456789abcdef0123456789abcdef", purpose: "batch",
        messageHash: h(0xaa), parties: [a(1), a(2), a(3)], threshold: 2, presignSession: h(0xbb), coordinator: a(1),
        nonce: 0x0102_0304_0506_0708)

    func check<M: WireMessage>(_ name: String, _ expected: M) throws {
        let bytes = try fixture(name)
        #expect(try M.decode(bytes) == expected)
        #expect(expected.encoded() == bytes)
        #expect(throws: WireError.self) { try M.decode(Array(bytes.dropLast())) }
        #expect(throws: WireError.trailingBytes(count: 1)) { try M.decode(bytes + [0]) }
    }

    @Test func goldens() throws {
        try check("TSSSessionProposal", Self.signProposal)
        try check(
            "TSSSessionProposal.reshare",
            TSSSessionProposal(
                kind: .reshare, keyID: "k1", keygenSession: "s1", messageHash: Self.h(0xcc),
                parties: [Self.a(1), Self.a(2)],
                threshold: 2, newParties: [Self.a(1), Self.a(2), Self.a(3), Self.a(4)], keyData: Array(0..<40),
                coordinator: Self.a(2), nonce: 7))
        try check(
            "TSSAuthorizeRequest",
            TSSAuthorizeRequest(
                sessionID: Self.h(0x11), kind: .sign, keyID: "k1", purpose: "batch", messageHash: Self.h(0x22)))
        try check("TSSApproveRequest", TSSApproveRequest(kind: .presign, keyID: "k1", ttlSeconds: 3600))
        try check("TSSAbandon", TSSAbandon(reason: "refused"))
        try check(
            "TSSSignRequest",
            TSSSignRequest(keyID: "k1", messageHash: Self.h(0x33), purpose: "batch", signers: [Self.a(1), Self.a(3)]))
        try check(
            "TSSSignature",
            TSSSignature(
                keyID: "k1", keygenSession: "s1", messageHash: Self.h(0x33), r: Self.h(0x44), s: Self.h(0x55), v: 1,
                signers: [Self.a(1), Self.a(3)], sessionID: Self.h(0x66), pooled: true))
        try check(
            "TSSKeyInfo",
            TSSKeyInfo(
                keyID: "k1", keygenSession: "s1", status: 2, threshold: 1, parties: [Self.a(1), Self.a(2)],
                publicKey: [2] + [UInt8](repeating: 0x77, count: 32), address: [UInt8](repeating: 0x88, count: 20),
                presignatures: 5))
        try check(
            "TSSKeygenRequest", TSSKeygenRequest(keyID: "k1", parties: [Self.a(1), Self.a(2), Self.a(3)], threshold: 1))
        try check(
            "TSSReshareRequest",
            TSSReshareRequest(keyID: "k1", newParties: [Self.a(1), Self.a(2), Self.a(3), Self.a(4)], newThreshold: 2))
    }

    @Test func decodingRefusesInconsistentProposals() throws {
        func refused(_ edit: (inout TSSSessionProposal) -> Void) -> Bool {
            var p = Self.signProposal
            edit(&p)
            return (try? TSSSessionProposal.decode(p.encoded())) == nil
        }
        #expect(!refused { _ in })
        #expect(refused { $0.keyID = "k:1" })  // outside A-Z a-z 0-9 . _ -
        #expect(refused { $0.keyID = String(repeating: "k", count: 129) })
        #expect(refused { $0.parties = [Self.a(1), Self.a(1), Self.a(3)] })  // a party twice
        #expect(refused { $0.threshold = 1 })  // not t + 1 signers
        #expect(refused { $0.presignSession = [1, 2, 3] })
        #expect(refused { $0.kind = .presign })  // a presigning names no presignature
        #expect(refused { $0.keygenSession = "" })  // only keygen names no record
        #expect(refused { $0.newParties = [Self.a(4)] })  // only a reshare has a new committee
        #expect(refused { $0.keyData = [1] })  // only a reshare carries key data
        var keygen = TSSSessionProposal(
            kind: .keygen, keyID: "k", parties: [Self.a(1), Self.a(2)], threshold: 2, coordinator: Self.a(1), nonce: 1)
        #expect(throws: WireError.self) { try TSSSessionProposal.decode(keygen.encoded()) }  // t ≥ n
        keygen.threshold = 1
        #expect(try TSSSessionProposal.decode(keygen.encoded()) == keygen)
        // Other messages: thresholds, lengths, recovery id.
        #expect(throws: WireError.self) {
            try TSSKeygenRequest.decode(
                TSSKeygenRequest(keyID: "k", parties: [Self.a(1), Self.a(2)], threshold: 2).encoded())
        }
        #expect(throws: WireError.self) {
            try TSSReshareRequest.decode(
                TSSReshareRequest(keyID: "k", newParties: [Self.a(1)], newThreshold: 1).encoded())
        }
        var signature = TSSSignature(
            keyID: "k", keygenSession: "s", messageHash: Self.h(1), r: Self.h(2), s: Self.h(3), v: 2,
            signers: [Self.a(1)],
            sessionID: Self.h(4), pooled: false)
        #expect(throws: WireError.self) { try TSSSignature.decode(signature.encoded()) }
        signature.v = 0
        #expect(try TSSSignature.decode(signature.encoded()) == signature)
        #expect(throws: WireError.self) {
            try TSSApproveRequest.decode(TSSApproveRequest(kind: .sign, keyID: "k", ttlSeconds: 0).encoded())
        }
        // An abandon notice's reason is bounded (built: truncated; received: refused).
        #expect(
            TSSAbandon(reason: String(repeating: "é", count: 1000)).reason.utf8.count <= TSSWireLimits.maxReasonBytes)
        var long = WireWriter()
        long.writeString(String(repeating: "x", count: TSSWireLimits.maxReasonBytes + 1))
        #expect(throws: WireError.self) { try TSSAbandon.decode(long.take()) }
        // A digest that is not 32 bytes never decodes as one.
        for hash in [[UInt8](repeating: 1, count: 31), [UInt8](repeating: 1, count: 33)] {
            #expect(throws: WireError.self) {
                try TSSSignRequest.decode(TSSSignRequest(keyID: "k", messageHash: hash, purpose: "p").encoded())
            }
            #expect(throws: WireError.self) {
                try TSSAuthorizeRequest.decode(
                    TSSAuthorizeRequest(sessionID: Self.h(1), kind: .sign, keyID: "k", purpose: "p", messageHash: hash)
                        .encoded())
            }
            #expect(throws: WireError.self) {
                try TSSApproveRequest.decode(TSSApproveRequest(kind: .sign, keyID: "k", messageHash: hash).encoded())
            }
            #expect(refused { $0.messageHash = hash })
        }
        // Key ids in the operator's requests follow the same rules as in proposals.
        #expect(throws: WireError.self) { try TSSKeyQuery.decode(TSSKeyQuery(keyID: "k/1").encoded()) }
        #expect(throws: WireError.self) {
            try TSSSignRequest.decode(TSSSignRequest(keyID: "", messageHash: Self.h(1), purpose: "p").encoded())
        }
        #expect(throws: WireError.self) {
            try TSSKeygenRequest.decode(
                TSSKeygenRequest(keyID: "k", parties: [Self.a(1), Self.a(1), Self.a(2)], threshold: 1).encoded())
        }
    }

    @Test func statusRoundTrips() throws {
        let reply = TSSStatusReply(
            keysReady: 2, sessionsRunning: 1, preparamsReady: 3, presignatures: 40, peersKnown: 4, peersConnected: 3,
            json: "{\"keys\":[]}")
        #expect(try TSSStatusReply.decode(reply.encoded()) == reply)
        #expect(
            TSSStatusReply(
                keysReady: 0, sessionsRunning: 0, preparamsReady: 0, presignatures: 0, peersKnown: 0, peersConnected: 0,
                json: String(repeating: "x", count: TSSStatusReply.maxStatusBytes + 1)
            ).json == "{}")
    }

    @Test func sessionIDsDifferForAnyChange() {
        let base = Self.signProposal.sessionID(chainID: "vn-1")
        #expect(base.count == 32)
        #expect(Self.signProposal.sessionID(chainID: "vn-1") == base)
        #expect(Self.signProposal.sessionID(chainID: "vn-2") != base)
        var other = Self.signProposal
        other.nonce += 1
        #expect(other.sessionID(chainID: "vn-1") != base)
        other = Self.signProposal
        other.messageHash = Self.h(0xab)
        #expect(other.sessionID(chainID: "vn-1") != base)
    }

    @Test func theGateObeysOnlyItsOwnValidator() throws {
        let owner = try PrivateKey(bytes: SHA256.hash(Array("owner".utf8)))
        let stranger = try PrivateKey(bytes: SHA256.hash(Array("stranger".utf8)))
        let ownerKey = try LocalRequestKey(validatorKey: owner, chainID: "vn-1")
        let gate = LocalRequestGate(chainID: "vn-1", key: ownerKey)
        let now: UInt64 = 1_800_000_000_000
        let request = TSSKeyQuery(keyID: "k1")
        let sealed = try LocalRequest.seal(
            request, method: MethodID.tssKeys, chainID: "vn-1", key: ownerKey, nowUnixMs: now)
        #expect(try LocalRequest.decode(sealed.encoded()) == sealed)
        #expect(try gate.open(sealed, method: MethodID.tssKeys, as: TSSKeyQuery.self, nowUnixMs: now + 5) == request)
        func code(_ sealed: LocalRequest, method: UInt16 = MethodID.tssKeys, at time: UInt64 = now) -> StatusCode? {
            do {
                _ = try gate.open(sealed, method: method, as: TSSKeyQuery.self, nowUnixMs: time)
                return nil
            } catch { return error.code }
        }
        // Replayed.
        #expect(code(sealed, at: now + 6) == .permissionDenied)
        // Another method, another chain, another validator's key, a stale clock.
        func fresh(_ key: LocalRequestKey, _ chain: String, _ stamp: UInt64) throws -> LocalRequest {
            try LocalRequest.seal(request, method: MethodID.tssKeys, chainID: chain, key: key, nowUnixMs: stamp)
        }
        #expect(code(try fresh(ownerKey, "vn-1", now), method: MethodID.tssRekey) == .invalidArgument)
        #expect(
            code(try fresh(try LocalRequestKey(validatorKey: owner, chainID: "vn-2"), "vn-2", now)) == .permissionDenied
        )
        #expect(
            code(try fresh(try LocalRequestKey(validatorKey: stranger, chainID: "vn-1"), "vn-1", now))
                == .permissionDenied)
        // The owner's key of another chain tags nothing here.
        #expect(
            code(try fresh(try LocalRequestKey(validatorKey: owner, chainID: "vn-2"), "vn-1", now)) == .permissionDenied
        )
        #expect(code(try fresh(ownerKey, "vn-1", now - 200_000)) == .permissionDenied)
        #expect(code(try fresh(ownerKey, "vn-1", now + 200_000)) == .permissionDenied)
        #expect(code(try fresh(ownerKey, "vn-1", .max)) == .permissionDenied)
        #expect(code(try fresh(ownerKey, "vn-1", 0)) == .permissionDenied)
        // Every field is under the tag: changed after tagging, the request is refused.
        let original = try fresh(ownerKey, "vn-1", now)
        #expect(code(try original.replacing(payload: TSSKeyQuery(keyID: "k2").encoded())) == .permissionDenied)
        #expect(code(try original.replacing(method: MethodID.tssRekey), method: MethodID.tssRekey) == .permissionDenied)
        #expect(code(try original.replacing(timestampMs: now + 1)) == .permissionDenied)
        #expect(code(try original.replacing(tag: [UInt8](repeating: 0, count: 32))) == .permissionDenied)
        #expect(throws: WireError.self) { try original.replacing(tag: [UInt8](repeating: 0, count: 31)) }
        #expect(code(original) == nil)
    }
}
