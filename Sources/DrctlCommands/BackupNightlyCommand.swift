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
        let manifest = try ManifestLoader().load(from: options.file)
        let launcher = RunLauncher(stateDir: options.stateDir, output: options.output)
        let runbook = try await ScenarioCatalog.runbook(
            .backup, manifest: options.file, stateDirectory: launcher.stateDirectory, flags: [:],
            runner: launcher.runner)
        // The nightly notifications are the backup's own (verification failed, older than the RPO), so the
        // launcher's generic run notifications stay off; the dedup key is the same (drctl/<environment>/backup).
        let notifier = NotificationSetup.notifier(for: manifest)
        do {
            try await launcher.start(runbook, notify: false)
        } catch {
            await notifier?.notify(Self.notification(forRunError: error, manifest: manifest))
            throw error
        }
        let steps = runbook.steps.map(\.id.rawValue).filter { $0.hasPrefix("backup.") }
        await notifier?.notify(
            Notification(
                kind: .runFinished, environment: manifest.environment, scenario: BackupScenario.runbookID,
                summary: "[\(manifest.environment)] nightly backup finished (\(steps.joined(separator: ", ")))",
                severity: .info))
    }

    /// The notification for the error a nightly run ended with. A failed `backup.verify` is told by what the
    /// catalog now records: the backups that failed, or the newest verified one older than the RPO.
    static func notification(forRunError error: any Error, manifest: Manifest, now: Date = Date())
        -> DrctlCore.Notification
    {
        switch error {
        case RunbookError.stepFailed(_, let step, let message), RunbookError.stepRefused(_, let step, let message):
            let name = String(step.rawValue.split(separator: ".").last ?? Substring(step.rawValue))
            if step == BackupScenario.verifyStep, let cause = verificationCause(manifest: manifest, now: now) {
                return notification(for: cause, step: name, manifest: manifest)
            }
            return notification(for: StepMessage(message: message), step: name, manifest: manifest)
        case RunbookError.interrupted(_, let inFlight):
            let name = inFlight.first.map { String($0.rawValue.split(separator: ".").last ?? "") } ?? "start"
            return notification(for: error, step: name, manifest: manifest)
        default:
            return notification(for: error, step: "start", manifest: manifest)
        }
    }

    /// Why `backup.verify` failed, read back from the catalog it wrote: nil when the catalog cannot say.
    static func verificationCause(manifest: Manifest, now: Date) -> BackupError? {
        guard let catalog = try? BackupFolder(manifest: manifest).catalogStore.load() else { return nil }
        let failed = catalog.records.filter { $0.verification?.result == .failed }
        if !failed.isEmpty { return .verificationFailed(failed: failed.map(\.relativePath)) }
        let newest = catalog.latest(verified: true)
        return RecoveryPointStatus(
            newestVerified: newest?.fileName, takenAt: newest?.name.timestamp, objective: manifest.objectives.rpo,
            now: now
        ).error
    }

    /// A failed step's message as an error, for the generic notification.
    struct StepMessage: Error, LocalizedError {
        var message: String
        var errorDescription: String? { message }
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
