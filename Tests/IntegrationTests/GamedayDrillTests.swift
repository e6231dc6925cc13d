import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// The db-restore, row-recovery and app-rollback drills and the deploymentNeverReady fault, end to end: the real
/// drctl binary, psql, pg_dump, gzip, aws, kubectl and helm 3, a private kube stand-in per test, production-like
/// backups in their own bucket and a staging-like target with its app deployed.
@Suite("Game day drills end to end")
struct GamedayDrillTests {
    @Test("db-restore drill with a kill after the restore and a corrupt newest backup passes; RPO/RTO from the journal")
    func dbRestoreDrill() async throws {
        let world = try await DrillWorld.make(targetData: .different)
        await world.run {
            try await world.installApp()
            let drill = try world.writeDrill(
                """
                scenario: db-restore
                hypothesis: Staging's database is replaced by production's newest good backup within the RTO.
                incidentTime: \(world.incidentText)
                smokeChecks:
                  - name: documents restored
                    sql: SELECT COUNT(*) FROM documents_header
                    expect: "500"
                  - name: app ready
                    http: \(world.readyz)
                faults:
                  killAfterStep: database.restore
                  corruptNewestBackup: true
                """)
            let run = try await world.gameday("db-restore", drill: drill)
            #expect(run.status == .exited(0), "drctl gameday failed:\n\(run.output)\n\(run.standardErrorTail)")
            let (history, report) = try await world.lastDrill()
            #expect(history.status == .succeeded)
            #expect(history.segments.map(\.kind) == [.started, .resumed])
            #expect(history.segments.first?.end == nil, "the child drctl was killed with SIGKILL")
            #expect(report.faults.contains { $0.fault.contains("SIGKILL") && $0.coped })
            #expect(report.verdict == .passed, "\(report.findings) \(report.faults)")
            #expect(report.scenario == "db-restore")
            #expect(report.backup == world.backupName)
            #expect(report.faults.count == 2)
            #expect(report.faults.allSatisfy { $0.coped }, "\(report.faults)")
            #expect(
                report.steps.first { $0.id == "database.restore" }?.attempts.map(\.outcome) == ["accepted-by-probe"])
            try world.expectFiguresMatchJournal(report, history, rtoFrom: history.startedAt)
            #expect(report.steps.first { $0.id == "smoke.1" }?.evidence["value"] == "500")
            #expect(report.steps.first { $0.id == "smoke.2" }?.evidence["status"] == "200")
            #expect(try await world.targetCount() == "500")
            #expect(try await world.kube.readyz(namespace: world.namespace, deployment: "valeo-erp") == 200)
        }
    }

    @Test("row-recovery drill deletes rows at the incident, recovers them, and its smoke checks prove they are back")
    func rowRecoveryDrill() async throws {
        let world = try await DrillWorld.make(targetData: .sameAsSource)
        await world.run {
            let drill = try world.writeDrill(
                """
                scenario: row-recovery
                hypothesis: Rows deleted by mistake come back from the newest backup before the deletion.
                incidentTime: \(world.incidentText)
                rows: { table: documents_header, key: id, ids: ["17", "42", "99"] }
                smokeChecks:
                  - name: every document there
                    sql: SELECT COUNT(*) FROM documents_header
                    expect: "500"
                """)
            let run = try await world.gameday("row-recovery", drill: drill)
            #expect(run.status == .exited(0), "drctl gameday failed:\n\(run.output)\n\(run.standardErrorTail)")
            let (history, report) = try await world.lastDrill()
            #expect(report.verdict == .passed, "\(report.findings) \(report.faults)")
            let incident = try #require(report.steps.first { $0.id == "drill.incident" })
            #expect(incident.evidence["deleted"] == "3")
            #expect(report.steps.first { $0.id == "smoke.1" }?.evidence["value"] == "3")
            #expect(report.steps.first { $0.id == "smoke.2" }?.evidence["value"] == "500")
            #expect(report.faults.count == 1)
            #expect(report.faults.first?.fault.contains("3 row(s) of documents_header deleted") == true)
            #expect(report.faults.first?.coped == true)
            #expect(report.backup == world.backupName)
            let incidentEnd = try #require(
                history.steps.first { $0.id == "drill.incident" }?.attempts.last?.endedAt)
            try world.expectFiguresMatchJournal(report, history, rtoFrom: incidentEnd)
            #expect(report.objectives.rtoMeasuredFrom == "end of the incident the drill caused")
            #expect(try await world.targetCount() == "500")
            let titles = try await world.runner.runChecked(
                world.targetPostgres.query("SELECT title FROM documents_header WHERE id = 42"))
            #expect(Postgres.parseValue(titles.output) == "Rechnung 42")
        }
    }

    /// manifests/gameday-row-recovery.yaml exactly as shipped, against the demo's data (samples/seed.sql's ids):
    /// its incident deletes the three documents, the recovery brings them back, the hypothesis names the target's
    /// RTO.
    @Test("the shipped row-recovery drill runs as shipped against the demo's data")
    func shippedRowRecoveryDrill() async throws {
        let world = try await DrillWorld.make(targetData: .demo)
        await world.run {
            let (_, report) = try await world.shippedDrill("row-recovery")
            #expect(report.steps.first { $0.id == "drill.incident" }?.evidence["deleted"] == "3")
            #expect(report.steps.first { $0.id == "smoke.1" }?.evidence["value"] == "3")
            #expect(report.backup == world.backupName)
            #expect(report.hypothesis.contains("within the 15m RTO"), "\(report.hypothesis)")
            #expect(try await world.targetCount() == "5000")
            let title = try await world.runner.runChecked(
                world.targetPostgres.query("SELECT title FROM documents_header WHERE id = 'DOC-000042'"))
            #expect(Postgres.parseValue(title.output)?.hasPrefix("Delivery note 000042 for ") == true)
        }
    }

    /// A drill whose ids are not in the data (the old shipped 17, 42, 99 against the demo's DOC-… ids) stops at its
    /// incident, refused (exit 3), saying so; nothing is deleted and the recovery never starts.
    @Test("a row-recovery drill whose incident would delete nothing stops there and says so")
    func rowRecoveryIncidentThatDoesNothingStops() async throws {
        let world = try await DrillWorld.make(targetData: .demo)
        await world.run {
            let drill = try world.writeDrill(
                """
                scenario: row-recovery
                hypothesis: Rows deleted by mistake come back within the {rto} RTO.
                rows: { table: documents_header, key: id, ids: ["17", "42", "99"] }
                """)
            let run = try await world.gameday("row-recovery", drill: drill)
            #expect(run.status == .exited(3), "\(run.output)\n\(run.standardErrorTail)")
            #expect(
                run.standardErrorTail.contains("the drill stopped at its incident: only 0 of the 3 rows"),
                "\(run.standardErrorTail)")
            #expect(run.standardErrorTail.contains("Nothing was changed"))
            let (history, report) = try await world.lastDrill()
            #expect(history.status == .failed)
            #expect(history.steps.first { $0.id == "drill.incident" }?.attempts.last?.outcome == .failed)
            #expect(history.steps.first { $0.id == "rows.recover" }?.attempts.isEmpty ?? true)
            #expect(report.verdict == .failed)
            #expect(try await world.targetCount() == "5000")
        }
    }

    @Test("app-rollback drill deploys a release that never becomes ready and rolls it back; RTO from the incident")
    func appRollbackDrill() async throws {
        let world = try await DrillWorld.make(targetData: .none)
        await world.run {
            try await world.installApp()
            try await world.kube.setFaults(#"{"neverReadyImages": ["nginx:drctl-gameday-never-ready"]}"#)
            let drill = try world.writeDrill(
                """
                scenario: app-rollback
                hypothesis: A release that never becomes ready is rolled back within the RTO.
                badRelease: { set: ["image.tag=drctl-gameday-never-ready"], timeout: 5s }
                smokeChecks:
                  - name: app ready
                    http: \(world.readyz)
                faults:
                  killAfterStep: helm.rollback
                """)
            let run = try await world.gameday("app-rollback", drill: drill)
            #expect(run.status == .exited(0), "drctl gameday failed:\n\(run.output)\n\(run.standardErrorTail)")
            let (history, report) = try await world.lastDrill()
            #expect(report.verdict == .passed, "\(report.findings) \(report.faults)")
            let incident = try #require(report.steps.first { $0.id == "drill.incident" })
            #expect(incident.evidence["revision"] == "2")
            #expect(incident.evidence["status"] == "failed")
            #expect(report.steps.first { $0.id == "helm.rollback" }?.evidence["rolledBackTo"] == "1")
            // Killed with SIGKILL right after helm rollback, resumed: the probe accepts it, no second rollback.
            #expect(history.segments.map(\.kind) == [.started, .resumed])
            #expect(
                report.steps.first { $0.id == "helm.rollback" }?.attempts.map(\.outcome) == ["accepted-by-probe"])
            #expect(report.faults.count == 2)
            #expect(report.faults.allSatisfy { $0.coped }, "\(report.faults)")
            let revisions = try await world.runner.runChecked(world.helmHistory())
            #expect(try Helm.parseHistory(revisions.standardOutput).map(\.revision) == [1, 2, 3])
            #expect(report.objectives.rpoApplies == false)
            #expect(report.objectives.rpoAchievedSeconds == nil)
            let incidentEnd = try #require(
                history.steps.first { $0.id == "drill.incident" }?.attempts.last?.endedAt)
            let end = try #require(history.endedAt)
            #expect(report.objectives.rtoAchievedSeconds == end.timeIntervalSince(incidentEnd))
            #expect(report.objectives.rtoAchievedSeconds ?? 0 < end.timeIntervalSince(history.startedAt))
            #expect(try await world.deployedImage() == "nginx:1.27")
            #expect(try await world.kube.readyz(namespace: world.namespace, deployment: "valeo-erp") == 200)
            let markdown = try await world.runner.run(
                CommandInvocation(
                    world.drctl, ["gameday", "report", report.runID, "--format", "md"], environment: world.environment))
            #expect(markdown.output.contains("| n/a |"))
        }
    }

    /// A "bad" release that becomes ready is no incident: the drill fails, puts staging back on the revision it found
    /// and says so; the next drill then rolls back to a good revision, not to the drill's release.
    @Test("app-rollback drill whose bad release became ready leaves the target as it found it")
    func appRollbackBadReleaseBecameReady() async throws {
        let world = try await DrillWorld.make(targetData: .none)
        await world.run {
            try await world.installApp()
            let ready = try world.writeDrill(
                """
                scenario: app-rollback
                hypothesis: A release that never becomes ready is rolled back within the {rto} RTO.
                badRelease: { set: ["image.tag=1.26"], timeout: 30s }
                """)
            let run = try await world.gameday("app-rollback", drill: ready)
            #expect(run.status == .exited(1), "\(run.output)\n\(run.standardErrorTail)")
            #expect(run.standardErrorTail.contains("became ready"), "\(run.standardErrorTail)")
            #expect(
                run.standardErrorTail.contains("it was rolled back to revision 1, the one the drill found deployed"),
                "\(run.standardErrorTail)")
            #expect(try await world.deployedImage() == "nginx:1.27")
            let after = try Helm.parseHistory(try await world.runner.runChecked(world.helmHistory()).standardOutput)
            #expect(after.last?.description == "Rollback to 1")
            #expect(after.last?.status == "deployed")

            // The next drill, with a release that really never becomes ready, goes back to nginx:1.27.
            try await world.kube.setFaults(#"{"neverReadyImages": ["nginx:drctl-gameday-never-ready"]}"#)
            let broken = try world.writeDrill(
                """
                scenario: app-rollback
                hypothesis: A release that never becomes ready is rolled back within the {rto} RTO.
                badRelease: { set: ["image.tag=drctl-gameday-never-ready"], timeout: 5s }
                """)
            let second = try await world.gameday("app-rollback", drill: broken)
            #expect(second.status == .exited(0), "\(second.output)\n\(second.standardErrorTail)")
            #expect(try await world.deployedImage() == "nginx:1.27")
            // The report carries the trend over both drills of the environment, and leaves out what does not
            // apply to an app rollback (no backup restored).
            let (_, report) = try await world.lastDrill()
            let quarter = try #require(report.trend?.first, "no trend in the second drill's report")
            #expect(report.trend?.count == 1)
            #expect(quarter.drills == 2)
            #expect(quarter.rtoBestSeconds == report.objectives.rtoAchievedSeconds)
            #expect(quarter.rpoBestSeconds == nil)
            let html = report.html
            #expect(html.contains("<table id=\"trend\">"))
            #expect(!html.contains("Restored backup"))
            #expect(!report.markdown.contains("Restored backup"))
            #expect(html.contains("id=\"rto-budget\""))
            #expect(!html.contains("id=\"rpo-budget\""))
        }
    }

    /// With the state on S3 (moto, the real aws), the trend of a drill run on one machine counts the drill another
    /// machine ran before: reports are stored beside the journals under the prefix, not only in a local folder;
    /// `drctl gameday report` on a third machine reads them there.
    @Test("with the state on S3 the trend reads earlier drills from S3, whichever machine ran them")
    func trendReadsEarlierDrillsFromS3() async throws {
        let world = try await DrillWorld.make(targetData: .sameAsSource)
        await world.run {
            let bucket = "drctl-drill-state-" + String(UUID().uuidString.prefix(8).lowercased())
            try await world.runner.runChecked(CommandInvocation("aws", ["s3api", "create-bucket", "--bucket", bucket]))
            let state = "s3://\(bucket)/team/drctl"
            let drill = try world.writeDrill(
                """
                scenario: row-recovery
                hypothesis: Rows deleted by mistake come back within the {rto} RTO.
                incidentTime: \(world.incidentText)
                rows: { table: documents_header, key: id, ids: ["17", "42"] }
                """)
            func machine(_ name: String) -> [String: String] {
                ["DRCTL_STATE_DIR": state, "HOME": world.folder + "/home-" + name, "XDG_STATE_HOME": ""]
            }
            let first = try await world.gameday("row-recovery", drill: drill, changing: machine("a"))
            #expect(first.status == .exited(0), "\(first.output)\n\(first.standardErrorTail)")
            let second = try await world.gameday("row-recovery", drill: drill, changing: machine("b"))
            #expect(second.status == .exited(0), "\(second.output)\n\(second.standardErrorTail)")

            let shared = S3StateBackend(
                bucket: bucket, prefix: "team/drctl", mirrorDirectory: world.folder + "/check", runner: world.runner)
            let runIDs = try await RunCatalog(backend: shared).list().filter { $0.runbook == "gameday" }.map(\.runID)
            #expect(runIDs.count == 2)
            let reports = try await shared.gamedayReports()
            #expect(Set(reports.keys) == Set(runIDs), "reports in S3: \(reports.keys.sorted())")
            let newest = try #require(runIDs.max())
            let report = try GamedayReport.decode(json: try #require(reports[newest]))
            let quarter = try #require(report.trend?.first, "no trend in the second machine's report")
            #expect(report.trend?.count == 1)
            #expect(quarter.drills == 2, "\(report.trend ?? [])")
            #expect(
                FileManager.default.fileExists(
                    atPath: world.folder + "/home-b/.local/state/drctl/gameday/\(newest)/report.html"))

            let oldest = try #require(runIDs.min())
            let shown = try await world.runner.run(
                CommandInvocation(
                    world.drctl, ["gameday", "report", oldest, "--format", "json"],
                    environment: world.environment.merging(machine("c")) { _, new in new }))
            #expect(shown.status == .exited(0), "\(shown.standardErrorTail)")
            #expect(try GamedayReport.decode(json: shown.standardOutput).runID == oldest)
        }
    }

    /// With the state on S3 and the report's upload refused (a bucket policy that denies writes under the state's
    /// `gameday/`, enforced by moto as by S3), the drill's verdict still decides the exit status: the run is
    /// journaled on S3 and its report is on this machine. A warning says where the report is and how to store it;
    /// run as printed, that command stores it where other machines read it.
    @Test("a drill whose report cannot be stored in the S3 state passes with a warning saying how to store it")
    func reportUploadRefusedIsAWarning() async throws {
        let world = try await DrillWorld.make(targetData: .sameAsSource)
        await world.run {
            let bucket = "drctl-drill-state-" + String(UUID().uuidString.prefix(8).lowercased())
            try await world.runner.runChecked(CommandInvocation("aws", ["s3api", "create-bucket", "--bucket", bucket]))
            let policy = """
                {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                 "Resource": "arn:aws:s3:::\(bucket)/team/drctl/gameday/*"}]}
                """
            try await world.runner.runChecked(
                CommandInvocation("aws", ["s3api", "put-bucket-policy", "--bucket", bucket, "--policy", policy]))
            let drill = try world.writeDrill(
                """
                scenario: row-recovery
                hypothesis: Rows deleted by mistake come back within the {rto} RTO.
                incidentTime: \(world.incidentText)
                rows: { table: documents_header, key: id, ids: ["17", "42"] }
                """)
            let home = world.folder + "/home-a"
            let machine = ["DRCTL_STATE_DIR": "s3://\(bucket)/team/drctl", "HOME": home, "XDG_STATE_HOME": ""]
            let run = try await world.gameday("row-recovery", drill: drill, changing: machine)
            #expect(run.status == .exited(0), "\(run.output)\n\(run.standardErrorTail)")

            let shared = S3StateBackend(
                bucket: bucket, prefix: "team/drctl", mirrorDirectory: world.folder + "/check", runner: world.runner)
            let runID = try #require(
                try await RunCatalog(backend: shared).list().first { $0.runbook == "gameday" }?.runID)
            #expect(try await RunCatalog(backend: shared).history(runID: runID).status == .succeeded)
            #expect(try await shared.gamedayReports().isEmpty, "the policy let the report through")
            let directory = home + "/.local/state/drctl/gameday/\(runID)"
            #expect(FileManager.default.fileExists(atPath: directory + "/report.json"))
            let warning = try #require(
                run.standardErrorTail.split(separator: "\n").first { $0.hasPrefix("WARNING: game day \(runID)") },
                "\(run.standardErrorTail)")
            #expect(warning.contains("\(directory)/report.{md,json,html}"), "\(warning)")
            let command = try #require(warning.components(separatedBy: "until it is stored: ").last)
            #expect(
                command == "aws s3 cp \(directory)/report.json s3://\(bucket)/team/drctl/gameday/\(runID)/report.json",
                "\(warning)")

            // Once writes are allowed again, the printed command stores it where `drctl gameday report` finds it.
            try await world.runner.runChecked(
                CommandInvocation("aws", ["s3api", "delete-bucket-policy", "--bucket", bucket]))
            try await world.runner.runChecked(
                CommandInvocation("aws", command.split(separator: " ").dropFirst().map(String.init)))
            #expect(Set(try await shared.gamedayReports().keys) == [runID])
        }
    }

    /// A row-recovery drill whose recovery is refused (no backup before its declared incident) after its incident
    /// deleted rows and its fault put a corrupt backup off-site: the undos put the rows back from the copy saved
    /// before the delete and delete the injected object; the journal and the report say so.
    @Test("a failed row-recovery drill puts the deleted rows back and removes the corrupt backup it injected")
    func failedRowRecoveryDrillPutsBackWhatItChanged() async throws {
        let world = try await DrillWorld.make(targetData: .sameAsSource)
        await world.run {
            let drill = try world.writeDrill(
                """
                scenario: row-recovery
                hypothesis: Rows deleted by mistake come back within the {rto} RTO.
                incidentTime: 2020-01-01T00:00:00Z
                rows: { table: documents_header, key: id, ids: ["17", "42", "99"] }
                faults:
                  corruptNewestBackup: true
                """)
            let run = try await world.gameday("row-recovery", drill: drill)
            #expect(run.status != .exited(0), "\(run.output)\n\(run.standardErrorTail)")
            #expect(run.output.contains("drill.incident undone"), "\(run.output)")
            let (history, report) = try await world.lastDrill()
            #expect(history.status == .failed)
            let incident = try #require(history.steps.first { $0.id == "drill.incident" })
            guard case .undone = incident.state else {
                Issue.record("drill.incident is \(incident.state), not undone")
                return
            }
            #expect(history.steps.first { $0.id == "rows.recover" }?.attempts.isEmpty ?? true)
            #expect(try await world.targetCount() == "500")
            let title = try await world.runner.runChecked(
                world.targetPostgres.query(
                    "SELECT string_agg(title, ',' ORDER BY id) FROM documents_header WHERE id IN (17, 42, 99)"))
            #expect(Postgres.parseValue(title.output) == "Rechnung 17,Rechnung 42,Rechnung 99")
            let listing = try await world.runner.runChecked(
                CommandInvocation("aws", ["s3", "ls", "--recursive", "s3://\(world.bucket)/"]))
            // Only the real backup's objects are left (its daily and monthly copies, sidecars and records).
            let stem = String(world.backupName.prefix { $0 != "." })
            let backups = listing.output.split(separator: "\n").filter { $0.contains("_backup_") }
            #expect(!backups.isEmpty && backups.allSatisfy { $0.contains(stem) }, "\(listing.output)")
            let putBack = report.putBack ?? []
            #expect(
                putBack.contains { $0.hasPrefix("drill.incident: the 3 deleted row(s) of documents_header are back") })
            #expect(
                putBack.contains { $0.hasPrefix("fault.corrupt-backup: the injected corrupt backup") }, "\(putBack)")
            #expect(report.leftChanged == nil, "\(report.leftChanged ?? [])")
            // The saved copy of the rows is gone once they are back.
            #expect(
                !FileManager.default.fileExists(
                    atPath: world.folder + "/state/work/\(report.runID)/drill/deleted-rows.csv"))
            #expect(FileManager.default.fileExists(atPath: world.folder + "/state/work/\(report.runID)/drill"))
            #expect(report.markdown.contains("## Put back after the failure"))
            #expect(report.html.contains("<ul id=\"put-back\">"))
        }
    }

    /// manifests/gameday-db-restore.yaml exactly as shipped, against the demo's data: its smoke checks take the
    /// readiness URL from the target manifest.
    @Test("the shipped db-restore drill runs as shipped against the demo's data")
    func shippedDbRestoreDrill() async throws {
        let world = try await DrillWorld.make(targetData: .demo)
        await world.run {
            try await world.installApp()
            let (_, report) = try await world.shippedDrill("db-restore")
            #expect(report.backup == world.backupName)
            #expect(report.steps.first { $0.id == "smoke.1" }?.evidence["value"] == "t")
            #expect(report.steps.first { $0.id == "smoke.2" }?.evidence["status"] == "200")
            #expect(report.steps.first { $0.id == "smoke.2" }?.title.contains(world.readyz) == true)
            #expect(report.hypothesis.contains("within the 15m RTO"), "\(report.hypothesis)")
            #expect(try await world.targetCount() == "5000")
        }
    }

    /// manifests/gameday-cluster-loss.yaml exactly as shipped, against the demo's data: rebuilt from the off-site
    /// backup with the SIGKILL after the restore; the kubectl smoke check runs against the target's cluster.
    @Test("the shipped cluster-loss drill runs as shipped against the demo's data")
    func shippedClusterLossDrill() async throws {
        let world = try await DrillWorld.make(targetData: .none, demoSource: true)
        await world.run {
            let (history, report) = try await world.shippedDrill("cluster-loss")
            #expect(history.segments.map(\.kind) == [.started, .resumed])
            #expect(report.faults.first?.fault.contains("SIGKILL") == true)
            #expect(report.steps.first { $0.id == "smoke.1" }?.evidence["value"] == "t")
            #expect(report.steps.first { $0.id == "smoke.2" }?.evidence["status"] == "200")
            let kubectl = try #require(report.steps.first { $0.id == "smoke.3" })
            #expect(kubectl.commands.first?.contains("get deployment valeo-erp") == true, "\(kubectl.commands)")
            #expect(
                kubectl.commands.first?.contains("--namespace \(world.namespace)") == true
                    || kubectl.commands.first?.contains("-n \(world.namespace)") == true, "\(kubectl.commands)")
            #expect(kubectl.evidence["exit"] == "0")
            #expect(try await world.targetCount() == "5000")
        }
    }

    /// manifests/gameday-app-rollback.yaml exactly as shipped: its bad release (image tag drctl-gameday-never-ready,
    /// which the stand-in never makes ready) is rolled back and the target's readiness URL answers.
    @Test("the shipped app-rollback drill runs as shipped against the local stack")
    func shippedAppRollbackDrill() async throws {
        let world = try await DrillWorld.make(targetData: .none, seed: false)
        await world.run {
            try await world.installApp()
            try await world.kube.setFaults(#"{"neverReadyImages": ["nginx:drctl-gameday-never-ready"]}"#)
            let (_, report) = try await world.shippedDrill("app-rollback")
            #expect(report.steps.first { $0.id == "smoke.1" }?.evidence["status"] == "200")
            #expect(try await world.deployedImage() == "nginx:1.27")
        }
    }

    /// An app-rollback drill whose own rollback fails (the stand-in keeps the deployment unready whatever it runs):
    /// the undo of its bad release tries to put back the revision it found, and when that fails too the journal and
    /// the report say exactly what was left and why.
    @Test("an app-rollback drill whose rollback fails tries to put back the revision it found and says what it left")
    func failedAppRollbackDrillSaysWhatItLeft() async throws {
        let world = try await DrillWorld.make(targetData: .none, seed: false)
        await world.run {
            try await world.installApp()
            try await world.kube.setFaults(#"{"neverReady": ["\#(world.namespace)/valeo-erp"]}"#)
            let drill = try world.writeDrill(
                """
                scenario: app-rollback
                hypothesis: A release that never becomes ready is rolled back within the {rto} RTO.
                badRelease: { set: ["image.tag=drctl-gameday-never-ready"], timeout: 5s }
                """)
            let run = try await world.gameday("app-rollback", drill: drill, releaseTimeout: "5s")
            #expect(run.status == .exited(1), "\(run.output)\n\(run.standardErrorTail)")
            #expect(run.output.contains("drill.incident NOT undone"), "\(run.output)")
            let (history, report) = try await world.lastDrill()
            #expect(history.status == .failed)
            #expect(history.steps.first { $0.id == "helm.rollback" }?.attempts.last?.outcome == .failed)
            let incident = try #require(history.steps.first { $0.id == "drill.incident" })
            #expect(incident.undo?.hasPrefix("it failed: ") == true, "\(incident.undo ?? "no undo")")
            let left = report.leftChanged ?? []
            #expect(left.contains { $0.hasPrefix("drill.incident: not undone: it failed: ") }, "\(left)")
            #expect(report.findings.contains { $0.hasPrefix("The drill left the target changed: drill.incident") })
            #expect(report.html.contains("<ul id=\"left-changed\">"))
        }
    }

    @Test("deploymentNeverReady in a db-restore drill: the run fails at the rollout and the report says so")
    func deploymentNeverReadyFault() async throws {
        let world = try await DrillWorld.make(targetData: .different)
        await world.run {
            try await world.installApp()
            try await world.kube.setFaults(#"{"neverReadyImages": ["nginx:drctl-gameday-never-ready"]}"#)
            let drill = try world.writeDrill(
                """
                scenario: db-restore
                hypothesis: The restore copes with an app that never comes back.
                faults:
                  deploymentNeverReady: true
                """)
            let run = try await world.gameday("db-restore", drill: drill, releaseTimeout: "5s")
            #expect(run.status == .exited(1), "\(run.output)\n\(run.standardErrorTail)")
            let (history, report) = try await world.lastDrill()
            #expect(history.status == .failed)
            #expect(report.verdict == .failed)
            let fault = try #require(report.faults.first)
            #expect(report.faults.count == 1)
            #expect(fault.coped == false)
            #expect(fault.fault.contains("nginx:drctl-gameday-never-ready"), "\(fault.fault)")
            #expect(fault.howTheRunCoped.contains("the run stopped at step app.scale-up"), "\(fault.howTheRunCoped)")
            #expect(fault.howTheRunCoped.contains("drctl rollback app"))
            #expect(report.findings.contains { $0.hasPrefix("Fault not handled: app deployment never ready") })
            // The restore happened before the rollout failed; the drill then put the target back as it found it:
            // staging's own database (1 row, not production's 500) and the image it ran.
            #expect(try await world.targetCount() == "1")
            #expect(try await world.deployedImage() == "nginx:1.27")
            let undone = history.steps.filter { if case .undone = $0.state { true } else { false } }.map(\.id)
            #expect(Set(undone).isSuperset(of: ["fault.deployment-never-ready", "database.restore"]), "\(undone)")
            let putBack = report.putBack ?? []
            #expect(
                putBack.contains { $0.hasPrefix("fault.deployment-never-ready: deployment valeo-erp runs nginx:1.27") })
            #expect(
                putBack.contains {
                    $0.hasPrefix("database.restore: \(world.targetDatabase) is the database the drill found again")
                }, "\(putBack)")
            #expect(report.leftChanged == nil, "\(report.leftChanged ?? [])")
            #expect(try await world.databases(startingWith: world.targetDatabase) == [world.targetDatabase])
            let stored = world.folder + "/state/gameday/\(report.runID)/report.html"
            #expect(FileManager.default.fileExists(atPath: stored))
        }
    }

    @Test(
        "the production guard refuses each drill against the --from manifest",
        arguments: ["db-restore", "row-recovery", "app-rollback"])
    func productionGuardRefuses(scenario: String) async throws {
        let world = try await DrillWorld.make(targetData: .none, seed: false)
        await world.run {
            let run = try await world.runner.run(
                CommandInvocation(
                    world.drctl, ["gameday", "-f", world.source, "--from", world.source, "--scenario", scenario],
                    environment: world.environment))
            #expect(run.status == .exited(3), "\(run.standardErrorTail)")
            #expect(run.standardErrorTail.contains("refusing to run a game day"))
            #expect(run.standardErrorTail.contains("--i-know-this-is-production"))
            #expect(!FileManager.default.fileExists(atPath: world.folder + "/state/runs"))
        }
    }
}

/// A production-like source (database with 500 documents, one verified backup synced to its own bucket) and a
/// staging-like target (its own database and namespace) on a private kube stand-in.
final class DrillWorld: Sendable {
    enum TargetData {
        case none, different, sameAsSource
        /// The demo's data in source and target: samples/migrations at head (alembic) and samples/seed.sql.
        case demo
    }

    let folder: String
    let source: String
    let target: String
    /// The source's backup bucket (its prefix: the source's environment).
    let bucket: String
    let drctl: String
    let environment: [String: String]
    let backupName: String
    let incident: Date
    let namespace: String
    let sourceDatabase: String
    let targetDatabase: String
    let stack: StackEnvironment
    let kube: KubeStandIn
    let runner = CommandRunner()

    private init(
        folder: String, source: String, target: String, bucket: String, environment: [String: String],
        backupName: String,
        incident: Date, namespace: String, sourceDatabase: String, targetDatabase: String, stack: StackEnvironment,
        kube: KubeStandIn
    ) {
        self.folder = folder
        self.source = source
        self.target = target
        self.bucket = bucket
        self.drctl = TestPrograms.projectRoot + "/.build/debug/drctl"
        self.environment = environment
        self.backupName = backupName
        self.incident = incident
        self.namespace = namespace
        self.sourceDatabase = sourceDatabase
        self.targetDatabase = targetDatabase
        self.stack = stack
        self.kube = kube
    }

    var incidentText: String { ISO8601DateFormatter().string(from: incident) }
    var readyz: String { kube.readyzURL(namespace: namespace, deployment: "valeo-erp") }

    var targetPostgres: Postgres {
        Postgres(connection: stack.connection(database: targetDatabase))
    }

    /// `demoSource`: the source holds the demo's data (default: when the target does).
    static func make(targetData: TargetData, seed: Bool = true, demoSource: Bool? = nil) async throws -> DrillWorld {
        let stack = try StackEnvironment.current(requiring: ["pg_dump", "psql", "gzip", "aws", "kubectl", "helm"])
        _ = try TestPrograms.helm(.v3)
        let kube = try KubeStandIn(projectRoot: TestPrograms.projectRoot)
        let suffix = String(UUID().uuidString.prefix(8).lowercased())
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-drill-\(suffix)").path
        try FileManager.default.createDirectory(atPath: folder + "/manifests", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder + "/home", withIntermediateDirectories: true)
        let bucket = "drctl-drill-\(suffix)"
        let namespace = "drill-\(suffix)"
        let sourceDatabase = "drctl_dr_prod_\(suffix)"
        let targetDatabase = "drctl_dr_staging_\(suffix)"
        func manifest(environment: String, database: String, namespace: String) -> TestManifest {
            TestManifest(
                stack: stack, environment: environment, database: database, bucket: bucket,
                backupPrefix: "\(environment)/", backupsFolder: "\(folder)/backups-\(environment)",
                kubeconfig: kube.kubeconfig, kubeContext: nil, namespace: namespace,
                readinessURL: kube.readyzURL(namespace: namespace, deployment: "valeo-erp"))
        }
        let source = folder + "/manifests/production-copy.yaml"
        let target = folder + "/manifests/staging.yaml"
        try manifest(environment: "prodcopy-\(suffix)", database: sourceDatabase, namespace: "unused-\(suffix)")
            .write(to: source)
        try manifest(environment: "staging-\(suffix)", database: targetDatabase, namespace: namespace)
            .write(to: target)

        var environment = stack.variables
        environment["HOME"] = folder + "/home"
        environment["KUBECONFIG"] = kube.kubeconfig
        environment["DRCTL_STATE_DIR"] = folder + "/state"
        environment["DRCTL_HELM_MAJOR"] = "3"

        let incident = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 3_600).rounded(.down))
        var backupName = ""
        let runner = CommandRunner()
        let documents =
            "CREATE TABLE documents_header (id int PRIMARY KEY, title text); "
            + "INSERT INTO documents_header SELECT g, 'Rechnung ' || g FROM generate_series(1, 500) g;"
        /// samples/migrations at head and samples/seed.sql, as scripts/demo builds its database.
        func seedDemo(_ postgres: Postgres, database: String) async throws {
            let alembic = Alembic(
                executable: try TestPrograms.alembic(), configPath: "alembic.ini",
                workingDirectory: TestPrograms.projectRoot + "/samples/migrations",
                environment: [
                    "DB_HOST": stack.postgresHost, "DB_PORT": String(stack.postgresPort), "DB_USER": stack.postgresUser,
                    "DB_NAME": database, "DB_PASSWORD": stack.postgresPassword,
                ], secrets: [stack.postgresPassword])
            try await runner.runChecked(alembic.upgrade())
            try await runner.runChecked(postgres.runScript(file: TestPrograms.projectRoot + "/samples/seed.sql"))
        }
        if seed {
            try await runner.runChecked(CommandInvocation("aws", ["s3api", "create-bucket", "--bucket", bucket]))
            let manifest = try ManifestLoader(environment: stack.variables).load(from: source)
            let toolbox = ScenarioToolbox(manifest: manifest, databasePassword: SecretValue(stack.postgresPassword))
            try await runner.runChecked(toolbox.postgres.createDatabase(sourceDatabase))
            if demoSource ?? (targetData == .demo) {
                try await seedDemo(toolbox.postgres, database: sourceDatabase)
            } else {
                try await runner.runChecked(toolbox.postgres.query(documents))
            }
            let creation = try await BackupCreator(toolbox: toolbox, runner: runner).create()
            backupName = creation.daily.fileName
            _ = try await BackupVerifier(manifest: manifest, gzip: toolbox.gzip, runner: runner).verify()
            _ = try await BackupSync(
                manifest: manifest, targets: OffsiteTarget.targets(of: toolbox), runner: runner,
                scratchDirectory: folder
            ).sync(dryRun: false)
        }
        let targetToolbox = ScenarioToolbox(
            manifest: try ManifestLoader(environment: stack.variables).load(from: target),
            databasePassword: SecretValue(stack.postgresPassword))
        switch targetData {
        case .none: break
        case .different:
            try await runner.runChecked(targetToolbox.postgres.createDatabase(targetDatabase))
            try await runner.runChecked(
                targetToolbox.postgres.query(
                    "CREATE TABLE documents_header (id int PRIMARY KEY, title text); "
                        + "INSERT INTO documents_header VALUES (1, 'staging only');"))
        case .sameAsSource:
            try await runner.runChecked(targetToolbox.postgres.createDatabase(targetDatabase))
            try await runner.runChecked(targetToolbox.postgres.query(documents))
        case .demo:
            try await runner.runChecked(targetToolbox.postgres.createDatabase(targetDatabase))
            try await seedDemo(targetToolbox.postgres, database: targetDatabase)
        }
        return DrillWorld(
            folder: folder, source: source, target: target, bucket: bucket, environment: environment,
            backupName: backupName,
            incident: incident, namespace: namespace, sourceDatabase: sourceDatabase, targetDatabase: targetDatabase,
            stack: stack, kube: kube)
    }

    /// Runs `body`, then drops the world's databases and files whatever happened.
    func run(_ body: () async throws -> Void) async {
        do {
            try await body()
        } catch {
            Issue.record(error)
        }
        await tearDown()
    }

    func helmHistory() -> CommandInvocation { helm.history(release: "valeo-erp") }

    private var helm: Helm {
        Helm(executable: (try? TestPrograms.helm(.v3)) ?? "helm", namespace: namespace, kubeconfig: kube.kubeconfig)
    }

    /// Revision 1 of the app (nginx:1.27, ready) in the target namespace.
    func installApp() async throws {
        let kubectl = Kubectl(kubeconfig: kube.kubeconfig)
        try await runner.runChecked(kubectl.createNamespace(namespace))
        var install = helm.upgradeInstall(
            release: "valeo-erp", chart: TestPrograms.projectRoot + "/charts/sample-app",
            options: .init(wait: true, timeout: .seconds(60)))
        install.arguments += ["--set", "image.tag=1.27"]
        try await runner.runChecked(install)
    }

    func writeDrill(_ text: String) throws -> String {
        let path = folder + "/manifests/drill-\(UUID().uuidString.prefix(6)).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `changing`: variables set or replaced in the world's environment for this run (another HOME, an S3 state).
    func gameday(
        _ scenario: String, drill: String, releaseTimeout: String = "1m", changing: [String: String] = [:]
    ) async throws -> CommandResult {
        try await runner.run(
            CommandInvocation(
                drctl,
                [
                    "gameday", "-f", target, "--from", source, "--scenario", scenario, "--drill", drill,
                    "--release-timeout", releaseTimeout,
                ],
                environment: environment.merging(changing) { _, new in new }, timeout: .seconds(1_800)))
    }

    /// Runs `manifests/gameday-<scenario>.yaml` exactly as shipped; it must exit 0 with the verdict PASSED.
    func shippedDrill(_ scenario: String) async throws -> (RunHistory, GamedayReport) {
        let run = try await gameday(scenario, drill: TestPrograms.projectRoot + "/manifests/gameday-\(scenario).yaml")
        #expect(run.status == .exited(0), "drctl gameday failed:\n\(run.output)\n\(run.standardErrorTail)")
        let (history, report) = try await lastDrill()
        #expect(report.verdict == .passed, "\(report.findings) \(report.faults)")
        return (history, report)
    }

    func lastDrill() async throws -> (RunHistory, GamedayReport) {
        let runs = RunCatalog(backend: LocalStateBackend(root: folder + "/state"))
        let runID = try #require(try await runs.list().first { $0.runbook == "gameday" }?.runID)
        let history = try await runs.history(runID: runID)
        let path = folder + "/state/gameday/\(runID)/report.json"
        let report = try GamedayReport.decode(json: try Data(contentsOf: URL(fileURLWithPath: path)))
        return (history, report)
    }

    /// RPO = incident − the restored backup's time; RTO = run end − `rtoFrom`; both from the journal.
    func expectFiguresMatchJournal(_ report: GamedayReport, _ history: RunHistory, rtoFrom: Date) throws {
        let backupTime = try #require(BackupName(fileName: backupName)).timestamp
        #expect(report.objectives.rpoAchievedSeconds == incident.timeIntervalSince(backupTime))
        #expect(report.objectives.rpoMet == true)
        let end = try #require(history.endedAt)
        #expect(report.objectives.rtoAchievedSeconds == end.timeIntervalSince(rtoFrom))
        #expect(report.objectives.rtoTargetSeconds == 900)
        #expect(report.objectives.rtoMet == true)
    }

    func targetCount() async throws -> String {
        let result = try await runner.runChecked(targetPostgres.query("SELECT COUNT(*) FROM documents_header"))
        return Postgres.parseValue(result.output) ?? ""
    }

    /// The names of the databases whose name starts with `prefix`, sorted.
    func databases(startingWith prefix: String) async throws -> [String] {
        let result = try await runner.runChecked(
            targetPostgres.query(
                "SELECT datname FROM pg_database WHERE starts_with(datname, \(PostgresQuoting.literal(prefix))) ORDER BY 1"
            ))
        return result.output.split(separator: "\n").map(String.init)
    }

    func deployedImage() async throws -> String {
        let kubectl = Kubectl(namespace: namespace, kubeconfig: kube.kubeconfig)
        let result = try await runner.runChecked(kubectl.getDeployment("valeo-erp"))
        let object = try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any]
        let template = (object?["spec"] as? [String: Any])?["template"] as? [String: Any]
        let containers = (template?["spec"] as? [String: Any])?["containers"] as? [[String: Any]]
        return containers?.first?["image"] as? String ?? ""
    }

    private func tearDown() async {
        await stack.dropDatabases(startingWith: [sourceDatabase, targetDatabase])
        try? FileManager.default.removeItem(atPath: folder)
    }
}
