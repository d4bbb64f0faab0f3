import ArgumentParser
import ConsensusManager
import NodeKit
import ServiceKit

@main
struct ConsensusManagerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consensus-manager",
        abstract: "The consensus-manager of a validator node: the native chain and the hub of the local services.",
        subcommands: [
            ConsensusManagerStartCommand.self, InitCommand.self, TestnetCommand.self, ConfigCommand.self,
            ProbeCommand<ConsensusManagerIdentity>.self, ConsensusTxCommand.self, ConsensusBlockCommand.self,
            TSSCommand.self,
        ],
        defaultSubcommand: ConsensusManagerStartCommand.self)
}
