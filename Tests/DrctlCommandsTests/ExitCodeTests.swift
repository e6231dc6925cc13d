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
            // A program's declared refusal (psql stopping on a script in one transaction) surfacing unmapped.
            (
                CommandFailure(
                    commandLine: "psql", status: .exited(3), standardErrorTail: "ERROR:  x",
                    meaning: .refused(Postgres.scriptRefused)), 3
            ),
            (
                CommandFailure(
                    commandLine: "psql", status: .exited(1), standardErrorTail: "",
                    meaning: .contended("a session on it could not be ended yet")), 1
            ),
            (RunbookError.unknownScenario("x", known: []), 2),
            (JournalError.runNotFound(runID: "r", location: "/s"), 2),
            (ScheduleError.noSchedule(manifest: "m.yaml"), 2),
            (ManifestError.fileNotFound(path: "m.yaml"), 2),
            (SecretError.environmentVariableUnset(name: "DB_PASSWORD"), 2),
            (RunbookError.drift(runID: "r", changes: ["x"]), 3),
            (RunbookError.unsafeToResume(runID: "r", step: "drop", reason: "no probe"), 3),
            (JournalError.brokenHashChain(path: "j", line: 3), 3),
            (JournalError.wrongNonce(environment: "production", location: "/s"), 3),
            (BackupError.checksumMismatch(file: "f", expected: "a", actual: "b"), 3),
            (RunbookError.interrupted(runID: "r", inFlight: []), 4),
            (CancellationError(), 4),
            (JournalError.lockHeld(lock, location: "/s", stale: false), 5),
        ]
        for (error, code) in cases {
            #expect(DrctlExitCode.forError(error)?.rawValue == code, "\(error)")
        }
    }

    @Test func everyFailureKindHasItsOwnCode() {
        let codes = FailureKind.allCases.map { DrctlExitCode($0) }
        #expect(Set(codes).count == FailureKind.allCases.count)
        #expect(!codes.contains(.success))
    }

    @Test func argumentParserErrorsAreLeftToTheParserHandling() {
        #expect(DrctlExitCode.forError(ValidationError("bad flag")) == nil)
    }

    /// argument-parser exits 64 (EX_USAGE) for these; drctl promises 2 for bad usage.
    @Test(
        "usage errors exit 2",
        arguments: [
            ["rebuild", "--no-such-flag"],
            ["plan", "rebuild"],
            ["rollback", "app", "-f", "m.yaml", "--revision", "0"],
            ["rollback", "migration", "-f", "m.yaml", "--steps", "1", "--to", "0002"],
            ["no-such-command"],
        ])
    func usageErrorsExitTwo(arguments: [String]) {
        do {
            var command = try DrctlCommand.parseAsRoot(arguments)
            try command.validate()
            Issue.record("`drctl \(arguments.joined(separator: " "))` parsed without an error")
        } catch {
            #expect(DrctlExitCode.forError(error) == nil)
            #expect(DrctlExitCode.forParserError(error) == 2, "\(arguments): \(error)")
        }
    }

    @Test func helpExitsZero() {
        #expect(DrctlExitCode.forParserError(CleanExit.helpRequest()) == 0)
    }
}
