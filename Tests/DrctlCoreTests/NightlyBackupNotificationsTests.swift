import Foundation
import Synchronization
import Testing

@testable import DrctlCore

/// What the nightly backup tells the notification targets, for each way a night can end.
@Suite struct NightlyBackupNotificationsTests {
    static let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    @Test func nightlyFailuresBecomeTheMatchingNotification() throws {
        let manifest = try ManifestLoader(environment: [:]).load(
            from: Self.projectRoot + "/manifests/production.yaml")
        let verification = NightlyBackupNotifications.notification(
            for: BackupError.verificationFailed(failed: ["daily/a.sql.gz"]), step: "verify", manifest: manifest)
        #expect(verification.kind == .backupVerificationFailed)
        #expect(verification.dedupKey == "drctl/production/backup")
        let stale = NightlyBackupNotifications.notification(
            for: BackupError.recoveryPointObjectiveMissed(
                newest: "a.sql.gz", age: .seconds(30 * 3600), objective: .seconds(86_400)),
            step: "verify", manifest: manifest)
        #expect(stale.kind == .backupOlderThanRPO)
        #expect(stale.summary == "[production] newest backup is 30h old, older than the RPO of 24h")
        let other = NightlyBackupNotifications.notification(
            for: BackupError.dumpFailed(database: "valeo_erp", detail: "x"), step: "create", manifest: manifest)
        #expect(other.kind == .runFailed)
        #expect(other.summary.hasPrefix("[production] nightly backup failed at backup create: "))
        #expect(!other.summary.contains("\n"))
    }

    @Test func aFailedNightlyRunIsToldByItsStep() throws {
        let manifest = try ManifestLoader(environment: [:]).load(
            from: Self.projectRoot + "/manifests/production.yaml")
        let dump = NightlyBackupNotifications.forRunError(
            RunbookError.stepFailed(runID: "r1", step: "backup.create", message: "pg_dump failed\nmore"),
            manifest: manifest)
        #expect(dump.kind == .runFailed)
        #expect(dump.summary == "[production] nightly backup failed at backup create: pg_dump failed")
        // The catalog (here: none at all) says why verify failed: no verified backup within the RPO.
        let verify = NightlyBackupNotifications.forRunError(
            RunbookError.stepRefused(runID: "r1", step: "backup.verify", message: "x"),
            manifest: manifest)
        #expect(verify.kind == .backupOlderThanRPO)
        #expect(verify.dedupKey == "drctl/production/backup")
    }

    @Test("a night is told once: its error's notification (and the error goes on), or that it finished")
    func aNightIsToldOnceHowItEnded() async throws {
        let manifest = try ManifestLoader(environment: [:]).load(
            from: Self.projectRoot + "/manifests/production.yaml")
        let runbook = Runbook(
            id: BackupScenario.runbookID, environment: "production", manifestFingerprint: "m",
            steps: [RunbookStep(id: "backup.create", title: "dump") { _ in [:] }])
        let told = Mutex<[DrctlCore.Notification]>([])
        let failure = RunbookError.stepFailed(runID: "r1", step: "backup.create", message: "pg_dump failed")
        await #expect(throws: RunbookError.self) {
            try await NightlyBackupNotifications.conduct(
                runbook, manifest: manifest, tell: { notification in told.withLock { $0.append(notification) } },
                run: { throw failure })
        }
        #expect(told.withLock { $0.map(\.kind) } == [.runFailed])
        #expect(
            told.withLock { $0.first?.summary } == "[production] nightly backup failed at backup create: pg_dump failed"
        )
        told.withLock { $0 = [] }
        try await NightlyBackupNotifications.conduct(
            runbook, manifest: manifest, tell: { notification in told.withLock { $0.append(notification) } },
            run: {})
        #expect(told.withLock { $0.map(\.kind) } == [.runFinished])
        #expect(told.withLock { $0.first?.summary } == "[production] nightly backup finished (backup.create)")
    }
}
