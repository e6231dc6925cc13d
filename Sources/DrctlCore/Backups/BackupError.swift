import Foundation

/// Everything that can go wrong with backups; each message says what, where and what to do next.
public enum BackupError: Error, Sendable, Hashable, LocalizedError {
    /// The database's name cannot be part of a file name.
    case databaseNameUnusableInFileName(String)
    case localFolderUnusable(path: String, reason: String)
    case catalogUnreadable(path: String, reason: String)
    case catalogNotWritten(path: String, reason: String)
    /// `pg_dump | gzip` failed; `detail` is the failing stage's redacted command, status and stderr.
    case dumpFailed(database: String, detail: String)
    /// The new dump is smaller than the size floor; it was not kept.
    case dumpUnderSizeFloor(database: String, size: Int64, floor: ByteSize)
    /// A backup with the same name exists already (two backups in the same second).
    case backupExists(path: String)
    case fileNotWritten(path: String, reason: String)
    case fileUnreadable(path: String, reason: String)
    /// `gzip -t` failed (truncated, corrupt, trailing garbage).
    case backupCorrupt(file: String, detail: String)
    case backupEmpty(file: String)
    case backupUnderSizeFloor(file: String, size: Int64, floor: ByteSize)
    case checksumMismatch(file: String, expected: String, actual: String)
    case backupNotInCatalog(file: String)
    case backupNotFound(name: String, folder: String)
    /// One or more backups failed `drctl backup verify`; the report lists them.
    case verificationFailed(failed: [String])
    /// The newest verified backup is older than the RPO (or there is none).
    case recoveryPointObjectiveMissed(newest: String?, age: Duration?, objective: Duration)
    case noOffsiteStore(manifest: String)
    case offsiteOperationFailed(store: String, detail: String)
    /// `drctl backup sync` found copies missing, different or extra; the report lists them.
    case offsiteCopiesOutOfSync(missing: Int, mismatched: Int, extra: Int)

    public var errorDescription: String? {
        switch self {
        case .databaseNameUnusableInFileName(let name):
            return "database name '\(name)' cannot be used in a backup file name (it is empty, starts with a dot or"
                + " holds a slash or line break); fix database.name in the manifest."
        case .localFolderUnusable(let path, let reason):
            return "backup folder \(path) cannot be used: \(reason). Check backups.local in the manifest, that the"
                + " folder exists and that this user may write it."
        case .catalogUnreadable(let path, let reason):
            return "backup catalog \(path) cannot be read: \(reason). Restore it from a copy, or move it aside: drctl"
                + " then treats every backup as unknown and deletes none of them."
        case .catalogNotWritten(let path, let reason):
            return "backup catalog \(path) could not be written: \(reason). Check free space and permissions;"
                + " the backups themselves are unchanged."
        case .dumpFailed(let database, let detail):
            let lines = detail.split(separator: "\n", maxSplits: 1).map(String.init)
            return "pg_dump of database '\(database)' failed: \(lines.first ?? ""); no backup was written."
                + (lines.count > 1 ? "\n" + lines[1] : "") + "\n  Check that the"
                + " database exists and that database.host/port/user and the password are right."
        case .dumpUnderSizeFloor(let database, let size, let floor):
            return "pg_dump of database '\(database)' gave only \(size) bytes compressed, under the size floor of"
                + " \(floor) (backups.sizeFloor); it was not kept as a backup. Check that database.name is the"
                + " application's database and that it holds its data; lower backups.sizeFloor if it really shrank."
        case .backupExists(let path):
            return "backup \(path) exists already; wait a second and run again (names have one-second resolution)."
        case .fileNotWritten(let path, let reason):
            return "could not write \(path): \(reason). Check free space and permissions of the backup folder."
        case .fileUnreadable(let path, let reason):
            return "could not read \(path): \(reason). Check that it exists and is readable by this user."
        case .backupCorrupt(let file, let detail):
            return "backup \(file) is corrupt: \(detail) — restore stopped before touching the database. Use an"
                + " older backup (drctl backup list) or fetch this one again from its off-site copy."
        case .backupEmpty(let file):
            return "backup \(file) is empty (0 bytes) — restore stopped before touching the database. The dump"
                + " that wrote it failed; use an older backup and check the backup job's log."
        case .backupUnderSizeFloor(let file, let size, let floor):
            return "backup \(file) is \(ByteSize(bytes: size)) (\(size) bytes), under the size floor of \(floor)"
                + " (backups.sizeFloor) — restore stopped before touching the database. A dump this small is"
                + " probably incomplete; use an older backup, or lower backups.sizeFloor if the database shrank."
        case .checksumMismatch(let file, let expected, let actual):
            return "backup \(file) has SHA-256 \(actual), but the catalog recorded \(expected) when it was written"
                + " — restore stopped before touching the database. The file changed since; fetch it again from"
                + " its off-site copy or use another backup."
        case .backupNotInCatalog(let file):
            return "backup \(file) is not in the catalog, so its checksum cannot be checked; drctl did not write it"
                + " or its record was lost. Use a backup listed by drctl backup list."
        case .backupNotFound(let name, let folder):
            return "no backup named \(name) in \(folder)/daily or \(folder)/monthly; see drctl backup list."
        case .verificationFailed(let failed):
            return "\(failed.count) backup(s) failed verification: \(failed.joined(separator: ", ")). Do not restore"
                + " from them; take a new backup (drctl backup create) and check the backup job."
        case .recoveryPointObjectiveMissed(let newest, let age, let objective):
            guard let newest, let age else {
                return "there is no verified backup, so the recovery point objective of \(objective.manifestText)"
                    + " is missed; run drctl backup create, then drctl backup verify."
            }
            return "the newest verified backup \(newest) is \(age.manifestText) old, older than the recovery point"
                + " objective of \(objective.manifestText); run drctl backup create and check the backup schedule."
        case .noOffsiteStore(let manifest):
            return "manifest \(manifest) names no off-site store; add backups.s3 or backups.azure to sync backups."
        case .offsiteOperationFailed(let store, let detail):
            return "\(store): \(detail)\n  Check the credentials and the endpoint (AWS_ENDPOINT_URL /"
                + " AZURE_STORAGE_CONNECTION_STRING) and that the bucket or container exists."
        case .offsiteCopiesOutOfSync(let missing, let mismatched, let extra):
            return "off-site copies are out of sync: \(missing) missing, \(mismatched) different, \(extra) not in the"
                + " local catalog; see the report above, and run drctl backup sync without --dry-run to upload."
        }
    }
}
