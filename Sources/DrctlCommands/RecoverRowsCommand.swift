import ArgumentParser
import DrctlCore
import Foundation

struct RecoverRowsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover-rows",
        abstract: "Recover accidentally deleted rows from a backup (runbook Szenario 3).",
        discussion: """
            Picks the newest backup taken before --before (the deletion time, UTC) and verifies it, restores it \
            into a uniquely named temporary database (never swapped in), checks the table and columns exist, \
            exports the chosen rows with \\copy, shows which are missing in production and which are there \
            already, imports the missing ones in one transaction (--overwrite also replaces the values of those \
            present), verifies they are there, and drops the temporary database — also after a failure, unless \
            --keep-temp. Ids and --where values are passed as quoted literals and names as quoted identifiers, \
            so an id like '; DROP TABLE x; -- is just an id. Running it twice brings nothing back twice.

            Examples:
              drctl recover-rows -f manifests/production.yaml --table documents_header --key id --ids 42,43 \\
                --before '2025-10-08 14:30'
              drctl recover-rows -f manifests/production.yaml --table documents_header --key id \\
                --where customer_id=1007 --before 2025-10-08T14:30:00Z --dry-run
              drctl plan recover-rows -f manifests/production.yaml --table documents_header --ids 42 --before 2025-10-08
            """
    )

    @OptionGroup var options: ManifestOptions
    @OptionGroup var backupChoice: BackupChoiceOptions
    @OptionGroup var recoverRows: RecoverRowsOptions

    func validate() throws {
        try recoverRows.validate(backupChoice: backupChoice)
    }

    func run() async throws {
        let launcher = RunLauncher(stateDir: options.stateDir, output: options.output)
        let runbook = try await ScenarioCatalog.runbook(
            .recoverRows, manifest: options.file, stateDirectory: launcher.stateDirectory,
            options: try recoverRows.scenarioOptions(backupChoice), runner: launcher.runner)
        try await launcher.start(runbook)
    }
}

/// The flags of `recover-rows`, shared with `plan recover-rows`.
struct RecoverRowsOptions: ParsableArguments {
    @Option(help: "The table the rows were deleted from, e.g. documents_header or schema.table.")
    var table: String?

    @Option(help: "The key column that identifies the rows.")
    var key: String = "id"

    @Option(
        parsing: .singleValue,
        help: "Keys of the rows to bring back, comma-separated (repeat the flag for a key that holds a comma).")
    var ids: [String] = []

    @Option(
        name: .customLong("where"), parsing: .singleValue,
        help: "Only rows whose COLUMN equals VALUE (compared as text); repeatable, all must hold.")
    var filters: [String] = []

    @Flag(help: "Replace the values of rows present in production too (default: skip them).")
    var overwrite = false

    @Flag(help: "Keep the temporary database for inspection (it is dropped otherwise, also after a failure).")
    var keepTemp = false

    @Flag(help: "Restore and compare, show what would be inserted, import nothing.")
    var dryRun = false

    /// `--ids A,B --ids 'C,D'`: commas split unless the flag was given once per key.
    var keys: [String] {
        let parts = ids.count == 1 ? ids[0].split(separator: ",").map(String.init) : ids
        return parts.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func validate(backupChoice: BackupChoiceOptions) throws {
        guard let table, !table.isEmpty else {
            throw ValidationError("--table is required, e.g. --table documents_header.")
        }
        guard !keys.isEmpty || !filters.isEmpty else {
            throw ValidationError("say which rows: --ids 42,43 and/or --where COLUMN=VALUE.")
        }
        for filter in filters where RowSelection.Filter(argument: filter) == nil {
            throw ValidationError("--where '\(filter)' is not COLUMN=VALUE, e.g. --where customer_id=1007.")
        }
        guard backupChoice.backup == nil else {
            throw ValidationError(
                "recover-rows picks the backup by the deletion time: give --before TIME (UTC) instead of --backup.")
        }
        guard backupChoice.before != nil else {
            throw ValidationError(
                "--before TIME is required: when the rows were deleted, in UTC (e.g. '2025-10-08 14:30').")
        }
    }

    /// The scenario's options; `validate(backupChoice:)` has checked the table and the time.
    func scenarioOptions(_ backupChoice: BackupChoiceOptions) throws -> RecoverRowsScenario.Options {
        try validate(backupChoice: backupChoice)
        guard let table, let before = backupChoice.beforeTime else {
            throw ValidationError("--table and --before TIME are required.")
        }
        let selection = RowSelection(
            table: table, key: key, ids: keys, filters: filters.compactMap(RowSelection.Filter.init(argument:)),
            overwrite: overwrite)
        return RecoverRowsScenario.Options(selection: selection, before: before, keepTemp: keepTemp, dryRun: dryRun)
    }
}
