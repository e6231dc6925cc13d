import ArgumentParser
import DrctlCore
import Foundation

/// `drctl backup nightly`: what the schedule runs. One process and one argv instead of a shell `&&` chain.
struct BackupNightlyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nightly",
        abstract: "Run backup create, verify, sync and prune in order, stopping at the first failure.",
        discussion: """
            What `drctl backup schedule` runs every night. Sync is skipped when the manifest names no off-site \
            store. The exit code is the failing step's. When the manifest names notification targets, a failure \
            (or a failed verification, or a backup older than the RPO) triggers them and a good night resolves \
            the PagerDuty incident (dedup key drctl/<environment>/backup).

            Examples:
              DB_PASSWORD=… drctl backup nightly -f manifests/production.yaml
            """
    )

    @OptionGroup var options: ManifestOptions

    func run() async throws {
        let manifest = try ManifestLoader().load(from: options.file)
        let common = ["-f", options.file, "-o", options.output.rawValue]
        var steps: [(name: String, command: any AsyncParsableCommand)] = [
            ("create", try BackupCreateCommand.parse(common)),
            ("verify", try BackupVerifyCommand.parse(common)),
        ]
        if manifest.backups.s3 != nil || manifest.backups.azure != nil {
            steps.append(("sync", try BackupSyncCommand.parse(common)))
        }
        steps.append(("prune", try BackupPruneCommand.parse(common)))
        let notifier = NotificationSetup.notifier(for: manifest)
        for step in steps {
            do {
                var command = step.command
                try await command.run()
            } catch {
                await notifier?.notify(Self.notification(for: error, step: step.name, manifest: manifest))
                throw error
            }
        }
        await notifier?.notify(
            Notification(
                kind: .runFinished, environment: manifest.environment, scenario: "backup",
                summary:
                    "[\(manifest.environment)] nightly backup finished (\(steps.map(\.name).joined(separator: ", ")))",
                severity: .info))
    }

    static func notification(for error: any Error, step: String, manifest: Manifest) -> DrctlCore.Notification {
        switch error {
        case BackupError.verificationFailed(let failed):
            return .backupVerificationFailed(environment: manifest.environment, failed: failed)
        case BackupError.recoveryPointObjectiveMissed(let newest, let age, let objective):
            return .backupOlderThanRPO(
                environment: manifest.environment, newestBackup: newest, age: age, rpo: objective)
        default:
            let message = error.localizedDescription
            let firstLine = message.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? message
            return Notification(
                kind: .runFailed, environment: manifest.environment, scenario: "backup",
                summary: "[\(manifest.environment)] nightly backup failed at backup \(step): \(firstLine)",
                severity: .critical, details: ["step": step, "error": String(message.prefix(2000))])
        }
    }
}
