import ArgumentParser
import DrctlCore
import Foundation

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The runbook checklist as checks: backup age, verification, off-site copies, drills, review.",
        discussion: """
            Checks, each with PASS/FAIL and its evidence: every backup the local catalog lists is in the folder \
            with its recorded size and SHA-256 (backups.files; a file whose size and modification time are what \
            its last verification saw is not read again, any other is hashed); the newest of those intact \
            backups is younger than the RPO (backups.daily); it passed verification, and when (backups.verified); it is in every off-site \
            store with the same size and a .sha256 sidecar naming the catalog's checksum (offsite.s3, \
            offsite.azure; read only); a game day that restored data (cluster-loss, db-restore, row-recovery; \
            not app-rollback) succeeded within the last 92 days, from the journal in the state folder \
            (restore.tested); the manifest's review.lastReviewed is not older than review.every \
            (runbook.reviewed). Exits 1 when any check fails.

            --prometheus FILE writes the node exporter textfile-collector format (atomically): \
            drctl_backup_newest_age_seconds, drctl_backup_newest_timestamp_seconds, \
            drctl_backup_last_verified_timestamp_seconds, drctl_gameday_last_success_timestamp_seconds, \
            drctl_status_check_passed{check=…}, drctl_status_checked_timestamp_seconds. It is written whether \
            the checks pass or not.

            Examples:
              drctl status -f manifests/production.yaml
              drctl status -f manifests/production.yaml -o json
              drctl status -f manifests/production.yaml --prometheus /var/lib/node_exporter/textfile/drctl.prom
              drctl status -f manifests/production.yaml --notify   # page when the newest backup is older than the RPO
            """
    )

    @OptionGroup var options: ManifestOptions

    @Option(help: "Also write the checks as Prometheus gauges to this file (textfile-collector format).")
    var prometheus: String?

    @Flag(help: "Tell the manifest's notification targets when the newest backup is older than the RPO.")
    var notify = false

    func run() async throws {
        let toolbox = try BackupSetup.toolbox(manifestPath: options.file, needsPassword: false)
        let runs = try? StateBackends.make(
            location: StateDirectory.resolve(flag: options.stateDir), runner: CommandRunner())
        let report = await StatusService(toolbox: toolbox, runs: runs.map { RunCatalog(backend: $0) }).check()
        if let prometheus { try report.writePrometheus(to: prometheus) }
        switch options.output {
        case .text: StandardStreams.out(report.text)
        case .json: StandardStreams.out(try report.json())
        }
        if notify, let notifier = NotificationSetup.notifier(for: toolbox.manifest),
            let notification = report.rpoNotification(rpo: toolbox.manifest.objectives.rpo)
        {
            await notifier.notify(notification)
        }
        if !report.passed { throw StatusError.checksFailed(failed: report.failed.map(\.id)) }
    }
}
