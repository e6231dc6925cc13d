import ArgumentParser
import DrctlCore
import Foundation

/// `drctl agent restore-load`: the streamed restore's load inside the Job, then the verdict.
struct AgentRestoreLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore-load",
        abstract: "Inside a data-plane Job: stream one off-site backup into the run's new database; print the verdict.",
        discussion: """
            Runs what drctl restore, rebuild and recover-rows run on the operator's machine with \
            database.dataPlane: local — aws s3 cp KEY - (or az) | sha256 | gzip -dc | psql --single-transaction — \
            into the new database drctl created (never the live one), holding the first MiB until the dump's \
            origin check passed (a pg_dump -C dump or another database's is refused before psql sees a byte), \
            checking the SHA-256 against the .sha256 sidecar, the byte count against the listing and gzip's and psql's exit status. drctl then \
            compares the loaded database with the backup's content record. Reads DRCTL_AGENT_MANIFEST and \
            DB_PASSWORD.

            Examples:
              drctl agent restore-load --key postgresql/daily/valeo_erp_backup_20261206_020000.sql.gz \\
                --size 73400320 --database valeo_erp_restore_1a2b3c4d   # in the Job drctl starts; not by hand
            """
    )

    @Option(help: "The off-site object's key (with the manifest's prefix).")
    var key: String

    @Option(help: "Its size in the store's listing, in bytes.")
    var size: Int64

    @Option(help: "The new database to load into (drctl created it empty).")
    var database: String

    func run() async throws {
        try await AgentRun.report(command: RestoreLoadAgent.command) {
            let toolbox = try BackupAgent.toolbox(environment: ProcessInfo.processInfo.environment)
            return try await RestoreLoadAgent(toolbox: toolbox).load(
                key: key, size: size, database: database, log: { StandardStreams.out("drctl agent: " + $0) })
        }
    }
}
