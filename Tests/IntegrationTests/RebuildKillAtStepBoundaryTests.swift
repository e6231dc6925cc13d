import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// The rebuild killed with SIGKILL right after each of its steps finished, then `drctl resume`d: for every step
/// of the runbook (read from `drctl plan rebuild -o json`, so a new step is covered without editing this file).
/// The cases run side by side, each in its own world (stand-in, database, state, archive folder); they share one
/// seeded backup and archive in one bucket, which the rebuild only reads.
@Suite("Rebuild killed at every step boundary")
struct RebuildKillAtStepBoundaryTests {
    @Test(
        "killed right after the step finished, resumed: same end state, finished steps and the restore not redone",
        arguments: await RebuildBoundaries.planned())
    func killedAtStepBoundary(_ planned: RebuildBoundary) async throws {
        try #require(planned.unavailable == nil, "\(planned.unavailable ?? "")")
        let seed = try await RebuildSeed.shared()
        let boundary = planned.step
        try await RebuildWorld.with(seed: seed) { world in
            // drctl stops itself once the step's completion is journaled (DRCTL_PAUSE_AT=done:STEP) and is killed
            // there: the boundary is hit exactly, however fast the next step is.
            let (runID, before) = try await world.rebuildKilled(at: "done:\(boundary)")
            #expect(!before.contains(where: { $0["type"] as? String == "run-finished" }), "killed after the run ended")
            let completedBefore = Set(before.steps(ofType: "step-completed"))
            #expect(completedBefore.contains(boundary), "killed before \(boundary) was journaled as completed")
            // The restore: streaming the backup into a new database, then swapping it in.
            let restoreSteps = ["backup.fetch", "database.restore"]
            let inFlight = Set(before.steps(ofType: "step-started")).subtracting(completedBefore)
            // Staged and not yet scaled up: nothing of the app runs before the swap.
            if completedBefore.contains("app.install"),
                !Set(before.steps(ofType: "step-started")).contains("app.scale-up")
            {
                #expect(try await world.deploymentReplicas("valeo-erp") == 0, "the app runs before its scale-up")
            }

            let restarted = try await world.resume(runID)
            #expect(
                restarted.isDisjoint(with: completedBefore),
                "finished before the kill, started again: \(restarted.intersection(completedBefore).sorted())")
            if planned.isLast { #expect(restarted.isEmpty, "every step was done, yet \(restarted.sorted()) ran") }
            let all = try world.journalRecords(runID: runID)
            for step in restoreSteps {
                #expect(all.steps(ofType: "step-completed").filter { $0 == step }.count == 1, "\(step)")
                // Started once in all: finished, it is never redone; never started, it runs after resume.
                // Only one the kill interrupted may start again.
                if !inFlight.contains(step) {
                    #expect(
                        all.steps(ofType: "step-started").filter { $0 == step }.count == 1,
                        "\(step) ran more than once across the kill")
                }
            }
            #expect(try await world.tableDigests() == seed.digests)
            for release in ["postgresql", "valeo-erp"] {
                #expect(try await world.helmStatus(release) == "deployed", "\(release) is not deployed")
            }
            #expect(try world.archiveFiles() == seed.archiveSource)
            #expect(try await world.kube.readyz(namespace: world.namespace, deployment: "valeo-erp") == 200)
        }
    }

    @Test(
        "killed after helm changed the app release (staged install, scale-up), before the journal knew: resumed, the probe finds it done",
        arguments: ["app.install", "app.scale-up"])
    func killedAfterTheAppReleaseChanged(_ step: String) async throws {
        let seed = try await RebuildSeed.shared()
        try await RebuildWorld.with(seed: seed) { world in
            let (runID, before) = try await world.rebuildKilled(at: "effect:\(step)")
            #expect(!before.steps(ofType: "step-completed").contains(step))
            let revisions = try await world.helmHistory("valeo-erp").count

            #expect(!(try await world.resume(runID)).contains(step), "\(step) was done, yet it ran again")
            let history = try await world.helmHistory("valeo-erp")
            // The staged install and the scale-up, each once.
            #expect(history.count == 2, "\(history)")
            #expect(step == "app.install" ? revisions == 1 : revisions == 2)
            #expect(HelmRollbackTarget.isStagedInstall(history.first?.description ?? ""))
            #expect(try await world.deploymentReplicas("valeo-erp") == 2)
            #expect(try await world.tableDigests() == seed.digests)
            #expect(try await world.kube.readyz(namespace: world.namespace, deployment: "valeo-erp") == 200)
        }
    }
}

/// One step of the rebuild, the kill lands right after it finished.
struct RebuildBoundary: Sendable, CustomTestStringConvertible {
    var step: String
    /// The runbook's last step: the resume has no step left to run, only the run to finish.
    var isLast = false
    /// Why the steps could not be planned (the case then fails with it).
    var unavailable: String?

    var testDescription: String { unavailable.map { "plan unavailable: \($0)" } ?? step }
}

/// The rebuild's step ids, from `drctl plan rebuild -o json` of a world's manifest.
enum RebuildBoundaries {
    /// Never throws: a missing stack or binary becomes one case that fails with the reason (never zero cases,
    /// which would pass silently).
    static func planned() async -> [RebuildBoundary] {
        do {
            let stack = try StackEnvironment.current(requiring: ["kubectl", "aws", "psql", "pg_dump", "gzip"])
            let folder = NSTemporaryDirectory() + "drctl-rebuild-plan-" + UUID().uuidString.prefix(8)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let manifest = folder + "/manifests/test.yaml"
            try RebuildWorld.manifest(
                stack: stack, database: "rebuild_plan", bucket: "rebuild-plan", folder: folder,
                kubeconfig: folder + "/kubeconfig", readinessURL: "http://127.0.0.1:9/readyz"
            )
            .write(to: manifest)
            var environment = stack.variables
            environment["DRCTL_STATE_DIR"] = folder + "/state"
            environment["HOME"] = folder
            let plan = try await DrctlProcess.run(
                try DrctlProcess.binary(), ["plan", "rebuild", "-f", manifest, "-o", "json"],
                environment: environment)
            let object = try JSONSerialization.jsonObject(with: Data(plan.output.utf8)) as? [String: Any]
            let steps = (object?["steps"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
            guard plan.status == 0, !steps.isEmpty else {
                return [
                    RebuildBoundary(
                        step: "", unavailable: "drctl plan rebuild exited \(plan.status): \(plan.errors)")
                ]
            }
            return steps.map { RebuildBoundary(step: $0, isLast: $0 == steps.last) }
        } catch {
            return [RebuildBoundary(step: "", unavailable: error.localizedDescription)]
        }
    }
}

/// A source database seeded, dumped, and uploaded once per test process, with the archive files, into a bucket
/// the worlds only read. The source database itself is dropped as soon as it is backed up.
struct RebuildSeed: Sendable {
    let bucket: String
    /// The backup's key in the bucket; each world copies it under its own database's backup name.
    let backupKey: String
    let sha256: String
    let digests: [String]
    let archiveSource: [String: Int]

    static func shared() async throws -> RebuildSeed { try await Cache.instance.seed() }

    private actor Cache {
        static let instance = Cache()
        private var task: Task<RebuildSeed, any Error>?

        func seed() async throws -> RebuildSeed {
            if let task { return try await task.value }
            let task = Task { try await RebuildSeed.make() }
            self.task = task
            return try await task.value
        }
    }

    private static func make() async throws -> RebuildSeed {
        let stack = try StackEnvironment.current(requiring: ["aws", "psql", "pg_dump", "gzip"])
        let folder = NSTemporaryDirectory() + "drctl-rebuild-seed-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let database = StackEnvironment.uniqueDatabaseName("rebuildseed")
        let bucket = "rebuild-seed-" + UUID().uuidString.prefix(8).lowercased()
        let admin = Postgres(connection: stack.connection(database: "postgres"))
        do {
            let sha = try await RebuildWorld.seedAndBackUp(
                stack: stack, database: database, bucket: bucket, folder: folder, environment: stack.variables)
            let digests = try await RebuildWorld.tableDigests(stack: stack, database: database)
            let archive = try RebuildWorld.makeArchive(in: folder + "/archive-source")
            try await CommandRunner().runChecked(
                CommandInvocation(
                    "aws",
                    ["s3", "sync", folder + "/archive-source", "s3://\(bucket)/archives/", "--only-show-errors"],
                    environment: stack.variables))
            _ = try? await CommandRunner().run(admin.dropDatabase(database, force: true))
            return RebuildSeed(
                bucket: bucket, backupKey: "postgresql/\(database)_backup_20261124_020000.sql.gz", sha256: sha,
                digests: digests, archiveSource: archive)
        } catch {
            _ = try? await CommandRunner().run(admin.dropDatabase(database, force: true))
            throw error
        }
    }
}

extension RebuildWorld {
    /// Builds a world whose database is already lost, backed up off-site as `seed`; runs `body`; removes the
    /// world's databases and files afterwards.
    static func with<Result>(seed: RebuildSeed, _ body: (RebuildWorld) async throws -> Result) async throws
        -> Result
    {
        let world = try await make(seed: seed)
        do {
            let result = try await body(world)
            await world.tearDown()
            return result
        } catch {
            await world.tearDown()
            throw error
        }
    }

    static func make(seed: RebuildSeed) async throws -> RebuildWorld {
        let stack = try StackEnvironment.current(requiring: ["kubectl", "aws", "psql", "pg_dump", "gzip"])
        let kube = try KubeStandIn(projectRoot: stack.projectRoot)
        let folder = NSTemporaryDirectory() + "drctl-rebuild-" + UUID().uuidString.prefix(8)
        let database = StackEnvironment.uniqueDatabaseName("rebuildkill")
        let manifest = folder + "/manifests/test.yaml"
        try Self.manifest(
            stack: stack, database: database, bucket: seed.bucket, folder: folder, kubeconfig: kube.kubeconfig,
            readinessURL: kube.readyzURL(namespace: "sandbox", deployment: "valeo-erp")
        )
        .write(to: manifest)
        let world = RebuildWorld(
            stack: stack, kube: kube, folder: folder, manifest: manifest, database: database, bucket: seed.bucket,
            drctl: try DrctlProcess.binary(),
            environment: try Self.environment(stack: stack, kube: kube, folder: folder),
            archiveSource: seed.archiveSource, backupSHA256: seed.sha256)
        // The seed's backup under this world's database name, with its checksum sidecar.
        let name = "\(database)_backup_20261124_020000.sql.gz"
        try await world.aws(
            ["s3", "cp", "s3://\(seed.bucket)/\(seed.backupKey)", "s3://\(seed.bucket)/postgresql/\(name)"]
                + ["--only-show-errors"])
        let sidecar = folder + "/\(name).sha256"
        try "\(seed.sha256)  \(name)\n".write(toFile: sidecar, atomically: true, encoding: .utf8)
        try await world.aws([
            "s3", "cp", sidecar, "s3://\(seed.bucket)/postgresql/\(name).sha256", "--only-show-errors",
        ])
        return world
    }

    /// `drctl rebuild` stopped by itself at `point` (`DRCTL_PAUSE_AT`, no race) and killed there: the run's id
    /// and its journal as the kill left it.
    func rebuildKilled(at point: String) async throws -> (runID: String, records: [[String: Any]]) {
        let killed = try await DrctlProcess.runKilled(
            drctl, ["rebuild", "-f", manifest, "-o", "json"], environment: environment, pausedAt: point)
        #expect(killed.killed, "the run never paused at \(point):\n\(killed.output)")
        let runID = try #require(killed.runID, "no run id in:\n\(killed.output)")
        return (runID, try journalRecords(runID: runID))
    }

    /// `drctl resume RUN_ID`, which must succeed; the steps it started.
    func resume(_ runID: String) async throws -> Set<String> {
        let resumed = try await DrctlProcess.run(drctl, ["resume", runID, "-o", "json"], environment: environment)
        #expect(resumed.status == 0, "drctl resume failed:\n\(resumed.output)\n\(resumed.errors)")
        return Set(DrctlProcess.steps(withEvent: "step-started", in: resumed.output))
    }

    /// The journal of `runID`, one JSON object per record.
    func journalRecords(runID: String) throws -> [[String: Any]] {
        let journal = try String(contentsOfFile: folder + "/state/runs/\(runID)/journal.jsonl", encoding: .utf8)
        return journal.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}

extension [[String: Any]] {
    /// The step ids of the journal records of `type` (`step-started`, `step-completed`, …), in order.
    func steps(ofType type: String) -> [String] {
        compactMap { $0["type"] as? String == type ? $0["step"] as? String : nil }
    }
}
