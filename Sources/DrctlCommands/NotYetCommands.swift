import ArgumentParser
import DrctlCore

// Scenarios that are not built yet. Each one says so plainly and exits 6 instead of pretending.

struct RecoverRowsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover-rows",
        abstract: "Recover accidentally deleted rows from a backup (runbook Szenario 3). Not implemented yet.",
        discussion: """
            Example:
              drctl recover-rows -f manifests/production.yaml --table documents_header --key id --ids 42,43
            """
    )
    @OptionGroup var options: ManifestOptions
    func run() async throws { throw DrctlError.notYetImplemented(feature: "drctl recover-rows", issue: 5) }
}
