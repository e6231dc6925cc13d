import ArgumentParser
import DrctlCore

struct BackupListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List backups with age, size, last verification and off-site copies.",
        discussion: """
            Reads the local folder and its catalog; off-site copies are those the last drctl backup sync confirmed.

            Examples:
              drctl backup list -f manifests/production.yaml
              drctl backup list -f manifests/production.yaml -o json
              drctl backup list -f manifests/production.yaml --offsite
            """
    )

    @OptionGroup var options: ManifestOptions

    @Flag(help: "Also list what the off-site stores (backups.s3, backups.azure) hold now.")
    var offsite = false

    func run() async throws {
        let toolbox = try BackupSetup.toolbox(manifestPath: options.file, needsPassword: false)
        let sync = offsite ? BackupSync(manifest: toolbox.manifest, targets: OffsiteTarget.targets(of: toolbox)) : nil
        let listing = try await BackupLister(manifest: toolbox.manifest, signingKey: toolbox.recordSigningKey).list(
            offsite: sync)
        try BackupSetup.print(listing, text: listing.text, format: options.output)
    }
}
