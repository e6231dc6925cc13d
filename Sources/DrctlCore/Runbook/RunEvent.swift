import Foundation

/// Progress of a run, for a terminal renderer or a JSON-lines stream.
public enum RunEvent: Sendable, Hashable {
    /// `toRun` excludes steps already completed in an earlier, interrupted attempt of the same run.
    case runStarted(runID: String, runbook: String, environment: String, totalSteps: Int, toRun: Int, resumed: Bool)
    case stepStarted(step: StepID, title: String, index: Int, total: Int, attempt: Int)
    case stepMessage(step: StepID, message: String)
    case stepCompleted(step: StepID, duration: Duration, outputs: StepOutputs, note: String?)
    case stepSkipped(step: StepID, reason: String)
    case stepFailed(step: StepID, attempt: Int, error: String, retryIn: Duration?)
    /// After a later step failed, a completed step's undo ran (`undone`) or declined or failed (`message` says why).
    case stepUndo(step: StepID, undone: Bool, message: String)
    case budgetWarning(elapsed: Duration, budget: Duration, percent: Int)
    case runFinished(RunReport)
}

/// Receives run events. Called from concurrent steps: implementations must be thread-safe.
public protocol EventSink: Sendable {
    func emit(_ event: RunEvent)
}

/// An `EventSink` from a closure.
public struct ClosureEventSink: EventSink {
    private let body: @Sendable (RunEvent) -> Void
    public init(_ body: @escaping @Sendable (RunEvent) -> Void) { self.body = body }
    public func emit(_ event: RunEvent) { body(event) }
}

/// What a run did, step by step, and how much of the RTO budget it burned.
public struct RunReport: Sendable, Hashable {
    public var runID: String
    public var runbook: String
    public var environment: String
    public var status: RunStatus
    public var steps: [StepReport]
    /// Since the run first started (a resumed run counts the time of its earlier attempts and the pause).
    public var elapsed: Duration
    public var rtoBudget: Duration?

    public init(
        runID: String, runbook: String, environment: String, status: RunStatus, steps: [StepReport],
        elapsed: Duration, rtoBudget: Duration?
    ) {
        self.runID = runID
        self.runbook = runbook
        self.environment = environment
        self.status = status
        self.steps = steps
        self.elapsed = elapsed
        self.rtoBudget = rtoBudget
    }

    /// Percent of the RTO budget used, if there is a budget.
    public var budgetPercent: Int? {
        guard let rtoBudget, rtoBudget > .zero else { return nil }
        return Int((elapsed.seconds / rtoBudget.seconds * 100).rounded())
    }
}

public struct StepReport: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable {
        case completed, skipped, failed
        /// Was running when the run was interrupted.
        case interrupted
        /// Never started (an earlier step failed, or the run was interrupted first).
        case notRun = "not-run"
        /// Completed, then undone after a later step failed (see `StepUndo`).
        case undone
    }

    public var step: StepID
    public var title: String
    public var outcome: Outcome
    public var attempts: Int
    public var duration: Duration?
    public var outputs: StepOutputs
    public var error: String?
    /// Why a step was skipped or accepted without running ("completed before the interruption").
    public var note: String?
    /// What the step's undo did after a later step failed, or why it did not act.
    public var undo: String?

    public init(
        step: StepID, title: String, outcome: Outcome, attempts: Int = 0, duration: Duration? = nil,
        outputs: StepOutputs = .empty, error: String? = nil, note: String? = nil
    ) {
        self.note = note
        self.step = step
        self.title = title
        self.outcome = outcome
        self.attempts = attempts
        self.duration = duration
        self.outputs = outputs
        self.error = error
    }
}
