import Foundation
import Synchronization

/// An `EventSink` that turns run events into notifications: run failed, interrupted or finished, and the RTO
/// budget crossing 80 %. Events arrive synchronously from the engine; deliveries run in order on a background
/// task, and `flush()` waits for them before the process exits.
public final class RunNotifier: EventSink {
    /// The budget percentage that pages; the engine warns at several.
    public static let budgetThreshold = 80

    private let notifier: Notifier
    private let clock: any RunClock
    private struct State {
        var runbook = ""
        var environment = ""
        var runID = ""
        var budgetNotified = false
        var pending: Task<Void, Never>?
    }
    private let state = Mutex(State())

    public convenience init(notifier: Notifier) {
        self.init(notifier: notifier, clock: SystemRunClock())
    }

    public init(notifier: Notifier, clock: any RunClock) {
        self.notifier = notifier
        self.clock = clock
    }

    public func emit(_ event: RunEvent) {
        guard let notification = notification(for: event) else { return }
        state.withLock { state in
            let previous = state.pending
            state.pending = Task { [notifier] in
                await previous?.value
                await notifier.notify(notification)
            }
        }
    }

    /// Waits until every notification so far has been delivered or given up on.
    public func flush() async {
        let pending = state.withLock { $0.pending }
        await pending?.value
    }

    private func notification(for event: RunEvent) -> Notification? {
        let now = clock.now()
        return state.withLock { state -> Notification? in
            switch event {
            case .runStarted(let runID, let runbook, let environment, _, _, _):
                state.runID = runID
                state.runbook = runbook
                state.environment = environment
                return nil
            case .budgetWarning(let elapsed, let budget, let percent):
                guard percent >= Self.budgetThreshold, !state.budgetNotified else { return nil }
                state.budgetNotified = true
                return Notification(
                    kind: .rtoBudgetWarning, environment: state.environment, scenario: state.runbook,
                    runID: state.runID,
                    summary: "[\(state.environment)] \(state.runbook) run \(state.runID) has used \(percent) % of its"
                        + " RTO budget (\(elapsed.formattedSeconds) of \(budget.formattedSeconds))",
                    severity: .warning,
                    details: [
                        "percent": String(percent), "elapsedSeconds": String(Int(elapsed.seconds)),
                        "budgetSeconds": String(Int(budget.seconds)),
                    ],
                    time: now)
            case .runFinished(let report):
                return Self.notification(for: report, time: now)
            default:
                return nil
            }
        }
    }

    /// What a finished run tells: failed (critical), interrupted (error) or finished (info, resolves).
    public static func notification(for report: RunReport, time: Date) -> Notification? {
        let subject = "[\(report.environment)] \(report.runbook) run \(report.runID)"
        var details = ["elapsedSeconds": String(Int(report.elapsed.seconds))]
        if let percent = report.budgetPercent { details["rtoBudgetPercent"] = String(percent) }
        let failed = report.steps.filter { $0.outcome == .failed || $0.outcome == .interrupted }
        if let step = failed.first {
            details["step"] = step.step.rawValue
            if let error = step.error { details["error"] = String(error.prefix(2000)) }
        }
        // What the run put back after the failure (the app scaled back up), or could not: on-call needs both.
        let undos = report.steps.compactMap { step in
            step.undo.map { "\(step.step.rawValue) " + (step.outcome == .undone ? "undone: " : "NOT undone: ") + $0 }
        }
        if !undos.isEmpty { details["undo"] = undos.joined(separator: "; ") }
        func make(_ kind: Notification.Kind, _ summary: String, _ severity: Notification.Severity) -> Notification {
            Notification(
                kind: kind, environment: report.environment, scenario: report.runbook, runID: report.runID,
                summary: summary, severity: severity, details: details, time: time)
        }
        switch report.status {
        case .failed:
            let at = failed.first.map { " at step \($0.step.rawValue)" } ?? ""
            return make(.runFailed, "\(subject) failed\(at); `drctl runs show \(report.runID)`", .critical)
        case .interrupted:
            return make(
                .runInterrupted, "\(subject) was interrupted; continue it with `drctl resume \(report.runID)`", .error)
        case .succeeded:
            return make(.runFinished, "\(subject) finished in \(report.elapsed.formattedSeconds)", .info)
        case .running:
            return nil
        }
    }
}

/// Several sinks fed the same events, in order: the progress renderer and the notifier.
public struct FanOutEventSink: EventSink {
    public var sinks: [any EventSink]

    public init(_ sinks: [any EventSink]) {
        self.sinks = sinks
    }

    public func emit(_ event: RunEvent) {
        for sink in sinks { sink.emit(event) }
    }
}
