import ArgumentParser
import DrctlCore
import Foundation

/// `drctl backup nightly`: what the schedule runs. One process and one argv instead of a shell `&&` chain.
struct BackupNightlyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nightly",
        abstract: "Run backup create, verify, sync and prune as one journaled run, stopping at the first failure.",
        discussion: """
            What `drctl backup schedule` runs every night: the `backup` runbook (steps backup.create, \
            backup.verify, backup.sync, backup.prune), journaled and locked per environment like every scenario. \
            Sync is left out when the manifest names no off-site store. `drctl plan backup -f MANIFEST` prints \
            its command lines; `drctl resume RUN_ID` continues an interrupted night without a second dump once \
            backup.create completed. Exit 3 when a backup fails its checks or the RPO is missed, 1 for other \
            failures, 5 while another run holds the lock. When the manifest names notification targets, a failure \
            (or a failed verification, or a backup older than the RPO) triggers them and a good night resolves \
            the PagerDuty incident (dedup key drctl/<environment>/backup).

            Examples:
              DB_PASSWORD=… drctl backup nightly -f manifests/production.yaml
              drctl plan backup -f manifests/production.yaml
              drctl runs list
            """
    )

    @OptionGroup var options: ManifestOptions

    func run() async throws {
        let launcher = RunLauncher(stateDir: options.stateDir, output: options.output)
        let runbook = try await ScenarioCatalog.runbook(
            .backup, manifest: options.file, stateDirectory: launcher.stateDirectory, options: BackupScenario.Options(),
            runner: launcher.runner)
        guard let manifest = runbook.manifest else { return try await launcher.start(runbook) }
        // The nightly notifications are the backup's own (verification failed, older than the RPO).
        let notifier = NotificationSetup.notifier(for: manifest)
        try await NightlyBackupNotifications.conduct(
            runbook, manifest: manifest, tell: { await notifier?.notify($0) },
            run: { try await launcher.start(runbook, notify: false) })
    }
}
