import ArgumentParser
import SandboxExecutor
import ServiceKit

@main
struct SandboxExecutorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox-executor",
        abstract: "The sandbox-executor service of a validator node.",
        subcommands: [LocalStartCommand<SandboxExecutorService>.self, ProbeCommand<SandboxExecutorService>.self],
        defaultSubcommand: LocalStartCommand<SandboxExecutorService>.self)
}
