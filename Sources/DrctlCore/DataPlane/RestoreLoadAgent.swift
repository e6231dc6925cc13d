import Foundation

/// `drctl agent restore-load`, inside a data-plane Job: the streamed restore's load as drctl runs it on the
/// operator's machine (`OffsiteBackupFetcher.streamLoad`: `aws s3 cp KEY - | sha256 | gzip -dc | psql
/// --single-transaction`, SHA-256 against the `.sha256` sidecar, bytes against the listing, gzip's and psql's
/// exit status) into the new database drctl created. Its verdict says what was loaded; drctl then checks the
/// loaded database against the backup's content record itself.
public struct RestoreLoadAgent: Sendable {
    public var toolbox: ScenarioToolbox
    public var runner: any CommandRunning

    public init(toolbox: ScenarioToolbox, runner: any CommandRunning = CommandRunner()) {
        self.toolbox = toolbox
        self.runner = runner
    }

    public static let command = "restore-load"

    /// Loads the off-site object `key` (listed at `size` bytes) into `database`, which must not be the
    /// manifest's live database.
    public func load(key: String, size: Int64, database: String, log: @escaping @Sendable (String) -> Void)
        async throws -> AgentVerdict
    {
        guard database != toolbox.manifest.database.name else {
            throw DataPlaneJobError.agentInputUnreadable(
                variable: "--database",
                reason: "\(database) is the live database; drctl loads only into the run's new database")
        }
        let fetcher = OffsiteBackupFetcher(
            toolbox: toolbox, workRoot: NSTemporaryDirectory() + "drctl-agent")
        let (store, _) = try fetcher.location()
        let object = StoredObject(key: key, size: size)
        let context = StepContext(runID: "agent", step: StepID(Self.command), runner: runner, log: log)
        let expected = try await fetcher.recordedChecksum(of: object, store: store, context: context)
        let (sha256, result) = try await fetcher.streamLoad(
            object, store: store, restorer: DatabaseRestorer(toolbox: toolbox), into: database, expected: expected,
            context: context)
        var statuses: [String: Int32] = [:]
        for stage in result.stages {
            if case .exited(let code) = stage.status {
                statuses[(stage.invocation.executable as NSString).lastPathComponent] = code
            }
        }
        return AgentVerdict(
            command: Self.command, succeeded: true, file: OffsiteBackupFetcher.fileName(key), sha256: sha256,
            bytes: size, statuses: statuses,
            warnings: expected == nil ? ["no .sha256 sidecar off-site: verified by gzip, size and psql only"] : [])
    }
}
