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
