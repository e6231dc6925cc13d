import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl plan` for `database.dataPlane: job` and `port-forward` (manifests/production.yaml with that placement and
/// `archive.volumeClaim`), as golden text: every kubectl line of a Job is the one `JobRunner` runs, with the
/// manifest's context and namespace; the tunnel's RBAC beside the Jobs' Role.
@Suite("Data-plane plans")
struct DataPlanePlanTests {
    static func toolbox(_ dataPlane: Manifest.DataPlane) async throws -> ScenarioToolbox {
        let environment = ["DB_PASSWORD": "s3cret", "DRCTL_HELM_MAJOR": "3", "HOME": "/home/operator"]
        let loader = ScenarioLoader(environment: environment, runner: RecordingCommandRunner())
        var toolbox = try await loader.toolbox(
            manifestPath: GoldenPlan.projectRoot + "/manifests/production.yaml", planning: true)
        toolbox.manifest.database.dataPlane = dataPlane
        toolbox.manifest.archive?.volumeClaim = "valeo-erp-archive"
        return toolbox
    }

    /// With the tunnel the loader adds to every runbook of a manifest (`drctl plan` prints it first).
    static func plan(_ runbook: Runbook, _ toolbox: ScenarioToolbox) -> RunbookPlan {
        var runbook = runbook
        runbook.databaseTunnel = toolbox.databaseTunnel
        return RunbookPlan(runbook, manifest: "manifests/production.yaml", rpo: toolbox.manifest.objectives.rpo)
    }

    /// `drctl plan restore` (confirmed, room enough), compared with `Golden/<golden>`.
    static func restorePlan(_ toolbox: ScenarioToolbox, golden: String) throws -> String {
        let scenario = RestoreScenario(
            toolbox: toolbox, options: .init(confirmed: true), workRoot: "/state/work",
            spaceCheck: DatabaseSpaceCheck { _ in (1 << 40, "/var/lib/postgresql") })
        return try GoldenPlan.expectMatches(Self.plan(try scenario.runbook(), toolbox), golden: golden)
    }

    static let kubectl = "kubectl --context production --namespace production"

    @Test func backupInAJob() async throws {
        let toolbox = try await Self.toolbox(.job)
        let runbook = try BackupScenario(toolbox: toolbox, options: .init(createOnly: true), workRoot: "/state/work")
            .runbook()
        let text = try GoldenPlan.expectMatches(Self.plan(runbook, toolbox), golden: "plan-backup-production-job.txt")
        #expect(text.contains("$ \(Self.kubectl) logs "))
        #expect(text.contains("$ \(Self.kubectl) delete job 'drctl-<run>-backup-create'"))
        #expect(!text.contains("s3cret"))
    }

    @Test func restoreInAJob() async throws {
        let toolbox = try await Self.toolbox(.job)
        let text = try Self.restorePlan(toolbox, golden: "plan-restore-production-job.txt")
        #expect(text.contains("$ \(Self.kubectl) create -f - <<< Job drctl-<run>-backup-verify-<key hash>:"))
        #expect(text.contains("create role drctl-port-forward --verb=create --resource=pods/portforward"))
        #expect(!text.contains("s3cret"))
    }

    @Test func customFormatRestoreInAJob() async throws {
        var toolbox = try await Self.toolbox(.job)
        toolbox.manifest.backups.format = .custom
        toolbox.manifest.backups.restoreJobs = 4
        let text = try Self.restorePlan(toolbox, golden: "plan-restore-production-job-custom.txt")
        #expect(text.contains("in the Job: aws s3 cp "))
        #expect(text.contains("-j 4 --no-owner '/var/lib/drctl/backups/restore/"))
        #expect(text.contains("an emptyDir at /var/lib/drctl/backups of the listed size + 1 MiB"))
        #expect(!text.contains("$RUN_DIR/backup/"), "the .dump is downloaded in the pod, not here")
        #expect(!text.contains("s3cret"))
    }

    @Test func rebuildInJobs() async throws {
        let toolbox = try await Self.toolbox(.job)
        let text = try GoldenPlan.expectMatches(
            Self.plan(try RebuildScenario(toolbox: toolbox, workRoot: "/state/work").runbook(), toolbox),
            golden: "plan-rebuild-production-job.txt")
        #expect(text.contains("$ \(Self.kubectl) create -f - <<< Job drctl-<run>-archive-sync:"))
        #expect(!text.contains("s3cret"))
    }

    @Test func rebuildThroughAPortForward() async throws {
        let toolbox = try await Self.toolbox(.portForward)
        let text = try GoldenPlan.expectMatches(
            Self.plan(try RebuildScenario(toolbox: toolbox, workRoot: "/state/work").runbook(), toolbox),
            golden: "plan-rebuild-production-port-forward.txt")
        for rule in [
            "create role drctl-port-forward --verb=create --resource=pods/portforward",
            "create role drctl-port-forward-pods --verb=get,list --resource=pods",
            "create role drctl-port-forward-services --verb=get --resource=services",
            "create rolebinding drctl-port-forward-services --role=drctl-port-forward-services",
        ] {
            #expect(text.contains("what drctl needs for the database tunnel) \(Self.kubectl) \(rule)"), "\(rule)")
        }
        #expect(text.contains("what drctl needs for the Jobs) \(Self.kubectl) create role drctl-data-plane"))
        #expect(!text.contains("s3cret"))
    }
}
