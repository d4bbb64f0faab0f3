import ArgumentParser
import CryptoPrimitives
import Foundation
import TSSCore
import Wire

/// `tss-signer simulate --n N --t T --messages M --json`: keygen of N parties with threshold T and
/// M signings of random 32-byte hashes by random T+1 signer subsets, all in this process
/// (`LocalSimulation` on `LocalCluster`), with fresh safe-prime pre-params and system randomness.
/// The JSON is for outside verifiers (`Tests/Integration/verify_simulate.py`).
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a threshold keygen and signings of N parties in process; print the signatures.",
        discussion: """
            Prints {"publicKey": hex33, "address": "0x…", "signatures": [{"hash": hex32, "r": hex32, \
            "s": hex32, "v": 0|1, "signers": [..]}]} with --json (hex without 0x, EIP-55 address), \
            else one line per signature. Progress goes to standard error.
            """)

    @Option(name: .customLong("n"), help: "Number of parties (2…\(LocalSimulation.maximumParties)).")
    var parties: Int

    @Option(name: .customLong("t"), help: "Threshold t: any t+1 parties sign (1 ≤ t < n).")
    var threshold: Int

    @Option(help: "Number of messages to sign (0…\(LocalSimulation.maximumMessages)).")
    var messages: Int = 1

    @Flag(help: "Print the result as one JSON object.")
    var json = false

    func validate() throws {
        do { try LocalSimulation.validate(parties: parties, threshold: threshold, messages: messages) } catch {
            throw ValidationError(String(describing: error))
        }
    }

    func run() throws {
        let clock = ContinuousClock()
        let start = clock.now
        progress("generating Paillier and ring-Pedersen pre-params (safe primes) for \(parties) parties")
        let preParams = try KeygenPreParams.generate(count: parties)
        progress("pre-params ready after \(clock.now - start); keygen and \(messages) signing(s)")
        var rng = SecureRandomNumberGenerator()
        let report = try LocalSimulation.run(
            threshold: threshold, preParams: preParams, messages: messages,
            rngs: [SecureRandomNumberGenerator](repeating: SecureRandomNumberGenerator(), count: parties), rng: &rng)
        progress("done after \(clock.now - start)")
        if json {
            print(report.json)
        } else {
            print("public key \(Hex.encode(report.publicKey))")
            print("address \(report.address)")
            for (i, sig) in report.signatures.enumerated() {
                print("signature \(i): signers \(sig.signers) v \(sig.v)")
            }
        }
    }

    func progress(_ text: String) {
        FileHandle.standardError.write(Data("tss-signer simulate: \(text)\n".utf8))
    }
}
