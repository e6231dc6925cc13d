import Foundation

/// Runbook Szenario 2, complete cluster loss: provision hooks → wait for the API → PostgreSQL release →
/// load the newest off-site backup into a new database, verifying it → swap it in → app release at its replica
/// count → rollout → /readyz. Beside the PostgreSQL release and the load: the backup's choice and download into the
/// run's scratch folder, verified before any database exists (`backup.select`, on the operator's machine; a Job
/// streams it once the database is up), the app release installed at 0 replicas without its hooks, and the
/// archive sync. Every step is idempotent or probed, so `drctl resume`
/// can continue an interrupted rebuild.
public struct RebuildScenario: Sendable {
    public static let runbookID = "rebuild"

    public struct Options: ScenarioOptions {
        /// A backup file name to restore instead of the newest one.
        public var backup: String?
        /// Restore the newest backup taken before this time instead of the newest one.
        public var before: Date?
        /// How long helm and `kubectl rollout status` may wait for a release to become ready.
        public var releaseTimeout: Duration
        /// How long to wait for the Kubernetes API after the provision hooks.
        public var apiWaitAttempts: Int
        /// Restore the backups of this database (a game day restores production's into staging); nil: the
        /// manifest's own.
        public var backupDatabase: String?

        public init(
            backup: String? = nil, before: Date? = nil, releaseTimeout: Duration = .seconds(600),
            apiWaitAttempts: Int = 20, backupDatabase: String? = nil
        ) {
            self.backup = backup
            self.before = before
            self.releaseTimeout = releaseTimeout
            self.apiWaitAttempts = apiWaitAttempts
            self.backupDatabase = backupDatabase
        }

        public init(legacyParameters parameters: [String: String]) {
            self.init(
                backup: parameters["backup"],
                before: parameters["before"].flatMap(BackupChoice.parseTime),
                releaseTimeout: parameters["releaseTimeout"].flatMap { Duration(manifestText: $0) } ?? .seconds(600),
                backupDatabase: parameters["backupDatabase"]
            )
        }

        enum CodingKeys: String, CodingKey { case backup, before, releaseTimeout, apiWaitAttempts, backupDatabase }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeIfPresent(backup, forKey: .backup)
            try container.encodeIfPresent(before, forKey: .before)
            try container.encodeDuration(releaseTimeout, forKey: .releaseTimeout)
            try container.encode(apiWaitAttempts, forKey: .apiWaitAttempts)
            try container.encodeIfPresent(backupDatabase, forKey: .backupDatabase)
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                backup: try container.decodeIfPresent(String.self, forKey: .backup),
                before: try container.decodeIfPresent(Date.self, forKey: .before),
                releaseTimeout: try container.decodeDuration(forKey: .releaseTimeout) ?? .seconds(600),
                apiWaitAttempts: try container.decodeIfPresent(Int.self, forKey: .apiWaitAttempts) ?? 20,
                backupDatabase: try container.decodeIfPresent(String.self, forKey: .backupDatabase))
        }
    }

    public var toolbox: ScenarioToolbox
    public var options: Options
    /// Per-run scratch space (downloaded backup, 0600 values files) lives in `<workRoot>/<runID>/`.
    public var workRoot: String

    public init(toolbox: ScenarioToolbox, options: Options = Options(), workRoot: String) {
        self.toolbox = toolbox
        self.options = options
        self.workRoot = workRoot
    }

    private var manifest: Manifest { toolbox.manifest }

    /// The runbook; the same value drives `drctl plan rebuild` and `drctl rebuild`.
    public func runbook(parameters: RunParameters = RunParameters()) throws -> Runbook {
        // Without an off-site copy there is nothing to rebuild from: say so before any step runs.
        guard !toolbox.objectStores.isEmpty else {
            throw ScenarioError.noOffsiteStore(environment: manifest.environment)
        }
        var steps: [RunbookStep] = []
        var previous: [StepID] = []
        for hook in manifest.provision {
            let step = provisionStep(hook, after: previous)
            steps.append(step)
            previous = [step.id]
        }
        steps.append(waitForAPIStep(after: previous))
        var postgresDependencies: [StepID] = ["cluster.api"]
        if let repository = manifest.releases.postgresql.repository {
            steps.append(repositoryStep(repository))
            postgresDependencies.append("postgresql.repository")
        }
        steps.append(
            releaseStep(
                id: "postgresql.install", release: manifest.releases.postgresql, phase: .whole,
                after: postgresDependencies, secretValues: postgresSecretValues))
        steps.append(databaseReadyStep())
        // On the operator's machine the off-site read runs beside the PostgreSQL release: choosing and spooling the
        // backup need no database. A Job (`database.dataPlane: job`) reads it in the cluster once the database is up;
        // a `.dump` is downloaded and checked by backup.fetch, as before.
        let spools =
            manifest.database.dataPlane == .local
            && OffsiteBackupFetcher(toolbox: toolbox, workRoot: workRoot).plannedExtension(options.backup)
                != BackupName.archiveFileExtension
        if spools { steps.append(selectBackupStep(after: previous)) }
        steps.append(fetchBackupStep(spooled: spools))
        // The app's release is installed at 0 replicas beside the PostgreSQL release and the load (nothing of it
        // runs, no hook touches a database that is not there yet), and brought to its replica count after the swap.
        steps.append(
            releaseStep(
                id: "app.install", release: manifest.releases.app.release, phase: .staged, after: ["cluster.api"],
                secretValues: appSecretValues(replicas: 0)))
        steps.append(
            DatabaseRestorer(toolbox: toolbox).step(
                after: ["database.ready", "backup.fetch"], backupStep: "backup.fetch",
                title: "Swap the verified new database in for \(manifest.database.name)", streamed: true))
        steps.append(
            releaseStep(
                id: "app.scale-up", release: manifest.releases.app.release,
                phase: .scaleUp(replicas: manifest.releases.app.replicas),
                after: ["database.restore", "app.install"],
                secretValues: appSecretValues(replicas: manifest.releases.app.replicas),
                // The restored schema's revision goes into the release's description, for `rollback app
                // --with-migrations`.
                migrationRevision: manifest.migrations == nil
                    ? nil : DatabaseMigrationRevision(postgres: toolbox.postgres)
            ))
        steps.append(toolbox.rolloutStep(after: ["app.scale-up"], timeout: options.releaseTimeout))
        if let archive = manifest.archive { steps.append(try archiveStep(archive, after: previous)) }
        steps.append(
            toolbox.readinessStep(
                id: "readiness", after: ["app.rollout"] + (manifest.archive == nil ? [] : ["archive.sync"])))
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

    private func provisionStep(_ hook: Manifest.ProvisionHook, after previous: [StepID]) -> RunbookStep {
        let command = CommandInvocation(
            hook.command[0], Array(hook.command.dropFirst()), environment: hook.environment,
            secrets: toolbox.secrets, timeout: hook.timeout)
        let check = hook.check.map {
            CommandInvocation($0[0], Array($0.dropFirst()), environment: hook.environment, secrets: toolbox.secrets)
        }
        var probe: RunbookStep.Probe?
        if let check {
            probe = { context in
                try await context.runner.run(check).succeeded ? .done(["skipped": "check succeeded"]) : .notDone
            }
        }
        return RunbookStep(
            id: StepID("provision.\(hook.name)"),
            title: "Provision hook \(hook.name)" + (check == nil ? "" : " (skipped when its check succeeds)"),
            dependsOn: previous,
            timeout: hook.timeout,
            inputs: ["command": command.redactedCommandLine, "check": check?.redactedCommandLine ?? ""],
            invocations: (check.map { [$0] } ?? []) + [command],
            probe: probe
        ) { context in
            if let check, try await context.runner.run(check).succeeded {
                context.log("check succeeded: \(check.redactedCommandLine) — the hook is not needed")
                return ["skipped": "check succeeded"]
            }
            try await context.runner.runChecked(command)
            return ["ran": command.redactedCommandLine]
        }
    }

    private func waitForAPIStep(after previous: [StepID]) -> RunbookStep {
        let version = toolbox.kubectl.version()
        return RunbookStep(
            id: "cluster.api",
            title: "Wait until the Kubernetes API answers",
            dependsOn: previous,
            retry: RetryPolicy(attempts: options.apiWaitAttempts, backoff: .seconds(3), multiplier: 1),
            inputs: ["context": manifest.kube.context ?? "", "namespace": manifest.kube.namespace],
            invocations: [version]
        ) { context in
            let result = try await context.runner.runChecked(version)
            let info = try? Kubectl.parseVersion(result.standardOutput)
            return ["serverVersion": info?.server ?? "unknown"]
        }
    }

    private func repositoryStep(_ repository: Manifest.ChartRepository) -> RunbookStep {
        let add = toolbox.helm.repoAdd(name: repository.name, url: repository.url)
        let update = toolbox.helm.repoUpdate([repository.name])
        return RunbookStep(
            id: "postgresql.repository",
            title: "Add and update the helm repository \(repository.name)",
            retry: RetryPolicy(attempts: 3, backoff: .seconds(5)),
            inputs: ["name": repository.name, "url": repository.url],
            invocations: [add, update]
        ) { context in
            try await context.runner.runChecked(add)
            try await context.runner.runChecked(update)
            return [:]
        }
    }

    /// What a release step does with its release.
    enum ReleasePhase: Sendable, Equatable {
        /// Installed as the manifest says, waiting until it is ready (the PostgreSQL release).
        case whole
        /// The app's release at 0 replicas, without its chart's hooks, while the database loads: nothing of the
        /// app runs against a database that is not there yet; `--wait` still waits for what it creates (the
        /// archive's claim).
        case staged
        /// The app's release at its replica count after the swap, its hooks running against the restored database;
        /// no `--wait`: `app.rollout` waits for the pods.
        case scaleUp(replicas: Int)

        /// `--wait`: all but the scale-up, whose pods `app.rollout` waits for (helm 3 polls every 2 s).
        var waits: Bool {
            if case .scaleUp = self { return false }
            return true
        }
    }

    /// `helm upgrade --install` with the manifest's values files plus a 0600 values file of secrets, written in
    /// the run's scratch folder and removed when helm is done: the password never reaches helm's argv. With
    /// `migrationRevision`, the database's schema revision is read first and recorded as the helm description.
    /// On resume, helm status (and for the app the deployment's replica count) says whether the phase is done.
    private func releaseStep(
        id: StepID, release: Manifest.HelmRelease, phase: ReleasePhase, after dependencies: [StepID],
        secretValues: @escaping @Sendable () -> [String: Any],
        migrationRevision: DatabaseMigrationRevision? = nil
    ) -> RunbookStep {
        let helm = toolbox.helm
        let kubectl = toolbox.kubectl
        let options = self.options
        let workRoot = self.workRoot
        let deployment = manifest.releases.app.deployment
        let secretFileName = "\(release.name)-secret-values.yaml"
        let fixedDescription = phase == .staged ? HelmRollbackTarget.stagedInstallDescription : nil
        @Sendable func install(secretFile: String, description: String?) -> CommandInvocation {
            helm.upgradeInstall(
                release: release.name, chart: release.chart.argument,
                options: HelmUpgradeOptions(
                    valuesFiles: release.values.map(\.absolute) + [secretFile],
                    chartVersion: release.version,
                    createNamespace: true,
                    wait: phase.waits,
                    timeout: options.releaseTimeout,
                    description: description ?? fixedDescription,
                    noHooks: phase == .staged
                )
            )
        }
        let status = helm.status(release: release.name)
        let readReplicas = kubectl.deploymentReplicas(deployment)
        let planned = install(
            secretFile: "$RUN_DIR/\(secretFileName)",
            description: migrationRevision.map { _ in DatabaseMigrationRevision.helmDescription("$SCHEMA_REVISION") })
        let readRevision = migrationRevision.map { [$0.tableCheck, $0.read].map(\.redactedCommandLine) } ?? []
        let title: String
        switch phase {
        case .whole: title = "helm upgrade --install \(release.name) (\(release.chart.description))"
        case .staged:
            title =
                "helm upgrade --install \(release.name) (\(release.chart.description)) at 0 replicas and without"
                + " its hooks, beside the database load: nothing of the app runs before the swap (a release"
                + " already deployed is left serving)"
        case .scaleUp(let replicas):
            title =
                "helm upgrade \(release.name) to \(replicas) replica(s) after the swap; its hooks run now, against"
                + " the restored database"
        }
        /// Whether the release, deployed as helm status says, is in this step's phase.
        @Sendable func inPhase(_ parsed: HelmReleaseStatus, context: StepContext) async throws -> Bool {
            switch phase {
            case .whole: return true
            // Staged by this run, or a release that was deployed before it: that one is left serving (a backup
            // refused later must not leave the app stopped); `app.scale-up` upgrades it after the swap.
            case .staged: return true
            case .scaleUp(let replicas):
                guard !HelmRollbackTarget.isStagedInstall(parsed.description) else { return false }
                let read = try await context.runner.run(readReplicas)
                return read.succeeded && (try? Kubectl.parseReplicas(read.output)) == replicas
            }
        }
        var commands = readRevision + [planned.redactedCommandLine]
        if case .scaleUp = phase {
            commands.append(
                readReplicas.redactedCommandLine + "  (on resume: done when helm status is deployed past the staged"
                    + " install and the deployment has this replica count)")
        }
        return RunbookStep(
            id: id,
            title: title,
            dependsOn: dependencies,
            timeout: options.releaseTimeout + .seconds(60),
            inputs: [
                "release": release.name, "chart": release.chart.description,
                "values": release.values.map(\.written).joined(separator: ","), "version": release.version ?? "",
            ],
            commands: commands,
            probe: { context in
                guard let parsed = try await Self.deployedRelease(status, context: context),
                    try await inPhase(parsed, context: context)
                else { return .notDone }
                return .done(["revision": String(parsed.revision), "status": parsed.status])
            }
        ) { context in
            if phase == .staged, let deployed = try await Self.deployedRelease(status, context: context) {
                context.log(
                    "\(release.name) is already deployed (revision \(deployed.revision)): left serving while the"
                        + " database loads; app.scale-up upgrades it after the swap")
                return ["revision": String(deployed.revision), "status": deployed.status, "leftServing": "true"]
            }
            let folder = try RunScratch.folder(workRoot: workRoot, runID: context.runID)
            let pendingGuard = PendingReleaseGuard(helm: helm, kubectl: kubectl, release: release.name, folder: folder)
            let secretFile = folder + "/" + secretFileName
            let schemaRevision = try await migrationRevision?.revision(context: context)
            if let schemaRevision { context.log("the database's schema is at alembic revision \(schemaRevision)") }
            try RunScratch.writePrivate(YAMLValues.render(secretValues()), to: secretFile)
            defer { try? FileManager.default.removeItem(atPath: secretFile) }
            let invocation = install(
                secretFile: secretFile, description: schemaRevision.map(DatabaseMigrationRevision.helmDescription)
            )
            .adding(secrets: toolbox.secrets)
            // A helm of an interrupted attempt may have created the release just after the guard looked.
            try await RetryPolicy(attempts: 3, backoff: .zero).run(clock: context.clock, log: context.log) { _ in
                try await pendingGuard.prepare(context: context)
                let result = try await context.runner.run(invocation)
                guard let failure = result.failure else { return .finished(()) }
                guard failure.meaning.isContended else { throw failure }
                return .tryAgain(
                    reason: "another helm operation on \(release.name) is still running; trying again", failure: failure
                )
            }
            let result = try await context.runner.runChecked(status)
            let parsed = try Helm.parseStatus(result.standardOutput)
            var outputs: StepOutputs = ["revision": String(parsed.revision), "status": parsed.status]
            if let schemaRevision { outputs["migrationRevision"] = schemaRevision }
            return outputs
        }
    }

    /// The release as helm status reports it, when it is deployed.
    private static func deployedRelease(
        _ status: CommandInvocation, context: StepContext
    ) async throws -> HelmReleaseStatus? {
        let result = try await context.runner.run(status)
        guard result.succeeded, let parsed = try? Helm.parseStatus(result.standardOutput), parsed.status == "deployed"
        else { return nil }
        return parsed
    }

    /// bitnami/postgresql's keys; the password travels in the 0600 values file only.
    private var postgresSecretValues: @Sendable () -> [String: Any] {
        let database = manifest.database
        let password = toolbox.databasePassword
        return {
            ["auth": ["username": database.user, "password": password.value, "database": database.name]]
        }
    }

    /// The runbook's `--set env[0].name=DATABASE_URL --set env[0].value=postgresql://…`, as a values file, with
    /// the replica count of the phase (0 while the database loads).
    private func appSecretValues(replicas: Int) -> @Sendable () -> [String: Any] {
        let database = manifest.database
        let password = toolbox.databasePassword
        return {
            [
                "replicaCount": replicas,
                "env": [["name": "DATABASE_URL", "value": DatabaseURL.make(database, password: password.value)]],
            ]
        }
    }

    private func databaseReadyStep() -> RunbookStep {
        let ping = toolbox.postgres.adminQuery("SELECT 1")
        return RunbookStep(
            id: "database.ready",
            title: "Wait until PostgreSQL accepts connections",
            dependsOn: ["postgresql.install"],
            retry: RetryPolicy(attempts: 20, backoff: .seconds(3), multiplier: 1),
            inputs: ["host": manifest.database.host, "port": String(manifest.database.port)],
            invocations: [ping]
        ) { context in
            try await context.runner.runChecked(ping)
            return [:]
        }
    }

    /// Lists the off-site store, chooses the backup, reads its sidecars and spools it into the run's scratch
    /// folder, verified against its recorded SHA-256 before any database exists (`OffsiteBackupFetcher.spool`).
    /// Its outputs (key, size, sha256, spool path) are journaled: a resumed run does not choose again.
    private func selectBackupStep(after previous: [StepID]) -> RunbookStep {
        let fetcher = OffsiteBackupFetcher(
            toolbox: toolbox, workRoot: workRoot, backupDatabaseName: options.backupDatabase)
        return RunbookStep(
            id: "backup.select",
            title:
                "Choose the \(options.backup.map { "backup \($0)" } ?? "newest backup") off-site and spool it into the"
                + " run's scratch folder, verifying size and SHA-256 before any database exists (beside the PostgreSQL"
                + " release)",
            dependsOn: previous,
            retry: RetryPolicy(attempts: 3, backoff: .seconds(5)),
            inputs: ["backup": options.backup ?? "latest", "sizeFloor": String(manifest.backups.sizeFloor.bytes)]
                .merging(options.before.map { ["before": BackupChoice.format($0)] } ?? [:]) { $1 },
            commands: fetcher.plannedSpoolCommands(backup: options.backup, before: options.before)
        ) { [options] context in
            try await fetcher.spool(backup: options.backup, before: options.before, context: context)
        }
    }

    /// `spooled`: loads what `backup.select` spooled (`loadSpooled`); else streams as `restore` does.
    private func fetchBackupStep(spooled: Bool) -> RunbookStep {
        let fetcher = OffsiteBackupFetcher(
            toolbox: toolbox, workRoot: workRoot, backupDatabaseName: options.backupDatabase)
        let restorer = DatabaseRestorer(toolbox: toolbox)
        if spooled {
            return RunbookStep(
                id: "backup.fetch",
                title: "Load the backup backup.select spooled and verified into a new database (one pass, its SHA-256"
                    + " checked again on the way, then its content record)",
                dependsOn: ["database.ready", "backup.select"],
                retry: RetryPolicy(attempts: 3, backoff: .seconds(5)),
                inputs: ["backup": options.backup ?? "latest"]
                    .merging(options.before.map { ["before": BackupChoice.format($0)] } ?? [:]) { $1 },
                commands: fetcher.plannedSpooledLoadCommands(
                    backup: options.backup, before: options.before, restorer: restorer)
            ) { [options] context in
                try await fetcher.loadSpooled(
                    try context.outputs(of: "backup.select"), backup: options.backup, before: options.before,
                    restorer: restorer, context: context
                ).outputs
            }
        }
        return RunbookStep(
            id: "backup.fetch",
            title: manifest.backups.format == .custom
                ? "Load the \(options.backup.map { "backup \($0)" } ?? "newest backup") from off-site into a new database"
                    + " (a .dump: downloaded, its size, SHA-256 and archive checked, then pg_restore -j)"
                : "Stream the \(options.backup.map { "backup \($0)" } ?? "newest backup") from off-site into a new"
                    + " database, verifying gzip, size and SHA-256 on the way",
            dependsOn: ["database.ready"],
            retry: RetryPolicy(attempts: 3, backoff: .seconds(5)),
            inputs: ["backup": options.backup ?? "latest", "sizeFloor": String(manifest.backups.sizeFloor.bytes)]
                .merging(options.before.map { ["before": BackupChoice.format($0)] } ?? [:]) { $1 },
            commands: fetcher.plannedStreamCommands(
                step: "backup.fetch", backup: options.backup, before: options.before, restorer: restorer)
        ) { [options] context in
            try await fetcher.stream(
                backup: options.backup, before: options.before, restorer: restorer,
                context: context
            ).outputs
        }
    }

    private func archiveStep(_ archive: Manifest.Archive, after previous: [StepID]) throws -> RunbookStep {
        // In the cluster the archive goes into the app's claim, which the app's staged release brings (or a
        // provision hook made): the sync Job runs beside the database load.
        if manifest.database.dataPlane != .local {
            return try ArchiveSyncJob(toolbox: toolbox, archive: archive).step(after: ["app.install"])
        }
        let sync = try ArchiveSync(archive: archive, executables: toolbox.executables)
        return RunbookStep(
            id: "archive.sync",
            title: "Restore the archive files from \(archive.source) (beside the database restore)",
            dependsOn: previous,
            retry: RetryPolicy(attempts: 3, backoff: .seconds(5)),
            inputs: ["source": archive.source, "destination": archive.destination.written],
            invocations: sync.plannedInvocations
        ) { context in
            try await sync.run(context: context)
        }
    }
}
