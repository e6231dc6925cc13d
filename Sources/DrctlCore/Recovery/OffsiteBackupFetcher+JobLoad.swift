import Foundation

/// `database.dataPlane: job`: the bulk of a streamed restore — `aws s3 cp … - | sha256 | gzip -dc | psql` into
/// the run's new database — runs in a Kubernetes Job (`drctl agent restore-load`) beside the database, from the
/// off-site copy (a pod cannot read the operator's backup folder). drctl stays the conductor: it lists the
/// candidates, reads the sidecars, creates the new database, and after the Job compares the loaded database with
/// its content record through the tunnel — the same refusals and exit codes as the load on the operator's
/// machine. The agent's tap holds the stream's first MiB until the origin check passed, as drctl's does.
extension OffsiteBackupFetcher {
    /// The Job of loading `key` in step `step`: `<step>-<8 hex of the key>`, so each candidate of a step has its
    /// own Job and a resumed step finds the one its killed attempt started.
    static func loadJobStep(_ step: StepID, key: String) -> StepID {
        StepID(step.rawValue + "-" + Fingerprint.of(key).prefix(8))
    }

    /// `restore-load --key KEY --size BYTES --database SCRATCH`: what the Job's agent is told (no secret).
    static func restoreLoadArguments(key: String, size: String, database: String) -> [String] {
        [RestoreLoadAgent.command, "--key", key, "--size", size, "--database", database]
    }

    /// What a custom-format restore's emptyDir holds beyond the download.
    static let scratchHeadroom: Int64 = 1 << 20

    /// Loads `object` into `scratch` in a Job and returns the SHA-256 its verdict reports, and the recorded one
    /// (`recorded`, the `.sha256` sidecar, read beside the Job and awaited for the verdict).
    ///
    /// The Job found under this step's name (a killed attempt's) is adopted: followed to its end, the new
    /// database it loads into left alone. Without one, the new database is dropped and created first, so
    /// whatever a vanished Job half-loaded is gone before the next load: never two loads into one database.
    func loadInJob(
        _ object: StoredObject, restorer: DatabaseRestorer, into scratch: String,
        recorded: @Sendable () async throws -> String?, context: StepContext
    ) async throws -> (sha256: String, expected: String?) {
        let name = Self.fileName(object.key)
        let step = Self.loadJobStep(context.step, key: object.key)
        var (job, secret) = try toolbox.dataPlaneJob(
            runID: context.runID, step: step,
            arguments: Self.restoreLoadArguments(key: object.key, size: String(object.size), database: scratch),
            environment: ProcessInfo.processInfo.environment)
        let settings = toolbox.manifest.database.effectiveJobs
        if BackupName.format(ofFileName: name) == .custom, settings.backupClaim == nil {
            // pg_restore -j reads a file: the pod downloads it into its emptyDir, sized for it (1 MiB to spare),
            // which must fit in what the manifest says a pod may have.
            let needed = object.size + Self.scratchHeadroom
            if let limit = settings.scratchLimit, limit.bytes < needed {
                throw JobLoadError.scratchTooSmall(file: name, needed: ByteSize(bytes: needed), limit: limit)
            }
            job.scratchLimit = needed
        }
        let jobs = JobRunner(kubectl: toolbox.kubectl, runner: context.runner)
        if try await jobs.status(of: job.name) == nil {
            try await restorer.prepare(scratch, context: context)
        } else {
            context.log("Job \(job.name) of an interrupted attempt loads \(name) into \(scratch): adopting it")
        }
        let verdict = try await jobs.run(job, secret: secret, progress: .init(log: context.log))
        func refused(_ reason: String) -> ScenarioError {
            .streamedBackupRefused(
                file: name, loadedInto: scratch, target: toolbox.manifest.database.name, reason: reason)
        }
        guard let sha256 = verdict.sha256, verdict.file == name else {
            throw refused("Job \(job.name) reported no SHA-256 for \(name)")
        }
        let expected = try await recorded()
        if let expected, expected != sha256 {
            throw refused("its SHA-256 is \(sha256), but the recorded one (\(name).sha256) is \(expected)")
        }
        if verdict.bytes != object.size {
            throw refused("\(verdict.bytes ?? 0) bytes arrived in Job \(job.name), but the store lists \(object.size)")
        }
        let statuses = verdict.statuses.keys.sorted().map { "\($0) \(verdict.statuses[$0] ?? -1)" }
        context.log(
            "Job \(job.name) loaded \(name) into \(scratch): \(sha256.prefix(12))…, \(object.size) bytes, exit"
                + " statuses " + statuses.joined(separator: ", "))
        return (sha256, expected)
    }

    /// The Job name a plan shows for loading backup `name` in `step`: the run id a placeholder, and the key's
    /// 8 hex digits too while the backup is not named (`drctl-<run>-backup-fetch-<key hash>`).
    static func plannedLoadJobName(step: StepID, name: String, prefix: String, backup: String?) -> String {
        guard backup != nil else { return JobRunner.plannedJobName(step: step) + "-<key hash>" }
        return JobRunner.plannedJobName(step: loadJobStep(step, key: prefix + name))
    }

    /// What a plan shows for the load in a Job of `step`, in place of the stream on this machine.
    /// `archive`: a custom-format backup (`backup`, else the newest of the manifest's format).
    func plannedJobLoadCommands(
        step: StepID, name: String, prefix: String, restorer: DatabaseRestorer, into database: String?,
        archive: Bool = false, backup: String? = nil
    ) -> [String] {
        let scratch = database ?? "\(toolbox.manifest.database.name)_restore_<run>"
        let arguments = Self.restoreLoadArguments(key: prefix + name, size: "<listed size>", database: scratch)
        let jobName = Self.plannedLoadJobName(step: step, name: name, prefix: prefix, backup: backup)
        var lines = restorer.plannedLoadCommands(source: .program(CommandInvocation("true")), into: scratch).prefix(2)
            .map { $0 }
        lines.append(
            "  (unless Job \(jobName) of an interrupted attempt is there: then it is followed, \(scratch) left alone)")
        let inPod = toolbox.manifest.forDataPlaneJob()
        let podRestorer = DatabaseRestorer(
            toolbox: ScenarioToolbox(manifest: inPod, databasePassword: toolbox.databasePassword))
        var work: [String] = []
        var detail = "the off-site copy: a pod cannot read \(toolbox.manifest.backups.local.written); "
        var verdict = "SHA-256, bytes, aws, gzip and psql status"
        if archive {
            // pg_restore -j seeks: the pod downloads the .dump into its emptyDir, checks it, then restores it.
            let path = Manifest.jobBackupFolder + "/restore/" + name
            if let (store, _) = try? location(), let download = try? store.download(prefix + name, to: .file(path)) {
                work.append(download.redactedCommandLine)
            }
            work.append("size compared with the listing, sha256 with \(name).sha256")
            work += plannedIntegrityCommands(file: path, backup: backup)
            work.append(podRestorer.archiveLoad(file: path, into: scratch).redactedCommandLine)
            if toolbox.manifest.database.effectiveJobs.backupClaim == nil {
                detail += "an emptyDir at \(Manifest.jobBackupFolder) of the listed size + 1 MiB; "
            }
            verdict = "SHA-256, bytes, pg_restore status"
        } else {
            if let (store, _) = try? location(), let stream = try? store.download(prefix + name, to: .stream) {
                work.append(podRestorer.loadPipeline(source: .program(stream), into: scratch).redactedCommandLine)
                work.append(DumpOriginCheck(gzip: podRestorer.toolbox.gzip).plannedHoldLine)
            }
            work.append(
                "sha256 of the stream compared with \(name).sha256, bytes with the listing, gzip -dc's and psql's"
                    + " exit status")
        }
        guard
            let (job, secret) = try? toolbox.plannedDataPlaneJob(
                name: jobName, arguments: arguments)
        else { return lines }
        return DataPlaneRBAC.jobs.planLines(kubectl: toolbox.kubectl) + lines
            + JobRunner(kubectl: toolbox.kubectl).plannedCommands(
                job, secret: secret,
                notes: .init(
                    secretHolds: toolbox.plannedSecretHolds,
                    detail: detail + toolbox.plannedPasswordSource(job), inPod: work, verdict: verdict),
                rbac: [])
    }
}

/// Why a restore cannot run its load in a Job.
public enum JobLoadError: Error, Sendable, LocalizedError, RefusalError {
    /// `database.dataPlane: job` and no off-site store: the Job has nothing it can read.
    case offsiteCopyNeeded(folder: String)
    /// A `.dump` larger than `database.jobs.scratchLimit`: the pod could not download it.
    case scratchTooSmall(file: String, needed: ByteSize, limit: ByteSize)

    public var errorDescription: String? {
        switch self {
        case .offsiteCopyNeeded(let folder):
            return "With database.dataPlane: job the backup is loaded by a Job in the cluster, which reads the"
                + " off-site copy (backups.s3 or backups.azure); a pod cannot read \(folder) on this machine, and"
                + " the manifest names no off-site store. Add one, or run this restore with dataPlane:"
                + " port-forward (nothing was touched)."
        case .scratchTooSmall(let file, let needed, let limit):
            return "\(file) needs \(needed) in the Job's emptyDir (pg_restore -j reads a downloaded file), but"
                + " database.jobs.scratchLimit allows \(limit); nothing was touched. Raise database.jobs.scratchLimit"
                + " to at least \(needed) (what the cluster grants a pod's ephemeral storage), or name a"
                + " database.jobs.backupClaim with room for it."
        }
    }

    /// The `.dump` that does not fit is a refusal before anything changed (exit 3).
    public var isRefusal: Bool {
        if case .scratchTooSmall = self { return true }
        return false
    }

    public var failureKind: FailureKind {
        switch self {
        case .offsiteCopyNeeded: return .usage
        case .scratchTooSmall: return .refused
        }
    }
}
