import Foundation

/// Restores a verified gzip SQL dump without ever dropping data: into a fresh database first, then swapped in by
/// rename. An empty target (a fresh PostgreSQL release) is replaced; a target that holds tables is kept under a
/// dated name for the operator to drop.
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

    public func plannedCommands() -> [String] {
        let scratch = "\(database)_restore_<run>"
        let restore = CommandPipeline([
            toolbox.gzip.decompress(file: "$RUN_DIR/backup/<backup>"),
            on(scratch).runScript(singleTransaction: true),
        ])
        var lines = [
            admin.dropDatabase(scratch, force: true).redactedCommandLine,
            admin.createDatabase(scratch).redactedCommandLine,
            restore.redactedCommandLine,
        ]
        if let smoke = toolbox.manifest.database.smokeQuery {
            lines.append(on(scratch).query(smoke).redactedCommandLine)
        }
        lines += [
            admin.databaseExists(database).redactedCommandLine,
            "(if \(database) holds tables) " + terminateSessions(database).redactedCommandLine,
            "(if \(database) holds tables) "
                + admin.renameDatabase(database, to: "\(database)_before_<run>")
                .redactedCommandLine,
            "(if \(database) is empty) " + admin.dropDatabase(database, force: true).redactedCommandLine,
            admin.renameDatabase(scratch, to: database).redactedCommandLine,
            markerCommand(runID: "<run>", sha256: "<sha256>").redactedCommandLine,
        ]
        return lines
    }

    public func restore(file: String, sha256: String, context: StepContext) async throws -> StepOutputs {
        let runner = context.runner
        let scratch = scratchName(runID: context.runID)
        try await recreate(scratch, context: context)
        context.log("restoring into \(scratch)")
        try await runner.runChecked(
            CommandPipeline([toolbox.gzip.decompress(file: file), on(scratch).runScript(singleTransaction: true)]))
        var outputs: StepOutputs = ["database": database, "sha256": sha256]
        if let smoke = toolbox.manifest.database.smokeQuery {
            let result = try await runner.runChecked(on(scratch).query(smoke))
            outputs["smokeQuery"] = smoke
            outputs["smokeResult"] = Postgres.parseValue(result.output) ?? ""
        }
        outputs["tables"] = String(try await userTableCount(in: scratch, runner: runner))
        if try await exists(database, runner: runner) {
            if try await userTableCount(in: database, runner: runner) == 0 {
                try await runner.runChecked(admin.dropDatabase(database, force: true))
            } else {
                let kept = keptName(runID: context.runID)
                try await runner.runChecked(terminateSessions(database))
                try await runner.runChecked(admin.renameDatabase(database, to: kept))
                outputs["keptPrevious"] = kept
                context.log("\(database) held data: kept as \(kept); drop it once you no longer need it")
            }
        }
        try await runner.runChecked(admin.renameDatabase(scratch, to: database))
        try await runner.runChecked(markerCommand(runID: context.runID, sha256: sha256))
        return outputs
    }

    /// Drops and creates the scratch database. After a SIGKILL, a psql of the killed run can still be finishing
    /// its `CREATE DATABASE` (children outlive their parent): that shows as "already exists" and is retried.
    private func recreate(_ scratch: String, context: StepContext) async throws {
        for attempt in 1... {
            try await context.runner.runChecked(admin.dropDatabase(scratch, force: true))
            let create = try await context.runner.run(admin.createDatabase(scratch))
            if create.status.isSuccess { return }
            guard attempt < 5, create.standardErrorTail.contains("already exists") else {
                try create.checked()
                return
            }
            context.log("\(scratch) reappeared (a process of the interrupted run was still creating it); retrying")
            try await context.clock.sleep(for: .seconds(1))
        }
    }

    /// On resume: the restore finished when the target carries this run's marker.
    public func probe(runID: String, sha256: String, context: StepContext) async throws -> ProbeVerdict {
        let query = admin.adminQuery(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = "
                + PostgresQuoting.literal(database))
        let result = try await context.runner.run(query)
        guard result.status.isSuccess else { return .unknown(reason: "cannot read the database comment") }
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
        admin.adminQuery(
            "COMMENT ON DATABASE \(PostgresQuoting.identifier(database)) IS "
                + PostgresQuoting.literal(marker(runID: runID, sha256: sha256)))
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

    private func terminateSessions(_ name: String) -> CommandInvocation {
        admin.adminQuery(
            // Client sessions only: an autovacuum worker is a superuser process the app's role may not end, and
            // PostgreSQL cancels it by itself for the rename.
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
                + PostgresQuoting.literal(name) + " AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
    }

    /// The destructive restore step: reads the verified backup's `path` and `sha256` from `backupStep`'s outputs;
    /// on resume its probe looks for this run's marker on the database.
    public func step(after dependencies: [StepID], backupStep: StepID, title: String) -> RunbookStep {
        RunbookStep(
            id: "database.restore",
            title: title,
            dependsOn: dependencies,
            destructive: true,
            inputs: ["database": database],
            commands: plannedCommands(),
            probe: { context in
                let backup = try context.outputs(of: backupStep)
                return try await probe(runID: context.runID, sha256: backup["sha256"] ?? "", context: context)
            }
        ) { context in
            let backup = try context.outputs(of: backupStep)
            let file = try backup.require("path", from: backupStep)
            let sha = try backup.require("sha256", from: backupStep)
            return try await restore(file: file, sha256: sha, context: context)
        }
    }
}
