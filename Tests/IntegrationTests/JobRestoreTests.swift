import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `database.dataPlane: job` for restores, with the real binary: `drctl restore` loads the off-site backup in a
/// Kubernetes Job (`drctl agent restore-load`, drctl's image run by the stand-in's kubelet with runc: aws against
/// moto, gzip, psql into the run's new database), and conducts the rest — create, content check, swap, smoke
/// query — through its `kubectl port-forward` to the PostgreSQL Service. The manifest's database host
/// (`postgresql.NS.svc.cluster.local`) resolves only inside the pod and through the tunnel.
@Suite("dataPlane: job restores with the real binary", .serialized)
struct JobRestoreTests {
    /// A seeded fixture in job mode whose one backup is in S3 (with its sidecars), and the drctl binary.
    static func withOffsiteBackup(
        format: PostgresDumpFormat = .plain, beforeBackup: (RecoveryFixture) async throws -> Void = { _ in },
        _ body: (RecoveryFixture, String) async throws -> Void
    ) async throws {
        let layout = try await DrctlImage.layout()
        let bucket = "drctl-job-rs-\(UUID().uuidString.prefix(8).lowercased())"
        let fixture = try RecoveryFixture(
            bucket: bucket, environment: "job-restore-tests", format: format, jobImageLayout: layout)
        let drctl = try DrctlProcess.binary()
        try await fixture.seed()
        do {
            try await fixture.runner.runChecked(
                CommandInvocation("aws", ["s3api", "create-bucket", "--bucket", bucket]))
            try await beforeBackup(fixture)
            try await fixture.createBackup()
            let sync = BackupSync(
                manifest: fixture.manifest, targets: OffsiteTarget.targets(of: fixture.toolbox),
                runner: fixture.runner, clock: fixture.clock, scratchDirectory: fixture.root)
            #expect(try await sync.sync(dryRun: false).inSync)
            try await body(fixture, drctl)
        } catch {
            await fixture.cleanUp()
            throw error
        }
        await fixture.cleanUp()
    }

    /// The Jobs drctl created in the fixture's namespace (the stand-in's request log).
    static func jobsCreated(_ fixture: RecoveryFixture) -> [Substring] {
        fixture.kube.requestLog.split(separator: "\n").filter {
            $0.hasPrefix("POST /apis/batch/v1/namespaces/\(fixture.namespace)/jobs") && $0.contains("-> 201")
        }
    }

    /// Neither the password nor its base64 form in drctl's output, its state folder (journal, records), the Job
    /// specs drctl sent, or the argv of any Job.
    static func expectPasswordNowhere(_ fixture: RecoveryFixture, besides results: [DrctlProcess.Result]) {
        let password = fixture.stack.postgresPassword
        for secret in [password, Data(password.utf8).base64EncodedString()] {
            for result in results {
                #expect(!result.output.contains(secret) && !result.errors.contains(secret), "the password was printed")
            }
            let state = fixture.stateDirectory
            let files = FileManager.default.enumerator(atPath: state)?.compactMap { $0 as? String } ?? []
            for file in files {
                let text = (try? String(contentsOfFile: state + "/" + file, encoding: .utf8)) ?? ""
                #expect(!text.contains(secret), "the password is in \(file)")
            }
        }
    }

    /// `drctl restore` with the real binary: exit 0, the source's table checksums, the content record matched,
    /// one Job created and none left, the password nowhere.
    static func restoreInOneJob(_ fixture: RecoveryFixture, drctl: String, source: [String: String]) async throws
        -> DrctlProcess.Result
    {
        let run = try await DrctlProcess.run(
            drctl, ["restore", "-f", fixture.manifestPath, "-o", "json"], environment: fixture.binaryEnvironment)
        #expect(run.status == 0, "drctl restore failed:\n\(run.output)\n\(run.errors)")
        #expect(try await fixture.tableChecksums() == source)
        #expect(run.output.contains("matches its content record"), "\(run.output)")
        #expect(Self.jobsCreated(fixture).count == 1, "\(Self.jobsCreated(fixture))")
        #expect(try await fixture.kubectl(["get", "jobs", "-o", "name"]).isEmpty, "the finished Job was kept")
        expectPasswordNowhere(fixture, besides: [run])
        return run
    }

    @Test("a custom-format backup restores in a Job: downloaded into the pod's emptyDir, verified, pg_restore -j")
    func customFormatRestoreInAJob() async throws {
        try await Self.withOffsiteBackup(format: .custom) { fixture, drctl in
            let (source, plan) = try await RecoveryCommandTests.damageAndPlanRestore(fixture, drctl: drctl)
            #expect(plan.output.contains("in the Job: aws s3 cp "), "\(plan.output)")
            #expect(plan.output.contains("-j 2 --no-owner '/var/lib/drctl/backups/restore/"), "\(plan.output)")

            let run = try await Self.restoreInOneJob(fixture, drctl: drctl, source: source)
            #expect(run.output.contains("[job] drctl agent: restoring "), "the .dump was not restored in the Job")
            #expect(run.output.contains("with pg_restore -j 2"), "\(run.output)")
        }
    }

    @Test("a .dump larger than database.jobs.scratchLimit is refused before anything: exit 3, no Job, data untouched")
    func aDumpLargerThanTheScratchLimitIsRefused() async throws {
        try await Self.withOffsiteBackup(format: .custom) { fixture, drctl in
            let text = try String(contentsOfFile: fixture.manifestPath, encoding: .utf8)
            try text.replacingOccurrences(
                of: "  dataPlane: job\n", with: "  dataPlane: job\n  jobs: { scratchLimit: 1KiB }\n"
            ).write(toFile: fixture.manifestPath, atomically: true, encoding: .utf8)
            let before = try await fixture.tableChecksums()

            let run = try await DrctlProcess.run(
                drctl, ["restore", "-f", fixture.manifestPath], environment: fixture.binaryEnvironment)

            #expect(run.status == 3, "\(run.output)\n\(run.errors)")
            #expect(run.errors.contains("database.jobs.scratchLimit allows 1KiB"), "\(run.errors)")
            #expect(Self.jobsCreated(fixture).isEmpty, "\(Self.jobsCreated(fixture))")
            #expect(try await fixture.tableChecksums() == before, "the live database was touched")
        }
    }

    @Test("drctl restore in job mode: the Job loads the off-site backup, equal table checksums, no Job left")
    func restoreInAJob() async throws {
        try await Self.withOffsiteBackup { fixture, drctl in
            let (source, plan) = try await RecoveryCommandTests.damageAndPlanRestore(fixture, drctl: drctl)
            #expect(plan.output.contains("drctl agent restore-load --key "), "\(plan.output)")
            #expect(plan.output.contains("create role drctl-data-plane"), "\(plan.output)")
            #expect(plan.output.contains("a pod cannot read"), "\(plan.output)")

            let run = try await Self.restoreInOneJob(fixture, drctl: drctl, source: source)
            #expect(run.output.contains("[job] drctl agent: streaming"), "the load did not run in the Job")
            #expect(
                try await fixture.kubectl(["get", "secrets", "-l", "app.kubernetes.io/managed-by=drctl", "-o", "name"])
                    .isEmpty, "the Job's Secret was kept")
            #expect(try await fixture.databases(like: fixture.database + "_restore_%").isEmpty)
        }
    }

    @Test("drctl rebuild in job mode: the backup is loaded by a Job, equal table digests, no Job left")
    func rebuildInAJob() async throws {
        let layout = try await DrctlImage.layout()
        try await RebuildWorld.with(jobImageLayout: layout) { world in
            let before = try await world.tableDigests()
            try await world.loseEverything()

            let run = try await DrctlProcess.run(
                world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment)

            #expect(run.status == 0, "drctl rebuild failed:\n\(run.output)\n\(run.errors)")
            #expect(try await world.tableDigests() == before)
            #expect(run.output.contains("[job] drctl agent: streaming"), "the load did not run in the Job")
            let creates = world.kube.requestLog.split(separator: "\n").filter {
                $0.hasPrefix("POST /apis/batch/v1/namespaces/\(world.namespace)/jobs") && $0.contains("-> 201")
            }
            // The load's Job and the archive sync's (into the app's claim).
            #expect(creates.count == 2, "Jobs created: \(creates)")
            let jobs = try await CommandRunner().runChecked(
                CommandInvocation(
                    "kubectl",
                    [
                        "--kubeconfig", world.kube.kubeconfig, "--namespace", world.namespace, "get", "jobs", "-o",
                        "name",
                    ]))
            #expect(jobs.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "the Job was kept")
            #expect(!run.output.contains(world.stack.postgresPassword))
            let journal = try String(contentsOfFile: try world.journalPath(), encoding: .utf8)
            #expect(!journal.contains(world.stack.postgresPassword), "the password reached the journal")
        }
    }

    @Test("drctl recover-rows in job mode: a Job loads the backup into the temporary database, the rows come back")
    func recoverRowsInAJob() async throws {
        try await Self.withOffsiteBackup { fixture, drctl in
            let (run, source) = try await RecoveryCommandTests.deleteAndRecoverTwoDocuments(fixture, drctl: drctl)

            #expect(run.status == 0, "drctl recover-rows failed:\n\(run.output)\n\(run.errors)")
            #expect(try await fixture.tableChecksums()["documents_header"] == source["documents_header"])
            #expect(run.output.contains("[job] drctl agent: streaming"), "the load did not run in the Job")
            #expect(Self.jobsCreated(fixture).count == 1, "\(Self.jobsCreated(fixture))")
            #expect(try await fixture.kubectl(["get", "jobs", "-o", "name"]).isEmpty, "the finished Job was kept")
            Self.expectPasswordNowhere(fixture, besides: [run])
        }
    }

    @Test(
        "a load Job whose pod fails (wrong password in its Secret): exit 1 with the pod's log tail, live data untouched"
    )
    func aFailingLoadJobLeavesTheLiveDatabase() async throws {
        try await Self.withOffsiteBackup { fixture, drctl in
            try await RecoveryCommandTests.damage(fixture)
            let damaged = try await fixture.tableChecksums()
            try await fixture.kubectl([
                "create", "secret", "generic", "wrong-db", "--from-literal=password=not-the-password",
            ])
            let manifest = try String(contentsOfFile: fixture.manifestPath, encoding: .utf8)
            try manifest.replacingOccurrences(
                of: "  dataPlane: job\n",
                with: "  dataPlane: job\n  jobs: { passwordSecret: { name: wrong-db, key: password } }\n"
            ).write(toFile: fixture.manifestPath, atomically: true, encoding: .utf8)

            let run = try await DrctlProcess.run(
                drctl, ["restore", "-f", fixture.manifestPath], environment: fixture.binaryEnvironment)

            #expect(run.status == 1, "\(run.output)\n\(run.errors)")
            #expect(run.errors.contains("its pod's last log lines:"), "\(run.errors)")
            #expect(run.errors.contains("password authentication failed"), "no pod log tail in:\n\(run.errors)")
            #expect(try await fixture.tableChecksums() == damaged, "the live database was touched")
            #expect(try await fixture.deploymentReplicas() == fixture.replicas, "the app was scaled down")
            #expect(try await fixture.databases(like: fixture.database + "_restore_%").isEmpty)
            #expect(try await fixture.kubectl(["get", "jobs", "-o", "name"]).isEmpty, "the failed Job was kept")
        }
    }

    /// `jobVanished: false`: resume adopts the Job it finds (one Job, the load not redone). `true`: the Job was
    /// deleted before the resume (its pod killed mid-load): resume drops the half-loaded new database, creates it
    /// again and loads it with a second Job.
    @Test(
        "drctl SIGKILLed while its load Job is held: resume adopts that Job, or reloads when the Job vanished",
        arguments: [false, true])
    func resumeAfterKillingTheLoad(jobVanished: Bool) async throws {
        try await LockHold.withRole { role in
            try await Self.withOffsiteBackup(beforeBackup: { fixture in
                // The backup grants on a role the test can hold: the load's GRANT waits for that role.
                _ = try await fixture.query("GRANT SELECT ON customers TO \(role)")
            }) { fixture, drctl in
                _ = try await fixture.query("REVOKE SELECT ON customers FROM \(role)")
                let source = try await fixture.tableChecksums()
                try await RecoveryCommandTests.damage(fixture)
                let hold = try await LockHold(stack: fixture.stack, role: role)
                defer { hold.terminate() }
                let loadWaits: @Sendable () async -> Bool = {
                    (try? await LockHold.backendWaits(fixture.stack, database: fixture.database, restoreCopy: true))
                        == true
                }

                // Killed once its Job's psql waits on the held role: the load runs in the pod, drctl follows it.
                let killed = try await DrctlProcess.runKilled(
                    drctl, ["restore", "-f", fixture.manifestPath, "-o", "json"],
                    environment: fixture.binaryEnvironment, whenOutputContains: "created in namespace", delay: .zero,
                    andCondition: loadWaits)
                #expect(killed.killed, "the run finished before it could be killed:\n\(killed.output)")
                let runID = try #require(killed.runID, "no run id in:\n\(killed.output)")
                var held = await loadWaits()
                for _ in 0..<1200 where !held {
                    try await Task.sleep(for: .milliseconds(100))
                    held = await loadWaits()
                }
                #expect(held, "the Job's load never reached the held role")
                let jobs = try await fixture.kubectl(["get", "jobs", "-o", "name"])
                #expect(jobs.split(separator: "\n").count == 1, "Jobs: \(jobs)")
                let spec = try await fixture.kubectl(["get", "jobs", "-o", "json"])
                #expect(spec.contains("\"secretKeyRef\""), "\(spec)")
                #expect(spec.contains("restore-load"), "\(spec)")
                let password = fixture.stack.postgresPassword
                #expect(
                    !spec.contains(password) && !spec.contains(Data(password.utf8).base64EncodedString()),
                    "the password is in the Job spec")
                if jobVanished {
                    let name = jobs.trimmingCharacters(in: .whitespacesAndNewlines)
                        .replacingOccurrences(of: "job.batch/", with: "")
                    try await fixture.kubectl(["delete", "job", name, "--cascade=foreground", "--wait=true"])
                    #expect(try await fixture.kubectl(["get", "jobs", "-o", "name"]).isEmpty)
                }
                try await hold.release()

                let resumed = try await DrctlProcess.run(
                    drctl, ["resume", runID, "-o", "json"], environment: fixture.binaryEnvironment)

                #expect(resumed.status == 0, "drctl resume failed:\n\(resumed.output)\n\(resumed.errors)")
                #expect(
                    resumed.output.contains("of an interrupted attempt") != jobVanished, "\(resumed.output)")
                #expect(
                    Self.jobsCreated(fixture).count == (jobVanished ? 2 : 1),
                    "Jobs created: \(Self.jobsCreated(fixture))")
                #expect(try await fixture.databases(like: fixture.database + "_restore_%").isEmpty)
                #expect(try await fixture.tableChecksums() == source)
                #expect(try await fixture.kubectl(["get", "jobs", "-o", "name"]).isEmpty, "the Job was kept")
                Self.expectPasswordNowhere(fixture, besides: [resumed])
            }
        }
    }
}
