import ArgumentParser
import DrctlCore
import Foundation

/// `drctl agent …`: what the data-plane Jobs run inside the cluster (`database.dataPlane: job`). Hidden from the
/// top-level help: drctl creates these Jobs itself; a person runs `drctl backup create` and the like.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "The data-plane work drctl runs inside Kubernetes Jobs (database.dataPlane: job or port-forward).",
        discussion: """
            Not for people: with database.dataPlane: job, drctl backup create starts a Job from drctl's image that \
            runs drctl agent backup-create, and drctl restore, rebuild and recover-rows start one that runs drctl \
            agent restore-load (the off-site backup streamed into the run's new database). With job or \
            port-forward, drctl rebuild's archive.sync starts an Indexed Job whose pods run drctl agent \
            archive-sync into the app's archive.volumeClaim. A Job carries the manifest in DRCTL_AGENT_MANIFEST \
            (no secret in it) and credentials only from a Secret. The agent's last log line, and its container's \
            termination message, is its verdict: drctl-verdict: {"sha256": …, "bytes": …, …}.

            Examples:
              drctl plan backup -f manifests/production.yaml     # shows the Job, its image and command
              drctl backup create -f manifests/production.yaml   # runs it (dataPlane: job)
            """,
        shouldDisplay: false,
        subcommands: [AgentBackupCreateCommand.self, AgentRestoreLoadCommand.self, AgentArchiveSyncCommand.self]
    )
}

/// `drctl agent backup-create`: `BackupCreator` and `BackupSync` inside the Job, then the verdict.
struct AgentBackupCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup-create",
        abstract: "Inside a data-plane Job: dump, compress, check, record and upload one backup; print the verdict.",
        discussion: """
            Runs what drctl backup create runs on the operator's machine — pg_dump | gzip into daily/ (SHA-256 and \
            size computed as it is written), the size floor, catalog.json, monthly/ — in the Job's backup folder \
            (database.jobs.backupClaim, else an emptyDir), then uploads the new backup with its .sha256 sidecar to \
            the manifest's off-site stores. Reads DRCTL_AGENT_MANIFEST and DB_PASSWORD.

            Examples:
              drctl agent backup-create        # in the Job drctl backup create starts; not by hand
            """
    )

    func run() async throws {
        try await AgentRun.report(command: BackupAgent.command) {
            let toolbox = try BackupAgent.toolbox(environment: ProcessInfo.processInfo.environment)
            let creator = BackupCreator(toolbox: toolbox)
            StandardStreams.out(
                "drctl agent: " + creator.pipeline(partialPath: creator.plannedPartialPath).redactedCommandLine)
            return try await BackupAgent(toolbox: toolbox).create()
        }
    }
}

/// `drctl agent archive-sync`: one shard of the archive sync, in a pod of the Indexed Job drctl rebuild starts.
struct AgentArchiveSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive-sync",
        abstract: "Inside an archive sync Job's pod: sync this pod's shard of the archive; print the verdict.",
        discussion: """
            With database.dataPlane: port-forward or job, drctl rebuild's archive.sync step starts an Indexed Job \
            (completions: archive.shards, parallelism: archive.parallelism) whose pods mount \
            archive.volumeClaim at archive.destination. Each pod lists archive.source, keeps the keys whose \
            SHA-256 modulo --shards is its shard, downloads those missing or of another size (aws s3 cp or az \
            storage blob download), checks each file's size and reports its files and bytes. The shard is \
            JOB_COMPLETION_INDEX, or the JOB_COMPLETION_INDEX-th of --only (a resumed run's Job runs only the \
            shards that did not complete). Reads DRCTL_AGENT_MANIFEST.

            Examples:
              drctl agent archive-sync --shards 4             # in the Job drctl rebuild starts; not by hand
              drctl agent archive-sync --shards 4 --only 1,3  # the Job of a resumed run: shards 1 and 3
            """
    )

    @Option(help: "How many shards the archive is split into (archive.shards).")
    var shards: Int

    @Option(help: "The shards this Job runs, comma-separated; its pods' completion indexes pick from them.")
    var only: String?

    func validate() throws {
        guard shards >= 1 else { throw ValidationError("--shards must be at least 1") }
        if let only, only.split(separator: ",").contains(where: { Int($0) == nil }) {
            throw ValidationError("--only takes shard numbers separated by commas, like 1,3")
        }
    }

    func run() async throws {
        try await AgentRun.report(command: ArchiveSyncAgent.command) {
            let only = (only ?? "").split(separator: ",").compactMap { Int($0) }
            let agent = try ArchiveSyncAgent.make(
                shards: shards, only: only, environment: ProcessInfo.processInfo.environment)
            return try await agent.run { StandardStreams.out($0) }
        }
    }
}

/// Every agent command ends the same way: its verdict as the last log line and the termination message, also
/// when it failed (then with the error and its exit-code kind), and the error thrown for the exit code.
enum AgentRun {
    static func report(command: String, _ body: () async throws -> AgentVerdict) async throws {
        let verdict: AgentVerdict
        var failure: (any Error)?
        do {
            verdict = try await body()
        } catch {
            verdict = AgentVerdict.failure(command: command, error: error)
            failure = error
        }
        verdict.writeTerminationMessage()
        if let line = try? verdict.encodedLine() { StandardStreams.out(AgentVerdict.marker + line) }
        if let failure { throw failure }
    }
}
