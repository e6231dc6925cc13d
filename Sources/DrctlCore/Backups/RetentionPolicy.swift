import Foundation

/// Which local backup files to keep: the newest `daily` files in `daily/` and the newest `monthly` in `monthly/`
/// (per database), and whatever must not go whatever the counts say. Pure: it looks at a listing and a catalog.
///
/// Counts, not ages: when backups stop for a week, the last 30 are still there. Never deleted:
/// - the newest backup whose last verification passed (per database);
/// - everything, when a database has no verified backup at all (run `drctl backup verify` first);
/// - files drctl cannot account for: not named like a backup, not a plain file, or without a catalog record;
/// - files whose name says they were taken after `now` (a wrong clock somewhere, a person has to look).
public struct RetentionPolicy: Sendable, Hashable {
    public var daily: Int
    public var monthly: Int

    public init(daily: Int, monthly: Int) {
        self.daily = max(daily, 0)
        self.monthly = max(monthly, 0)
    }

    public init(_ retention: Manifest.Retention) {
        self.init(daily: retention.daily, monthly: retention.monthly)
    }

    public func plan(files: [LocalBackupFile], catalog: BackupCatalog, now: Date) -> RetentionPlan {
        var kept: [RetainedBackup] = []
        var deletions: [LocalBackupFile] = []
        var candidates: [(file: LocalBackupFile, name: BackupName)] = []

        for file in files {
            guard let name = file.name else {
                kept.append(RetainedBackup(file: file, reason: .unrecognizedFile))
                continue
            }
            guard catalog.record(fileName: file.fileName, tier: file.tier) != nil else {
                kept.append(RetainedBackup(file: file, reason: .notInCatalog))
                continue
            }
            guard name.timestamp <= now else {
                kept.append(RetainedBackup(file: file, reason: .takenAfterNow))
                continue
            }
            candidates.append((file, name))
        }

        let byDatabase = Dictionary(grouping: candidates) { $0.name.database }
        for database in byDatabase.keys.sorted() {
            let group = byDatabase[database] ?? []
            let newestVerified = group.filter { candidate in
                catalog.record(fileName: candidate.file.fileName, tier: candidate.file.tier)?.isVerified == true
            }.map(\.name).max()
            guard let newestVerified else {
                kept += group.map { RetainedBackup(file: $0.file, reason: .noVerifiedBackup) }
                continue
            }
            for tier in BackupTier.allCases {
                let limit = tier == .daily ? daily : monthly
                let newestFirst = group.filter { $0.file.tier == tier }.sorted { $0.name > $1.name }
                for (index, candidate) in newestFirst.enumerated() {
                    if index < limit {
                        kept.append(RetainedBackup(file: candidate.file, reason: .withinRetention(rank: index + 1)))
                    } else if candidate.name == newestVerified {
                        kept.append(RetainedBackup(file: candidate.file, reason: .newestVerified))
                    } else {
                        deletions.append(candidate.file)
                    }
                }
            }
        }
        let order: (LocalBackupFile, LocalBackupFile) -> Bool = { ($0.tier, $0.fileName) < ($1.tier, $1.fileName) }
        return RetentionPlan(
            keep: kept.sorted { order($0.file, $1.file) },
            delete: deletions.sorted(by: order)
        )
    }
}

/// What a `RetentionPolicy` decided.
public struct RetentionPlan: Sendable, Hashable, Codable {
    public var keep: [RetainedBackup]
    public var delete: [LocalBackupFile]

    public init(keep: [RetainedBackup], delete: [LocalBackupFile]) {
        self.keep = keep
        self.delete = delete
    }

    /// Kept files that drctl cannot account for: the operator should look at them.
    public var unaccounted: [RetainedBackup] { keep.filter(\.reason.needsAttention) }
}

/// A file the policy keeps, and why.
public struct RetainedBackup: Sendable, Hashable, Codable {
    public var file: LocalBackupFile
    public var reason: RetentionReason

    public init(file: LocalBackupFile, reason: RetentionReason) {
        self.file = file
        self.reason = reason
    }
}

/// Why a file is kept.
public enum RetentionReason: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Among the newest N of its tier (1 is the newest).
    case withinRetention(rank: Int)
    /// Beyond the count, but the newest backup that passed verification.
    case newestVerified
    /// Its database has no verified backup; nothing of it is deleted until one exists.
    case noVerifiedBackup
    /// Named like a backup but not in the catalog: drctl did not write it, or its record was lost.
    case notInCatalog
    /// Not named `<db>_backup_YYYYMMDD_HHMMSS.sql.gz`, or not a plain file.
    case unrecognizedFile
    /// Its name's time is later than now.
    case takenAfterNow

    /// Whether an operator has to look at the file.
    public var needsAttention: Bool {
        switch self {
        case .withinRetention, .newestVerified: false
        case .noVerifiedBackup, .notInCatalog, .unrecognizedFile, .takenAfterNow: true
        }
    }

    public var description: String {
        switch self {
        case .withinRetention(let rank): "within retention (#\(rank))"
        case .newestVerified: "newest verified backup"
        case .noVerifiedBackup: "no verified backup of this database yet; run drctl backup verify"
        case .notInCatalog: "not in the catalog; not written by drctl or its record was lost"
        case .unrecognizedFile: "not a backup file drctl knows"
        case .takenAfterNow: "its name is later than now; check the clocks"
        }
    }
}
