import ArgumentParser
import DrctlCore

struct UnlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Release an environment's run lock left by a dead run.",
        discussion: """
            The nonce is printed by the error that reported the lock. Only remove a lock whose run is gone; \
            to continue that run, `drctl resume RUN_ID` takes over its stale lock by itself.

            Example:
              drctl unlock production --nonce 5f1c2a9e0b7d4c11
            """
    )
    @Argument(help: "The environment whose lock to release.") var environment: String
    @Option(help: "The lock's nonce, as shown by the error that reported it.") var nonce: String
    @OptionGroup var state: StateOptions

    func run() async throws {
        let backend = try state.backend()
        let lock = try await backend.currentLock(environment: environment)
        try await backend.releaseLock(environment: environment, nonce: nonce)
        StandardStreams.out(
            "Released the lock of \(environment)" + (lock.map { " (run \($0.runID) by \($0.owner)@\($0.host))" } ?? "")
                + ".")
    }
}
