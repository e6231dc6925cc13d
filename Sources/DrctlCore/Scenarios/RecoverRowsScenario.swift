import Foundation

/// Runbook Szenario 3, accidental deletion: pick the newest backup from before the deletion and verify it →
/// check PostgreSQL answers and has room → restore it into a temporary database, export the chosen rows, show
/// what is missing in production, import it in one transaction, verify, drop the temporary database.
public struct RecoverRowsScenario: Sendable {
    public static let runbookID = "recover-rows"

    public struct Options: Sendable, Hashable {
        public var selection: RowSelection
        public var before: Date
        public var keepTemp: Bool
        public var dryRun: Bool
        /// Recover from another database's backups (a game day: production's into staging's); nil: the manifest's.
        public var backupDatabase: String?

        public init(
            selection: RowSelection, before: Date, keepTemp: Bool = false, dryRun: Bool = false,
            backupDatabase: String? = nil
        ) {
            self.selection = selection
            self.before = before
            self.keepTemp = keepTemp
            self.dryRun = dryRun
            self.backupDatabase = backupDatabase
        }

        /// Journaled: ids travel as a JSON array, so commas and quotes in them survive.
        public var parameters: [String: String] {
            var parameters = [
                "table": selection.table, "key": selection.key, "before": BackupChoice.format(before),
                "ids": Self.json(selection.ids), "where": Self.json(selection.filters.map(\.argument)),
            ]
            if selection.overwrite { parameters["overwrite"] = "yes" }
            if keepTemp { parameters["keepTemp"] = "yes" }
            if dryRun { parameters["dryRun"] = "yes" }
            if let backupDatabase { parameters["backupDatabase"] = backupDatabase }
            return parameters
        }

        public init(parameters: [String: String]) throws {
            guard let table = parameters["table"], !table.isEmpty, let key = parameters["key"], !key.isEmpty else {
                throw RunbookError.missingOutput(step: "run-started", key: "parameters table and key")
            }
            guard let text = parameters["before"], let before = BackupChoice.parseTime(text) else {
                throw RecoveryError.invalidTime(parameters["before"] ?? "")
            }
            let filters = Self.array(parameters["where"]).compactMap(RowSelection.Filter.init(argument:))
            self.init(
                selection: RowSelection(
                    table: table, key: key, ids: Self.array(parameters["ids"]), filters: filters,
                    overwrite: parameters["overwrite"] == "yes"),
                before: before, keepTemp: parameters["keepTemp"] == "yes", dryRun: parameters["dryRun"] == "yes",
                backupDatabase: parameters["backupDatabase"])
        }

        static func json(_ values: [String]) -> String {
            (try? JSONEncoder().encode(values)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        }

        static func array(_ text: String?) -> [String] {
            guard let text, let values = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else {
                return []
            }
            return values
        }
    }

    public var toolbox: ScenarioToolbox
    public var options: Options
    public var workRoot: String
    public var spaceCheck: DatabaseSpaceCheck

    public init(toolbox: ScenarioToolbox, options: Options, workRoot: String, spaceCheck: DatabaseSpaceCheck? = nil) {
        self.toolbox = toolbox
        self.options = options
        self.workRoot = workRoot
        self.spaceCheck =
            spaceCheck ?? DatabaseSpaceCheck(freeSpace: DatabaseSpaceCheck.live(postgres: toolbox.postgres))
    }

    private var manifest: Manifest { toolbox.manifest }

    public func runbook(parameters: [String: String] = [:]) throws -> Runbook {
        let recovery = RowRecovery(
            toolbox: toolbox, selection: options.selection, keepTemp: options.keepTemp, dryRun: options.dryRun,
            workRoot: workRoot)
        // An off-site backup is streamed straight into the temporary database the rows are taken from.
        let source = RecoveryBackupSource(
            toolbox: toolbox, workRoot: workRoot, backupDatabase: options.backupDatabase,
            offsiteTarget: { recovery.temporaryName(runID: $0) },
            plannedOffsiteTarget: "\(manifest.database.name)_recover_<run>")
        return Runbook(
            id: Self.runbookID,
            environment: manifest.environment,
            parameters: parameters.merging(options.parameters) { _, new in new },
            manifestFingerprint: Fingerprint.of(try manifest.canonicalEncoding()),
            rtoBudget: manifest.objectives.rto,
            steps: [
                source.verifyStep(.before(options.before)),
                spaceCheck.step(toolbox: toolbox, what: "the temporary database"), recoverStep(),
                RunScratch.cleanupStep(workRoot: workRoot, after: ["rows.recover"]),
            ],
            manifest: manifest
        )
    }

    private func recoverStep() -> RunbookStep {
        let recovery = RowRecovery(
            toolbox: toolbox, selection: options.selection, keepTemp: options.keepTemp, dryRun: options.dryRun,
            workRoot: workRoot)
        let selection = options.selection
        let what = selection.ids.isEmpty ? "rows" : "\(selection.ids.count) row(s)"
        let backupDatabase = options.backupDatabase
        return RunbookStep(
            id: "rows.recover",
            title: (options.dryRun ? "Show (--dry-run) " : "Recover ") + "\(what) of \(selection.table) by"
                + " \(selection.key) through a temporary database"
                + (options.dryRun
                    ? ""
                    : " (one transaction; keys present in production are "
                        + (selection.overwrite ? "overwritten)" : "skipped)")),
            dependsOn: ["database.space"],
            destructive: !options.dryRun,
            inputs: options.parameters.filter { $0.key != "keepTemp" },
            commands: recovery.plannedCommands(),
            // The import skips keys already present, so running it again is always safe.
            probe: { _ in .notDone }
        ) { context in
            let backup = try context.outputs(of: "backup.verify")
            if let loaded = backup["scratchDatabase"], !loaded.isEmpty {
                return try await recovery.run(
                    loadedDatabase: loaded, backupName: try backup.require("name", from: "backup.verify"),
                    backupDatabase: backupDatabase, context: context)
            }
            return try await recovery.run(
                backupPath: try backup.require("path", from: "backup.verify"),
                backupName: backup["name"] ?? "", context: context)
        }
    }
}
