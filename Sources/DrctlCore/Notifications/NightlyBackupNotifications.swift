import Foundation

/// What the nightly backup (`drctl backup nightly`, the `backup` runbook) tells the manifest's notification
/// targets: its own kinds (a failed verification, a backup older than the RPO) rather than the generic run ones,
/// under the dedup key drctl/<environment>/backup, so a good night resolves the incident a bad one opened.
public enum NightlyBackupNotifications {
    /// Runs a night (`run` starts the runbook) and tells how it ended, once: the notification for the error it
    /// ended with (which is then thrown on), or that it finished. The run's generic notifications stay off: the
    /// dedup key is the same (drctl/<environment>/backup).
    public static func conduct(
        _ runbook: Runbook, manifest: Manifest, tell: @Sendable (Notification) async -> Void,
        run: () async throws -> Void
    ) async throws {
        do {
            try await run()
        } catch {
            await tell(forRunError(error, manifest: manifest))
            throw error
        }
        await tell(finished(runbook, manifest: manifest))
    }

    /// A night that finished: the steps it ran.
    public static func finished(_ runbook: Runbook, manifest: Manifest) -> Notification {
        let steps = runbook.steps.map(\.id.rawValue).filter { $0.hasPrefix("backup.") }
        return Notification(
            kind: .runFinished, environment: manifest.environment, scenario: BackupScenario.runbookID,
            summary: "[\(manifest.environment)] nightly backup finished (\(steps.joined(separator: ", ")))",
            severity: .info)
    }

    /// The notification for the error a nightly run ended with. A failed `backup.verify` is told by what the
    /// catalog now records: the backups that failed, or the newest verified one older than the RPO.
    public static func forRunError(_ error: any Error, manifest: Manifest, now: Date = Date()) -> Notification {
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
    private struct StepMessage: Error, LocalizedError {
        var message: String
        var errorDescription: String? { message }
    }

    static func notification(for error: any Error, step: String, manifest: Manifest) -> Notification {
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
