import DrctlCore
import DrctlTestSupport
import Foundation
import Synchronization
import Testing

/// A safety check that says no stops the run at once, is not retried, and is reported as a refusal.
@Suite("Refusals inside a step")
struct RunbookRefusalTests {
    struct BackupRefused: RefusalError, LocalizedError {
        var isRefusal: Bool { true }
        var errorDescription: String? { "backup x.sql.gz is corrupt: refused before the database was touched" }
    }

    @Test("a refusal is not retried, later steps do not run, and the run ends as stepRefused")
    func refusalStopsWithoutRetry() async throws {
        let state = try TemporaryStateDirectory()
        let attempts = Mutex(0)
        let later = Mutex(false)
        let runbook = Runbook(
            id: "refusal", environment: "test", manifestFingerprint: "m",
            steps: [
                RunbookStep(id: "verify", title: "verify", retry: RetryPolicy(attempts: 3, backoff: .zero)) { _ in
                    attempts.withLock { $0 += 1 }
                    throw BackupRefused()
                },
                RunbookStep(id: "restore", title: "restore", dependsOn: ["verify"], destructive: true) { _ in
                    later.withLock { $0 = true }
                    return .empty
                },
            ])
        let service = RunService(
            backend: state.backend, runner: RecordingCommandRunner(), events: ClosureEventSink { _ in })
        do {
            try await service.start(runbook)
            Issue.record("the run succeeded although its check refused")
        } catch let error as RunbookError {
            guard case .stepRefused(_, let step, let message) = error else {
                Issue.record("expected stepRefused, got \(error)")
                return
            }
            #expect(step == "verify")
            #expect(message.contains("refused before the database was touched"))
            #expect(error.localizedDescription.contains("stopped before that step changed anything"))
        }
        #expect(attempts.withLock { $0 } == 1)
        #expect(!later.withLock { $0 })
    }

    @Test("a corrupt backup (gzip -t exit 1) counts as a refusal; a gzip that could not finish does not")
    func gzipIntegrityIsARefusal() {
        #expect(GzipIntegrityError.corrupt(file: "f", detail: "unexpected end of file").isRefusal)
        #expect(GzipIntegrityError.trailingGarbage(file: "f", detail: "trailing garbage").isRefusal)
        #expect(!GzipIntegrityError.testFailed(file: "f", status: .signalled(9), detail: "").isRefusal)
    }
}
