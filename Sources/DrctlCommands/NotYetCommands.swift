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

struct GamedayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gameday",
        abstract: "Run a DR drill against staging and measure the RTO and RPO achieved. Not implemented yet.",
        discussion: """
            Example:
              drctl gameday -f manifests/staging.yaml --scenario cluster-loss
            """
    )
    @OptionGroup var options: ManifestOptions
    func run() async throws { throw DrctlError.notYetImplemented(feature: "drctl gameday", issue: 8) }
}
