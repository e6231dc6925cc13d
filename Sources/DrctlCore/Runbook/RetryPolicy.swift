/// drctl's one retry policy: how often something is tried, and how long to wait between tries. A step declares
/// one for the executor (`RunbookStep.retry`); inside a step, `run` retries a single operation (a drop PostgreSQL
/// cannot do yet, a helm install racing a killed run's helm, a notification, a readiness request) with the same
/// arithmetic, on the run's clock, so tests drive it with a manual clock and Ctrl-C ends the wait.
public struct RetryPolicy: Sendable, Hashable {
    /// Total tries, including the first.
    public var attempts: Int
    /// Wait before the second try; multiplied by `multiplier` before each further try.
    public var backoff: Duration
    public var multiplier: Int
    /// No wait is longer than this (nil: no cap).
    public var maximumBackoff: Duration?

    public init(attempts: Int, backoff: Duration = .seconds(5), multiplier: Int = 2, maximumBackoff: Duration? = nil) {
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.multiplier = max(1, multiplier)
        self.maximumBackoff = maximumBackoff
    }

    public static let none = RetryPolicy(attempts: 1, backoff: .zero)

    /// The wait after failed attempt `attempt` (1-based).
    public func delay(after attempt: Int) -> Duration {
        var delay = backoff
        for _ in 1..<max(1, attempt) {
            delay *= multiplier
            if let maximumBackoff, delay >= maximumBackoff { break }
        }
        if let maximumBackoff { delay = min(delay, maximumBackoff) }
        return delay
    }

    /// What one try came to.
    public enum Outcome<Value> {
        /// Done: `run` returns the value.
        case finished(Value)
        /// Worth another try (`reason` is logged before the wait); when no try is left, `failure` is thrown.
        case tryAgain(reason: String, failure: any Error)
    }

    /// Tries `body` up to `attempts` times, waiting `delay(after:)` on `clock` between tries. An error thrown by
    /// `body` ends the retries at once (only what `body` calls `tryAgain` is retried). `budget` bounds the total
    /// time: no wait goes past it, and no try starts after it. The first try is always made; a cancelled task
    /// ends in the wait before the next one (`CancellationError`).
    public func run<Value>(
        clock: any RunClock, budget: Duration? = nil, log: (String) -> Void = { _ in },
        _ body: (_ attempt: Int) async throws -> Outcome<Value>
    ) async throws -> Value {
        let start = clock.now()
        var attempt = 1
        while true {
            switch try await body(attempt) {
            case .finished(let value):
                return value
            case .tryAgain(let reason, let failure):
                var wait = delay(after: attempt)
                if let budget {
                    let left = budget - clock.now().duration(since: start)
                    guard left > .zero else { throw failure }
                    wait = min(wait, left)
                }
                guard attempt < attempts else { throw failure }
                log(reason)
                try await clock.sleep(for: wait)
                attempt += 1
            }
        }
    }
}
