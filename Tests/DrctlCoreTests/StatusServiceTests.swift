import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl status` on catalogs written by the backup code; no off-site store, an empty journal.
@Suite struct StatusServiceTests {
    private func service(folder: TemporaryFolder, clock: ManualClock, review: Manifest.Review?) throws
        -> StatusService
    {
        let sandbox = try ManifestSandbox()
        var manifest = try ManifestLoader(environment: [:]).load(
            from: try sandbox.writeManifest(ManifestFixtures.valid))
        manifest.backups.local = ManifestPath(written: folder.path, absolute: folder.path)
        manifest.review = review
        return StatusService(
            toolbox: ScenarioToolbox(manifest: manifest, databasePassword: SecretValue("")),
            runs: RunCatalog(backend: LocalStateBackend(root: folder.path + "/state")),
            runner: RecordingCommandRunner(), clock: clock, scratchDirectory: folder.path)
    }

    /// Writes the record's file into `folder` (a few bytes) and records it with their size and checksum, as
    /// `drctl backup create` would.
    private func store(_ record: BackupRecord, in folder: TemporaryFolder) throws {
        let backups = BackupFolder(root: folder.path)
        try backups.prepare()
        let bytes = Data("backup \(record.fileName)".utf8)
        let path = backups.path(record.tier, fileName: record.fileName)
        try bytes.write(to: URL(fileURLWithPath: path))
        let file = try #require(try backups.file(record.tier, fileName: record.fileName))
        var record = record
        record.size = Int64(bytes.count)
        record.sha256 = SHA256Checksum.of(bytes)
        if var verification = record.verification {
            verification.fileSize = file.size
            verification.fileModifiedAt = file.modifiedAt
            record.verification = verification
        }
        try backups.catalogStore.update { catalog throws(BackupError) in catalog.upsert(record) }
    }

    @Test func aFreshVerifiedBackupPassesAndEverythingMissingFailsWithARemedy() async throws {
        let folder = try TemporaryFolder()
        try store(try catalogRecord(day: 9, verification: .passed), in: folder)
        let clock = ManualClock(now: utc(2025, 10, 9, 14))
        let report = try await service(
            folder: folder, clock: clock, review: Manifest.Review(lastReviewed: utc(2025, 9, 1))
        ).check()
        let byID = Dictionary(uniqueKeysWithValues: report.checks.map { ($0.id, $0) })
        #expect(byID["backups.daily"]?.result == .pass)
        #expect(
            byID["backups.daily"]?.evidence
                == "newest backup daily/valeo_erp_backup_20251009_020000.sql.gz taken 2025-10-09T02:00:00Z, 12h 0m old (RPO 1d)"
        )
        #expect(byID["backups.files"]?.result == .pass)
        #expect(byID["backups.verified"]?.result == .pass)
        #expect(byID["runbook.reviewed"]?.result == .pass)
        #expect(byID["runbook.reviewed"]?.evidence == "last reviewed 2025-09-01, next review due 2025-11-30")
        #expect(byID["offsite"]?.result == .fail)
        #expect(byID["restore.tested"]?.result == .fail)
        #expect(byID["restore.tested"]?.remedy?.contains("drctl gameday") == true)
        #expect(report.metrics.newestBackupAgeSeconds == 43_200.0)
        #expect(!report.passed)
        #expect(report.text.contains("[FAIL] Restore tested quarterly (restore.tested)"))
        // Other failed checks are not paged by `drctl status --notify`: only a daily backup older than the RPO.
        #expect(report.rpoNotification(rpo: .seconds(86_400)) == nil)
    }

    @Test func aStaleOrUnverifiedBackupAndAnOverdueReviewFail() async throws {
        let folder = try TemporaryFolder()
        try store(try catalogRecord(day: 9, verification: nil), in: folder)
        let clock = ManualClock(now: utc(2025, 10, 11, 2))
        let report = try await service(
            folder: folder, clock: clock, review: Manifest.Review(lastReviewed: utc(2025, 6, 1))
        ).check()
        let byID = Dictionary(uniqueKeysWithValues: report.checks.map { ($0.id, $0) })
        #expect(byID["backups.daily"]?.result == .fail)
        #expect(byID["backups.verified"]?.evidence.contains("never verified") == true)
        #expect(byID["runbook.reviewed"]?.result == .fail)
        #expect(
            report.prometheusText.contains("drctl_status_check_passed{environment=\"test\",check=\"backups.daily\"} 0"))
        #expect(!report.prometheusText.contains("drctl_backup_last_verified_timestamp_seconds{"))
        let page = try #require(report.rpoNotification(rpo: .seconds(86_400)))
        #expect(page.kind == .backupOlderThanRPO)
        #expect(page.details["ageSeconds"] == "172800")
        #expect(page.summary == "[test] newest backup is 48h old, older than the RPO of 24h")
    }

    /// Only game days that concern the manifest's environment count: run on it, or restoring its backups.
    @Test func restoreTestedCountsOnlyDrillsOfThisEnvironment() async throws {
        let folder = try TemporaryFolder()
        let clock = ManualClock(now: utc(2025, 10, 9, 14))
        let status = try service(folder: folder, clock: clock, review: nil)
        let state = LocalStateBackend(root: folder.path + "/state")
        func drill(on environment: String, from: String?, scenario: String = "db-restore") async throws {
            let parameters = try RunParameters(
                options: GamedayScenario.Options(scenario: scenario, from: "/m.yaml", fromEnvironment: from))
            let runbook = Runbook(
                id: StatusService.drillRunbookID, environment: environment, parameters: parameters,
                manifestFingerprint: "test",
                steps: [RunbookStep(id: "drill", title: "drill", commands: []) { _ in [:] }])
            try await RunService(
                backend: state, runner: RecordingCommandRunner(), events: ClosureEventSink { _ in }, clock: clock
            ).start(runbook)
            clock.advance(by: .seconds(60))
        }
        func tested() async -> StatusCheck? {
            await status.check().checks.first { $0.id == "restore.tested" }
        }
        try await drill(on: "staging", from: "production")
        try await drill(on: "other", from: nil)
        #expect(await tested()?.result == .fail)
        #expect(
            await tested()?.evidence == "no succeeded game day that restored data in the journal on test or from its "
                + "backups")

        // An app rollback restores no data: it is no restore test.
        try await drill(on: "test", from: "test", scenario: "app-rollback")
        #expect(await tested()?.result == .fail)
        #expect(await tested()?.evidence.contains("(app-rollback, 2025-10-09T14:02:00Z) does not count") == true)

        try await drill(on: "staging", from: "test")
        let fromBackups = await tested()
        #expect(fromBackups?.result == .pass)
        #expect(fromBackups?.evidence.contains("(db-restore on staging from test's backups)") == true)

        try await drill(on: "test", from: "production")
        #expect(await tested()?.evidence.contains("(db-restore on test from production's backups)") == true)
    }
}
