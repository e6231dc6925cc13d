import ArgumentParser
import DrctlCore

struct BackupVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every backup: gzip -t, zero bytes, size floor, SHA-256 against the catalog, age vs RPO.",
        discussion: """
            Incremental: a backup that passed before and whose size and modification time are unchanged is not \
            read again (the catalog keeps when its bytes were last checked). --full reads every file. Files in \
            daily/ or monthly/ that drctl did not write are reported and left alone. Exits 3 when a backup fails \
            or the newest verified backup is older than the manifest's RPO (objectives.rpo).

            Examples:
              drctl backup verify -f manifests/production.yaml
              drctl backup verify -f manifests/production.yaml --full -o json
              drctl backup verify -f manifests/production.yaml --offsite
              drctl backup verify -f manifests/production.yaml \\
                --backup valeo_erp_backup_20251009_020000.sql.gz
            """
    )

    @OptionGroup var options: ManifestOptions

    @Flag(help: "Read every backup again, even those unchanged since they passed.")
    var full = false

    @Flag(help: "Also compare the off-site copies (size, .sha256 sidecar, ETag) with the catalog.")
    var offsite = false

    @Option(help: "Verify only this backup file (its name, not a path).")
    var backup: String?

    func validate() throws {
        if let backup, backup.contains("/") {
            throw ValidationError("--backup takes a file name such as valeo_erp_backup_20251009_020000.sql.gz.")
        }
    }

    func run() async throws {
        let toolbox = try BackupSetup.toolbox(manifestPath: options.file, needsPassword: false)
        var sync: BackupSync?
        if offsite {
            let targets = OffsiteTarget.targets(of: toolbox)
            guard !targets.isEmpty else { throw BackupError.noOffsiteStore(manifest: options.file) }
            sync = BackupSync(manifest: toolbox.manifest, targets: targets)
        }
        let report = try await BackupVerifier(
            manifest: toolbox.manifest, gzip: toolbox.gzip, archive: toolbox.postgres.archive,
            signingKey: toolbox.recordSigningKey
        ).verify(
            full: full, fileName: backup, offsite: sync)
        try BackupSetup.print(report, text: report.text, format: options.output)
        if !report.failed.isEmpty {
            throw BackupError.verificationFailed(failed: report.failed.map { "\($0.tier)/\($0.file)" })
        }
        if backup == nil, let error = report.recoveryPoint.error { throw error }
        if let error = report.offsite?.outOfSyncError { throw error }
    }
}
