import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

@Suite("Rollback app: target choice")
struct HelmRollbackTargetTests {
    typealias F = RollbackFixtures

    @Test("goes back to the last good revision before a failed current one")
    func lastGoodBeforeFailed() throws {
        let history = [
            F.revision(1, "superseded"), F.revision(2, "superseded", app: "1.1.0"),
            F.revision(3, "failed", app: "1.2.0", description: "Upgrade \"valeo-erp\" failed: timed out"),
        ]
        let choice = try HelmRollbackTarget.choose(
            release: "valeo-erp", history: history, requested: nil, recoverPending: false)
        #expect(choice.current.revision == 3)
        #expect(choice.target.revision == 2)
        #expect(choice.target.appVersion == "1.1.0")
    }

    @Test("skips failed revisions and superseded ones whose description reports a failure")
    func skipsBadRevisions() throws {
        let history = [
            F.revision(1, "superseded"),
            F.revision(2, "superseded", description: "Upgrade \"valeo-erp\" failed: boom"),
            F.revision(3, "failed"), F.revision(4, "deployed"),
        ]
        let choice = try HelmRollbackTarget.choose(
            release: "valeo-erp", history: history, requested: nil, recoverPending: false)
        #expect(choice.target.revision == 1)
    }

    @Test("a rebuild's staged install (app at 0 replicas) is never a rollback target, chosen or requested")
    func stagedInstallIsNotATarget() throws {
        let history = [
            F.revision(1, "superseded"),
            F.revision(2, "superseded", description: HelmRollbackTarget.stagedInstallDescription),
            F.revision(3, "superseded", description: "migration-revision=0004"), F.revision(4, "deployed"),
        ]
        let choice = try HelmRollbackTarget.choose(
            release: "valeo-erp", history: history, requested: nil, recoverPending: false)
        #expect(choice.target.revision == 3)
        let afterRebuild = Array(history[1...2])
        #expect(throws: RollbackError.self) {
            try HelmRollbackTarget.choose(
                release: "valeo-erp", history: afterRebuild, requested: nil, recoverPending: false)
        }
        #expect(throws: RollbackError.self) {
            try HelmRollbackTarget.choose(release: "valeo-erp", history: history, requested: 2, recoverPending: false)
        }
    }

    @Test("refuses when no good revision precedes the current one, showing the history")
    func noGoodRevision() {
        let history = [F.revision(1, "failed", description: "Install failed"), F.revision(2, "deployed")]
        #expect {
            try HelmRollbackTarget.choose(release: "valeo-erp", history: history, requested: nil, recoverPending: false)
        } throws: { error in
            let text = (error as? RollbackError)?.errorDescription ?? ""
            return text.contains("no successfully deployed revision before 2") && text.contains("REVISION")
                && text.contains("--revision")
        }
    }

    @Test("--revision that was pruned by --history-max is refused with the table and what to do")
    func prunedRevision() {
        let history = (8...12).map { F.revision($0, $0 == 12 ? "deployed" : "superseded") }
        #expect {
            try HelmRollbackTarget.choose(release: "valeo-erp", history: history, requested: 3, recoverPending: false)
        } throws: { error in
            guard case .revisionNotInHistory(_, 3, let table, pruned: true)? = error as? RollbackError else {
                return false
            }
            let text = (error as? RollbackError)?.errorDescription ?? ""
            return table.contains("superseded") && text.contains("--history-max")
                && text.contains("Pick one of the revisions above with --revision")
        }
    }

    @Test("--revision that never existed, the current one, or a failed one is refused")
    func badRequestedRevisions() {
        let history = [F.revision(1, "superseded"), F.revision(2, "failed"), F.revision(3, "deployed")]
        #expect {
            try HelmRollbackTarget.choose(release: "r", history: history, requested: 9, recoverPending: false)
        } throws: { error in
            guard case .revisionNotInHistory(_, 9, _, pruned: false)? = error as? RollbackError else { return false }
            return true
        }
        #expect(throws: RollbackError.revisionIsCurrent(release: "r", revision: 3)) {
            try HelmRollbackTarget.choose(release: "r", history: history, requested: 3, recoverPending: false)
        }
        #expect {
            try HelmRollbackTarget.choose(release: "r", history: history, requested: 2, recoverPending: false)
        } throws: { error in
            (error as? RollbackError)?.errorDescription?.contains("revision 2 of r is failed") == true
        }
    }

    @Test("a release wedged in pending-upgrade is refused unless --recover-pending")
    func pendingRefused() throws {
        let history = [F.revision(1, "superseded"), F.revision(2, "deployed"), F.revision(3, "pending-upgrade")]
        #expect {
            try HelmRollbackTarget.choose(release: "r", history: history, requested: nil, recoverPending: false)
        } throws: { error in
            let text = (error as? RollbackError)?.errorDescription ?? ""
            return text.contains("pending-upgrade at revision 3") && text.contains("pass --recover-pending")
        }
        let choice = try HelmRollbackTarget.choose(release: "r", history: history, requested: nil, recoverPending: true)
        #expect(choice.pending?.revision == 3)
        #expect(choice.target.revision == 2)
    }

    @Test("pending-install cannot be recovered by a rollback: says to uninstall and reinstall")
    func pendingInstall() {
        #expect {
            try HelmRollbackTarget.choose(
                release: "r", history: [F.revision(1, "pending-install")], requested: nil, recoverPending: true)
        } throws: { error in
            (error as? RollbackError)?.errorDescription?.contains("helm uninstall r") == true
        }
    }

    @Test("reads the schema revision drctl recorded in the helm description")
    func recordedMigrationRevision() {
        #expect(
            HelmRollbackTarget.recordedMigrationRevision(
                F.revision(2, "superseded", description: "Upgrade complete; drctl migration-revision=0003")) == "0003")
        #expect(HelmRollbackTarget.recordedMigrationRevision(F.revision(2, "superseded")) == nil)
        // Through helm's rollback revisions, to the revision they restored; a cycle gives nil.
        let history = [
            F.revision(1, "superseded", description: "drctl migration-revision=0002"),
            F.revision(2, "superseded", description: "Rollback to 1"),
            F.revision(3, "failed"), F.revision(4, "deployed", description: "Rollback to 2"),
        ]
        #expect(HelmRollbackTarget.recordedMigrationRevision(history[3], history: history) == "0002")
        let cycle = [
            F.revision(5, "superseded", description: "Rollback to 6"),
            F.revision(6, "deployed", description: "Rollback to 5"),
        ]
        #expect(HelmRollbackTarget.recordedMigrationRevision(cycle[1], history: cycle) == nil)
    }
}

@Suite("Rollback app: runbook")
struct AppRollbackScenarioTests {
    typealias F = RollbackFixtures

    static let goodHistory = [
        F.revision(1, "superseded"), F.revision(2, "superseded", chart: "valeo-erp-1.1.0", app: "1.1.0"),
        F.revision(3, "failed", chart: "valeo-erp-1.2.0", app: "1.2.0", description: "Upgrade failed: timed out"),
    ]

    func runbook(_ options: AppRollbackScenario.Options = .init()) throws -> Runbook {
        try AppRollbackScenario(toolbox: F.toolbox(), options: options).runbook(
            parameters: RunParameters(manifest: "/m.yaml"))
    }

    @Test("steps in order, with the exact command lines plan prints")
    func planShape() throws {
        let runbook = try runbook()
        #expect(runbook.id == "rollback-app")
        #expect(runbook.steps.map(\.id) == ["helm.history", "helm.rollback", "app.rollout", "app.readiness"])
        #expect(
            runbook.step("helm.history")?.commands == [
                "helm history valeo-erp --output json --kube-context ctx --namespace prod"
            ])
        // The step reads the history first (a resumed run may find its own rollback left pending), then rolls back.
        let rollback = try #require(runbook.step("helm.rollback"))
        #expect(rollback.destructive)
        #expect(rollback.commands.first == "helm history valeo-erp --output json --kube-context ctx --namespace prod")
        #expect(
            rollback.commands.contains(
                "helm rollback valeo-erp '<last good revision>' --wait --timeout 120s --kube-context ctx --namespace prod"
            ))
        #expect(
            runbook.step("app.rollout")?.commands == [
                "kubectl --context ctx --namespace prod rollout status deployment/valeo-erp --timeout 120s"
            ])
        #expect(runbook.parameters.manifest == "/m.yaml")
    }

    @Test("--with-migrations puts the schema downgrade after the app rollout, before /readyz, in one runbook")
    func withMigrationsOrder() throws {
        let runbook = try runbook(.init(withMigrations: true, migrationRevision: "0002"))
        #expect(
            runbook.steps.map(\.id) == [
                "helm.history", "helm.rollback", "app.rollout", "alembic.inspect", "alembic.downgrade",
                "alembic.verify", "app.readiness",
            ])
        #expect(runbook.step("alembic.inspect")?.dependsOn == ["app.rollout"])
        #expect(runbook.step("app.readiness")?.dependsOn == ["alembic.verify"])
        #expect(runbook.step("alembic.downgrade")?.destructive == true)
    }

    @Test("options survive the journal (what resume rebuilds from)")
    func optionsRoundTrip() async throws {
        let options = AppRollbackScenario.Options(
            revision: 4, recoverPending: true, timeout: .seconds(90), withMigrations: true, migrationRevision: "0003",
            noBackup: true)
        #expect(try await ScenarioOptionsTests.throughJournal(options) == options)
    }

    @Test("history step chooses the last good revision and journals it")
    func historyStepChooses() async throws {
        let runner = ScriptedTools(history: F.historyJSON(Self.goodHistory)).runner()
        let step = try #require(try runbook().step("helm.history"))
        let outputs = try await step.action(F.context(step.id, runner: runner))
        #expect(outputs["current"] == "3")
        #expect(outputs["target"] == "2")
        #expect(outputs["targetChart"] == "valeo-erp-1.1.0")
        #expect(outputs["pending"] == "")
    }

    @Test("an unknown release is refused with what to check")
    func releaseNotFound() async throws {
        let runner = RecordingCommandRunner { .failure($0, stderr: "Error: release: not found") }
        let step = try #require(try runbook().step("helm.history"))
        await #expect(throws: RollbackError.releaseNotFound(release: "valeo-erp", namespace: "prod")) {
            _ = try await step.action(F.context(step.id, runner: runner))
        }
    }

    @Test("--with-migrations without a recorded or given schema revision is refused before anything changes")
    func withMigrationsNeedsRevision() async throws {
        let runner = ScriptedTools(history: F.historyJSON(Self.goodHistory)).runner()
        let step = try #require(try runbook(.init(withMigrations: true)).step("helm.history"))
        await #expect {
            _ = try await step.action(F.context(step.id, runner: runner))
        } throws: { error in
            (error as? RollbackError)?.errorDescription?.contains("Pass --migration-revision REV") == true
        }
        #expect(runner.invocations.allSatisfy { $0.arguments.first == "history" })
    }

    static let afterRollback = F.historyJSON(
        goodHistory + [F.revision(4, "deployed", chart: "valeo-erp-1.1.0", app: "1.1.0", description: "Rollback to 2")])

    static let historyOutputs: StepOutputs = [
        "current": "3", "currentStatus": "failed", "target": "2", "targetChart": "valeo-erp-1.1.0",
        "targetAppVersion": "1.1.0", "pending": "", "pendingStatus": "",
    ]

    @Test("rollback runs helm rollback to the chosen revision and checks helm status")
    func rollbackStep() async throws {
        let runner = ScriptedTools(history: F.historyJSON(Self.goodHistory), historyAfterRollback: Self.afterRollback)
            .runner()
        let step = try #require(try runbook().step("helm.rollback"))
        let outputs = try await step.action(
            F.context(step.id, runner: runner, completed: ["helm.history": Self.historyOutputs]))
        #expect(outputs["revision"] == "4")
        #expect(outputs["rolledBackTo"] == "2")
        let rollbacks = runner.invocations.map(\.arguments).filter { $0.first == "rollback" }
        #expect(
            rollbacks == [
                [
                    "rollback", "valeo-erp", "2", "--wait", "--timeout", "120s", "--kube-context", "ctx", "--namespace",
                    "prod",
                ]
            ])
    }

    @Test("a rollback already deployed (the kill came after helm finished) is accepted without a second one")
    func rollbackAlreadyDone() async throws {
        let runner = ScriptedTools(history: Self.afterRollback).runner()
        let step = try #require(try runbook().step("helm.rollback"))
        let outputs = try await step.action(
            F.context(step.id, runner: runner, completed: ["helm.history": Self.historyOutputs]))
        #expect(outputs["revision"] == "4")
        #expect(!runner.invocations.contains { $0.arguments.first == "rollback" })
    }

    @Test("a failed helm rollback says what helm recorded and how to continue")
    func rollbackFails() async throws {
        let runner = ScriptedTools(rollbackFails: true).runner()
        let step = try #require(try runbook().step("helm.rollback"))
        await #expect {
            _ = try await step.action(
                F.context(step.id, runner: runner, completed: ["helm.history": Self.historyOutputs]))
        } throws: { error in
            let text = (error as? RollbackError)?.errorDescription ?? ""
            return text.contains("helm rollback of valeo-erp to revision 2 failed") && text.contains("timed out")
                && text.contains("drctl resume")
        }
    }

    @Test("probe: done when rolled back; not done when untouched or its own rollback is pending; else unknown")
    func rollbackProbe() async throws {
        let step = try #require(try runbook().step("helm.rollback"))
        let probe = try #require(step.probe)
        let completed: [StepID: StepOutputs] = ["helm.history": Self.historyOutputs]
        let done = ScriptedTools(history: Self.afterRollback).runner()
        #expect(
            try await probe(F.context(step.id, runner: done, completed: completed))
                == .done(["revision": "4", "rolledBackTo": "2", "chart": "valeo-erp-1.1.0"]))
        let untouched = ScriptedTools(history: F.historyJSON(Self.goodHistory)).runner()
        #expect(try await probe(F.context(step.id, runner: untouched, completed: completed)) == .notDone)
        let ownPending = ScriptedTools(
            history: F.historyJSON(
                Self.goodHistory + [
                    F.revision(
                        4, "pending-rollback", chart: "valeo-erp-1.1.0", app: "1.1.0", description: "Rollback to 2")
                ])
        ).runner()
        #expect(try await probe(F.context(step.id, runner: ownPending, completed: completed)) == .notDone)
        let otherPending = ScriptedTools(
            history: F.historyJSON(
                Self.goodHistory + [
                    F.revision(
                        4, "pending-upgrade", chart: "valeo-erp-1.3.0", app: "1.3.0", description: "Upgrade started")
                ])
        ).runner()
        guard case .unknown = try await probe(F.context(step.id, runner: otherPending, completed: completed)) else {
            Issue.record("another operation's pending release must be unknown")
            return
        }
    }

    @Test("--recover-pending deletes only the pending revision's record, after checking it is still pending")
    func recoverPending() async throws {
        let wedged = [F.revision(1, "superseded"), F.revision(2, "deployed"), F.revision(3, "pending-upgrade")]
        let runner = ScriptedTools(
            history: F.historyJSON(wedged), historyAfterDelete: F.historyJSON(Array(wedged.prefix(2)))
        ).runner()
        let runbook = try runbook(.init(recoverPending: true))
        #expect(runbook.step("helm.rollback")?.dependsOn == ["helm.history", "helm.recover-pending"])
        let history = try #require(runbook.step("helm.history"))
        let chosen = try await history.action(F.context(history.id, runner: runner))
        #expect(chosen["pending"] == "3")
        let recover = try #require(runbook.step("helm.recover-pending"))
        #expect(recover.destructive)
        let outputs = try await recover.action(
            F.context(recover.id, runner: runner, completed: ["helm.history": chosen]))
        #expect(outputs["cleared"] == "3")
        let deletes = runner.invocations.filter { $0.executable == "kubectl" }.map(\.arguments)
        #expect(
            deletes == [
                [
                    "--context", "ctx", "--namespace", "prod", "delete", "secret", "--selector",
                    "owner=helm,name=valeo-erp,version=3,status=pending-upgrade",
                ]
            ])
    }

    @Test("--recover-pending refuses when the newest revision changed since it was read")
    func recoverPendingGuard() async throws {
        let now = [F.revision(1, "superseded"), F.revision(2, "superseded"), F.revision(3, "deployed")]
        let runner = ScriptedTools(history: F.historyJSON(now)).runner()
        let recover = try #require(try runbook(.init(recoverPending: true)).step("helm.recover-pending"))
        let recorded: StepOutputs = [
            "current": "3", "target": "2", "targetChart": "valeo-erp-1.0.0", "pending": "3",
            "pendingStatus": "pending-upgrade",
        ]
        await #expect {
            _ = try await recover.action(F.context(recover.id, runner: runner, completed: ["helm.history": recorded]))
        } throws: { error in
            guard case .pendingChanged? = error as? RollbackError else { return false }
            return true
        }
        #expect(runner.invocations.allSatisfy { $0.executable == "helm" })
    }
}
