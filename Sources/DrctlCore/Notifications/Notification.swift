import Foundation

/// Something on-call should hear about: a run that failed, was interrupted or finished, an RTO budget nearly
/// spent, a backup that failed verification or is older than the RPO.
public struct Notification: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case runFailed = "run-failed"
        case runInterrupted = "run-interrupted"
        case runFinished = "run-finished"
        case rtoBudgetWarning = "rto-budget-warning"
        case backupVerificationFailed = "backup-verification-failed"
        case backupOlderThanRPO = "backup-older-than-rpo"
    }

    /// PagerDuty's severities, also used for the other targets.
    public enum Severity: String, Sendable, Hashable, Codable {
        case critical, error, warning, info
    }

    public var kind: Kind
    public var environment: String
    /// The runbook (`rebuild`, `restore`, …) or `backup` for the nightly backup and its checks.
    public var scenario: String
    public var runID: String?
    /// One line a person reads on a phone.
    public var summary: String
    public var severity: Severity
    public var details: [String: String]
    public var time: Date

    public init(
        kind: Kind, environment: String, scenario: String, runID: String? = nil, summary: String,
        severity: Severity, details: [String: String] = [:], time: Date = Date()
    ) {
        self.kind = kind
        self.environment = environment
        self.scenario = scenario
        self.runID = runID
        self.summary = summary
        self.severity = severity
        self.details = details
        self.time = time
    }

    /// Good news that closes an open incident: PagerDuty gets `resolve` for it, everything else `trigger`.
    public var resolves: Bool { kind == .runFinished }

    /// `drctl/<environment>/<scenario>`: one incident per environment and scenario, resolved by its next success.
    public var dedupKey: String { "drctl/\(environment)/\(scenario)" }
}

extension Notification {
    /// For `drctl status` and the nightly backup: the newest good backup is older than the RPO.
    public static func backupOlderThanRPO(
        environment: String, newestBackup: String?, age: Duration?, rpo: Duration, time: Date = Date()
    ) -> Notification {
        let ageText = age.map { "\(Int($0.seconds / 3600))h old" } ?? "no backup at all"
        var details = ["rpo": "\(Int(rpo.seconds / 3600))h"]
        if let newestBackup { details["newestBackup"] = newestBackup }
        if let age { details["ageSeconds"] = String(Int(age.seconds)) }
        return Notification(
            kind: .backupOlderThanRPO, environment: environment, scenario: "backup",
            summary: "[\(environment)] newest backup is \(ageText), older than the RPO of \(details["rpo"] ?? "")",
            severity: .error, details: details, time: time)
    }

    /// For `drctl backup verify` and the nightly backup: one or more backups failed their checks.
    public static func backupVerificationFailed(
        environment: String, failed: [String], time: Date = Date()
    ) -> Notification {
        Notification(
            kind: .backupVerificationFailed, environment: environment, scenario: "backup",
            summary: "[\(environment)] backup verification failed: \(failed.joined(separator: ", "))",
            severity: .critical, details: ["failed": failed.joined(separator: "\n")], time: time)
    }
}
