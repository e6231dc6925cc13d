import Foundation

/// What rows to bring back: one table, its key column, the keys, optional `column = value` filters, and what
/// to do with keys that exist in production already.
public struct RowSelection: Sendable, Hashable {
    public var table: String
    public var key: String
    public var ids: [String]
    /// `--where COLUMN=VALUE`, compared as text; all must hold.
    public var filters: [Filter]
    /// Replace the production row's values with the backup's for keys present in both (default: skip them).
    public var overwrite: Bool

    public struct Filter: Sendable, Hashable {
        public var column: String
        public var value: String

        public init(column: String, value: String) {
            self.column = column
            self.value = value
        }

        /// `COLUMN=VALUE`, split at the first `=`; nil without one or with an empty column.
        public init?(argument: String) {
            guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else { return nil }
            self.init(column: String(argument[..<equals]), value: String(argument[argument.index(after: equals)...]))
        }

        public var argument: String { column + "=" + value }
    }

    public init(table: String, key: String, ids: [String], filters: [Filter] = [], overwrite: Bool = false) {
        self.table = table
        self.key = key
        self.ids = ids
        self.filters = filters
        self.overwrite = overwrite
    }

    /// `schema` and `name`; `public` when the table is not qualified.
    public var qualified: (schema: String, name: String) {
        let parts = table.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        return parts.count == 2 ? (parts[0], parts[1]) : ("public", table)
    }

    var tableSQL: String {
        PostgresQuoting.identifier(qualified.schema) + "." + PostgresQuoting.identifier(qualified.name)
    }

    /// The row condition; every value a literal, every name an identifier, compared as text so the key's type
    /// does not matter.
    func condition(alias: String? = nil) -> String {
        let prefix = alias.map { $0 + "." } ?? ""
        var parts: [String] = []
        if !ids.isEmpty {
            parts.append(
                prefix + PostgresQuoting.identifier(key) + "::text IN ("
                    + ids.map(PostgresQuoting.literal).joined(separator: ", ") + ")")
        }
        for filter in filters {
            parts.append(
                prefix + PostgresQuoting.identifier(filter.column) + "::text = " + PostgresQuoting.literal(filter.value)
            )
        }
        return parts.isEmpty ? "false" : parts.joined(separator: " AND ")
    }

    /// The keys (as text) of the selected rows.
    func keysQuery() -> String {
        "SELECT \(PostgresQuoting.identifier(key))::text FROM \(tableSQL) WHERE \(condition()) ORDER BY 1"
    }

    func exportQuery(columns: [String]) -> String {
        "SELECT \(columnList(columns)) FROM \(tableSQL) WHERE \(condition()) ORDER BY \(PostgresQuoting.identifier(key))"
    }

    func columnList(_ columns: [String]) -> String { columns.map(PostgresQuoting.identifier).joined(separator: ", ") }

    /// The psql script of the import, run with `--single-transaction` and the CSV on standard input: a staging
    /// table shaped like the chosen columns, `\copy … FROM pstdin`, then (with overwrite) an UPDATE of the keys
    /// present in both, and an INSERT of the keys missing in production. Running it twice inserts nothing twice.
    func importScript(columns: [String]) -> String {
        let list = columnList(columns)
        let key = PostgresQuoting.identifier(self.key)
        var lines = [
            "CREATE TEMP TABLE drctl_recovered AS SELECT \(list) FROM \(tableSQL) WITH NO DATA;",
            "\\copy drctl_recovered (\(list)) FROM pstdin WITH CSV HEADER",
        ]
        let others = columns.filter { $0 != self.key }
        if overwrite, !others.isEmpty {
            let assignments = others.map { "\(PostgresQuoting.identifier($0)) = s.\(PostgresQuoting.identifier($0))" }
            lines.append(
                "UPDATE \(tableSQL) AS p SET \(assignments.joined(separator: ", ")) FROM drctl_recovered AS s"
                    + " WHERE p.\(key) = s.\(key);")
        }
        lines.append(
            "INSERT INTO \(tableSQL) (\(list)) SELECT \(columns.map { "s." + PostgresQuoting.identifier($0) }.joined(separator: ", "))"
                + " FROM drctl_recovered AS s WHERE NOT EXISTS (SELECT 1 FROM \(tableSQL) AS p WHERE p.\(key) = s.\(key));"
        )
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Runbook Szenario 3's work after the backup is verified: restore it into a uniquely named temporary database
/// (never swapped in), check the table and columns exist there, export the chosen rows with `\copy`, show which
/// are missing in production, import them in one transaction, verify they are there, and drop the temporary
/// database — also after a failure, unless asked to keep it.
public struct RowRecovery: Sendable {
    public var toolbox: ScenarioToolbox
    public var selection: RowSelection
    public var keepTemp: Bool
    public var dryRun: Bool
    public var workRoot: String

    public init(toolbox: ScenarioToolbox, selection: RowSelection, keepTemp: Bool, dryRun: Bool, workRoot: String) {
        self.toolbox = toolbox
        self.selection = selection
        self.keepTemp = keepTemp
        self.dryRun = dryRun
        self.workRoot = workRoot
    }

    private var database: String { toolbox.manifest.database.name }
    private var production: Postgres { toolbox.postgres }

    /// `<db>_recover_<8 hex of the run id>`: unique per run, under PostgreSQL's 63-byte limit.
    public func temporaryName(runID: String) -> String {
        "\(database.prefix(40))_recover_\(Fingerprint.of(runID).prefix(8))"
    }

    private func on(_ name: String) -> Postgres {
        var postgres = production
        postgres.connection = postgres.connection.with(database: name)
        return postgres
    }

    public func plannedCommands() -> [String] {
        let temp = "\(database)_recover_<run>"
        let columns = ["<columns of \(selection.table)>"]
        // The load is DatabaseRestorer's (`load`), as the run does it: one pass, psql in its restricted mode.
        let restorer = DatabaseRestorer(toolbox: toolbox)
        var lines =
            ["(a local backup:)"]
            + (toolbox.manifest.backups.format == .custom
                ? restorer.plannedArchiveLoadCommands(file: "<verified backup>.dump", into: temp)
                : restorer.plannedLoadCommands(source: .file("<verified backup>"), into: temp))
        lines += [
            "(an off-site backup was loaded into \(temp) and verified by backup.verify: from here on)",
            on(temp).query(columnsQuery()).redactedCommandLine,
            on(temp).query(selection.keysQuery()).redactedCommandLine,
            ((try? on(temp).copyOut(query: selection.exportQuery(columns: columns)))?.redactedCommandLine ?? "")
                + " > $RUN_DIR/rows.csv",
            production.query(selection.keysQuery()).redactedCommandLine,
        ]
        if dryRun {
            lines.append("(--dry-run: nothing is imported)")
        } else {
            var importing = production.runScript(file: "$RUN_DIR/import.sql", singleTransaction: true)
            importing.standardInput = .file("$RUN_DIR/rows.csv")
            lines.append(importing.redactedCommandLine)
            lines += selection.importScript(columns: columns).split(separator: "\n").map { "    import.sql: " + $0 }
            lines.append(production.query(selection.keysQuery()).redactedCommandLine)
        }
        lines.append(
            (keepTemp ? "(--keep-temp: kept) " : "") + production.dropDatabase(temp, force: true).redactedCommandLine)
        return lines
    }

    func columnsQuery() -> String {
        let (schema, name) = selection.qualified
        return "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            + PostgresQuoting.literal(schema) + " AND table_name = " + PostgresQuoting.literal(name)
            + " ORDER BY ordinal_position"
    }

    /// Recovers the rows from the backup that `backup.verify` loaded into the temporary database and verified.
    /// When that database is gone (a resumed run whose earlier attempt dropped it), the same backup is loaded and
    /// verified again: from `backupPath` when it is a local backup, else from off-site.
    public func run(
        loadedDatabase: String, backupName: String, backupPath: String? = nil, sha256: String,
        backupDatabase: String? = nil, context: StepContext
    ) async throws -> StepOutputs {
        let exists = try await context.runner.runChecked(production.databaseExists(loadedDatabase))
        if !Postgres.parseExists(exists.output) {
            context.log("the temporary database \(loadedDatabase) is gone; loading \(backupName) into it again")
            if let backupPath, !backupPath.isEmpty {
                try await DatabaseRestorer(toolbox: toolbox).load(
                    file: backupPath, sha256: sha256, into: loadedDatabase, context: context)
            } else {
                _ = try await OffsiteBackupFetcher(
                    toolbox: toolbox, workRoot: workRoot, backupDatabaseName: backupDatabase
                ).stream(
                    backup: backupName, restorer: DatabaseRestorer(toolbox: toolbox), into: loadedDatabase,
                    context: context)
            }
        }
        return try await run(backupPath: nil, backupName: backupName, sha256: sha256, context: context)
    }

    /// Restores `backupPath` into the temporary database (nil: it holds the backup already) and recovers the rows.
    public func run(backupPath: String?, backupName: String, sha256: String, context: StepContext)
        async throws -> StepOutputs
    {
        let temp = temporaryName(runID: context.runID)
        var outputs: StepOutputs = ["temporaryDatabase": temp]
        do {
            if let backupPath {
                try await DatabaseRestorer(toolbox: toolbox).load(
                    file: backupPath, sha256: sha256, into: temp, context: context)
            }
            let recovered = try await recoverRows(from: temp, backupName: backupName, context: context)
            outputs.values.merge(recovered.values) { $1 }
        } catch {
            if keepTemp {
                context.log("kept the temporary database \(temp) (--keep-temp); drop it when done")
            } else {
                await dropTemporary(temp, context: context)
            }
            throw error
        }
        if keepTemp {
            context.log("kept the temporary database \(temp) (--keep-temp); drop it when done")
            outputs["kept"] = temp
        } else if await !dropTemporary(temp, context: context) {
            outputs["notDropped"] = temp
        }
        return outputs
    }

    /// Drops the temporary database (retried while PostgreSQL cannot end a session on it yet). The rows are
    /// recovered by then, so a temporary database that stays is logged with the statement that removes it, never
    /// an error that would hide the recovery.
    @discardableResult
    private func dropTemporary(_ temp: String, context: StepContext) async -> Bool {
        do {
            try await production.dropDatabase(temp, context: context)
            return true
        } catch {
            context.log(
                "could not drop the temporary database \(temp) (\(error.localizedDescription)); drop it with:"
                    + " DROP DATABASE \(PostgresQuoting.identifier(temp)) WITH (FORCE)")
            return false
        }
    }

    private func recoverRows(from temp: String, backupName: String, context: StepContext) async throws -> StepOutputs {
        let runner = context.runner
        let columnRows = try await runner.runChecked(on(temp).query(columnsQuery())).output
        let columns = Postgres.parseRows(columnRows).compactMap(\.first)
        guard !columns.isEmpty else {
            let tables = try await runner.runChecked(
                on(temp).query(
                    "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema NOT IN"
                        + " ('pg_catalog', 'information_schema') ORDER BY 1")
            ).output
            throw RecoveryError.unknownTable(
                table: selection.table, database: database, tables: Postgres.parseRows(tables).compactMap(\.first))
        }
        let unknown = ([selection.key] + selection.filters.map(\.column)).filter { !columns.contains($0) }
        guard unknown.isEmpty else {
            throw RecoveryError.unknownColumns(table: selection.table, unknown: unknown, columns: columns)
        }
        let inBackup = try await keys(on: on(temp), runner: runner)
        let missingInBackup = selection.ids.filter { !inBackup.contains($0) }
        guard missingInBackup.isEmpty, !inBackup.isEmpty else {
            throw RecoveryError.rowsNotInBackup(
                table: selection.table, keys: missingInBackup.isEmpty ? selection.ids : missingInBackup,
                backup: backupName)
        }
        let folder = try RunScratch.folder(workRoot: workRoot, runID: context.runID)
        let csv = folder + "/rows.csv"
        // Created 0600 before psql writes rows into it; a folder drctl cannot write to is the scratch folder's error.
        guard FileManager.default.createFile(atPath: csv, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw BackupError.fileNotWritten(path: csv, reason: "cannot create the export file for the rows")
        }
        let export = try on(temp).copyOut(query: selection.exportQuery(columns: columns))
        try await runner.runChecked(CommandPipeline([export], output: .file(csv)))
        let present = try await keys(on: production, runner: runner)
        let toInsert = inBackup.filter { !present.contains($0) }
        let existing = inBackup.filter { present.contains($0) }
        context.log(
            "\(selection.table): \(inBackup.count) row(s) in the backup; missing in production (to insert): "
                + (toInsert.isEmpty ? "none" : toInsert.joined(separator: ", "))
                + "; already in production ("
                + (selection.overwrite ? "overwritten" : "skipped") + "): "
                + (existing.isEmpty ? "none" : existing.joined(separator: ", ")))
        var outputs: StepOutputs = [
            "table": selection.table, "inBackup": String(inBackup.count),
            "toInsert": toInsert.joined(separator: ","), "alreadyPresent": existing.joined(separator: ","),
        ]
        if dryRun {
            outputs["dryRun"] = "yes"
            return outputs
        }
        let script = folder + "/import.sql"
        try RunScratch.writePrivate(selection.importScript(columns: columns), to: script)
        var importing = production.runScript(file: script, singleTransaction: true)
        importing.standardInput = .file(csv)
        try await runner.runChecked(importing)
        let after = try await keys(on: production, runner: runner)
        let stillMissing = inBackup.filter { !after.contains($0) }
        guard stillMissing.isEmpty else {
            throw RecoveryError.rowsMissingAfterImport(table: selection.table, keys: stillMissing)
        }
        outputs["inserted"] = String(toInsert.count)
        outputs["overwritten"] = selection.overwrite ? String(existing.count) : "0"
        context.log("\(selection.table): inserted \(toInsert.count) row(s); all \(inBackup.count) present now")
        return outputs
    }

    private func keys(on postgres: Postgres, runner: any CommandRunning) async throws -> [String] {
        // Whole lines: a key may hold `|`, which `parseRows` would split.
        try await runner.runChecked(postgres.query(selection.keysQuery())).output.split(separator: "\n").map(
            String.init)
    }
}
