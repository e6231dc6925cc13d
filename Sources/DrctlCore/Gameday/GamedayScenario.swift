import Foundation

/// The runbook's quarterly DR test as a run: the drill's scenario against the target (staging) from the source's
/// (production's) backups, with the drill's faults injected and its smoke checks as steps. Journaled under the
/// runbook id `gameday` like any scenario, so it resumes, is bounded by the RTO budget, and `drctl status` finds it.
public struct GamedayScenario: Sendable {
    public static let runbookID = StatusService.drillRunbookID
    static let cleanupStepID: StepID = "scratch.cleanup"

    /// What `drctl gameday` was given and what the first build of the runbook settled (the source's environment,
    /// the incident time), journaled so a resume rebuilds the same drill.
    public struct Options: ScenarioOptions {
        /// The drill's scenario: cluster-loss, db-restore, row-recovery or app-rollback.
        public var scenario: String
        /// The absolute path of the manifest whose backups are restored (`--from`).
        public var from: String
        /// The absolute path of the drill script; nil: the scenario's shipped drill.
        public var drill: String?
        public var releaseTimeout: Duration
        /// `--i-know-this-is-production`: the production guard is off.
        public var productionGuardOverridden: Bool
        /// The environment whose backups the drill restores (`--from`'s), so `drctl status` of that environment
        /// counts the drill. Set by the runbook.
        public var fromEnvironment: String?
        /// The incident time of a drill whose script declares none: the time the run was first built (before
        /// its incident), so a resume recovers from the same backup. Set by the runbook.
        public var incidentTime: Date?

        public init(
            scenario: String, from: String, drill: String? = nil, releaseTimeout: Duration = .seconds(600),
            productionGuardOverridden: Bool = false, fromEnvironment: String? = nil, incidentTime: Date? = nil
        ) {
            self.scenario = scenario
            self.from = from
            self.drill = drill
            self.releaseTimeout = releaseTimeout
            self.productionGuardOverridden = productionGuardOverridden
            self.fromEnvironment = fromEnvironment
            self.incidentTime = incidentTime
        }

        public init(legacyParameters parameters: [String: String]) {
            self.init(
                scenario: parameters["scenario"] ?? "", from: parameters["from"] ?? "", drill: parameters["drill"],
                releaseTimeout: parameters["releaseTimeout"].flatMap { Duration(manifestText: $0) } ?? .seconds(600),
                productionGuardOverridden: parameters["iKnowThisIsProduction"] == "yes",
                fromEnvironment: parameters["fromEnvironment"],
                incidentTime: parameters["incidentTime"].flatMap { ISO8601DateFormatter().date(from: $0) })
        }

        enum CodingKeys: String, CodingKey {
            case scenario, from, drill, releaseTimeout, productionGuardOverridden, fromEnvironment, incidentTime
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(scenario, forKey: .scenario)
            try container.encode(from, forKey: .from)
            try container.encodeIfPresent(drill, forKey: .drill)
            try container.encodeDuration(releaseTimeout, forKey: .releaseTimeout)
            try container.encode(productionGuardOverridden, forKey: .productionGuardOverridden)
            try container.encodeIfPresent(fromEnvironment, forKey: .fromEnvironment)
            try container.encodeIfPresent(incidentTime, forKey: .incidentTime)
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                scenario: try container.decode(String.self, forKey: .scenario),
                from: try container.decode(String.self, forKey: .from),
                drill: try container.decodeIfPresent(String.self, forKey: .drill),
                releaseTimeout: try container.decodeDuration(forKey: .releaseTimeout) ?? .seconds(600),
                productionGuardOverridden: try container.decodeIfPresent(Bool.self, forKey: .productionGuardOverridden)
                    ?? false,
                fromEnvironment: try container.decodeIfPresent(String.self, forKey: .fromEnvironment),
                incidentTime: try container.decodeIfPresent(Date.self, forKey: .incidentTime))
        }
    }

    /// The target's toolbox (its cluster, database, password).
    public var target: ScenarioToolbox
    /// The environment whose backups are restored.
    public var source: Manifest
    public var drill: DrillScript
    public var workRoot: String
    public var releaseTimeout: Duration
    /// The kill fault sends SIGKILL to this process (a child drctl the game day started for the purpose) instead of
    /// stopping the run in-process. Set from `childKillVariable` in the child's environment.
    public var killBySignal: Bool

    /// Set to `1` in the environment of the child drctl a game day runs its scenario in, so the kill is a real one.
    public static let childKillVariable = "DRCTL_GAMEDAY_CHILD_SIGKILL"

    public init(
        target: ScenarioToolbox, source: Manifest, drill: DrillScript, workRoot: String,
        releaseTimeout: Duration = .seconds(600), killBySignal: Bool = false
    ) {
        self.target = target
        self.source = source
        self.drill = drill
        self.workRoot = workRoot
        self.releaseTimeout = releaseTimeout
        self.killBySignal = killBySignal
    }

    /// The step that starts the drill's recovery clock: the incident the drill itself causes (row-recovery deletes
    /// rows, app-rollback deploys a bad release). Cluster-loss and db-restore declare the incident at the start.
    public static let incidentStepID: StepID = "drill.incident"

    /// The toolbox the recovery runs with: the target's cluster and database, the source's off-site backups. The
    /// source's local backup folder is left out: a drill restores what production keeps off-site, as a recovery on
    /// another machine would.
    public var drillToolbox: ScenarioToolbox {
        var manifest = target.manifest
        manifest.backups = source.backups
        manifest.backups.local = ManifestPath(
            written: "(none: a game day restores from the off-site store)",
            absolute: workRoot + "/gameday-offsite-only")
        return ScenarioToolbox(
            manifest: manifest, databasePassword: target.databasePassword,
            helmMajorVersion: target.helm.majorVersion, executables: target.executables)
    }

    /// The step the smoke checks run after: the scenario's last recovery step.
    var finalStepID: StepID {
        switch drill.scenario {
        case .clusterLoss, .dbRestore: "readiness"
        case .rowRecovery: "rows.recover"
        case .appRollback: "app.readiness"
        }
    }

    /// A game day as `drctl gameday` starts it and `drctl resume` rebuilds it: the target and the source
    /// manifests read once, the production guard checked once (before the password is needed), the drill script
    /// read, and the runbook built from them.
    public static func load(
        parameters: RunParameters, loader: ScenarioLoader, planning: Bool = false
    ) async throws -> (scenario: GamedayScenario, runbook: Runbook) {
        let options = try parameters.options(Options.self)
        let target = try loader.manifest(at: try parameters.requireManifest())
        let source = try loader.manifest(at: options.from)
        try ProductionGuard.check(target: target, source: source, overridden: options.productionGuardOverridden)
        let drill = try DrillScript.forRun(path: options.drill, scenario: options.scenario)
        let scenario = GamedayScenario(
            target: try await loader.toolbox(manifest: target, planning: planning), source: source, drill: drill,
            workRoot: try parameters.requireWorkRoot(), releaseTimeout: options.releaseTimeout,
            killBySignal: loader.environment[childKillVariable] == "1")
        return (scenario, try scenario.runbook(parameters: parameters, options: options))
    }

    /// The runbook; `options` are journaled with the source's environment and the incident time filled in.
    public func runbook(
        parameters: RunParameters = RunParameters(),
        options: Options = Options(scenario: "", from: "")
    ) throws -> Runbook {
        let toolbox = drillToolbox
        let incidentTime =
            drill.incidentTime ?? options.incidentTime
            ?? Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        var inner: Runbook
        var smokeChecks = drill.smokeChecks
        var incident: RunbookStep?
        switch drill.scenario {
        case .clusterLoss:
            inner = try RebuildScenario(
                toolbox: toolbox,
                options: RebuildScenario.Options(releaseTimeout: releaseTimeout, backupDatabase: source.database.name),
                workRoot: workRoot
            ).runbook()
        case .dbRestore:
            try requireOffsiteStore(toolbox)
            inner = try RestoreScenario(
                toolbox: toolbox,
                options: RestoreScenario.Options(
                    backup: .latest, rolloutTimeout: releaseTimeout, backupDatabase: source.database.name),
                workRoot: workRoot
            ).runbook()
        case .rowRecovery:
            try requireOffsiteStore(toolbox)
            guard let rows = drill.rows else {
                throw GamedayError.drillRequired(scenario: drill.scenario.rawValue, detail: "it needs rows:")
            }
            let selection = RowSelection(table: rows.table, key: rows.key, ids: rows.ids)
            inner = try RecoverRowsScenario(
                toolbox: toolbox,
                options: RecoverRowsScenario.Options(
                    selection: selection, before: incidentTime, backupDatabase: source.database.name),
                workRoot: workRoot
            ).runbook()
            incident = deleteRowsStep(selection, toolbox: toolbox)
            let back =
                "SELECT count(*) FROM \(selection.tableSQL) WHERE \(selection.condition())"
            smokeChecks.insert(
                DrillScript.SmokeCheck(
                    name: "the \(rows.ids.count) deleted rows are back",
                    kind: .sql(query: back, expect: "\(rows.ids.count)")),
                at: 0)
        case .appRollback:
            inner = try AppRollbackScenario(
                toolbox: toolbox, options: AppRollbackScenario.Options(timeout: releaseTimeout)
            ).runbook()
            incident = badReleaseStep(toolbox: toolbox)
        }
        var steps = inner.steps
        if let incident {
            for index in steps.indices where steps[index].dependsOn.isEmpty {
                steps[index].dependsOn.append(incident.id)
            }
            steps.insert(incident, at: 0)
        }
        if drill.faults.corruptNewestBackup {
            steps = try injectCorruptBackup(into: steps, toolbox: toolbox)
        }
        if drill.faults.deploymentNeverReady {
            steps = try injectNeverReady(into: steps, toolbox: toolbox)
        }
        if let kill = drill.faults.killAfterStep {
            guard let index = steps.firstIndex(where: { $0.id.rawValue == kill }) else {
                throw GamedayError.faultNotPossible(
                    fault: "killAfterStep: \(kill)",
                    reason: "the \(drill.scenario.rawValue) runbook has no step \(kill); its steps: "
                        + steps.map(\.id.rawValue).joined(separator: ", "))
            }
            steps[index] = killedAfterEffect(steps[index])
        }
        let cleanupIndex = steps.firstIndex { $0.id == Self.cleanupStepID } ?? steps.endIndex
        var smokeIDs: [StepID] = []
        for (number, check) in smokeChecks.enumerated() {
            let step = smokeStep(check, number: number + 1, toolbox: toolbox)
            smokeIDs.append(step.id)
            steps.insert(step, at: cleanupIndex + number)
        }
        if let cleanup = steps.firstIndex(where: { $0.id == Self.cleanupStepID }) {
            steps[cleanup].dependsOn += smokeIDs
        }
        var settled = options
        settled.scenario = drill.scenario.rawValue
        settled.fromEnvironment = source.environment
        settled.incidentTime = incidentTime
        return Runbook(
            id: Self.runbookID, environment: target.manifest.environment, parameters: try parameters.setting(settled),
            manifestFingerprint: Fingerprint.of(
                inner.manifestFingerprint + Fingerprint.of(try source.canonicalEncoding())),
            rtoBudget: inner.rtoBudget, steps: steps, manifest: target.manifest)
    }

    private func requireOffsiteStore(_ toolbox: ScenarioToolbox) throws {
        guard !toolbox.objectStores.isEmpty else {
            throw ScenarioError.noOffsiteStore(environment: source.environment)
        }
    }

    // MARK: - Incidents the drill causes

    /// row-recovery: deletes the drill's rows from the target at the incident; recovering them is the drill. Every
    /// row must be there first: a drill whose incident would delete nothing (ids that are not in the data) stops
    /// here, before touching anything, and says so. An interrupted attempt is judged by its probe: none of the rows
    /// left means it deleted them.
    private func deleteRowsStep(_ selection: RowSelection, toolbox: ScenarioToolbox) -> RunbookStep {
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
    private func badReleaseStep(toolbox: ScenarioToolbox) -> RunbookStep {
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

    // MARK: - Faults

    /// A step that does its work, then stops the run before the completion is journaled, once per run: what a
    /// kill between the effect and the journal looks like. The resume must find the effect with its probe. In a
    /// child drctl (`killBySignal`) the process sends itself SIGKILL: nothing after the effect runs, the journal
    /// and the lock stay as a killed run leaves them.
    private func killedAfterEffect(_ step: RunbookStep) -> RunbookStep {
        var step = step
        let action = step.action
        let workRoot = self.workRoot
        let stepID = step.id
        let killBySignal = self.killBySignal
        step.action = { context in
            let outputs = try await action(context)
            let marker =
                try RunScratch.folder(workRoot: workRoot, runID: context.runID, sub: "faults")
                + "/killed-\(stepID.rawValue)"
            if !FileManager.default.fileExists(atPath: marker) {
                FileManager.default.createFile(atPath: marker, contents: Data())
                if killBySignal {
                    context.log("FAULT INJECTED: SIGKILL after the effect of \(stepID), before it is journaled")
                    kill(getpid(), SIGKILL)
                }
                context.log("FAULT INJECTED: the run is stopped after the effect of \(stepID), before it is journaled")
                throw CancellationError()
            }
            return outputs
        }
        return step
    }

    /// Uploads a corrupt `<db>_backup_<now>.sql.gz` (with a sidecar naming its checksum, so only the gzip test can
    /// catch it) before the fetch; the fetch must skip it. Removed again once the fetch is done.
    private func injectCorruptBackup(into steps: [RunbookStep], toolbox: ScenarioToolbox) throws -> [RunbookStep] {
        guard let fetchID = steps.first(where: { Self.backupStepIDs.contains($0.id) })?.id else {
            throw GamedayError.faultNotPossible(
                fault: "corruptNewestBackup", reason: "the \(drill.scenario.rawValue) runbook fetches no backup")
        }
        guard source.environment.lowercased() != "production" else {
            throw GamedayError.faultNotPossible(
                fault: "corruptNewestBackup",
                reason: "it writes an object into the --from backup store, and that is production's; drill with a "
                    + "copy of production's backups (another manifest) to inject it")
        }
        let fetcher = OffsiteBackupFetcher(toolbox: toolbox, workRoot: workRoot)
        let (store, prefix) = try fetcher.location()
        let database = source.database.name
        let workRoot = self.workRoot
        let inject = RunbookStep(
            id: "fault.corrupt-backup",
            title: "FAULT: put a corrupt backup newer than every real one into \(store.displayName)/\(prefix)",
            inputs: ["store": store.displayName, "prefix": prefix],
            commands: [
                "upload <corrupt \(database)_backup_<now>.sql.gz> and its .sha256 to \(store.displayName)/\(prefix)daily/"
            ]
        ) { context in
            let name = try BackupName(database: database, timestamp: context.clock.now()).fileName
            let key = OffsiteTarget.join(prefix, "daily/" + name)
            let folder = try RunScratch.folder(workRoot: workRoot, runID: context.runID, sub: "faults")
            let file = folder + "/" + name
            var bytes = Data([0x1f, 0x8b, 0x08, 0x00])
            bytes.append(Data(repeating: 0x5a, count: 64 * 1024))
            try bytes.write(to: URL(fileURLWithPath: file))
            let sidecar = file + ".sha256"
            try Data("\(SHA256Checksum.of(bytes))  \(name)\n".utf8).write(to: URL(fileURLWithPath: sidecar))
            try await context.runner.runChecked(try store.upload(.file(file), to: key))
            try await context.runner.runChecked(
                try store.upload(.file(sidecar), to: OffsiteTarget.sidecarKey(for: key)))
            return ["key": key, "name": name, "sha256": SHA256Checksum.of(bytes)]
        }
        let remove = RunbookStep(
            id: "fault.remove-corrupt-backup",
            title: "Remove the injected corrupt backup from the off-site store",
            dependsOn: [fetchID, "fault.corrupt-backup"],
            commands: ["delete the injected object and its .sha256"]
        ) { context in
            let key = try context.outputs(of: "fault.corrupt-backup").require("key", from: "fault.corrupt-backup")
            try await context.runner.runChecked(store.delete(key))
            try await context.runner.runChecked(store.delete(OffsiteTarget.sidecarKey(for: key)))
            return ["removed": key]
        }
        var result: [RunbookStep] = [inject]
        for var step in steps {
            if step.id == fetchID { step.dependsOn.append("fault.corrupt-backup") }
            if step.id == Self.cleanupStepID { step.dependsOn.append("fault.remove-corrupt-backup") }
            result.append(step)
            if step.id == fetchID { result.append(remove) }
        }
        return result
    }

    /// The steps that pick the backup (their outputs name it): the rebuild's fetch, the restores' verify.
    static let backupStepIDs: [StepID] = ["backup.fetch", "backup.verify"]

    /// Points the app deployment's first container at `<its image>:drctl-gameday-never-ready` right before the
    /// run waits for the rollout (a tag no registry has: on a real cluster the pods never pull, so never become
    /// ready). The run's rollout wait must then fail; the report says where and with what message.
    private func injectNeverReady(into steps: [RunbookStep], toolbox: ScenarioToolbox) throws -> [RunbookStep] {
        // The step that waits for the rollout, and what it must follow.
        let waiting: StepID
        let after: [StepID]
        switch drill.scenario {
        case .clusterLoss:
            waiting = "app.rollout"
            after = ["app.install"]
        case .dbRestore:
            waiting = "app.scale-up"
            after = ["app.scale-down", "database.smoke"]
        case .rowRecovery:
            throw GamedayError.faultNotPossible(
                fault: "deploymentNeverReady", reason: "the row-recovery runbook does not touch the app deployment")
        case .appRollback:
            throw GamedayError.faultNotPossible(
                fault: "deploymentNeverReady",
                reason: "the app-rollback drill's bad release already is a deployment that never becomes ready "
                    + "(configure it with badRelease.set)")
        }
        let kubectl = toolbox.kubectl
        let deployment = toolbox.manifest.releases.app.deployment
        let read = kubectl.getDeployment(deployment)
        let planned = kubectl.setImage(
            deployment: deployment, container: "<first container>",
            image: "<its image>:\(DrillScript.BadRelease.neverReadyTag)")
        let fault = RunbookStep(
            id: "fault.deployment-never-ready",
            title:
                "FAULT: point deployment \(deployment) at an image tag that does not exist, so it never becomes ready",
            dependsOn: after,
            inputs: ["deployment": deployment, "tag": DrillScript.BadRelease.neverReadyTag],
            commands: [read.redactedCommandLine, planned.redactedCommandLine]
        ) { context in
            let json = try await context.runner.runChecked(read).standardOutput
            guard let container = Self.firstContainer(json) else {
                throw GamedayError.faultNotPossible(
                    fault: "deploymentNeverReady", reason: "deployment \(deployment) has no container to break")
            }
            let image = Self.retagged(container.image, tag: DrillScript.BadRelease.neverReadyTag)
            try await context.runner.runChecked(
                kubectl.setImage(deployment: deployment, container: container.name, image: image))
            context.log("FAULT INJECTED: deployment \(deployment) now runs \(image), which never becomes ready")
            return ["deployment": deployment, "container": container.name, "image": image, "was": container.image]
        }
        guard let index = steps.firstIndex(where: { $0.id == waiting }) else {
            throw GamedayError.faultNotPossible(
                fault: "deploymentNeverReady", reason: "the runbook has no step \(waiting) to break")
        }
        var result = steps
        result[index].dependsOn.append(fault.id)
        result.insert(fault, at: index)
        return result
    }

    private struct DeploymentSpec: Decodable {
        struct Spec: Decodable { var template: Template }
        struct Template: Decodable { var spec: PodSpec }
        struct PodSpec: Decodable { var containers: [Container] }
        struct Container: Decodable {
            var name: String
            var image: String
        }
        var spec: Spec
    }

    static func firstContainer(_ json: Data) -> (name: String, image: String)? {
        guard let first = try? JSONDecoder().decode(DeploymentSpec.self, from: json).spec.template.spec.containers.first
        else { return nil }
        return (first.name, first.image)
    }

    /// `nginx:1.27` → `nginx:TAG`, `registry:5000/app` → `registry:5000/app:TAG`, a digest dropped.
    public static func retagged(_ image: String, tag: String) -> String {
        var repository = image.split(separator: "@", maxSplits: 1).first.map(String.init) ?? image
        if let colon = repository.lastIndex(of: ":"), !repository[colon...].contains("/") {
            repository = String(repository[..<colon])
        }
        return repository + ":" + tag
    }

    // MARK: - Smoke checks

    private func smokeStep(_ check: DrillScript.SmokeCheck, number: Int, toolbox: ScenarioToolbox) -> RunbookStep {
        let id = StepID("smoke.\(number)")
        switch check.kind {
        case .sql(let query, let expect):
            let invocation = toolbox.postgres.query(query)
            return RunbookStep(
                id: id, title: "Smoke check \(check.name): \(query)", dependsOn: [finalStepID],
                inputs: ["sql": query, "expect": expect ?? ""], invocations: [invocation]
            ) { context in
                let result = try await context.runner.runChecked(invocation)
                let value = Postgres.parseValue(result.output) ?? ""
                if let expect, value != expect {
                    throw GamedayError.smokeCheckFailed(
                        name: check.name, detail: "\(query) returned '\(value)', expected '\(expect)'")
                }
                return ["check": check.name, "value": value, "expected": expect ?? "(any)"]
            }
        case .http(let url, let expectStatus):
            return RunbookStep(
                id: id, title: "Smoke check \(check.name): GET \(url)", dependsOn: [finalStepID],
                inputs: ["url": url, "expectStatus": String(expectStatus)], commands: ["GET \(url)"]
            ) { context in
                guard let parsed = URL(string: url) else {
                    throw GamedayError.smokeCheckFailed(name: check.name, detail: "\(url) is not a URL")
                }
                let response = try await ReadinessProbe.urlSessionFetch(parsed, .seconds(10))
                let body = String(decoding: response.body.prefix(200), as: UTF8.self)
                guard response.statusCode == expectStatus else {
                    throw GamedayError.smokeCheckFailed(
                        name: check.name,
                        detail: "GET \(url) answered \(response.statusCode) (\(body)), expected \(expectStatus)")
                }
                return ["check": check.name, "status": String(response.statusCode), "body": body]
            }
        case .command(let argv):
            let invocation = CommandInvocation(argv[0], Array(argv.dropFirst()), secrets: toolbox.secrets)
            return RunbookStep(
                id: id, title: "Smoke check \(check.name): \(invocation.redactedCommandLine)",
                dependsOn: [finalStepID],
                inputs: ["command": invocation.redactedCommandLine], invocations: [invocation]
            ) { context in
                let result = try await context.runner.runChecked(invocation)
                return ["check": check.name, "exit": "0", "output": String(result.output.suffix(200))]
            }
        }
    }
}
