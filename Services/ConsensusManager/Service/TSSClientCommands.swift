import ArgumentParser
import Foundation
import NIOPosix
import NodeKit
import RPC
import ServiceKit
import Wire

/// `consensus-manager tss <approve|keygen|sign|reshare|rekey|keys> --home H …`: the local operator
/// API for threshold keys. Each answer is one JSON object on standard output; an error is one line
/// on standard error and exit status 1.
public struct TSSCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tss", abstract: "Threshold keys: approve sessions, keygen, sign, reshare, re-key, list keys.",
        subcommands: [Approve.self, Keygen.self, Sign.self, Reshare.self, Rekey.self, Keys.self, Status.self])

    public init() {}

    static func client(_ home: NodeHome) async throws -> RPCClient {
        let config = try NodeConfig.load(home: home)
        let listen = config.consensus.rpcListen
        let host = ["0.0.0.0", "::", ""].contains(listen.host) ? "127.0.0.1" : listen.host
        return try await RPCClient.connect(
            host: host, port: listen.port, group: MultiThreadedEventLoopGroup.singleton,
            maxFrameSize: config.rpc.maxFrameBytes, connectTimeout: .seconds(3))
    }

    static func call<Request: WireMessage, Response: WireMessage>(
        _ home: NodeHome, _ method: UInt16, _ request: Request, timeout: Duration
    ) async throws -> Response {
        let client = try await client(home)
        defer { Task { await client.close() } }
        return try await client.call(method: method, request: request, timeout: timeout)
    }

    static func addresses(_ text: String, _ option: String) throws -> [Address] {
        try text.split(separator: ",").map { part in
            do { return try Address(hex: part.trimmingCharacters(in: .whitespaces)) } catch {
                throw ValidationError("\(option): \(part) is not a 20-byte hex address")
            }
        }
    }

    static func digest(_ text: String) throws -> [UInt8] {
        guard let bytes = try? Hex.decode(text), bytes.count == 32 else {
            throw ValidationError("--hash must be 32 bytes of hex (0x…)")
        }
        return bytes
    }

    static func kind(_ text: String) throws -> TSSSessionKind {
        guard let kind = TSSSessionKind(name: text) else {
            throw ValidationError("--kind must be one of keygen, presign, sign, reshare")
        }
        return kind
    }

    static func json(_ info: TSSKeyInfo) -> JSONValue {
        let status =
            (1...4).contains(info.status)
            ? ["PENDING", "READY", "RETIRED", "ERROR"][Int(info.status) - 1] : "\(info.status)"
        var object: [String: JSONValue] = [
            "keyId": .string(info.keyID), "keygenSession": .string(info.keygenSession), "status": .string(status),
            "threshold": .int(Int(info.threshold)),
            "parties": .array(info.parties.map { .string(checksummedAddress($0)) }),
            "presignatures": .int(Int(info.presignatures)),
        ]
        if !info.publicKey.isEmpty { object["publicKey"] = .string("0x" + Hex.encode(info.publicKey)) }
        if let address = info.addressHex, let a = try? Address(hex: address) {
            object["address"] = .string(checksummedAddress(a))
        }
        if !info.reason.isEmpty { object["reason"] = .string(info.reason) }
        return .object(object)
    }

    static func print(_ value: JSONValue) { Swift.print(value.serialized()) }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve sessions of a kind on a key (sign: for one purpose and digest) for --ttl seconds.")
        @OptionGroup var homeOption: HomeOption
        @Option(help: "keygen, presign, sign or reshare.") var kind: String
        @Option(help: "The key id.") var key: String
        @Option(help: "Signing only: the purpose.") var purpose: String = ""
        @Option(help: "Signing only: the 32-byte digest, hex.") var hash: String?
        @Option(help: "Seconds the approval lasts.") var ttl: UInt32 = 600

        func run() async throws {
            try await ServiceCommandErrors.reporting {
                let kind = try TSSCommand.kind(kind)
                if kind == .sign, hash == nil { throw ValidationError("approving a signing needs --hash") }
                let request = TSSApproveRequest(
                    kind: kind, keyID: key, purpose: purpose,
                    messageHash: try hash.map(TSSCommand.digest) ?? [UInt8](repeating: 0, count: 32), ttlSeconds: ttl)
                let reply: TSSAuthorizeReply = try await TSSCommand.call(
                    homeOption.resolve(), MethodID.consensusTSSApprove, request, timeout: .seconds(10))
                TSSCommand.print(.object(["approved": .bool(reply.approved), "reason": .string(reply.reason)]))
            }
        }
    }

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate a key among --parties (this node coordinates; each party's operator approves).")
        @OptionGroup var homeOption: HomeOption
        @Option(help: "The key id.") var key: String
        @Option(help: "Comma-separated validator addresses.") var parties: String
        @Option(help: "t: any t+1 parties sign.") var threshold: UInt16

        func run() async throws {
            try await ServiceCommandErrors.reporting {
                let request = TSSKeygenRequest(
                    keyID: key, parties: try TSSCommand.addresses(parties, "--parties"), threshold: threshold)
                let info: TSSKeyInfo = try await TSSCommand.call(
                    homeOption.resolve(), MethodID.consensusTSSKeygen, request, timeout: .seconds(200))
                TSSCommand.print(TSSCommand.json(info))
            }
        }
    }

    struct Sign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sign a 32-byte digest with a threshold key.")
        @OptionGroup var homeOption: HomeOption
        @Option(help: "The key id.") var key: String
        @Option(help: "The 32-byte digest, hex.") var hash: String
        @Option(help: "What the signature is for (the approvals name it).") var purpose: String
        @Option(help: "Comma-separated t+1 signers (default: the tss-signer chooses).") var signers: String?
        @Option(help: "A specific key record (default: the key's READY record).") var keygenSession: String = ""

        func run() async throws {
            try await ServiceCommandErrors.reporting {
                let request = TSSSignRequest(
                    keyID: key, messageHash: try TSSCommand.digest(hash), purpose: purpose,
                    signers: try signers.map { try TSSCommand.addresses($0, "--signers") } ?? [],
                    keygenSession: keygenSession)
                let s: TSSSignature = try await TSSCommand.call(
                    homeOption.resolve(), MethodID.consensusTSSSign, request, timeout: .seconds(140))
                TSSCommand.print(
                    .object([
                        "keyId": .string(s.keyID), "keygenSession": .string(s.keygenSession),
                        "hash": .string("0x" + Hex.encode(s.messageHash)), "r": .string("0x" + Hex.encode(s.r)),
                        "s": .string("0x" + Hex.encode(s.s)), "v": .int(Int(s.v)),
                        "signers": .array(s.signers.map { .string(checksummedAddress($0)) }),
                        "sessionId": .string("0x" + Hex.encode(s.sessionID)), "pooled": .bool(s.pooled),
                    ]))
            }
        }
    }

    struct Reshare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a key to a new committee and threshold, keeping its address.")
        @OptionGroup var homeOption: HomeOption
        @Option(help: "The key id.") var key: String
        @Option(help: "Comma-separated validator addresses of the new committee.") var parties: String
        @Option(help: "The new t.") var threshold: UInt16

        func run() async throws {
            try await ServiceCommandErrors.reporting {
                let request = TSSReshareRequest(
                    keyID: key, newParties: try TSSCommand.addresses(parties, "--parties"), newThreshold: threshold)
                let info: TSSKeyInfo = try await TSSCommand.call(
                    homeOption.resolve(), MethodID.consensusTSSReshare, request, timeout: .seconds(320))
                TSSCommand.print(TSSCommand.json(info))
            }
        }
    }

    struct Rekey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace a key by a fresh one (same parties and threshold, new address).")
        @OptionGroup var homeOption: HomeOption
        @Option(help: "The key id.") var key: String

        func run() async throws {
            try await ServiceCommandErrors.reporting {
                let info: TSSKeyInfo = try await TSSCommand.call(
                    homeOption.resolve(), MethodID.consensusTSSRekey, TSSKeyQuery(keyID: key), timeout: .seconds(200))
                TSSCommand.print(TSSCommand.json(info))
            }
        }
    }

    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the key records this node holds.")
        @OptionGroup var homeOption: HomeOption
        @Option(help: "Only this key id.") var key: String = ""

        func run() async throws {
            try await ServiceCommandErrors.reporting {
                let list: TSSKeyList = try await TSSCommand.call(
                    homeOption.resolve(), MethodID.consensusTSSKeys, TSSKeyQuery(keyID: key), timeout: .seconds(15))
                TSSCommand.print(.object(["keys": .array(list.keys.map(TSSCommand.json))]))
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The local tss-signer's status: keys, sessions, pools, peers (its /status object).")
        @OptionGroup var homeOption: HomeOption

        func run() async throws {
            try await ServiceCommandErrors.reporting {
                let reply: TSSStatusReply = try await TSSCommand.call(
                    homeOption.resolve(), MethodID.consensusTSSStatus, Empty(), timeout: .seconds(15))
                Swift.print(reply.json)
            }
        }
    }
}
