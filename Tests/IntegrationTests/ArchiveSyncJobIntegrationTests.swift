import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// The rebuild's archive sync in the cluster (`database.dataPlane: port-forward`, where the database goes
/// through the tunnel and the archive into the app's volume) with the real binary: an Indexed Job from drctl's
/// image (`scripts/image build --dev`) that the stand-in's kubelet runs as runc containers, each pod running
/// `drctl agent archive-sync` with the real aws against moto into the claim the app's chart made
/// (`KUBELET_DIR/pvc/sandbox/valeo-erp-archive`). Real kubectl, helm, psql, pg_restore and aws.
@Suite("archive sync in an Indexed Job", .serialized)
struct ArchiveSyncJobIntegrationTests {
    @Test("rebuild: the archive lands in the app's claim through 4 shards, none of it in the local destination")
    func theArchiveLandsInTheClaim() async throws {
        try await ArchiveJobWorld.with { world in
            let plan = try await DrctlProcess.run(
                world.drctl, ["plan", "rebuild", "-f", world.manifest], environment: world.environment)
            #expect(plan.status == 0, "\(plan.output)\n\(plan.errors)")
            #expect(plan.output.contains("completionMode Indexed, completions 4, parallelism 2"), "\(plan.output)")
            #expect(plan.output.contains("claim valeo-erp-archive mounted at \(world.destination)"), "\(plan.output)")
            #expect(plan.output.contains("--resource=persistentvolumeclaims"), "\(plan.output)")

            let run = try await DrctlProcess.run(
                world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment)
            #expect(run.status == 0, "drctl rebuild failed:\n\(run.output)\n\(run.errors)")
            #expect(try world.claimFiles() == world.rebuild.archiveSource, "the claim does not hold the archive")
            #expect(
                !FileManager.default.fileExists(atPath: world.destination),
                "the sync wrote into the destination on this machine")
            for shard in 0..<4 {
                let files = world.rebuild.archiveSource.keys.filter { ArchiveShard.index(of: $0, count: 4) == shard }
                let bytes = files.reduce(0) { $0 + (world.rebuild.archiveSource[$1] ?? 0) }
                #expect(
                    run.output.contains("shard \(shard) of 4: \(files.count) files, \(bytes) bytes"),
                    "no files and bytes for shard \(shard) in:\n\(run.output)")
            }
            #expect(run.output.contains("[shard 3] drctl agent: shard 3 of 4"), "the pods' logs are not in the output")
            #expect(try await world.rebuild.tableDigests() == world.digests)
            #expect(try await world.kubectl(["get", "jobs", "-o", "name"]).isEmpty, "the finished Job was kept")
        }
    }

    @Test("one shard's pod fails: the run names the shard and its log tail; resume reruns only that shard")
    func aFailedShardIsTheOnlyOneResumed() async throws {
        try await ArchiveJobWorld.with { world in
            // The fault, controlled by the test: a folder the pods may not write into stands where one file of
            // one shard belongs (in the claim's folder); the other shards' files have writable folders.
            let victim = try #require(world.rebuild.archiveSource.keys.sorted().first { $0.hasPrefix("2026/") })
            let shard = ArchiveShard.index(of: victim, count: 4)
            try world.block(victim)

            let failed = try await DrctlProcess.run(
                world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment)
            #expect(failed.status == 1, "\(failed.output)\n\(failed.errors)")
            let runID = try #require(DrctlProcess.runID(in: failed.output), "no run id in:\n\(failed.output)")
            let said = failed.output + failed.errors
            #expect(said.contains("shard \(shard) of 4 failed"), "\(said)")
            #expect(said.contains("its pod's last log lines:"), "no log tail in:\n\(said)")
            #expect(said.contains(victim), "the log tail does not name the file that failed:\n\(said)")
            let others = (0..<4).filter { $0 != shard }
            #expect(
                said.contains("Completed and journaled: shards \(others.map(String.init).joined(separator: ","))"),
                "\(said)")
            // The journal holds the completed shards with the failure.
            let journal = try String(contentsOfFile: try world.rebuild.journalPath(), encoding: .utf8)
            #expect(journal.contains("\"completedShards\":\"\(others.map(String.init).joined(separator: ","))\""))

            try world.unblock(victim)
            let jobsBefore = world.jobCreations()
            let resumed = try await DrctlProcess.run(
                world.drctl, ["resume", runID, "--state-dir", world.rebuild.folder + "/state", "-o", "json"],
                environment: world.environment)
            #expect(resumed.status == 0, "resume failed:\n\(resumed.output)\n\(resumed.errors)")
            // One Job, of that shard only: its pods' log lines and the Job's name say which ran.
            #expect(
                world.jobCreations() == jobsBefore + 1, "Jobs created by resume: \(world.jobCreations() - jobsBefore)")
            let job = ArchiveSyncJob.jobName(runID: runID, shards: [shard], of: 4)
            #expect(resumed.output.contains("Job \(job) created"), "\(resumed.output)")
            #expect(resumed.output.contains("[shard \(shard)] "), "\(resumed.output)")
            for other in others { #expect(!resumed.output.contains("[shard \(other)] "), "shard \(other) ran again") }
            #expect(try world.claimFiles() == world.rebuild.archiveSource, "the claim does not equal the source")
            #expect(!FileManager.default.fileExists(atPath: world.destination))
            let after = try String(contentsOfFile: try world.rebuild.journalPath(), encoding: .utf8)
            #expect(after.contains("\"completedShards\":\"0,1,2,3\""), "the resumed step did not journal every shard")
        }
    }
}

/// `RebuildWorld` (database, backup and archive off-site, its own stand-in) with the stand-in's kubelet running
/// drctl's image, PostgreSQL's pods forwarded to the stack's database, and a port-forward manifest whose archive
/// goes into the app's claim `valeo-erp-archive` (the sample chart's `archive.enabled`).
struct ArchiveJobWorld {
    let rebuild: RebuildWorld
    let digests: [String]
    var drctl: String { rebuild.drctl }
    var manifest: String { rebuild.manifest }
    var environment: [String: String] { rebuild.environment }
    /// `archive.destination`: where the pods mount the claim, and a folder on this machine nothing may write.
    var destination: String { rebuild.folder + "/archive" }
    var claimFolder: String { rebuild.kube.kubeletDirectory + "/pvc/sandbox/valeo-erp-archive" }

    static func with(_ body: (ArchiveJobWorld) async throws -> Void) async throws {
        let stack = try StackEnvironment.current(requiring: ["kubectl", "aws", "psql", "pg_dump", "gzip"])
        let layout = try await DrctlImage.layout()
        let kube = try KubeStandIn(
            projectRoot: stack.projectRoot, imageLayout: layout,
            podForwards:
                "[{\"selector\": \"app.kubernetes.io/name=postgresql\", \"port\": 5432, \"to\": \"127.0.0.1:\(stack.postgresPort)\"}]"
        )
        let rebuild = try await RebuildWorld.make(stack: stack, kube: kube) { manifest, folder, bucket in
            var manifest = manifest
            manifest.archive = nil
            manifest.databaseHost = "postgresql.sandbox.svc.cluster.local"
            manifest.databasePort = 5432
            let root = stack.projectRoot
            return manifest.yaml
                .replacingOccurrences(of: "  port: 5432\n", with: "  port: 5432\n  dataPlane: port-forward\n")
                .replacingOccurrences(
                    of: "    values: \(root)/values/sandbox/valeo-erp.yaml\n",
                    with:
                        "    values: [\(root)/values/sandbox/valeo-erp.yaml, \(root)/values/sandbox/valeo-erp-archive.yaml]\n"
                )
                    + """
                    archive:
                      source: "s3://\(bucket)/archives/"
                      destination: \(folder)/archive/
                      volumeClaim: valeo-erp-archive
                      shards: 4
                      parallelism: 2

                    """
        }
        do {
            let world = ArchiveJobWorld(rebuild: rebuild, digests: try await rebuild.tableDigests())
            try await rebuild.loseEverything()
            try await body(world)
        } catch {
            await rebuild.tearDown()
            try? FileManager.default.removeItem(atPath: kube.kubeletDirectory + "/pvc/sandbox")
            throw error
        }
        await rebuild.tearDown()
        try? FileManager.default.removeItem(atPath: kube.kubeletDirectory + "/pvc/sandbox")
    }

    func kubectl(_ arguments: [String]) async throws -> String {
        let invocation = CommandInvocation(
            "kubectl", ["--kubeconfig", rebuild.kube.kubeconfig, "--namespace", "sandbox"] + arguments)
        return try await CommandRunner().runChecked(invocation).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Jobs the stand-in created so far (its request log).
    func jobCreations() -> Int {
        rebuild.kube.requestLog.split(separator: "\n").filter {
            $0.hasPrefix("POST /apis/batch/v1/namespaces/sandbox/jobs") && $0.contains("-> 201")
        }.count
    }

    /// Every regular file below the claim's folder, with its size.
    func claimFiles() throws -> [String: Int] {
        var files: [String: Int] = [:]
        guard let walker = FileManager.default.enumerator(atPath: claimFolder) else { return files }
        for case let relative as String in walker {
            let attributes = try FileManager.default.attributesOfItem(atPath: claimFolder + "/" + relative)
            if (attributes[.type] as? FileAttributeType) == .typeRegular {
                files[relative] = (attributes[.size] as? NSNumber)?.intValue ?? -1
            }
        }
        return files
    }

    /// A folder (root's, mode 0555: the pods' user may not write into it) where the file `relative` belongs;
    /// its parents writable for everyone, as the claim's folder is.
    func block(_ relative: String) throws {
        let path = claimFolder + "/" + relative
        var parent = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        while parent.count >= claimFolder.count {
            try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: parent)
            parent = (parent as NSString).deletingLastPathComponent
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: path)
    }

    func unblock(_ relative: String) throws {
        try FileManager.default.removeItem(atPath: claimFolder + "/" + relative)
    }
}
