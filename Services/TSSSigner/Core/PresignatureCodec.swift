import CryptoPrimitives
import Secp256k1
import Wire

/// A presignature as the tss-signer keeps it in its pool (sealed in the key store, issue 4).
///
///   u8 version ‖ key id (32) ‖ session id (bytes) ‖ signers (u32 array) ‖ me (u32) ‖ R (33) ‖
///   k_i (32) ‖ σ_i (32) ‖ per signer in order: R̄_j (33) ‖ S_j (33) ‖ echo of round 5
///
/// The group key and the signers' identities are not stored: they come from the key share the
/// presignature is decoded against, so a presignature can only be used with its own key.
extension Presignature {
    public static let codecVersion: UInt8 = 1

    /// The canonical encoding (secret: k_i and σ_i), for sealing. Does not consume the
    /// presignature.
    public func sealedBytes() -> SecretBytes {
        let s = secrets
        // Sized up front: a growing buffer would leave copies of k_i and σ_i in freed memory.
        var w = WireWriter(reservingCapacity: 1024 + s.signers.count * 512)
        w.writeUInt8(Self.codecVersion)
        w.writeFixedBytes(s.keyID)
        w.writeBytes(s.sessionID)
        w.writeArray(s.signers) { $0.writeUInt32($1) }
        w.writeUInt32(s.me)
        w.writePoint(s.nonce)
        var k = s.k.bytes
        var sigma = s.sigma.bytes
        w.writeFixedBytes(k)
        w.writeFixedBytes(sigma)
        secureZero(&k)
        secureZero(&sigma)
        for j in s.signers {
            w.writePoint(s.rBar[j]!)
            w.writePoint(s.bigS[j]!)
        }
        EchoEntry.write(s.echo, to: &w)
        var bytes = w.take()
        return SecretBytes(zeroing: &bytes)
    }

    /// Decodes `sealed` against `keyShare` and re-checks what presigning established: the key id,
    /// the signers (t + 1 holders of the key, increasing, us among them), every point on the
    /// curve, Σ R̄_j = G and Σ S_j = y (GG20 Phase 6's checks), and our own R̄_i = k_i·R,
    /// S_i = σ_i·R. Anything else — another key, tampered or trailing bytes — is refused.
    public static func decode(_ sealed: SecretBytes, keyShare: KeyShare) throws(Abort) -> Presignature {
        func bad(_ why: String) -> Abort { Abort(culprits: [], reason: .invalidArguments("presignature: \(why)")) }
        var plain = sealed.copyBytes()
        defer { secureZero(&plain) }
        var r = WireReader(plain)
        do {
            guard try r.readUInt8() == codecVersion else { throw bad("unknown version") }
            let keyID = try r.readFixedBytes(count: 32)
            guard keyID == keyShare.keyID else { throw bad("made for another key") }
            let sessionID = try r.readBytes(maxLength: 64)
            guard sessionID.count >= 16 else { throw bad("session id too short") }
            let signers = try r.readArray(maxCount: keyShare.parties.count, minimumElementSize: 4) {
                (r: inout WireReader) throws(WireError) in try r.readUInt32()
            }
            guard signers.count == keyShare.threshold + 1, zip(signers, signers.dropFirst()).allSatisfy({ $0 < $1 }),
                signers.allSatisfy(keyShare.parties.contains)
            else { throw bad("signers are not t + 1 increasing holders of the key") }
            let me = try r.readUInt32()
            guard me == keyShare.me, signers.contains(me) else { throw bad("not ours") }
            let nonce = try r.readPoint()
            var k = try r.readScalar()
            var sigma = try r.readScalar()
            var rBar: [PartyIndex: Point] = [:]
            var bigS: [PartyIndex: Point] = [:]
            for j in signers {
                rBar[j] = try r.readPoint()
                bigS[j] = try r.readPoint()
            }
            let echo = try EchoEntry.read(from: &r, count: signers.count)
            try r.finish()
            guard echo.map(\.party) == signers else { throw bad("echo of other parties") }
            guard !k.isZero, Point.sum(signers.map { rBar[$0]! }) == Point.generator,
                Point.sum(signers.map { bigS[$0]! }) == keyShare.publicKey,
                rBar[me]! == k * nonce, bigS[me]! == sigma * nonce
            else {
                k = .zero
                sigma = .zero
                throw bad("inconsistent (Σ R̄_j ≠ G, Σ S_j ≠ y, or our own shares do not match R)")
            }
            var identities: [PartyIndex: PublicKey] = [:]
            for j in signers {
                guard let position = keyShare.parties.firstIndex(of: j) else { throw bad("unknown signer") }
                identities[j] = keyShare.identities[position]
            }
            let secrets = PresignatureSecrets(
                keyID: keyID, sessionID: sessionID, signers: signers, me: me, nonce: nonce, k: k, sigma: sigma,
                rBar: rBar, bigS: bigS, publicKey: keyShare.publicKey, identities: identities, echo: echo)
            return Presignature(secrets: secrets)
        } catch let error as Abort {
            throw error
        } catch {
            throw bad("malformed: \(error)")
        }
    }
}
