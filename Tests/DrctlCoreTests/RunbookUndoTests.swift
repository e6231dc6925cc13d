import DrctlCore
import DrctlTestSupport
import Foundation
import Synchronization
import Testing

/// A step's `StepUndo` puts the world back when a later step fails: run once, journaled, shown in the summary, and
/// the undone step runs again on resume.
@Suite("Undo after a later failure")
struct RunbookUndoTests {
    /// stop (undo: start again, unless told to decline) → work → start (settles stop's undo).
    static func runbook(log: StepLog, undos: StepLog, decline: Bool = false) -> Runbook {
        Runbook(
            id: "undo", environment: "test", manifestFingerprint: "m",
            steps: [
                RunbookStep(
                    id: "stop", title: "stop the app",
                    undo: StepUndo(title: "start the app again", settledBy: ["start"]) { context in
                        let replicas = try context.outputs(of: "stop").require("replicas", from: "stop")
                        if decline { throw StepUndoDeclined(reason: "the database is gone") }
                        try undos.record("stop")
                        return "started again with \(replicas) replicas"
                    }
                ) { _ in
                    try log.record("stop")
                    return ["replicas": "2"]
                },
                RunbookStep(id: "work", title: "work", dependsOn: ["stop"]) { _ in
                    try log.record("work")
                    return .empty
                },
                RunbookStep(id: "start", title: "start", dependsOn: ["work"]) { _ in
                    try log.record("start")
                    return .empty
                },
            ])
    }

    @Test("a later failure undoes the step once, journals it, says so in the summary; resume runs it again")
    func laterFailureUndoes() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        let undos = StepLog()
        log.fail(["work"])
        let lines = Lines()
        let renderer = TextProgressRenderer { lines.append($0) }
        await #expect(throws: RunbookError.self) {
            try await RunService(state, events: renderer).start(Self.runbook(log: log, undos: undos))
        }
        #expect(undos.count("stop") == 1)
        let output = lines.text
        #expect(output.contains("stop undone: started again with 2 replicas"))
        #expect(output.contains("stop undone after the failure: started again with 2 replicas"))
        let runID = try state.backend.onlyRunID()
        let history = try state.backend.history(runID)
        let stop = try #require(history.steps.first { $0.id == "stop" })
        #expect(stop.attempts.map(\.outcome) == [.completed, .undone])
        #expect(stop.state == .undone("started again with 2 replicas"))
        #expect(history.text(status: "failed").contains("undone at"))

        log.fail([])
        var registry = ScenarioRegistry()
        registry.register("undo") { _ in Self.runbook(log: log, undos: undos) }
        let report = try await RunService(state).resume(runID: runID, registry: registry)
        #expect(report.status == .succeeded)
        // stop ran again before work: the undone effect is redone, not assumed.
        #expect(log.all == ["stop", "work", "stop", "work", "start"])
        #expect(undos.count("stop") == 1)
    }

    @Test("a failure after the settling step completed undoes nothing")
    func settledUndoIsNotRun() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        let undos = StepLog()
        var runbook = Self.runbook(log: log, undos: undos)
        runbook.steps.append(
            RunbookStep(id: "check", title: "check", dependsOn: ["start"]) { _ in throw InjectedFailure(step: "check") }
        )
        await #expect(throws: RunbookError.self) { try await RunService(state).start(runbook) }
        #expect(undos.count("stop") == 0)
        let history = try state.backend.history(try state.backend.onlyRunID())
        #expect(history.steps.first { $0.id == "stop" }?.undo == nil)
    }

    @Test("an undo that declines is journaled and shown; the step stays done")
    func declinedUndo() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        let undos = StepLog()
        log.fail(["work"])
        let events = EventRecorder()
        await #expect(throws: RunbookError.self) {
            try await RunService(state, events: events).start(Self.runbook(log: log, undos: undos, decline: true))
        }
        #expect(undos.count("stop") == 0)
        let history = try state.backend.history(try state.backend.onlyRunID())
        let stop = try #require(history.steps.first { $0.id == "stop" })
        #expect(stop.state == .completed(["replicas": "2"]))
        #expect(stop.undo == "the database is gone")
        #expect(history.text(status: "failed").contains("NOT undone after a later step failed: the database is gone"))
    }

    @Test("an interrupted run is not undone: it is resumed as it stands")
    func interruptionDoesNotUndo() async throws {
        let state = try TemporaryStateDirectory()
        let log = StepLog()
        let undos = StepLog()
        let started = Signal()
        var runbook = Self.runbook(log: log, undos: undos)
        runbook.steps[1] = RunbookStep(id: "work", title: "work", dependsOn: ["stop"]) { context in
            started.fire()
            try await context.clock.sleep(for: .seconds(60))
            return .empty
        }
        let task = Task { try await RunService(state).start(runbook) }
        await started.wait()
        task.cancel()
        await #expect(throws: RunbookError.self) { try await task.value }
        #expect(undos.count("stop") == 0)
    }
}

/// Lines a renderer wrote.
private final class Lines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}

@Suite("Restore's undo: the app back unless the live database is gone (recorded commands)")
struct RestoreUndoTests {
    @Test("the swap stopped after the live database was renamed away: the app is left at 0 and the summary says why")
    func liveDatabaseGoneLeavesTheAppDown() async throws {
        let fixture = try RestoreUnitFixture(
            answers: ["datname = 'valeo_erp'": ""], failing: ["RENAME TO \"valeo_erp\"": "ERROR: disk full"])
        guard case .failure = try await fixture.run() else {
            Issue.record("the restore succeeded although its swap failed")
            return
        }
        let scaledDown = try #require(fixture.index(of: "scale deployment valeo-erp --replicas 0"))
        #expect(!fixture.commands[scaledDown...].contains { $0.contains("scale deployment valeo-erp --replicas 3") })
        let runID = try fixture.state.backend.onlyRunID()
        let scaleDown = try #require(try fixture.state.backend.history(runID).steps.first { $0.id == "app.scale-down" })
        #expect(scaleDown.attempts.map(\.outcome) == [.completed], "the step stays done")
        #expect(scaleDown.undo?.contains("left at 0: the database valeo_erp does not exist") == true)
        #expect(scaleDown.undo?.contains("drctl resume \(runID)") == true)
    }

    @Test("a failure after the scale-down with the live database in place scales the app back to its recorded count")
    func failureScalesBack() async throws {
        let fixture = try RestoreUnitFixture(failing: ["RENAME TO \"valeo_erp\"": "ERROR: disk full"])
        // The recorded count is 3; the deployment reads 0 once the restore scaled it down.
        let readings = Replicas()
        let log = fixture.log
        fixture.runner.respond { invocation in
            let line = ([invocation.executable] + invocation.arguments).joined(separator: " ")
            log.append(line)
            if line.contains("RENAME TO \"valeo_erp\"") { return .failure(invocation, stderr: "ERROR: disk full") }
            if invocation.executable == "gzip", invocation.arguments.first == "-dc" {
                return .success(invocation, output: "-- PostgreSQL database dump\n")
            }
            if line.contains("jsonpath={.spec.replicas}") {
                return .success(invocation, output: readings.next())
            }
            if line.contains("pg_tables") { return .success(invocation, output: "4\n") }
            if let present = RestoreUnitFixture.present(line) { return .success(invocation, output: present) }
            if line.contains("FROM pg_database WHERE datname") { return .success(invocation, output: "1\n") }
            if line.contains("COUNT(*) FROM documents_header") { return .success(invocation, output: "42\n") }
            return .success(invocation)
        }
        guard case .failure = try await fixture.run() else {
            Issue.record("the restore succeeded although its swap failed")
            return
        }
        let failedAt = try #require(fixture.index(of: "RENAME TO \"valeo_erp\""))
        let back = try #require(fixture.index(of: "scale deployment valeo-erp --replicas 3"))
        #expect(failedAt < back)
        #expect(fixture.commands[back...].contains { $0.contains("rollout status") })
        let history = try fixture.state.backend.history(try fixture.state.backend.onlyRunID())
        let scaleDown = try #require(history.steps.first { $0.id == "app.scale-down" })
        #expect(scaleDown.attempts.map(\.outcome) == [.completed, .undone])
    }
}

/// The deployment's replica count as kubectl reads it: 3 before the scale-down, 0 after.
private final class Replicas: Sendable {
    private let reads = Mutex(0)
    func next() -> String {
        reads.withLock { count in
            defer { count += 1 }
            return count == 0 ? "3" : "0"
        }
    }
}
