import Foundation
import Synchronization

/// Renders run events for a person at a terminal: step N/M, elapsed time, an ETA from earlier runs of the same
/// steps, RTO budget warnings, and a final table of step durations.
public final class TextProgressRenderer: EventSink {
    private struct State {
        var startedAt: Date?
        var finished: Set<StepID> = []
    }

    private let write: @Sendable (String) -> Void
    private let clock: any RunClock
    private let expectedDurations: [StepID: Duration]
    private let state = Mutex(State())

    /// - Parameter expectedDurations: typical durations of steps from earlier runs (see `RunCatalog`), for the ETA.
    public init(
        expectedDurations: [StepID: Duration] = [:], clock: any RunClock = .system,
        write: @escaping @Sendable (String) -> Void
    ) {
        self.expectedDurations = expectedDurations
        self.clock = clock
        self.write = write
    }

    public func emit(_ event: RunEvent) {
        let now = clock.now()
        let line: String? = state.withLock { state in
            switch event {
            case .runStarted(let runID, let runbook, let environment, let total, let toRun, let resumed):
                state.startedAt = now
                let verb = resumed ? "Resuming" : "Starting"
                let skipped = total - toRun
                return "\(verb) run \(runID): \(runbook) on \(environment), \(total) steps"
                    + (skipped > 0 ? " (\(skipped) already done)" : "")
            case .stepStarted(let step, let title, let index, let total, let attempt):
                let retry = attempt > 1 ? " (attempt \(attempt))" : ""
                return "[\(index)/\(total)] \(step): \(title)\(retry)" + elapsedText(state, now)
            case .stepMessage(let step, let message):
                return "      \(step): \(message)"
            case .stepCompleted(let step, let duration, _, let note):
                state.finished.insert(step)
                return "      \(step) done in \(Self.format(duration))" + (note.map { " (\($0))" } ?? "")
                    + elapsedText(state, now) + etaText(state)
            case .stepSkipped(let step, let reason):
                state.finished.insert(step)
                return "      \(step) skipped: \(reason)"
            case .stepFailed(let step, let attempt, let error, let retryIn):
                let retry = retryIn.map { "; retrying in \(Self.format($0))" } ?? ""
                return "      \(step) FAILED (attempt \(attempt))\(retry):\n" + Self.indent(error, by: 8)
            case .stepUndo(let step, let undone, let message):
                return "      \(step) " + (undone ? "undone: " : "NOT undone: ") + message
            case .budgetWarning(let elapsed, let budget, let percent):
                return
                    "WARNING: \(percent) % of the RTO budget used (\(Self.format(elapsed)) of \(Self.format(budget)))"
            case .runFinished(let report):
                return Self.table(report)
            }
        }
        if let line { write(line) }
    }

    private func elapsedText(_ state: State, _ now: Date) -> String {
        guard let startedAt = state.startedAt else { return "" }
        return "  [elapsed \(Self.format(now.duration(since: startedAt)))]"
    }

    private func etaText(_ state: State) -> String {
        let remaining = expectedDurations.filter { !state.finished.contains($0.key) }
        guard !expectedDurations.isEmpty, !remaining.isEmpty else { return "" }
        let total = remaining.values.reduce(Duration.zero, +)
        return "  [ETA ~\(Self.format(total)) from earlier runs]"
    }

    /// The final table: each step's outcome, attempts and duration, then the run's elapsed time against the budget.
    public static func table(_ report: RunReport) -> String {
        let width = max(4, report.steps.map(\.step.rawValue.count).max() ?? 4)
        var lines = ["", "Run \(report.runID) \(report.status.rawValue)."]
        lines.append(
            "  " + "step".padding(toLength: width, withPad: " ", startingAt: 0) + "  outcome      attempts  duration")
        for step in report.steps {
            let outcome = step.note == nil ? step.outcome.rawValue : step.outcome.rawValue + "*"
            lines.append(
                "  " + step.step.rawValue.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                    + outcome.padding(toLength: 11, withPad: " ", startingAt: 0) + "  "
                    + String(step.attempts).padding(toLength: 8, withPad: " ", startingAt: 0) + "  "
                    + (step.duration.map(format) ?? "-"))
        }
        if report.steps.contains(where: { $0.note != nil }) {
            lines.append("  * not run this time: completed before the interruption, or accepted by its probe")
        }
        for step in report.steps {
            guard let undo = step.undo else { continue }
            let verb = step.outcome == .undone ? "undone after the failure" : "NOT undone after the failure"
            lines.append("  \(step.step) \(verb): \(undo)")
        }
        var total = "  elapsed \(format(report.elapsed))"
        if let budget = report.rtoBudget, let percent = report.budgetPercent {
            total += " of an RTO budget of \(format(budget)) (\(percent) % used)"
        }
        lines.append(total)
        return lines.joined(separator: "\n")
    }

    /// `2h 05m`, `3m 12s`, `4.2s`.
    public static func format(_ duration: Duration) -> String {
        let seconds = duration.seconds
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return String(format: "%dm %02ds", whole / 60, whole % 60) }
        return String(format: "%dh %02dm", whole / 3600, (whole % 3600) / 60)
    }

    static func indent(_ text: String, by spaces: Int) -> String {
        let pad = String(repeating: " ", count: spaces)
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { pad + $0 }.joined(separator: "\n")
    }
}
