import Foundation

/// Why a scenario stopped before or between its steps, with what to do next.
public enum ScenarioError: Error, Sendable, LocalizedError, RefusalError {
    case invalidReadinessURL(String)
    case noBackupFound(location: String, database: String)
    case backupNotFound(name: String, location: String)
    case backupTooSmall(file: String, size: Int64, floor: ByteSize)
    case checksumMismatch(file: String, expected: String, actual: String)
    case archiveIncomplete(runID: String, source: String, destination: String, expected: Int, found: Int)
    case noOffsiteStore(environment: String)
    case releasePending(release: String, revision: Int, status: String)
    /// A backup streamed from the off-site store failed a check on the way (SHA-256 against its `.sha256`, byte
    /// count, gzip integrity): the partly loaded new database was dropped, the target never touched.
    case streamedBackupRefused(file: String, loadedInto: String, target: String, reason: String)
    /// The database a fetch step loaded and verified is gone before it was swapped in.
    case loadedDatabaseMissing(database: String)

    public var errorDescription: String? {
        switch self {
        case .invalidReadinessURL(let url):
            return "readiness.url '\(url)' is not a URL; fix it in the manifest."
        case .noBackupFound(let location, let database):
            return "no backup of \(database) found in \(location); check backups.s3/backups.azure in the manifest"
                + " and `drctl backup list`. Nothing was restored."
        case .backupNotFound(let name, let location):
            return "backup \(name) is not in \(location); `drctl backup list` shows what exists. Nothing was restored."
        case .backupTooSmall(let file, let size, let floor):
            return "backup \(file) is \(size) bytes, under the size floor \(floor) (backups.sizeFloor): refused before"
                + " the database was touched. Pick an older backup with --backup, or lower the floor if it is wrong."
        case .checksumMismatch(let file, let expected, let actual):
            return "backup \(file) has SHA-256 \(actual), but its recorded checksum is \(expected): refused before the"
                + " database was touched. Fetch it again or pick another backup with --backup."
        case .archiveIncomplete(let runID, let source, let destination, let expected, let found):
            return "archive sync from \(source) to \(destination) is incomplete: \(expected) objects off-site, \(found)"
                + " files present with their off-site size. Check the free space and permissions of \(destination),"
                + " then `drctl resume \(runID)` to sync the missing files again."
        case .releasePending(let release, let revision, let status):
            return "helm release \(release) is \(status) at revision \(revision), and not from this run: another helm"
                + " operation is in progress or died. Wait for it, or clear it (`helm rollback \(release)` after a"
                + " pending upgrade, `helm uninstall \(release)` after a pending install), then `drctl resume`."
        case .streamedBackupRefused(let file, let loadedInto, let target, let reason):
            return "backup \(file) was refused after streaming it into the new database \(loadedInto): \(reason)."
                + " \(loadedInto) was dropped and \(target) was not touched, so \(target) does not hold this backup"
                + " (after a lost cluster it is incomplete: nothing was deployed on it). Fix or replace the off-site"
                + " copy, or pick another backup with --backup."
        case .loadedDatabaseMissing(let database):
            return "the new database \(database), loaded and verified earlier in this run, no longer exists, so there"
                + " is nothing to swap in; start the restore again (a new run) to load the backup once more."
        case .noOffsiteStore(let environment):
            return "manifest for \(environment) names no off-site backup store; add backups.s3 or backups.azure."
        }
    }

    /// Backups that fail their checks and missing inputs are refused before anything is touched.
    public var isRefusal: Bool {
        switch self {
        case .invalidReadinessURL, .noBackupFound, .backupNotFound, .backupTooSmall, .checksumMismatch,
            .noOffsiteStore, .releasePending, .streamedBackupRefused:
            return true
        case .archiveIncomplete, .loadedDatabaseMissing:
            return false
        }
    }
}
