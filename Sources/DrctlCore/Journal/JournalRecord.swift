import Foundation

/// One line of a run's journal. Every line carries `prev`, the SHA-256 of the line before it, so an edited or
/// truncated journal is detected. Fields that do not apply to a record's type are left out of the JSON.
public struct JournalRecord: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case runStarted = "run-started"
        case runResumed = "run-resumed"
        case stepStarted = "step-started"
        case stepCompleted = "step-completed"
        case stepFailed = "step-failed"
        case stepSkipped = "step-skipped"
        /// A completed step's effect was undone after a later step failed (its `StepUndo`); `reason` says how.
        case stepUndone = "step-undone"
        /// A completed step's undo declined or failed; `reason` or `error` says why. The step stays done.
        case stepNotUndone = "step-not-undone"
        case runInterrupted = "run-interrupted"
        case runFinished = "run-finished"
    }

    public var type: Kind
    public var time: Date
    /// SHA-256 (hex) of the previous line; absent on the first line.
    public var prev: String?

    // run-started / run-resumed
    public var run: RunHeader?
    // step records
    public var step: StepID?
    public var attempt: Int?
    public var inputFingerprint: String?
    public var outputs: StepOutputs?
    /// Seconds.
    public var duration: Double?
    public var error: String?
    public var stderrTail: String?
    /// Why a step was skipped, accepted or retried; why a run was interrupted or resumed as it was.
    public var reason: String?
    /// The steps in flight when a run was interrupted.
    public var inFlight: [StepID]?
    public var status: RunStatus?

    public init(type: Kind, time: Date, prev: String? = nil) {
        self.type = type
        self.time = time
        self.prev = prev
    }
}

/// How a run (so far) ended.
public enum RunStatus: String, Sendable, Hashable, Codable {
    case running, succeeded, failed, interrupted
}

/// Who started (or resumed) a run, what it runs, against what.
public struct RunHeader: Sendable, Hashable, Codable {
    public var runID: String
    public var runbook: String
    public var environment: String
    /// The manifest path and the scenario's options; journals of an earlier drctl hold a flat string map here.
    public var parameters: RunParameters
    public var manifestFingerprint: String
    public var planFingerprint: String
    public var steps: [PlannedStep]
    public var rtoBudgetSeconds: Double?
    public var toolVersions: [String: String]?
    public var drctlVersion: String
    public var user: String
    public var host: String
    public var pid: Int32

    public init(
        runID: String, runbook: String, environment: String, parameters: RunParameters,
        manifestFingerprint: String, planFingerprint: String, steps: [PlannedStep], rtoBudgetSeconds: Double?,
        toolVersions: [String: String]?, drctlVersion: String, user: String, host: String, pid: Int32
    ) {
        self.runID = runID
        self.runbook = runbook
        self.environment = environment
        self.parameters = parameters
        self.manifestFingerprint = manifestFingerprint
        self.planFingerprint = planFingerprint
        self.steps = steps
        self.rtoBudgetSeconds = rtoBudgetSeconds
        self.toolVersions = toolVersions
        self.drctlVersion = drctlVersion
        self.user = user
        self.host = host
        self.pid = pid
    }
}

/// A step as planned when the run started: enough to explain drift and to show steps that never ran.
public struct PlannedStep: Sendable, Hashable, Codable {
    public var id: StepID
    public var title: String
    public var dependsOn: [StepID]
    public var destructive: Bool
    public var inputs: [String: String]
    public var inputFingerprint: String
    /// Fingerprint of the step's command lines (absent in journals that predate it).
    public var commandsFingerprint: String?

    public init(_ step: RunbookStep) {
        commandsFingerprint = Fingerprint.of(step.commands.joined(separator: "\n"))
        id = step.id
        title = step.title
        dependsOn = step.dependsOn
        destructive = step.destructive
        inputs = step.inputs
        inputFingerprint = step.inputFingerprint
    }
}
