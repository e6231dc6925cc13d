import DrctlTestSupport
import Foundation
import Synchronization
import Testing

@testable import DrctlCore

@Suite("Dropping a database drctl loaded")
struct DatabaseDropTests {
    static let postgres = Postgres(
        connection: PostgresConnection(host: "db.local", port: 5432, user: "valeo", database: "postgres"))
    static let busy =
        "ERROR:  42501: permission denied to terminate process\nDETAIL:  Only roles with privileges of the role whose"
        + " process is being terminated or with privileges of the \"pg_signal_backend\" role may terminate this process."

    @Test("an autovacuum worker PostgreSQL cannot end yet: the drop is tried again, then succeeds")
    func busyDatabaseIsRetried() async throws {
        let answers = Mutex([Self.busy, Self.busy])
        let runner = RecordingCommandRunner { invocation in
            let next = answers.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            return next.map { .failure(invocation, stderr: $0) } ?? .success(invocation)
        }
        let clock = SleepRecordingClock()
        let context = StepContext(runID: "run-1", step: "database.restore", runner: runner, clock: clock)
        try await Self.postgres.dropDatabase("valeo_erp_restore_1", context: context)
        #expect(runner.invocations.count == 3)
        #expect(
            runner.invocations.allSatisfy {
                $0.arguments.last == "DROP DATABASE IF EXISTS \"valeo_erp_restore_1\" WITH (FORCE)"
            })
        #expect(clock.sleeps.count == 2)
    }

    @Test("any other failure, or a database that stays busy, is an error naming the statement")
    func otherFailuresThrow() async throws {
        let denied = RecordingCommandRunner {
            .failure($0, stderr: "ERROR:  42501: must be owner of database valeo_erp")
        }
        let clock = SleepRecordingClock()
        let context = StepContext(runID: "run-1", step: "database.restore", runner: denied, clock: clock)
        await #expect(throws: CommandFailure.self) {
            try await Self.postgres.dropDatabase("valeo_erp", context: context)
        }
        #expect(denied.invocations.count == 1)

        let stuck = RecordingCommandRunner { .failure($0, stderr: Self.busy) }
        let stuckContext = StepContext(runID: "run-1", step: "database.restore", runner: stuck, clock: clock)
        await #expect(throws: CommandFailure.self) {
            try await Self.postgres.dropDatabase("valeo_erp", attempts: 3, context: stuckContext)
        }
        #expect(stuck.invocations.count == 3)
    }
}
