import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl resume` refuses a destructive step that started but never completed unless its probe can tell whether
/// it finished. So every destructive step of every runbook drctl can resume has a probe: this walks them all.
@Suite("Every destructive step has a probe")
struct DestructiveStepProbeTests {
    static let projectRoot = GoldenPlan.projectRoot

    /// Per registered runbook: the option sets that give it the most steps (every destructive variant).
    static func variants(of runbookID: String) throws -> [RunParameters]? {
        let manifests = projectRoot + "/manifests/"
        func production(_ options: some ScenarioOptions) throws -> RunParameters {
            try RunParameters(manifest: manifests + "production.yaml", workRoot: "/state/work", options: options)
        }
        func drill(_ scenario: String) throws -> RunParameters {
            try RunParameters(
                manifest: manifests + "staging.yaml", workRoot: "/state/work",
                options: GamedayScenario.Options(
                    scenario: scenario, from: manifests + "production.yaml",
                    drill: manifests + "gameday-\(scenario).yaml"))
        }
        switch runbookID {
        case RebuildScenario.runbookID: return [try production(RebuildScenario.Options())]
        case RestoreScenario.runbookID:
            return [
                try production(RestoreScenario.Options()),
                try production(RestoreScenario.Options(dropOld: true, confirmed: true)),
            ]
        case RecoverRowsScenario.runbookID:
            return [
                try production(
                    RecoverRowsScenario.Options(
                        selection: RowSelection(table: "documents_header", key: "id", ids: ["17"]),
                        before: try #require(BackupChoice.parseTime("2026-11-25T09:00:00Z"))))
            ]
        case AppRollbackScenario.runbookID:
            return [
                try production(AppRollbackScenario.Options()),
                try production(
                    AppRollbackScenario.Options(recoverPending: true, withMigrations: true, migrationRevision: "0002")),
            ]
        case MigrationRollbackScenario.runbookID:
            return [
                try production(MigrationRollbackScenario.Options()),
                try production(MigrationRollbackScenario.Options(noBackup: true)),
            ]
        case BackupScenario.runbookID: return [try production(NoScenarioOptions())]
        case GamedayScenario.runbookID:
            return try ["cluster-loss", "db-restore", "row-recovery", "app-rollback"].map(drill)
        case SelfTestScenario.runbookID:
            return [try RunParameters(options: SelfTestScenario.Options(dir: "/tmp/drctl-selftest"))]
        default: return nil
        }
    }

    @Test("every registered runbook, in every variant, gives each destructive step a probe")
    func everyDestructiveStepHasAProbe() async throws {
        let environment = ["DB_PASSWORD": "s3cret", "DRCTL_HELM_MAJOR": "3", "HOME": "/home/operator"]
        var registry = ScenarioRegistry.builtIn
        registry.registerManifestScenarios(
            loader: ScenarioLoader(environment: environment, runner: RecordingCommandRunner()), planning: true)
        #expect(registry.names.count >= 8)
        for name in registry.names {
            guard let variants = try Self.variants(of: name) else {
                Issue.record("runbook \(name) is registered but not walked here: add its flag sets to variants(of:)")
                continue
            }
            for parameters in variants {
                let runbook = try await registry.makeRunbook(id: name, parameters: parameters)
                for step in runbook.steps where step.destructive {
                    #expect(
                        step.probe != nil,
                        """
                        runbook \(name) (\(parameters.leaves.keys.sorted().joined(separator: ","))): destructive step \
                        \(step.id) has no probe, so a resume after a kill during it would have to refuse
                        """)
                }
            }
        }
    }
}
