import Foundation

/// An error a step throws when a safety check says no before anything was changed. The run stops (no retry)
/// and the CLI exits 3 ("refused") instead of 1. Its failure kind follows `isRefusal` unless it declares one.
public protocol RefusalError: ClassifiedError {
    var isRefusal: Bool { get }
}

extension RefusalError {
    public var failureKind: FailureKind { isRefusal ? .refused : .failed }
}

/// Errors of the runbook engine: building, running and resuming runbooks.
public enum RunbookError: Error, Sendable, LocalizedError {
    case duplicateStep(StepID, runbook: String)
    case unknownDependency(step: StepID, dependsOn: StepID, runbook: String)
    case dependencyCycle(steps: [StepID], runbook: String)
    case missingOutput(step: StepID, key: String)
    case outputsUnavailable(step: StepID, requestedBy: StepID)
    case stepTimedOut(step: StepID, after: Duration)
    /// A step failed (after its retries); the run stopped. Resumable after the cause is fixed.
    case stepFailed(runID: String, step: StepID, message: String)
    /// A step's safety check refused (a corrupt backup, a target that does not exist) before it changed anything.
    case stepRefused(runID: String, step: StepID, message: String)
    /// SIGINT/SIGTERM stopped the run; the journal says where.
    case interrupted(runID: String, inFlight: [StepID])
    case unknownScenario(String, known: [String])
    case nothingToResume(runID: String, status: String)
    /// The manifest or the plan changed since the run started.
    case drift(runID: String, changes: [String])
    /// A destructive step started but never completed and its probe could not tell whether it finished.
    case unsafeToResume(runID: String, step: StepID, reason: String)
    /// Someone else appended to the journal while this resume was preparing.
    case changedWhileResuming(runID: String)
    /// The scenario options journaled when the run started cannot be read by this drctl.
    case unreadableOptions(detail: String)

    public var errorDescription: String? {
        switch self {
        case .duplicateStep(let step, let runbook):
            return "runbook \(runbook) has two steps named \(step); step ids must be unique."
        case .unknownDependency(let step, let dependency, let runbook):
            return "step \(step) of runbook \(runbook) depends on \(dependency), which is not a step of the runbook."
        case .dependencyCycle(let steps, let runbook):
            return "runbook \(runbook) has a dependency cycle among steps "
                + steps.map(\.rawValue).joined(separator: ", ") + "."
        case .missingOutput(let step, let key):
            return "step \(step) produced no output \(key); later steps need it (a scenario bug, please report)."
        case .outputsUnavailable(let step, let requestedBy):
            return "step \(requestedBy) asked for the outputs of \(step), which has not completed; "
                + "declare \(step) in its dependsOn."
        case .stepTimedOut(let step, let after):
            return "step \(step) did not finish within its timeout of \(after.formattedSeconds) and was stopped. Find"
                + " out what it waited for in the run's log (`drctl runs show`); if the work is only slow, raise the timeout"
                + " that governs it (readiness.timeout or a provision hook's timeout in the manifest, --rollout-timeout"
                + " on the command), then `drctl resume`."
        case .stepFailed(let runID, let step, let message):
            return "step \(step) failed: \(message)\nRun \(runID) stopped; fix the cause, then `drctl resume \(runID)`."
        case .stepRefused(let runID, let step, let message):
            return
                "step \(step) refused: \(message)\nRun \(runID) stopped before that step changed anything. Do what the"
                + " message says, then `drctl resume \(runID)` (or start a new run with other flags)."
        case .interrupted(let runID, let inFlight):
            let steps = inFlight.isEmpty ? "" : " during " + inFlight.map(\.rawValue).joined(separator: ", ")
            return "run \(runID) was interrupted\(steps); resumable: drctl resume \(runID)"
        case .unknownScenario(let name, let known):
            return "no scenario named \(name) can be rebuilt here (known: \(known.joined(separator: ", "))); "
                + "was the run started by a newer drctl?"
        case .nothingToResume(let runID, let status):
            return "run \(runID) \(status); there is nothing to resume. See `drctl runs show \(runID)`."
        case .drift(let runID, let changes):
            return "refusing to resume run \(runID): what it would do changed since it started:\n"
                + changes.map { "  - " + $0 }.joined(separator: "\n")
                + "\nRestore the original manifest and flags, or pass --accept-drift to continue with the new ones."
        case .changedWhileResuming(let runID):
            return "run \(runID) was changed by another drctl while this resume was preparing; nothing was done. "
                + "See `drctl runs show \(runID)`, then try again."
        case .unreadableOptions(let detail):
            return "this drctl cannot read the options the run was started with (\(detail)); it was journaled by "
                + "another drctl version. Resume it with that version, or start a new run of the scenario with its flags."
        case .unsafeToResume(let runID, let step, let reason):
            return "refusing to resume run \(runID): destructive step \(step) started but never completed, and "
                + "\(reason). Check by hand whether it finished, then start a new run."
        }
    }
}

extension RunbookError: ClassifiedError {
    public var failureKind: FailureKind {
        switch self {
        case .interrupted: .interrupted
        case .stepRefused, .drift, .unsafeToResume, .nothingToResume, .changedWhileResuming, .unreadableOptions:
            .refused
        case .unknownScenario: .usage
        case .stepFailed, .stepTimedOut, .duplicateStep, .unknownDependency, .dependencyCycle, .missingOutput,
            .outputsUnavailable:
            .failed
        }
    }
}
