import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl rollback app` with the REAL helm 3 and helm 4 and kubectl against a private kube stand-in: three
/// revisions of charts/sample-app, the third never becoming ready (a broken image), rolled back to the second.
@Suite("Rollback app (real helm 3/4, kube stand-in)", .serialized)
struct RollbackAppTests {
    static let namespace = "production"
    static let release = "sample"

    /// A private cluster with the release at revision 3 (failed), revisions 1 and 2 good.
    final class Fixture: @unchecked Sendable {
        let stack: StackEnvironment
        let kube: KubeStandIn
        let helm: String
        let major: HelmMajorVersion
        let project: String
        let manifestPath: String
        let state: String
        let runner = CommandRunner()

        /// The database of `--with-migrations` tests: a fresh one, migrated to head by the sample project.
        let database: String?

        init(major: HelmMajorVersion, withDatabase: Bool = false) async throws {
            stack = try StackEnvironment.current()
            self.major = major
            helm = try TestPrograms.helm(major)
            _ = try TestPrograms.kubectl()
            kube = try KubeStandIn(projectRoot: TestPrograms.projectRoot)
            project = NSTemporaryDirectory() + "drctl-rollback-app-" + UUID().uuidString
            state = project + "/state"
            try FileManager.default.createDirectory(atPath: project + "/manifests", withIntermediateDirectories: true)
            manifestPath = project + "/manifests/sandbox.yaml"
            database =
                withDatabase
                ? "rollback_app_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
                : nil
            let migrations = TestPrograms.projectRoot + "/samples/migrations"
            try """
            environment: rollback-app-\(major.rawValue)
            kube:
              namespace: \(RollbackAppTests.namespace)
              kubeconfig: \(kube.kubeconfig)
            database:
              host: \(stack.postgresHost)
              port: \(stack.postgresPort)
              user: \(stack.postgresUser)
              name: \(database ?? "unused")
              password: { env: DRCTL_PG_PASSWORD }
            backups:
              local: backups
              sizeFloor: 1KB
              retention: { daily: 30, monthly: 12 }
            releases:
              postgresql:
                name: postgresql
                chart: bitnami/postgresql
              app:
                name: \(RollbackAppTests.release)
                chart: \(TestPrograms.projectRoot)/charts/sample-app
                deployment: \(RollbackAppTests.release)
                replicas: 2
            readiness:
              url: \(kube.readyzURL(namespace: RollbackAppTests.namespace, deployment: RollbackAppTests.release))
              timeout: 60s
            migrations: { directory: \(migrations), config: \(migrations)/alembic.ini }
            objectives: { rpo: 24h, rto: 4h }
            """.write(toFile: manifestPath, atomically: true, encoding: .utf8)
            if let database {
                try await runner.runChecked(admin.adminQuery("CREATE DATABASE \(database) OWNER \(stack.postgresUser)"))
                try await runner.runChecked(try #require(try toolbox().alembic).upgrade(to: "head"))
            }
        }

        /// The stack's superuser on its `postgres` database, which creates and drops the test's database.
        var admin: Postgres {
            Postgres(
                connection: PostgresConnection(
                    host: stack.postgresHost, port: stack.postgresPort, user: stack.postgresSuperuser,
                    database: "postgres"))
        }

        /// Drops the database (when the test made one) and removes the project folder.
        func tearDown() async {
            try? FileManager.default.removeItem(atPath: project)
            if let database {
                _ = try? await runner.run(admin.adminQuery("DROP DATABASE IF EXISTS \(database) WITH (FORCE)"))
            }
        }

        var helmTool: Helm {
            Helm(
                executable: helm, kubeContext: nil, namespace: RollbackAppTests.namespace, kubeconfig: kube.kubeconfig,
                majorVersion: major)
        }

        func toolbox() throws -> ScenarioToolbox {
            let manifest = try ManifestLoader().load(from: manifestPath)
            var executables = ToolExecutables()
            executables.helm = helm
            executables.alembic = try TestPrograms.alembic()
            return ScenarioToolbox(
                manifest: manifest, databasePassword: SecretValue(stack.postgresPassword), helmMajorVersion: major,
                executables: executables
            )
        }

        func runbook(_ options: AppRollbackScenario.Options = .init(timeout: .seconds(60))) throws -> Runbook {
            try AppRollbackScenario(toolbox: try toolbox(), options: options)
                .runbook(parameters: RunParameters(manifest: manifestPath))
        }

        func service() -> RunService {
            RunService(backend: LocalStateBackend(root: state), runner: runner, events: ClosureEventSink { _ in })
        }

        /// Revisions 1 (nginx:1.27) and 2 (nginx:1.28) good; 3 (nginx:broken) never ready, so `--wait` fails.
        /// Revision 2 records `migration-revision=0003` in its helm description, as drctl does when it deploys.
        func deployThreeRevisions() async throws {
            let kubectl = Kubectl(namespace: nil, kubeconfig: kube.kubeconfig)
            try await runner.runChecked(kubectl.createNamespace(RollbackAppTests.namespace))
            let chart = TestPrograms.projectRoot + "/charts/sample-app"
            for tag in ["1.27", "1.28"] {
                var install = helmTool.upgradeInstall(
                    release: RollbackAppTests.release, chart: chart, options: .init(wait: true, timeout: .seconds(60)))
                install.arguments += ["--set", "image.tag=\(tag)"]
                if tag == "1.28" { install.arguments += ["--description", "drctl migration-revision=0003"] }
                try await runner.runChecked(install)
            }
            try await kube.setFaults(#"{"neverReadyImages": ["nginx:broken"]}"#)
            var broken = helmTool.upgradeInstall(
                release: RollbackAppTests.release, chart: chart, options: .init(wait: true, timeout: .seconds(5)))
            broken.arguments += ["--set", "image.tag=broken"]
            let result = try await runner.run(broken)
            #expect(!result.status.isSuccess, "the upgrade to nginx:broken must fail to become ready")
            let history = try await history()
            #expect(history.map(\.revision) == [1, 2, 3])
            #expect(history.last?.status == "failed")
        }

        func history() async throws -> [HelmRevision] {
            let result = try await runner.runChecked(helmTool.history(release: RollbackAppTests.release))
            return try Helm.parseHistory(result.standardOutput)
        }

        func image() async throws -> String {
            let kubectl = Kubectl(namespace: RollbackAppTests.namespace, kubeconfig: kube.kubeconfig)
            let result = try await runner.runChecked(kubectl.getDeployment(RollbackAppTests.release))
            let object = try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any]
            let spec = (object?["spec"] as? [String: Any])?["template"] as? [String: Any]
            let containers = (spec?["spec"] as? [String: Any])?["containers"] as? [[String: Any]]
            return containers?.first?["image"] as? String ?? ""
        }
    }

    @Test("rolls back to the last good revision", arguments: [HelmMajorVersion.v3, .v4])
    func rollsBackToLastGood(major: HelmMajorVersion) async throws {
        let fixture = try await Fixture(major: major)
        try await withTearDown(fixture.tearDown) {
            try await fixture.deployThreeRevisions()

            let report = try await fixture.service().start(try fixture.runbook())

            #expect(report.status == .succeeded)
            #expect(report.steps.first { $0.step == "helm.history" }?.outputs["target"] == "2")
            let history = try await fixture.history()
            #expect(history.count == 4)
            #expect(history.last?.status == "deployed")
            #expect(history.last?.description == "Rollback to 2")
            #expect(try await fixture.image() == "nginx:1.28")
            #expect(try await fixture.kube.readyz(namespace: Self.namespace, deployment: Self.release) == 200)
        }
    }

    @Test("--revision 1 and a refused pruned/unknown revision with the history table", arguments: [HelmMajorVersion.v3])
    func explicitRevisionAndRefusal(major: HelmMajorVersion) async throws {
        let fixture = try await Fixture(major: major)
        try await withTearDown(fixture.tearDown) {
            try await fixture.deployThreeRevisions()

            await #expect {
                try await fixture.service().start(try fixture.runbook(.init(revision: 7, timeout: .seconds(60))))
            } throws: { error in
                let text = (error as? LocalizedError)?.errorDescription ?? ""
                return text.contains("revision 7 of sample does not exist") && text.contains("REVISION")
                    && text.contains("Pick one of the revisions above")
            }
            #expect(try await fixture.history().count == 3, "a refusal changes nothing")

            let report = try await fixture.service().start(
                try fixture.runbook(.init(revision: 1, timeout: .seconds(60))))
            #expect(report.status == .succeeded)
            #expect(try await fixture.history().last?.description == "Rollback to 1")
            #expect(try await fixture.image() == "nginx:1.27")
        }
    }

    @Test("killed right after helm rollback, resumed: the probe accepts the rollback, no second rollback")
    func killedAndResumed() async throws {
        let fixture = try await Fixture(major: .v3)
        try await withTearDown(fixture.tearDown) {
            try await fixture.deployThreeRevisions()

            var killed = try fixture.runbook()
            let index = try #require(killed.steps.firstIndex { $0.id == "helm.rollback" })
            let action = killed.steps[index].action
            killed.steps[index].action = { context in
                _ = try await action(context)
                throw CancellationError()  // the process "dies" after helm finished, before the journal says so
            }
            var runID = ""
            await #expect {
                try await fixture.service().start(killed)
            } throws: { error in
                guard case .interrupted(let id, let inFlight)? = error as? RunbookError else { return false }
                runID = id
                return inFlight == ["helm.rollback"]
            }
            #expect(try await fixture.history().count == 4)

            var registry = ScenarioRegistry()
            registry.register(AppRollbackScenario.runbookID) { _ in try fixture.runbook() }
            let report = try await fixture.service().resume(runID: runID, registry: registry)

            #expect(report.status == .succeeded)
            let rollback = report.steps.first { $0.step == "helm.rollback" }
            #expect(rollback?.note?.contains("accepted by probe") == true)
            #expect(rollback?.outputs["rolledBackTo"] == "2")
            let history = try await fixture.history()
            #expect(history.count == 4, "the resume must not roll back a second time")
            #expect(history.last?.description == "Rollback to 2")
            #expect(try await fixture.kube.readyz(namespace: Self.namespace, deployment: Self.release) == 200)
        }
    }

    @Test("--with-migrations: app rollback, then the schema to the revision the target recorded, in one journal")
    func withMigrations() async throws {
        let fixture = try await Fixture(major: .v3, withDatabase: true)
        try await withTearDown(fixture.tearDown) {
            try await fixture.deployThreeRevisions()
            let alembic = try #require(try fixture.toolbox().alembic)

            let report = try await fixture.service().start(
                try fixture.runbook(.init(timeout: .seconds(60), withMigrations: true)))

            #expect(report.status == .succeeded)
            #expect(
                report.steps.map(\.step) == [
                    "helm.history", "helm.rollback", "app.rollout", "alembic.inspect", "alembic.downgrade",
                    "alembic.verify", "app.readiness",
                ])
            #expect(report.steps.first { $0.step == "helm.history" }?.outputs["migrationRevision"] == "0003")
            #expect(try await fixture.history().last?.description == "Rollback to 2")
            let current = try await fixture.runner.runChecked(alembic.current()).output
            #expect(try Alembic.parseCurrent(current).map(\.id) == ["0003"])
            let runs = try LocalStateBackend(root: fixture.state).runIDs()
            #expect(runs == [report.runID], "app and schema share one journaled run")
        }
    }

    /// After one earlier rollback the last good revision is the one helm created for it ("Rollback to 2"), which
    /// carries no migration-revision: drctl follows it back to revision 2, which does.
    @Test("--with-migrations after an earlier rollback follows helm's rollback revision to the recorded schema")
    func withMigrationsAfterAnEarlierRollback() async throws {
        let fixture = try await Fixture(major: .v3, withDatabase: true)
        try await withTearDown(fixture.tearDown) {
            try await fixture.deployThreeRevisions()
            let alembic = try #require(try fixture.toolbox().alembic)
            let first = try await fixture.service().start(try fixture.runbook())
            #expect(first.status == .succeeded)
            #expect(try await fixture.history().last?.description == "Rollback to 2")
            // Another bad release (revision 5), then the rollback with the schema.
            var broken = fixture.helmTool.upgradeInstall(
                release: Self.release, chart: TestPrograms.projectRoot + "/charts/sample-app",
                options: .init(wait: true, timeout: .seconds(5)))
            broken.arguments += ["--set", "image.tag=broken"]
            #expect(!(try await fixture.runner.run(broken)).status.isSuccess)

            let report = try await fixture.service().start(
                try fixture.runbook(.init(timeout: .seconds(60), withMigrations: true)))

            #expect(report.status == .succeeded)
            let chosen = report.steps.first { $0.step == "helm.history" }?.outputs
            #expect(chosen?["target"] == "4")
            #expect(chosen?["migrationRevision"] == "0003")
            #expect(try await fixture.history().last?.description == "Rollback to 4")
            let current = try await fixture.runner.runChecked(alembic.current()).output
            #expect(try Alembic.parseCurrent(current).map(\.id) == ["0003"])
            #expect(try await fixture.image() == "nginx:1.28")
        }
    }

    @Test(
        "a release wedged in pending-upgrade: refused, then --recover-pending clears only that revision and rolls back",
        arguments: [HelmMajorVersion.v3, .v4])
    func pendingRecovery(major: HelmMajorVersion) async throws {
        let fixture = try await Fixture(major: major)
        try await withTearDown(fixture.tearDown) {
            try await fixture.deployThreeRevisions()
            // A fourth upgrade whose helm is SIGKILLed while it waits: the release stays pending-upgrade.
            var upgrade = fixture.helmTool.upgradeInstall(
                release: Self.release, chart: TestPrograms.projectRoot + "/charts/sample-app",
                options: .init(wait: true, timeout: .seconds(60)))
            upgrade.arguments += ["--set", "image.tag=broken", "--set", "replicaCount=3"]
            let killed = CommandInvocation("timeout", ["-s", "KILL", "4", upgrade.executable] + upgrade.arguments)
            _ = try await fixture.runner.run(killed)
            #expect(try await fixture.history().last?.status == "pending-upgrade")

            await #expect {
                try await fixture.service().start(try fixture.runbook())
            } throws: { error in
                let text = (error as? LocalizedError)?.errorDescription ?? ""
                return text.contains("wedged in pending-upgrade at revision 4")
                    && text.contains("pass --recover-pending")
            }

            let report = try await fixture.service().start(
                try fixture.runbook(.init(recoverPending: true, timeout: .seconds(60))))

            #expect(report.status == .succeeded)
            #expect(report.steps.first { $0.step == "helm.recover-pending" }?.outputs["cleared"] == "4")
            let history = try await fixture.history()
            #expect(history.map(\.revision) == [1, 2, 3, 4])
            #expect(history[2].status == "failed", "the failed revision 3 is untouched")
            #expect(history.last?.status == "deployed")
            #expect(history.last?.description == "Rollback to 2")
            #expect(try await fixture.image() == "nginx:1.28")
        }
    }
}
