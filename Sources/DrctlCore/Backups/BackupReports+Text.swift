import Foundation

/// Human-readable renderings of the backup reports (the `-o text` output of `drctl backup …`).
public enum BackupText {
    /// `19.1 MB` (powers of 1000, as `du --si`), exact bytes below 1 kB.
    public static func size(_ bytes: Int64) -> String {
        let units = ["kB", "MB", "GB", "TB"]
        guard bytes >= 1_000 else { return "\(bytes) B" }
        var value = Double(bytes)
        var unit = ""
        for next in units where value >= 1_000 {
            value /= 1_000
            unit = next
        }
        return String(format: "%.1f %@", value, unit)
    }

    /// `2d 4h`, `3h 12m`, `45m`, `12s`: the two largest units.
    public static func age(seconds: Int64) -> String {
        guard seconds >= 0 else { return "in the future" }
        let parts: [(Int64, String)] = [
            (seconds / 86_400, "d"), (seconds % 86_400 / 3_600, "h"), (seconds % 3_600 / 60, "m"), (seconds % 60, "s"),
        ]
        let shown = parts.drop { $0.0 == 0 }.prefix(2).filter { $0.0 > 0 }
        return shown.isEmpty ? "0s" : shown.map { "\($0.0)\($0.1)" }.joined(separator: " ")
    }

    static func table(_ rows: [[String]]) -> [String] {
        guard let columns = rows.map(\.count).max() else { return [] }
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
    }

    static func unaccountedLines(_ paths: [String]) -> [String] {
        guard !paths.isEmpty else { return [] }
        return ["", "Not accounted for (left alone; drctl did not write them or their catalog record is lost):"]
            + paths.map { "  " + $0 }
    }
}

extension BackupListing {
    public var text: String {
        guard !entries.isEmpty || !unaccounted.isEmpty else {
            return "No backups in \(folder) yet; run drctl backup create."
        }
        var rows = [["BACKUP", "TIER", "AGE", "SIZE", "VERIFIED", "COPIES", "CONTENT RECORD"]]
        for entry in entries {
            let verified: String =
                switch entry.verification {
                case .passed?: "yes"
                case .failed?: "FAILED: " + (entry.failure ?? "")
                case nil: "never"
                }
            rows.append([
                entry.file + (entry.present ? "" : " (file missing)"),
                entry.tier.rawValue,
                BackupText.age(seconds: entry.ageSeconds),
                BackupText.size(entry.size),
                verified,
                entry.copies.isEmpty ? "-" : entry.copies.map(\.store.rawValue).joined(separator: ","),
                entry.content ?? "-",
            ])
        }
        var lines = BackupText.table(rows) + BackupText.unaccountedLines(unaccounted)
        for store in offsite ?? [] {
            lines += ["", "\(store.location) (\(store.objects.count) object(s), .sha256 sidecars not shown):"]
            lines += BackupText.table(
                store.objects.map { [$0.key, BackupText.size($0.size), $0.lastModified.map(BackupDates.format) ?? ""] }
            ).map { "  " + $0 }
        }
        return lines.joined(separator: "\n")
    }
}

extension BackupVerificationReport {
    public var text: String {
        var rows = [["BACKUP", "TIER", "SIZE", "RESULT"]]
        for file in files {
            let result: String =
                switch file.outcome {
                case .passed: "passed" + (file.content.map { " — " + $0 } ?? "")
                case .unchanged:
                    "passed (unchanged since \(file.verifiedAt.map(BackupDates.format) ?? "?"), not re-read)"
                case .failed: "FAILED: " + (file.detail ?? "")
                case .missing: "MISSING: the catalog lists it, the folder does not have it"
                }
            rows.append([file.file, file.tier.rawValue, BackupText.size(file.size), result])
        }
        var lines = files.isEmpty ? ["No backups in the catalog."] : BackupText.table(rows)
        lines += BackupText.unaccountedLines(unaccounted)
        lines.append("")
        if let newest = recoveryPoint.newestVerified, let age = recoveryPoint.ageSeconds {
            let objective = BackupText.age(seconds: recoveryPoint.objectiveSeconds)
            lines.append(
                "Recovery point: newest verified backup \(newest) is \(BackupText.age(seconds: age)) old"
                    + (recoveryPoint.met ? " (objective \(objective): met)" : " — OBJECTIVE \(objective) MISSED"))
        } else {
            lines.append("Recovery point: no verified backup — objective missed")
        }
        if let offsite {
            lines += ["", "Off-site copies:", offsite.text]
        }
        return lines.joined(separator: "\n")
    }
}

extension BackupPruneReport {
    public var text: String {
        var lines: [String] = []
        if plan.delete.isEmpty {
            lines.append(forgotten.isEmpty ? "Nothing to prune." : "No file to delete.")
        } else {
            lines.append(dryRun ? "Would delete (--dry-run, nothing deleted):" : "Deleted:")
            lines += plan.delete.map { "  " + $0.relativePath }
        }
        let kept = plan.keep.filter { !$0.reason.needsAttention }
        lines.append("Kept: \(kept.count) backup(s) within retention or protected.")
        for item in plan.keep where item.reason == .newestVerified {
            lines.append("  \(item.file.relativePath): \(item.reason)")
        }
        let attention = plan.unaccounted
        if !attention.isEmpty {
            lines.append("Kept and not touched (look at these):")
            lines += attention.map { "  \($0.file.relativePath): \($0.reason)" }
        }
        if !forgotten.isEmpty {
            lines.append(
                (dryRun
                    ? "Would drop from the catalog (--dry-run, nothing dropped): the record"
                    : "Dropped from the catalog: the record")
                    + " of \(forgotten.count) backup(s) whose file is gone from the folder (copy a file back from "
                    + "its off-site copy before pruning to keep its record):")
            lines += forgotten.map { "  " + $0 }
        }
        return lines.joined(separator: "\n")
    }
}

extension BackupSyncReport {
    public var text: String {
        guard !stores.isEmpty else { return "No off-site store in the manifest." }
        var lines: [String] = []
        for store in stores {
            lines.append("\(store.location):")
            lines.append(
                "  \(store.inSync.count) in sync, \(store.uploaded.count) uploaded, \(store.missing.count) missing,"
                    + " \(store.different.count) different, \(store.extra.count) extra")
            lines += store.uploaded.map { "  uploaded   \($0)" }
            lines += store.missing.map { "  MISSING    \($0)" + (dryRun ? " (would upload)" : "") }
            lines += store.different.map { "  DIFFERENT  \($0)" + (dryRun ? " (would upload again)" : "") }
            lines += store.notUploaded.map { "  not uploaded \($0.file): \($0.reason)" }
            lines += store.extra.map { "  extra      \($0) (not in the local catalog; left alone)" }
        }
        return lines.joined(separator: "\n")
    }
}

/// JSON of the backup reports: sorted keys, ISO 8601 UTC dates.
public enum BackupJSON {
    public static func encode(_ value: some Encodable) throws -> String {
        String(decoding: try BackupCatalogStore.encoder.encode(value), as: UTF8.self)
    }
}
