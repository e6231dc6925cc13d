import Foundation

/// The incidents a drill causes in the target before recovering from them: rows deleted (row-recovery), a bad
/// release deployed (app-rollback).
extension GamedayScenario {
    /// row-recovery: deletes the drill's rows from the target at the incident; recovering them is the drill. Every
    /// row must be there first: a drill whose incident would delete nothing (ids that are not in the data) stops
    /// here, before touching anything, and says so. An interrupted attempt is judged by its probe: none of the rows
    /// left means it deleted them.
    func deleteRowsStep(_ selection: RowSelection, toolbox: ScenarioToolbox) -> RunbookStep {
        let count = toolbox.postgres.query(
            "SELECT count(*) FROM \(selection.tableSQL) WHERE \(selection.condition())")
        let sql =
            "WITH deleted AS (DELETE FROM \(selection.tableSQL) WHERE \(selection.condition()) RETURNING 1) "
            + "SELECT count(*) FROM deleted"
        let invocation = toolbox.postgres.query(sql)
        let database = toolbox.manifest.database.name
        let ids = selection.ids.joined(separator: ", ")
        let outputs: @Sendable (String) -> StepOutputs = { deleted in
            StepOutputs(["deleted": deleted, "table": selection.table, "ids": ids])
        }
        return RunbookStep(
            id: Self.incidentStepID,
            title: "INCIDENT: delete \(selection.ids.count) row(s) of \(selection.table) in \(database) "
                + "(\(selection.key) in \(ids))",
            destructive: true,
            inputs: ["table": selection.table, "key": selection.key, "ids": ids],
            invocations: [count, invocation],
            probe: { context in
                let left = Postgres.parseValue(try await context.runner.runChecked(count).output) ?? ""
                if left == "0" { return .done(outputs(String(selection.ids.count))) }
                if left == String(selection.ids.count) { return .notDone }
                return .unknown(reason: "\(left) of the \(selection.ids.count) rows are still in \(selection.table)")
            }
        ) { context in
            let present = Postgres.parseValue(try await context.runner.runChecked(count).output) ?? "0"
            guard present == String(selection.ids.count) else {
                throw GamedayError.incidentDidNothing(
                    detail: "only \(present) of the \(selection.ids.count) rows the drill names (\(selection.key) in "
                        + "\(ids)) are in \(selection.table) of \(database), so its incident would delete "
                        + (present == "0" ? "nothing" : "less than it says"),
                    remedy: "set rows.ids to keys that exist in the target (e.g. SELECT \(selection.key) FROM "
                        + "\(selection.table) LIMIT 5)")
            }
            let result = try await context.runner.runChecked(invocation)
            let deleted = Postgres.parseValue(result.output) ?? "0"
            context.log("deleted \(deleted) row(s) of \(selection.table)")
            return outputs(deleted)
        }
    }

    /// app-rollback: deploys the drill's bad release (`helm upgrade --reuse-values --set …`) and waits for it at
    /// most `badRelease.timeout`; it must fail to become ready. Outputs the bad revision as helm recorded it.
    /// A bad release that becomes ready is no incident: the step puts the target back on the revision it found
    /// deployed (`helm rollback --wait`), so the next drill does not take the bad release for the last good one,
    /// and fails saying what it left.
    func badReleaseStep(toolbox: ScenarioToolbox) -> RunbookStep {
        let app = toolbox.manifest.releases.app
        let helm = toolbox.helm
        let bad = drill.badRelease
        let upgrade = helm.upgradeInstall(
            release: app.release.name, chart: app.release.chart.argument,
            options: HelmUpgradeOptions(
                chartVersion: app.release.version, wait: true, timeout: bad.timeout, reuseValues: true, set: bad.set))
        let history = helm.history(release: app.release.name)
        let release = app.release.name
        let namespace = toolbox.manifest.kube.namespace
        let restoreTimeout = releaseTimeout
        return RunbookStep(
            id: Self.incidentStepID,
            title: "INCIDENT: deploy a bad release of \(release) (\(bad.set.joined(separator: ", "))); it must never "
                + "become ready",
            inputs: ["release": release, "set": bad.set.joined(separator: ", "), "timeout": bad.timeout.manifestText],
            invocations: [history, upgrade]
        ) { context in
            let before = try await AppRollbackScenario.readHistory(
                helm, release: release, namespace: namespace, context)
            let found = before.last { $0.status == "deployed" }
            let result = try await context.runner.run(upgrade)
            let revisions = try await AppRollbackScenario.readHistory(
                helm, release: release, namespace: namespace, context)
            let newest = revisions.max { $0.revision < $1.revision }
            let revision = newest.map { String($0.revision) } ?? "?"
            if result.status.isSuccess {
                guard let found else {
                    throw GamedayError.badReleaseBecameReady(
                        release: release, revision: revision,
                        left: "no revision was deployed before the drill, so it is left on the bad release")
                }
                let back = try await context.runner.run(
                    helm.rollback(release: release, to: found.revision, wait: true, timeout: restoreTimeout))
                let after = try await AppRollbackScenario.readHistory(
                    helm, release: release, namespace: namespace, context)
                let restored = after.max { $0.revision < $1.revision }
                let left =
                    back.status.isSuccess
                    ? "it was rolled back to revision \(found.revision), the one the drill found deployed (helm "
                        + "revision \(restored.map { String($0.revision) } ?? "?"), \(restored?.status ?? "?"))"
                    : "rolling it back to revision \(found.revision), the one the drill found deployed, failed ("
                        + "\(back.standardErrorTail.suffix(200))): \(release) is left on revision "
                        + "\(restored.map { "\($0.revision) (\($0.status))" } ?? "?"); run drctl rollback app "
                        + "--revision \(found.revision)"
                throw GamedayError.badReleaseBecameReady(release: release, revision: revision, left: left)
            }
            context.log("bad release revision \(revision) is \(newest?.status ?? "?"): \(result.standardErrorTail)")
            return [
                "revision": revision, "status": newest?.status ?? "", "set": bad.set.joined(separator: ", "),
                "helm": String(result.standardErrorTail.suffix(300)),
            ]
        }
    }
}
