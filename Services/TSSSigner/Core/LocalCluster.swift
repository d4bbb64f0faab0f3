import CryptoPrimitives
import Dispatch
import Foundation
import MPCMath
import Secp256k1
import Wire

/// Why a `LocalCluster` run did not produce its output.
public enum LocalClusterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Bad arguments (the text says which).
    case invalidArguments(String)
    /// At least one party aborted: every aborting party's `Abort`, by party.
    case aborted([PartyIndex: Abort])
    /// No message left in flight but some party has no output (a protocol bug).
    case stalled(String)

    public var description: String {
        switch self {
        case .invalidArguments(let why): "invalid arguments: \(why)"
        case .aborted(let aborts):
            "aborted: " + aborts.keys.sorted().map { "party \($0): \(aborts[$0]!)" }.joined(separator: "; ")
        case .stalled(let why): "stalled: \(why)"
        }
    }
}

/// n parties of the GG20 state machines (`Keygen`, `Presigning`, `OnlineSigning`) in one process,
/// exchanging messages in memory: the engine of `tss-signer simulate` and of the `tss` benchmarks.
/// (The tests' `Simulator` is separate: it can tamper with messages; this one only runs honest
/// parties, fast.)
///
/// Delivery goes in waves: every message produced in one wave is delivered in the next, each
/// party getting its messages in the order they were sent. Within a wave the parties work
/// CONCURRENTLY (`forEachConcurrently`: `concurrentPerform` over the parties, or one thread per
/// party when there are more parties than cores): they are independent values, each with its own
/// `RandomSource`, so the work of one round spreads over the cores as separate processes would.
/// (The threads are the host's business, not the protocol's: the state machines stay pure.)
///
/// `bytesSent[i]` counts the encoded size (`Message.encode()`) of what party i sent, a broadcast
/// once per recipient (point-to-point links, as the transport of issue 4 sends it).
public struct LocalCluster<R: RandomSource & Sendable>: Sendable {
    public let threshold: Int
    /// 0 ..< n.
    public let parties: [PartyIndex]
    let identityKeys: [PrivateKey]
    var rngs: [R]
    /// Bytes sent per party (by position in `parties`) since creation or `resetByteCounts()`.
    public private(set) var bytesSent: [Int]
    /// Rewrites a message on its way to one recipient (nil: unchanged), for tests that make a
    /// party misbehave on this engine too. Not public: `simulate` and the benchmarks run honest
    /// parties.
    var tamper: (@Sendable (_ message: Message, _ recipient: PartyIndex) -> Message?)?

    /// `identityKeys[i]` and `rngs[i]` belong to party i; 1 ≤ t < n ≤ 255.
    public init(threshold: Int, identityKeys: [PrivateKey], rngs: [R]) throws(LocalClusterError) {
        let n = identityKeys.count
        guard n >= 2, n <= 255, threshold >= 1, threshold < n else {
            throw .invalidArguments("need 1 ≤ t < n ≤ 255 (t = \(threshold), n = \(n))")
        }
        guard rngs.count == n else { throw .invalidArguments("one random source per party") }
        self.threshold = threshold
        self.parties = (0..<PartyIndex(n)).map { $0 }
        self.identityKeys = identityKeys
        self.rngs = rngs
        self.bytesSent = [Int](repeating: 0, count: n)
    }

    public mutating func resetByteCounts() { bytesSent = [Int](repeating: 0, count: parties.count) }

    var identities: [PartyIndex: PublicKey] {
        Dictionary(uniqueKeysWithValues: zip(parties, identityKeys.map(\.publicKey)))
    }

    // MARK: Protocols

    /// GG20 keygen of all n parties with their pre-params; the key shares in party order.
    public mutating func keygen(
        sessionID: [UInt8], preParams: [KeygenPreParams]
    ) throws(LocalClusterError)
        -> [KeyShare]
    {
        guard preParams.count == parties.count else { throw .invalidArguments("one set of pre-params per party") }
        let identities = self.identities
        let (threshold, identityKeys, parties) = (self.threshold, self.identityKeys, self.parties)
        let starts = try Self.concurrently(parties.count, rngs: &rngs) { i, rng throws(Abort) in
            let params = KeygenParameters(
                sessionID: sessionID, threshold: threshold, parties: parties, me: parties[i],
                identities: identities)
            return try Keygen.start(
                params: params, preParams: preParams[i], identityKey: identityKeys[i], rng: &rng)
        }
        var machines = starts.map(\.0)
        return try drive(
            positions: Array(parties.indices), machines: &machines, initial: starts.map(\.1),
            abortMessages: { $0.abortMessages }
        ) { machine, sender, message, rng in machine.receive(from: sender, message, rng: &rng) }
    }

    /// GG20 presigning by `signers` (exactly t+1 parties, increasing): the finished machines,
    /// from which `sign` takes the presignatures.
    public mutating func presign(
        shares: [KeyShare], signers: [PartyIndex], sessionID: [UInt8]
    )
        throws(LocalClusterError) -> PresignedSet
    {
        guard shares.count == parties.count, zip(shares, parties).allSatisfy({ $0.me == $1 }) else {
            throw .invalidArguments("one key share per party, in party order")
        }
        guard signers.count == threshold + 1, zip(signers, signers.dropFirst()).allSatisfy({ $0 < $1 }),
            signers.allSatisfy({ parties.contains($0) })
        else { throw .invalidArguments("exactly t+1 increasing signers of the key") }
        let positions = signers.map { Int($0) }
        let identityKeys = self.identityKeys
        let starts = try Self.concurrently(positions.count, rngs: &rngs, at: positions) { k, rng throws(Abort) in
            let i = positions[k]
            return try Presigning.start(
                keyShare: shares[i], params: PresignParameters(sessionID: sessionID, signers: signers),
                identityKey: identityKeys[i], rng: &rng)
        }
        var machines = starts.map(\.0)
        let ready = try drive(
            positions: positions, machines: &machines, initial: starts.map(\.1), abortMessages: { $0.abortMessages }
        ) { machine, sender, message, rng in machine.receive(from: sender, message, rng: &rng) }
        guard Set(ready.map(\.nonce)).count == 1 else { throw .stalled("signers disagree on R") }
        return PresignedSet(signers: signers, machines: machines, nonce: ready[0].nonce)
    }

    /// Online signing (one round) of the 32-byte `digest` with the presignatures of `set`, which
    /// are consumed (a second call with the same set, or a copy of it, fails). The signature as
    /// every signer combined it (they agree; checked).
    public mutating func sign(_ set: PresignedSet, digest: [UInt8]) throws(LocalClusterError) -> RecoverableSignature {
        guard digest.count == 32 else { throw .invalidArguments("digest must be 32 bytes") }
        let positions = set.signers.map { Int($0) }
        let identityKeys = self.identityKeys
        let machines = set.machines
        let starts = try Self.concurrently(positions.count, rngs: &rngs, at: positions) {
            k, _ throws(Abort) -> (OnlineSigning, [Message]) in
            guard let presignature = machines[k].takePresignature() else {
                throw Abort(culprits: [], reason: .invalidArguments("presignature already used"))
            }
            let (machine, message) = try presignature.sign(digest: digest, identityKey: identityKeys[positions[k]])
            return (machine, [message])
        }
        var online = starts.map(\.0)
        let signatures = try drive(positions: positions, machines: &online, initial: starts.map(\.1)) {
            machine, sender, message, _ in machine.receive(from: sender, message)
        }
        guard Set(signatures).count == 1 else { throw .stalled("signers combined different signatures") }
        return signatures[0]
    }

    // MARK: Delivery

    /// Runs `machines` (the parties at `positions`) until each finishes or aborts, delivering in
    /// waves. A machine that aborts still gets its `abortMessages` delivered (what it produced
    /// before the failure and its echo notice), as a real host would send them: that is what
    /// lets the peers that saw a different version of an equivocated broadcast reach the same
    /// abort instead of stalling, so a faulty run ends with every party's abort.
    mutating func drive<Machine, Output>(
        positions: [Int], machines: inout [Machine], initial: [[Message]],
        abortMessages: ((Machine) -> [Message])? = nil,
        receive: (inout Machine, PartyIndex, Message, inout R) -> Action<Output>
    ) throws(LocalClusterError) -> [Output] {
        let count = positions.count
        let slotOf = Dictionary(uniqueKeysWithValues: positions.enumerated().map { (parties[$0.element], $0.offset) })
        var results = [Result<Output, Abort>?](repeating: nil, count: count)
        var pending: [(from: Int, message: Message)] = initial.enumerated().flatMap { k, out in out.map { (k, $0) } }
        while !pending.isEmpty {
            var inboxes = [[(PartyIndex, Message)]](repeating: [], count: count)
            for (k, message) in pending {
                let recipients: [Int]
                switch message.to {
                case .broadcast: recipients = (0..<count).filter { $0 != k }
                case .party(let j):
                    guard let slot = slotOf[j] else { throw .stalled("message to \(j), not a participant") }
                    recipients = [slot]
                }
                bytesSent[positions[k]] += message.encode().count * recipients.count
                for slot in recipients where results[slot] == nil {
                    let delivered = tamper?(message, parties[positions[slot]]) ?? message
                    inboxes[slot].append((parties[positions[k]], delivered))
                }
            }
            var outboxes = [[Message]](repeating: [], count: count)
            let wasRunning = results.map { $0 == nil }
            machines.withUnsafeMutableBufferPointer { machines in
                results.withUnsafeMutableBufferPointer { results in
                    outboxes.withUnsafeMutableBufferPointer { outboxes in
                        rngs.withUnsafeMutableBufferPointer { rngs in
                            // Each iteration touches only its own slot k (its machine, result,
                            // outbox and random source): no two iterations share state.
                            Self.forEachConcurrently(count) { k in
                                for (sender, message) in inboxes[k] where results[k] == nil {
                                    switch receive(&machines[k], sender, message, &rngs[positions[k]]) {
                                    case .wait: break
                                    case .send(let out): outboxes[k] += out
                                    case .finished(let output, let out):
                                        results[k] = .success(output)
                                        outboxes[k] += out
                                    case .aborted(let abort): results[k] = .failure(abort)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            // The notices of the parties that aborted in this wave go out with the next one.
            if let abortMessages {
                for k in 0..<count where wasRunning[k] {
                    if case .failure = results[k] { outboxes[k] += abortMessages(machines[k]) }
                }
            }
            pending = outboxes.enumerated().flatMap { k, out in out.map { (k, $0) } }
        }
        var outputs: [Output] = []
        var aborts: [PartyIndex: Abort] = [:]
        for (k, result) in results.enumerated() {
            switch result {
            case .success(let output): outputs.append(output)
            case .failure(let abort): aborts[parties[positions[k]]] = abort
            case nil: break
            }
        }
        guard aborts.isEmpty else { throw .aborted(aborts) }
        guard outputs.count == count else { throw .stalled("\(count - outputs.count) parties without output") }
        return outputs
    }

    /// `body(k, &rngs[at[k]])` for k in 0 ..< count, concurrently; the results in order.
    static func concurrently<T>(
        _ count: Int, rngs: inout [R], at positions: [Int]? = nil, _ body: (Int, inout R) throws(Abort) -> T
    ) throws(LocalClusterError) -> [T] {
        var results = [Result<T, Abort>?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { results in
            rngs.withUnsafeMutableBufferPointer { rngs in
                forEachConcurrently(count) { k in
                    let position = positions?[k] ?? k
                    do throws(Abort) { results[k] = .success(try body(k, &rngs[position])) } catch {
                        results[k] = .failure(error)
                    }
                }
            }
        }
        var out: [T] = []
        var aborts: [PartyIndex: Abort] = [:]
        for (k, result) in results.enumerated() {
            switch result {
            case .success(let value): out.append(value)
            case .failure(let abort): aborts[PartyIndex(positions?[k] ?? k)] = abort
            case nil: break
            }
        }
        guard aborts.isEmpty else { throw .aborted(aborts) }
        return out
    }

    /// Runs `body` for 0 ..< count at the same time (inline when there is one item).
    ///
    /// Up to one item per core: `concurrentPerform`. More items than cores (5 parties on 2 cores):
    /// one thread per item, so the kernel time-slices them the way it would separate processes,
    /// and a round takes count/cores of one party's work rather than ⌈count/cores⌉ (3 parties on
    /// 2 cores: 1.5 instead of 2).
    ///
    /// The closures capture buffer pointers into the callers' arrays, which are not `Sendable`.
    /// That is safe because item k writes only element k of each buffer (disjoint memory) and
    /// otherwise reads `Sendable` values, and this function returns only after every item has
    /// finished (so `body` does not escape).
    static func forEachConcurrently(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 {
            for k in 0..<count { body(k) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendableBox(body)
            defer { shared.release() }
            guard count > Self.cores else {
                DispatchQueue.concurrentPerform(iterations: count) { k in shared.run(k) }
                return
            }
            let group = DispatchGroup()
            for k in 1..<count {
                group.enter()
                let thread = Thread {
                    shared.run(k)
                    group.leave()
                }
                thread.stackSize = 8 << 20
                thread.start()
            }
            shared.run(0)
            group.wait()
        }
    }

    /// Cores available to this process.
    static var cores: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }
}

/// See `LocalCluster.forEachConcurrently`: the one place this file steps outside the checker.
/// A class, so that a `Thread` object outliving its work (it keeps its block until it is
/// deallocated) holds only this box, emptied by `release()`, and never the non-escaping closure.
private final class UncheckedSendableBox: @unchecked Sendable {
    private var body: ((Int) -> Void)?
    init(_ body: @escaping (Int) -> Void) { self.body = body }
    /// Called only between creation and `release()` (ordered by the dispatch group / the return
    /// of `concurrentPerform`), so the unsynchronized read is safe.
    func run(_ k: Int) { body!(k) }
    func release() { body = nil }
}

/// The signers' finished presigning machines; `LocalCluster.sign` takes their presignatures
/// (once: the machines share their output slots with every copy).
public struct PresignedSet: Sendable {
    public let signers: [PartyIndex]
    let machines: [Presigning]
    /// R = k⁻¹·G, as every signer computed it.
    public let nonce: Point
}

extension KeygenPreParams {
    /// Fresh pre-params for `count` parties, one party after the other (each `generate()` already
    /// draws its two safe primes on two threads).
    public static func generate(count: Int) throws -> [KeygenPreParams] {
        try (0..<count).map { _ in try generate() }
    }
}

// MARK: `tss-signer simulate`

/// The output of `tss-signer simulate`: the group key, its EIP-55 address, and every signature
/// with the signer set that made it. Hex is lower case without `0x` (except the address).
public struct SimulationReport: Sendable, Equatable {
    public struct Signature: Sendable, Equatable {
        public let hash: [UInt8]
        public let r: [UInt8]
        public let s: [UInt8]
        /// Recovery id: the parity of R.y (after low-S normalization).
        public let v: Int
        public let signers: [PartyIndex]
    }

    /// 33-byte compressed group key.
    public let publicKey: [UInt8]
    public let address: String
    public let signatures: [Signature]

    /// `{"publicKey": hex33, "address": "0x…", "signatures": [{"hash": hex32, "r": hex32,
    /// "s": hex32, "v": 0|1, "signers": [..]}]}` on one line.
    public var json: String {
        let entries = signatures.map { sig in
            "{\"hash\": \"\(Hex.encode(sig.hash))\", \"r\": \"\(Hex.encode(sig.r))\", "
                + "\"s\": \"\(Hex.encode(sig.s))\", \"v\": \(sig.v), "
                + "\"signers\": [\(sig.signers.map(String.init).joined(separator: ", "))]}"
        }
        return "{\"publicKey\": \"\(Hex.encode(publicKey))\", \"address\": \"\(address)\", "
            + "\"signatures\": [\(entries.joined(separator: ", "))]}"
    }
}

/// The core of `tss-signer simulate`: keygen of n parties and M signings of random 32-byte hashes,
/// each by a random subset of t+1 signers (presign + online), all in process on `LocalCluster`.
public enum LocalSimulation {
    /// Largest n accepted (the cost grows with n²; 16 parties already take minutes).
    public static let maximumParties = 16
    /// Largest M accepted.
    public static let maximumMessages = 10_000

    /// Checks 1 ≤ t < n ≤ 16 and 0 ≤ M ≤ 10,000, with a message naming the bad argument.
    public static func validate(parties n: Int, threshold t: Int, messages m: Int) throws(LocalClusterError) {
        guard (2...maximumParties).contains(n) else {
            throw .invalidArguments("--n must be between 2 and \(maximumParties) (got \(n))")
        }
        guard t >= 1, t < n else { throw .invalidArguments("--t must satisfy 1 ≤ t < n = \(n) (got \(t))") }
        guard (0...maximumMessages).contains(m) else {
            throw .invalidArguments("--messages must be between 0 and \(maximumMessages) (got \(m))")
        }
    }

    /// Runs the simulation: `preParams` and `rngs` one per party; `rng` draws the identity keys,
    /// session ids, hashes and signer subsets.
    public static func run<R: RandomSource & Sendable, C: RandomSource>(
        threshold t: Int, preParams: [KeygenPreParams], messages m: Int, rngs: [R], rng: inout C
    ) throws(LocalClusterError) -> SimulationReport {
        let n = preParams.count
        try validate(parties: n, threshold: t, messages: m)
        let identityKeys = (0..<n).map { _ in randomPrivateKey(&rng) }
        var cluster = try LocalCluster(threshold: t, identityKeys: identityKeys, rngs: rngs)
        let shares = try cluster.keygen(sessionID: rng.bytes(32), preParams: preParams)
        let key = shares[0].groupPublicKey
        var signatures: [SimulationReport.Signature] = []
        for _ in 0..<m {
            let signers = Array(cluster.parties.shuffled(using: &rng).prefix(t + 1)).sorted()
            let hash = rng.bytes(32)
            let set = try cluster.presign(shares: shares, signers: signers, sessionID: rng.bytes(32))
            let signature = try cluster.sign(set, digest: hash)
            // Released signatures are checked here too, not only by the outside verifier: the
            // group key verifies it and (r, s, v) recovers the group key.
            guard key.verify(signature.signature, digest: hash),
                (try? PublicKey.recover(signature, digest: hash)) == key
            else { throw .stalled("signature by \(signers) does not verify under the group key") }
            let compact = signature.signature.compact
            signatures.append(
                SimulationReport.Signature(
                    hash: hash, r: Array(compact[0..<32]), s: Array(compact[32..<64]),
                    v: Int(signature.recoveryID), signers: signers))
        }
        return SimulationReport(publicKey: key.compressed, address: key.ethereumAddress, signatures: signatures)
    }

    /// A uniformly random valid secp256k1 private key (rejection sampling: a 32-byte string is
    /// ≥ n or zero with probability < 2^-127).
    static func randomPrivateKey<C: RandomSource>(_ rng: inout C) -> PrivateKey {
        while true {
            var raw = rng.bytes(32)
            defer { secureZero(&raw) }
            if let key = try? PrivateKey(bytes: raw) { return key }
        }
    }
}
