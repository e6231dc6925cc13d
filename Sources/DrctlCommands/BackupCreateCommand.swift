import ArgumentParser
import DrctlCore

struct BackupCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Dump the database with pg_dump | gzip into daily/ and record its checksum in the catalog.",
        discussion: """
            Runs pg_dump | gzip -c into daily/<name>.partial (mode 0600) and checks every stage's exit status, \
            so a failing pg_dump never leaves a backup behind. With pigz installed (or backups.compressor: pigz) \
            the compressor is pigz -c: every core, the same .sql.gz format that plain gunzip reads. The new file must pass gzip -t and the size floor; \
            then it is renamed to its final name (never replacing one) and its SHA-256 goes into catalog.json. \
            The first backup of a UTC month is also kept under monthly/. The password reaches pg_dump through \
            PGPASSWORD only.

            Examples:
              DB_PASSWORD=… drctl backup create -f manifests/production.yaml
              drctl backup create -f manifests/production.yaml --dry-run     # print the pipeline, run nothing
            """
    )

    @OptionGroup var options: ManifestOptions

    @Flag(help: "Print the pipeline that would run (password redacted) and touch nothing.")
    var dryRun = false

    func run() async throws {
        let toolbox = try BackupSetup.toolbox(manifestPath: options.file, needsPassword: !dryRun)
        let creator = BackupCreator(toolbox: toolbox)
        if dryRun {
            StandardStreams.out(creator.pipeline(partialPath: creator.plannedPartialPath).redactedCommandLine)
            return
        }
        let creation = try await creator.create()
        for warning in creation.warnings { StandardStreams.err("warning: " + warning) }
        var text =
            "created \(creation.path) (\(BackupText.size(creation.daily.size)), sha256 \(creation.daily.sha256))"
        if let monthly = creation.monthly { text += "\nkept as the monthly backup for \(monthly.name.month)" }
        try BackupSetup.print(creation, text: text, format: options.output)
    }
}
