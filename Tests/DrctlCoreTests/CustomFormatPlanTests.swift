import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// With `backups.format: custom`, `drctl plan rebuild` and `drctl plan restore` show the `.dump` path: download
/// to the run's scratch folder, `pg_restore --list` and a full read, `pg_restore -j N` into the new database.
/// Compared as golden text (manifests/production.yaml with `format: custom` and `restoreJobs: 4`).
@Suite("Custom-format plans")
struct CustomFormatPlanTests {
    static let projectRoot = GoldenPlan.projectRoot

    static func toolbox() async throws -> ScenarioToolbox {
        let environment = ["DB_PASSWORD": "s3cret", "DRCTL_HELM_MAJOR": "3", "HOME": "/home/operator"]
        let loader = ScenarioLoader(environment: environment, runner: RecordingCommandRunner())
        var toolbox = try await loader.toolbox(
            manifestPath: projectRoot + "/manifests/production.yaml", planning: true)
        toolbox.manifest.backups.format = .custom
        toolbox.manifest.backups.restoreJobs = 4
        return toolbox
    }

    static func plan(_ runbook: Runbook, _ toolbox: ScenarioToolbox) -> RunbookPlan {
        RunbookPlan(runbook, manifest: "manifests/production.yaml", rpo: toolbox.manifest.objectives.rpo)
    }

    @Test func rebuildDownloadsVerifiesAndRestoresWithPgRestoreJ() async throws {
        let toolbox = try await Self.toolbox()
        let text = try GoldenPlan.expectMatches(
            Self.plan(try RebuildScenario(toolbox: toolbox, workRoot: "/state/work").runbook(), toolbox),
            golden: "plan-rebuild-production-custom.txt")

        #expect(text.contains("pg_restore --list '$RUN_DIR/backup/<newest valeo_erp_backup_*.dump>'"))
        #expect(text.contains("pg_restore --file=/dev/null '$RUN_DIR/backup/<newest valeo_erp_backup_*.dump>'"))
        #expect(
            text.contains(
                "pg_restore -h postgresql.production.svc.cluster.local -p 5432 -U valeo -d 'valeo_erp_restore_<run>' -w"
                    + " --exit-on-error -j 4 --no-owner '$RUN_DIR/backup/<newest valeo_erp_backup_*.dump>'"))
        #expect(!text.contains("gzip -dc"))
        #expect(!text.contains("s3cret"))
    }

    @Test func restoreVerifiesTheArchiveAndRestoresWithPgRestoreJ() async throws {
        let toolbox = try await Self.toolbox()
        let scenario = RestoreScenario(
            toolbox: toolbox, options: .init(confirmed: true), workRoot: "/state/work",
            spaceCheck: DatabaseSpaceCheck { _ in (1 << 40, "/var/lib/postgresql") })
        let text = try GoldenPlan.expectMatches(
            Self.plan(try scenario.runbook(), toolbox), golden: "plan-restore-production-custom.txt")

        #expect(text.contains("pg_restore --list '/backups/postgresql/{daily,monthly}/<newest verified"))
        #expect(
            text.contains(
                "pg_restore -h postgresql.production.svc.cluster.local -p 5432 -U valeo -d 'valeo_erp_restore_<run>' -w"
                    + " --exit-on-error -j 4 --no-owner '/backups/postgresql/{daily,monthly}/<newest verified"
                    + " valeo_erp_backup_*.dump>'"))
        #expect(!text.contains("s3cret"))
    }

    @Test func aPlainManifestStillPlansGzipAndPsql() async throws {
        var toolbox = try await Self.toolbox()
        toolbox.manifest.backups.format = .plain
        let text = GoldenPlan.text(
            Self.plan(try RebuildScenario(toolbox: toolbox, workRoot: "/state/work").runbook(), toolbox))
        #expect(text.contains("gzip -dc"))
        #expect(!text.contains("pg_restore"))
    }
}
