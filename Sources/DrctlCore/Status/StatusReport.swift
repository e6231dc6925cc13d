import Foundation

/// `drctl status`: the runbook's checklist as checks, each with a verdict and the evidence it rests on.
public struct StatusReport: Sendable, Hashable, Codable {
    public var environment: String
    public var checkedAt: Date
    public var checks: [StatusCheck]
    /// The figures a monitoring system graphs (also written as Prometheus gauges).
    public var metrics: Metrics

    public init(environment: String, checkedAt: Date, checks: [StatusCheck], metrics: Metrics) {
        self.environment = environment
        self.checkedAt = checkedAt
        self.checks = checks
        self.metrics = metrics
    }

    /// Every check passed.
    public var passed: Bool { checks.allSatisfy { $0.result == .pass } }
    public var failed: [StatusCheck] { checks.filter { $0.result == .fail } }

    /// What `drctl status --notify` tells the manifest's notification targets: that the newest backup is older
    /// than the RPO, when the daily-backup check failed; nil otherwise (other failed checks are not paged).
    public func rpoNotification(rpo: Duration) -> Notification? {
        guard checks.contains(where: { $0.id == "backups.daily" && $0.result == .fail }) else { return nil }
        return .backupOlderThanRPO(
            environment: environment, newestBackup: nil, age: metrics.newestBackupAgeSeconds.map { .seconds($0) },
            rpo: rpo)
    }

    public struct Metrics: Sendable, Hashable, Codable {
        /// The newest backup's name time (taken at), from the local catalog.
        public var newestBackupAt: Date?
        public var newestBackupAgeSeconds: Double?
        /// The newest passed verification of any backup.
        public var lastVerifiedAt: Date?
        /// The last game day that succeeded.
        public var lastDrillAt: Date?
        public var lastDrillRunID: String?

        public init(
            newestBackupAt: Date? = nil, newestBackupAgeSeconds: Double? = nil, lastVerifiedAt: Date? = nil,
            lastDrillAt: Date? = nil, lastDrillRunID: String? = nil
        ) {
            self.newestBackupAt = newestBackupAt
            self.newestBackupAgeSeconds = newestBackupAgeSeconds
            self.lastVerifiedAt = lastVerifiedAt
            self.lastDrillAt = lastDrillAt
            self.lastDrillRunID = lastDrillRunID
        }
    }
}

/// One checklist item as a check.
public struct StatusCheck: Sendable, Hashable, Codable {
    public enum Result: String, Sendable, Hashable, Codable {
        case pass
        case fail
    }

    /// Stable id for scripts and metrics: `backups.daily`, `backups.verified`, `offsite.s3`, `restore.tested`,
    /// `runbook.reviewed`.
    public var id: String
    /// The runbook's checklist line it stands for.
    public var checklistItem: String
    public var result: Result
    /// What was found, with dates and names: enough to believe the verdict without rerunning it.
    public var evidence: String
    /// What to do when it fails; nil when it passed.
    public var remedy: String?

    public init(id: String, checklistItem: String, result: Result, evidence: String, remedy: String? = nil) {
        self.id = id
        self.checklistItem = checklistItem
        self.result = result
        self.evidence = evidence
        self.remedy = result == .pass ? nil : remedy
    }
}
