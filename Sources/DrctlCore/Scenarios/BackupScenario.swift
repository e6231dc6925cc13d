import Foundation

/// The nightly backup (runbook "Backup-Strategie") as a journaled runbook: create → verify → sync (when the
/// manifest names an off-site store) → prune. Each step wraps the service `drctl backup create|verify|sync|prune`
/// runs on its own, so the nightly run and the single commands cannot drift apart; the run is locked per
/// environment and `drctl resume` continues it without dumping the database a second time once `backup.create`
/// completed.
public struct BackupScenario: Sendable {
    public static let runbookID = "backup"

    /// What a backup run does besides the defaults.
    public struct Options: ScenarioOptions {
        /// Only `backup.create`: what `drctl backup create` runs with `database.dataPlane: job`, journaled so that
        /// `drctl resume` follows its Job. False: the nightly's create → verify → sync → prune.
        public var createOnly: Bool

        public init(createOnly: Bool = false) { self.createOnly = createOnly }

        public init(legacyParameters parameters: [String: String]) { self.init() }

        enum CodingKeys: String, CodingKey { case createOnly }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            createOnly = try container.decodeIfPresent(Bool.self, forKey: .createOnly) ?? false
        }

        /// The nightly's options encode as `{}`, as they did before there were any.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            if createOnly { try container.encode(createOnly, forKey: .createOnly) }
        }
    }

    public var toolbox: ScenarioToolbox
    public var options: Options
    public var workRoot: String

    public init(toolbox: ScenarioToolbox, options: Options = Options(), workRoot: String) {
        self.toolbox = toolbox
        self.options = options
        self.workRoot = workRoot
    }

    private var manifest: Manifest { toolbox.manifest }
    private var folder: BackupFolder { BackupFolder(manifest: manifest) }

    /// The step ids, in order; `sync` is left out when the manifest names no off-site store.
    public static let createStep: StepID = "backup.create"
    public static let verifyStep: StepID = "backup.verify"
    public static let syncStep: StepID = "backup.sync"
    public static let pruneStep: StepID = "backup.prune"

    public func runbook(parameters: RunParameters = RunParameters()) throws -> Runbook {
        var steps: [RunbookStep]
        if options.createOnly {
            steps = [createStep(), RunScratch.cleanupStep(workRoot: workRoot, after: [Self.createStep])]
        } else {
            guard manifest.database.dataPlane != .job else {
                throw DataPlaneJobError.placementUnsupported(
                    what: "backup nightly (verify, sync and prune read backups.local on this machine; in the cluster"
                        + " the CronJob of drctl backup schedule runs them; drctl backup create runs in a Job, and"
                        + " drctl plan backup --create-only shows it)",
                    dataPlane: manifest.database.dataPlane.rawValue)
            }
            steps = [createStep(), verifyStep()]
            var last = Self.verifyStep
            let targets = OffsiteTarget.targets(of: toolbox)
            if !targets.isEmpty {
                steps.append(try syncStep(targets: targets))
                last = Self.syncStep
            }
            steps.append(pruneStep(after: last))
            steps.append(RunScratch.cleanupStep(workRoot: workRoot, after: [Self.pruneStep]))
        }
        return Runbook(
            id: Self.runbookID,
            environment: manifest.environment,
            parameters: try parameters.setting(options),
            manifestFingerprint: Fingerprint.of(try manifest.canonicalEncoding()),
            steps: steps,
            manifest: manifest
        )
    }

    // MARK: - Steps

    /// `<db>_backup_<YYYYMMDD_HHMMSS>.sql.gz` (`.dump` with `backups.format: custom`): the name is the time the
    /// dump starts.
    private var plannedFileName: String {
        manifest.database.name + BackupName.marker + "<YYYYMMDD_HHMMSS>"
            + BackupName.fileExtension(for: manifest.backups.format)
    }

    /// What `BackupIntegrityCheck` runs on a file of the manifest's format: `gzip -t`, or for a custom-format
    /// archive `pg_restore --list` and a full read.
    private func integrityCommands(path: String) -> [String] {
        let check = BackupIntegrityCheck(
            gzip: toolbox.gzip, sizeFloor: manifest.backups.sizeFloor, runner: CommandRunner())
        switch manifest.backups.format {
        case .plain: return [check.gzip.test(file: path).redactedCommandLine]
        case .custom:
            return [
                check.archive.list(file: path).redactedCommandLine,
                check.archive.readThrough(file: path).redactedCommandLine,
            ]
        }
    }

    /// What `backup create` checks the new file with before it is named: a custom-format archive is read again
    /// (`pg_restore --list` and a full read, as pg_dump wrote it itself); a `.sql.gz` is not (drctl hashed the
    /// bytes as it wrote them, and the compressor's exit status vouches for their format).
    private func createChecks(path: String) -> [String] {
        manifest.backups.format == .custom ? integrityCommands(path: path) : []
    }

    /// `$RUN_DIR/backup-create-started`: when this run's dump started (whole seconds), for the probe.
    static func createMarker(workRoot: String, runID: String) -> String {
        workRoot + "/" + runID + "/backup-create-started"
    }

    private static func outputs(_ record: BackupRecord, path: String) -> StepOutputs {
        ["file": record.fileName, "path": path, "sha256": record.sha256, "size": String(record.size)]
    }

    /// On resume, a `backup.create` that was killed after its backup was recorded but before the journal said
    /// so: the catalog's daily backup of this database created since the step started is this run's, so no
    /// second dump is made. Nothing there: the dump never finished, and running it again is right.
    static func probeCreation(folder: BackupFolder, database: String, marker: String) throws -> ProbeVerdict {
        guard let text = try? String(contentsOfFile: marker, encoding: .utf8),
            let seconds = TimeInterval(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return .notDone }
        let started = Date(timeIntervalSince1970: seconds)
        let candidates = try folder.catalogStore.load().records.filter {
            $0.tier == .daily && $0.name.database == database && $0.createdAt >= started
        }
        guard let record = candidates.max(by: { $0.name < $1.name }),
            let file = try folder.file(.daily, fileName: record.fileName), file.size == record.size
        else { return .notDone }
        return .done(outputs(record, path: file.path))
    }

    /// A resumed `backup.create` whose first attempt was killed mid-dump: that attempt's `daily/<name>.partial`
    /// (named after a time at or after the attempt's marker) is removed before dumping again. `drctl resume`
    /// has stopped the programs the killed run left running, so nothing writes it any more. Files of other
    /// runs or databases, and anything older than the marker, are left alone.
    static func removeUnfinishedDumps(folder: BackupFolder, database: String, marker: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: marker, encoding: .utf8),
            let seconds = TimeInterval(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return [] }
        let started = Date(timeIntervalSince1970: seconds)
        var removed: [String] = []
        for file in try folder.files() where file.tier == .daily && file.isRegularFile {
            guard file.fileName.hasSuffix(".partial"),
                let name = BackupName(fileName: String(file.fileName.dropLast(".partial".count))),
                name.database == database, name.timestamp >= started
            else { continue }
            do {
                try FileManager.default.removeItem(atPath: file.path)
            } catch {
                throw BackupError.fileNotWritten(
                    path: file.path, reason: "could not delete it: \(error.localizedDescription)")
            }
            removed.append(file.relativePath)
        }
        return removed
    }

    private func createStep() -> RunbookStep {
        manifest.database.dataPlane == .job ? createJobStep() : createLocalStep()
    }

    /// `database.dataPlane: job`: the same dump, checks, catalog and off-site upload, run by
    /// `drctl agent backup-create` in a Kubernetes Job beside the database (`JobRunner`). On resume the step
    /// follows the Job its killed attempt started (same name) instead of starting a second dump.
    private func createJobStep() -> RunbookStep {
        let toolbox = toolbox
        let settings = manifest.database.effectiveJobs
        let arguments = ["backup-create"]
        // The pipeline as the agent builds it in the image: its PATH has no pigz, so `auto` is gzip there.
        let creator = BackupCreator(
            toolbox: ScenarioToolbox(manifest: manifest.forDataPlaneJob(), databasePassword: toolbox.databasePassword))
        let inPod = BackupFolder(root: Manifest.jobBackupFolder)
        let stores = OffsiteTarget.targets(of: toolbox).map { $0.store.displayName + "/" + $0.prefix }
            .joined(separator: ", ")
        let final = inPod.path(.daily, fileName: plannedFileName)
        var work = [creator.pipeline(partialPath: final + ".partial").redactedCommandLine]
        work += createChecks(path: final + ".partial")
        work.append(
            "sha256, size at least \(manifest.backups.sizeFloor), catalog.json, monthly/; "
                + (stores.isEmpty
                    ? "no off-site store in the manifest: only the Job's backup folder keeps it"
                    : "upload with its .sha256 sidecar to " + stores))
        var commands: [String] = []
        if let (job, secret) = try? toolbox.plannedDataPlaneJob(
            name: JobRunner.plannedJobName(step: "backup.create"), arguments: arguments)
        {
            commands = JobRunner(kubectl: toolbox.kubectl).plannedCommands(
                job, secret: secret,
                notes: .init(
                    secretHolds: toolbox.plannedSecretHolds,
                    detail: toolbox.plannedPasswordSource(job) + ", backup folder \(Manifest.jobBackupFolder) on "
                        + (settings.backupClaim.map { "claim \($0)" } ?? "an emptyDir"),
                    inPod: work, verdict: "file, SHA-256, bytes, pg_dump and gzip status, uploads"))
        }
        return RunbookStep(
            id: Self.createStep,
            title: "Dump \(manifest.database.name) in a Kubernetes Job (drctl agent backup-create), upload it"
                + " with its checksum",
            inputs: [
                "database": manifest.database.name, "dataPlane": "job", "image": settings.image,
                "namespace": manifest.kube.namespace,
            ],
            commands: commands
        ) { context in
            let verdict = try await toolbox.runDataPlaneJob(
                context: context, arguments: arguments, environment: ProcessInfo.processInfo.environment)
            for warning in verdict.warnings { context.log("warning: " + warning) }
            let file = verdict.file ?? ""
            context.log(
                "created \(file) in Job \(JobRunner.jobName(runID: context.runID, step: context.step))"
                    + " (\(verdict.bytes ?? 0) bytes, sha256 \(verdict.sha256 ?? "")); uploaded "
                    + (verdict.uploaded.isEmpty ? "nothing" : verdict.uploaded.joined(separator: ", ")))
            var outputs: StepOutputs = [
                "file": file, "sha256": verdict.sha256 ?? "", "size": String(verdict.bytes ?? 0),
                "job": JobRunner.jobName(runID: context.runID, step: context.step),
                "uploaded": verdict.uploaded.joined(separator: " "),
            ]
            if let monthly = verdict.monthly { outputs["monthly"] = monthly.relativePath }
            return outputs
        }
    }

    private func createLocalStep() -> RunbookStep {
        let toolbox = toolbox
        let folder = folder
        let workRoot = workRoot
        let database = manifest.database.name
        let final = folder.path(.daily, fileName: plannedFileName)
        let partial = final + ".partial"
        let planned = BackupCreator(toolbox: toolbox)
        return RunbookStep(
            id: Self.createStep,
            title:
                "Dump \(manifest.database.name) with "
                + (manifest.backups.format == .custom
                    ? "pg_dump -Fc" : "pg_dump | \((toolbox.gzip.compressor as NSString).lastPathComponent)")
                + " into daily/ and record its checksum",
            inputs: ["database": manifest.database.name, "folder": folder.root],
            commands: [
                "(resumed after an interrupted dump) rm \(partial) of that dump",
                planned.pipeline(partialPath: partial).redactedCommandLine,
            ] + createChecks(path: partial) + [
                (manifest.backups.format == .custom
                    ? "sha256(\(partial))" : "(sha256 and byte count of the bytes written, in drctl: no second read)")
                    + ", size at least \(manifest.backups.sizeFloor)",
                "link \(partial) → \(final) (never replacing a backup), rm \(partial);"
                    + " record size and SHA-256 in \(folder.root)/catalog.json",
                "(first backup of the UTC month) link \(final) → \(folder.path(.monthly, fileName: plannedFileName))",
            ],
            probe: { context in
                try Self.probeCreation(
                    folder: folder, database: database,
                    marker: Self.createMarker(workRoot: workRoot, runID: context.runID))
            }
        ) { context in
            _ = try RunScratch.folder(workRoot: workRoot, runID: context.runID)
            let marker = Self.createMarker(workRoot: workRoot, runID: context.runID)
            for removed in try Self.removeUnfinishedDumps(folder: folder, database: database, marker: marker) {
                context.log("removed \(removed), left by this run's dump that was interrupted")
            }
            let started = context.clock.now().timeIntervalSince1970.rounded(.down)
            try RunScratch.writePrivate(String(Int64(started)), to: marker)
            let creator = BackupCreator(toolbox: toolbox, runner: context.runner, clock: context.clock)
            let creation = try await creator.create()
            for warning in creation.warnings { context.log("warning: " + warning) }
            context.log("created \(creation.path) (\(creation.daily.size) bytes, sha256 \(creation.daily.sha256))")
            var outputs = Self.outputs(creation.daily, path: creation.path)
            if let monthly = creation.monthly { outputs["monthly"] = monthly.relativePath }
            return outputs
        }
    }

    private func verifyStep() -> RunbookStep {
        let manifest = manifest
        let gzip = toolbox.gzip
        let signingKey = toolbox.recordSigningKey
        let each = "\(folder.root)/<daily|monthly>/<each backup changed since it last passed>"
        return RunbookStep(
            id: Self.verifyStep,
            title: "Verify the backups: integrity, size floor, SHA-256 against the catalog, newest against the RPO",
            dependsOn: [Self.createStep],
            inputs: ["rpo": manifest.objectives.rpo.manifestText],
            commands: integrityCommands(path: each) + [
                "sha256(\(each)) compared with \(folder.root)/catalog.json"
            ]
        ) { context in
            let verifier = BackupVerifier(
                manifest: manifest, gzip: gzip, runner: context.runner, clock: context.clock, signingKey: signingKey)
            let report = try await verifier.verify()
            context.log(report.text)
            if !report.failed.isEmpty {
                throw BackupError.verificationFailed(failed: report.failed.map { "\($0.tier)/\($0.file)" })
            }
            if let error = report.recoveryPoint.error { throw error }
            return [
                "checked": String(report.files.count),
                "newestVerified": report.recoveryPoint.newestVerified ?? "",
            ]
        }
    }

    private func syncStep(targets: [OffsiteTarget]) throws -> RunbookStep {
        let manifest = manifest
        let workRoot = workRoot
        let file = folder.path(.daily, fileName: plannedFileName)
        var commands: [String] = []
        for target in targets {
            let key = OffsiteTarget.join(target.prefix, BackupTier.daily.rawValue + "/" + plannedFileName)
            commands.append(target.store.list(prefix: target.prefix).redactedCommandLine)
            commands.append(try target.store.upload(.file(file), to: key).redactedCommandLine)
            commands.append(
                try target.store.upload(
                    .file("$RUN_DIR/sync/<…>/\(plannedFileName).sha256"), to: OffsiteTarget.sidecarKey(for: key)
                ).redactedCommandLine)
        }
        commands.append("(likewise for every other catalog backup whose copy is missing or different)")
        return RunbookStep(
            id: Self.syncStep,
            title: "Copy the backups off-site (\(targets.map(\.kind.rawValue).joined(separator: ", "))) and compare"
                + " checksums",
            dependsOn: [Self.verifyStep],
            inputs: ["stores": targets.map { $0.store.displayName + "/" + $0.prefix }.joined(separator: " ")],
            commands: commands
        ) { context in
            let scratch = try RunScratch.folder(workRoot: workRoot, runID: context.runID, sub: "sync")
            let sync = BackupSync(
                manifest: manifest, targets: targets, runner: context.runner, clock: context.clock,
                scratchDirectory: scratch)
            let report = try await sync.sync(dryRun: false)
            context.log(report.text)
            if let error = report.outOfSyncError { throw error }
            return ["uploaded": String(report.stores.map(\.uploaded.count).reduce(0, +))]
        }
    }

    private func pruneStep(after previous: StepID) -> RunbookStep {
        let manifest = manifest
        let retention = manifest.backups.retention
        return RunbookStep(
            id: Self.pruneStep,
            title: "Prune local backups beyond the retention (\(retention.daily) daily, \(retention.monthly) monthly)",
            dependsOn: [previous],
            destructive: true,
            inputs: ["daily": String(retention.daily), "monthly": String(retention.monthly)],
            commands: [
                "rm \(folder.directory(.daily))/<each backup beyond the newest \(retention.daily)>",
                "rm \(folder.directory(.monthly))/<each backup beyond the newest \(retention.monthly)>",
                "(never the newest verified backup, never a file the catalog does not know;"
                    + " `drctl backup prune --dry-run` lists them)",
            ],
            probe: { _ in
                // Pruning twice deletes nothing more: running it again after an interruption is safe.
                .notDone
            }
        ) { context in
            let report = try BackupPruner(manifest: manifest, clock: context.clock).prune(dryRun: false)
            context.log(report.text)
            return [
                "deleted": report.deleted.joined(separator: " "), "forgotten": report.forgotten.joined(separator: " "),
            ]
        }
    }
}

extension BackupError: RefusalError {
    /// A backup that fails its checks (or misses the RPO) stops the nightly run as a refusal, exit 3, as
    /// `drctl backup verify` exits.
    public var isRefusal: Bool { failureKind == .refused }

    public var failureKind: FailureKind {
        switch self {
        case .backupCorrupt, .backupEmpty, .backupUnderSizeFloor, .checksumMismatch, .backupNotInCatalog,
            .verificationFailed, .recoveryPointObjectiveMissed, .backupExists, .dumpUnderSizeFloor:
            .refused
        case .databaseNameUnusableInFileName, .noOffsiteStore, .backupNotFound: .usage
        case .localFolderUnusable, .catalogUnreadable, .catalogNotWritten, .dumpFailed, .fileNotWritten,
            .fileUnreadable, .offsiteOperationFailed, .offsiteCopiesOutOfSync:
            .failed
        }
    }
}
