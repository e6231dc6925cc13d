import Foundation

/// Runbook Szenario 1, database corruption: pick the backup, verify it and load it into a new database, where
/// it is compared with the backup's content record (a refused backup's database is dropped and the next older
/// one tried, unless one was named; nothing live is touched so far) → check free space → scale the app to 0
/// (remembering its replica count) → smoke query on the new database, then swap it in (the old one kept as
/// `<db>_before_<run>` unless `--drop-old`) → smoke query → scale the app back → /readyz. The app is down only
/// for the swap, not for the load.
public struct RestoreScenario: Sendable {
    public static let runbookID = "restore"

    public struct Options: ScenarioOptions {
        public var backup: BackupChoice
        /// Drop the replaced database after the smoke query passed, instead of keeping it as `<db>_before_<run>`.
        public var dropOld: Bool
        /// The operator confirmed (`--yes` or on the terminal); required in an environment named production.
        public var confirmed: Bool
        public var rolloutTimeout: Duration
        /// Restore another database's backups (a game day: production's into staging's); nil: the manifest's.
        public var backupDatabase: String?

        public init(
            backup: BackupChoice = .latest, dropOld: Bool = false, confirmed: Bool = false,
            rolloutTimeout: Duration = .seconds(600), backupDatabase: String? = nil
        ) {
            self.backup = backup
            self.dropOld = dropOld
            self.confirmed = confirmed
            self.rolloutTimeout = rolloutTimeout
            self.backupDatabase = backupDatabase
        }

        public init(legacyParameters parameters: [String: String]) throws {
            self.init(
                backup: try BackupChoice(parameters: parameters),
                dropOld: parameters["dropOld"] == "yes",
                confirmed: parameters["confirmed"] == "yes",
                rolloutTimeout: parameters["rolloutTimeout"].flatMap { Duration(manifestText: $0) } ?? .seconds(600),
                backupDatabase: parameters["backupDatabase"]
            )
        }

        enum CodingKeys: String, CodingKey { case backup, before, dropOld, confirmed, rolloutTimeout, backupDatabase }

        /// The backup choice is `backup` (a file name) or `before` (a time), absent for the newest.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeBackupChoice(backup, name: .backup, before: .before)
            try container.encode(dropOld, forKey: .dropOld)
            try container.encode(confirmed, forKey: .confirmed)
            try container.encodeDuration(rolloutTimeout, forKey: .rolloutTimeout)
            try container.encodeIfPresent(backupDatabase, forKey: .backupDatabase)
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                backup: try container.decodeBackupChoice(name: .backup, before: .before),
                dropOld: try container.decodeIfPresent(Bool.self, forKey: .dropOld) ?? false,
                confirmed: try container.decodeIfPresent(Bool.self, forKey: .confirmed) ?? false,
                rolloutTimeout: try container.decodeDuration(forKey: .rolloutTimeout) ?? .seconds(600),
                backupDatabase: try container.decodeIfPresent(String.self, forKey: .backupDatabase))
        }
    }

    public var toolbox: ScenarioToolbox
    public var options: Options
    public var workRoot: String
    public var spaceCheck: DatabaseSpaceCheck

    public init(
        toolbox: ScenarioToolbox, options: Options = Options(), workRoot: String,
        spaceCheck: DatabaseSpaceCheck? = nil
    ) {
        self.toolbox = toolbox
        self.options = options
        self.workRoot = workRoot
        self.spaceCheck =
            spaceCheck ?? DatabaseSpaceCheck(freeSpace: DatabaseSpaceCheck.live(postgres: toolbox.postgres))
    }

    private var manifest: Manifest { toolbox.manifest }
    private var deployment: String { manifest.releases.app.deployment }

    /// The environment whose destructive steps need a confirmation.
    public static func needsConfirmation(environment: String) -> Bool {
        environment.lowercased() == "production"
    }

    /// What the destructive part does, for the confirmation question and the refusal.
    public var destructiveSummary: String { Self.destructiveSummary(manifest: manifest, options: options) }

    public static func destructiveSummary(manifest: Manifest, options: Options) -> String {
        let database = manifest.database.name
        let old =
            options.dropOld
            ? "the current \(database) is DROPPED" : "the current \(database) is kept as \(database)_before_<run>"
        return "stop deployment \(manifest.releases.app.deployment) in namespace \(manifest.kube.namespace) (scale"
            + " to 0), restore \(options.backup.description) into a new database and swap it in for \(database)"
            + " (\(old)), then scale the app back"
    }

    public func runbook(parameters: RunParameters = RunParameters()) throws -> Runbook {
        var verify = RecoveryBackupSource(
            toolbox: toolbox, workRoot: workRoot, backupDatabase: options.backupDatabase, spaceCheck: spaceCheck
        )
        .verifyStep(options.backup, title: "and load it into a new database, before anything live is touched")
        // Asked before the load: a production restore that is refused should not have filled the server first.
        let load = verify.action
        let (environment, confirmed, summary) = (manifest.environment, options.confirmed, destructiveSummary)
        verify.action = { context in
            if Self.needsConfirmation(environment: environment), !confirmed {
                throw RecoveryError.confirmationRequired(environment: environment, action: summary)
            }
            return try await load(context)
        }
        var steps = [
            verify,
            spaceCheck.step(toolbox: toolbox, what: "the new database"),
            scaleDownStep(),
            DatabaseRestorer(toolbox: toolbox).step(
                after: ["app.scale-down", "backup.verify"], backupStep: "backup.verify",
                title: "Swap the verified new database in for \(manifest.database.name)", streamed: true),
        ]
        var last: StepID = "database.restore"
        if options.dropOld {
            steps.append(dropOldStep())
            last = "database.drop-old"
        }
        steps += [
            smokeStep(after: last), scaleUpStep(), toolbox.readinessStep(id: "readiness", after: ["app.scale-up"]),
        ]
        steps.append(RunScratch.cleanupStep(workRoot: workRoot, after: ["readiness"]))
        return Runbook(
            id: Self.runbookID,
            environment: manifest.environment,
            parameters: try parameters.setting(options),
            manifestFingerprint: Fingerprint.of(try manifest.canonicalEncoding()),
            rtoBudget: manifest.objectives.rto,
            steps: steps,
            manifest: manifest
        )
    }

    // MARK: - Steps

    private func scaleDownStep() -> RunbookStep {
        let kubectl = toolbox.kubectl
        let deployment = deployment
        let read = kubectl.deploymentReplicas(deployment)
        let scale = kubectl.scaleDeployment(deployment, replicas: 0)
        let manifestReplicas = manifest.releases.app.replicas
        return RunbookStep(
            id: "app.scale-down",
            title: "Stop the application: scale deployment \(deployment) to 0 (its replica count is recorded)",
            dependsOn: ["database.space"],
            inputs: ["deployment": deployment],
            invocations: [read, scale],
            undo: scaleBackUndo()
        ) { context in
            let current = try Kubectl.parseReplicas(try await context.runner.runChecked(read).output)
            // A resumed run finds the app already at 0: scale it back to the manifest's count later.
            let previous = current > 0 ? current : manifestReplicas
            try await context.runner.runChecked(scale)
            context.log("deployment \(deployment) scaled from \(current) to 0")
            return ["previousReplicas": String(previous)]
        }
    }

    /// After a failure later in the run: the app back at the replica count `app.scale-down` recorded, so
    /// production keeps serving, unless the live database is gone (a swap that stopped half-way: `drctl resume`
    /// finishes it, and the app would only fail against a missing database).
    private func scaleBackUndo() -> StepUndo {
        let kubectl = toolbox.kubectl
        let postgres = toolbox.postgres
        let deployment = deployment
        let database = manifest.database.name
        let rollout = kubectl.rolloutStatus(deployment: deployment, timeout: options.rolloutTimeout)
        return StepUndo(
            title: "scale \(deployment) back to its recorded replica count and wait for the rollout (unless"
                + " \(database) is gone)",
            settledBy: ["app.scale-up"]
        ) { context in
            let recorded = try context.outputs(of: "app.scale-down")
            let replicas = try recorded.integer("previousReplicas", from: "app.scale-down")
            let exists = try await context.runner.runChecked(postgres.databaseExists(database))
            guard Postgres.parseExists(exists.output) else {
                throw StepUndoDeclined(
                    reason: "deployment \(deployment) left at 0: the database \(database) does not exist (the swap"
                        + " stopped half-way); `drctl resume \(context.runID)` finishes the restore and scales it back")
            }
            let current = try Kubectl.parseReplicas(
                try await context.runner.runChecked(kubectl.deploymentReplicas(deployment)).output)
            if current == replicas {
                // app.scale-up got as far as the scale before it failed (its rollout, say): nothing to undo.
                return "deployment \(deployment) is already at its recorded \(replicas) replica(s)"
            }
            try await context.runner.runChecked(kubectl.scaleDeployment(deployment, replicas: replicas))
            let done = "deployment \(deployment) scaled back to its recorded \(replicas) replica(s)"
            let rolledOut = try await context.runner.run(rollout)
            guard rolledOut.succeeded else {
                return done + "; its rollout did not finish: "
                    + rolledOut.standardErrorTail
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return done + " and rolled out"
        }
    }

    private func dropOldStep() -> RunbookStep {
        let postgres = toolbox.postgres
        let planned = postgres.dropDatabase("\(manifest.database.name)_before_<run>", force: true)
        return RunbookStep(
            id: "database.drop-old",
            title: "Drop the replaced database (--drop-old)",
            dependsOn: ["database.restore"],
            destructive: true,
            commands: [
                "(if the old database was kept) " + planned.redactedCommandLine,
                postgres.databaseExists("\(manifest.database.name)_before_<run>").redactedCommandLine
                    + "  (on resume: gone means dropped)",
            ],
            probe: { context in
                // Dropping twice is harmless (IF EXISTS): the world says whether it still has to happen.
                let kept = try context.outputs(of: "database.restore")["keptPrevious"] ?? ""
                guard !kept.isEmpty else { return .done(["dropped": ""]) }
                let exists = try await context.runner.run(postgres.databaseExists(kept))
                guard exists.succeeded else {
                    return .unknown(reason: "cannot tell whether \(kept) still exists: psql failed")
                }
                return Postgres.parseExists(exists.output) ? .notDone : .done(["dropped": kept])
            }
        ) { context in
            let restored = try context.outputs(of: "database.restore")
            guard let kept = restored["keptPrevious"], !kept.isEmpty else { return ["dropped": ""] }
            try await postgres.dropDatabase(kept, context: context)
            return ["dropped": kept]
        }
    }

    private var smokeQuery: String {
        manifest.database.smokeQuery
            ?? "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
    }

    private func smokeStep(after previous: StepID) -> RunbookStep {
        let query = toolbox.postgres.query(smokeQuery)
        let sql = smokeQuery
        return RunbookStep(
            id: "database.smoke",
            title: "Smoke query on \(manifest.database.name): \(sql)",
            dependsOn: [previous],
            inputs: ["query": sql],
            invocations: [query]
        ) { context in
            let result = try await context.runner.runChecked(query)
            let value = Postgres.parseValue(result.output) ?? ""
            context.log("\(sql) → \(value)")
            return ["query": sql, "result": value]
        }
    }

    private func scaleUpStep() -> RunbookStep {
        let kubectl = toolbox.kubectl
        let deployment = deployment
        let rollout = kubectl.rolloutStatus(deployment: deployment, timeout: options.rolloutTimeout)
        let planned = kubectl.scaleDeployment(deployment, replicas: manifest.releases.app.replicas)
        return RunbookStep(
            id: "app.scale-up",
            title: "Start the application again: scale \(deployment) back to its recorded replica count",
            dependsOn: ["database.smoke", "app.scale-down"],
            timeout: options.rolloutTimeout + .seconds(60),
            inputs: ["deployment": deployment],
            commands: [
                planned.redactedCommandLine.replacingOccurrences(
                    of: "--replicas \(manifest.releases.app.replicas)", with: "--replicas <recorded count>"),
                rollout.redactedCommandLine,
            ]
        ) { context in
            let recorded = try context.outputs(of: "app.scale-down")
            let replicas = Int(try recorded.require("previousReplicas", from: "app.scale-down")) ?? 1
            try await context.runner.runChecked(kubectl.scaleDeployment(deployment, replicas: replicas))
            try await context.runner.runChecked(rollout)
            return ["replicas": String(replicas)]
        }
    }
}
