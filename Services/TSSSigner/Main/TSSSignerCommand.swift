import ArgumentParser
import ServiceKit
import TSSSigner

@main
struct TSSSignerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tss-signer",
        abstract: "The tss-signer service of a validator node.",
        subcommands: [
            LocalStartCommand<TSSSignerService>.self, ProbeCommand<TSSSignerService>.self, SimulateCommand.self,
            PreParamsCommand.self, KeysCommand.self,
        ],
        defaultSubcommand: LocalStartCommand<TSSSignerService>.self)
}
