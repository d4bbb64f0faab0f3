import Foundation
import Secp256k1
import Testing
import Wire

@testable import NodeKit

@Suite("NodeKit genesis and keys")
struct NodeKitGenesisTests {
    static let time = Timestamp(rfc3339: "2025-01-02T03:04:05Z")!

    func validators(_ n: Int) -> [GenesisValidator] {
        (0..<n).map { GenesisValidator(name: "node\($0)", publicKey: PrivateKey.generate().publicKey, power: 100) }
    }

    func genesisError(_ json: String) -> String? {
        do throws(GenesisError) {
            _ = try Genesis.parse(Array(json.utf8))
            return nil
        } catch {
            return error.description
        }
    }

    @Test func canonicalRoundTrip() throws {
        let genesis = Genesis(chainID: "test-1", genesisTime: Self.time, validators: validators(3))
        try genesis.validate()
        let text = genesis.canonicalJSON()
        let parsed = try Genesis.parse(Array(text.utf8))
        #expect(parsed == genesis)
        #expect(parsed.canonicalJSON() == text)
        #expect(parsed.canonicalHash() == genesis.canonicalHash())
        #expect(parsed.totalPower == 300)
        // Sorted keys, fixed layout.
        #expect(
            text.hasPrefix(
                "{\n  \"chain_id\": \"test-1\",\n  \"genesis_time\": \"2025-01-02T03:04:05Z\",\n  \"params\": {"))
        #expect(text.contains("\"epoch_length\": 100"))
        // Addresses are written with their EIP-55 checksum.
        let address = checksummedAddress(genesis.validators[0].address)
        #expect(text.contains("\"address\": \"\(address)\""))
    }

    /// A valid genesis as JSON text with one validator, with `edit` applied to the object.
    func json(_ edit: (inout [String: JSONValue]) -> Void = { _ in }) -> String {
        let genesis = Genesis(chainID: "test-1", genesisTime: Self.time, validators: validators(2))
        guard case .object(var object) = try! JSONValue(parsing: genesis.canonicalJSON()) else { return "" }
        edit(&object)
        return JSONValue.object(object).serialized()
    }

    func editValidator(_ index: Int, _ object: inout [String: JSONValue], _ edit: (inout [String: JSONValue]) -> Void) {
        guard case .array(var list) = object["validators"]!, case .object(var v) = list[index] else { return }
        edit(&v)
        list[index] = .object(v)
        object["validators"] = .array(list)
    }

    @Test func acceptsValidJSON() {
        #expect(genesisError(json()) == nil)
    }

    @Test func rejectsEmptyValidators() {
        #expect(genesisError(json { $0["validators"] = [] }) == "validators: the genesis needs at least one validator")
    }

    @Test func rejectsDuplicateAddress() {
        let error = genesisError(
            json { o in
                guard case .array(let list) = o["validators"]! else { return }
                o["validators"] = .array([list[0], list[1], list[0]])
            })
        #expect(error?.hasPrefix("validators[2]: address 0x") == true)
        #expect(error?.contains("already used by validators[0]") == true)
    }

    @Test func rejectsAddressNotMatchingKey() {
        let other = checksummedAddress(NodeKeyFile.generate().address)
        let error = genesisError(json { o in editValidator(1, &o) { $0["address"] = .string(other) } })
        #expect(error?.hasPrefix("validators[1] (node1): address \(other) does not match pub_key") == true)
    }

    @Test func rejectsZeroPower() {
        let error = genesisError(json { o in editValidator(0, &o) { $0["power"] = 0 } })
        #expect(error == "validators[0] (node0): power must be greater than 0")
    }

    @Test func rejectsNegativePowerAsType() {
        let error = genesisError(json { o in editValidator(0, &o) { $0["power"] = -5 } })
        #expect(error == "validators[0].power: must not be negative")
        #expect(
            genesisError(json { o in editValidator(1, &o) { $0["power"] = 1.5 } })?
                .hasPrefix("validators[1].power: expected an integer") == true)
        #expect(
            genesisError(json { o in editValidator(1, &o) { $0["power"] = "100" } })?
                .hasPrefix("validators[1].power: expected an unsigned integer") == true)
    }

    @Test func rejectsTotalPowerOverflow() {
        let error = genesisError(
            json { o in
                editValidator(0, &o) { $0["power"] = .int(Int64.max / 8) }
                editValidator(1, &o) { $0["power"] = 1 }
            })
        #expect(error?.contains("total power exceeds") == true)
    }

    @Test(arguments: ["", "Test", "has space", "under_score", String(repeating: "a", count: 51)])
    func rejectsChainID(id: String) {
        let error = genesisError(json { $0["chain_id"] = .string(id) })
        #expect(error?.hasPrefix("chain_id ") == true)
        #expect(error?.contains("a-z, 0-9 and -") == true)
    }

    @Test func acceptsLongestChainID() {
        #expect(genesisError(json { $0["chain_id"] = .string(String(repeating: "a", count: 50)) }) == nil)
    }

    @Test func rejectsMalformedFieldsWithPath() {
        #expect(
            genesisError(json { o in editValidator(1, &o) { $0["pub_key"] = "02abcd" } })?
                .hasPrefix("validators[1].pub_key: ") == true)
        #expect(
            genesisError(json { o in editValidator(0, &o) { $0["address"] = "0x1234" } })?
                .hasPrefix("validators[0].address: ") == true)
        #expect(
            genesisError(json { o in editValidator(0, &o) { $0.removeValue(forKey: "name") } })
                == "validators[0].name: missing")
        #expect(genesisError(json { $0["genesis_time"] = "yesterday" })?.hasPrefix("genesis_time: ") == true)
        #expect(genesisError(json { $0["extra"] = 1 })?.hasPrefix("extra: unknown field") == true)
        #expect(
            genesisError(
                json { o in
                    guard case .object(var p) = o["params"]! else { return }
                    p["max_block_byte"] = 1
                    o["params"] = .object(p)
                })?.hasPrefix("params.max_block_byte: unknown field") == true)
        #expect(genesisError("{\"chain_id\": \"a\", \"chain_id\": \"b\"}")?.contains("duplicate key") == true)
        #expect(genesisError("[1,") != nil)
    }

    @Test func rejectsBadParams() {
        let error = genesisError(
            json { o in
                guard case .object(var p) = o["params"]! else { return }
                p["epoch_length"] = 0
                o["params"] = .object(p)
            })
        #expect(error == "params.epoch_length: 0 is outside 1-1000000000")
    }

    @Test func loadNamesTheFile() throws {
        let dir = try nodeKitTempDir()
        defer { nodeKitRemoveTree(dir) }
        let path = dir + "/genesis.json"
        try FileIO.writeAtomically(
            path, bytes: Array(json { $0["validators"] = [] }.utf8), mode: 0o644, overwrite: false)
        do throws(GenesisError) {
            _ = try Genesis.load(path: path)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "\(path): validators: the genesis needs at least one validator")
        }
    }

    @Test func timestamps() throws {
        #expect(Timestamp(rfc3339: "1970-01-01T00:00:00Z")?.seconds == 0)
        #expect(Timestamp(rfc3339: "2000-03-01T00:00:00Z")?.seconds == 951_868_800)
        let t = try #require(Timestamp(rfc3339: "2024-02-29T23:59:59.5+01:00"))
        #expect(t.rfc3339() == "2024-02-29T22:59:59.5Z")
        #expect(t.nanoseconds == 500_000_000)
        #expect(Timestamp(rfc3339: "1969-12-31T23:59:59Z")?.seconds == -1)
        #expect(Timestamp(seconds: -1).rfc3339() == "1969-12-31T23:59:59Z")
        for bad in [
            "2023-02-29T00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00", "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.1234567891Z",
        ] {
            #expect(Timestamp(rfc3339: bad) == nil, "\(bad)")
        }
        let now = Timestamp.now()
        #expect(Timestamp(rfc3339: now.rfc3339()) == now)
    }

    // MARK: Keys

    @Test func keyFileRoundTripAndPermissions() throws {
        let dir = try nodeKitTempDir()
        defer { nodeKitRemoveTree(dir) }
        let path = dir + "/priv_validator_key.json"
        let key = ValidatorKeyFile.generate()
        try key.write(to: path, overwrite: false)
        #expect(try FileIO.permissions(path) == 0o600)
        let loaded = try ValidatorKeyFile.load(path: path)
        #expect(loaded.address == key.address)
        #expect(loaded.publicKey == key.publicKey)
        let json = try JSONValue(parsing: FileIO.read(path))
        #expect(json["address"]?.stringValue == key.checksumAddress)
        #expect(json["pub_key"]?.stringValue == Hex.encode(key.publicKey.compressed))
        #expect(json["priv_key"]?.stringValue?.count == 64)

        // Never clobbered without overwrite.
        #expect(throws: KeyFileError.alreadyExists(path: path)) {
            try ValidatorKeyFile.generate().write(to: path, overwrite: false)
        }
        #expect(try ValidatorKeyFile.load(path: path).address == key.address)
        let replacement = ValidatorKeyFile.generate()
        try replacement.write(to: path, overwrite: true)
        #expect(try ValidatorKeyFile.load(path: path).address == replacement.address)
        #expect(try FileIO.permissions(path) == 0o600)
    }

    @Test func keyFileNeverPrintsThePrivateKey() throws {
        let key = NodeKeyFile.generate()
        let privHex = key.privateKey.withRawBytes { Hex.encode($0) }
        var dumped = ""
        dump(key, to: &dumped)
        for text in [key.description, "\(key)", String(reflecting: key), dumped] {
            #expect(!text.contains(privHex))
            #expect(text.contains(key.checksumAddress) || text.contains("<redacted>"))
        }
        #expect(key.description.contains("<redacted>"))
    }

    @Test func keyFileValidation() throws {
        let key = ValidatorKeyFile.generate()
        let priv = key.privateKey.withRawBytes { Hex.encode($0) }
        let pub = Hex.encode(key.publicKey.compressed)
        func check(_ fields: [String: JSONValue]) -> String? {
            do throws(KeyFileError) {
                _ = try ValidatorKeyFile.parse(Array(JSONValue.object(fields).serialized().utf8), path: "k.json")
                return nil
            } catch {
                let text = error.description
                #expect(!text.contains(priv), "an error message must never contain the private key")
                return text
            }
        }
        let good: [String: JSONValue] = [
            "address": .string(key.checksumAddress), "pub_key": .string(pub), "priv_key": .string(priv),
        ]
        #expect(check(good) == nil)
        // Lower-case address is fine too.
        var lower = good
        lower["address"] = .string(key.checksumAddress.lowercased())
        #expect(check(lower) == nil)

        var wrongAddress = good
        let other = NodeKeyFile.generate().checksumAddress
        wrongAddress["address"] = .string(other)
        #expect(
            check(wrongAddress)
                == "k.json: address \(other) does not match the private key (which gives \(key.checksumAddress))")

        var wrongPub = good
        wrongPub["pub_key"] = .string(Hex.encode(NodeKeyFile.generate().publicKey.compressed))
        #expect(check(wrongPub)?.contains("pub_key") == true)

        var badPriv = good
        badPriv["priv_key"] = .string(String(repeating: "0", count: 64))
        #expect(check(badPriv) == "k.json: priv_key is not a valid secp256k1 private key")

        var shortPriv = good
        shortPriv["priv_key"] = .string("abcd")
        #expect(check(shortPriv) == "k.json: priv_key must be 64 hex digits (32 bytes)")

        var extra = good
        extra["comment"] = "x"
        #expect(check(extra)?.contains("unknown field") == true)

        var missing = good
        missing.removeValue(forKey: "pub_key")
        #expect(check(missing) == "k.json: missing field pub_key")
    }

    @Test func looseKeyPermissionsAreReported() throws {
        let dir = try nodeKitTempDir()
        defer { nodeKitRemoveTree(dir) }
        let path = dir + "/node_key.json"
        try NodeKeyFile.generate().write(to: path, overwrite: false)
        #expect(NodeHome.keyFilePermissionWarning(path) == nil)
        chmod(path, 0o644)
        let warning = try #require(NodeHome.keyFilePermissionWarning(path))
        #expect(warning.contains("chmod 600"))
        // Still loads (the warning goes to the logger).
        _ = try NodeKeyFile.load(path: path)
    }
}
