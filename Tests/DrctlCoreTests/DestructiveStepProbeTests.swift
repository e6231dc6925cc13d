import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl resume` refuses a destructive step that started but never completed unless its probe can tell whether
/// it finished. So every destructive step of every runbook drctl can resume has a probe: this walks them all.
@Suite("Every destructive step has a probe")
struct DestructiveStepProbeTests {
    static let projectRoot = GoldenPlan.projectRoot

    /// Per registered runbook: the flag sets that give it the most steps (every destructive variant).
    static func variants(of runbookID: String) -> [[String: String]]? {
        let manifests = projectRoot + "/manifests/"
        let production = ["manifest": manifests + "production.yaml", "workRoot": "/state/work"]
        func with(_ extra: [String: String]) -> [String: String] { production.merging(extra) { _, new in new } }
        func drill(_ scenario: String) -> [String: String] {
            [
                "manifest": manifests + "staging.yaml", "from": manifests + "production.yaml",
                "workRoot": "/state/work", "scenario": scenario, "drill": manifests + "gameday-\(scenario).yaml",
            ]
        }
        switch runbookID {
        case RebuildScenario.runbookID: return [production]
        case RestoreScenario.runbookID: return [production, with(["dropOld": "yes", "confirmed": "yes"])]
        case RecoverRowsScenario.runbookID:
            return [with(["table": "documents_header", "key": "id", "ids": "17", "before": "2026-11-25T09:00:00Z"])]
        case AppRollbackScenario.runbookID:
            return [
                production,
                with(["recoverPending": "true", "withMigrations": "true", "migrationRevision": "0002"]),
            ]
        case MigrationRollbackScenario.runbookID: return [production, with(["noBackup": "true"])]
        case BackupScenario.runbookID: return [production]
        case GamedayScenario.runbookID:
            return ["cluster-loss", "db-restore", "row-recovery", "app-rollback"].map(drill)
        case SelfTestScenario.runbookID: return [["dir": "/tmp/drctl-selftest"]]
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
            guard let variants = Self.variants(of: name) else {
                Issue.record("runbook \(name) is registered but not walked here: add its flag sets to variants(of:)")
                continue
            }
            for parameters in variants {
                let runbook = try await registry.makeRunbook(id: name, parameters: parameters)
                for step in runbook.steps where step.destructive {
                    #expect(
                        step.probe != nil,
                        """
                        runbook \(name) (\(parameters.keys.sorted().joined(separator: ","))): destructive step \
                        \(step.id) has no probe, so a resume after a kill during it would have to refuse
                        """)
                }
            }
        }
    }
}
