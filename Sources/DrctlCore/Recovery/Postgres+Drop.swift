import Foundation

extension Postgres {
    /// `DROP DATABASE IF EXISTS name WITH (FORCE)`, tried again while PostgreSQL cannot end a session on it yet
    /// (`.contended`, see `dropDatabase(_:force:)`): an autovacuum worker on a freshly loaded database can be ended
    /// only by a superuser or a member of `pg_signal_backend`, and a session just terminated may take a moment to
    /// go. Any other failure is thrown at once.
    func dropDatabase(_ name: String, attempts: Int = 4, context: StepContext) async throws {
        let drop = dropDatabase(name, force: true)
        let policy = RetryPolicy(attempts: attempts, backoff: .seconds(2), multiplier: 1)
        try await policy.run(clock: context.clock, log: context.log) { _ in
            let result = try await context.runner.run(drop)
            guard let failure = result.failure else { return .finished(()) }
            guard failure.meaning.isContended else { throw failure }
            return .tryAgain(
                reason: "\(name) still has a session PostgreSQL could not end yet; trying the drop again",
                failure: failure)
        }
    }
}
