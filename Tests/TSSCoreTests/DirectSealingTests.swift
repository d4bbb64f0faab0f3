import CryptoPrimitives
import Secp256k1
import TSSCore
import Testing

@Suite struct DirectSealingTests {
    let alice = try! PrivateKey(bytes: SHA256.hash(Array("alice".utf8)))
    let bob = try! PrivateKey(bytes: SHA256.hash(Array("bob".utf8)))
    let carol = try! PrivateKey(bytes: SHA256.hash(Array("carol".utf8)))
    let session = SHA256.hash(Array("session-1".utf8))
    let header = Array("chain|alice|session-1|r2|s7|0x0302".utf8)
    let message = Array("σ_{1→2} and its Paillier randomness".utf8)

    func sealed() throws -> [UInt8] {
        try DirectSealing.seal(
            message, from: alice, to: bob.publicKey, session: session, round: 2, sequence: 7, header: header)
    }

    @Test func theRecipientOpensWhatWasSealedToIt() throws {
        let box = try sealed()
        #expect(box.count == message.count + AESGCM.tagByteCount)
        #expect(!box.starts(with: message.prefix(8)))  // not the plaintext
        let opened = try DirectSealing.open(
            box, at: bob, from: alice.publicKey, session: session, round: 2, sequence: 7, header: header)
        #expect(opened == message)
    }

    @Test func anyMismatchFailsToOpen() throws {
        let box = try sealed()
        func fails(_ body: () throws(DirectSealing.SealingError) -> [UInt8]) {
            #expect(throws: DirectSealing.SealingError.unauthentic) { try body() }
        }
        // Another recipient, another claimed sender, the reverse direction.
        fails { () throws(DirectSealing.SealingError) in
            try DirectSealing.open(
                box, at: carol, from: alice.publicKey, session: session, round: 2, sequence: 7, header: header)
        }
        fails { () throws(DirectSealing.SealingError) in
            try DirectSealing.open(
                box, at: bob, from: carol.publicKey, session: session, round: 2, sequence: 7, header: header)
        }
        fails { () throws(DirectSealing.SealingError) in
            try DirectSealing.open(
                box, at: alice, from: bob.publicKey, session: session, round: 2, sequence: 7, header: header)
        }
        // Another session, round, sequence or header (the envelope it travels in).
        fails { () throws(DirectSealing.SealingError) in
            try DirectSealing.open(
                box, at: bob, from: alice.publicKey, session: SHA256.hash(Array("session-2".utf8)), round: 2,
                sequence: 7,
                header: header)
        }
        fails { () throws(DirectSealing.SealingError) in
            try DirectSealing.open(
                box, at: bob, from: alice.publicKey, session: session, round: 3, sequence: 7, header: header)
        }
        fails { () throws(DirectSealing.SealingError) in
            try DirectSealing.open(
                box, at: bob, from: alice.publicKey, session: session, round: 2, sequence: 8, header: header)
        }
        fails { () throws(DirectSealing.SealingError) in
            try DirectSealing.open(
                box, at: bob, from: alice.publicKey, session: session, round: 2, sequence: 7, header: header + [0])
        }
        // Any flipped bit, a truncation.
        for index in [0, box.count / 2, box.count - 1] {
            var tampered = box
            tampered[index] ^= 0x01
            fails { () throws(DirectSealing.SealingError) in
                try DirectSealing.open(
                    tampered, at: bob, from: alice.publicKey, session: session, round: 2, sequence: 7, header: header)
            }
        }
        fails { () throws(DirectSealing.SealingError) in
            try DirectSealing.open(
                Array(box.prefix(10)), at: bob, from: alice.publicKey, session: session, round: 2, sequence: 7,
                header: header)
        }
    }

    @Test func eachDirectionAndMessageGetsItsOwnKeyStream() throws {
        // Same plaintext, same (round, sequence): the two directions differ (per-direction keys);
        // another sequence under the same key differs too (fresh nonce).
        let ab = try sealed()
        let ba = try DirectSealing.seal(
            message, from: bob, to: alice.publicKey, session: session, round: 2, sequence: 7, header: header)
        let ab8 = try DirectSealing.seal(
            message, from: alice, to: bob.publicKey, session: session, round: 2, sequence: 8, header: header)
        #expect(ab != ba && ab != ab8 && ba != ab8)
        // Deterministic: the same inputs seal to the same bytes (no hidden randomness).
        #expect(try sealed() == ab)
    }

    @Test func sessionIDsAreBounded() {
        #expect(throws: DirectSealing.SealingError.invalidSession) {
            try DirectSealing.seal(
                message, from: alice, to: bob.publicKey, session: [], round: 1, sequence: 1, header: [])
        }
        #expect(throws: DirectSealing.SealingError.invalidSession) {
            try DirectSealing.seal(
                message, from: alice, to: bob.publicKey, session: [UInt8](repeating: 1, count: 65), round: 1,
                sequence: 1,
                header: [])
        }
    }
}
