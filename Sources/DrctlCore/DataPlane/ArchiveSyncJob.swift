import Foundation

/// The rebuild's `archive.sync` with `database.dataPlane: port-forward` or `job`: the archive belongs in the app's
/// volume, which only the cluster can write, so drctl runs an Indexed Job (completions `archive.shards`,
/// parallelism `archive.parallelism`) from its image whose pods mount `archive.volumeClaim` at
/// `archive.destination` and each run `drctl agent archive-sync` for its shard.
///
/// Each completed shard is journaled (the step's outputs, also when the step fails: `PartialStepOutputs`), so the
/// next attempt — the step's own retry or `drctl resume` — starts a fresh Job with only the shards that did not
/// complete (`--only`, its completion indexes picking from that list). That Job's name is derived from those
/// shards, so a resumed run whose drctl was killed while the Job ran finds and follows that same Job.
public struct ArchiveSyncJob: Sendable {
    public var toolbox: ScenarioToolbox
    public var archive: Manifest.Archive
    public var claim: String

    public static let step: StepID = "archive.sync"

    public init(toolbox: ScenarioToolbox, archive: Manifest.Archive) throws(ArchiveSyncJobError) {
        guard let claim = archive.volumeClaim else { throw .claimNotConfigured }
        self.toolbox = toolbox
        self.archive = archive
        self.claim = claim
    }

    /// Where the pods mount the claim: the destination the manifest names (without its trailing '/').
    public var mountPath: String {
        var path = archive.destination.absolute
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// `drctl-<run>-archive-sync` for every shard; `…-s1-3` for a Job of shards 1 and 3 (a hash when too long).
    public static func jobName(runID: String, step: StepID = step, shards: [Int], of total: Int) -> String {
        let base = JobRunner.jobName(runID: runID, step: step)
        guard shards.count < total else { return base }
        let suffix = "-s" + shards.map(String.init).joined(separator: "-")
        if base.count + suffix.count <= 63 { return base + suffix }
        return String(base.prefix(54)) + "-" + Fingerprint.of(suffix).prefix(8)
    }

    /// The Job for `shards` and the Secret drctl creates for it (only the off-site credentials: the sync never
    /// talks to the database, so it gets no password).
    public func job(runID: String, step: StepID = step, shards: [Int], environment: [String: String]) throws
        -> (job: DataPlaneJob, secret: KubernetesSecretObject?)
    {
        var arguments = [ArchiveSyncAgent.command, "--shards", String(archive.shards)]
        if shards.count < archive.shards { arguments += ["--only", shards.map(String.init).joined(separator: ",")] }
        var (job, secret) = try toolbox.dataPlaneJob(
            runID: runID, step: step, arguments: arguments, environment: environment)
        job.name = Self.jobName(runID: runID, step: step, shards: shards, of: archive.shards)
        job.passwordSecret = nil
        job.backupClaim = nil
        job.claimMount = .init(claim: claim, path: mountPath)
        job.indexed = .init(completions: shards.count, parallelism: min(archive.parallelism, shards.count))
        secret?.data[Manifest.jobPasswordVariable] = nil
        if let values = secret?.data, values.isEmpty { secret = nil }
        if secret == nil { job.environmentSecrets.removeAll { $0 == JobRunner.jobName(runID: runID, step: step) } }
        return (job, secret)
    }

    public func step(after dependencies: [StepID]) -> RunbookStep {
        RunbookStep(
            id: Self.step,
            title: "Restore the archive files from \(archive.source) into claim \(claim) with an Indexed Job"
                + " (\(archive.shards) shards, \(archive.parallelism) at a time)",
            dependsOn: dependencies,
            retry: RetryPolicy(attempts: 3, backoff: .seconds(5)),
            inputs: [
                "source": archive.source, "destination": archive.destination.written, "volumeClaim": claim,
                "shards": String(archive.shards), "parallelism": String(archive.parallelism),
            ],
            commands: plannedCommands
        ) { context in
            try await run(context: context)
        }
    }

    /// What `drctl plan` shows: the RBAC, the claim check, then the Job's commands as `JobRunner` runs them.
    public var plannedCommands: [String] {
        let settings = toolbox.manifest.database.effectiveJobs
        let name = JobRunner.plannedJobName(step: Self.step)
        guard
            var (job, secret) = try? job(
                runID: "<run>", shards: Array(0..<archive.shards), environment: ScenarioToolbox.planningEnvironment)
        else { return [] }
        job.name = name
        secret?.metadata.name = name
        job.environmentSecrets = job.environmentSecrets.map {
            $0 == JobRunner.jobName(runID: "<run>", step: Self.step) ? name : $0
        }
        let sync = try? ArchiveSync(archive: archive, executables: ToolExecutables())
        let work =
            (sync?.store.list(prefix: sync?.source.key ?? "").redactedCommandLine ?? "list")
            + "; the keys whose SHA-256 modulo \(archive.shards) is its shard, those missing or of another size: "
            + (sync?.plannedShardDownload(into: mountPath) ?? "download")
            + "; every file's size checked"
        let runner = JobRunner(kubectl: toolbox.kubectl)
        // The RBAC, then the claim check drctl makes before the Job, then the Job's commands.
        var commands =
            (DataPlaneRBAC.jobs.planLines(kubectl: toolbox.kubectl)
                + DataPlaneRBAC.archiveClaims.planLines(kubectl: toolbox.kubectl))
        commands.append(claimCheck.redactedCommandLine + "  (refused before any Job when the claim is not there)")
        commands += runner.plannedCommands(
            job, secret: secret,
            notes: .init(
                secretHolds: "the AWS_*/AZURE_* variables set here",
                detail: "claim \(claim) mounted at \(mountPath)"
                    + (settings.environmentSecret.map { "; credentials from Secret \($0)" } ?? ""),
                inPod: [work], verdict: "files and bytes of its shard"),
            rbac: [])
        commands.append(
            "(a retry or drctl resume: a Job \(name)-s<shards> of only the shards the journal does not record as"
                + " completed, with --only <shards>)")
        return commands
    }

    /// `kubectl get persistentvolumeclaim CLAIM -o json`: the claim check drctl makes before it creates the Job.
    var claimCheck: CommandInvocation { toolbox.kubectl.get("persistentvolumeclaim", claim) }

    // MARK: - Running

    func run(context: StepContext) async throws -> StepOutputs {
        var outputs = context.partialOutputs ?? [:]
        let done = Set(Self.completedShards(outputs))
        let missing = (0..<archive.shards).filter { !done.contains($0) }
        if !done.isEmpty {
            context.log(
                "shards \(Self.list(done.sorted())) of \(archive.shards) completed in an earlier attempt (journal);"
                    + " running \(missing.isEmpty ? "none" : Self.list(missing))")
        }
        if !missing.isEmpty {
            try await checkClaim(runner: context.runner)
            let (job, secret) = try job(
                runID: context.runID, step: context.step, shards: missing,
                environment: ProcessInfo.processInfo.environment)
            let total = archive.shards
            let outcomes = try await JobRunner(kubectl: toolbox.kubectl, runner: context.runner).runIndexed(
                job, secret: secret, label: { missing.indices.contains($0) ? "shard \(missing[$0])" : "index \($0)" },
                progress: .init(log: context.log))
            var failures: [(shard: Int, error: DataPlaneJobError)] = []
            var notRun: [Int] = []
            for (position, shard) in missing.enumerated() {
                switch outcomes[position] {
                case .succeeded(let verdict):
                    let files = verdict.files ?? 0
                    let bytes = verdict.bytes ?? 0
                    outputs[Self.shardKey(shard)] = "\(files) files, \(bytes) bytes"
                    context.log("shard \(shard) of \(total): \(files) files, \(bytes) bytes")
                case .failed(let error): failures.append((shard, error))
                case nil: notRun.append(shard)
                }
            }
            outputs["completedShards"] = Self.list(Self.completedShards(outputs))
            if !failures.isEmpty || !notRun.isEmpty {
                throw ArchiveSyncJobError.shardsFailed(
                    job: job.name, total: total, failures: failures.map { ($0.shard, $0.error.localizedDescription) },
                    notRun: notRun, completed: Self.completedShards(outputs), runID: context.runID,
                    partialOutputs: outputs)
            }
        }
        var files = 0
        var bytes: Int64 = 0
        for shard in 0..<archive.shards {
            let parts = (outputs[Self.shardKey(shard)] ?? "").split(separator: " ")
            files += parts.first.flatMap { Int($0) } ?? 0
            bytes += parts.count > 2 ? Int64(parts[2]) ?? 0 : 0
        }
        outputs["files"] = String(files)
        outputs["bytes"] = String(bytes)
        outputs["volumeClaim"] = claim
        return outputs
    }

    /// Refuses before any Job when the claim is not there: its pods would wait for it forever.
    private func checkClaim(runner: any CommandRunning) async throws {
        let result = try await runner.run(claimCheck)
        if Kubectl.isNotFound(result) {
            throw ArchiveSyncJobError.claimMissing(claim: claim, namespace: toolbox.manifest.kube.namespace)
        }
        guard result.status.isSuccess else {
            throw DataPlaneJobError.kubectlFailed(
                job: Self.jobName(runID: "<run>", shards: [], of: 0), action: "read claim \(claim)",
                detail: result.failure?.localizedDescription ?? "")
        }
    }

    static func shardKey(_ shard: Int) -> String { "shard.\(shard)" }

    /// The shards `outputs` records as completed (`shard.N` keys).
    public static func completedShards(_ outputs: StepOutputs) -> [Int] {
        outputs.values.keys.compactMap { key in key.hasPrefix("shard.") ? Int(key.dropFirst(6)) : nil }.sorted()
    }

    static func list(_ shards: [Int]) -> String { shards.map(String.init).joined(separator: ",") }
}

/// Why the archive sync Job did not deliver every shard; says which, with the pod's log tail, and what to do.
public enum ArchiveSyncJobError: Error, Sendable, LocalizedError, RefusalError, PartialStepOutputs {
    case claimNotConfigured
    case claimMissing(claim: String, namespace: String)
    case shardsFailed(
        job: String, total: Int, failures: [(shard: Int, message: String)], notRun: [Int], completed: [Int],
        runID: String, partialOutputs: StepOutputs)

    public var errorDescription: String? {
        switch self {
        case .claimNotConfigured:
            return "archive.volumeClaim is not set: with database.dataPlane port-forward or job the archive sync"
                + " writes into the app's PersistentVolumeClaim; add archive.volumeClaim to the manifest."
        case .claimMissing(let claim, let namespace):
            return "the archive's PersistentVolumeClaim \(claim) (archive.volumeClaim) is not in namespace"
                + " \(namespace), so the sync Job has nowhere to write. Create it (the app's chart or a provision"
                + " hook; kubectl get pvc -n \(namespace)) or fix archive.volumeClaim, then drctl resume RUN_ID."
        case .shardsFailed(let job, let total, let failures, let notRun, let completed, let runID, _):
            var text = "archive sync Job \(job): "
            text += failures.map { "shard \($0.shard) of \(total) failed" }.joined(separator: ", ")
            if !notRun.isEmpty {
                text += (failures.isEmpty ? "" : "; ") + "shards \(ArchiveSyncJob.list(notRun)) did not run"
            }
            text +=
                ". Completed and journaled: "
                + (completed.isEmpty ? "none" : "shards \(ArchiveSyncJob.list(completed))")
            text += "; drctl resume \(runID) runs only the others."
            for failure in failures { text += "\nshard \(failure.shard): " + failure.message }
            return text
        }
    }

    public var isRefusal: Bool { false }

    public var partialOutputs: StepOutputs {
        if case .shardsFailed(_, _, _, _, _, _, let outputs) = self { return outputs }
        return [:]
    }
}
