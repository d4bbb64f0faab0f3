import ArgumentParser
import InboxListener
import ServiceKit

@main
struct InboxListenerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inbox-listener",
        abstract: "The inbox-listener service of a validator node.",
        subcommands: [LocalStartCommand<InboxListenerService>.self, ProbeCommand<InboxListenerService>.self],
        defaultSubcommand: LocalStartCommand<InboxListenerService>.self)
}
