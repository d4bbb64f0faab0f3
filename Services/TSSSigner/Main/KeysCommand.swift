import ArgumentParser
import CryptoPrimitives
import Foundation
import Logging
import NodeKit
import TSSSigner
import TSSStore

/// `tss-signer keys list|export|import --home H`: the key records of a stopped tss-signer, and
/// sealed backups of them. A backup stays sealed (AES-256-GCM under the keystore's scrypt-derived
/// key); importing it into another store needs the passphrase file of the store it came from.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Key records of a stopped tss-signer: list, sealed export and import.",
        subcommands: [List.self, Export.self, Import.self])

    static let logger = Logger(label: "tss-signer")

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every record's public header (JSON lines).")
        @OptionGroup var homeOption: HomeOption

        func run() throws {
            let headers = try TSSKeyStoreRuntime.withStore(home: homeOption.resolve(), logger: KeysCommand.logger) {
                try $0.records()
            }
            for result in headers {
                switch result {
                case .success(let h):
                    let object: JSONValue = .object([
                        "record": .string(h.id.description), "status": .string(h.status.description),
                        "threshold": .int(h.threshold), "n": .int(h.n),
                        "address": h.addressHex.map { .string($0) } ?? .null,
                    ])
                    print(object.serialized())
                case .failure(let error):
                    print(JSONValue.object(["error": .string("\(error)")]).serialized())
                }
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a sealed backup of one record.")
        @OptionGroup var homeOption: HomeOption
        @Option(help: "The record, <keyId>:<keygenSession>.") var record: String
        @Option(help: "The backup file to create (mode 0600; never overwritten).") var out: String

        func run() throws {
            let id = try KeyRecordID(parsing: record)
            let blob = try TSSKeyStoreRuntime.withStore(home: homeOption.resolve(), logger: KeysCommand.logger) {
                try $0.export(id)
            }
            try FileIO.writeAtomically(out, bytes: blob, mode: NodeHome.keyFileMode, overwrite: false)
            print(JSONValue.object(["exported": .string(id.description), "file": .string(out)]).serialized())
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restore a sealed backup into this store.")
        @OptionGroup var homeOption: HomeOption
        @Option(help: "The backup file.") var file: String
        @Option(help: "Passphrase file of the store the backup came from (default: this store's own).")
        var passphraseFile: String?

        func run() throws {
            let blob = try FileIO.read(file, maxBytes: 16 << 20)
            var source: SecretBytes? = nil
            if let passphraseFile {
                var bytes = try FileIO.read(passphraseFile, maxBytes: 64 << 10)
                defer { secureZero(&bytes) }
                while let last = bytes.last, last == 0x0a || last == 0x0d { bytes.removeLast() }
                source = SecretBytes(bytes)
            }
            let header = try TSSKeyStoreRuntime.withStore(home: homeOption.resolve(), logger: KeysCommand.logger) {
                try $0.importRecord(blob, passphrase: source)
            }
            print(
                JSONValue.object([
                    "imported": .string(header.id.description), "status": .string(header.status.description),
                ])
                .serialized())
        }
    }
}
