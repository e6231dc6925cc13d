import Foundation

/// Why a database restore or row recovery refused to go on; every case says what, where and what to do, and
/// every refusal happens before the database is touched.
public enum RecoveryError: Error, Sendable, Equatable, LocalizedError, RefusalError {
    /// The backup was taken of another database (its name, or the `CREATE DATABASE`/`\connect` lines in it).
    case backupOfAnotherDatabase(file: String, database: String, expected: String)
    /// A dump made with `pg_dump -C`: restoring it would reconnect to the live database instead of the new one.
    case dumpReconnects(file: String, database: String)
    /// The file decompresses but is not a `pg_dump` SQL script.
    case notADatabaseDump(file: String)
    /// `--backup` is not a backup file name.
    case notABackupName(String)
    /// `--before` is not a time drctl can read.
    case invalidTime(String)
    /// No backup of the database was taken before the given time.
    case noBackupBefore(date: Date, database: String, earliest: String?)
    /// The environment is production and nobody confirmed the destructive step.
    case confirmationRequired(environment: String, action: String)
    /// The temporary or new database would not fit.
    case notEnoughDisk(needed: Int64, available: Int64, location: String)
    case unknownTable(table: String, database: String, tables: [String])
    case unknownColumns(table: String, unknown: [String], columns: [String])
    /// Rows recovered but not found in production afterwards.
    case rowsMissingAfterImport(table: String, keys: [String])
    /// Rows asked for that the backup does not hold either.
    case rowsNotInBackup(table: String, keys: [String], backup: String)
    /// The loaded database differs from the backup's content record (table set, row counts, schema digests).
    case contentDiffers(file: String, differences: [String])
    /// The content record beside the backup was written for another file.
    case contentRecordOfAnotherFile(file: String, recorded: String, actual: String)
    /// The content record beside the backup is not one drctl can read.
    case contentRecordUnreadable(file: String, path: String)
    /// The manifest requires content records (`backups.requireContentRecord`) and this backup has none.
    case contentRecordMissing(file: String)
    /// The manifest names a signing key and the backup's content record carries no signature.
    case contentRecordUnsigned(file: String)
    /// The content record's signature does not verify with the manifest's signing key.
    case contentRecordSignatureInvalid(file: String)
    /// The backup's SQL (or archive) failed to load into the new database, which was dropped.
    case backupDoesNotLoad(file: String, cause: String)
    /// The manifest's smoke query failed on the loaded database (dropped since).
    case smokeQueryFailed(database: String, query: String, detail: String)
    /// The psql that loads a plain backup does not know `\restrict`, so it cannot run the backup's SQL in its
    /// restricted mode (`PsqlRestrictedScript`); no backup is to blame.
    case psqlWithoutRestrictedMode(file: String)

    public var errorDescription: String? {
        switch self {
        case .backupOfAnotherDatabase(let file, let database, let expected):
            return "backup \(file) is a dump of database \(database), not of \(expected) (database.name in the"
                + " manifest) — restore stopped before touching anything. Pick a backup of \(expected)"
                + " (drctl backup list) or check that the manifest names the right database."
        case .dumpReconnects(let file, let database):
            return "backup \(file) was made with pg_dump -C: it creates and \\connects to \(database) itself, so it"
                + " would be restored over the live database instead of a new one — refused before touching"
                + " anything. Use a backup made without -C (drctl backup create)."
        case .notADatabaseDump(let file):
            return "backup \(file) decompresses, but it is not a pg_dump SQL script (no '-- PostgreSQL database"
                + " dump' header) — refused before touching the database. Pick another backup (drctl backup list)."
        case .notABackupName(let name):
            return "'\(name)' is not a backup file name; write it as <database>_backup_YYYYMMDD_HHMMSS.sql.gz"
                + " (see drctl backup list)."
        case .invalidTime(let text):
            return "'\(text)' is not a time; write it in UTC as 2025-10-08T14:30:00Z or 2025-10-08 14:30."
        case .noBackupBefore(let date, let database, let earliest):
            let when = ISO8601DateFormatter().string(from: date)
            return "no backup of \(database) was taken before \(when)"
                + (earliest.map { "; the earliest one is \($0)" } ?? "; there is no backup at all")
                + ". Nothing was touched. Check --before (UTC) against drctl backup list."
        case .confirmationRequired(let environment, let action):
            return "environment \(environment) needs confirmation: \(action). Run again with --yes once you are"
                + " sure (or answer the question on a terminal). Nothing was touched."
        case .notEnoughDisk(let needed, let available, let location):
            return "not enough free space for the new database: about \(ByteSize(bytes: needed)) needed, only"
                + " \(ByteSize(bytes: available)) free on \(location). Nothing was touched; free space there"
                + " (or drop an old <db>_before_* database) and run again."
        case .unknownTable(let table, let database, let tables):
            return "table \(table) does not exist in the backup of \(database). Tables: "
                + (tables.isEmpty ? "(none)" : tables.joined(separator: ", ")) + ". Fix --table."
        case .unknownColumns(let table, let unknown, let columns):
            return "table \(table) has no column \(unknown.joined(separator: ", ")). Its columns: "
                + columns.joined(separator: ", ") + ". Fix --key or --where."
        case .rowsMissingAfterImport(let table, let keys):
            return "after the import, \(keys.count) row(s) of \(table) are still missing: "
                + keys.prefix(20).joined(separator: ", ")
                + ". The transaction was rolled back or conflicted; look at the run log and run again."
        case .rowsNotInBackup(let table, let keys, let backup):
            return "\(keys.count) key(s) are not in \(table) of backup \(backup) either: "
                + keys.prefix(20).joined(separator: ", ")
                + ". Nothing was imported. Check the ids, or pick a backup from before they were deleted (--before)."
        case .contentDiffers(let file, let differences):
            return "backup \(file) does not hold what its content record says: "
                + differences.prefix(5).joined(separator: "; ")
                + (differences.count > 5 ? "; and \(differences.count - 5) more" : "")
                + " — refused before the live database was touched (the new database was dropped)."
                + " The backup was changed after it was taken or is of another database; pick another backup"
                + " (drctl backup list)."
        case .contentRecordOfAnotherFile(let file, let recorded, let actual):
            return "the content record beside backup \(file) was written for another file (sha256 \(recorded),"
                + " the backup's is \(actual)) — refused before the live database was touched. Pick another"
                + " backup (drctl backup list)."
        case .contentRecordUnreadable(let file, let path):
            return "the content record of backup \(file) (\(path)) is not a drctl content record — refused before"
                + " the live database was touched. Pick another backup (drctl backup list)."
        case .contentRecordMissing(let file):
            return "backup \(file) has no content record (<backup>.record.json), and the manifest requires one"
                + " (backups.requireContentRecord) — refused before the live database was touched. Pick a backup"
                + " made by drctl backup create (drctl backup list)."
        case .contentRecordUnsigned(let file):
            return "the content record of backup \(file) is not signed, and the manifest names a signing key"
                + " (backups.signingKey) — refused before the live database was touched. Pick a backup drctl signed"
                + " (drctl backup list shows each record's signature), or remove signingKey to accept unsigned records."
        case .contentRecordSignatureInvalid(let file):
            return "the content record of backup \(file) does not verify with the manifest's signing key: the record"
                + " was changed after drctl signed it, or signed with another key — refused before the live database"
                + " was touched. Pick another backup (drctl backup list)."
        case .backupDoesNotLoad(let file, let cause):
            return "backup \(file) does not load: \(cause) — refused before the live database was touched (the new"
                + " database was dropped). Pick another backup (drctl backup list)."
        case .psqlWithoutRestrictedMode(let file):
            return "psql does not know \\restrict, so drctl cannot load backup \(file): it runs a backup's SQL in"
                + " psql's restricted mode (every backslash command refused, so no backup can run a shell command or"
                + " \\connect elsewhere while it is read), which needs the PostgreSQL client 13.22, 14.19, 15.14,"
                + " 16.10, 17.6, 18 or later — nothing was restored (the new database was dropped) and the live"
                + " database was not touched. Install a newer postgresql-client (for a Job: an image with one) and"
                + " run again."
        case .smokeQueryFailed(let database, let query, let detail):
            return "the smoke query failed on the loaded database \(database): \(detail) — refused before the live"
                + " database was touched (\(database) was dropped). Query: \(query). Pick another backup"
                + " (drctl backup list) or fix database.smokeQuery in the manifest."
        }
    }

    /// Checks that said no before anything was touched; inside a run they end it as a refusal (exit 3).
    public var isRefusal: Bool {
        switch self {
        case .backupOfAnotherDatabase, .dumpReconnects, .notADatabaseDump, .noBackupBefore, .confirmationRequired,
            .notEnoughDisk, .rowsNotInBackup, .notABackupName, .invalidTime, .unknownTable, .unknownColumns,
            .contentDiffers, .contentRecordOfAnotherFile, .contentRecordUnreadable, .contentRecordMissing,
            .contentRecordUnsigned, .contentRecordSignatureInvalid, .smokeQueryFailed, .backupDoesNotLoad:
            return true
        case .rowsMissingAfterImport, .psqlWithoutRestrictedMode:
            return false
        }
    }

    /// Named inputs that do not exist are usage errors (exit 2) when the command line gave them.
    public var failureKind: FailureKind {
        switch self {
        case .notABackupName, .invalidTime, .unknownTable, .unknownColumns: .usage
        case .backupOfAnotherDatabase, .dumpReconnects, .notADatabaseDump, .noBackupBefore, .confirmationRequired,
            .notEnoughDisk, .rowsNotInBackup, .contentDiffers, .contentRecordOfAnotherFile, .contentRecordUnreadable,
            .contentRecordMissing, .contentRecordUnsigned, .contentRecordSignatureInvalid, .smokeQueryFailed,
            .backupDoesNotLoad:
            .refused
        case .rowsMissingAfterImport, .psqlWithoutRestrictedMode: .failed
        }
    }
}
