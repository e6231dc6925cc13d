import ArgumentParser
import DrctlCore

struct BackupSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Copy backups to S3 and Azure, compare checksums, report missing and extra objects.",
        discussion: """
            Mirrors daily/ and monthly/ under the store's prefix (backups.s3, backups.azure). Each copy gets a \
            <file>.sha256 sidecar object (sha256sum format) and is confirmed by size and checksum; the catalog \
            records it. A backup that failed verification is not uploaded. Objects the catalog does not know are \
            reported as extra and never deleted. Exits 1 when copies are still missing or different.

            Examples:
              drctl backup sync -f manifests/production.yaml
              drctl backup sync -f manifests/production.yaml --dry-run -o json
            """
    )

    @OptionGroup var options: ManifestOptions

    @Flag(help: "Compare and report only; upload nothing.")
    var dryRun = false

    func run() async throws {
        let toolbox = try BackupSetup.toolbox(manifestPath: options.file, needsPassword: false)
        let targets = OffsiteTarget.targets(of: toolbox)
        guard !targets.isEmpty else { throw BackupError.noOffsiteStore(manifest: options.file) }
        let report = try await BackupSync(manifest: toolbox.manifest, targets: targets).sync(dryRun: dryRun)
        try BackupSetup.print(report, text: report.text, format: options.output)
        if let error = report.outOfSyncError { throw error }
    }
}
