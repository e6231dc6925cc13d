import Foundation

/// Finds the newest usable backup of the manifest's database in the off-site store and verifies it (gzip
/// integrity, size floor, recorded SHA-256) before the live database is touched: `stream`, the main off-site
/// restore (OffsiteBackupFetcher+StreamedRestore.swift), loads it straight into a new database
/// (`<db>_restore_<run>`) and checks it on the way (a `.dump` is downloaded and checked first). A newer backup that
/// fails verification is reported and skipped in favour of the next older one, unless a specific backup was asked
/// for.
public struct OffsiteBackupFetcher: Sendable {
    public var toolbox: ScenarioToolbox
    public var workRoot: String
    /// How many candidates to try, newest first, before giving up.
    public var maximumCandidates = 5
    /// Whose backups to look for (`<name>_backup_…`): the manifest's database unless a game day restores another
    /// environment's backups (production's) into this one.
    public var backupDatabaseName: String

    public init(toolbox: ScenarioToolbox, workRoot: String, backupDatabaseName: String? = nil) {
        self.toolbox = toolbox
        self.workRoot = workRoot
        self.backupDatabaseName = backupDatabaseName ?? toolbox.manifest.database.name
    }

    /// The off-site store and key prefix backups live under (S3 first, then Azure).
    func location() throws -> (store: any ObjectStore, prefix: String) {
        let backups = toolbox.manifest.backups
        if let s3 = backups.s3, let store = toolbox.objectStores.first(where: { $0 is S3ObjectStore }) {
            return (store, s3.prefix)
        }
        if let azure = backups.azure, let store = toolbox.objectStores.first(where: { $0 is AzureBlobObjectStore }) {
            return (store, azure.prefix)
        }
        throw ScenarioError.noOffsiteStore(environment: toolbox.manifest.environment)
    }

    /// The objects that may be restored, newest first: `backup` only when named, else every backup of the
    /// database (taken strictly before `before`, when given; older than the backup named `olderThan`, when given:
    /// the ones after a refused spool).
    func candidates(backup: String?, before: Date?, olderThan: String? = nil, context: StepContext) async throws -> (
        store: any ObjectStore, prefix: String, objects: [StoredObject]
    ) {
        let (store, prefix) = try location()
        let listing = try await context.runner.runChecked(store.list(prefix: prefix))
        let objects = try store.parseList(listing.standardOutput)
        let database = backupDatabaseName
        var candidates = objects.filter { object in
            let name = Self.fileName(object.key)
            return BackupName.hasBackupShape(name, database: database)
        }
        .sorted { Self.fileName($0.key) > Self.fileName($1.key) }
        if let backup {
            candidates = candidates.filter { Self.fileName($0.key) == backup || $0.key == backup }
            guard !candidates.isEmpty else {
                throw ScenarioError.backupNotFound(name: backup, location: "\(store.displayName)/\(prefix)")
            }
        }
        guard !candidates.isEmpty else {
            throw ScenarioError.noBackupFound(location: "\(store.displayName)/\(prefix)", database: database)
        }
        if let olderThan {
            candidates = candidates.filter { Self.fileName($0.key) < olderThan }
            guard !candidates.isEmpty else {
                throw ScenarioError.noBackupFound(location: "\(store.displayName)/\(prefix)", database: database)
            }
        }
        if let before {
            let earliest = candidates.last.map { Self.fileName($0.key) }
            candidates = candidates.filter { object in
                BackupName(fileName: Self.fileName(object.key)).map { $0.timestamp < before } ?? false
            }
            guard !candidates.isEmpty else {
                throw RecoveryError.noBackupBefore(date: before, database: database, earliest: earliest)
            }
        }
        return (store, prefix, Array(candidates.prefix(backup == nil ? maximumCandidates : 1)))
    }

    /// A candidate smaller than `backups.sizeFloor` in the listing is refused before any byte of it is read.
    func requireSizeFloor(_ object: StoredObject) throws {
        let floor = toolbox.manifest.backups.sizeFloor
        guard object.size >= floor.bytes else {
            throw ScenarioError.backupTooSmall(file: Self.fileName(object.key), size: object.size, floor: floor)
        }
    }

    /// `requireSizeFloor`, for a plan.
    var plannedSizeFloorLine: String {
        "(size in the listing ≥ \(toolbox.manifest.backups.sizeFloor), else refused before downloading)"
    }

    /// Tries `candidates`, newest first, until `attempt` accepts one; `attempt` gets the refusals so far. After a
    /// refusal `cleanUp` runs; an error for which `isFinal` holds (one no older backup can avoid) is thrown at
    /// once, any other is logged (`refused NAME` and `when`), kept in the list, and the next older candidate tried.
    /// Cancellation ends the loop. When every candidate is refused, the last refusal is thrown.
    func firstAccepted<Accepted>(
        _ candidates: [StoredObject], location: String, when: String = "", context: StepContext,
        cleanUp: () async -> Void = {}, isFinal: (any Error) -> Bool = { _ in false },
        attempt: (_ index: Int, _ object: StoredObject, _ skipped: [String]) async throws -> Accepted
    ) async throws -> Accepted {
        var skipped: [String] = []
        var lastError: (any Error)?
        for (index, object) in candidates.enumerated() {
            do {
                return try await attempt(index, object, skipped)
            } catch let error as CancellationError {
                throw error
            } catch {
                if Task.isCancelled { throw CancellationError() }
                await cleanUp()
                if isFinal(error) { throw error }
                let name = Self.fileName(object.key)
                context.log("refused \(name)\(when): \(error.localizedDescription)")
                skipped.append("\(name): \(error.localizedDescription)")
                lastError = error
            }
        }
        throw lastError ?? ScenarioError.noBackupFound(location: location, database: backupDatabaseName)
    }

    /// The extension of the backup a plan shows: the named backup's, else the one `backups.format` writes.
    func plannedExtension(_ backup: String?) -> String {
        BackupName.fileExtension(
            for: backup.flatMap(BackupName.format(ofFileName:)) ?? toolbox.manifest.backups.format)
    }

    /// `gzip -t FILE`, or for a custom-format backup `pg_restore --list FILE` and a full read.
    func plannedIntegrityCommands(file: String, backup: String?) -> [String] {
        guard plannedExtension(backup) == BackupName.archiveFileExtension else {
            return [toolbox.gzip.test(file: file).redactedCommandLine]
        }
        let archive = toolbox.postgres.archive
        return [archive.list(file: file).redactedCommandLine, archive.readThrough(file: file).redactedCommandLine]
    }

    /// `gzip -t` for a `.sql.gz`; `pg_restore --list` and a full read for a `.dump`.
    func testIntegrity(path: String, name: String, context: StepContext) async throws {
        if BackupName.format(ofFileName: name) == .custom {
            let check = BackupIntegrityCheck(
                gzip: toolbox.gzip, archive: toolbox.postgres.archive, sizeFloor: ByteSize(bytes: 1),
                runner: context.runner)
            try await check.testArchiveIntegrity(path: path, file: name)
            return
        }
        let integrity = try await context.runner.run(toolbox.gzip.test(file: path))
        try Gzip.classifyIntegrity(integrity, file: path).get()
    }

    static func utc(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    static func fileName(_ key: String) -> String {
        key.split(separator: "/").last.map(String.init) ?? key
    }
}
