import Foundation

/// `drctl agent backup-create`, inside a data-plane Job: the same `BackupCreator` as `drctl backup create` on
/// the operator's machine (pg_dump | gzip into daily/, gzip -t, size floor, SHA-256, catalog, monthly/) in the
/// Job's backup folder, then the same `BackupSync` upload to every off-site store the manifest names (object and
/// `.sha256` sidecar, size checked after the upload). Its verdict says what was written.
public struct BackupAgent: Sendable {
    public var toolbox: ScenarioToolbox
    public var runner: any CommandRunning
    public var clock: any RunClock

    public init(toolbox: ScenarioToolbox, runner: any CommandRunning = CommandRunner(), clock: any RunClock = .system) {
        self.toolbox = toolbox
        self.runner = runner
        self.clock = clock
    }

    public static let command = "backup-create"

    /// The agent's toolbox inside a Job: the manifest from `DRCTL_AGENT_MANIFEST`, the password from
    /// `DB_PASSWORD`, the content records' signing key from `DRCTL_BACKUP_SIGNING_KEY` when the manifest names one. An `AWS_ENDPOINT_URL` is passed to aws as `--endpoint-url` too, because the image's aws
    /// (Debian's 2.9) does not read that variable itself.
    public static func toolbox(environment: [String: String]) throws -> ScenarioToolbox {
        let manifest = try Manifest.fromDataPlaneJob(environment: environment)
        let resolver = SecretResolver(environment: environment)
        let password = try resolver.resolve(for: manifest).databasePassword
        var toolbox = ScenarioToolbox(
            manifest: manifest, databasePassword: password, executables: ToolExecutables(environment: environment),
            recordSigningKey: try resolver.signingKey(for: manifest))
        toolbox.objectStores = toolbox.objectStores.map { withEndpoint($0, environment: environment) }
        return toolbox
    }

    /// `store` with the environment's `AWS_ENDPOINT_URL` as its `--endpoint-url` (an S3 store without one):
    /// the image's aws (Debian's 2.9) does not read that variable itself.
    public static func withEndpoint(_ store: any ObjectStore, environment: [String: String]) -> any ObjectStore {
        guard let endpoint = environment["AWS_ENDPOINT_URL"], !endpoint.isEmpty,
            var s3 = store as? S3ObjectStore, s3.endpointURL == nil
        else { return store }
        s3.endpointURL = endpoint
        return s3
    }

    public func create() async throws -> AgentVerdict {
        let creator = BackupCreator(toolbox: toolbox, runner: runner, clock: clock)
        let creation = try await creator.create()
        var uploaded: [String] = []
        let targets = OffsiteTarget.targets(of: toolbox)
        if !targets.isEmpty {
            let sync = BackupSync(manifest: toolbox.manifest, targets: targets, runner: runner, clock: clock)
            let report = try await sync.sync(dryRun: false)
            if let error = report.outOfSyncError { throw error }
            for (target, store) in zip(targets, report.stores) {
                for path in store.uploaded {
                    let key = OffsiteTarget.join(target.prefix, path)
                    let location = target.store.displayName + "/" + key
                    uploaded += [location, location + ".sha256"]
                }
            }
        }
        let programs = creator.pipeline(partialPath: creation.path).stages.map {
            ($0.executable as NSString).lastPathComponent
        }
        return AgentVerdict(
            command: Self.command, succeeded: true, file: creation.daily.fileName, sha256: creation.daily.sha256,
            bytes: creation.daily.size, statuses: Dictionary(programs.map { ($0, 0) }) { first, _ in first },
            uploaded: uploaded, record: creation.daily, monthly: creation.monthly, warnings: creation.warnings)
    }
}
