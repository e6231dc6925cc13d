import DrctlCore
import DrctlTestSupport
import Foundation
import Synchronization
import Testing

/// A step that got part of its work done before it failed (`PartialStepOutputs`, the archive sync's completed
/// shards): the part is journaled with the failure and handed to the step's retry and to `drctl resume`.
@Suite struct PartialStepOutputsTests {
    struct PartlyDone: Error, LocalizedError, PartialStepOutputs {
        var partialOutputs: StepOutputs
        var errorDescription: String? { "part of the work failed" }
    }

    final class Attempts: Sendable {
        let seen = Mutex<[String]>([])
        let failing = Mutex(true)
    }

    private func runbook(_ attempts: Attempts) -> Runbook {
        Runbook(
            id: "diamond", environment: "test", manifestFingerprint: "m",
            steps: [
                RunbookStep(id: "shards", title: "Shards", retry: RetryPolicy(attempts: 2, backoff: .milliseconds(1))) {
                    context in
                    let before = context.partialOutputs?["done"] ?? ""
                    attempts.seen.withLock { $0.append(before) }
                    let done = before + String(before.count)
                    if attempts.failing.withLock({ $0 }) { throw PartlyDone(partialOutputs: ["done": done]) }
                    return ["done": done + "!"]
                }
            ])
    }

    @Test func aFailedAttemptsPartReachesItsRetryAndTheResume() async throws {
        let state = try TemporaryStateDirectory()
        let attempts = Attempts()
        await #expect(throws: RunbookError.self) { try await RunService(state).start(runbook(attempts)) }
        #expect(attempts.seen.withLock { $0 } == ["", "0"])
        let runID = try state.backend.onlyRunID()
        let history = try state.backend.history(runID)
        #expect(
            history.steps.first { $0.id == "shards" }?.attempts.map { $0.outputs?["done"] } == ["0", "01"],
            "the journal does not hold each failed attempt's part")

        attempts.failing.withLock { $0 = false }
        let registry = TestRunbooks.registry { _ in runbook(attempts) }
        let report = try await RunService(state).resume(runID: runID, registry: registry)
        #expect(report.status == .succeeded)
        #expect(attempts.seen.withLock { $0 } == ["", "0", "01"], "resume did not start from the journaled part")
        #expect(report.steps.first?.outputs["done"] == "012!")
    }
}
