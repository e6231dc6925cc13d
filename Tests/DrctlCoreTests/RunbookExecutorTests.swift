import DrctlCore
import DrctlTestSupport
import Foundation
import Synchronization
import Testing

@Suite struct RunbookExecutorTests {
    @Test func stepsRunInDependencyOrderAndOutputsFlowDownstream() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        let events = EventRecorder()
        let report = try await RunService(state, events: events).start(TestRunbooks.diamond(log: log))

        #expect(report.status == .succeeded)
        #expect(report.steps.last?.outputs["value"] == "fL+fR1!")
        let order = log.all
        #expect(order.first == "fetch")
        #expect(Array(order.suffix(2)) == ["join", "report"])
        #expect(Set(order[1...2]) == ["left", "right"])
        let history = try state.backend.history(try state.backend.onlyRunID())
        #expect(history.status == .succeeded)
        #expect(history.completedStepCount == 5)
        #expect(try state.backend.currentLock(environment: "test") == nil)
    }

    @Test func independentStepsRunSideBySide() async throws {
        let state = try TemporaryStateDirectory()
        let events = EventRecorder()
        let rightStarted = Signal()
        // "left" only finishes once "right" has started: if the executor ran them one after the other, "left"
        // would wait for its timeout and the run would fail.
        let runbook = Runbook(
            id: "pair", environment: "test", manifestFingerprint: "m",
            steps: [
                RunbookStep(id: "left", title: "Left", timeout: .seconds(30)) { _ in
                    await rightStarted.wait()
                    return [:]
                },
                RunbookStep(id: "right", title: "Right") { _ in
                    rightStarted.fire()
                    return [:]
                },
                RunbookStep(id: "after", title: "After both", dependsOn: ["left", "right"]) { _ in [:] },
            ])
        let report = try await RunService(state, events: events).start(runbook)

        #expect(report.status == .succeeded)
        let trace = events.trace
        let leftStarted = try #require(trace.firstIndex(of: "started left"))
        let leftCompleted = try #require(trace.firstIndex(of: "completed left"))
        let rightStartedIndex = try #require(trace.firstIndex(of: "started right"))
        #expect(leftStarted < leftCompleted && rightStartedIndex < leftCompleted)
        #expect(trace.last == "completed after")
    }

    @Test func onlyRetryableStepsAreRetried() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        let events = EventRecorder()
        let flaky = FlakyCounter(failures: 2)
        let runbook = Runbook(
            id: "retry", environment: "test", manifestFingerprint: "m",
            steps: [
                RunbookStep(id: "flaky", title: "Flaky", retry: RetryPolicy(attempts: 3, backoff: .milliseconds(1))) {
                    _ in
                    try log.record("flaky")
                    try flaky.tick()
                    return ["ok": "yes"]
                },
                RunbookStep(id: "fragile", title: "Fragile", dependsOn: ["flaky"]) { _ in
                    try log.record("fragile")
                    throw InjectedFailure(step: "fragile")
                },
            ])
        await #expect {
            try await RunService(state, events: events).start(runbook)
        } throws: { error in
            guard case RunbookError.stepFailed(_, let step, let message) = error else { return false }
            return step == "fragile" && message.contains("injected failure")
        }
        #expect(log.count("flaky") == 3)
        #expect(log.count("fragile") == 1)
        #expect(
            events.trace == [
                "started flaky", "failed flaky #1", "started flaky #2", "failed flaky #2", "started flaky #3",
                "completed flaky", "started fragile", "failed fragile #1",
            ])
        let history = try state.backend.history(try state.backend.onlyRunID())
        #expect(history.steps.first { $0.id == "flaky" }?.attempts.map(\.outcome) == [.failed, .failed, .completed])
        #expect(history.status == .failed)
    }

    @Test func aStepThatOverrunsItsTimeoutFails() async throws {
        let state = try TemporaryStateDirectory()
        let runbook = Runbook(
            id: "slow", environment: "test", manifestFingerprint: "m",
            steps: [
                RunbookStep(id: "hang", title: "Hangs", timeout: .milliseconds(50)) { _ in
                    try await Task.sleep(for: .seconds(3600))
                    return [:]
                }
            ])
        await #expect {
            try await RunService(state).start(runbook)
        } throws: { error in
            guard case RunbookError.stepFailed(_, let step, let message) = error else { return false }
            return step == "hang" && message.contains("timeout")
        }
    }

    @Test func aFailedStepStopsLaterStepsButLetsRunningOnesFinish() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        log.fail(["left"])
        await #expect(throws: RunbookError.self) {
            try await RunService(state).start(TestRunbooks.diamond(log: log))
        }
        #expect(log.count("join") == 0 && log.count("report") == 0)
        let history = try state.backend.history(try state.backend.onlyRunID())
        #expect(history.steps.first { $0.id == "join" }?.state == .notStarted)
        #expect(try state.backend.currentLock(environment: "test") == nil)
    }

    @Test func theRTOBudgetWarnsAtHalfAndEightyPercent() async throws {
        let state = try TemporaryStateDirectory()
        let clock = ManualClock()
        let events = EventRecorder()
        let runbook = Runbook(
            id: "budget", environment: "test", manifestFingerprint: "m", rtoBudget: .seconds(4 * 3600),
            steps: [
                RunbookStep(id: "restore", title: "Restore") { _ in
                    clock.advance(by: .seconds(150 * 60))
                    return [:]
                },
                RunbookStep(id: "verify", title: "Verify", dependsOn: ["restore"]) { _ in
                    clock.advance(by: .seconds(60 * 60))
                    return [:]
                },
            ])
        let report = try await RunService(state, events: events, clock: clock).start(runbook)

        let trace = events.trace
        #expect(trace.filter { $0.hasPrefix("budget") } == ["budget 50%", "budget 80%"])
        let half = try #require(trace.firstIndex(of: "budget 50%"))
        #expect(half < (trace.firstIndex(of: "started verify") ?? 0))
        #expect(report.elapsed == .seconds(210 * 60))
        #expect(report.budgetPercent == 88)
        #expect(report.steps.map(\.duration) == [.seconds(150 * 60), .seconds(60 * 60)])
    }

    @Test func aStepSeesTheOutputsOfItsDependenciesOnly() async throws {
        let state = try TemporaryStateDirectory()
        let runbook = Runbook(
            id: "scope", environment: "test", manifestFingerprint: "m",
            steps: [
                RunbookStep(id: "backup", title: "Backup") { _ in ["file": "b.sql.gz"] },
                RunbookStep(id: "archive", title: "Archive") { _ in ["files": "12"] },
                RunbookStep(id: "restore", title: "Restore", dependsOn: ["backup"]) { _ in [:] },
                RunbookStep(id: "verify", title: "Verify", dependsOn: ["restore", "archive"]) { context in
                    // "backup" is a dependency of a dependency: visible.
                    ["file": try context.outputs(of: "backup").require("file", from: "backup")]
                },
                RunbookStep(id: "peek", title: "Peek", dependsOn: ["restore"]) { context in
                    _ = try context.outputs(of: "archive")
                    return [:]
                },
            ])
        await #expect {
            try await RunService(state).start(runbook)
        } throws: { error in
            guard case RunbookError.stepFailed(_, let step, let message) = error else { return false }
            return step == "peek" && message.contains("declare archive in its dependsOn")
        }
        let history = try state.backend.history(try state.backend.onlyRunID())
        #expect(history.steps.first { $0.id == "verify" }?.state == .completed(["file": "b.sql.gz"]))
    }

    @Test func malformedRunbooksAreRejectedBeforeAnythingRuns() throws {
        let noop: RunbookStep.Action = { _ in [:] }
        let cycle = Runbook(
            id: "bad", environment: "test", manifestFingerprint: "m",
            steps: [
                RunbookStep(id: "a", title: "A", dependsOn: ["b"], action: noop),
                RunbookStep(id: "b", title: "B", dependsOn: ["a"], action: noop),
            ])
        #expect(throws: RunbookError.self) { try cycle.validate() }
        let unknown = Runbook(
            id: "bad", environment: "test", manifestFingerprint: "m",
            steps: [RunbookStep(id: "a", title: "A", dependsOn: ["zzz"], action: noop)])
        #expect(throws: RunbookError.self) { try unknown.validate() }
        let duplicate = Runbook(
            id: "bad", environment: "test", manifestFingerprint: "m",
            steps: [RunbookStep(id: "a", title: "A", action: noop), RunbookStep(id: "a", title: "A", action: noop)])
        #expect(throws: RunbookError.self) { try duplicate.validate() }
    }

    @Test func anotherRunOfTheEnvironmentIsRefusedWhileTheLockIsHeld() async throws {
        let state = try TemporaryStateDirectory()
        try state.backend.acquireLock(
            RunLock(environment: "test", runID: "other", identity: .current, startedAt: Date()))
        let log = StepLog()
        await #expect {
            try await RunService(state).start(TestRunbooks.diamond(log: log))
        } throws: { error in
            guard case JournalError.lockHeld(let holder, _, _) = error else { return false }
            return holder.runID == "other"
        }
        #expect(log.all.isEmpty)
        #expect(try state.backend.runIDs().isEmpty)
    }
}

final class FlakyCounter: Sendable {
    private let remaining: Mutex<Int>
    init(failures: Int) { remaining = Mutex(failures) }
    func tick() throws {
        let fail = remaining.withLock { count in
            defer { count -= 1 }
            return count > 0
        }
        if fail { throw InjectedFailure(step: "flaky") }
    }
}
