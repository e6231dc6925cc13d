import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// A cluster-loss game day on the local stack with the real drctl binary, kubectl, helm, psql, pg_dump, gzip and
/// aws: production-like backups in their own bucket, a staging-like target in its own database and namespace.
@Suite("Game day end to end", .serialized)
struct GamedayEndToEndTests {
    @Test("a drill with a kill during the restore and a corrupt newest backup passes; the report shows both")
    func clusterLossDrillWithFaults() async throws {
        let world = try await GamedayWorld.make()
        do {
            try await drill(world)
        } catch {
            await world.tearDown()
            throw error
        }
        await world.tearDown()
    }

    private func drill(_ world: GamedayWorld) async throws {
        let runner = CommandRunner()
        let run = try await runner.run(
            CommandInvocation(
                world.drctl,
                [
                    "gameday", "-f", world.target, "--from", world.source, "--scenario", "cluster-loss", "--drill",
                    world.drill, "--release-timeout", "1m",
                ],
                environment: world.environment, timeout: .seconds(1_800)))
        #expect(run.status == .exited(0), "drctl gameday failed:\n\(run.output)\n\(run.standardErrorTail)")
        #expect(run.standardErrorTail.contains("fault injected"))

        let runs = RunCatalog(backend: LocalStateBackend(root: world.folder + "/state"))
        let runID = try #require(try await runs.list().first { $0.runbook == "gameday" }?.runID)
        let history = try await runs.history(runID: runID)
        #expect(history.status == .succeeded)
        #expect(history.segments.map(\.kind) == [.started, .resumed])
        // A real kill: the child drctl died by SIGKILL, so its segment has no end record; the lock was taken over.
        #expect(history.segments.first?.end == nil)
        #expect(run.standardErrorTail.contains("killed with SIGKILL after database.restore"))
        let reportPath = world.folder + "/state/gameday/\(runID)/report.json"
        let report = try GamedayReport.decode(json: try Data(contentsOf: URL(fileURLWithPath: reportPath)))
        #expect(report.verdict == .passed, "\(report.findings)")

        // Both faults are in the report, and how the run coped.
        #expect(report.faults.count == 2)
        #expect(report.faults.allSatisfy { $0.coped }, "\(report.faults)")
        #expect(report.faults.first?.fault.hasPrefix("drctl killed with SIGKILL after the effect of step") == true)
        let restore = try #require(report.steps.first { $0.id == "database.restore" })
        #expect(restore.attempts.map(\.outcome) == ["accepted-by-probe"])
        let injected = try #require(report.steps.first { $0.id == "fault.corrupt-backup" }?.evidence["name"])
        #expect(report.skippedBackups.contains { $0.hasPrefix(injected) })
        #expect(report.backup == world.backupName)

        // RPO and RTO are the journal's figures.
        let backupTime = try #require(BackupName(fileName: world.backupName)).timestamp
        #expect(report.objectives.rpoAchievedSeconds == world.incident.timeIntervalSince(backupTime))
        let end = try #require(history.endedAt)
        #expect(report.objectives.rtoAchievedSeconds == end.timeIntervalSince(history.startedAt))
        #expect(report.objectives.rtoTargetSeconds == 900)

        // The smoke checks ran against the restored target.
        #expect(report.steps.first { $0.id == "smoke.1" }?.evidence["value"] == "500")
        #expect(report.steps.first { $0.id == "smoke.2" }?.evidence["status"] == "200")

        // drctl gameday report renders the stored report; the HTML carries its timeline; no password anywhere.
        for format in ["md", "html", "json"] {
            let rendered = try await runner.run(
                CommandInvocation(
                    world.drctl, ["gameday", "report", runID, "--format", format], environment: world.environment))
            #expect(rendered.status == .exited(0))
            #expect(!rendered.output.contains(world.password))
            if format == "html" {
                #expect(rendered.output.contains("<svg id=\"timeline\""))
                #expect(rendered.output.contains("data-step=\"database.restore\""))
                #expect(!rendered.output.contains("http://") || !rendered.output.contains("<link"))
            }
            if format == "md" { #expect(rendered.output.contains("accepted-by-probe")) }
        }
    }

    @Test("the production guard refuses a target that looks like the --from manifest")
    func productionGuardRefuses() async throws {
        let world = try await GamedayWorld.make(seed: false)
        defer { try? FileManager.default.removeItem(atPath: world.folder) }
        let run = try await CommandRunner().run(
            CommandInvocation(
                world.drctl, ["gameday", "-f", world.source, "--from", world.source, "--scenario", "cluster-loss"],
                environment: world.environment))
        #expect(run.status == .exited(3))
        #expect(run.standardErrorTail.contains("refusing to run a game day"))
        #expect(run.standardErrorTail.contains("--i-know-this-is-production"))
        #expect(!FileManager.default.fileExists(atPath: world.folder + "/state/runs"))
    }
}

/// Production-like source (database, backups in its own bucket) and staging-like target (database, namespace).
struct GamedayWorld {
    let folder: String
    let source: String
    let target: String
    let drill: String
    let drctl: String
    let environment: [String: String]
    let password: String
    let backupName: String
    let incident: Date
    let databases: [String]
    let stack: StackEnvironment

    static func make(seed: Bool = true) async throws -> GamedayWorld {
        let stack = try StackEnvironment.current(requiring: ["pg_dump", "psql", "gzip", "aws", "kubectl", "helm"])
        let suffix = String(UUID().uuidString.prefix(8).lowercased())
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-gameday-\(suffix)").path
        try FileManager.default.createDirectory(atPath: folder + "/manifests", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder + "/home", withIntermediateDirectories: true)
        let bucket = "drctl-gameday-\(suffix)"
        let namespace = "gameday-\(suffix)"
        let sourceDatabase = "drctl_gd_prod_\(suffix)"
        let targetDatabase = "drctl_gd_staging_\(suffix)"
        let kubeURL = stack.variables["DRCTL_KUBE_URL"] ?? ""
        let kubeconfig = stack.stackDirectory + "/kubeconfig"
        // The source names no kube context: the sandbox has one, and the same context would trip the guard.
        func manifest(environment: String, database: String, namespace: String, context: String?) -> TestManifest {
            TestManifest(
                stack: stack, environment: environment, database: database, bucket: bucket,
                backupPrefix: "\(environment)/", backupsFolder: "\(folder)/backups-\(environment)",
                kubeconfig: kubeconfig, kubeContext: context, namespace: namespace,
                readinessURL: "\(kubeURL)/_standin/apps/\(namespace)/valeo-erp/readyz")
        }
        let source = folder + "/manifests/production-copy.yaml"
        let target = folder + "/manifests/staging.yaml"
        try manifest(
            environment: "prodcopy-\(suffix)", database: sourceDatabase, namespace: "unused-\(suffix)", context: nil
        )
        .write(to: source)
        try manifest(
            environment: "staging-\(suffix)", database: targetDatabase, namespace: namespace, context: "drctl-sandbox"
        )
        .write(to: target)

        let incident = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 3_600).rounded(.down))
        let drill = folder + "/manifests/gameday.yaml"
        try """
        scenario: cluster-loss
        hypothesis: The target comes back from the newest good backup despite a kill and a corrupt backup.
        incidentTime: \(ISO8601DateFormatter().string(from: incident))
        smokeChecks:
          - name: rows restored
            sql: SELECT COUNT(*) FROM documents_header
            expect: "500"
          - name: app ready
            http: \(kubeURL)/_standin/apps/\(namespace)/valeo-erp/readyz
            expectStatus: 200
          - name: deployment present
            command: [kubectl, --context, drctl-sandbox, -n, \(namespace), get, deployment, valeo-erp]
        faults:
          killAfterStep: database.restore
          corruptNewestBackup: true
        """.write(toFile: drill, atomically: true, encoding: .utf8)

        var environment = stack.variables
        environment["HOME"] = folder + "/home"
        environment["KUBECONFIG"] = kubeconfig
        environment["DRCTL_STATE_DIR"] = folder + "/state"
        environment["DRCTL_HELM_MAJOR"] = "3"

        var backupName = ""
        if seed {
            let runner = CommandRunner()
            try await runner.runChecked(CommandInvocation("aws", ["s3api", "create-bucket", "--bucket", bucket]))
            let manifest = try ManifestLoader(environment: stack.variables).load(from: source)
            let toolbox = ScenarioToolbox(manifest: manifest, databasePassword: SecretValue(stack.postgresPassword))
            try await runner.runChecked(toolbox.postgres.createDatabase(sourceDatabase))
            try await runner.runChecked(
                toolbox.postgres.query(
                    "CREATE TABLE documents_header (id int PRIMARY KEY, title text); "
                        + "INSERT INTO documents_header SELECT g, 'Rechnung ' || g FROM generate_series(1, 500) g;"))
            let creation = try await BackupCreator(toolbox: toolbox, runner: runner).create()
            backupName = creation.daily.fileName
            _ = try await BackupVerifier(manifest: manifest, gzip: toolbox.gzip, runner: runner).verify()
            _ = try await BackupSync(
                manifest: manifest, targets: OffsiteTarget.targets(of: toolbox), runner: runner,
                scratchDirectory: folder
            ).sync(dryRun: false)
        }
        return GamedayWorld(
            folder: folder, source: source, target: target, drill: drill,
            drctl: TestPrograms.projectRoot + "/.build/debug/drctl",
            environment: environment, password: stack.postgresPassword, backupName: backupName, incident: incident,
            databases: [sourceDatabase, targetDatabase], stack: stack)
    }

    /// Drops the world's databases (and the restore's leftovers) and removes its files.
    func tearDown() async {
        await stack.dropDatabases(startingWith: databases)
        try? FileManager.default.removeItem(atPath: folder)
    }
}
