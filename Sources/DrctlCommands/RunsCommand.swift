import ArgumentParser
import DrctlCore

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List and show journaled runs.",
        discussion: """
            Examples:
              drctl runs list
              drctl runs show RUN_ID
              drctl runs show RUN_ID -o json
            """,
        subcommands: [RunsListCommand.self, RunsShowCommand.self]
    )
}

struct RunsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List journaled runs, newest first: scenario, environment, status, steps done, duration.",
        discussion: """
            Status is succeeded, failed, interrupted (resumable), running, crashed (the process died without \
            recording an end; resumable) or damaged (the journal cannot be read; the reason is shown).

            Example:
              drctl runs list --state-dir /var/lib/drctl
            """
    )
    @OptionGroup var state: StateOptions

    func run() async throws {
        let summaries = try await RunCatalog(backend: try state.backend()).list()
        switch state.output {
        case .text: StandardStreams.out(RunCatalog.table(summaries))
        case .json: StandardStreams.out(try JournalCoding.jsonText(summaries))
        }
    }
}

struct RunsShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one run: every start, interruption and resume, and each step's attempts, outputs and errors.",
        discussion: """
            Example:
              drctl runs show 20251009-020000-3fa2
            """
    )
    @Argument(help: "The run, from `drctl runs list`.") var runID: String
    @OptionGroup var state: StateOptions

    func run() async throws {
        let catalog = RunCatalog(backend: try state.backend())
        let history = try await catalog.history(runID: runID)
        let status = catalog.displayStatus(history)
        switch state.output {
        case .text: StandardStreams.out(history.text(status: status))
        case .json: StandardStreams.out(try history.json(status: status))
        }
    }
}
