import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `drctl backup create`: `pg_dump | gzip -c` (or `pigz -c`, `backups.compressor`) into `daily/<name>.partial`
/// (mode 0600), every stage's exit status checked; then `gzip -t`, size floor and SHA-256 of the new file, a rename to the final name that never
/// replaces an existing backup, and the catalog record. The first backup of a UTC month is also kept under
/// `monthly/` (a hard link when the file system allows, a copy otherwise).
///
/// With `backups.format: custom`, `pg_dump -Fc -f daily/<name>.dump.partial` instead (pg_dump writes the file
/// itself, so the archive is seekable and records its data offsets, which `pg_restore -j` needs), checked with
/// `pg_restore --list` and a full read instead of `gzip -t`.
public struct BackupCreator: Sendable {
    public var database: String
    /// `backups.format`: how the dump is written.
    public var format: PostgresDumpFormat
    public var postgres: Postgres
    public var gzip: Gzip
    public var folder: BackupFolder
    public var sizeFloor: ByteSize
    public var runner: any CommandRunning
    public var clock: any RunClock

    public init(
        toolbox: ScenarioToolbox,
        runner: any CommandRunning = CommandRunner(),
        clock: any RunClock = .system
    ) {
        self.database = toolbox.manifest.database.name
        self.format = toolbox.manifest.backups.format
        self.postgres = toolbox.postgres
        self.gzip = toolbox.gzip
        self.folder = BackupFolder(manifest: toolbox.manifest)
        self.sizeFloor = toolbox.manifest.backups.sizeFloor
        self.runner = runner
        self.clock = clock
    }

    /// What `create` wrote.
    public struct Creation: Sendable, Hashable, Codable {
        public var daily: BackupRecord
        /// The `monthly/` record when this was the month's first backup.
        public var monthly: BackupRecord?
        public var path: String
        /// Problems that did not stop the backup (the monthly copy could not be made).
        public var warnings: [String] = []
    }

    /// The pipeline `create` runs, for `--dry-run` and plans.
    public func pipeline(partialPath: String) -> CommandPipeline {
        switch format {
        case .plain: CommandPipeline([postgres.dump(), gzip.compress()], output: .file(partialPath))
        case .custom: CommandPipeline([postgres.dump(format: .custom, file: partialPath)], output: .discard)
        }
    }

    /// The `.partial` path `create` writes to, with a placeholder for the time: for `--dry-run` and plans.
    public var plannedPartialPath: String {
        folder.path(
            .daily,
            fileName: "\(database)_backup_<YYYYMMDD_HHMMSS>\(BackupName.fileExtension(for: format)).partial")
    }

    public func create() async throws -> Creation {
        try folder.prepare()
        let startedAt = clock.now()
        let name = try BackupName(database: database, timestamp: startedAt, format: format)
        let finalPath = folder.path(.daily, fileName: name.fileName)
        guard !FileManager.default.fileExists(atPath: finalPath) else {
            throw BackupError.backupExists(path: finalPath)
        }
        let partialPath = finalPath + ".partial"

        let measurement: BackupIntegrityCheck.Measurement
        do {
            measurement = try await dump(to: partialPath, name: name)
            try Self.synchronize(partialPath)
            try Self.linkWithoutReplacing(partialPath, to: finalPath)
        } catch {
            try? FileManager.default.removeItem(atPath: partialPath)
            throw error
        }
        try? FileManager.default.removeItem(atPath: partialPath)

        let modifiedAt = (try? folder.file(.daily, fileName: name.fileName))??.modifiedAt ?? startedAt
        let verification = BackupVerification(
            result: .passed, verifiedAt: clock.now(), fileSize: measurement.size, fileModifiedAt: modifiedAt,
            sha256: measurement.sha256)
        let daily = BackupRecord(
            name: name, tier: .daily, size: measurement.size, sha256: measurement.sha256, createdAt: startedAt,
            verification: verification)
        try folder.catalogStore.update { catalog throws(BackupError) in catalog.upsert(daily) }

        // The daily backup is safe and recorded; a failing monthly copy must not make it look failed.
        var monthly: BackupRecord?
        var warnings: [String] = []
        do {
            monthly = try keepMonthlyCopy(of: daily, path: finalPath)
            if let monthly {
                try folder.catalogStore.update { catalog throws(BackupError) in catalog.upsert(monthly) }
            }
        } catch {
            monthly = nil
            warnings.append(
                "the backup was written and recorded, but keeping it under monthly/ failed: "
                    + error.localizedDescription)
        }
        return Creation(daily: daily, monthly: monthly, path: finalPath, warnings: warnings)
    }

    /// Runs the dump into `partialPath` and checks the result; the size floor is checked last, so that a dump
    /// that is merely small still fails with the clearer floor message only after it proved intact.
    private func dump(to partialPath: String, name: BackupName) async throws -> BackupIntegrityCheck.Measurement {
        if format == .custom {
            // pg_dump -f opens the file itself; created here first so it is 0600 from its first byte.
            guard
                FileManager.default.createFile(
                    atPath: partialPath, contents: nil, attributes: [.posixPermissions: 0o600])
            else {
                throw BackupError.fileNotWritten(path: partialPath, reason: "it could not be created")
            }
        }
        do {
            try await runner.runChecked(pipeline(partialPath: partialPath))
        } catch let failure as CommandFailure {
            throw BackupError.dumpFailed(database: database, detail: failure.localizedDescription)
        }
        let check = BackupIntegrityCheck(
            gzip: gzip, archive: postgres.archive, sizeFloor: ByteSize(bytes: 1), runner: runner)
        let measurement = try await check.check(path: partialPath, file: name.fileName, format: format)
        guard measurement.size >= sizeFloor.bytes else {
            throw BackupError.dumpUnderSizeFloor(database: database, size: measurement.size, floor: sizeFloor)
        }
        return measurement
    }

    /// The month's first backup of this database goes to `monthly/` too; nil when the month has one already.
    private func keepMonthlyCopy(of daily: BackupRecord, path: String) throws -> BackupRecord? {
        let catalog = try folder.catalogStore.load()
        let files = try folder.files()
        let sameMonth: (BackupName) -> Bool = { $0.database == database && $0.month == daily.name.month }
        let monthTaken =
            catalog.records.contains { $0.tier == .monthly && sameMonth($0.name) }
            || files.contains { $0.tier == .monthly && $0.name.map(sameMonth) == true }
        guard !monthTaken else { return nil }
        let monthlyPath = folder.path(.monthly, fileName: daily.fileName)
        do {
            try Self.linkWithoutReplacing(path, to: monthlyPath)
        } catch {
            // Another file system (or one without hard links): a copy, verified by its checksum below.
            do {
                try FileManager.default.copyItem(atPath: path, toPath: monthlyPath)
            } catch {
                throw BackupError.fileNotWritten(path: monthlyPath, reason: error.localizedDescription)
            }
        }
        var monthly = daily
        monthly.tier = .monthly
        if let file = try folder.file(.monthly, fileName: daily.fileName),
            file.modifiedAt != daily.verification?.fileModifiedAt
        {
            let sha256: String
            do {
                sha256 = try SHA256Checksum.ofFile(atPath: monthlyPath)
            } catch {
                throw BackupError.fileUnreadable(path: monthlyPath, reason: error.reason)
            }
            guard sha256 == daily.sha256 else {
                throw BackupError.checksumMismatch(file: monthlyPath, expected: daily.sha256, actual: sha256)
            }
            monthly.verification?.fileModifiedAt = file.modifiedAt
        }
        return monthly
    }

    /// `link(2)`: fails instead of replacing when `destination` exists.
    static func linkWithoutReplacing(_ source: String, to destination: String) throws(BackupError) {
        guard link(source, destination) == 0 else {
            let code = errno
            if code == EEXIST { throw .backupExists(path: destination) }
            throw .fileNotWritten(path: destination, reason: String(cString: strerror(code)))
        }
    }

    /// Flushes the file to disk before it gets its final name, so a crash never leaves a named, empty backup.
    static func synchronize(_ path: String) throws(BackupError) {
        do {
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.synchronize()
        } catch {
            throw .fileNotWritten(path: path, reason: error.localizedDescription)
        }
    }
}
