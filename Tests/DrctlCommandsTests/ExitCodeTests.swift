import ArgumentParser
import DrctlCore
import Testing

@testable import DrctlCommands

@Suite struct ExitCodeTests {
    private let lock = RunLock(
        environment: "production", runID: "r", owner: "ops", host: "h", pid: 1, startedAt: .now, nonce: "n")

    @Test func drctlErrorsMapToTheDocumentedCodes() {
        let cases: [(any Error, Int32)] = [
            (RunbookError.stepFailed(runID: "r", step: "restore", message: "boom"), 1),
            (CommandFailure(commandLine: "psql", status: .exited(2), standardErrorTail: ""), 1),
            (RunbookError.unknownScenario("x", known: []), 2),
            (JournalError.runNotFound(runID: "r", location: "/s"), 2),
            (RunbookError.drift(runID: "r", changes: ["x"]), 3),
            (RunbookError.unsafeToResume(runID: "r", step: "drop", reason: "no probe"), 3),
            (JournalError.brokenHashChain(path: "j", line: 3), 3),
            (JournalError.wrongNonce(environment: "production", location: "/s"), 3),
            (RunbookError.interrupted(runID: "r", inFlight: []), 4),
            (CancellationError(), 4),
            (JournalError.lockHeld(lock, location: "/s", stale: false), 5),
            (DrctlError.notYetImplemented(feature: "drctl restore", issue: 5), 6),
        ]
        for (error, code) in cases {
            #expect(DrctlExitCode.forError(error)?.rawValue == code, "\(error)")
        }
    }

    @Test func argumentParserErrorsKeepTheirOwnHandling() {
        #expect(DrctlExitCode.forError(ValidationError("bad flag")) == nil)
    }
}
