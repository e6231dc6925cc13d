import ArgumentParser
import DrctlCore

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Print every step of a scenario and its exact command lines, touching nothing.",
        discussion: """
            Not implemented yet.
            """
    )
    @Argument(help: "The scenario: rebuild, restore, recover-rows, rollback-app, rollback-migration, backup.")
    var scenario: String
    @OptionGroup var options: ManifestOptions
    func run() async throws { throw DrctlError.notYetImplemented(feature: "drctl plan", issue: 2) }
}
