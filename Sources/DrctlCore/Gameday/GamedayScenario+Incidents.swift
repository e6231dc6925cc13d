import Foundation

/// The incidents a drill causes in the target before recovering from them: rows deleted (row-recovery), a bad
/// release deployed (app-rollback).
extension GamedayScenario {
    /// row-recovery: deletes the drill's rows from the target at the incident; recovering them is the drill. Every
    /// row must be there first: a drill whose incident would delete nothing (ids that are not in the data) stops
    /// here, before touching anything, and says so. An interrupted attempt is judged by its probe: none of the rows
    /// left means it deleted them. The rows are saved (`\copy` to a 0600 CSV in the run's scratch folder) before
    /// they are deleted: when the recovery fails or is refused, the undo puts them back from there.
    func deleteRowsStep(_ selection: RowSelection, toolbox: ScenarioToolbox) -> RunbookStep {
        let saved = DeletedRows(
            selection: selection, toolbox: toolbox, workRoot: workRoot)
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
            },
            undo: saved.undo
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
            try await saved.save(context: context)
            let result = try await context.runner.runChecked(invocation)
            let deleted = Postgres.parseValue(result.output) ?? "0"
            context.log("deleted \(deleted) row(s) of \(selection.table) (saved first, to put back if the drill fails)")
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
            invocations: [history, upgrade],
            undo: StepUndo(
                title: "roll \(release) back to the revision the drill found deployed (helm rollback --wait)",
                settledBy: ["helm.rollback"]
            ) { context in
                let incident = try context.outputs(of: Self.incidentStepID)
                guard let found = incident["found"].flatMap(Int.init) else {
                    throw StepUndoDeclined(
                        reason: "no revision of \(release) was deployed before the drill: it is left on the bad "
                            + "revision \(incident["revision"] ?? "?")")
                }
                try await context.runner.runChecked(
                    helm.rollback(release: release, to: found, wait: true, timeout: restoreTimeout))
                return "\(release) rolled back to revision \(found), the one the drill found deployed"
            }
        ) { context in
            let before = try await AppRollbackScenario.readHistory(
                helm, release: release, namespace: namespace, context)
            let found = before.last { $0.status == "deployed" }
            let result = try await context.runner.run(upgrade)
            let revisions = try await AppRollbackScenario.readHistory(
                helm, release: release, namespace: namespace, context)
            let newest = revisions.max { $0.revision < $1.revision }
            let revision = newest.map { String($0.revision) } ?? "?"
            if result.succeeded {
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
                    back.succeeded
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
                "helm": String(result.standardErrorTail.suffix(300)), "found": found.map { String($0.revision) } ?? "",
            ]
        }
    }
}

extension GamedayScenario {
    /// The drill's undo of the recovery's database swap (cluster-loss, db-restore): when a later step fails, the
    /// database the drill found is put back in place, so a failed drill does not leave staging on production's
    /// data. A target that held no data had nothing to keep: it is left as restored, and the undo says so.
    /// (`drctl restore` itself keeps the restored database after a later failure: there it is what was asked for.)
    func putBackDatabase(toolbox: ScenarioToolbox) -> StepUndo {
        let restorer = DatabaseRestorer(toolbox: toolbox)
        let database = toolbox.manifest.database.name
        return StepUndo(
            title: "put back the database \(database) the drill found (kept as \(database)_before_<run>)",
            settledBy: []
        ) { context in
            try await restorer.putBack(context: context)
        }
    }
}

/// The rows a row-recovery drill deletes, saved before its incident so a failed drill puts them back: the rows
/// (`\copy` of every column, CSV) and the import script that inserts those whose key is missing, in the run's
/// scratch folder (`drill/`), never in the journal.
struct DeletedRows: Sendable {
    var selection: RowSelection
    var toolbox: ScenarioToolbox
    var workRoot: String

    private var recovery: RowRecovery {
        RowRecovery(toolbox: toolbox, selection: selection, keepTemp: false, dryRun: false, workRoot: workRoot)
    }

    private static func files(workRoot: String, runID: String) throws -> (csv: String, script: String) {
        let folder = try RunScratch.folder(workRoot: workRoot, runID: runID, sub: "drill")
        return (folder + "/deleted-rows.csv", folder + "/put-back.sql")
    }

    func save(context: StepContext) async throws {
        let postgres = toolbox.postgres
        let columns = Postgres.parseRows(
            try await context.runner.runChecked(postgres.query(recovery.columnsQuery())).output
        ).compactMap(\.first)
        let (csv, script) = try Self.files(workRoot: workRoot, runID: context.runID)
        try RunScratch.writePrivate("", to: csv)
        try RunScratch.writePrivate(selection.importScript(columns: columns), to: script)
        try await context.runner.runChecked(
            CommandPipeline([try postgres.copyOut(query: selection.exportQuery(columns: columns))], output: .file(csv)))
    }

    /// Inserts the saved rows whose key is missing (one transaction), then checks every one is there.
    var undo: StepUndo {
        let selection = selection
        let postgres = toolbox.postgres
        let database = toolbox.manifest.database.name
        let workRoot = workRoot
        return StepUndo(
            title: "put the \(selection.ids.count) deleted row(s) of \(selection.table) back from the copy saved "
                + "before the incident",
            settledBy: ["rows.recover"]
        ) { context in
            let (csv, script) = try Self.files(workRoot: workRoot, runID: context.runID)
            guard FileManager.default.fileExists(atPath: csv), FileManager.default.fileExists(atPath: script) else {
                throw StepUndoDeclined(
                    reason: "the copy of the deleted rows (\(csv)) is gone: the \(selection.ids.count) row(s) of "
                        + "\(selection.table) in \(database) stay deleted; recover them with drctl recover-rows")
            }
            var importing = postgres.runScript(file: script, singleTransaction: true)
            importing.standardInput = .file(csv)
            try await context.runner.runChecked(importing)
            let present = try await context.runner.runChecked(
                postgres.query("SELECT count(*) FROM \(selection.tableSQL) WHERE \(selection.condition())"))
            let count = Postgres.parseValue(present.output) ?? "?"
            guard count == String(selection.ids.count) else {
                throw StepUndoDeclined(
                    reason: "only \(count) of the \(selection.ids.count) deleted row(s) are back in \(selection.table) "
                        + "of \(database) after putting the saved copy back (\(csv))")
            }
            // The rows are back in the database: their copy (which may hold personal data) goes.
            try? FileManager.default.removeItem(atPath: csv)
            try? FileManager.default.removeItem(atPath: script)
            return "the \(count) deleted row(s) of \(selection.table) are back in \(database) (from the copy saved "
                + "before the incident)"
        }
    }
}
