import Foundation

/// `drctl agent archive-sync`, in each pod of the Indexed archive sync Job: `ArchiveSync.syncShard` for the
/// shard its completion index stands for, into the app's PersistentVolumeClaim mounted at `archive.destination`.
/// Its verdict carries the shard, its files and bytes.
public struct ArchiveSyncAgent: Sendable {
    public var sync: ArchiveSync
    public var shard: ArchiveShard
    public var runner: any CommandRunning

    public static let command = "archive-sync"
    /// The variable Kubernetes sets in each pod of an Indexed Job (0, 1, …).
    public static let completionIndexVariable = "JOB_COMPLETION_INDEX"

    public init(sync: ArchiveSync, shard: ArchiveShard, runner: any CommandRunning = CommandRunner()) {
        self.sync = sync
        self.shard = shard
        self.runner = runner
    }

    /// The agent of this pod: the manifest from `DRCTL_AGENT_MANIFEST`, the shard from `shards` (all of them)
    /// or `only` (this Job's completion index picks from that list: a resumed run's Job holds only the shards
    /// that did not complete), the index from `JOB_COMPLETION_INDEX`.
    public static func make(shards: Int, only: [Int], environment: [String: String]) throws -> ArchiveSyncAgent {
        let manifest = try Manifest.fromDataPlaneJob(environment: environment)
        guard let archive = manifest.archive else {
            throw DataPlaneJobError.agentInputUnreadable(
                variable: Manifest.jobManifestVariable, reason: "the manifest has no archive section")
        }
        guard let text = environment[completionIndexVariable], let index = Int(text), index >= 0 else {
            throw DataPlaneJobError.agentInputMissing(variable: completionIndexVariable)
        }
        let list = only.isEmpty ? Array(0..<shards) : only
        guard index < list.count, list.allSatisfy({ (0..<shards).contains($0) }) else {
            throw DataPlaneJobError.agentInputUnreadable(
                variable: completionIndexVariable,
                reason: "index \(index) has no shard among \(list) of \(shards) (the Job's completions and"
                    + " drctl agent archive-sync's --shards/--only disagree)")
        }
        var sync = try ArchiveSync(archive: archive, executables: ToolExecutables(environment: environment))
        sync.store = BackupAgent.withEndpoint(sync.store, environment: environment)
        return ArchiveSyncAgent(sync: sync, shard: ArchiveShard(index: list[index], count: shards))
    }

    public func run(log: (String) -> Void) async throws -> AgentVerdict {
        log("drctl agent: \(shard): \(sync.source) -> \(sync.destination)")
        let result = try await sync.syncShard(shard, runner: runner, log: log)
        log(
            "drctl agent: \(shard): \(result.files) files, \(result.bytes) bytes"
                + " (\(result.downloaded) downloaded now)")
        return AgentVerdict(
            command: Self.command, succeeded: true, bytes: result.bytes, shard: shard.index, files: result.files)
    }
}
