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
        try await fixture.seed()
        defer { Task { [fixture] in await fixture.dropDatabase() } }
        try await fixture.runner.runChecked(CommandInvocation("aws", ["s3api", "create-bucket", "--bucket", bucket]))
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
            fresh.checks.first { $0.id == "offsite.s3" }?.evidence.contains(creation.daily.sha256.prefix(12)) == true)

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

    private func result(_ report: StatusReport, _ id: String) -> StatusCheck.Result? {
        report.checks.first { $0.id == id }?.result
    }

    /// A game day as the journal records one: a succeeded run of the `gameday` runbook.
    private func journalSucceededDrill(state: LocalStateBackend, clock: ManualClock, from: String) async throws {
        let step = RunbookStep(id: "drill", title: "drill", commands: []) { _ in [:] }
        let runbook = Runbook(
            id: StatusService.drillRunbookID, environment: "staging",
            parameters: ["scenario": "cluster-loss", GamedayScenario.fromEnvironmentParameter: from],
            manifestFingerprint: "test", steps: [step])
        try await RunService(
            backend: state, runner: RecordingCommandRunner(), events: ClosureEventSink { _ in }, clock: clock
        ).start(runbook)
    }
}
