import Foundation

/// Why a data-plane Job (or the agent inside it) did not deliver; each says which Job and what to do.
public enum DataPlaneJobError: Error, Sendable, LocalizedError, RefusalError {
    /// The Job ran and failed: its verdict (when it wrote one), its exit code and the last lines of its log.
    case jobFailed(job: String, namespace: String, exitCode: Int32?, verdict: AgentVerdict?, logTail: String)
    /// The Job's pod never started its container (a missing image, Secret or claim), with Kubernetes' reason.
    case podNotStarting(job: String, namespace: String, reason: String, message: String)
    /// The Job finished without a verdict drctl can read.
    case verdictMissing(job: String, namespace: String, logTail: String)
    /// kubectl could not create, read or delete the Job or its Secret.
    case kubectlFailed(job: String, action: String, detail: String)
    /// `drctl agent …` ran without the input the conductor gives every Job.
    case agentInputMissing(variable: String)
    case agentInputUnreadable(variable: String, reason: String)
    /// A scenario has no Job placement for this work yet.
    case placementUnsupported(what: String, dataPlane: String)

    public var errorDescription: String? {
        switch self {
        case .jobFailed(let job, let namespace, let exitCode, let verdict, let logTail):
            var text = "Job \(job) in namespace \(namespace) failed"
            if let exitCode { text += " (its container exited \(exitCode))" }
            if let message = verdict?.error {
                text += ": " + message.trimmingCharacters(in: .whitespacesAndNewlines.union(.init(charactersIn: ".")))
            }
            return text + ". The Job was deleted; its pod's last log lines:\n" + Self.indented(logTail)
        case .podNotStarting(let job, let namespace, let reason, let message):
            return "Job \(job) in namespace \(namespace) could not start its container: \(reason)"
                + (message.isEmpty ? "" : " (\(message))")
                + ". Check database.jobs.image (kubectl describe pod -l job-name=\(job) -n \(namespace)), the Secrets"
                + " and the claim it names; then drctl resume RUN_ID."
        case .verdictMissing(let job, let namespace, let logTail):
            return "Job \(job) in namespace \(namespace) finished without a verdict (no '\(AgentVerdict.marker)'"
                + " line and no termination message); is database.jobs.image drctl's image of this version?"
                + " Its last log lines:\n" + Self.indented(logTail)
        case .kubectlFailed(let job, let action, let detail):
            return "kubectl could not \(action) for Job \(job): \(detail)"
        case .agentInputMissing(let variable):
            return "drctl agent runs inside a data-plane Job that drctl creates; \(variable) is not set. Run the"
                + " command that conducts it instead (drctl backup create with database.dataPlane: job)."
        case .agentInputUnreadable(let variable, let reason):
            return "drctl agent could not read \(variable): \(reason). The Job and this image's drctl must be the"
                + " same version (database.jobs.image)."
        case .placementUnsupported(let what, let dataPlane):
            return "\(what) does not run with database.dataPlane: \(dataPlane) yet. Use dataPlane: local for it"
                + " (nothing was touched)."
        }
    }

    public var isRefusal: Bool { failureKind == .refused }

    public var failureKind: FailureKind {
        switch self {
        case .jobFailed(_, _, _, let verdict, _): verdict?.kind ?? .failed
        case .agentInputMissing, .agentInputUnreadable, .placementUnsupported: .usage
        case .podNotStarting, .verdictMissing, .kubectlFailed: .failed
        }
    }

    private static func indented(_ text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.map { "  | " + $0 }.joined(separator: "\n")
    }
}
