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
