import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl backup nightly` is the journaled `backup` runbook: the real binary against the local stack's
/// PostgreSQL and S3 stand-in, killed with SIGKILL after the dump and resumed.
@Suite("Backup nightly run")
struct BackupNightlyRunTests {
    /// A fixture with an S3 bucket, an older backup (taken in March, so a new month's backup gets its own
    /// monthly copy) and a retention of one daily and one monthly backup, so prune has something to delete.
    static func world(
        format: PostgresDumpFormat = .plain, _ body: (BackupFixture, String, [String: String]) async throws -> Void
    ) async throws {
        let bucket = "drctl-nightly-\(UUID().uuidString.prefix(8).lowercased())"
        let fixture = try BackupFixture(retention: (1, 1), bucket: bucket, format: format)
        let drctl = try DrctlProcess.binary()
        var environment = fixture.stack.variables
        environment["HOME"] = fixture.root
        try await fixture.runner.runChecked(
            CommandInvocation("aws", ["s3", "mb", "s3://\(bucket)"], environment: environment))
        try await fixture.seeded {
            try await fixture.createBackup()
            try await body(fixture, drctl, environment)
        }
    }

    static func s3Keys(bucket: String, environment: [String: String]) async throws -> [String] {
        let result = try await CommandRunner().runChecked(
            CommandInvocation("aws", ["s3", "ls", "--recursive", "s3://\(bucket)/"], environment: environment))
        return result.output.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
            .sorted()
    }

    /// The emitted crontab line run as cron runs it (/bin/sh, an environment without any secret): it sources the
    /// 0600 env file emitted beside it (filled in as the template says) and the real drctl backs up and syncs.
    @Test("the crontab line sources its 0600 env file: the nightly backup runs with no secret in cron's environment")
    func crontabLineSourcesItsEnvironmentFile() async throws {
        try await Self.world { fixture, drctl, environment in
            var manifest = fixture.manifest
            manifest.schedule = Manifest.Schedule(
                backups: try CronSchedule.parse("0 2 * * *").get(), image: "drctl:test",
                passwordSecret: .init(name: "db", key: "password"))
            let envFile = fixture.root + "/backup-tests.env"
            let files = try BackupScheduleEmitter(
                manifest: manifest, manifestText: "", drctlPath: drctl, environmentFile: envFile
            ).emit(.cron)
            #expect(files.map(\.name) == ["drctl-backup-backup-tests.crontab", "drctl-backup-backup-tests.env"])
            let template = try #require(files.last)
            #expect(template.isPrivate)
            let crontab = try #require(files.first?.contents)
            #expect(!crontab.contains(fixture.stack.postgresPassword))
            #expect(crontab.contains("reads DB_PASSWORD, AWS_ACCESS_KEY_ID"), "\(crontab)")
            // Filled in as its comment says, installed with mode 0600.
            let filled = template.contents.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                guard line.hasSuffix("="), !line.hasPrefix("#") else { return String(line) }
                let name = String(line.dropLast())
                return "\(name)=\(environment[name] ?? "")"
            }.joined(separator: "\n")
            #expect(
                FileManager.default.createFile(
                    atPath: envFile, contents: Data(filled.utf8), attributes: [.posixPermissions: 0o600]))
            // cron's environment: no password, no credentials (not even a credentials file).
            let secret: Set = [
                "DRCTL_PG_PASSWORD", "DB_PASSWORD", "PGPASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_DEFAULT_REGION",
                "AZURE_STORAGE_CONNECTION_STRING",
            ]
            let cronEnvironment = environment.filter { !secret.contains($0.key) }
            let line = try #require(crontab.split(separator: "\n").last { $0.hasPrefix("0 2 * * * ") })
            let command = String(line.dropFirst("0 2 * * * ".count)).replacingOccurrences(of: "\\%", with: "%")
            let run = try await fixture.runner.run(
                // A guard against a hang, not a speed check: on a loaded 2-core machine the nightly's dozen aws calls
                // (each backup, its .sha256 and its content record) take minutes.
                CommandInvocation("/bin/sh", ["-c", command], environment: cronEnvironment, timeout: .seconds(900)))
            #expect(run.status == .exited(0), "the crontab line failed:\n\(run.output)\n\(run.standardErrorTail)")
            let newest = try #require(try fixture.catalog().latest(verified: true))
            let keys = try await Self.s3Keys(
                bucket: try #require(manifest.backups.s3?.bucket), environment: environment)
            #expect(keys.contains("postgresql/daily/\(newest.fileName)"), "\(keys)")
        }
    }

    @Test("killed after the dump, resumed: no second dump, verify, sync and prune complete")
    func killedAfterCreateResumes() async throws {
        try await Self.world { fixture, drctl, environment in
            let old = try #require(try fixture.catalog().records.first { $0.tier == .daily })
            let state = fixture.root + "/state"
            let arguments = ["backup", "nightly", "-f", fixture.manifestPath, "-o", "json", "--state-dir", state]
            let killed = try await DrctlProcess.runKilled(
                drctl, arguments, environment: environment, pausedAt: "start:backup.verify")
            #expect(killed.killed, "the run finished before it could be killed:\n\(killed.output)")
            let runID = try #require(killed.runID, "no run id in:\n\(killed.output)")
            let dumped = try fixture.catalog().records.filter { $0.tier == .daily && $0.name != old.name }
            #expect(dumped.count == 1, "one new backup after the kill: \(dumped.map(\.fileName))")

            let listed = try await DrctlProcess.run(
                drctl, ["runs", "list", "--state-dir", state], environment: environment)
            #expect(listed.output.contains(runID) && listed.output.contains("backup"), "\(listed.output)")

            let resumed = try await DrctlProcess.run(
                drctl, ["resume", runID, "-o", "json", "--state-dir", state], environment: environment)
            #expect(resumed.status == 0, "drctl resume failed:\n\(resumed.output)\n\(resumed.errors)")
            let restarted = DrctlProcess.steps(withEvent: "step-started", in: resumed.output)
            #expect(!restarted.contains("backup.create"), "the dump ran again: \(restarted)")
            #expect(restarted.contains("backup.sync") && restarted.contains("backup.prune"))

            // Exactly the one new backup, locally and off-site; the older one pruned (retention 1 daily).
            let catalog = try fixture.catalog()
            let daily = catalog.records.filter { $0.tier == .daily }
            #expect(daily.map(\.fileName) == dumped.map(\.fileName))
            let files = try fixture.folder.files().map(\.relativePath)
            #expect(files.filter { $0.hasPrefix("daily/") } == dumped.map { "daily/" + $0.fileName })
            #expect(!files.contains("daily/" + old.fileName))
            let newFile = try #require(dumped.first).fileName
            let keys = try await Self.s3Keys(
                bucket: try #require(fixture.manifest.backups.s3?.bucket), environment: environment)
            #expect(keys.contains("postgresql/daily/\(newFile)"), "\(keys)")
            #expect(keys.contains("postgresql/daily/\(newFile).sha256"), "\(keys)")
            #expect(daily.first?.copy(in: .s3) != nil, "the catalog records the S3 copy")

            let show = try await DrctlProcess.run(
                drctl, ["runs", "show", runID, "--state-dir", state], environment: environment)
            #expect(show.output.contains("resumed 1×"), "\(show.output)")
        }
    }

    @Test("on resume, a dump recorded but never journaled is accepted by the probe; an unfinished one is not")
    func createProbe() async throws {
        try await Self.world { fixture, _, _ in
            let runID = "20261125-020000-beef"
            let workRoot = fixture.root + "/state/work"
            let runbook = try BackupScenario(toolbox: fixture.toolbox, workRoot: workRoot).runbook()
            let probe = try #require(runbook.step("backup.create")?.probe)
            let context = StepContext(runID: runID, step: "backup.create", runner: fixture.runner)
            #expect(try await probe(context) == .notDone, "no marker: the step never got to dump")

            // Killed while dumping: the marker is there, no backup of this run in the catalog (the fixture's
            // older backup, taken in March, is not this run's).
            try FileManager.default.createDirectory(atPath: workRoot + "/" + runID, withIntermediateDirectories: true)
            let started = Int64(Date().timeIntervalSince1970.rounded(.down))
            try String(started).write(
                toFile: workRoot + "/\(runID)/backup-create-started", atomically: true, encoding: .utf8)
            #expect(try await probe(context) == .notDone)

            // Killed after the backup was recorded, before the journal heard of it: accepted, with its outputs.
            let creation = try await BackupCreator(toolbox: fixture.toolbox, runner: fixture.runner).create()
            guard case .done(let outputs) = try await probe(context) else {
                Issue.record("the recorded backup \(creation.daily.fileName) was not accepted")
                return
            }
            #expect(outputs["file"] == creation.daily.fileName)
            #expect(outputs["sha256"] == creation.daily.sha256)
        }
    }

    @Test("a create run again after its dump was killed removes that dump's .partial and nothing else")
    func rerunRemovesTheUnfinishedDump() async throws {
        try await Self.world { fixture, _, _ in
            let runID = "20261125-020000-cafe"
            let workRoot = fixture.root + "/state/work"
            let runbook = try BackupScenario(toolbox: fixture.toolbox, workRoot: workRoot).runbook()
            let create = try #require(runbook.step("backup.create"))
            // The first attempt marked its start and died while pg_dump wrote its .partial.
            try FileManager.default.createDirectory(atPath: workRoot + "/" + runID, withIntermediateDirectories: true)
            let started = Date().addingTimeInterval(-60)
            try String(Int64(started.timeIntervalSince1970)).write(
                toFile: workRoot + "/\(runID)/backup-create-started", atomically: true, encoding: .utf8)
            let ours = try BackupName(database: fixture.database, timestamp: started.addingTimeInterval(1))
            let older = try BackupName(database: fixture.database, timestamp: started.addingTimeInterval(-3600))
            let otherDatabase = try BackupName(database: fixture.database + "_x", timestamp: started)
            for name in [ours, older, otherDatabase] {
                try Data("partial dump".utf8).write(
                    to: URL(fileURLWithPath: fixture.folder.path(.daily, fileName: name.fileName + ".partial")))
            }

            let outputs = try await create.action(
                StepContext(runID: runID, step: "backup.create", runner: fixture.runner))

            let files = try fixture.folder.files().map(\.fileName)
            #expect(!files.contains(ours.fileName + ".partial"), "the interrupted dump's .partial is gone")
            #expect(files.contains(older.fileName + ".partial"), "an older .partial is not this run's")
            #expect(files.contains(otherDatabase.fileName + ".partial"), "another database's .partial stays")
            #expect(files.contains(try #require(outputs["file"])))
        }
    }

    @Test("drctl plan backup shows the same plan the nightly run journals")
    func planFingerprintMatchesTheRun() async throws {
        try await Self.world { fixture, drctl, environment in
            let state = fixture.root + "/state"
            let plan = try await DrctlProcess.run(
                drctl, ["plan", "backup", "-f", fixture.manifestPath, "-o", "json", "--state-dir", state],
                environment: environment)
            #expect(plan.status == 0, "\(plan.output)\n\(plan.errors)")
            let planned = try #require(
                try JSONSerialization.jsonObject(with: Data(plan.output.utf8)) as? [String: Any])
            let run = try await DrctlProcess.run(
                drctl, ["backup", "nightly", "-f", fixture.manifestPath, "-o", "json", "--state-dir", state],
                environment: environment)
            #expect(run.status == 0, "drctl backup nightly failed:\n\(run.output)\n\(run.errors)")
            let runID = try #require(DrctlProcess.runID(in: run.output))
            let history = try await RunCatalog(backend: LocalStateBackend(root: state)).history(runID: runID)
            #expect(history.header.planFingerprint == planned["fingerprint"] as? String)
            #expect(history.header.runbook == "backup")
        }
    }

    @Test("with backups.format custom the nightly run writes, verifies and uploads a pg_dump -Fc archive")
    func customFormatNight() async throws {
        try await Self.world(format: .custom) { fixture, drctl, environment in
            let state = fixture.root + "/state"
            let run = try await DrctlProcess.run(
                drctl, ["backup", "nightly", "-f", fixture.manifestPath, "-o", "json", "--state-dir", state],
                environment: environment)
            #expect(run.status == 0, "drctl backup nightly failed:\n\(run.output)\n\(run.errors)")
            let daily = try fixture.catalog().records.filter { $0.tier == .daily }
            #expect(daily.count == 1, "retention 1: \(daily.map(\.fileName))")
            let newest = try #require(daily.first)
            #expect(newest.fileName.hasSuffix(".dump") && newest.isVerified)
            let bucket = try #require(fixture.manifest.backups.s3?.bucket)
            let keys = try await Self.s3Keys(bucket: bucket, environment: environment)
            #expect(keys.contains("postgresql/daily/\(newest.fileName)"), "\(keys)")
        }
    }

    @Test("a failing verification stops the run before sync and prune, exit 3")
    func corruptBackupStopsTheRun() async throws {
        try await Self.world { fixture, drctl, environment in
            let old = try #require(try fixture.catalog().records.first { $0.tier == .daily })
            try Damage.truncate(fixture.folder.path(.daily, fileName: old.fileName), to: 4000)
            let state = fixture.root + "/state"
            let run = try await DrctlProcess.run(
                drctl, ["backup", "nightly", "-f", fixture.manifestPath, "-o", "json", "--state-dir", state],
                environment: environment)
            #expect(run.status == 3, "\(run.output)\n\(run.errors)")
            let started = DrctlProcess.steps(withEvent: "step-started", in: run.output)
            #expect(started == ["backup.create", "backup.verify"])
            #expect(try fixture.folder.files().contains { $0.fileName == old.fileName }, "nothing pruned")
        }
    }
}
