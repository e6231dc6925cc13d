import ArgumentParser
import DrctlCore
import Foundation

struct RebuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Rebuild everything after complete cluster loss (runbook Szenario 2).",
        discussion: """
            Runs the manifest's provision hooks, waits for the Kubernetes API, installs the PostgreSQL release, \
            fetches the newest off-site backup and verifies it (gzip integrity, size floor, recorded SHA-256), \
            restores it into a new database that is then swapped in, upgrades the app release to its replica \
            count (its chart's hooks run now, against the restored database), waits for its rollout and checks \
            the readiness URL. Beside the PostgreSQL release: the backup is chosen and downloaded into the run's \
            scratch folder, its size and SHA-256 checked before any database exists (database.dataPlane: local; a \
            Job streams it once the database is up). Beside the PostgreSQL release and the load: the app release is \
            installed at 0 replicas without its hooks (nothing of the app runs before the swap), and the archive \
            files are synced.

            The password reaches helm through a 0600 values file and psql through PGPASSWORD, never argv. \
            Every step is journaled: if the run is interrupted, `drctl resume RUN_ID` continues it. \
            `drctl plan rebuild -f MANIFEST` prints the same steps and command lines without running anything.

            Examples:
              DB_PASSWORD=… drctl rebuild -f manifests/production.yaml
              drctl rebuild -f manifests/sandbox.yaml -o json    # JSON events
              drctl rebuild -f manifests/production.yaml \\
                --backup valeo_erp_backup_20251009_020000.sql.gz
            """
    )

    @OptionGroup var options: ManifestOptions
    @OptionGroup var backupChoice: BackupChoiceOptions
    @OptionGroup var rebuild: RebuildOptions

    func run() async throws {
        let launcher = RunLauncher(stateDir: options.stateDir, output: options.output)
        let runbook = try await ScenarioCatalog.runbook(
            .rebuild, manifest: options.file, stateDirectory: launcher.stateDirectory,
            options: rebuild.scenarioOptions(backupChoice), runner: launcher.runner)
        try await launcher.start(runbook)
    }
}

/// The flags of `rebuild`, shared with `plan rebuild` (the backup is picked by `BackupChoiceOptions`).
struct RebuildOptions: ParsableArguments {
    @Option(help: "How long helm and the rollout may wait for a release to become ready (e.g. 10m).")
    var releaseTimeout: String = "10m"

    func validate() throws {
        guard Duration(manifestText: releaseTimeout) != nil else {
            throw ValidationError("--release-timeout '\(releaseTimeout)' is not a duration; write e.g. 90s, 10m or 1h.")
        }
    }

    func scenarioOptions(_ backupChoice: BackupChoiceOptions) -> RebuildScenario.Options {
        RebuildScenario.Options(
            backup: backupChoice.backup, before: backupChoice.beforeTime,
            releaseTimeout: Duration(manifestText: releaseTimeout) ?? .seconds(600))
    }
}
