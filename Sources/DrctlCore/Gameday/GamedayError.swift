import Foundation

/// Why a game day refuses to start, or its drill script is unusable.
public enum GamedayError: Error, Sendable, LocalizedError, Equatable {
    /// The target manifest looks like production; the override flag was not given.
    case targetLooksLikeProduction(target: String, reasons: [String])
    case drillUnreadable(path: String, reason: String)
    case drillInvalid(path: String, detail: String)
    case unknownScenario(String)
    /// A fault the drill asks for cannot be injected into this scenario or environment.
    case faultNotPossible(fault: String, reason: String)
    case reportNotFound(runID: String)
    /// A smoke check did not hold after the recovery.
    case smokeCheckFailed(name: String, detail: String)
    /// The scenario needs a drill script (`--drill`) for what it sets up.
    case drillRequired(scenario: String, detail: String)
    /// The child drctl that runs a drill with a kill fault ended other than by the injected SIGKILL.
    case childRunEnded(runID: String, status: String, detail: String)
    /// The app-rollback drill's bad release became ready: there is nothing to roll back from. `left` says what the
    /// drill did about it and where the release stands.
    case badReleaseBecameReady(release: String, revision: String, left: String)
    /// The drill's own incident would change nothing (its rows are not in the target): the drill stops before it.
    case incidentDidNothing(detail: String, remedy: String)

    public var errorDescription: String? {
        switch self {
        case .targetLooksLikeProduction(let target, let reasons):
            "refusing to run a game day against \(target): it looks like production ("
                + reasons.joined(separator: "; ")
                + "). A drill rebuilds and restores its target. Point -f at staging; if you really mean production, "
                + "add --i-know-this-is-production."
        case .drillUnreadable(let path, let reason):
            "cannot read the drill script \(path): \(reason) — check the path given to --drill."
        case .drillInvalid(let path, let detail):
            "drill script \(path): \(detail) — see manifests/gameday-cluster-loss.yaml for the format."
        case .unknownScenario(let name):
            "unknown game-day scenario '\(name)'; use cluster-loss, db-restore, row-recovery or app-rollback."
        case .faultNotPossible(let fault, let reason):
            "the drill's fault \(fault) cannot be injected: \(reason) — remove it from the drill's faults."
        case .smokeCheckFailed(let name, let detail):
            "smoke check '\(name)' failed: \(detail) — the recovery did not give the expected result; see the report."
        case .childRunEnded(let runID, let status, let detail):
            "the drill's child drctl (run \(runID)) \(status) before the injected SIGKILL: \(detail) — see drctl runs "
                + "show \(runID) and the report."
        case .drillRequired(let scenario, let detail):
            "a \(scenario) game day needs a drill script (--drill FILE): \(detail) — see manifests/gameday-\(scenario).yaml."
        case .badReleaseBecameReady(let release, let revision, let left):
            "the drill's bad release of \(release) (revision \(revision)) became ready, so there is no failed "
                + "rollout to roll back from; \(left) — give badRelease.set values that break it (e.g. an image tag "
                + "that does not exist)."
        case .incidentDidNothing(let detail, let remedy):
            "the drill stopped at its incident: \(detail); a drill whose incident does nothing tests nothing — "
                + "\(remedy). Nothing was changed."
        case .reportNotFound(let runID):
            "run \(runID) is not a game day (no gameday run with that id in the state folder) — see drctl runs list."
        }
    }
}

extension GamedayError: RefusalError {
    /// A step's refusal (the drill's incident would change nothing) stops the run without a retry, exit 3.
    public var isRefusal: Bool { failureKind == .refused }

    public var failureKind: FailureKind {
        switch self {
        case .targetLooksLikeProduction, .faultNotPossible, .incidentDidNothing: .refused
        case .drillUnreadable, .drillInvalid, .unknownScenario, .reportNotFound, .drillRequired: .usage
        case .smokeCheckFailed, .badReleaseBecameReady, .childRunEnded: .failed
        }
    }
}
