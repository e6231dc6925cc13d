import Foundation

/// Restores a verified gzip SQL dump without ever dropping data: into a fresh database first, then swapped in by
/// rename. An empty target (a fresh PostgreSQL release) is replaced; a target that holds tables is kept under a
/// dated name for the operator to drop.
///
/// Two ways in: a local file (`gunzip -c FILE | psql`, verified before), or a stream from the off-site store
/// that `OffsiteBackupFetcher.stream` loads into the new database and verifies on the way; `swapIn` then
/// replaces the target with it. A custom-format `.dump` is loaded with `pg_restore -j N` instead (from a file:
/// `-j` needs to seek, so an off-site one is downloaded and verified first).
public struct DatabaseRestorer: Sendable {
    public var toolbox: ScenarioToolbox

    public init(toolbox: ScenarioToolbox) {
        self.toolbox = toolbox
    }

    private var database: String { toolbox.manifest.database.name }
    private var admin: Postgres { toolbox.postgres }

    /// A short, stable suffix per run, so names stay under PostgreSQL's 63-byte limit.
    static func suffix(runID: String) -> String { String(Fingerprint.of(runID).prefix(8)) }

    func scratchName(runID: String) -> String { "\(database)_restore_\(Self.suffix(runID: runID))" }
    func keptName(runID: String) -> String { "\(database)_before_\(Self.suffix(runID: runID))" }

    private func on(_ name: String) -> Postgres {
        var postgres = admin
        postgres.connection = postgres.connection.with(database: name)
        return postgres
    }

    private var plannedScratch: String { "\(database)_restore_<run>" }

    /// The new database's preparation and one-pass load from `source` (`loadPipeline`), for a plan: the
    /// off-site stream, or a local file drctl reads into gzip itself.
    func plannedLoadCommands(source: LoadSource? = nil, into database: String? = nil) -> [String] {
        let scratch = database ?? plannedScratch
        let load = loadPipeline(source: source ?? .file("<backup>"), into: scratch)
        return [
            admin.dropDatabase(scratch, force: true).redactedCommandLine,
            admin.createDatabase(scratch).redactedCommandLine,
            load.redactedCommandLine,
        ]
    }

    /// The content record check after a load, for a plan.
    func plannedContentCheck(into database: String? = nil) -> [String] {
        let scratch = database ?? plannedScratch
        var record = "(the content record <backup>.record.json"
        if toolbox.manifest.backups.signingKey != nil {
            record += ", its HMAC signature checked with backups.signingKey,"
        }
        record += " compared with the loaded database: table set, row counts, schema digests; "
        record +=
            toolbox.manifest.backups.requireContentRecord
            ? "a backup without a record is refused)" : "without a record: the smoke query and table presence only)"
        // The query itself is 20 lines of catalog SQL (Postgres.contentSQL); the plan names it instead.
        return [
            on(scratch).query("<content query: per table its row count and schema digest>").redactedCommandLine
                + "  " + record
        ]
    }

    /// `pg_restore -j N --exit-on-error --no-owner -d SCRATCH FILE` for a custom-format backup, N from
    /// `backups.restoreJobs`; the password only in the environment.
    func archiveLoad(file: String, into scratch: String) -> CommandInvocation {
        on(scratch).restoreArchive(file: file, jobs: toolbox.manifest.backups.effectiveRestoreJobs)
    }

    /// The new database's preparation and `pg_restore -j` load of a custom-format `file`, for a plan.
    func plannedArchiveLoadCommands(file: String, into database: String? = nil) -> [String] {
        let plannedScratch = database ?? self.plannedScratch
        return [
            admin.dropDatabase(plannedScratch, force: true).redactedCommandLine,
            admin.createDatabase(plannedScratch).redactedCommandLine,
            archiveLoad(file: file, into: plannedScratch).redactedCommandLine,
        ]
    }

    /// What the restore step runs, for a plan. `streamed`: the new database was loaded and verified by the
    /// fetch step, and this step only swaps it in. The load shown follows `backups.format`.
    public func plannedCommands(streamed: Bool = false) -> [String] {
        let scratch = "\(database)_restore_<run>"
        let restore = loadPipeline(source: .file("<verified backup>.sql.gz"), into: scratch)
        var lines: [String]
        if streamed {
            lines = ["(\(scratch) was loaded, verified and compared with its content record by the backup step)"]
        } else if toolbox.manifest.backups.format == .custom {
            lines = ["(a local backup:)"] + plannedArchiveLoadCommands(file: "<verified backup>.dump")
            lines.append("(a local .sql.gz backup is restored with: \(restore.redactedCommandLine))")
            lines.append(
                "(an off-site backup was loaded into \(scratch) and verified by the backup step: from here on)")
        } else {
            lines = [
                "(a local backup:)",
                admin.dropDatabase(scratch, force: true).redactedCommandLine,
                admin.createDatabase(scratch).redactedCommandLine,
                restore.redactedCommandLine,
                "(an off-site backup was streamed into \(scratch) and verified by the backup step: from here on)",
            ]
        }
        lines.append(
            admin.adminQuery(
                "SELECT datname, <its comment is this run's load note> FROM pg_database WHERE datname IN "
                    + "('\(scratch)', '\(database)')"
            ).redactedCommandLine
                + "  (when \(scratch) is gone, \(database) must carry this run's load note: the swap already happened)")
        if let smoke = toolbox.manifest.database.smokeQuery {
            lines.append(on(scratch).query(smoke).redactedCommandLine)
        }
        lines += [
            "(if \(database) is empty) " + admin.dropDatabase(database, force: true).redactedCommandLine,
            "(in one transaction; the first two only if \(database) holds tables) "
                + admin.adminTransaction(
                    swapStatements(
                        scratch: scratch, kept: "\(database)_before_<run>", runID: "<run>", sha256: "<sha256>")
                ).redactedCommandLine,
        ]
        return lines
    }

    public func restore(file: String, sha256: String, context: StepContext) async throws -> StepOutputs {
        let scratch = scratchName(runID: context.runID)
        try await load(file: file, sha256: sha256, into: scratch, context: context)
        return try await swapIn(scratch: scratch, sha256: sha256, context: context)
    }

    /// Loads the local backup `file` into `target` (dropped and created first: the run's new database or
    /// recover-rows' temporary one), compares it with the backup's content record and notes on it which backup
    /// it holds. On any failure `target` is dropped again, so a refused backup leaves nothing behind.
    ///
    /// A `.sql.gz` is loaded in one pass, as the off-site stream is (`loadPipeline`): drctl reads the file into
    /// `gzip -dc | psql` itself and judges the load by gzip's exit status (corrupt, truncated, bytes after the
    /// gzip data), the file's SHA-256 against `sha256` (the catalog's) and its byte count against `size` (what
    /// the file had before; nil: not compared) — no `gzip -t` or checksum read before it. A `.dump` was checked
    /// before (`pg_restore --list`, a full read, its SHA-256) and is loaded with `pg_restore -j`.
    @discardableResult
    func load(file: String, sha256: String, size: Int64? = nil, into target: String, context: StepContext)
        async throws -> StepOutputs
    {
        let runner = context.runner
        let name = (file as NSString).lastPathComponent
        try await recreate(target, context: context)
        context.log("restoring \(name) into \(target)")
        var copied: CopyRowCounts?
        do {
            if BackupName.format(ofFileName: name) == .custom {
                // pg_restore refusing the backup's contents (`ExitMeaning.refused`) refuses the backup.
                if let failure = try await runner.run(archiveLoad(file: file, into: target)).failure {
                    if failure.refusal != nil {
                        throw RecoveryError.backupDoesNotLoad(file: name, cause: failure.causeOrStatus)
                    }
                    throw failure
                }
            } else {
                let result = try await runner.run(loadPipeline(source: .file(file), into: target))
                copied = CopyRowCounts.parse(result.output)
                do {
                    try Self.judgeLocal(result, file: name, sha256: sha256, size: size)
                } catch let refusal as RecoveryError {
                    // psql stopped before gzip got to say why: damage that cut or garbled the SQL is named by
                    // `gzip -t` (on this refusal path only); a file gzip finds whole is psql's refusal.
                    guard case .backupDoesNotLoad = refusal else { throw refusal }
                    try await BackupIntegrityCheck(
                        gzip: toolbox.gzip, sizeFloor: toolbox.manifest.backups.sizeFloor, runner: runner
                    ).testIntegrity(path: file, file: name)
                    throw refusal
                }
            }
            let record = try BackupContentRecord.read(
                path: BackupContentRecord.sidecarPath(for: file), backup: name)
            let checked = try await checkContent(
                of: target, record: record, file: name, sha256: sha256, copied: copied, context: context)
            try await runner.runChecked(markLoaded(scratch: target, runID: context.runID, sha256: sha256))
            return checked
        } catch {
            if !(error is CancellationError) { _ = try? await admin.dropDatabase(target, context: context) }
            throw error
        }
    }

    // MARK: - Checking what was loaded

    /// Compares the database `loaded` (from backup `file`, whose bytes had `sha256`) with the backup's content
    /// record: its signature (with `backups.signingKey`), the file and database it names, then table set, row
    /// counts and schema digests. Without a record only the smoke query and table presence check the load, and
    /// the log says so; with `backups.requireContentRecord` that is a refusal. Returns what the journal keeps.
    ///
    /// `copied`: the row counts the load's psql reported for its COPYs (`loadPipeline`, `CopyRowCounts.parse`),
    /// taken for those tables instead of counting them again; nil (a `pg_restore` load, a load in a Job, a dump
    /// with other row-changing statements): every table is counted.
    @discardableResult
    func checkContent(
        of loaded: String, record: BackupContentRecord?, file: String, sha256: String?,
        copied: CopyRowCounts? = nil, context: StepContext
    ) async throws -> StepOutputs {
        guard let record else {
            if toolbox.manifest.backups.requireContentRecord { throw RecoveryError.contentRecordMissing(file: file) }
            if toolbox.recordSigningKey != nil { throw RecoveryError.contentRecordUnsigned(file: file) }
            guard try await userTableCount(in: loaded, runner: context.runner) > 0 else {
                throw RecoveryError.contentDiffers(file: file, differences: ["the loaded database holds no tables"])
            }
            context.log(
                "\(file) has no content record (made by the runbook's script or an older drctl): checked by the"
                    + " smoke query and table presence only")
            return ["contentCheck": "none: no content record; smoke query and table presence only"]
        }
        try record.verifySignature(key: toolbox.recordSigningKey, file: file)
        let database = BackupName(fileName: file)?.database ?? record.content.database
        try record.check(file: file, sha256: sha256 ?? record.sha256, database: database)
        let query = copied.map { on(loaded).contentQuery(copied: $0) } ?? on(loaded).contentQuery()
        let result = try await context.runner.runChecked(query)
        let differences =
            Postgres.parseContent(result.output).map { record.content.differences(from: $0) }
            ?? ["the loaded database's tables could not be read"]
        let source = copied == nil ? "counted" : "row counts from the load's COPY reports"
        guard differences.isEmpty else {
            context.log("\(file): content check (\(source)) found differences")
            throw RecoveryError.contentDiffers(file: file, differences: differences)
        }
        let note = record.signatureNote(key: toolbox.recordSigningKey)
        context.log("\(file): the loaded database matches its content record (\(record.summary); \(source); \(note))")
        return ["contentCheck": "matches its content record (\(record.summary); \(source); \(note))"]
    }

    // MARK: - Loading a stream

    /// `SOURCE | (sha256 and byte count in drctl) | gzip -dc | (drctl: psql restricted mode) | psql
    /// --echo-queries --single-transaction … -d SCRATCH`: the dump goes into the new database in one pass, and
    /// drctl measures the compressed bytes on the way; of psql's output it keeps the COPY reports
    /// (`CopyRowCounts`), for the content check. gzip itself, never pigz (`Gzip.strictDecompress`): no `gzip -t`
    /// ran before, and only gzip's exit status 2 refuses bytes after the gzip data, which a recorded checksum of
    /// those same bytes would not catch. A `file` (a local backup, or a download from a store whose client cannot
    /// write to a pipe) is read by drctl itself, before gzip. psql runs the SQL in its restricted mode
    /// (`PsqlRestrictedScript`): the checksum is judged only after the stream ended, so no backslash command of
    /// the backup (`\!`, `\connect`, …) may run before it.
    func loadPipeline(source: LoadSource, into scratch: String) -> CommandPipeline {
        let load = on(scratch).runScript(singleTransaction: true, reportingRows: true)
        let reports = CommandPipeline.Output.lines(startingWith: CopyRowCounts.reportedLines)
        switch source {
        case .program(let download):
            return CommandPipeline(
                [download, toolbox.gzip.strictDecompress(), load], output: reports,
                taps: [PipelineTap(afterStage: 0, readsToEnd: true), .psqlRestrictedMode(afterStage: 1)])
        case .file(let path):
            var gunzip = toolbox.gzip.strictDecompress()
            gunzip.standardInput = .file(path)
            return CommandPipeline(
                [gunzip, load], output: reports, taps: [.input(readsToEnd: true), .psqlRestrictedMode(afterStage: 0)])
        }
    }

    /// The verdict on a local file's one-pass load (`load`), before anything live is touched: gzip's refusal
    /// first (it names the damage: corrupt, truncated, bytes after the gzip data; the checksum differs then too),
    /// then the SHA-256 against the catalog's and the byte count, then psql's refusal of the backup's SQL — also
    /// when psql stopped before the file was read to its end (`load` then asks `gzip -t` for the damage).
    static func judgeLocal(_ result: PipelineResult, file: String, sha256: String, size: Int64?) throws {
        let failure = result.failure
        if let failure, failure.stageIndex == 0 {
            guard case .refused(let what) = failure.meaning else { throw failure }
            let detail = "gzip -dc: " + failure.causeOrStatus
            throw BackupError.backupCorrupt(
                file: file,
                detail: what == Gzip.trailingGarbage ? "bytes after the end of the gzip data (\(detail))" : detail)
        }
        guard let reading = result.taps.first, reading.reachedEnd else {
            // psql stopped on what gzip had written so far, and gzip (then drctl) on the closed pipe.
            if let failure, failure.refusal != nil {
                try requireRestrictedMode(failure, file: file)
                throw RecoveryError.backupDoesNotLoad(file: file, cause: failure.causeOrStatus)
            }
            throw failure ?? BackupError.backupCorrupt(file: file, detail: "drctl did not read the file to its end")
        }
        if reading.sha256 != sha256.lowercased() {
            throw BackupError.checksumMismatch(file: file, expected: sha256.lowercased(), actual: reading.sha256)
        }
        if let size, reading.byteCount != size {
            throw BackupError.backupCorrupt(
                file: file, detail: "\(reading.byteCount) bytes read, but the file had \(size) when the restore began")
        }
        if let failure {
            if failure.refusal != nil {
                try requireRestrictedMode(failure, file: file)
                throw RecoveryError.backupDoesNotLoad(file: file, cause: failure.causeOrStatus)
            }
            throw failure
        }
    }

    /// What an older psql (without `\restrict`: before 13.22, 14.19, 15.14, 16.10, 17.6) says of the load's first
    /// line, drctl's own `\restrict` (`PsqlRestrictedScript`), before it stops with exit 3.
    static let unknownRestrictCommand = "invalid command \\restrict"

    /// Throws `psqlWithoutRestrictedMode` when psql refused the load (`failure`) because it does not know
    /// `\restrict`: that psql cannot load any plain backup safely, whichever the backup.
    static func requireRestrictedMode(_ failure: CommandFailure, file: String) throws(RecoveryError) {
        if failure.standardErrorTail.contains(unknownRestrictCommand) {
            throw .psqlWithoutRestrictedMode(file: file)
        }
    }

    /// Where a streamed load's compressed bytes come from.
    enum LoadSource {
        /// A program writing them to its standard output (`aws s3 cp s3://… -`).
        case program(CommandInvocation)
        /// A file already downloaded.
        case file(String)
    }

    /// Drops and creates a database to load into (this run's new database, or recover-rows' temporary one).
    func prepare(_ name: String, context: StepContext) async throws {
        try await recreate(name, context: context)
    }

    /// Drops a database a refused stream was loaded into.
    func drop(_ name: String, context: StepContext) async throws {
        try await admin.dropDatabase(name, context: context)
    }

    /// Notes on the loaded database which verified backup it holds; the note goes with it when it is renamed,
    /// so a run interrupted between the rename and the final marker can tell the swap already happened.
    func markLoaded(scratch: String, runID: String, sha256: String) -> CommandInvocation {
        admin.adminQuery(
            "COMMENT ON DATABASE \(PostgresQuoting.identifier(scratch)) IS "
                + PostgresQuoting.literal(loadedMarker(runID: runID, sha256: sha256)))
    }

    func plannedMarkLoadedCommand(into database: String? = nil) -> String {
        markLoaded(scratch: database ?? plannedScratch, runID: "<run>", sha256: "<sha256>").redactedCommandLine
    }

    func loadedMarker(runID: String, sha256: String) -> String {
        "loaded and verified by drctl run \(runID) from sha256 \(sha256)"
    }

    // MARK: - Swapping in

    /// Checks the loaded database (smoke query), then swaps it in: the target is dropped first when it holds no
    /// tables; otherwise its sessions are ended and it is renamed to a dated name, the loaded database renamed
    /// to the target's name and marked, all in one transaction (`swapStatements`): either the target is the
    /// loaded database and carries the marker, or nothing was renamed.
    public func swapIn(scratch: String, sha256: String, context: StepContext) async throws -> StepOutputs {
        let runner = context.runner
        let found = try await present(
            [scratch, database], notedAs: loadedMarker(runID: context.runID, sha256: sha256),
            runner: runner)
        guard found[scratch] != nil else {
            // Resumed after the rename: the target is the loaded database when it carries the load note.
            if found[database] == true {
                try await runner.runChecked(markerCommand(runID: context.runID, sha256: sha256))
                return ["database": database, "sha256": sha256, "note": "swap found done; marked"]
            }
            throw ScenarioError.loadedDatabaseMissing(database: scratch)
        }
        var outputs: StepOutputs = ["database": database, "sha256": sha256]
        if let smoke = toolbox.manifest.database.smokeQuery {
            let result = try await runner.run(on(scratch).query(smoke))
            if let failure = result.failure {
                if Task.isCancelled { throw CancellationError() }
                _ = try? await admin.dropDatabase(scratch, context: context)
                let detail =
                    failure.standardErrorTail.split(whereSeparator: \.isNewline).first.map(String.init)
                    ?? failure.localizedDescription
                throw RecoveryError.smokeQueryFailed(database: scratch, query: smoke, detail: detail)
            }
            outputs["smokeQuery"] = smoke
            outputs["smokeResult"] = Postgres.parseValue(result.output) ?? ""
        }
        outputs["tables"] = String(try await userTableCount(in: scratch, runner: runner))
        var kept: String?
        if found[database] != nil {
            if try await userTableCount(in: database, runner: runner) == 0 {
                try await admin.dropDatabase(database, context: context)
            } else {
                kept = keptName(runID: context.runID)
                outputs["keptPrevious"] = kept
            }
        }
        try await runner.runChecked(
            admin.adminTransaction(swapStatements(scratch: scratch, kept: kept, runID: context.runID, sha256: sha256)))
        if let kept { context.log("\(database) held data: kept as \(kept); drop it once you no longer need it") }
        return outputs
    }

    /// The swap's one transaction: with `kept`, the target's client sessions ended and the target renamed to
    /// `kept`; then the loaded database renamed to the target's name and marked. (`ALTER DATABASE … RENAME`
    /// waits up to 5 s for ended sessions to go.)
    private func swapStatements(scratch: String, kept: String?, runID: String, sha256: String) -> [String] {
        var statements: [String] = []
        if let kept {
            statements.append(terminateSessionsSQL(database))
            statements.append(Postgres.renameStatement(database, to: kept))
        }
        statements.append(Postgres.renameStatement(scratch, to: database))
        statements.append(markerSQL(runID: runID, sha256: sha256))
        return statements
    }

    /// Which of `names` exist, in one query: name → whether its comment is `note`.
    private func present(_ names: [String], notedAs note: String, runner: any CommandRunning) async throws
        -> [String: Bool]
    {
        let result = try await runner.runChecked(
            admin.adminQuery(
                "SELECT datname, coalesce(shobj_description(oid, 'pg_database') = \(PostgresQuoting.literal(note)), "
                    + "false) FROM pg_database WHERE datname IN ("
                    + names.map(PostgresQuoting.literal).joined(separator: ", ") + ")"))
        var found: [String: Bool] = [:]
        for row in Postgres.parseRows(result.output) where row.count >= 2 {
            found[row[0..<(row.count - 1)].joined(separator: "|")] = row[row.count - 1] == "t"
        }
        return found
    }

    /// Puts back the database this run's `swapIn` kept (`<db>_before_<run>`; a game day's undo): the restored one
    /// is dropped (a copy of a backup that is still in its store) and the kept one renamed to the database's name
    /// again. Checks the kept one is there before it drops anything; without it (the target held no data, so
    /// nothing was kept) it declines and says what is left.
    func putBack(context: StepContext) async throws -> String {
        let runner = context.runner
        let kept = keptName(runID: context.runID)
        guard try await exists(kept, runner: runner) else {
            throw StepUndoDeclined(
                reason: "no \(kept) to put back (\(database) held no data when the drill found it, so nothing was "
                    + "kept): \(database) is left as the drill restored it")
        }
        if try await exists(database, runner: runner) {
            try await runner.runChecked(terminateSessions(database))
            try await admin.dropDatabase(database, context: context)
        }
        try await runner.runChecked(admin.renameDatabase(kept, to: database))
        return "\(database) is the database the drill found again (\(kept) renamed back); the restored copy was dropped"
    }

    /// Drops and creates the scratch database. After a SIGKILL, a psql of the killed run can still be finishing
    /// its `CREATE DATABASE` (children outlive their parent): that shows as "already exists" and is retried.
    private func recreate(_ scratch: String, context: StepContext) async throws {
        let policy = RetryPolicy(attempts: 5, backoff: .seconds(1), multiplier: 1)
        try await policy.run(clock: context.clock, log: context.log) { _ in
            try await admin.dropDatabase(scratch, context: context)
            let create = try await context.runner.run(admin.createDatabase(scratch))
            guard let failure = create.failure else { return .finished(()) }
            guard failure.meaning.isContended else { throw failure }
            return .tryAgain(
                reason: "\(scratch) reappeared (a process of the interrupted run was still creating it); retrying",
                failure: failure)
        }
    }

    private func commentQuery(_ name: String) -> CommandInvocation {
        admin.adminQuery(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = "
                + PostgresQuoting.literal(name))
    }

    /// On resume: the restore finished when the target carries this run's marker.
    public func probe(runID: String, sha256: String, context: StepContext) async throws -> ProbeVerdict {
        let result = try await context.runner.run(commentQuery(database))
        guard result.succeeded else { return .unknown(reason: "cannot read the database comment") }
        guard Postgres.parseValue(result.output) == marker(runID: runID, sha256: sha256) else { return .notDone }
        var outputs: StepOutputs = ["database": database, "sha256": sha256, "note": "restore found complete"]
        if let smoke = toolbox.manifest.database.smokeQuery {
            let smokeResult = try await context.runner.runChecked(admin.query(smoke))
            outputs["smokeQuery"] = smoke
            outputs["smokeResult"] = Postgres.parseValue(smokeResult.output) ?? ""
        }
        return .done(outputs)
    }

    /// Marks the restored database, so a resumed run can tell that this restore finished.
    private func markerCommand(runID: String, sha256: String) -> CommandInvocation {
        admin.adminQuery(markerSQL(runID: runID, sha256: sha256))
    }

    private func markerSQL(runID: String, sha256: String) -> String {
        "COMMENT ON DATABASE \(PostgresQuoting.identifier(database)) IS "
            + PostgresQuoting.literal(marker(runID: runID, sha256: sha256))
    }

    func marker(runID: String, sha256: String) -> String { "restored by drctl run \(runID) from sha256 \(sha256)" }

    private func exists(_ name: String, runner: any CommandRunning) async throws -> Bool {
        Postgres.parseExists(try await runner.runChecked(admin.databaseExists(name)).output)
    }

    private func userTableCount(in name: String, runner: any CommandRunning) async throws -> Int {
        let result = try await runner.runChecked(
            on(name).query(
                "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            ))
        return Int(Postgres.parseValue(result.output) ?? "") ?? 0
    }

    private func terminateSessions(_ name: String) -> CommandInvocation { admin.adminQuery(terminateSessionsSQL(name)) }

    private func terminateSessionsSQL(_ name: String) -> String {
        // Client sessions only: an autovacuum worker is a superuser process the app's role may not end, and
        // PostgreSQL cancels it by itself for the rename.
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
            + PostgresQuoting.literal(name) + " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    }

    /// The destructive restore step: reads the verified backup's `sha256` and either its `path` (restored here)
    /// or its `scratchDatabase` (streamed and verified by `backupStep`, swapped in here) from `backupStep`'s
    /// outputs; on resume its probe looks for this run's marker on the database.
    public func step(after dependencies: [StepID], backupStep: StepID, title: String, streamed: Bool = false)
        -> RunbookStep
    {
        RunbookStep(
            id: "database.restore",
            title: title,
            dependsOn: dependencies,
            destructive: true,
            inputs: ["database": database],
            commands: plannedCommands(streamed: streamed),
            probe: { context in
                let backup = try context.outputs(of: backupStep)
                return try await probe(runID: context.runID, sha256: backup["sha256"] ?? "", context: context)
            }
        ) { context in
            let backup = try context.outputs(of: backupStep)
            let sha = try backup.require("sha256", from: backupStep)
            if let scratch = backup["scratchDatabase"], !scratch.isEmpty {
                return try await swapIn(scratch: scratch, sha256: sha, context: context)
            }
            let file = try backup.require("path", from: backupStep)
            return try await restore(file: file, sha256: sha, context: context)
        }
    }
}
