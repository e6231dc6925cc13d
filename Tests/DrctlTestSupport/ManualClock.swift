import DrctlCore
import Foundation
import Synchronization

/// A `RunClock` that only moves when a test (or a step) calls `advance(by:)`; sleepers wake when their
/// deadline is reached. RTO budgets, timeouts and backoff are then tested without real waiting.
public final class ManualClock: RunClock {
    private struct Sleeper {
        var id: UUID
        var deadline: Date
        var continuation: CheckedContinuation<Void, any Error>
    }

    private let state: Mutex<(now: Date, sleepers: [Sleeper])>

    public init(now: Date = Date(timeIntervalSince1970: 1_760_000_000)) {
        state = Mutex((now, []))
    }

    public func now() -> Date { state.withLock { $0.now } }

    public func sleep(for duration: Duration) async throws {
        let id = UUID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool = state.withLock { state in
                    if duration <= .zero { return true }
                    state.sleepers.append(
                        Sleeper(
                            id: id, deadline: state.now.addingTimeInterval(duration.seconds), continuation: continuation
                        ))
                    return false
                }
                if resumeNow { continuation.resume() }
                if Task.isCancelled { cancel(id) }
            }
        } onCancel: {
            cancel(id)
        }
    }

    private func cancel(_ id: UUID) {
        let sleeper: Sleeper? = state.withLock { state in
            guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
            return state.sleepers.remove(at: index)
        }
        sleeper?.continuation.resume(throwing: CancellationError())
    }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    public func advance(by duration: Duration) {
        let due: [Sleeper] = state.withLock { state in
            state.now = state.now.addingTimeInterval(duration.seconds)
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// How many tasks are sleeping on this clock.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }
}

/// Collects run events for assertions.
public final class EventRecorder: EventSink {
    private let events = Mutex<[RunEvent]>([])
    public init() {}
    public func emit(_ event: RunEvent) { events.withLock { $0.append(event) } }
    public var all: [RunEvent] { events.withLock { $0 } }

    /// A compact trace like `["started a", "completed a", "skipped b"]` for order assertions.
    public var trace: [String] {
        all.compactMap { event in
            switch event {
            case .stepStarted(let step, _, _, _, let attempt):
                return attempt > 1 ? "started \(step) #\(attempt)" : "started \(step)"
            case .stepCompleted(let step, _, _, _): return "completed \(step)"
            case .stepSkipped(let step, _): return "skipped \(step)"
            case .stepFailed(let step, let attempt, _, _): return "failed \(step) #\(attempt)"
            case .budgetWarning(_, _, let percent): return "budget \(percent)%"
            default: return nil
            }
        }
    }
}
