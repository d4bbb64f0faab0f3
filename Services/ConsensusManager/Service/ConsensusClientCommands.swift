import ArgumentParser
import ConsensusManagerCore
import Foundation
import NIOPosix
import NodeKit
import RPC
import ServiceKit
import Tendermint
import Wire

/// Connects to the consensus-manager of a home on its `consensus.rpc_listen` (loopback when it
/// listens on every interface).
private func localClient(home: NodeHome) async throws -> RPCClient {
    let config = try NodeConfig.load(home: home)
    let listen = config.consensus.rpcListen
    let host = ["0.0.0.0", "::", ""].contains(listen.host) ? "127.0.0.1" : listen.host
    return try await RPCClient.connect(
        host: host, port: listen.port, group: MultiThreadedEventLoopGroup.singleton,
        maxFrameSize: config.rpc.maxFrameBytes, connectTimeout: .seconds(3))
}

/// `consensus-manager tx --home H 'key=value' …` (or `--count N --prefix P` to generate N
/// transactions `P-i=v-i`): submits transactions to the local mempool and prints each hash.
public struct ConsensusTxCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tx", abstract: "Submit transactions to the local consensus-manager's mempool.")

    @OptionGroup public var homeOption: HomeOption

    @Option(help: "Generate this many transactions PREFIX-i=v-i instead of reading them from the arguments.")
    public var count: Int = 0

    @Option(help: "Key prefix of generated transactions.")
    public var prefix: String = "tx"

    @Argument(help: "Transactions (the test application takes key=value).")
    public var transactions: [String] = []

    public init() {}

    public func run() async throws {
        try await ServiceCommandErrors.reporting {
            let client = try await localClient(home: homeOption.resolve())
            defer { Task { await client.close() } }
            var txs = transactions.map { Array($0.utf8) }
            if count > 0 { txs += (0..<count).map { Array("\(prefix)-\($0)=v-\($0)".utf8) } }
            // Pipelined: every call is started before the answers are read.
            let futures = txs.map { tx in
                client.callFuture(method: MethodID.consensusSubmitTx, request: ConsensusSubmitTx(tx: tx).encoded())
            }
            for future in futures {
                let ack = try ConsensusSubmitTxAck.decode(try await future.get())
                print("0x" + Hex.encode(ack.hash) + (ack.duplicate ? " duplicate" : ""))
            }
        }
    }
}

/// `consensus-manager block --home H --height N`: one committed block as JSON (0: the latest).
public struct ConsensusBlockCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "block", abstract: "Print a committed block of the local consensus-manager as JSON.")

    @OptionGroup public var homeOption: HomeOption

    @Option(help: "Height (0: the latest).")
    public var height: UInt64 = 0

    public init() {}

    public func run() async throws {
        try await ServiceCommandErrors.reporting {
            let client = try await localClient(home: homeOption.resolve())
            defer { Task { await client.close() } }
            let reply: ConsensusBlockReply = try await client.call(
                method: MethodID.consensusGetBlock, request: ConsensusBlockQuery(height: height), timeout: .seconds(5))
            let block = try Block.decode(reply.block)
            let json: JSONValue = .object([
                "height": .uint(reply.height),
                "hash": .string("0x" + Hex.encode(reply.hash)),
                "round": .int(block.header.round.value),
                "time_ms": .uint(block.header.timeMs),
                "proposer": .string(checksummedAddress(block.header.proposer)),
                "previous_hash": .string("0x" + Hex.encode(block.header.previousBlockHash)),
                "app_hash": .string("0x" + Hex.encode(block.header.appHash)),
                "txs": .array(block.txs.map { .string(String(decoding: $0, as: UTF8.self)) }),
            ])
            print(json.serialized())
        }
    }
}
