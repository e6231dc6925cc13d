import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl status` against the local stack: the real pg_dump, gzip and aws write and copy the backups it judges.
@Suite("Status on the local stack")
struct StatusTests {
    @Test func aStaleBackupFailsAndCreateVerifySyncMakesEveryCheckPass() async throws {
        let bucket = "drctl-status-it-\(UUID().uuidString.prefix(8).lowercased())"
        let fixture = try BackupFixture(bucket: bucket)
        try await fixture.seeded {
            try await fixture.runner.runChecked(
                CommandInvocation("aws", ["s3api", "create-bucket", "--bucket", bucket]))
            var manifest = fixture.manifest
            manifest.review = Manifest.Review(lastReviewed: fixture.clock.now().addingTimeInterval(-10 * 86_400))
            let toolbox = ScenarioToolbox(manifest: manifest, databasePassword: SecretValue(""))
            let state = LocalStateBackend(root: fixture.root + "/state")
            let sync = BackupSync(
                manifest: manifest, targets: OffsiteTarget.targets(of: toolbox), runner: fixture.runner,
                clock: fixture.clock, scratchDirectory: fixture.root)
            let status = StatusService(
                toolbox: toolbox, runs: RunCatalog(backend: state), runner: fixture.runner, clock: fixture.clock,
                scratchDirectory: fixture.root)

            // A backup taken, verified and copied, then two days without one: older than the 24h RPO.
            try await fixture.createBackup(advance: .seconds(60))
            _ = try await fixture.verifier.verify()
            _ = try await sync.sync(dryRun: false)
            fixture.clock.advance(by: .seconds(2 * 86_400))
            let stale = await status.check()
            #expect(result(stale, "backups.daily") == .fail)
            #expect(stale.checks.first { $0.id == "backups.daily" }?.evidence.contains("2d 0h old (RPO 1d)") == true)
            #expect(result(stale, "offsite.s3") == .pass)
            #expect(result(stale, "restore.tested") == .fail)
            #expect(!stale.passed)

            // A drill of another environment does not count; one from this environment's backups does.
            try await journalSucceededDrill(state: state, clock: fixture.clock, from: "other")
            #expect(result(await status.check(), "restore.tested") == .fail)
            // Then backup create + verify + sync: every check passes.
            try await journalSucceededDrill(state: state, clock: fixture.clock, from: "backup-tests")
            let creation = try await fixture.createBackup(advance: .seconds(3_600))
            _ = try await fixture.verifier.verify()
            let unsynced = await status.check()
            #expect(result(unsynced, "offsite.s3") == .fail)
            #expect(unsynced.checks.first { $0.id == "offsite.s3" }?.evidence.contains("missing") == true)
            _ = try await sync.sync(dryRun: false)
            let fresh = await status.check()
            #expect(fresh.passed, "\(fresh.text)")
            #expect(fresh.metrics.newestBackupAgeSeconds == 3_600)
            #expect(fresh.metrics.newestBackupAt == creation.daily.name.timestamp)
            #expect(
                fresh.checks.first { $0.id == "offsite.s3" }?.evidence.contains(creation.daily.sha256.prefix(12))
                    == true)

            let prometheus = fixture.root + "/drctl.prom"
            try fresh.writePrometheus(to: prometheus)
            let text = try String(contentsOfFile: prometheus, encoding: .utf8)
            #expect(text.contains("drctl_backup_newest_age_seconds{environment=\"backup-tests\"} 3600\n"))
            #expect(text.contains("drctl_status_check_passed{environment=\"backup-tests\",check=\"offsite.s3\"} 1\n"))
            #expect(text.contains("drctl_gameday_last_success_timestamp_seconds{environment=\"backup-tests\"} "))

            // The off-site copy replaced by other bytes: the sidecar no longer matches.
            let store = S3ObjectStore(bucket: bucket)
            let tampered = fixture.root + "/tampered"
            try Data(repeating: 0x41, count: Int(creation.daily.size)).write(to: URL(fileURLWithPath: tampered))
            try await fixture.runner.runChecked(
                try store.upload(.file(tampered), to: "postgresql/daily/\(creation.daily.fileName).sha256"))
            #expect(result(await status.check(), "offsite.s3") == .fail)
        }
    }

    /// Status looks at the files, not only the catalog: a touched file is re-hashed and still passes, a file with
    /// other bytes of the same size fails, and once every file is deleted no backup is cited as newest or
    /// verified; the real drctl binary exits 1 with the remedy.
    @Test func deletedOrChangedBackupFilesFailStatusWithARemedy() async throws {
        let fixture = try BackupFixture()
        try await fixture.seeded {
            let status = localStatus(fixture)
            let older = try await fixture.createBackup(advance: .seconds(60))
            let newest = try await fixture.createBackup(advance: .seconds(3_600))
            _ = try await fixture.verifier.verify()
            let intact = await status.check()
            #expect(result(intact, "backups.files") == .pass, "\(intact.text)")
            #expect(result(intact, "backups.daily") == .pass)
            let rehashedBefore = try #require(rehashed(intact), "\(intact.text)")

            // Touched: another modification time, the same bytes; status reads it again and it still matches.
            let newestPath = fixture.folder.path(.daily, fileName: newest.daily.fileName)
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSinceNow: -7 * 86_400)], ofItemAtPath: newestPath)
            let touched = await status.check()
            #expect(result(touched, "backups.files") == .pass)
            #expect(try #require(rehashed(touched)) == rehashedBefore + 1, "\(touched.text)")

            // The same size, other bytes: the checksum no longer matches; the older backup becomes the newest.
            var bytes = try Data(contentsOf: URL(fileURLWithPath: newestPath))
            bytes[bytes.count / 2] ^= 0xFF
            try bytes.write(to: URL(fileURLWithPath: newestPath))
            let changed = await status.check()
            #expect(result(changed, "backups.files") == .fail)
            #expect(
                evidence(changed, "backups.files")?.contains("daily/\(newest.daily.fileName) has SHA-256") == true,
                "\(changed.text)")
            #expect(evidence(changed, "backups.daily")?.contains(older.daily.fileName) == true)
            #expect(evidence(changed, "backups.verified")?.contains(newest.daily.fileName) == false)

            // Every file deleted: nothing is cited as newest or verified.
            for tier in BackupTier.allCases {
                try? FileManager.default.removeItem(atPath: fixture.folder.directory(tier))
            }
            let gone = await status.check()
            #expect(result(gone, "backups.files") == .fail)
            #expect(evidence(gone, "backups.files")?.contains("daily/\(older.daily.fileName) is missing") == true)
            #expect(result(gone, "backups.daily") == .fail)
            #expect(result(gone, "backups.verified") == .fail)
            #expect(!gone.text.contains(newest.daily.fileName + " verified"))
            #expect(gone.metrics.newestBackupAt == nil)

            let environment = drctlEnvironment(fixture)
            let run = try await DrctlProcess.run(
                try DrctlProcess.binary(), ["status", "-f", fixture.manifestPath], environment: environment)
            #expect(run.status == 1, "\(run.output)\n\(run.errors)")
            #expect(run.output.contains("[FAIL] Backups running daily (backups.files)"), "\(run.output)")
            #expect(run.output.contains("are not as written: "))
            #expect(run.output.contains("take a new one (drctl backup create -f "))
        }
    }

    /// A backup file deleted by hand: status fails on it until `drctl backup prune` (the real binary) drops its
    /// record and says so; a dry run lists it and drops nothing; the intact backup keeps its record and status passes.
    @Test func pruneDropsTheRecordsOfBackupFilesThatAreGone() async throws {
        let fixture = try BackupFixture()
        try await fixture.seeded {
            let status = localStatus(fixture)
            let lost = try await fixture.createBackup(advance: .seconds(60))
            let kept = try await fixture.createBackup(advance: .seconds(3_600))
            _ = try await fixture.verifier.verify()
            try FileManager.default.removeItem(atPath: fixture.folder.path(.daily, fileName: lost.daily.fileName))
            let before = await status.check()
            #expect(result(before, "backups.files") == .fail)
            #expect(
                before.checks.first { $0.id == "backups.files" }?.remedy?.contains("drctl backup prune -f ") == true)

            let environment = drctlEnvironment(fixture)
            let binary = try DrctlProcess.binary()
            let dryRun = try await DrctlProcess.run(
                binary, ["backup", "prune", "-f", fixture.manifestPath, "--dry-run"], environment: environment)
            #expect(dryRun.status == 0, "\(dryRun.output)\n\(dryRun.errors)")
            #expect(dryRun.output.contains("Would drop from the catalog"), "\(dryRun.output)")
            #expect(try fixture.catalog().record(fileName: lost.daily.fileName, tier: .daily) != nil)

            let prune = try await DrctlProcess.run(
                binary, ["backup", "prune", "-f", fixture.manifestPath], environment: environment)
            #expect(prune.status == 0, "\(prune.output)\n\(prune.errors)")
            #expect(prune.output.contains("Dropped from the catalog: the record of 1 backup(s)"), "\(prune.output)")
            #expect(prune.output.contains("  daily/\(lost.daily.fileName)"))
            let catalog = try fixture.catalog()
            #expect(catalog.record(fileName: lost.daily.fileName, tier: .daily) == nil)
            #expect(catalog.record(fileName: kept.daily.fileName, tier: .daily) != nil)
            #expect(FileManager.default.fileExists(atPath: fixture.folder.path(.daily, fileName: kept.daily.fileName)))
            let after = await status.check()
            #expect(result(after, "backups.files") == .pass, "\(after.text)")
            #expect(evidence(after, "backups.daily")?.contains(kept.daily.fileName) == true)
        }
    }

    /// Status of the fixture's manifest with the journal in its own state folder.
    private func localStatus(_ fixture: BackupFixture) -> StatusService {
        StatusService(
            toolbox: fixture.toolbox, runs: RunCatalog(backend: LocalStateBackend(root: fixture.root + "/state")),
            runner: fixture.runner, clock: fixture.clock, scratchDirectory: fixture.root)
    }

    /// The real drctl's environment: the stack's, with the fixture's state folder.
    private func drctlEnvironment(_ fixture: BackupFixture) -> [String: String] {
        var environment = fixture.stack.variables
        environment["DRCTL_STATE_DIR"] = fixture.root + "/state"
        return environment
    }

    /// How many files status re-hashed ("(N changed since their last verification and re-hashed)").
    private func rehashed(_ report: StatusReport) -> Int? {
        guard let text = evidence(report, "backups.files"),
            let match = text.firstMatch(of: /\((\d+) changed since their last verification/)
        else { return nil }
        return Int(match.output.1)
    }

    private func evidence(_ report: StatusReport, _ id: String) -> String? {
        report.checks.first { $0.id == id }?.evidence
    }

    private func result(_ report: StatusReport, _ id: String) -> StatusCheck.Result? {
        report.checks.first { $0.id == id }?.result
    }

    /// A game day as the journal records one: a succeeded run of the `gameday` runbook.
    private func journalSucceededDrill(state: LocalStateBackend, clock: ManualClock, from: String) async throws {
        let step = RunbookStep(id: "drill", title: "drill", commands: []) { _ in [:] }
        let runbook = Runbook(
            id: StatusService.drillRunbookID, environment: "staging",
            parameters: try RunParameters(
                options: GamedayScenario.Options(scenario: "cluster-loss", from: "/m.yaml", fromEnvironment: from)),
            manifestFingerprint: "test", steps: [step])
        try await RunService(
            backend: state, runner: RecordingCommandRunner(), events: ClosureEventSink { _ in }, clock: clock
        ).start(runbook)
    }
}
