import ArgumentParser
import DrctlCore
import Foundation

/// `drctl backup create|verify|prune|list|sync` (runbook "Backup-Strategie").
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Create, verify, prune, list and sync database backups (runbook Backup-Strategie).",
        discussion: """
            Backups live in the manifest's backups.local folder: daily/<db>_backup_YYYYMMDD_HHMMSS.sql.gz (UTC; \
            .dump with backups.format: custom, a pg_dump -Fc archive restored with pg_restore -j), the first backup of each month also under monthly/, and catalog.json beside them with every file's \
            size, SHA-256, last verification and off-site copies. Off-site copies mirror that layout under the \
            S3/Azure prefix, each with a <file>.sha256 sidecar object (sha256sum format).

            Examples:
              drctl backup create -f manifests/production.yaml
              drctl backup verify -f manifests/production.yaml          # incremental; --full reads every file
              drctl backup prune -f manifests/production.yaml --dry-run
              drctl backup list -f manifests/production.yaml -o json
              drctl backup sync -f manifests/production.yaml
              drctl backup schedule -f manifests/production.yaml --emit cronjob --apply
            """,
        subcommands: [
            BackupCreateCommand.self,
            BackupVerifyCommand.self,
            BackupPruneCommand.self,
            BackupListCommand.self,
            BackupSyncCommand.self,
            BackupNightlyCommand.self,
            BackupScheduleCommand.self,
        ]
    )
}

/// Loads the manifest (and, when asked, the password) and builds the tool wrappers the backup services use.
enum BackupSetup {
    static func toolbox(manifestPath: String, needsPassword: Bool) throws -> ScenarioToolbox {
        let environment = ProcessInfo.processInfo.environment
        let manifest = try ManifestLoader(environment: environment).load(from: manifestPath)
        let resolver = SecretResolver(environment: environment)
        var password = SecretValue("")
        var signingKey: SecretValue?
        if needsPassword {
            let secrets = try resolver.resolve(for: manifest)
            for warning in secrets.warnings { StandardStreams.err("warning: \(warning)") }
            password = secrets.databasePassword
            signingKey = try resolver.signingKey(for: manifest)
        } else {
            // list and verify only show a record's signature: without the key they say it was not checked.
            signingKey = try? resolver.signingKey(for: manifest)
        }
        return ScenarioToolbox(
            manifest: manifest, databasePassword: password, executables: ToolExecutables(environment: environment),
            recordSigningKey: signingKey)
    }

    static func print(_ value: some Encodable, text: String, format: OutputFormat) throws {
        switch format {
        case .text: StandardStreams.out(text)
        case .json: StandardStreams.out(try BackupJSON.encode(value))
        }
    }
}
