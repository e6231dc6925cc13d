import Foundation

/// `drctl agent restore-load`, inside a data-plane Job: the streamed restore's load as drctl runs it on the
/// operator's machine (`OffsiteBackupFetcher.streamLoad`: `aws s3 cp KEY - | sha256 | gzip -dc | psql
/// --single-transaction`, the first MiB held until the dump's origin check passed, SHA-256 against the `.sha256`
/// sidecar, bytes against the listing, gzip's and psql's exit status) into the new database drctl created; a custom-format backup (`.dump`) downloaded into the Job's
/// volume (an emptyDir drctl sized for it), verified (size, SHA-256, `pg_restore --list`) and restored with
/// `pg_restore -j`. Its verdict says what was loaded; drctl then checks the loaded database against the backup's
/// content record itself.
public struct RestoreLoadAgent: Sendable {
    public var toolbox: ScenarioToolbox
    public var runner: any CommandRunning

    public init(toolbox: ScenarioToolbox, runner: any CommandRunning = CommandRunner()) {
        self.toolbox = toolbox
        self.runner = runner
    }

    public static let command = "restore-load"

    /// Loads the off-site object `key` (listed at `size` bytes) into `database`, which must not be the
    /// manifest's live database.
    public func load(key: String, size: Int64, database: String, log: @escaping @Sendable (String) -> Void)
        async throws -> AgentVerdict
    {
        guard database != toolbox.manifest.database.name else {
            throw DataPlaneJobError.agentInputUnreadable(
                variable: "--database",
                reason: "\(database) is the live database; drctl loads only into the run's new database")
        }
        // The origin check judges the dump against the database the backup's name says (drctl picked it as a
        // backup of that database; a game day restores production's into staging).
        let fetcher = OffsiteBackupFetcher(
            toolbox: toolbox, workRoot: NSTemporaryDirectory() + "drctl-agent",
            backupDatabaseName: BackupName(fileName: OffsiteBackupFetcher.fileName(key))?.database)
        let (store, _) = try fetcher.location()
        let object = StoredObject(key: key, size: size)
        let context = StepContext(runID: "agent", step: StepID(Self.command), runner: runner, log: log)
        let expected = try await fetcher.recordedChecksum(of: object, store: store, context: context)
        if BackupName.format(ofFileName: key) == .custom {
            return try await loadArchive(
                object, fetcher: fetcher, store: store, into: database, expected: expected, context: context)
        }
        let (sha256, result) = try await fetcher.streamLoad(
            object, store: store, restorer: DatabaseRestorer(toolbox: toolbox), into: database, expected: expected,
            context: context)
        var statuses: [String: Int32] = [:]
        for stage in result.stages {
            if case .exited(let code) = stage.status {
                statuses[(stage.invocation.executable as NSString).lastPathComponent] = code
            }
        }
        return AgentVerdict(
            command: Self.command, succeeded: true, file: OffsiteBackupFetcher.fileName(key), sha256: sha256,
            bytes: size, statuses: statuses,
            warnings: expected == nil ? ["no .sha256 sidecar off-site: verified by gzip, size and psql only"] : [])
    }

    /// `.dump`: `pg_restore -j` seeks, so the pod downloads it into the Job's volume (`Manifest.jobBackupFolder`),
    /// checks it as drctl does on the operator's machine (`downloadVerified`) and restores it into `database`;
    /// the download is removed afterwards, whatever happened.
    private func loadArchive(
        _ object: StoredObject, fetcher: OffsiteBackupFetcher, store: any ObjectStore, into database: String,
        expected: String?, context: StepContext
    ) async throws -> AgentVerdict {
        let name = OffsiteBackupFetcher.fileName(object.key)
        let folder = Manifest.jobBackupFolder + "/restore"
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = folder + "/" + name
        defer { try? FileManager.default.removeItem(atPath: path) }
        let sha256 = try await fetcher.downloadVerified(
            object, store: store, to: path, expected: expected, context: context)
        let restorer = DatabaseRestorer(toolbox: toolbox)
        context.log(
            "restoring \(name) into \(database) with pg_restore -j \(toolbox.manifest.backups.effectiveRestoreJobs)")
        let result = try await runner.run(restorer.archiveLoad(file: path, into: database)).checked()
        var statuses: [String: Int32] = [:]
        if case .exited(let code) = result.status { statuses["pg_restore"] = code }
        return AgentVerdict(
            command: Self.command, succeeded: true, file: name, sha256: sha256, bytes: object.size,
            statuses: statuses,
            warnings: expected == nil ? ["no .sha256 sidecar off-site: verified by pg_restore and size only"] : [])
    }
}
