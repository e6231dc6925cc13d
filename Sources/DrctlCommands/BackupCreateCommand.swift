import ArgumentParser
import DrctlCore

struct BackupCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Dump the database with pg_dump | gzip into daily/ and record its checksum in the catalog.",
        discussion: """
            Runs pg_dump | gzip -c into daily/<name>.partial (mode 0600) and checks every stage's exit status, \
            so a failing pg_dump never leaves a backup behind. With pigz installed (or backups.compressor: pigz) \
            the compressor is pigz -c: every core, the same .sql.gz format that plain gunzip reads. drctl writes \
            the file itself and computes its SHA-256 and size on the way (the new file is not read again; \
            drctl backup verify runs gzip -t on it later). The file must reach the size floor; then it is \
            renamed to its final name (never replacing one) and its SHA-256 goes into catalog.json. \
            The first backup of a UTC month is also kept under monthly/. The password reaches pg_dump through \
            PGPASSWORD only.

            With database.dataPlane: job the same runs inside the cluster: a Kubernetes Job from drctl's image \
            (drctl agent backup-create) dumps, checks and records the backup in its folder \
            (database.jobs.backupClaim) and uploads it with its .sha256 sidecar off-site, while drctl follows its \
            log, reads its verdict (SHA-256, bytes, pg_dump and gzip status) and deletes it. That is a journaled \
            run: drctl resume RUN_ID follows the Job an interrupted run left instead of starting a second one.

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
        if toolbox.manifest.database.dataPlane == .job {
            return try await runInJob()
        }
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

    /// `database.dataPlane: job`: a journaled run of the one step `backup.create`, whose Job `drctl resume RUN_ID`
    /// adopts after an interruption.
    private func runInJob() async throws {
        let launcher = RunLauncher(stateDir: options.stateDir, output: options.output)
        let runbook = try await ScenarioCatalog.runbook(
            .backup, manifest: options.file, stateDirectory: launcher.stateDirectory,
            options: BackupScenario.Options(createOnly: true), runner: launcher.runner, planning: dryRun)
        if dryRun {
            for step in runbook.steps where step.id == BackupScenario.createStep {
                step.commands.forEach(StandardStreams.out)
            }
            return
        }
        try await launcher.start(runbook)
    }
}
