import CryptoPrimitives
import Foundation
import MPCMath
@_exported import MPCTestSupport
import Secp256k1
import TSSCore

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// Rewrites a message on its way to one recipient (nil: deliver unchanged; `.drop`: lose it).
typealias Tamper = @Sendable (_ message: Message, _ recipient: PartyIndex) -> Message?

/// The in-process network of the simulator: FIFO delivery of every party's messages, each
/// delivery passed through `tamper` (which can play a malicious sender: rewrite, re-sign,
/// equivocate by recipient). Finished or aborted parties take no more input.
enum Simulator {
    static func run<Output>(
        parties: [PartyIndex], initial: [PartyIndex: [Message]], tamper: Tamper? = nil,
        abortMessages: ((_ party: PartyIndex) -> [Message])? = nil,
        receive: (_ party: PartyIndex, _ sender: PartyIndex, _ message: Message) -> Action<Output>
    ) -> [PartyIndex: Result<Output, Abort>] {
        var queue: [(PartyIndex, Message)] = []
        for p in parties { for m in initial[p] ?? [] { queue.append((p, m)) } }
        var results: [PartyIndex: Result<Output, Abort>] = [:]
        var head = 0
        while head < queue.count {
            let (sender, message) = queue[head]
            head += 1
            let recipients: [PartyIndex]
            switch message.to {
            case .broadcast: recipients = parties.filter { $0 != sender }
            case .party(let j): recipients = [j]
            }
            for recipient in recipients where results[recipient] == nil {
                let delivered = tamper?(message, recipient) ?? message
                switch receive(recipient, sender, delivered) {
                case .wait: break
                case .send(let out): for m in out { queue.append((recipient, m)) }
                case .finished(let output, let out):
                    results[recipient] = .success(output)
                    for m in out { queue.append((recipient, m)) }
                case .aborted(let abort):
                    results[recipient] = .failure(abort)
                    // What an aborted machine still wants delivered (its echo notice).
                    for m in abortMessages?(recipient) ?? [] { queue.append((recipient, m)) }
                }
            }
        }
        return results
    }
}

/// Identity keys and pre-params of party i (fixtures i).
enum Party {
    static func identity(_ i: PartyIndex) -> PrivateKey {
        try! PrivateKey(bytes: SHA256.hash(Array("identity-\(i)".utf8)))
    }

    static func preParams(_ i: PartyIndex) -> KeygenPreParams {
        // One modulus per party for Paillier and ring-Pedersen, as `KeygenPreParams.generate` makes
        // them (CGGMP21 Fig. 6), so the owner-side verification path is what the tests run.
        KeygenPreParams(
            paillier: MPCFixtures.paillierKeys[Int(i)], ringPedersen: MPCFixtures.sharedModulusRingPedersen[Int(i)])
    }
}

func sessionID(_ label: String) -> [UInt8] { SHA256.hash(Array("session-\(label)".utf8)) }

/// Runs a whole keygen of n parties 0..<n (`deliverAbortMessages: false`: an aborted party's
/// `abortMessages` are lost, the control of the tests that need them).
func runKeygen(
    t: Int, n: Int, seed: String, preParams: ((PartyIndex) -> KeygenPreParams)? = nil, tamper: Tamper? = nil,
    deliverAbortMessages: Bool = true
) -> [PartyIndex: Result<KeyShare, Abort>] {
    let parties = (0..<PartyIndex(n)).map { $0 }
    let identities = Dictionary(uniqueKeysWithValues: parties.map { ($0, Party.identity($0).publicKey) })
    var machines: [PartyIndex: Keygen] = [:]
    var rngs: [PartyIndex: SeededRandom] = [:]
    var initial: [PartyIndex: [Message]] = [:]
    for i in parties {
        var rng = SeededRandom(seed: "\(seed)-\(i)")
        let params = KeygenParameters(
            sessionID: sessionID(seed), threshold: t, parties: parties, me: i, identities: identities)
        let (machine, out) = try! Keygen.start(
            params: params, preParams: (preParams ?? Party.preParams)(i), identityKey: Party.identity(i), rng: &rng)
        machines[i] = machine
        rngs[i] = rng
        initial[i] = out
    }
    return Simulator.run(
        parties: parties, initial: initial, tamper: tamper,
        abortMessages: { deliverAbortMessages ? machines[$0]!.abortMessages : [] }
    ) { party, sender, message in
        machines[party]!.receive(from: sender, message, rng: &rngs[party]!)
    }
}

/// Presigns with `signers` of `shares` and signs `digest`; returns each signer's result.
func runSigning(
    shares: [PartyIndex: KeyShare], signers: [PartyIndex], seed: String, digest: [UInt8],
    presignTamper: Tamper? = nil, onlineTamper: Tamper? = nil
) -> (presign: [PartyIndex: Result<PresignReady, Abort>], online: [PartyIndex: Result<RecoverableSignature, Abort>]) {
    var machines: [PartyIndex: Presigning] = [:]
    var rngs: [PartyIndex: SeededRandom] = [:]
    var initial: [PartyIndex: [Message]] = [:]
    for i in signers {
        var rng = SeededRandom(seed: "\(seed)-\(i)")
        let (machine, out) = try! Presigning.start(
            keyShare: shares[i]!, params: PresignParameters(sessionID: sessionID(seed), signers: signers),
            identityKey: Party.identity(i), rng: &rng)
        machines[i] = machine
        rngs[i] = rng
        initial[i] = out
    }
    let presign = Simulator.run(
        parties: signers, initial: initial, tamper: presignTamper, abortMessages: { machines[$0]!.abortMessages }
    ) { party, sender, message in
        machines[party]!.receive(from: sender, message, rng: &rngs[party]!)
    }
    guard signers.allSatisfy({ (try? presign[$0]?.get()) != nil }) else { return (presign, [:]) }
    var online: [PartyIndex: OnlineSigning] = [:]
    var onlineInitial: [PartyIndex: [Message]] = [:]
    for i in signers {
        let presignature = machines[i]!.takePresignature()!
        let (machine, message) = try! presignature.sign(digest: digest, identityKey: Party.identity(i))
        online[i] = machine
        onlineInitial[i] = [message]
    }
    let results = Simulator.run(parties: signers, initial: onlineInitial, tamper: onlineTamper) {
        party, sender, message in
        online[party]!.receive(from: sender, message)
    }
    return (presign, results)
}

/// Keys generated once per (t, n) and shared by the signing tests.
enum Keys {
    static func generate(t: Int, n: Int) -> [PartyIndex: KeyShare] {
        let results = runKeygen(t: t, n: n, seed: "keys-\(t)-\(n)")
        return results.mapValues { try! $0.get() }
    }
    static let t1n2 = generate(t: 1, n: 2)
    static let t1n3 = generate(t: 1, n: 3)
    static let t2n3 = generate(t: 2, n: 3)
    static let t2n5 = generate(t: 2, n: 5)
}

// MARK: Payload surgery (the layouts of Keygen / Presigning)

func u32(_ bytes: [UInt8], _ at: Int) -> Int {
    Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
}

func be32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) } }

/// Length of the echo prefix of a round-k (k ≥ 2) broadcast among n parties.
func echoLength(_ n: Int) -> Int { 4 + n * 100 }

extension Message {
    /// A copy with a new payload, re-signed by the sender (a malicious sender's own broadcast or
    /// direct message: both are signed).
    func with(payload: [UInt8]) -> Message {
        var copy = self
        copy.payload = payload
        return try! copy.signed(with: Party.identity(from))
    }
}
