import Foundation

/// Runbook Szenario 3, accidental deletion: pick the newest backup from before the deletion and verify it →
/// check PostgreSQL answers and has room → restore it into a temporary database, export the chosen rows, show
/// what is missing in production, import it in one transaction, verify, drop the temporary database.
public struct RecoverRowsScenario: Sendable {
    public static let runbookID = "recover-rows"

    public struct Options: ScenarioOptions {
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

        /// The rows.recover step's inputs (fingerprinted by the plan): ids and filters as JSON arrays, so commas
        /// and quotes in them survive.
        var stepInputs: [String: String] {
            var inputs = [
                "table": selection.table, "key": selection.key, "before": BackupChoice.format(before),
                "ids": Self.json(selection.ids), "where": Self.json(selection.filters.map(\.argument)),
            ]
            if selection.overwrite { inputs["overwrite"] = "yes" }
            if dryRun { inputs["dryRun"] = "yes" }
            if let backupDatabase { inputs["backupDatabase"] = backupDatabase }
            return inputs
        }

        public init(legacyParameters parameters: [String: String]) throws {
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

        enum CodingKeys: String, CodingKey {
            case table, key, ids
            case filters = "where"
            case overwrite, before, keepTemp, dryRun, backupDatabase
        }

        /// Flat: `{"table", "key", "ids": [...], "where": ["column=value"], "before", ...}`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(selection.table, forKey: .table)
            try container.encode(selection.key, forKey: .key)
            try container.encode(selection.ids, forKey: .ids)
            try container.encode(selection.filters.map(\.argument), forKey: .filters)
            try container.encode(selection.overwrite, forKey: .overwrite)
            try container.encode(before, forKey: .before)
            try container.encode(keepTemp, forKey: .keepTemp)
            try container.encode(dryRun, forKey: .dryRun)
            try container.encodeIfPresent(backupDatabase, forKey: .backupDatabase)
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            var filters: [RowSelection.Filter] = []
            for argument in try container.decodeIfPresent([String].self, forKey: .filters) ?? [] {
                guard let filter = RowSelection.Filter(argument: argument) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .filters, in: container, debugDescription: "'\(argument)' is not COLUMN=VALUE")
                }
                filters.append(filter)
            }
            self.init(
                selection: RowSelection(
                    table: try container.decode(String.self, forKey: .table),
                    key: try container.decode(String.self, forKey: .key),
                    ids: try container.decodeIfPresent([String].self, forKey: .ids) ?? [], filters: filters,
                    overwrite: try container.decodeIfPresent(Bool.self, forKey: .overwrite) ?? false),
                before: try container.decode(Date.self, forKey: .before),
                keepTemp: try container.decodeIfPresent(Bool.self, forKey: .keepTemp) ?? false,
                dryRun: try container.decodeIfPresent(Bool.self, forKey: .dryRun) ?? false,
                backupDatabase: try container.decodeIfPresent(String.self, forKey: .backupDatabase))
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

    public func runbook(parameters: RunParameters = RunParameters()) throws -> Runbook {
        let recovery = RowRecovery(
            toolbox: toolbox, selection: options.selection, keepTemp: options.keepTemp, dryRun: options.dryRun,
            workRoot: workRoot)
        // An off-site backup is streamed straight into the temporary database the rows are taken from.
        let source = RecoveryBackupSource(
            toolbox: toolbox, workRoot: workRoot, backupDatabase: options.backupDatabase,
            offsiteTarget: { recovery.temporaryName(runID: $0) },
            plannedOffsiteTarget: "\(manifest.database.name)_recover_<run>", spaceCheck: spaceCheck)
        return Runbook(
            id: Self.runbookID,
            environment: manifest.environment,
            parameters: try parameters.setting(options),
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
            inputs: options.stepInputs,
            commands: recovery.plannedCommands(),
            // The import skips keys already present, so running it again is always safe.
            probe: { _ in .notDone }
        ) { context in
            let backup = try context.outputs(of: "backup.verify")
            let sha256 = try backup.require("sha256", from: "backup.verify")
            if let loaded = backup["scratchDatabase"], !loaded.isEmpty {
                return try await recovery.run(
                    loadedDatabase: loaded, backupName: try backup.require("name", from: "backup.verify"),
                    backupPath: backup["path"], sha256: sha256, backupDatabase: backupDatabase, context: context)
            }
            return try await recovery.run(
                backupPath: try backup.require("path", from: "backup.verify"),
                backupName: backup["name"] ?? "", sha256: sha256, context: context)
        }
    }
}
