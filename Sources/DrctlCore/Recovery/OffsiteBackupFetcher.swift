import Foundation

/// Finds the newest usable backup of the manifest's database in the off-site store and verifies it (gzip
/// integrity, size floor, recorded SHA-256) before the live database is touched: `fetch` downloads it into the
/// run's scratch folder first; `stream` loads it straight into a new database (`<db>_restore_<run>`) and checks
/// it on the way. A newer backup that fails verification is reported and skipped in favour of the next older
/// one, unless a specific backup was asked for.
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

    public func plannedCommands(backup: String?, before: Date? = nil) -> [String] {
        guard let (store, prefix) = try? location() else { return ["(no off-site store in the manifest)"] }
        let newest = before.map { "newest before \(Self.utc($0))" } ?? "newest"
        let name = backup ?? "<\(newest) \(toolbox.manifest.database.name)_backup_*\(plannedExtension(backup))>"
        var lines = [store.list(prefix: prefix).redactedCommandLine]
        if let download = try? store.download(prefix + name, to: .file("$RUN_DIR/backup/" + name)) {
            lines.append(download.redactedCommandLine)
        }
        lines += plannedIntegrityCommands(file: "$RUN_DIR/backup/" + name, backup: backup)
        lines.append("sha256($RUN_DIR/backup/\(name)) compared with \(prefix + name).sha256")
        return lines
    }

    /// What the fetch chose, as step outputs.
    public struct Fetched: Sendable {
        public var name: String
        public var key: String
        public var path: String
        public var size: Int64
        public var sha256: String
        public var checksumVerified: Bool
        public var skipped: [String]

        public var outputs: StepOutputs {
            [
                "name": name, "key": key, "path": path, "size": String(size), "sha256": sha256,
                "checksumVerified": checksumVerified ? "yes" : "no (no .sha256 recorded off-site)",
                "skipped": skipped.joined(separator: "; "),
            ]
        }
    }

    /// The objects that may be restored, newest first: `backup` only when named, else every backup of the
    /// database (taken strictly before `before`, when given).
    func candidates(backup: String?, before: Date?, context: StepContext) async throws -> (
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

    /// Downloads and verifies `backup`, or the newest backup (taken strictly before `before`, when given).
    public func fetch(backup: String?, before: Date? = nil, context: StepContext) async throws -> Fetched {
        let (store, prefix, candidates) = try await candidates(backup: backup, before: before, context: context)
        let database = backupDatabaseName
        let folder = try RunScratch.folder(workRoot: workRoot, runID: context.runID, sub: "backup")
        var skipped: [String] = []
        var lastError: (any Error)?
        for object in candidates {
            let name = Self.fileName(object.key)
            let path = folder + "/" + name
            do {
                try await context.runner.runChecked(try store.download(object.key, to: .file(path)))
                let fetched = try await verify(path: path, object: object, store: store, context: context)
                return Fetched(
                    name: name, key: object.key, path: path, size: fetched.size, sha256: fetched.sha256,
                    checksumVerified: fetched.recorded, skipped: skipped)
            } catch let error as CancellationError {
                throw error
            } catch {
                try? FileManager.default.removeItem(atPath: path)
                context.log("refused \(name): \(error.localizedDescription)")
                skipped.append("\(name): \(error.localizedDescription)")
                lastError = error
            }
        }
        throw lastError ?? ScenarioError.noBackupFound(location: "\(store.displayName)/\(prefix)", database: database)
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

    private func verify(path: String, object: StoredObject, store: any ObjectStore, context: StepContext) async throws
        -> (size: Int64, sha256: String, recorded: Bool)
    {
        try await testIntegrity(path: path, name: Self.fileName(object.key), context: context)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        let floor = toolbox.manifest.backups.sizeFloor
        guard size >= floor.bytes else {
            throw ScenarioError.backupTooSmall(file: Self.fileName(object.key), size: size, floor: floor)
        }
        let actual = try SHA256Checksum.ofFile(atPath: path)
        let sidecar = try await context.runner.run(try store.download(object.key + ".sha256", to: .stream))
        guard sidecar.status.isSuccess, let expected = SHA256Checksum.parseSidecar(sidecar.output) else {
            context.log(
                "no recorded checksum for \(Self.fileName(object.key)) off-site; verified by its integrity and size")
            return (size, actual, false)
        }
        guard expected == actual else {
            throw ScenarioError.checksumMismatch(file: Self.fileName(object.key), expected: expected, actual: actual)
        }
        return (size, actual, true)
    }

    static func utc(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    static func fileName(_ key: String) -> String {
        key.split(separator: "/").last.map(String.init) ?? key
    }
}
