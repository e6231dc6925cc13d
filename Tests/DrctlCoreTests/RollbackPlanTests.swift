import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl plan rollback-app` / `plan rollback-migration` are built by the runbooks the commands run; their text is
/// compared as golden text.
@Suite("Rollback plans")
struct RollbackPlanTests {
    static let projectRoot = GoldenPlan.projectRoot

    /// manifests/production.yaml with the password set, helm 3, no program consulted.
    static func toolbox() async throws -> ScenarioToolbox {
        let environment = ["DB_PASSWORD": "s3cret", "DRCTL_HELM_MAJOR": "3", "HOME": "/home/operator"]
        let loader = ScenarioLoader(environment: environment, runner: RecordingCommandRunner())
        return try await loader.toolbox(manifestPath: projectRoot + "/manifests/production.yaml", planning: true)
    }

    static func plan(_ runbook: Runbook, _ toolbox: ScenarioToolbox) -> RunbookPlan {
        RunbookPlan(runbook, manifest: "manifests/production.yaml", rpo: toolbox.manifest.objectives.rpo)
    }

    static func expectGolden(
        _ plan: RunbookPlan, _ name: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        try GoldenPlan.expectMatches(plan, golden: name, sourceLocation: sourceLocation)
        #expect(!plan.text.contains("s3cret"), sourceLocation: sourceLocation)
    }

    @Test("plan rollback-app --with-migrations (production: backup before the downgrade), as in the golden file")
    func appWithMigrations() async throws {
        let toolbox = try await Self.toolbox()
        let runbook = try AppRollbackScenario(
            toolbox: toolbox, options: .init(withMigrations: true, migrationRevision: "0003")
        ).runbook()
        try Self.expectGolden(Self.plan(runbook, toolbox), "plan-rollback-app-production.txt")
    }

    @Test("plan rollback-migration --to 0002, as in the golden file")
    func migrationTo() async throws {
        let toolbox = try await Self.toolbox()
        let runbook = try MigrationRollbackScenario(toolbox: toolbox, options: .init(request: .revision("0002")))
            .runbook()
        try Self.expectGolden(Self.plan(runbook, toolbox), "plan-rollback-migration-production.txt")
    }
}
