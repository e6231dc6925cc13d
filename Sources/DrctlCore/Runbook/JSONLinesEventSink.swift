import Foundation

/// Writes each run event as one JSON object per line (`-o json`), for CI logs and dashboards.
public struct JSONLinesEventSink: EventSink {
    private let write: @Sendable (String) -> Void
    private let clock: any RunClock

    public init(clock: any RunClock = .system, write: @escaping @Sendable (String) -> Void) {
        self.clock = clock
        self.write = write
    }

    public func emit(_ event: RunEvent) {
        let line = EventLine(event, time: clock.now())
        guard let data = try? JournalCoding.encoder.encode(line) else { return }
        write(String(decoding: data, as: UTF8.self))
    }
}

/// The JSON shape of one event. Keys that do not apply are left out.
struct EventLine: Encodable {
    var event: String
    var time: Date
    var runID: String?
    var runbook: String?
    var environment: String?
    var totalSteps: Int?
    var toRun: Int?
    var resumed: Bool?
    var step: StepID?
    var title: String?
    var index: Int?
    var attempt: Int?
    var message: String?
    var durationSeconds: Double?
    var outputs: StepOutputs?
    var note: String?
    var error: String?
    var undone: Bool?
    var retryInSeconds: Double?
    var percent: Int?
    var elapsedSeconds: Double?
    var budgetSeconds: Double?
    var status: RunStatus?
    var steps: [StepLine]?

    struct StepLine: Encodable {
        var step: StepID
        var outcome: String
        var attempts: Int
        var durationSeconds: Double?
        var outputs: StepOutputs
        var error: String?
        var note: String?
        var undo: String?
    }

    init(_ event: RunEvent, time: Date) {
        self.time = time
        switch event {
        case .runStarted(let runID, let runbook, let environment, let totalSteps, let toRun, let resumed):
            self.event = "run-started"
            self.runID = runID
            self.runbook = runbook
            self.environment = environment
            self.totalSteps = totalSteps
            self.toRun = toRun
            self.resumed = resumed
        case .stepStarted(let step, let title, let index, let total, let attempt):
            self.event = "step-started"
            self.step = step
            self.title = title
            self.index = index
            self.totalSteps = total
            self.attempt = attempt
        case .stepMessage(let step, let message):
            self.event = "step-message"
            self.step = step
            self.message = message
        case .stepCompleted(let step, let duration, let outputs, let note):
            self.event = "step-completed"
            self.step = step
            self.durationSeconds = duration.seconds
            self.outputs = outputs
            self.note = note
        case .stepSkipped(let step, let reason):
            self.event = "step-skipped"
            self.step = step
            self.note = reason
        case .stepFailed(let step, let attempt, let error, let retryIn):
            self.event = "step-failed"
            self.step = step
            self.attempt = attempt
            self.error = error
            self.retryInSeconds = retryIn?.seconds
        case .stepUndo(let step, let undone, let message):
            self.event = "step-undo"
            self.step = step
            self.undone = undone
            self.message = message
        case .budgetWarning(let elapsed, let budget, let percent):
            self.event = "budget-warning"
            self.elapsedSeconds = elapsed.seconds
            self.budgetSeconds = budget.seconds
            self.percent = percent
        case .runFinished(let report):
            self.event = "run-finished"
            self.runID = report.runID
            self.runbook = report.runbook
            self.environment = report.environment
            self.status = report.status
            self.elapsedSeconds = report.elapsed.seconds
            self.budgetSeconds = report.rtoBudget?.seconds
            self.percent = report.budgetPercent
            self.steps = report.steps.map {
                StepLine(
                    step: $0.step, outcome: $0.outcome.rawValue, attempts: $0.attempts,
                    durationSeconds: $0.duration?.seconds, outputs: $0.outputs, error: $0.error, note: $0.note,
                    undo: $0.undo)
            }
        }
    }
}
