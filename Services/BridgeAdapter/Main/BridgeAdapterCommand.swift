import ArgumentParser
import BridgeAdapter
import ServiceKit

@main
struct BridgeAdapterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge-adapter",
        abstract: "The bridge-adapter service of a validator node.",
        subcommands: [LocalStartCommand<BridgeAdapterService>.self, ProbeCommand<BridgeAdapterService>.self],
        defaultSubcommand: LocalStartCommand<BridgeAdapterService>.self)
}
