import Foundation

extension ScenarioToolbox {
    /// The variables drctl hands to a Job through the Secret it creates when the manifest names no
    /// `database.jobs.environmentSecret`: the off-site stores' credentials and endpoint, as aws and az read them.
    public static let jobEnvironmentVariables = [
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION",
        "AWS_ENDPOINT_URL", "AZURE_STORAGE_CONNECTION_STRING",
    ]

    /// The Job that runs `drctl agent ARGUMENTS` for `step` of run `runID`, and the Secret drctl creates for it
    /// (nil when the manifest names both the password Secret and the environment Secret). The Secret holds the
    /// resolved password, those of `jobEnvironmentVariables` that `environment` sets and the content records'
    /// signing key (`DRCTL_BACKUP_SIGNING_KEY`) when the manifest names one.
    public func dataPlaneJob(
        runID: String, step: StepID, arguments: [String], environment: [String: String] = [:]
    ) throws -> (job: DataPlaneJob, secret: KubernetesSecretObject?) {
        let settings = manifest.database.effectiveJobs
        let name = JobRunner.jobName(runID: runID, step: step)
        let labels = JobRunner.labels(runID: runID, step: step)
        var values: [String: String] = [:]
        if settings.passwordSecret == nil { values[Manifest.jobPasswordVariable] = databasePassword.value }
        if settings.environmentSecret == nil {
            for key in Self.jobEnvironmentVariables {
                if let value = environment[key], !value.isEmpty { values[key] = value }
            }
            // The agent signs the content record as drctl would (a named environment Secret must hold it).
            if let key = recordSigningKey { values[Manifest.jobSigningKeyVariable] = key.value }
        }
        let secret =
            values.isEmpty
            ? nil
            : KubernetesSecretObject(
                name: name, namespace: manifest.kube.namespace, labels: labels, values: values)
        let manifestJSON = try JSONEncoder().encode(manifest.forDataPlaneJob())
        var environmentSecrets: [String] = []
        if let named = settings.environmentSecret {
            environmentSecrets.append(named)
        } else if secret != nil, values.keys.contains(where: { $0 != Manifest.jobPasswordVariable }) {
            environmentSecrets.append(name)
        }
        let job = DataPlaneJob(
            name: name, image: settings.image, arguments: ["agent"] + arguments,
            environment: [Manifest.jobManifestVariable: String(decoding: manifestJSON, as: UTF8.self)],
            passwordSecret: settings.passwordSecret
                ?? Manifest.KubernetesSecretKey(name: name, key: Manifest.jobPasswordVariable),
            environmentSecrets: environmentSecrets, backupClaim: settings.backupClaim,
            serviceAccount: settings.serviceAccount, labels: labels)
        return (job, secret)
    }

    /// What a plan assumes of the environment: each of `jobEnvironmentVariables` set (to a placeholder), so the
    /// plan shows the Secret a run creates when any is set, whatever the planning machine has.
    public static let planningEnvironment = Dictionary(
        uniqueKeysWithValues: jobEnvironmentVariables.map { ($0, "<set here>") })

    /// The Job and Secret of `dataPlaneJob(…)` as a plan shows them: named `name` (`drctl-<run>-backup-create`:
    /// a plan has no run id yet), the Secret and every reference to it too.
    public func plannedDataPlaneJob(name: String, arguments: [String]) throws
        -> (job: DataPlaneJob, secret: KubernetesSecretObject?)
    {
        var (job, secret) = try dataPlaneJob(
            runID: "plan", step: "plan", arguments: arguments, environment: Self.planningEnvironment)
        let generated = job.name
        job.name = name
        if job.passwordSecret?.name == generated { job.passwordSecret?.name = name }
        job.environmentSecrets = job.environmentSecrets.map { $0 == generated ? name : $0 }
        secret?.metadata.name = name
        return (job, secret)
    }

    /// What drctl's Secret for a Job holds, as a plan says it (never the values).
    public var plannedSecretHolds: String {
        let settings = manifest.database.effectiveJobs
        return [
            settings.passwordSecret == nil ? Manifest.jobPasswordVariable : nil,
            settings.environmentSecret == nil ? "the AWS_*/AZURE_* variables set here" : nil,
        ].compactMap { $0 }.joined(separator: " and ")
    }

    /// Where a Job's password comes from, as a plan says it.
    func plannedPasswordSource(_ job: DataPlaneJob) -> String {
        guard let secret = job.passwordSecret else { return "no database password" }
        return "\(Manifest.jobPasswordVariable) from secretKeyRef \(secret.name)/\(secret.key)"
    }

    /// Runs the Job of `dataPlaneJob(…)` to its end through `JobRunner` and returns its verdict.
    public func runDataPlaneJob(
        context: StepContext, arguments: [String], environment: [String: String]
    ) async throws -> AgentVerdict {
        let (job, secret) = try dataPlaneJob(
            runID: context.runID, step: context.step, arguments: arguments, environment: environment)
        return try await JobRunner(kubectl: kubectl, runner: context.runner).run(
            job, secret: secret, progress: .init(log: context.log))
    }
}
