import Foundation

/// Where a run gets the time from, so RTO budgets, timeouts and backoff can be tested without sleeping.
public protocol RunClock: Sendable {
    func now() -> Date
    /// Suspends for `duration`; throws `CancellationError` when the task is cancelled.
    func sleep(for duration: Duration) async throws
}

/// The real wall clock.
public struct SystemRunClock: RunClock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

extension RunClock where Self == SystemRunClock {
    public static var system: SystemRunClock { SystemRunClock() }
}

extension Date {
    func adding(_ duration: Duration) -> Date { addingTimeInterval(duration.seconds) }

    func duration(since start: Date) -> Duration { .milliseconds(Int64((timeIntervalSince(start) * 1000).rounded())) }
}
