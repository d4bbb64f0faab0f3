import CryptoPrimitives
import Foundation
import MPCMath
import Secp256k1
import Testing

/// Prove and verify times (median over a few runs) and encoded sizes of each proof, printed as
/// JSON lines. Off by default:
///
///     MPC_MEASURE=1 swift test --scratch-path .build-zk --filter MPCMathTests.ProofMeasurements
///
/// The modular arithmetic runs in OpenSSL, so a debug build gives nearly release figures (the
/// Swift around it is a few percent).
@Suite("ProofMeasurements", .enabled(if: ProcessInfo.processInfo.environment["MPC_MEASURE"] != nil))
struct ProofMeasurements {
    static func median(_ iterations: Int, _ body: () throws -> Void) rethrows -> Double {
        var samples: [Double] = []
        for _ in 0..<iterations { samples.append(try seconds(body)) }
        return samples.sorted()[samples.count / 2] * 1e3
    }

    static func report(
        _ name: String, iterations: Int, size: Int, prove: () throws -> Void, verify: () throws -> Void
    )
        rethrows
    {
        let proveMs = try median(iterations, prove)
        let verifyMs = try median(iterations, verify)
        print(
            String(
                format: "{\"proof\": \"%@\", \"prove_ms\": %.2f, \"verify_ms\": %.2f, \"bytes\": %d, \"n\": %d}", name,
                proveMs, verifyMs, size, iterations))
    }

    @Test func proofs() throws {
        var rng = SeededRandom(seed: "measure-proofs")
        let key = ZK.proverKey
        let setup = ZK.setup

        let x = Scalar.random(using: &rng)
        let point = Point.generatorMul(x)
        var sch: SchnorrProof!
        try Self.report(
            "sch", iterations: 50, size: 67,
            prove: {
                var t = ZK.transcript()
                sch = try SchnorrProof.prove(secret: x, publicPoint: point, transcript: &t, rng: &rng)
            },
            verify: {
                var t = ZK.transcript()
                try sch.verify(publicPoint: point, transcript: &t)
            })

        var mod: ModulusProof!
        var t0 = ZK.transcript()
        mod = try ModulusProof.prove(key: key, transcript: &t0, rng: &rng)
        try Self.report(
            "mod (m=80, k=4)", iterations: 5, size: mod.encode().count,
            prove: {
                var t = ZK.transcript()
                mod = try ModulusProof.prove(key: key, transcript: &t, rng: &rng)
            },
            verify: {
                var t = ZK.transcript()
                try mod.verify(modulus: key.publicKey.n, transcript: &t)
            })

        var fac: NoSmallFactorProof!
        var t1 = ZK.transcript()
        fac = try NoSmallFactorProof.prove(key: key, setup: setup, transcript: &t1, rng: &rng)
        try Self.report(
            "fac", iterations: 9, size: fac.encode().count,
            prove: {
                var t = ZK.transcript()
                fac = try NoSmallFactorProof.prove(key: key, setup: setup, transcript: &t, rng: &rng)
            },
            verify: {
                var t = ZK.transcript()
                try fac.verify(modulus: key.publicKey.n, setup: setup, transcript: &t)
            })

        let rp = MPCFixtures.ringPedersen[0]
        var prm: RingPedersenProof!
        var t2 = ZK.transcript()
        prm = try RingPedersenProof.prove(secret: rp, transcript: &t2, rng: &rng)
        try Self.report(
            "prm (m=80)", iterations: 5, size: prm.encode().count,
            prove: {
                var t = ZK.transcript()
                prm = try RingPedersenProof.prove(secret: rp, transcript: &t, rng: &rng)
            },
            verify: {
                var t = ZK.transcript()
                try prm.verify(parameters: rp.parameters, transcript: &t)
            })

        let k = try BigNum.random(below: CurveOrder.q, using: &rng)
        let (c, rho) = try key.encrypt(k, using: &rng)
        let encStatement = EncryptionProof.Statement(key: key.publicKey, ciphertext: c)
        var enc: EncryptionProof!
        var t3 = ZK.transcript()
        enc = try EncryptionProof.prove(
            statement: encStatement, plaintext: k, randomness: rho, setup: setup, transcript: &t3, rng: &rng)
        try Self.report(
            "enc", iterations: 9, size: enc.encode().count,
            prove: {
                var t = ZK.transcript()
                enc = try EncryptionProof.prove(
                    statement: encStatement, plaintext: k, randomness: rho, setup: setup, transcript: &t, rng: &rng)
            },
            verify: {
                var t = ZK.transcript()
                try enc.verify(statement: encStatement, setup: setup, transcript: &t)
            })

        let alice = ZK.otherKey
        let (aliceC, _) = try alice.encrypt(k, using: &rng)
        var mta: MtAResponse!
        var t4 = ZK.transcript()
        mta = try MtAResponse.respond(
            aliceKey: alice.publicKey, aliceCiphertext: aliceC, aliceSetup: setup, bobKey: key.publicKey, bobSecret: x,
            transcript: &t4, rng: &rng)
        try Self.report(
            "aff-g (MtA response incl. D, Y)", iterations: 9, size: mta.proof.encode().count,
            prove: {
                var t = ZK.transcript()
                mta = try MtAResponse.respond(
                    aliceKey: alice.publicKey, aliceCiphertext: aliceC, aliceSetup: setup, bobKey: key.publicKey,
                    bobSecret: x, transcript: &t, rng: &rng)
            },
            verify: {
                var t = ZK.transcript()
                let statement = AffineGroupProof.Statement(
                    verifierKey: alice.publicKey, proverKey: key.publicKey, c: aliceC, d: mta.d, y: mta.y, x: point)
                try mta.proof.verify(statement: statement, setup: setup, transcript: &t)
            })

        // Π^aff-g alone (the statement prepared outside the timing).
        let betaPrime = try BigNum.random(inSymmetricRange: ProofParameters.twoToEllPrime, using: &rng)
        let (mask, rhoD) = try alice.publicKey.encrypt(signed: betaPrime, using: &rng)
        let d = try alice.publicKey.add(alice.publicKey.multiply(aliceC, by: BigNum(x)), mask)
        let (y, rhoY) = try key.encrypt(betaPrime.mod(key.publicKey.n), using: &rng)
        let affStatement = AffineGroupProof.Statement(
            verifierKey: alice.publicKey, proverKey: key.publicKey, c: aliceC, d: d, y: y, x: point)
        let witness = AffineGroupProof.Witness(x: BigNum(x), y: betaPrime, rho: rhoD, rhoY: rhoY)
        var aff: AffineGroupProof!
        try Self.report(
            "aff-g", iterations: 9, size: mta.proof.encode().count,
            prove: {
                var t = ZK.transcript()
                aff = try AffineGroupProof.prove(
                    statement: affStatement, witness: witness, setup: setup, transcript: &t, rng: &rng)
            },
            verify: {
                var t = ZK.transcript()
                try aff.verify(statement: affStatement, setup: setup, transcript: &t)
            })

        let gamma = Point.generatorMul(Scalar.random(using: &rng))
        let logStatement = LogStarProof.Statement(
            key: key.publicKey, ciphertext: c, point: try Scalar(reducing: k) * gamma, base: gamma)
        var log: LogStarProof!
        var t5 = ZK.transcript()
        log = try LogStarProof.prove(
            statement: logStatement, secret: k, randomness: rho, setup: setup, transcript: &t5, rng: &rng)
        try Self.report(
            "log*", iterations: 9, size: log.encode().count,
            prove: {
                var t = ZK.transcript()
                log = try LogStarProof.prove(
                    statement: logStatement, secret: k, randomness: rho, setup: setup, transcript: &t, rng: &rng)
            },
            verify: {
                var t = ZK.transcript()
                try log.verify(statement: logStatement, setup: setup, transcript: &t)
            })
    }
}
