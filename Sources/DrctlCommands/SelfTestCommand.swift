import ArgumentParser
import DrctlCore
import Foundation

/// A hidden diagnostic: runs a tiny runbook that only writes files, to check the engine (journal, parallel
/// steps, kill and resume) on a machine without a cluster. Used by the integration tests.
struct SelfTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Run the engine's diagnostic runbook, which only writes files in --dir.",
        discussion: """
            DRCTL_SELFTEST_DELAY=SECONDS makes step write-b sleep; DRCTL_SELFTEST_FAIL=STEP makes a step fail.

            Example:
              drctl selftest --dir /tmp/drctl-selftest
            """,
        shouldDisplay: false
    )
    @Option(help: "The folder the steps write to.") var dir: String
    @Option(help: "An RTO budget in seconds, to see the budget warnings.") var rtoSeconds: Int?
    @OptionGroup var state: StateOptions

    func validate() throws {
        if dir.isEmpty { throw ValidationError("--dir must not be empty.") }
    }

    func run() async throws {
        let absolute = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
        let scenario = SelfTestScenario(directory: absolute, rtoBudget: rtoSeconds.map { .seconds($0) })
        try await RunLauncher(stateDir: state.stateDir, output: state.output).start(try scenario.runbook())
    }
}
