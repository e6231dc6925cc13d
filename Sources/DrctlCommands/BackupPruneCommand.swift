import ArgumentParser
import DrctlCore

struct BackupPruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete local backups beyond the retention (backups.retention: daily and monthly counts).",
        discussion: """
            Keeps the newest N backups in daily/ and the newest M in monthly/. Never deletes the newest verified \
            backup, nothing at all while there is no verified backup, and never a file it cannot account for \
            (not named like a backup, not in the catalog, or dated in the future): those are listed instead. \
            Off-site copies are not touched. The catalog records of backups whose file is gone from the folder \
            (deleted by hand, lost with a disk) are dropped and listed, so the catalog and drctl status name only \
            files that are there; --dry-run lists them and drops nothing. Copy such a file back from its off-site \
            copy first to keep its record.

            Examples:
              drctl backup prune -f manifests/production.yaml --dry-run
              drctl backup prune -f manifests/production.yaml
            """
    )

    @OptionGroup var options: ManifestOptions

    @Flag(help: "List what would be deleted and delete nothing.")
    var dryRun = false

    func run() async throws {
        let toolbox = try BackupSetup.toolbox(manifestPath: options.file, needsPassword: false)
        let report = try BackupPruner(manifest: toolbox.manifest).prune(dryRun: dryRun)
        try BackupSetup.print(report, text: report.text, format: options.output)
    }
}
