import Foundation

/// What a step's action and probe get to work with.
public struct StepContext: Sendable {
    public let runID: String
    public let step: StepID
    /// 1 for the first try; higher when a retryable step is tried again.
    public let attempt: Int
    public let runner: any CommandRunning
    public let clock: any RunClock
    private let completed: [StepID: StepOutputs]
    /// What an earlier failed attempt of this step got done (`PartialStepOutputs`), from this run or from the
    /// journal of the run `drctl resume` continues; nil when there is none.
    public let partialOutputs: StepOutputs?
    private let sink: @Sendable (String) -> Void

    public init(
        runID: String,
        step: StepID,
        attempt: Int = 1,
        runner: any CommandRunning,
        clock: any RunClock = .system,
        completed: [StepID: StepOutputs] = [:],
        partialOutputs: StepOutputs? = nil,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.runID = runID
        self.step = step
        self.attempt = attempt
        self.runner = runner
        self.clock = clock
        self.completed = completed
        self.partialOutputs = partialOutputs
        self.sink = log
    }

    /// The outputs of a step this one depends on (also when that step completed in an earlier, interrupted run).
    public func outputs(of step: StepID) throws(RunbookError) -> StepOutputs {
        guard let outputs = completed[step] else { throw .outputsUnavailable(step: step, requestedBy: self.step) }
        return outputs
    }

    /// A progress message for the terminal or the JSON event stream. Already-redacted text only.
    public func log(_ message: String) { sink(message) }

    public func checkCancellation() throws { try Task.checkCancellation() }
}
