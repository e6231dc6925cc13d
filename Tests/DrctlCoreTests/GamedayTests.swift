import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

@Suite struct GamedayTests {
    let root = ManifestFixtures.repositoryRoot

    private func manifest(_ name: String) throws -> Manifest {
        try ManifestLoader(environment: [:]).load(from: root.appendingPathComponent("manifests/\(name)").path)
    }

    @Test func theShippedDrillParses() throws {
        let drill = try DrillScript.load(path: root.appendingPathComponent("manifests/gameday-cluster-loss.yaml").path)
        #expect(drill.scenario == .clusterLoss)
        // No fixed incident time: the shipped drill runs against today's backups (the incident is the run's start).
        #expect(drill.incidentTime == nil)
        #expect(drill.smokeChecks.map(\.name) == ["documents restored", "app ready", "deployment present"])
        #expect(drill.smokeChecks.last?.kind == .kubectl(["get", "deployment", "{deployment}"]))
        #expect(drill.faults == DrillScript.Faults(killAfterStep: "database.restore"))
        // The target comes from the -f manifest: staging's readiness URL and deployment.
        let staging = try manifest("staging.yaml")
        let resolved = drill.smokeChecks.map { $0.resolved(for: staging).kind }
        #expect(resolved[1] == .http(url: staging.readiness.url, expectStatus: 200))
        #expect(resolved[2] == .kubectl(["get", "deployment", staging.releases.app.deployment]))
    }

    @Test func aDrillWithAShellStringOrAnUnknownKeyIsRefused() throws {
        let shell = "scenario: cluster-loss\nhypothesis: h\nsmokeChecks:\n  - command: \"kubectl get pods\"\n"
        #expect(throws: GamedayError.self) { try DrillScript.parse(shell, path: "d.yaml") }
        let unknown = "scenario: cluster-loss\nhypothesis: h\nfault: {}\n"
        #expect {
            try DrillScript.parse(unknown, path: "d.yaml")
        } throws: { error in
            (error as? GamedayError)?.errorDescription?.contains("unknown key 'fault'") == true
        }
        let never = "scenario: cluster-loss\nhypothesis: h\nfaults: { deploymentNeverReady: true }\n"
        #expect(try DrillScript.parse(never, path: "d.yaml").faults.deploymentNeverReady)
        #expect(throws: GamedayError.self) {
            try DrillScript.forRun(path: nil, scenario: "chaos-monkey")
        }
    }

    @Test func theShippedDrillsOfEveryScenarioParse() throws {
        func load(_ name: String) throws -> DrillScript {
            try DrillScript.load(path: root.appendingPathComponent("manifests/gameday-\(name).yaml").path)
        }
        #expect(try load("db-restore").scenario == .dbRestore)
        let rows = try load("row-recovery")
        #expect(
            rows.rows
                == DrillScript.Rows(
                    table: "documents_header", key: "id", ids: ["DOC-000017", "DOC-000042", "DOC-000099"]))
        #expect(rows.incidentTime == nil)
        let rollback = try load("app-rollback")
        #expect(rollback.badRelease.set == ["image.tag=drctl-gameday-never-ready"])
        #expect(rollback.badRelease.timeout == .seconds(120))
    }

    @Test func rowRecoveryNeedsRowsAndBadReleaseBelongsToAppRollback() throws {
        #expect {
            try DrillScript.parse(
                "scenario: row-recovery\nhypothesis: h\nincidentTime: 2026-11-25T09:00:00Z\n", path: "d")
        } throws: { error in
            (error as? GamedayError)?.errorDescription?.contains("needs rows:") == true
        }
        // Without incidentTime the incident is the run's start.
        #expect(
            try DrillScript.parse(
                "scenario: row-recovery\nhypothesis: h\nrows: { table: t, key: id, ids: [\"1\"] }\n", path: "d"
            ).incidentTime == nil)
        #expect(throws: GamedayError.self) {
            try DrillScript.parse("scenario: cluster-loss\nhypothesis: h\nbadRelease: { set: [\"a=b\"] }\n", path: "d")
        }
        #expect(throws: GamedayError.self) { try DrillScript.forRun(path: nil, scenario: "row-recovery") }
        #expect(try DrillScript.forRun(path: nil, scenario: "app-rollback").badRelease == DrillScript.BadRelease())
    }

    /// The numbers in a hypothesis are the target manifest's: {rto} and {rpo} are replaced, a literal is refused.
    @Test func theHypothesisTakesItsNumbersFromTheManifest() throws {
        let drill = try DrillScript.parse(
            "scenario: db-restore\nhypothesis: Back within the {rto} RTO, losing at most the {rpo} RPO.\n", path: "d")
        #expect(
            drill.hypothesis(objectives: Manifest.Objectives(rpo: .seconds(86_400), rto: .seconds(900)))
                == "Back within the 15m RTO, losing at most the 1d RPO.")
        #expect {
            try DrillScript.parse("scenario: db-restore\nhypothesis: Back within the 4h RTO.\n", path: "d")
        } throws: { error in
            (error as? GamedayError)?.errorDescription?.contains("names \"4h RTO\": write {rto} instead") == true
        }
        for name in ["cluster-loss", "db-restore", "row-recovery", "app-rollback"] {
            let shipped = try DrillScript.load(path: root.appendingPathComponent("manifests/gameday-\(name).yaml").path)
            #expect(shipped.hypothesis.contains("{rto}"))
        }
    }

    /// Every drill composes its scenario's runbook (no copy of its steps) with the drill's own steps around it.
    @Test func eachDrillComposesItsScenarioWithTheDrillSteps() throws {
        let production = try manifest("production.yaml")
        let staging = try manifest("staging.yaml")
        let toolbox = ScenarioToolbox(manifest: staging, databasePassword: SecretValue("pw"))
        func steps(_ drill: DrillScript) throws -> [String] {
            try GamedayScenario(target: toolbox, source: production, drill: drill, workRoot: "/tmp/w")
                .runbook().steps.map(\.id.rawValue)
        }
        let restore = try steps(
            DrillScript(
                scenario: .dbRestore, hypothesis: "h",
                smokeChecks: [.init(name: "n", kind: .sql(query: "SELECT 1", expect: "1"))],
                faults: .init(deploymentNeverReady: true)))
        #expect(
            restore == [
                "backup.verify", "database.space", "app.scale-down", "database.restore", "database.smoke",
                "fault.deployment-never-ready", "app.scale-up", "readiness", "smoke.1", "scratch.cleanup",
            ])
        let rows = try steps(
            DrillScript(
                scenario: .rowRecovery, hypothesis: "h", incidentTime: Date(timeIntervalSince1970: 1_800_000_000),
                rows: .init(table: "documents_header", key: "id", ids: ["1"])))
        #expect(
            rows == ["drill.incident", "backup.verify", "database.space", "rows.recover", "smoke.1", "scratch.cleanup"])
        let rollback = try steps(DrillScript(scenario: .appRollback, hypothesis: "h"))
        #expect(rollback == ["drill.incident", "helm.history", "helm.rollback", "app.rollout", "app.readiness"])
        for scenario in [DrillScript.Scenario.appRollback, .rowRecovery] {
            #expect(throws: GamedayError.self) {
                try steps(
                    DrillScript(
                        scenario: scenario, hypothesis: "h", incidentTime: Date(),
                        faults: .init(deploymentNeverReady: true), rows: .init(table: "t", key: "id", ids: ["1"])))
            }
        }
        let rebuild = try GamedayScenario(
            target: toolbox, source: production,
            drill: DrillScript(scenario: .clusterLoss, hypothesis: "h", faults: .init(deploymentNeverReady: true)),
            workRoot: "/tmp/w"
        ).runbook().steps
        let fault = try #require(rebuild.firstIndex { $0.id == "fault.deployment-never-ready" })
        #expect(rebuild[fault].dependsOn == ["app.scale-up"])
        #expect(rebuild[fault + 1].id == "app.rollout")
        #expect(rebuild[fault + 1].dependsOn.contains("fault.deployment-never-ready"))
        #expect(GamedayScenario.retagged("nginx:1.27", tag: "x") == "nginx:x")
        #expect(GamedayScenario.retagged("registry:5000/app", tag: "x") == "registry:5000/app:x")
        #expect(GamedayScenario.retagged("app@sha256:abc", tag: "x") == "app:x")
    }

    /// Every change a drill makes to its target declares its undo, settled by the recovery step that repairs it in
    /// the normal course (the end-to-end behaviour: GamedayDrillTests).
    @Test func everyChangeADrillMakesDeclaresItsUndo() throws {
        let production = try manifest("production.yaml")
        let staging = try manifest("staging.yaml")
        let toolbox = ScenarioToolbox(manifest: staging, databasePassword: SecretValue("pw"))
        func undos(_ drill: DrillScript) throws -> [String: [String]] {
            let steps = try GamedayScenario(target: toolbox, source: production, drill: drill, workRoot: "/tmp/w")
                .runbook().steps
            return Dictionary(
                uniqueKeysWithValues: steps.compactMap { step in
                    step.undo.map { (step.id.rawValue, $0.settledBy.map(\.rawValue)) }
                })
        }
        let restore = try undos(
            DrillScript(scenario: .dbRestore, hypothesis: "h", faults: .init(deploymentNeverReady: true)))
        #expect(restore["database.restore"] == [])
        #expect(restore["fault.deployment-never-ready"] == [])
        #expect(restore["app.scale-down"] == ["app.scale-up"])
        let rows = try undos(
            DrillScript(
                scenario: .rowRecovery, hypothesis: "h", incidentTime: Date(timeIntervalSince1970: 1_800_000_000),
                rows: .init(table: "documents_header", key: "id", ids: ["1"])))
        #expect(rows == ["drill.incident": ["rows.recover"]])
        #expect(try undos(DrillScript(scenario: .appRollback, hypothesis: "h"))["drill.incident"] == ["helm.rollback"])
        #expect(try undos(DrillScript(scenario: .clusterLoss, hypothesis: "h"))["database.restore"] == [])
    }

    @Test func productionAsTargetIsRefusedAndStagingIsNot() throws {
        let production = try manifest("production.yaml")
        let staging = try manifest("staging.yaml")
        #expect(ProductionGuard.reasons(target: staging, source: production).isEmpty)
        let reasons = ProductionGuard.reasons(target: production, source: production)
        #expect(reasons.contains("its environment is named production"))
        #expect(reasons.contains("same kube context as --from (production)"))
        #expect(reasons.contains { $0.hasPrefix("same database as --from") })
        #expect(reasons.contains("same backup bucket and prefix as --from (s3://valeo-backups/postgresql/)"))
        #expect(throws: GamedayError.self) {
            try ProductionGuard.check(target: production, source: production, overridden: false)
        }
        try ProductionGuard.check(target: production, source: production, overridden: true)

        var renamed = staging
        renamed.database = production.database
        #expect(
            ProductionGuard.reasons(target: renamed, source: production) == [
                "same database as --from (postgresql.production.svc.cluster.local:5432/valeo_erp)"
            ])
    }

    /// `drctl gameday` and `drctl resume` build a drill through `GamedayScenario.load`: the manifests are read once
    /// and the guard is checked before the password is asked for, so a production target is refused as such.
    @Test func aGameDayIsLoadedOnceWithItsGuardBeforeThePassword() async throws {
        let manifests = root.appendingPathComponent("manifests").path
        func parameters(target: String, overridden: Bool = false) throws -> RunParameters {
            try RunParameters(
                manifest: manifests + "/" + target, workRoot: "/state/work",
                options: GamedayScenario.Options(
                    scenario: "cluster-loss", from: manifests + "/production.yaml",
                    drill: manifests + "/gameday-cluster-loss.yaml", productionGuardOverridden: overridden))
        }
        let noPassword = ScenarioLoader(
            environment: ["DRCTL_HELM_MAJOR": "3", "HOME": "/home/operator"], runner: RecordingCommandRunner())
        await #expect(throws: GamedayError.self) {
            _ = try await GamedayScenario.load(
                parameters: try parameters(target: "production.yaml"), loader: noPassword)
        }
        let withPassword = ScenarioLoader(
            environment: ["DRCTL_HELM_MAJOR": "3", "HOME": "/home/operator", "DB_PASSWORD": "s3cret"],
            runner: RecordingCommandRunner())
        let (scenario, runbook) = try await GamedayScenario.load(
            parameters: try parameters(target: "staging.yaml"), loader: withPassword)
        #expect(scenario.target.manifest.environment == "staging")
        #expect(scenario.source.environment == "production")
        #expect(runbook.manifest?.environment == "staging")
        let journaled = try runbook.parameters.options(GamedayScenario.Options.self)
        #expect(journaled.fromEnvironment == "production")
        #expect(journaled.scenario == "cluster-loss")
    }

    /// A command hands the manifest it read to the loader, which builds the toolbox from it instead of reading the
    /// file again.
    @Test func aManifestTheCommandReadIsNotReadAgain() async throws {
        let folder = try TemporaryFolder()
        let copy = folder.path + "/staging.yaml"
        try FileManager.default.copyItem(
            atPath: root.appendingPathComponent("manifests/staging.yaml").path, toPath: copy)
        let environment = ["DRCTL_HELM_MAJOR": "3", "HOME": "/home/operator", "DB_PASSWORD": "s3cret"]
        let read = try ManifestLoader(environment: environment).load(from: copy)
        // Read through another spelling of the path: its recorded path (and so its fingerprint) differs from a
        // read of `copy`, so it must not stand in for one.
        let respelled = try ManifestLoader(environment: environment).load(from: folder.path + "/./staging.yaml")
        try FileManager.default.removeItem(atPath: copy)
        await #expect(throws: (any Error).self) {
            _ = try await ScenarioLoader(
                environment: environment, runner: RecordingCommandRunner(), loaded: [respelled]
            )
            .toolbox(manifestPath: copy)
        }
        let loader = ScenarioLoader(environment: environment, runner: RecordingCommandRunner(), loaded: [read])
        #expect(try await loader.toolbox(manifestPath: copy).manifest == read)
        await #expect(throws: (any Error).self) {
            _ = try await ScenarioLoader(environment: environment, runner: RecordingCommandRunner())
                .toolbox(manifestPath: copy)
        }
    }
}
