import ArgumentParser
import DrctlCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore the database after corruption (runbook Szenario 1).",
        discussion: """
            Picks the backup (the newest verified one in the local backup folder, else the newest good one \
            off-site; or --backup NAME; or --before TIME) and verifies it before anything is touched: gzip \
            integrity, the size floor, the SHA-256 recorded in the catalog or the .sha256 sidecar, and that it \
            is a plain dump that does not connect elsewhere. It then loads it into a new database <db>_restore_<run> \
            (after checking there is room) and compares that with the backup's content record \
            (<backup>.record.json, written by `drctl backup create`: tables, row counts, schema digests, HMAC \
            signature with backups.signingKey); a backup without a record is checked by the smoke query and table \
            presence only (refused with backups.requireContentRecord). A refused backup's database is dropped and, \
            without --backup, the next older backup is tried; the output says which and why. Only then does it \
            scale the app deployment to 0 (recording its replica count), run the smoke query on the new database \
            and swap it in by rename — the old database is kept as <db>_before_<run> unless --drop-old —, run the \
            smoke query, scale the app back to the recorded count and check the readiness URL. A step that fails or \
            is refused after the app was stopped does not leave it down: drctl scales it back to the recorded \
            count and says so in the summary (unless the live database is gone, when `drctl resume RUN_ID` \
            finishes the swap first).

            In an environment named production the run needs --yes, or a "yes" typed on the terminal after \
            drctl says what will happen. Every step is journaled; `drctl resume RUN_ID` continues an interrupted \
            restore. `drctl plan restore -f MANIFEST` prints the same steps without running anything.

            Examples:
              DB_PASSWORD=… drctl restore -f manifests/production.yaml --yes
              drctl restore -f manifests/production.yaml --backup valeo_erp_backup_20251009_020000.sql.gz --yes
              drctl restore -f manifests/staging.yaml --before '2025-10-09 08:00' --drop-old
              drctl plan restore -f manifests/production.yaml
            """
    )

    @OptionGroup var options: ManifestOptions
    @OptionGroup var backupChoice: BackupChoiceOptions
    @OptionGroup var restore: RestoreOptions

    func run() async throws {
        var scenarioOptions = restore.scenarioOptions(backupChoice)
        // Read once: the confirmation needs its environment, the runbook is built from the same value.
        let manifest = try ManifestLoader().load(from: ScenarioCatalog.absolutePath(options.file))
        if RestoreScenario.needsConfirmation(environment: manifest.environment), !restore.yes {
            let summary = RestoreScenario.destructiveSummary(manifest: manifest, options: scenarioOptions)
            guard Confirmation.ask(environment: manifest.environment, action: summary) else {
                throw RecoveryError.confirmationRequired(environment: manifest.environment, action: summary)
            }
            scenarioOptions.confirmed = true
        }
        let launcher = RunLauncher(stateDir: options.stateDir, output: options.output)
        let runbook = try await ScenarioCatalog.runbook(
            .restore, manifest: options.file, stateDirectory: launcher.stateDirectory, options: scenarioOptions,
            runner: launcher.runner, loaded: manifest)
        try await launcher.start(runbook)
    }
}

/// The flags of `restore`, shared with `plan restore`.
struct RestoreOptions: ParsableArguments {
    @Flag(
        name: .customLong("drop-old"),
        help: "Drop the replaced database once the smoke query passed, instead of keeping it as <db>_before_<run>.")
    var dropOld: Bool = false

    @Flag(name: .customLong("yes"), help: "Confirm the destructive steps (needed for an environment named production).")
    var yes: Bool = false

    func scenarioOptions(_ backupChoice: BackupChoiceOptions) -> RestoreScenario.Options {
        RestoreScenario.Options(backup: backupChoice.choice, dropOld: dropOld, confirmed: yes)
    }
}

/// Asks on the terminal; never when standard input is not a terminal (cron, CI), where the answer is no.
enum Confirmation {
    static func ask(environment: String, action: String) -> Bool {
        guard isatty(STDIN_FILENO) == 1 else { return false }
        StandardStreams.err("Environment \(environment): this will \(action).")
        StandardStreams.err("Type yes to go on: ")
        guard let answer = readLine() else { return false }
        return answer.trimmingCharacters(in: .whitespaces).lowercased() == "yes"
    }
}
