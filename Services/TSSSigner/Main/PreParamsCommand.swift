import ArgumentParser
import Foundation
import Logging
import NodeKit
import TSSSigner

/// `tss-signer preparams import --home H --file F`: seals pre-made keygen pre-params (pairs of
/// safe primes) into the pool of a stopped tss-signer.
struct PreParamsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preparams", abstract: "Keygen pre-params pool of a node home.",
        subcommands: [Import.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Add pre-made pre-params (safe primes) to the pool of a stopped tss-signer.",
            discussion: """
                The file is JSON: {"preparams": [{"p": hex, "q": hex}, …]} (or {"paillier": […]} as in the \
                test fixtures). Each pair is checked (safe primes of equal size, N ≥ 2048 bits) and sealed in \
                data/tss.db. The tss-signer must be stopped (the database is locked while it runs).
                """)

        @OptionGroup var homeOption: HomeOption

        @Option(help: "JSON file with the safe-prime pairs.")
        var file: String

        @Option(help: "Comma-separated item indices of the file to import (default: all).")
        var items: String?

        func run() throws {
            let home = homeOption.resolve()
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                let list = (object["preparams"] ?? object["paillier"]) as? [[String: String]]
            else { throw ValidationError("\(file): expected {\"preparams\": [{\"p\": hex, \"q\": hex}, …]}") }
            var pairs: [(p: String, q: String)] = []
            for item in list {
                guard let p = item["p"], let q = item["q"] else {
                    throw ValidationError("\(file): an item lacks p or q")
                }
                pairs.append((p, q))
            }
            if let items {
                let wanted = items.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard wanted.allSatisfy({ pairs.indices.contains($0) }) else {
                    throw ValidationError("--items: indices must be 0…\(pairs.count - 1)")
                }
                pairs = wanted.map { pairs[$0] }
            }
            let (added, ready) = try TSSKeyStoreRuntime.importPreParams(
                home: home, pairs: pairs, logger: Logger(label: "tss-signer"))
            print("{\"added\": \(added), \"ready\": \(ready)}")
        }
    }
}
