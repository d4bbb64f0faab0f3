import ArgumentParser
import BatchProposer
import ServiceKit

@main
struct BatchProposerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch-proposer",
        abstract: "The batch-proposer service of a validator node.",
        subcommands: [LocalStartCommand<BatchProposerService>.self, ProbeCommand<BatchProposerService>.self],
        defaultSubcommand: LocalStartCommand<BatchProposerService>.self)
}
