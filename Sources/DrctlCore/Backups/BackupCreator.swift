import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `drctl backup create`: `pg_dump | gzip -c` (or `pigz -c`, `backups.compressor`) into `daily/<name>.partial`
/// (mode 0600), written by drctl itself, which counts the bytes and computes their SHA-256 as it writes them
/// (one pass: the new file is not read again); every stage's exit status checked, the size floor, the file's
/// size on disk against the bytes written, fsync, a rename to the final name that never replaces an existing
/// backup, and the catalog record. No `gzip -t` of the new file: it would read back from the page cache the bytes
/// just hashed, which prove no more than the compressor's exit status; `backup verify` and every restore check
/// the file on disk (gzip's exit status and the SHA-256 recorded here). The first backup of a UTC month is also kept under
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
    /// Signs each content record (`backups.signingKey`); nil: records are written unsigned.
    public var signingKey: SecretValue?

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
        self.signingKey = toolbox.recordSigningKey
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
    public func pipeline(partialPath: String, snapshot: String? = nil) -> CommandPipeline {
        switch format {
        case .plain:
            CommandPipeline(
                [postgres.dump(snapshot: snapshot), gzip.compress()], output: .file(partialPath),
                taps: [PipelineTap(afterStage: 1, readsToEnd: true)])
        case .custom:
            CommandPipeline(
                [postgres.dump(format: .custom, file: partialPath, snapshot: snapshot)], output: .discard)
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
        let content: BackupContentRecord
        do {
            let dumped = try await dump(to: partialPath, name: name)
            measurement = dumped.measurement
            let unsigned = BackupContentRecord(
                backup: name.fileName, sha256: measurement.sha256, format: format, content: dumped.content)
            content = signingKey.map { unsigned.signed(with: $0) } ?? unsigned
            try Self.synchronize(partialPath)
            try content.write(besideBackupAt: finalPath)
            try Self.linkWithoutReplacing(partialPath, to: finalPath)
        } catch {
            try? FileManager.default.removeItem(atPath: partialPath)
            if !FileManager.default.fileExists(atPath: finalPath) {
                try? FileManager.default.removeItem(atPath: BackupContentRecord.sidecarPath(for: finalPath))
            }
            throw error
        }
        try? FileManager.default.removeItem(atPath: partialPath)

        let modifiedAt = (try? folder.file(.daily, fileName: name.fileName))??.modifiedAt ?? startedAt
        let verification = BackupVerification(
            result: .passed, verifiedAt: clock.now(), fileSize: measurement.size, fileModifiedAt: modifiedAt,
            sha256: measurement.sha256)
        let daily = BackupRecord(
            name: name, tier: .daily, size: measurement.size, sha256: measurement.sha256, createdAt: startedAt,
            verification: verification, content: content)
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
    private func dump(to partialPath: String, name: BackupName) async throws -> (
        measurement: BackupIntegrityCheck.Measurement, content: PostgresContent
    ) {
        if format == .custom {
            // pg_dump -f opens the file itself; created here first so it is 0600 from its first byte.
            guard
                FileManager.default.createFile(
                    atPath: partialPath, contents: nil, attributes: [.posixPermissions: 0o600])
            else {
                throw BackupError.fileNotWritten(path: partialPath, reason: "it could not be created")
            }
        }
        let written = Mutex<PipelineTap.Reading?>(nil)
        let content = try await inExportedSnapshot { snapshot in
            do {
                let result = try await runner.runChecked(pipeline(partialPath: partialPath, snapshot: snapshot))
                written.withLock { $0 = result.taps.first }
            } catch let failure as CommandFailure {
                throw BackupError.dumpFailed(database: database, detail: failure.localizedDescription)
            }
        }
        let measurement: BackupIntegrityCheck.Measurement
        if let reading = written.withLock({ $0 }) {
            measurement = try Self.measurement(of: reading, path: partialPath, file: name.fileName)
        } else {
            let check = BackupIntegrityCheck(
                gzip: gzip, archive: postgres.archive, sizeFloor: ByteSize(bytes: 1), runner: runner)
            measurement = try await check.check(path: partialPath, file: name.fileName, format: format)
        }
        guard measurement.size >= sizeFloor.bytes else {
            throw BackupError.dumpUnderSizeFloor(database: database, size: measurement.size, floor: sizeFloor)
        }
        return (measurement, content)
    }

    /// What drctl wrote into the new file, as it measured it: refused when nothing was written or the file on
    /// disk does not hold as many bytes.
    static func measurement(of reading: PipelineTap.Reading, path: String, file: String) throws(BackupError)
        -> BackupIntegrityCheck.Measurement
    {
        guard reading.byteCount > 0 else { throw .backupEmpty(file: file) }
        let size = try BackupIntegrityCheck.size(of: path)
        guard reading.reachedEnd, size == reading.byteCount else {
            throw .backupCorrupt(
                file: file, detail: "drctl wrote \(reading.byteCount) bytes, but the file holds \(size)")
        }
        return BackupIntegrityCheck.Measurement(size: size, sha256: reading.sha256)
    }

    /// Runs `body` with the id of a snapshot a psql session exported (`Postgres.snapshotSession`) and holds
    /// while `body` runs, then returns the content that session read in the same snapshot. The session waits on
    /// a FIFO that drctl holds open (close-on-exec, so no child inherits it) and closes when `body` is done.
    private func inExportedSnapshot(_ body: (String) async throws -> Void) async throws -> PostgresContent {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "drctl-snapshot-\(UUID().uuidString)"
        ).path
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw BackupError.fileNotWritten(path: directory, reason: error.localizedDescription)
        }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gate = directory + "/gate"
        let snapshotFile = directory + "/snapshot"
        guard mkfifo(gate, 0o600) == 0 else {
            throw BackupError.fileNotWritten(path: gate, reason: String(cString: strerror(errno)))
        }
        // O_RDWR: opening never waits for a reader, and the session's read ends when this descriptor closes.
        let descriptor = open(gate, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw BackupError.fileNotWritten(path: gate, reason: String(cString: strerror(errno)))
        }
        let gateOpen = Mutex(true)
        @Sendable func closeGate() {
            gateOpen.withLock { open in
                if open { _ = close(descriptor) }
                open = false
            }
        }
        defer { closeGate() }
        let ended = Mutex(false)
        let session = Task { [runner, postgres] in
            defer { ended.withLock { $0 = true } }
            return try await runner.run(postgres.snapshotSession(snapshotFile: snapshotFile, gate: gate))
        }
        var snapshot: String?
        while snapshot == nil {
            // Read before asking whether the session ended: it may have written the id and ended since.
            let sessionEnded = ended.withLock { $0 }
            if let text = try? String(contentsOfFile: snapshotFile, encoding: .utf8), text.hasSuffix("\n") {
                snapshot = text.trimmingCharacters(in: .whitespacesAndNewlines)
            } else if sessionEnded {
                break
            } else {
                do {
                    // Real time, not the run's clock: this waits for a local psql, not for a policy's delay.
                    try await Task.sleep(for: .milliseconds(20))
                } catch {
                    closeGate()
                    session.cancel()
                    throw error
                }
            }
        }
        guard let snapshot, !snapshot.isEmpty else {
            closeGate()
            let result = try await session.value
            throw BackupError.dumpFailed(
                database: database,
                detail: "could not open the snapshot the dump and its content record read: "
                    + (result.failure?.localizedDescription ?? result.standardErrorTail))
        }
        do {
            try await body(snapshot)
        } catch {
            closeGate()
            _ = try? await session.value
            throw error
        }
        closeGate()
        let result = try await session.value
        guard let failure = result.failure else {
            guard let content = Postgres.parseContent(result.output) else {
                throw BackupError.dumpFailed(
                    database: database, detail: "the snapshot session printed no content record")
            }
            return content
        }
        throw BackupError.dumpFailed(
            database: database, detail: "reading the content record failed: " + failure.localizedDescription)
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
        try daily.content?.write(besideBackupAt: monthlyPath)
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
