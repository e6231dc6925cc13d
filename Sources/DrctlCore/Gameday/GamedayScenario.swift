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

    public init(
        target: ScenarioToolbox, source: Manifest, drill: DrillScript, workRoot: String,
        releaseTimeout: Duration = .seconds(600)
    ) {
        self.target = target
        self.source = source
        self.drill = drill
        self.workRoot = workRoot
        self.releaseTimeout = releaseTimeout
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
            workRoot: try parameters.requireWorkRoot(), releaseTimeout: options.releaseTimeout)
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
        if let index = steps.firstIndex(where: { $0.id == "database.restore" }), steps[index].undo == nil {
            steps[index].undo = putBackDatabase(toolbox: toolbox)
        }
        if drill.faults.corruptNewestBackup {
            steps = try injectCorruptBackup(into: steps, toolbox: toolbox)
        }
        if drill.faults.deploymentNeverReady {
            steps = try injectNeverReady(into: steps, toolbox: toolbox)
        }
        // The kill itself is the executor's pause point after the step's effect (`GamedayService`); the step must
        // be there for it.
        if let kill = drill.faults.killAfterStep {
            guard steps.contains(where: { $0.id.rawValue == kill }) else {
                throw GamedayError.faultNotPossible(
                    fault: "killAfterStep: \(kill)",
                    reason: "the \(drill.scenario.rawValue) runbook has no step \(kill); its steps: "
                        + steps.map(\.id.rawValue).joined(separator: ", "))
            }
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
}
