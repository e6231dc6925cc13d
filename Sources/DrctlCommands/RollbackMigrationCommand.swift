import ArgumentParser
import DrctlCore

/// `drctl rollback migration`: alembic current → downgrade → alembic current, journaled and resumable.
struct RollbackMigrationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migration",
        abstract: "Downgrade the database schema with alembic (default: one revision back).",
        discussion: """
            Reads `alembic current`, `heads` and `history`, resolves the target to an absolute revision, takes a \
            backup first in production (`drctl backup create`, unless --no-backup), runs `alembic downgrade` and \
            checks that `alembic current` is the target. Refused before anything changes: a database at base, \
            scripts with several heads (for --steps), a database holding a revision the scripts do not know. A \
            failing downgrade leaves the database where it was: PostgreSQL runs the migration's DDL in one \
            transaction. The manifest's `migrations:` section names the alembic project; its env.py reads \
            DB_HOST, DB_PORT, DB_USER, DB_NAME and DB_PASSWORD.

            Examples:
              drctl rollback migration -f manifests/production.yaml              # one revision back
              drctl rollback migration -f manifests/staging.yaml --steps 2
              drctl rollback migration -f manifests/staging.yaml --to 0002
              drctl rollback migration -f manifests/production.yaml --no-backup  # a backup was taken by hand
              drctl plan rollback-migration -f manifests/production.yaml --to 0002
            """
    )

    @OptionGroup var options: ManifestOptions
    @OptionGroup var migration: RollbackMigrationOptions

    @Flag(help: "In production: downgrade without taking a backup first.")
    var noBackup = false

    func run() async throws {
        let launcher = RunLauncher(stateDir: options.stateDir, output: options.output)
        let runbook = try await ScenarioCatalog.runbook(
            .rollbackMigration, manifest: options.file, stateDirectory: launcher.stateDirectory,
            options: migration.scenarioOptions(noBackup: noBackup), runner: launcher.runner)
        try await launcher.start(runbook)
    }
}

/// The target flags of `rollback migration`, shared with `plan rollback-migration`.
struct RollbackMigrationOptions: ParsableArguments {
    @Option(help: "How many revisions to go back (default 1).")
    var steps: Int?

    @Option(help: "The revision to go back to: an id from `alembic history`, or base.")
    var to: String?

    func validate() throws {
        if steps != nil, to != nil { throw ValidationError("Pass either --steps or --to, not both.") }
        if let steps, steps < 1 { throw ValidationError("--steps must be 1 or more.") }
        if let to, !Self.isRevisionID(to) {
            throw ValidationError("--to '\(to)' is not a revision id; use --steps N to go back by count.")
        }
    }

    var request: MigrationRollbackRequest { to.map { .revision($0) } ?? .steps(steps ?? 1) }

    func scenarioOptions(noBackup: Bool) -> MigrationRollbackScenario.Options {
        MigrationRollbackScenario.Options(request: request, noBackup: noBackup)
    }

    /// An alembic revision id or `base`: no spaces, not a relative `-1`/`+2`, not a `branch@rev` expression.
    static func isRevisionID(_ text: String) -> Bool {
        !text.isEmpty && !text.hasPrefix("-") && !text.hasPrefix("+")
            && text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
    }
}
