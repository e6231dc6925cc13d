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
            """
    )

    @OptionGroup var options: ManifestOptions

    func run() async throws {
        let toolbox = try BackupSetup.toolbox(manifestPath: options.file, needsPassword: false)
        let listing = try BackupLister(manifest: toolbox.manifest).list()
        try BackupSetup.print(listing, text: listing.text, format: options.output)
    }
}
