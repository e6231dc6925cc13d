import Foundation

/// Which backup a database recovery restores from.
public enum BackupChoice: Sendable, Hashable {
    /// The newest verified local backup, else the newest good off-site one.
    case latest
    /// This file name (`valeo_erp_backup_20251009_020000.sql.gz`), local first, then off-site.
    case named(String)
    /// The newest backup taken strictly before this time (rows deleted at that time are still in it).
    case before(Date)

    /// Journaled as step inputs (`backup.verify`'s); a scenario's options journal it as their own fields.
    public var parameters: [String: String] {
        switch self {
        case .latest: return [:]
        case .named(let name): return ["backup": name]
        case .before(let date): return ["before": BackupChoice.format(date)]
        }
    }

    /// From the flat options an earlier drctl journaled (`RestoreScenario.Options(legacyParameters:)`): `backup`
    /// wins over `before`; an unreadable `before` is an error, never "latest".
    public init(parameters: [String: String]) throws(RecoveryError) {
        if let name = parameters["backup"], !name.isEmpty {
            self = .named(name)
        } else if let text = parameters["before"], !text.isEmpty {
            guard let date = BackupChoice.parseTime(text) else { throw .invalidTime(text) }
            self = .before(date)
        } else {
            self = .latest
        }
    }

    /// A backup asked for by name is never swapped for another one.
    public var isNamed: Bool {
        if case .named = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .latest: return "the newest verified backup"
        case .named(let name): return "backup \(name)"
        case .before(let date): return "the newest backup before \(BackupChoice.format(date))"
        }
    }

    /// `2025-10-08T14:30:00Z`.
    public static func format(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    /// `2025-10-08T14:30:00Z`, `2025-10-08T16:30:00+02:00`, `2025-10-08 14:30` or `2025-10-08` (both UTC).
    public static func parseTime(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let date = ISO8601DateFormatter().date(from: trimmed) { return date }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        for format in [
            "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd",
        ] {
            formatter.dateFormat = format
            if let date = formatter.date(from: trimmed) { return date }
        }
        return nil
    }
}

/// A backup picked and verified for a restore.
public struct SelectedBackup: Sendable, Hashable {
    public var name: String
    /// The file to restore from, in the local backup folder; empty when the backup came from off-site.
    public var path: String
    public var size: Int64
    public var sha256: String
    /// `local daily/…` or `s3://bucket/key`.
    public var origin: String
    /// Newer off-site backups that failed verification and were passed over, with the reason.
    public var skipped: [String] = []
    /// The database the backup was loaded into and verified in (a local one by `RecoveryBackupSource`, an
    /// off-site one by `OffsiteBackupFetcher.stream`).
    public var loadedDatabase: String? = nil
    /// The free space for the load was checked before it (`DatabaseSpaceCheck`), with these outputs.
    public var spaceChecked: StepOutputs? = nil
    /// How the loaded database was compared with the backup's content record (or that it has none).
    public var contentCheck: String? = nil

    public var outputs: StepOutputs {
        var outputs: StepOutputs = [
            "name": name, "path": path, "size": String(size), "sha256": sha256, "origin": origin,
        ]
        if !skipped.isEmpty { outputs["skipped"] = skipped.joined(separator: "; ") }
        if let loadedDatabase { outputs["scratchDatabase"] = loadedDatabase }
        if let contentCheck { outputs["contentCheck"] = contentCheck }
        if let spaceChecked {
            outputs["spaceChecked"] = "yes"
            for (key, value) in spaceChecked.values { outputs["space." + key] = value }
        }
        return outputs
    }
}

/// Picks the backup for `drctl restore` and `drctl recover-rows` and verifies it before the live database is
/// touched: the local backup folder's catalog first (not empty, size floor, SHA-256 against the catalog,
/// `DumpOriginCheck` on its first MiB, then one pass into the new database judged by gzip's exit status, the
/// SHA-256 of the bytes loaded and the byte count; a `.dump`: `BackupIntegrityCheck` first), else the off-site store, whose backup is loaded
/// straight into the database the restore works on (`OffsiteBackupFetcher.stream`: a `.sql.gz` is streamed
/// after an origin check on its first MiB, checked against the `.sha256` sidecar on the way; a `.dump` is
/// downloaded and checked first; the next older one is tried after a refusal).
public struct RecoveryBackupSource: Sendable {
    public var toolbox: ScenarioToolbox
    public var workRoot: String
    /// Whose backups are picked: the manifest's database unless a game day restores another environment's
    /// (production's `valeo_erp` backups into staging's database).
    public var backupDatabase: String

    /// The database an off-site backup is loaded into, from the run id; `<db>_restore_<run>` by default.
    public var offsiteTarget: @Sendable (_ runID: String) -> String
    /// How a plan shows `offsiteTarget`.
    public var plannedOffsiteTarget: String
    /// Checked before a local backup is loaded (its size known from the catalog); nil: not checked here.
    public var spaceCheck: DatabaseSpaceCheck?

    public init(
        toolbox: ScenarioToolbox, workRoot: String, backupDatabase: String? = nil,
        offsiteTarget: (@Sendable (String) -> String)? = nil, plannedOffsiteTarget: String? = nil,
        spaceCheck: DatabaseSpaceCheck? = nil
    ) {
        self.spaceCheck = spaceCheck
        self.toolbox = toolbox
        self.workRoot = workRoot
        self.backupDatabase = backupDatabase ?? toolbox.manifest.database.name
        let restorer = DatabaseRestorer(toolbox: toolbox)
        self.offsiteTarget = offsiteTarget ?? { restorer.scratchName(runID: $0) }
        self.plannedOffsiteTarget = plannedOffsiteTarget ?? "\(toolbox.manifest.database.name)_restore_<run>"
    }

    private var database: String { backupDatabase }
    private var folder: BackupFolder { BackupFolder(manifest: toolbox.manifest) }
    private var fetcher: OffsiteBackupFetcher {
        OffsiteBackupFetcher(toolbox: toolbox, workRoot: workRoot, backupDatabaseName: backupDatabase)
    }
    private var origin: DumpOriginCheck { DumpOriginCheck(gzip: toolbox.gzip) }

    public func plannedCommands(_ choice: BackupChoice) -> [String] {
        let local = "\(folder.root)/{daily,monthly}/"
        let file: String
        var named: String?
        let planned = fetcher.plannedExtension(nil)
        switch choice {
        case .latest: file = "<newest verified \(database)_backup_*\(planned)>"
        case .named(let name):
            file = name
            named = name
        case .before(let date): file = "<newest \(database)_backup_*\(planned) before \(BackupChoice.format(date))>"
        }
        if toolbox.manifest.database.dataPlane == .job {
            let (backup, before) = Self.offsiteChoice(choice)
            return [
                "(database.dataPlane: job: a Job loads the off-site copy into \(plannedOffsiteTarget); a pod cannot"
                    + " read \(folder.root))"
            ]
                + fetcher.plannedStreamCommands(
                    step: Self.verifyStepID, backup: backup, before: before,
                    restorer: DatabaseRestorer(toolbox: toolbox), into: plannedOffsiteTarget)
        }
        var lines = ["pick \(file) from \(folder.catalogStore.path)"]
        let restorer = DatabaseRestorer(toolbox: toolbox)
        if fetcher.plannedExtension(named) != BackupName.archiveFileExtension {
            lines += [
                "size of \(local + file) ≥ \(toolbox.manifest.backups.sizeFloor); sha256 compared with the catalog"
                    + " (before psql sees any of it)",
                origin.plannedHeadLine(localFile: local + file)
                    + "  (a pg_dump -C dump or no dump at all is refused before psql sees it)",
            ]
            if let spaceCheck { lines.append(spaceCheck.plannedLine + " (the backup's size from the catalog)") }
            lines += restorer.plannedLoadCommands(source: .file(local + file), into: plannedOffsiteTarget)
            lines.append(
                "(one pass: sha256 of the file compared with the catalog; bytes with its size; gzip -dc's exit status:"
                    + " corrupt, truncated, trailing garbage; psql's exit status)")
        } else {
            lines += fetcher.plannedIntegrityCommands(file: local + file, backup: named)
            lines.append(
                "size of \(local + file) ≥ \(toolbox.manifest.backups.sizeFloor); sha256 compared with the catalog")
            if let spaceCheck { lines.append(spaceCheck.plannedLine + " (the backup's size from the catalog)") }
            lines += restorer.plannedArchiveLoadCommands(file: local + file, into: plannedOffsiteTarget)
        }
        lines += restorer.plannedContentCheck(into: plannedOffsiteTarget)
        lines.append(restorer.plannedMarkLoadedCommand(into: plannedOffsiteTarget))
        lines.append(
            "(on any refusal the new database is dropped and"
                + (named == nil ? " the next older local backup is tried)" : " the run stops)"))
        if toolbox.manifest.backups.s3 != nil || toolbox.manifest.backups.azure != nil {
            lines.append("(when no local backup qualifies, loaded from off-site into \(plannedOffsiteTarget):)")
            let (backup, before) = Self.offsiteChoice(choice)
            lines += fetcher.plannedStreamCommands(
                step: Self.verifyStepID, backup: backup, before: before, restorer: DatabaseRestorer(toolbox: toolbox),
                into: plannedOffsiteTarget)
        }
        return lines
    }

    public func select(_ choice: BackupChoice, context: StepContext) async throws -> SelectedBackup {
        if case .named(let name) = choice {
            guard let parsed = BackupName(fileName: name) else { throw RecoveryError.notABackupName(name) }
            guard parsed.database == database else {
                throw RecoveryError.backupOfAnotherDatabase(file: name, database: parsed.database, expected: database)
            }
        }
        let selected: SelectedBackup
        // A Job cannot read this machine's backup folder: in job mode the off-site copy is the source.
        let inJob = toolbox.manifest.database.dataPlane == .job
        let local = inJob ? [] : try localRecords(choice, context: context)
        if !local.isEmpty {
            selected = try await loadLocal(local, named: choice.isNamed, context: context)
        } else {
            let loaded: OffsiteBackupFetcher.Loaded
            do {
                let (backup, before) = Self.offsiteChoice(choice)
                loaded = try await fetcher.stream(
                    backup: backup, before: before, restorer: DatabaseRestorer(toolbox: toolbox),
                    into: offsiteTarget(context.runID), context: context)
            } catch ScenarioError.noOffsiteStore {
                if inJob { throw JobLoadError.offsiteCopyNeeded(folder: folder.root) }
                throw noLocalBackup(choice)
            }
            selected = SelectedBackup(
                name: loaded.name, path: "", size: loaded.size, sha256: loaded.sha256,
                origin: (try? fetcher.location()).map { "\($0.store.displayName)/\(loaded.key)" } ?? loaded.key,
                skipped: loaded.skipped, loadedDatabase: loaded.scratchDatabase, contentCheck: loaded.contentCheck)
        }
        context.log("backup \(selected.name) verified (\(selected.origin), sha256 \(selected.sha256.prefix(12))…)")
        return selected
    }

    /// The fetcher's arguments for a choice: a backup name, or a time to be older than.
    private static func offsiteChoice(_ choice: BackupChoice) -> (backup: String?, before: Date?) {
        switch choice {
        case .latest: return (nil, nil)
        case .named(let name): return (name, nil)
        case .before(let date): return (nil, date)
        }
    }

    /// How many local backups a restore tries, newest first, before it gives up.
    static let maximumLocalCandidates = 5

    /// The catalog records to try, newest first (only the named one when a backup was named); empty when the
    /// off-site store should be asked.
    private func localRecords(_ choice: BackupChoice, context: StepContext) throws -> [BackupRecord] {
        let catalog: BackupCatalog
        do {
            catalog = try folder.catalogStore.load()
        } catch {
            context.log("local backup catalog unusable (\(error.localizedDescription)); trying off-site")
            return []
        }
        let ours = BackupCatalog(records: catalog.records.filter { $0.name.database == database })
        switch choice {
        case .latest:
            return Array(ours.newestFirst(verified: true).prefix(Self.maximumLocalCandidates))
        case .named(let name):
            if let record = ours.record(fileName: name, tier: .daily) ?? ours.record(fileName: name, tier: .monthly) {
                return [record]
            }
            let onDisk = (try? folder.file(.daily, fileName: name)) ?? (try? folder.file(.monthly, fileName: name))
            if onDisk.flatMap({ $0 }) != nil { throw BackupError.backupNotInCatalog(file: name) }
            return []
        case .before(let date):
            let candidates = ours.newestFirst(before: date, verified: true)
            if !candidates.isEmpty { return Array(candidates.prefix(Self.maximumLocalCandidates)) }
            let hasOffsite = toolbox.manifest.backups.s3 != nil || toolbox.manifest.backups.azure != nil
            if !hasOffsite {
                let earliest = ours.records.min { $0.name < $1.name }?.fileName
                throw RecoveryError.noBackupBefore(date: date, database: database, earliest: earliest)
            }
            return []
        }
    }

    /// Verifies each local backup in turn (size, SHA-256 against the catalog, the dump's origin on its first MiB;
    /// gzip integrity, the loaded bytes' SHA-256 and byte count on the load itself; a `.dump`'s archive and SHA-256 before), loads it
    /// into the run's new database and compares it with its content record; the first
    /// that passes is kept there, ready to be swapped in. A refused backup's database is dropped and, unless the
    /// backup was named, the next older one is tried; the output and journal say which were passed over and why.
    private func loadLocal(_ records: [BackupRecord], named: Bool, context: StepContext) async throws
        -> SelectedBackup
    {
        let target = offsiteTarget(context.runID)
        let restorer = DatabaseRestorer(toolbox: toolbox)
        var skipped: [String] = []
        var lastError: (any Error)?
        for record in records {
            let path = folder.path(record.tier, fileName: record.fileName)
            do {
                context.log("verifying local backup \(record.relativePath)")
                let check = BackupIntegrityCheck(
                    gzip: toolbox.gzip, archive: toolbox.postgres.archive,
                    sizeFloor: toolbox.manifest.backups.sizeFloor, runner: context.runner)
                let size: Int64
                if BackupName.format(ofFileName: record.fileName) == .custom {
                    size = try await check.check(path: path, file: record.relativePath, expectedSHA256: record.sha256)
                        .size
                } else {
                    // gzip's exit status and the byte count are judged on the load into the new database
                    // (`DatabaseRestorer.load`, which hashes the bytes it hands gzip again). The file is first proved
                    // to be the one the catalog recorded: a tampered file's SQL (a `\connect` deep in it, a role
                    // changed) must never reach psql, and hashing is far cheaper than `gzip -t`.
                    size = try check.checkSize(path: path, file: record.relativePath)
                    do {
                        _ = try check.checksum(path: path, file: record.relativePath, expectedSHA256: record.sha256)
                    } catch {
                        // Named by its damage when gzip can tell it (truncated, corrupt, bytes after the data).
                        try await check.testIntegrity(path: path, file: record.relativePath)
                        throw error
                    }
                    try await origin.checkHead(
                        localFile: path, name: record.fileName, database: database, runner: context.runner)
                }
                let space = try await spaceCheck?.check(backupSize: size, context: context)
                let sha256 = record.sha256.lowercased()
                let checked = try await restorer.load(
                    file: path, sha256: sha256, size: size, into: target, context: context)
                return SelectedBackup(
                    name: record.fileName, path: path, size: size, sha256: sha256,
                    origin: "local " + record.relativePath, skipped: skipped, loadedDatabase: target,
                    spaceChecked: space, contentCheck: checked["contentCheck"])
            } catch let error as CancellationError {
                throw error
            } catch {
                if Task.isCancelled { throw CancellationError() }
                guard !named, records.count > 1 else { throw error }
                context.log("refused \(record.fileName): \(error.localizedDescription)")
                skipped.append("\(record.fileName): \(error.localizedDescription)")
                lastError = error
            }
        }
        // Every candidate was refused: the oldest one's reason, as the off-site stream reports it; the log and
        // the journal's run output name each.
        throw lastError ?? ScenarioError.noBackupFound(location: folder.root, database: database)
    }

    private func noLocalBackup(_ choice: BackupChoice) -> any Error {
        switch choice {
        case .named(let name): return BackupError.backupNotFound(name: name, folder: folder.root)
        case .before(let date): return RecoveryError.noBackupBefore(date: date, database: database, earliest: nil)
        case .latest: return ScenarioError.noBackupFound(location: folder.root, database: database)
        }
    }

    /// The step that picks the backup and verifies it.
    static let verifyStepID: StepID = "backup.verify"

    /// The `backup.verify` step: picks the backup and verifies it before anything is touched.
    public func verifyStep(_ choice: BackupChoice, title suffix: String? = nil) -> RunbookStep {
        let database = backupDatabase
        return RunbookStep(
            id: Self.verifyStepID,
            title: "Pick \(choice.description) and verify it ("
                + (toolbox.manifest.backups.format == .custom
                    ? "pg_restore --list and a full read" : "in one pass with the load: gzip's exit status")
                + ", size floor, SHA-256, database)"
                + (suffix.map { " " + $0 } ?? ""),
            inputs: choice.parameters.merging(["database": database]) { $1 },
            commands: plannedCommands(choice)
        ) { context in
            try await select(choice, context: context).outputs
        }
    }
}
