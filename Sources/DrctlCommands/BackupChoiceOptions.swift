import ArgumentParser
import DrctlCore
import Foundation

/// Which backup a scenario restores from; shared by `rebuild`, `restore`, `recover-rows` and `plan`.
struct BackupChoiceOptions: ParsableArguments {
    @Option(
        help: "Restore this backup file (its name, e.g. valeo_erp_backup_20251009_020000.sql.gz) instead of the newest."
    )
    var backup: String?

    @Option(
        help: "Restore the newest backup taken before this time, in UTC (2025-10-08T14:30:00Z or '2025-10-08 14:30')."
    )
    var before: String?

    func validate() throws {
        if let backup, backup.contains("/") {
            throw ValidationError(
                "--backup takes a file name such as valeo_erp_backup_20251009_020000.sql.gz, not a path.")
        }
        if backup != nil, before != nil {
            throw ValidationError("--backup and --before both pick the backup; give only one of them.")
        }
        if let before, BackupChoice.parseTime(before) == nil {
            throw ValidationError(
                "--before '\(before)' is not a time; write it in UTC as 2025-10-08T14:30:00Z or '2025-10-08 14:30'.")
        }
    }

    var choice: BackupChoice {
        if let backup { return .named(backup) }
        if let before, let date = BackupChoice.parseTime(before) { return .before(date) }
        return .latest
    }

    /// The time of `--before`, nil without it.
    var beforeTime: Date? { before.flatMap(BackupChoice.parseTime) }
}
