import Foundation

/// Why a backup schedule could not be emitted, applied or read.
public enum ScheduleError: Error, Sendable, Hashable, LocalizedError {
    case noSchedule(manifest: String)
    case unusableName(name: String, reason: String)
    case notExpressible(schedule: String, reason: String)
    case unreadableStatus(source: String, detail: String)
    /// Yams could not write the CronJob's YAML (a drctl bug: its values are plain strings and numbers).
    case unwritableYAML(detail: String)

    public var errorDescription: String? {
        switch self {
        case .noSchedule(let manifest):
            "\(manifest) has no `schedule` section: add schedule: { backups: \"0 2 * * *\", image: …, "
                + "passwordSecret: { name: …, key: … } } (see manifests/README.md)"
        case .unusableName(let name, let reason):
            "cannot name the schedule '\(name)': \(reason); shorten the manifest's environment name"
        case .notExpressible(let schedule, let reason):
            "the cron schedule \"\(schedule)\" cannot be written as a systemd timer: \(reason)"
        case .unreadableStatus(let source, let detail):
            "cannot read the schedule's status from \(source): \(detail)"
        case .unwritableYAML(let detail):
            "cannot write the CronJob as YAML: \(detail); emit --emit systemd or cron meanwhile and report it as a "
                + "drctl bug"
        }
    }
}

extension ScheduleError: ClassifiedError {
    public var failureKind: FailureKind {
        switch self {
        // The manifest cannot express the schedule asked for: fix the manifest (exit 2).
        case .noSchedule, .unusableName, .notExpressible: .usage
        case .unreadableStatus, .unwritableYAML: .failed
        }
    }
}
