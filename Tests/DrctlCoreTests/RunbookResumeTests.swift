import DrctlCore
import DrctlTestSupport
import Foundation
import Synchronization
import Testing

@Suite struct RunbookResumeTests {
    @Test(arguments: TestRunbooks.diamondSteps)
    func aFailureAtAnyStepResumesWithoutRedoingCompletedSteps(failing: StepID) async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        let registry = TestRunbooks.registry {
            TestRunbooks.diamond(log: log, input: (try? $0.options(DiamondOptions.self))?.input ?? "?")
        }
        log.fail([failing])
        await #expect(throws: RunbookError.self) { try await RunService(state).start(TestRunbooks.diamond(log: log)) }
        let runID = try state.backend.onlyRunID()
        let before = try state.backend.history(runID)
        let completedBefore = before.steps.filter { if case .completed = $0.state { true } else { false } }.map(\.id)
        #expect(!completedBefore.contains(failing))

        log.fail([])
        let events = EventRecorder()
        let report = try await RunService(state, events: events).resume(runID: runID, registry: registry)

        #expect(report.status == .succeeded)
        #expect(report.steps.last?.outputs["value"] == "fL+fR1!")
        for step in TestRunbooks.diamondSteps {
            let expectedRuns = step == failing ? 2 : 1
            #expect(log.count(step) == expectedRuns, "step \(step)")
        }
        #expect(Set(events.trace.filter { $0.hasPrefix("skipped") }) == Set(completedBefore.map { "skipped \($0)" }))
        let after = try state.backend.history(runID)
        #expect(after.segments.map(\.kind) == [.started, .resumed])
        #expect(after.segments.map(\.end?.status) == [.failed, .succeeded])
        #expect(after.status == .succeeded)
    }

    @Test func driftIsRefusedWithWhatChangedAndAcceptedOnRequest() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        let input = Mutex("1")
        let registry = TestRunbooks.registry { _ in TestRunbooks.diamond(log: log, input: input.withLock { $0 }) }
        log.fail(["join"])
        await #expect(throws: RunbookError.self) { try await RunService(state).start(TestRunbooks.diamond(log: log)) }
        let runID = try state.backend.onlyRunID()
        log.fail([])
        input.withLock { $0 = "2" }

        let refusal = await #expect(throws: RunbookError.self) {
            try await RunService(state).resume(runID: runID, registry: registry)
        }
        guard case .drift(_, let changes) = refusal else {
            Issue.record("expected drift, got \(String(describing: refusal))")
            return
        }
        #expect(changes == ["option input changed from '1' to '2'", "step right: input input changed from '1' to '2'"])
        #expect(refusal?.errorDescription?.contains("--accept-drift") == true)
        #expect(log.count("join") == 1)

        let report = try await RunService(state).resume(runID: runID, registry: registry, acceptDrift: true)
        #expect(report.status == .succeeded)
        // "right" completed before the drift, so its old output is carried forward, as the user accepted.
        #expect(report.steps.last?.outputs["value"] == "fL+fR1!")
        let history = try state.backend.history(runID)
        #expect(history.segments.last?.note?.contains("drift accepted") == true)
    }

    @Test func aManifestChangeIsDrift() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        let registry = TestRunbooks.registry { _ in
            var runbook = TestRunbooks.diamond(log: log)
            runbook.manifestFingerprint = "manifest-2"
            return runbook
        }
        log.fail(["report"])
        await #expect(throws: RunbookError.self) { try await RunService(state).start(TestRunbooks.diamond(log: log)) }
        let error = await #expect(throws: RunbookError.self) {
            try await RunService(state).resume(runID: try state.backend.onlyRunID(), registry: registry)
        }
        #expect(error?.errorDescription?.contains("the manifest changed") == true)
    }

    @Test func aSucceededRunHasNothingToResume() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        try await RunService(state).start(TestRunbooks.diamond(log: log))
        await #expect(throws: RunbookError.self) {
            try await RunService(state).resume(
                runID: try state.backend.onlyRunID(),
                registry: TestRunbooks.registry { _ in TestRunbooks.diamond(log: log) })
        }
    }

    @Test func aTornJournalLineIsReportedAndTheRunResumes() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        log.fail(["join"])
        await #expect(throws: RunbookError.self) { try await RunService(state).start(TestRunbooks.diamond(log: log)) }
        let runID = try state.backend.onlyRunID()
        try state.backend.append(Data(#"{"step":"join","type":"step-comp"#.utf8), runID: runID)
        log.fail([])

        try await RunService(state).resume(
            runID: runID, registry: TestRunbooks.registry { _ in TestRunbooks.diamond(log: log) })
        let read = try JournalReader.read(try state.backend.readJournal(runID: runID), path: runID)
        #expect(read.tornTail == nil)
        let history = try RunHistory(read, path: runID)
        #expect(history.segments.last?.note?.contains("torn last line") == true)
        #expect(history.status == .succeeded)
    }

    // MARK: - started, never completed

    /// Runs `runbook` until `doubtful` has started, then cancels the run as SIGINT would.
    private func interrupt(_ runbook: Runbook, at started: Signal, state: TemporaryStateDirectory) async throws
        -> String
    {
        let task = Task { try await RunService(state).start(runbook) }
        await started.wait()
        task.cancel()
        let result = await task.result
        guard case .failure(RunbookError.interrupted(let runID, let inFlight)) = result else {
            Issue.record("expected the run to be interrupted, got \(result)")
            return ""
        }
        #expect(inFlight == ["migrate"])
        return runID
    }

    private func probedRunbook(
        log: StepLog, started: Signal, destructive: Bool, block: Bool, probe: RunbookStep.Probe?
    ) -> Runbook {
        Runbook(
            id: "diamond", environment: "test", manifestFingerprint: "m",
            steps: [
                RunbookStep(id: "backup", title: "Backup") { _ in
                    try log.record("backup")
                    return ["file": "b.sql.gz"]
                },
                RunbookStep(
                    id: "migrate", title: "Migrate", dependsOn: ["backup"], destructive: destructive, probe: probe
                ) {
                    _ in
                    try log.record("migrate")
                    if block {
                        started.fire()
                        try await Task.sleep(for: .seconds(3600))
                    }
                    return ["revision": "0003"]
                },
                RunbookStep(id: "verify", title: "Verify", dependsOn: ["migrate"]) { context in
                    try log.record("verify")
                    return ["saw": try context.outputs(of: "migrate").require("revision", from: "migrate")]
                },
            ])
    }

    @Test func cancellationRecordsTheInterruptionAndLeavesTheStepInDoubt() async throws {
        let state = try TemporaryStateDirectory()
        let started = Signal()
        let runID = try await interrupt(
            probedRunbook(log: StepLog(), started: started, destructive: false, block: true, probe: nil), at: started,
            state: state)
        let history = try state.backend.history(runID)
        #expect(history.status == .interrupted)
        #expect(history.segments.last?.end?.inFlight == ["migrate"])
        #expect(history.steps.map(\.state) == [.completed(["file": "b.sql.gz"]), .inDoubt, .notStarted])
        #expect(try state.backend.currentLock(environment: "test") == nil)
    }

    @Test func aStepInDoubtThatItsProbeFindsDoneIsAcceptedNotRerun() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        let started = Signal()
        let runID = try await interrupt(
            probedRunbook(log: log, started: started, destructive: true, block: true, probe: nil), at: started,
            state: state)
        let registry = TestRunbooks.registry { _ in
            probedRunbook(log: log, started: Signal(), destructive: true, block: false) { _ in
                .done(["revision": "0003"])
            }
        }
        let report = try await RunService(state).resume(runID: runID, registry: registry)

        #expect(log.all == ["backup", "migrate", "verify"])
        #expect(report.steps.last?.outputs["saw"] == "0003")
        let migrate = try #require(try state.backend.history(runID).steps.first { $0.id == "migrate" })
        #expect(migrate.attempts.map(\.outcome) == [.acceptedByProbe])
    }

    @Test func aStepInDoubtThatItsProbeFindsNotDoneIsRerun() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        let started = Signal()
        let runID = try await interrupt(
            probedRunbook(log: log, started: started, destructive: true, block: true, probe: nil), at: started,
            state: state)
        let registry = TestRunbooks.registry { _ in
            probedRunbook(log: log, started: Signal(), destructive: true, block: false) { _ in .notDone }
        }
        try await RunService(state).resume(runID: runID, registry: registry)

        #expect(log.all == ["backup", "migrate", "migrate", "verify"])
        let migrate = try #require(try state.backend.history(runID).steps.first { $0.id == "migrate" })
        #expect(migrate.attempts.map(\.outcome) == [.inDoubt, .completed])
    }

    @Test func aDestructiveStepInDoubtWithoutAProbeIsNotRerun() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        let started = Signal()
        let runbook = probedRunbook(log: log, started: started, destructive: true, block: true, probe: nil)
        let runID = try await interrupt(runbook, at: started, state: state)
        let registry = TestRunbooks.registry { _ in
            probedRunbook(log: log, started: Signal(), destructive: true, block: false, probe: nil)
        }

        let error = await #expect(throws: RunbookError.self) {
            try await RunService(state).resume(runID: runID, registry: registry)
        }
        guard case .unsafeToResume(_, let step, _) = error else {
            Issue.record("expected unsafeToResume, got \(String(describing: error))")
            return
        }
        #expect(step == "migrate")
        #expect(log.all == ["backup", "migrate"])
        #expect(try state.backend.currentLock(environment: "test") == nil)
        // The refusal did not touch the journal.
        #expect(try state.backend.history(runID).segments.count == 1)
    }

    @Test func aNonDestructiveStepInDoubtWithoutAProbeIsRerun() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        let started = Signal()
        let runID = try await interrupt(
            probedRunbook(log: log, started: started, destructive: false, block: true, probe: nil), at: started,
            state: state)
        let registry = TestRunbooks.registry { _ in
            probedRunbook(log: log, started: Signal(), destructive: false, block: false, probe: nil)
        }
        try await RunService(state).resume(runID: runID, registry: registry)
        #expect(log.all == ["backup", "migrate", "migrate", "verify"])
    }

    @Test func aStaleLockOfTheSameRunIsTakenOverOnResume() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        log.fail(["join"])
        await #expect(throws: RunbookError.self) { try await RunService(state).start(TestRunbooks.diamond(log: log)) }
        let runID = try state.backend.onlyRunID()
        // As if the process had been killed while holding the lock.
        try state.backend.acquireLock(
            RunLock(
                environment: "test", runID: runID, owner: "ops", host: ProcessIdentity.current.host,
                pid: 2_000_000_000, startedAt: Date()))
        log.fail([])
        try await RunService(state).resume(
            runID: runID, registry: TestRunbooks.registry { _ in TestRunbooks.diamond(log: log) })
        #expect(try state.backend.history(runID).segments.last?.note?.contains("stale lock") == true)
    }
}
