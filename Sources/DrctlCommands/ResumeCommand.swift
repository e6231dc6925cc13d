import ArgumentParser
import DrctlCore

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Resume an interrupted or failed run where it stopped.",
        discussion: """
            Completed steps are skipped and their outputs carried forward. A step that started but never \
            completed is first checked against the real world by its probe: found done, it is accepted; found \
            not done, it runs again. A destructive step that cannot be checked stops the resume.

            Before any probe or step, the programs a killed drctl left running on this machine (helm, psql, aws, \
            recorded in the run's folder while they ran) get SIGTERM, then SIGKILL after 5 s, so they cannot race \
            the resumed run; a recorded pid that now belongs to another program is left alone. What was stopped \
            is printed and journaled.

            The run is rebuilt from the manifest and the options journaled when it started; if the manifest, an \
            option (as this drctl reads it) or the plan changed since, resume refuses and lists what changed by \
            name, unless --accept-drift is given. A run journaled by an earlier drctl resumes too; options this \
            drctl cannot read are refused (exit 3) with what to do.

            Examples:
              drctl resume 20251009-020000-3fa2
              drctl resume 20251009-020000-3fa2 --accept-drift
            """
    )
    @Argument(help: "The run to resume, from `drctl runs list`.") var runID: String
    @Flag(help: "Continue even though the manifest or the plan changed since the run started.")
    var acceptDrift = false
    @OptionGroup var state: StateOptions

    func run() async throws {
        try await RunLauncher(stateDir: state.stateDir, output: state.output)
            .resume(runID: runID, acceptDrift: acceptDrift)
    }
}
