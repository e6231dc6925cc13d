import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Szenario 2 on the local stack with the real binaries: a production-like database backed up off-site, the
/// cluster and the database lost, `drctl rebuild` (the real binary) brings everything back.
@Suite("Rebuild end to end", .serialized)
struct RebuildEndToEndTests {
    @Test("a lost cluster and database come back: same table checksums, both releases, archive, /readyz")
    func rebuildRestoresEverything() async throws {
        try await RebuildWorld.with { world in
            let before = try await world.tableDigests()
            try await world.loseEverything()

            let plan = try await DrctlProcess.run(
                world.drctl, ["plan", "rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment)
            #expect(plan.status == 0, "drctl plan failed: \(plan.errors)")
            let run = try await DrctlProcess.run(
                world.drctl, ["rebuild", "-f", world.manifest], environment: world.environment)
            #expect(run.status == 0, "drctl rebuild failed:\n\(run.output)\n\(run.errors)")
            // What `plan` showed is what ran: same steps, dependencies, inputs and command lines.
            let planned = try JSONSerialization.jsonObject(with: Data(plan.output.utf8)) as? [String: Any]
            let firstRecord =
                try String(contentsOfFile: try world.journalPath(), encoding: .utf8)
                .split(separator: "\n").first.map(String.init) ?? ""
            let header = try JSONSerialization.jsonObject(with: Data(firstRecord.utf8)) as? [String: Any]
            let journaled = (header?["run"] as? [String: Any])?["planFingerprint"] as? String
            #expect(journaled != nil && planned?["fingerprint"] as? String == journaled)
            #expect(try await world.tableDigests() == before)
            let values = try await world.helmValues("valeo-erp")
            #expect(values["replicaCount"] as? Int == 2)
            let env = (values["env"] as? [[String: Any]])?.first
            #expect(env?["name"] as? String == "DATABASE_URL")
            #expect((env?["value"] as? String)?.hasSuffix("/\(world.database)") == true)
            for release in ["postgresql", "valeo-erp"] {
                #expect(try await world.helmStatus(release) == "deployed", "\(release) is not deployed")
            }
            #expect(try world.archiveFiles() == world.archiveSource)
            #expect(try await world.kube.readyz(namespace: world.namespace, deployment: "valeo-erp") == 200)
            #expect(!run.output.contains(world.stack.postgresPassword))
            let journal = try String(contentsOfFile: try world.journalPath(), encoding: .utf8)
            #expect(!journal.contains(world.stack.postgresPassword), "the password reached the journal")
            #expect(journal.contains(world.backupSHA256), "the journal does not record the restored backup's checksum")
        }
    }

    @Test("with migrations, the app release records the restored schema's alembic revision in its helm description")
    func appReleaseRecordsMigrationRevision() async throws {
        try await RebuildWorld.with(schemaRevision: "0004") { world in
            try await world.loseEverything()
            let plan = try await DrctlProcess.run(
                world.drctl, ["plan", "rebuild", "-f", world.manifest], environment: world.environment)
            #expect(plan.output.contains("--description 'migration-revision=$SCHEMA_REVISION'"), "\(plan.output)")
            #expect(plan.output.contains("SELECT version_num FROM alembic_version"), "\(plan.output)")

            let run = try await DrctlProcess.run(
                world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment)
            #expect(run.status == 0, "drctl rebuild failed:\n\(run.output)\n\(run.errors)")
            let history = try await world.helmHistory("valeo-erp")
            #expect(history.last?.description == "migration-revision=0004", "\(history)")
            #expect(history.last.flatMap(HelmRollbackTarget.recordedMigrationRevision) == "0004")
        }
    }

    @Test("a corrupt newest backup is refused and the older good one restored; nothing touched before that")
    func corruptNewestBackupIsSkipped() async throws {
        try await RebuildWorld.with { world in
            let before = try await world.tableDigests()
            try await world.uploadCorruptNewerBackup()
            try await world.loseEverything()

            let run = try await DrctlProcess.run(
                world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment)
            #expect(run.status == 0, "drctl rebuild failed:\n\(run.output)\n\(run.errors)")
            #expect(try await world.tableDigests() == before)
            #expect(run.output.contains("refused \(world.corruptName)"))
        }
    }

    @Test(
        "the backup is chosen and spooled beside the PostgreSQL release (backup.select waits for nothing of the cluster or the database); backup.fetch loads that choice"
    )
    func offsiteReadBesideThePostgresRelease() async throws {
        try await RebuildWorld.with { world in
            let before = try await world.tableDigests()
            try await world.loseEverything()

            let plan = try await DrctlProcess.run(
                world.drctl, ["plan", "rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment)
            let planned = try JSONSerialization.jsonObject(with: Data(plan.output.utf8)) as? [String: Any]
            let steps = planned?["steps"] as? [[String: Any]] ?? []
            func dependencies(_ id: String) -> Set<String>? {
                (steps.first { $0["id"] as? String == id }?["dependsOn"] as? [String]).map(Set.init)
            }
            // The off-site read waits for what cluster.api waits for (the provision hooks) and nothing else: it
            // runs beside cluster.api and the PostgreSQL release; the load waits for the database and the choice.
            let select = dependencies("backup.select")
            #expect(select != nil && select == dependencies("cluster.api"), "\(plan.output)")
            #expect(select?.allSatisfy { $0.hasPrefix("provision.") } == true)
            #expect(dependencies("backup.fetch") == ["database.ready", "backup.select"])

            let run = try await DrctlProcess.run(
                world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment)
            #expect(run.status == 0, "drctl rebuild failed:\n\(run.output)\n\(run.errors)")
            let selected = try #require(DrctlProcess.outputs(ofStep: "backup.select", in: run.output), "\(run.output)")
            let fetch = try #require(DrctlProcess.outputs(ofStep: "backup.fetch", in: run.output))
            #expect(selected["spooled"] == "yes", "\(selected)")
            #expect(selected["sha256"] == world.backupSHA256 && selected["checksumVerified"] == "yes")
            // What backup.select chose and verified is what backup.fetch loaded.
            #expect(fetch["key"] == selected["key"] && fetch["sha256"] == selected["sha256"], "\(fetch)")
            // The spool lived in the run's scratch folder, and is gone with it.
            let path = try #require(selected["path"])
            #expect(path.hasPrefix(world.folder + "/state/work/"), "\(path)")
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(try await world.tableDigests() == before)
        }
    }

    @Test(
        "a tampered newest backup (bytes changed, its sidecar's checksum kept) is refused by backup.select before any database exists; the older one is restored"
    )
    func tamperedBackupIsRefusedBeforeAnyDatabase() async throws {
        try await RebuildWorld.with { world in
            let before = try await world.tableDigests()
            try await world.uploadNewerBackup(tampered: true)
            try await world.loseEverything()

            // Stopped right after backup.select finished: its refusal is done, and no database was created for it.
            var databasesAtSelect: [String]?
            let (paused, run) = try await DrctlProcess.runPaused(
                world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment,
                at: "done:backup.select"
            ) { pid in
                databasesAtSelect = try await world.databases(like: "_restore_")
                kill(pid, SIGCONT)
            }
            #expect(paused, "the run never got to backup.select:\n\(run.output)")
            #expect(run.status == 0, "drctl rebuild failed:\n\(run.output)\n\(run.errors)")
            #expect(databasesAtSelect == [], "\(databasesAtSelect ?? [])")
            let select = try #require(DrctlProcess.outputs(ofStep: "backup.select", in: run.output))
            #expect(select["name"] == "\(world.database)_backup_20261124_020000.sql.gz", "\(select)")
            #expect(select["skipped"]?.hasPrefix(world.corruptName + ": ") == true, "\(select)")
            #expect(run.output.contains("refused \(world.corruptName) before any database was touched"))
            // Never handed to psql: neither loaded from a spool nor streamed.
            #expect(!run.output.contains("spool of \(world.corruptName)"))
            #expect(!run.output.contains("streaming \(world.corruptName)"))
            let fetch = try #require(DrctlProcess.outputs(ofStep: "backup.fetch", in: run.output))
            #expect(fetch["key"] == select["key"] && fetch["sha256"] == world.backupSHA256)
            #expect(try await world.tableDigests() == before)
        }
    }

    @Test(
        "killed after backup.select, resumed: its journaled choice is used (not chosen again, though a newer backup appeared), the lost spool downloaded again"
    )
    func killedAfterSelectResumesWithItsChoice() async throws {
        try await RebuildWorld.with { world in
            let before = try await world.tableDigests()
            try await world.loseEverything()

            let killed = try await DrctlProcess.runKilled(
                world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment,
                pausedAt: "done:backup.select")
            #expect(killed.killed, "the run finished before it could be killed:\n\(killed.output)")
            let runID = try #require(killed.runID, "no run id in:\n\(killed.output)")
            let selected = try world.journalRecords(runID: runID).first {
                $0["type"] as? String == "step-completed" && $0["step"] as? String == "backup.select"
            }
            let select = try #require(selected?["outputs"] as? [String: String])
            let path = try #require(select["path"])
            // The spool: the owner's only, in the run's private folder.
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            let folderMode =
                try FileManager.default.attributesOfItem(atPath: (path as NSString).deletingLastPathComponent)[
                    .posixPermissions] as? Int
            #expect(mode == 0o600 && folderMode == 0o700)
            // The spool is lost, and a newer backup appears off-site: the resumed run keeps its choice.
            try FileManager.default.removeItem(atPath: path)
            try await world.uploadNewerBackup(tampered: false)

            let resumed = try await DrctlProcess.run(
                world.drctl, ["resume", runID, "-o", "json"], environment: world.environment)
            #expect(resumed.status == 0, "drctl resume failed:\n\(resumed.output)\n\(resumed.errors)")
            let restarted = DrctlProcess.steps(withEvent: "step-started", in: resumed.output)
            #expect(!restarted.contains("backup.select"), "backup.select chose again")
            #expect(resumed.output.contains("downloading it again"))
            let fetch = try #require(DrctlProcess.outputs(ofStep: "backup.fetch", in: resumed.output))
            #expect(fetch["key"] == select["key"] && fetch["sha256"] == select["sha256"], "\(fetch)")
            #expect(try await world.tableDigests() == before)
        }
    }

    @Test("a rebuild killed with SIGKILL during the restore resumes to the same end state; done steps are not redone")
    func killedDuringRestoreResumes() async throws {
        try await RebuildWorld.with { world in
            let before = try await world.tableDigests()
            try await world.loseEverything()

            // Killed after the swap, before the journal recorded it: resume must find the swap done by its probe.
            let killed = try await DrctlProcess.runKilled(
                world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment,
                pausedAt: "effect:database.restore")
            #expect(killed.killed, "the run finished before it could be killed:\n\(killed.output)")
            let runID = try #require(killed.runID, "no run id in:\n\(killed.output)")
            let completedBefore = try world.completedSteps(runID: runID)

            let resumed = try await DrctlProcess.run(
                world.drctl, ["resume", runID, "-o", "json"], environment: world.environment)
            #expect(resumed.status == 0, "drctl resume failed:\n\(resumed.output)\n\(resumed.errors)")
            #expect(try await world.tableDigests() == before)
            #expect(try world.archiveFiles() == world.archiveSource)
            #expect(try await world.kube.readyz(namespace: world.namespace, deployment: "valeo-erp") == 200)
            let restarted = Set(DrctlProcess.steps(withEvent: "step-started", in: resumed.output))
            #expect(
                restarted.isDisjoint(with: completedBefore), "completed before the kill, started again: \(restarted)")
            #expect(!completedBefore.contains("database.restore"))
            #expect(!restarted.contains("database.restore"), "the swap was done, yet it ran again")
            let show = try await DrctlProcess.run(
                world.drctl, ["runs", "show", runID], environment: world.environment)
            #expect(show.output.contains("resumed 1×"), "\(show.output)")
        }
    }

    @Test("the app release is at 0 replicas until the swap is done, then scaled up, ready and recorded by helm")
    func appStaysAtZeroReplicasUntilTheSwap() async throws {
        try await RebuildWorld.with { world in
            let before = try await world.tableDigests()
            try await world.loseEverything()
            // Stopped right before the scale-up: the load and the swap are done, and so is the staged install.
            let (run, atZero) = try await world.rebuildSeeingTheAppBeforeScaleUp()
            #expect(run.status == 0, "drctl rebuild failed:\n\(run.output)\n\(run.errors)")
            let staged = try #require(atZero, "the run never reached app.scale-up:\n\(run.output)")
            #expect(staged.replicas == 0, "the app ran before the swap")
            #expect(staged.readyz != 200)
            #expect(staged.history.map(\.description) == [HelmRollbackTarget.stagedInstallDescription])
            #expect(staged.digests == before, "the swap was not done before the scale-up")
            // The staged install waits for nothing of the database: it starts before the load. (Beside
            // postgresql.install, backup.select and archive.sync: 4 steps at once, the executor's default.)
            let events = run.output.split(separator: "\n").compactMap { line -> String? in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let event = object["event"] as? String, let step = object["step"] as? String
                else { return nil }
                return event + " " + step
            }
            let stagedStart = try #require(events.firstIndex(of: "step-started app.install"))
            let loadStart = try #require(events.firstIndex(of: "step-started backup.fetch"))
            #expect(stagedStart < loadStart, "\(events)")
            #expect(try await world.deploymentReplicas("valeo-erp") == 2)
            #expect(try await world.kube.readyz(namespace: world.namespace, deployment: "valeo-erp") == 200)
            let history = try await world.helmHistory("valeo-erp")
            #expect(history.count == 2 && history.last?.status == "deployed", "\(history)")
            #expect(try await world.helmValues("valeo-erp")["replicaCount"] as? Int == 2)
            #expect(try await world.tableDigests() == before)
        }
    }

    @Test("an app release already deployed is left serving while the database loads, and upgraded after the swap")
    func aDeployedAppIsNotStoppedForTheLoad() async throws {
        try await RebuildWorld.with { world in
            let before = try await world.tableDigests()
            try await world.loseEverything()
            let first = try await DrctlProcess.run(
                world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment)
            #expect(first.status == 0, "the first rebuild failed:\n\(first.output)\n\(first.errors)")
            // The database is lost again; the cluster and its app release are not.
            try await world.loseEverything()
            let deployed = try await world.helmHistory("valeo-erp")

            let (run, duringLoad) = try await world.rebuildSeeingTheAppBeforeScaleUp()
            #expect(run.status == 0, "drctl rebuild failed:\n\(run.output)\n\(run.errors)")
            let seen = try #require(duringLoad, "the run never reached app.scale-up:\n\(run.output)")
            #expect(seen.replicas == 2, "the deployed app was stopped for the load")
            #expect(seen.history.count == deployed.count, "a staged revision was installed: \(seen.history)")
            #expect(run.output.contains("valeo-erp is already deployed"), "\(run.output)")
            let after = try await world.helmHistory("valeo-erp")
            #expect(after.count == deployed.count + 1 && after.last?.status == "deployed", "\(after)")
            #expect(try await world.deploymentReplicas("valeo-erp") == 2)
            #expect(try await world.kube.readyz(namespace: world.namespace, deployment: "valeo-erp") == 200)
            #expect(try await world.tableDigests() == before)
        }
    }

    @Test("a rebuild killed while helm installs the app (release left pending) resumes and finishes")
    func killedDuringHelmInstallResumes() async throws {
        try await RebuildWorld.with { world in
            let before = try await world.tableDigests()
            try await world.loseEverything()
            // The stand-in holds the create of the app's Deployment (a slow admission webhook): helm's staged
            // install stays pending-install, for as long as the test takes, until the fault is cleared.
            try await world.kube.setFaults(#"{"holdCreates": ["deployments/\#(world.namespace)/valeo-erp"]}"#)
            let killed = try await DrctlProcess.runKilled(
                world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment,
                whenOutputContains: "\"step\":\"app.install\"", delay: .zero,
                andCondition: { (try? await world.helmStatus("valeo-erp"))?.hasPrefix("pending-") == true })
            #expect(killed.killed, "the run finished before it could be killed:\n\(killed.output)")
            // A machine that dies takes helm with it (a SIGKILL of drctl alone would leave helm finishing).
            _ = try await CommandRunner().run(
                CommandInvocation("pkill", ["-KILL", "-f", "upgrade --install valeo-erp .*\(world.kube.kubeconfig)"]))
            #expect(try await world.helmStatus("valeo-erp").hasPrefix("pending-"), "helm was not left pending")
            try await world.kube.clearFaults()
            let runID = try #require(killed.runID, "no run id in:\n\(killed.output)")
            let resumed = try await DrctlProcess.run(
                world.drctl, ["resume", runID, "-o", "json"], environment: world.environment)
            #expect(resumed.status == 0, "drctl resume failed:\n\(resumed.output)\n\(resumed.errors)")
            #expect(resumed.output.contains("deleting only that record"))
            #expect(try await world.helmStatus("valeo-erp") == "deployed")
            #expect(try await world.tableDigests() == before)
            #expect(try await world.kube.readyz(namespace: world.namespace, deployment: "valeo-erp") == 200)
        }
    }

    @Test(
        "a rebuild killed during the archive sync resumes (stopping its aws first) to a complete archive and database")
    func killedDuringArchiveSyncResumes() async throws {
        try await RebuildWorld.with { world in
            let before = try await world.tableDigests()
            try await world.loseEverything()
            // Paused as the sync starts, continued, and killed once its `aws s3 sync` runs: the resume stops that
            // aws before it syncs again.
            var syncing = false
            let (paused, killed) = try await DrctlProcess.runPaused(
                world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment,
                at: "start:archive.sync"
            ) { pid in
                kill(pid, SIGCONT)
                for _ in 0..<600 where !syncing {
                    syncing = DrctlProcess.children(of: pid).contains { $0.command == "aws" }
                    if !syncing { try await Task.sleep(for: .milliseconds(20)) }
                }
                kill(pid, SIGKILL)
            }
            #expect(paused && syncing, "the sync's aws never ran:\n\(killed.output)")
            let runID = try #require(DrctlProcess.runID(in: killed.output), "no run id in:\n\(killed.output)")
            let completedBefore = try world.completedSteps(runID: runID)
            #expect(!completedBefore.contains("archive.sync"))
            let resumed = try await DrctlProcess.run(
                world.drctl, ["resume", runID, "-o", "json"], environment: world.environment)
            #expect(resumed.status == 0, "drctl resume failed:\n\(resumed.output)\n\(resumed.errors)")
            let restarted = Set(DrctlProcess.steps(withEvent: "step-started", in: resumed.output))
            #expect(restarted.isDisjoint(with: completedBefore), "completed before the kill, started again")
            #expect(try world.archiveFiles() == world.archiveSource)
            #expect(try await world.tableDigests() == before)
        }
    }
}

/// One isolated world per test: its own database, bucket, Kubernetes stand-in, archive folder and state dir.
struct RebuildWorld: Sendable {
    let stack: StackEnvironment
    let kube: KubeStandIn
    let folder: String
    let manifest: String
    let database: String
    let bucket: String
    let namespace = "sandbox"
    let drctl: String
    let environment: [String: String]
    let archiveSource: [String: Int]
    let backupSHA256: String
    var corruptName: String { "\(database)_backup_29991231_235959.sql.gz" }

    /// Builds a world, runs `body`, and always removes the world's databases and files afterwards.
    /// - Parameter schemaRevision: the backed-up database is at this alembic revision (an `alembic_version`
    ///   table), and the manifest has `migrations`.
    /// - Parameter heldLoad: the backed-up database has what makes its load wait on a role a test holds
    ///   (`LockHold`), at the load's end or at its start.
    static func with(
        schemaRevision: String? = nil, jobImageLayout: String? = nil, heldLoad: HeldLoad? = nil,
        _ body: (RebuildWorld) async throws -> Void
    ) async throws {
        let world = try await make(schemaRevision: schemaRevision, jobImageLayout: jobImageLayout, heldLoad: heldLoad)
        do {
            try await body(world)
        } catch {
            await world.tearDown()
            throw error
        }
        await world.tearDown()
    }

    /// - Parameter jobImageLayout: `database.dataPlane: job` with drctl's image from this layout: the manifest
    ///   names the database `postgresql.sandbox.svc.cluster.local` at the stack's port (the stand-in's pods run on
    ///   the host network), the PostgreSQL release's Service has that port, and its pods forward to the stack.
    static func make(
        schemaRevision: String? = nil, jobImageLayout: String? = nil, heldLoad: HeldLoad? = nil
    ) async throws -> RebuildWorld {
        let stack = try StackEnvironment.current(requiring: ["kubectl", "aws", "psql", "pg_dump", "gzip"])
        let podForwards = jobImageLayout.map { _ in
            "[{\"selector\": \"app.kubernetes.io/name=postgresql\", \"port\": \(stack.postgresPort),"
                + " \"to\": \"127.0.0.1:\(stack.postgresPort)\"}]"
        }
        let kube = try KubeStandIn(
            projectRoot: stack.projectRoot, imageLayout: jobImageLayout, podForwards: podForwards)
        return try await make(stack: stack, kube: kube, schemaRevision: schemaRevision, heldLoad: heldLoad) {
            text, folder, bucket in
            guard jobImageLayout != nil else { return text.yaml }
            let values = folder + "/postgresql-values.yaml"
            let sandbox =
                (try? String(contentsOfFile: stack.projectRoot + "/values/sandbox/postgresql.yaml", encoding: .utf8))
                ?? ""
            try? (sandbox + "\nservice: { port: \(stack.postgresPort) }\n").write(
                toFile: values, atomically: true, encoding: .utf8)
            // In the cluster the archive goes into the app's claim (the sample chart's archive.enabled).
            var inCluster = text
            inCluster.archive = nil
            let root = stack.projectRoot
            return inCluster.yaml.replacingOccurrences(
                of: "  host: \(stack.postgresHost)\n",
                with: "  host: postgresql.sandbox.svc.cluster.local\n  dataPlane: job\n"
            ).replacingOccurrences(of: root + "/values/sandbox/postgresql.yaml", with: values)
                .replacingOccurrences(
                    of: "    values: \(root)/values/sandbox/valeo-erp.yaml\n",
                    with:
                        "    values: [\(root)/values/sandbox/valeo-erp.yaml, \(root)/values/sandbox/valeo-erp-archive.yaml]\n"
                )
                + "archive: { source: \"s3://\(bucket)/archives/\", destination: \(folder)/archive/,"
                + " volumeClaim: valeo-erp-archive }\n"
        }
    }

    /// A world on `kube` whose drctl manifest is `yaml(manifest, folder, bucket)`, from the world's usual one.
    static func make(
        stack: StackEnvironment, kube: KubeStandIn, schemaRevision: String? = nil, heldLoad: HeldLoad? = nil,
        yaml: (TestManifest, _ folder: String, _ bucket: String) -> String
    ) async throws -> RebuildWorld {
        let folder = NSTemporaryDirectory() + "drctl-rebuild-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: folder + "/manifests", withIntermediateDirectories: true)
        let database = StackEnvironment.uniqueDatabaseName("rebuild")
        let bucket = "rebuild-" + UUID().uuidString.prefix(8).lowercased()
        let manifest = folder + "/manifests/test.yaml"
        var text = Self.manifest(
            stack: stack, database: database, bucket: bucket, folder: folder, kubeconfig: kube.kubeconfig,
            readinessURL: kube.readyzURL(namespace: "sandbox", deployment: "valeo-erp"))
        if schemaRevision != nil { text.migrationsDirectory = stack.projectRoot + "/samples/migrations" }
        try yaml(text, folder, bucket).write(toFile: manifest, atomically: true, encoding: .utf8)
        let environment = try Self.environment(stack: stack, kube: kube, folder: folder)

        let world = RebuildWorld(
            stack: stack, kube: kube, folder: folder, manifest: manifest, database: database, bucket: bucket,
            drctl: try DrctlProcess.binary(), environment: environment,
            archiveSource: try Self.makeArchive(in: folder + "/archive-source"),
            backupSHA256: try await Self.seedAndBackUp(
                stack: stack, database: database, bucket: bucket, folder: folder, environment: environment,
                schemaRevision: schemaRevision, heldLoad: heldLoad))
        try await world.aws([
            "s3", "sync", folder + "/archive-source", "s3://\(bucket)/archives/", "--only-show-errors",
        ])
        return world
    }

    /// The world's manifest: its database, `bucket` for backups and archive, the app on the world's stand-in.
    static func manifest(
        stack: StackEnvironment, database: String, bucket: String, folder: String, kubeconfig: String,
        readinessURL: String
    ) -> TestManifest {
        var manifest = TestManifest(
            stack: stack, environment: "rebuild-test-" + database.replacingOccurrences(of: "_", with: "-"),
            database: database, bucket: bucket,
            backupsFolder: folder + "/backups", kubeconfig: kubeconfig, readinessURL: readinessURL)
        manifest.smokeQuery = "SELECT COUNT(*) FROM documents_header"
        manifest.archive = (source: "s3://\(bucket)/archives/", destination: folder + "/archive/")
        return manifest
    }

    /// What drctl runs with: the stack, the world's stand-in, state dir and home; no runbook overrides.
    static func environment(stack: StackEnvironment, kube: KubeStandIn, folder: String) throws -> [String: String] {
        var environment = stack.variables
        environment["KUBECONFIG"] = kube.kubeconfig
        environment["DRCTL_STATE_DIR"] = folder + "/state"
        environment["HOME"] = folder + "/home"
        environment["DRCTL_HELM"] = try stack.tool("bin/helm")
        for name in ["DB_HOST", "DB_PORT", "DB_USER", "DB_NAME", "DB_PASSWORD"] { environment[name] = nil }
        return environment
    }

    /// A database with several tables, unicode, NULLs and large text, dumped with the real pg_dump | gzip and
    /// uploaded with a `.sha256` sidecar, as `drctl backup sync` does.
    static func seedAndBackUp(
        stack: StackEnvironment, database: String, bucket: String, folder: String, environment: [String: String],
        schemaRevision: String? = nil, heldLoad: HeldLoad? = nil
    ) async throws -> String {
        let runner = CommandRunner()
        let admin = Postgres(
            connection: PostgresConnection(
                host: stack.postgresHost, port: stack.postgresPort, user: stack.postgresUser, database: "postgres",
                password: stack.postgresPassword))
        try await runner.runChecked(admin.createDatabase(database))
        var postgres = admin
        postgres.connection = admin.connection.with(database: database)
        try await runner.runChecked(
            postgres.query(
                """
                CREATE TABLE documents_header (id text PRIMARY KEY, title text NOT NULL, customer text, amount numeric(12,2),
                  notes text, created_at timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00');
                CREATE TABLE documents_line (document_id text REFERENCES documents_header(id), line int, item text,
                  PRIMARY KEY (document_id, line));
                INSERT INTO documents_header (id, title, customer, amount, notes)
                  SELECT 'DOC-' || i, 'Rechnung Nr. ' || i || ' für Müller & Söhne — ✓',
                         CASE WHEN i % 5 = 0 THEN NULL ELSE 'CUST-' || (i % 17) END, (i * 13.37)::numeric(12,2),
                         repeat('Lieferung frei Haus gemäß Rahmenvertrag. ', 1 + i % 40)
                  FROM generate_series(1, 3000) AS i;
                INSERT INTO documents_line SELECT 'DOC-' || i, l, 'Artikel ' || l FROM generate_series(1, 3000) i,
                  generate_series(1, 3) l;
                """))
        switch heldLoad {
        case .atItsEnd(let role):
            try await runner.runChecked(
                postgres.query("GRANT SELECT ON documents_line TO \(PostgresQuoting.identifier(role))"))
        case .atItsStart(let role):
            // 4 MiB of random bytes (incompressible: about 4.5 MB of gzip) in 1,024 rows.
            try await runner.runChecked(
                postgres.query(
                    "CREATE SCHEMA held AUTHORIZATION \(PostgresQuoting.identifier(role));"
                        + " CREATE TABLE documents_scan (id int PRIMARY KEY, page bytea NOT NULL);"
                        + " INSERT INTO documents_scan SELECT i, decode((SELECT string_agg(md5(random()::text || i || j),"
                        + " '') FROM generate_series(1, 256) j), 'hex') FROM generate_series(1, 1024) i;"))
        case nil:
            break
        }
        if let schemaRevision {
            // What alembic leaves in a migrated database.
            try await runner.runChecked(
                postgres.query(
                    "CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY); "
                        + "INSERT INTO alembic_version VALUES (\(PostgresQuoting.literal(schemaRevision)));"))
        }
        let backups = folder + "/upload"
        try FileManager.default.createDirectory(atPath: backups, withIntermediateDirectories: true)
        let name = "\(database)_backup_20261124_020000.sql.gz"
        let file = backups + "/" + name
        try await runner.runChecked(CommandPipeline([postgres.dump(), Gzip().compress()], output: .file(file)))
        let sha = try SHA256Checksum.ofFile(atPath: file)
        try "\(sha)  \(name)\n".write(toFile: file + ".sha256", atomically: true, encoding: .utf8)
        try await runner.runChecked(
            CommandInvocation("aws", ["s3", "mb", "s3://\(bucket)"], environment: environment))
        for path in [file, file + ".sha256"] {
            let key = "postgresql/" + (path as NSString).lastPathComponent
            try await runner.runChecked(
                CommandInvocation(
                    "aws", ["s3", "cp", path, "s3://\(bucket)/\(key)", "--only-show-errors"],
                    environment: environment))
        }
        return sha
    }

    static func makeArchive(in folder: String) throws -> [String: Int] {
        var files: [String: Int] = [:]
        for index in 1...40 {
            let relative = "2026/\(String(format: "%02d", index % 12 + 1))/doc-\(index).txt"
            let path = folder + "/" + relative
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let text = String(repeating: "Archiv \(index) ", count: index * 10)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            files[relative] = text.utf8.count
        }
        return files
    }

    func aws(_ arguments: [String]) async throws {
        try await CommandRunner().runChecked(CommandInvocation("aws", arguments, environment: environment))
    }

    /// A newer backup that is truncated: `gzip -t` fails on it.
    func uploadCorruptNewerBackup() async throws {
        let path = folder + "/upload/" + corruptName
        let good = try Data(
            contentsOf: URL(fileURLWithPath: folder + "/upload/\(database)_backup_20261124_020000.sql.gz"))
        try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: path))
        try await aws(["s3", "cp", path, "s3://\(bucket)/postgresql/\(corruptName)", "--only-show-errors"])
    }

    /// A backup newer than the world's (named `corruptName`) with its `.sha256` sidecar: a copy of the world's
    /// backup, and with `tampered` some of its bytes changed while its sidecar keeps the good checksum.
    func uploadNewerBackup(tampered: Bool) async throws {
        let path = folder + "/upload/" + corruptName
        var bytes = [UInt8](
            try Data(contentsOf: URL(fileURLWithPath: folder + "/upload/\(database)_backup_20261124_020000.sql.gz")))
        if tampered {
            for index in bytes.count / 2..<min(bytes.count / 2 + 64, bytes.count - 8) { bytes[index] ^= 0x5A }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try "\(backupSHA256)  \(corruptName)\n".write(toFile: path + ".sha256", atomically: true, encoding: .utf8)
        for file in [path, path + ".sha256"] {
            let key = "postgresql/" + (file as NSString).lastPathComponent
            try await aws(["s3", "cp", file, "s3://\(bucket)/\(key)", "--only-show-errors"])
        }
    }

    /// The app and the database as a rebuild left them when it stopped itself right before `app.scale-up`.
    struct AppBeforeScaleUp {
        var replicas: Int
        var readyz: Int
        var history: [HelmRevision]
        var digests: [String]
    }

    /// Runs `drctl rebuild` with `DRCTL_PAUSE_AT=start:app.scale-up`, reads the app and the tables where it stopped
    /// (the load and the swap done), and lets it finish; `app` is nil when the run never got there.
    func rebuildSeeingTheAppBeforeScaleUp() async throws -> (run: DrctlProcess.Result, app: AppBeforeScaleUp?) {
        var app: AppBeforeScaleUp?
        let (_, run) = try await DrctlProcess.runPaused(
            drctl, ["rebuild", "-f", manifest, "-o", "json"], environment: environment, at: "start:app.scale-up"
        ) { pid in
            app = AppBeforeScaleUp(
                replicas: try await deploymentReplicas("valeo-erp"),
                readyz: try await kube.readyz(namespace: namespace, deployment: "valeo-erp"),
                history: try await helmHistory("valeo-erp"), digests: try await tableDigests())
            kill(pid, SIGCONT)
        }
        return (run, app)
    }

    /// The lost cluster is this test's own stand-in, which starts empty: the new cluster. The database and the
    /// archive destination are gone too.
    func loseEverything() async throws {
        let admin = Postgres(
            connection: PostgresConnection(
                host: stack.postgresHost, port: stack.postgresPort, user: stack.postgresUser, database: "postgres",
                password: stack.postgresPassword))
        try await CommandRunner().runChecked(admin.dropDatabase(database, force: true))
        try? FileManager.default.removeItem(atPath: folder + "/archive")
    }

    /// Each table's row count and md5 over its rows in key order.
    func tableDigests() async throws -> [String] {
        try await Self.tableDigests(stack: stack, database: database)
    }

    static func tableDigests(stack: StackEnvironment, database: String) async throws -> [String] {
        let postgres = Postgres(connection: stack.connection(database: database))
        var digests: [String] = []
        for table in ["documents_header", "documents_line"] {
            let result = try await CommandRunner().runChecked(
                postgres.query(
                    "SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM \(table) t"))
            digests.append(table + "=" + result.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return digests
    }

    func helmStatus(_ release: String) async throws -> String {
        let helm = Helm(
            executable: environment["DRCTL_HELM"] ?? "helm", namespace: namespace, kubeconfig: kube.kubeconfig)
        let result = try await CommandRunner().runChecked(helm.status(release: release).with(environment: environment))
        return try Helm.parseStatus(result.standardOutput).status
    }

    /// The deployment's `.spec.replicas`, as `kubectl get` reads it.
    func deploymentReplicas(_ deployment: String) async throws -> Int {
        let kubectl = Kubectl(executable: "kubectl", namespace: namespace, kubeconfig: kube.kubeconfig)
        let result = try await CommandRunner().runChecked(
            kubectl.deploymentReplicas(deployment).with(environment: environment))
        return try Kubectl.parseReplicas(result.output)
    }

    /// `helm history RELEASE`, oldest first.
    func helmHistory(_ release: String) async throws -> [HelmRevision] {
        let helm = Helm(
            executable: environment["DRCTL_HELM"] ?? "helm", namespace: namespace, kubeconfig: kube.kubeconfig)
        let result = try await CommandRunner().runChecked(
            helm.history(release: release).with(environment: environment))
        return try Helm.parseHistory(result.standardOutput)
    }

    /// `helm get values RELEASE -o json`: the values the release was deployed with.
    func helmValues(_ release: String) async throws -> [String: Any] {
        let helm = environment["DRCTL_HELM"] ?? "helm"
        let result = try await CommandRunner().runChecked(
            CommandInvocation(
                helm,
                ["get", "values", release, "-o", "json", "--namespace", namespace, "--kubeconfig", kube.kubeconfig],
                environment: environment))
        return try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any] ?? [:]
    }

    func archiveFiles() throws -> [String: Int] {
        let root = folder + "/archive"
        var files: [String: Int] = [:]
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return files }
        for case let relative as String in enumerator {
            let attributes = try FileManager.default.attributesOfItem(atPath: root + "/" + relative)
            if (attributes[.type] as? FileAttributeType) == FileAttributeType.typeRegular {
                files[relative] = (attributes[.size] as? NSNumber)?.intValue ?? -1
            }
        }
        return files
    }

    func journalPath() throws -> String {
        let runs = folder + "/state/runs"
        let id = try #require(try FileManager.default.contentsOfDirectory(atPath: runs).sorted().last)
        return runs + "/" + id + "/journal.jsonl"
    }

    func completedSteps(runID: String) throws -> [String] {
        let journal = try String(contentsOfFile: folder + "/state/runs/\(runID)/journal.jsonl", encoding: .utf8)
        return journal.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("\"step-completed\""),
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            else { return nil }
            return object["step"] as? String
        }
    }

    func tearDown() async {
        let admin = Postgres(
            connection: PostgresConnection(
                host: stack.postgresHost, port: stack.postgresPort, user: stack.postgresUser, database: "postgres",
                password: stack.postgresPassword))
        let pattern = PostgresQuoting.literal(database + "%")
        let list = try? await CommandRunner().run(
            admin.adminQuery("SELECT datname FROM pg_database WHERE datname LIKE \(pattern)"))
        for name in Postgres.parseRows(list?.output ?? "").compactMap(\.first) {
            _ = try? await CommandRunner().run(admin.dropDatabase(name, force: true))
        }
        try? FileManager.default.removeItem(atPath: folder)
    }
}
