import ArgumentParser
import DrctlCore

/// `drctl rollback app`: helm history → rollback → rollout → /readyz, journaled and resumable.
struct RollbackAppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app",
        abstract: "Roll the application's helm release back to the last good revision (or --revision N).",
        discussion: """
            Reads `helm history`, picks the last revision before the current one that was deployed successfully \
            (or the one given with --revision), runs `helm rollback --wait --timeout`, waits for \
            `kubectl rollout status` and checks the manifest's readiness URL. A revision that does not exist or \
            was pruned by --history-max is refused with the history table. A release wedged in pending-install, \
            pending-upgrade or pending-rollback is refused; --recover-pending first deletes only that pending \
            revision's record (helm's secret labelled with the pending status), then rolls back.

            With --with-migrations the schema is downgraded after the app rollback (the previous release runs on \
            the newer schema first; downgrading first would break the release still running) to the alembic \
            revision the target release expects: `migration-revision=REV` in its helm description, or \
            --migration-revision. In production a backup is taken first unless --no-backup. One journal covers \
            both; `drctl resume RUN_ID` continues an interrupted rollback without rolling back twice.

            Examples:
              drctl rollback app -f manifests/production.yaml
              drctl rollback app -f manifests/production.yaml --revision 4 --timeout 10m
              drctl rollback app -f manifests/production.yaml --recover-pending
              drctl rollback app -f manifests/production.yaml --with-migrations --migration-revision 0003
              drctl plan rollback-app -f manifests/production.yaml      # the same steps, touching nothing
            """
    )

    @OptionGroup var options: ManifestOptions
    @OptionGroup var rollback: RollbackAppOptions

    func validate() throws {
        if rollback.noBackup, !rollback.withMigrations {
            throw ValidationError("--no-backup only applies with --with-migrations (the app rollback takes no backup).")
        }
    }

    func run() async throws {
        let launcher = RunLauncher(stateDir: options.stateDir, output: options.output)
        let runbook = try await ScenarioCatalog.runbook(
            .rollbackApp, manifest: options.file, stateDirectory: launcher.stateDirectory,
            options: rollback.scenarioOptions, runner: launcher.runner)
        try await launcher.start(runbook)
    }
}

/// The flags of `rollback app`, shared with `plan rollback-app`.
struct RollbackAppOptions: ParsableArguments {
    @Option(help: "The helm revision to go back to (default: the last good one before the current revision).")
    var revision: Int?

    @Flag(help: "If the release is wedged in pending-*, delete only that pending revision's record, then roll back.")
    var recoverPending = false

    @Option(help: "How long helm and kubectl rollout status may wait, e.g. 5m (default: readiness.timeout).")
    var timeout: String?

    @Flag(help: "Also downgrade the schema to the revision the target release expects (after the app rollback).")
    var withMigrations = false

    @Option(help: "The alembic revision the target release expects (with --with-migrations), if drctl recorded none.")
    var migrationRevision: String?

    @Flag(help: "Downgrade the schema in production without taking a backup first.")
    var noBackup = false

    func validate() throws {
        if let revision, revision < 1 {
            throw ValidationError("--revision must be 1 or more (a helm revision number).")
        }
        if let timeout, Duration(manifestText: timeout) == nil {
            throw ValidationError("--timeout '\(timeout)' is not \(Duration.acceptedManifestText).")
        }
        if migrationRevision != nil, !withMigrations {
            throw ValidationError("--migration-revision only applies with --with-migrations.")
        }
        if let migrationRevision, !RollbackMigrationOptions.isRevisionID(migrationRevision) {
            throw ValidationError("--migration-revision '\(migrationRevision)' is not an alembic revision id.")
        }
    }

    var scenarioOptions: AppRollbackScenario.Options {
        AppRollbackScenario.Options(
            revision: revision, recoverPending: recoverPending, timeout: timeout.flatMap { Duration(manifestText: $0) },
            withMigrations: withMigrations, migrationRevision: migrationRevision, noBackup: noBackup)
    }
}
