import Foundation

extension ScenarioToolbox {
    /// `alembic` for the manifest's migrations project, or `nil` when the manifest has no `migrations:` section.
    ///
    /// The project's `env.py` reads the runbook's variables `DB_HOST`, `DB_PORT`, `DB_USER`, `DB_NAME` and
    /// `DB_PASSWORD` (libpq's `PGPASSWORD` too); the password goes only into the child's environment and is
    /// redacted from every rendering.
    public var alembic: Alembic? {
        guard let migrations = manifest.migrations else { return nil }
        let database = manifest.database
        var environment = [
            "DB_HOST": database.host,
            "DB_PORT": String(database.port),
            "DB_USER": database.user,
            "DB_NAME": database.name,
        ]
        if !databasePassword.value.isEmpty {
            environment["DB_PASSWORD"] = databasePassword.value
            environment["PGPASSWORD"] = databasePassword.value
        }
        return Alembic(
            executable: executables.alembic,
            configPath: migrations.config.absolute,
            workingDirectory: migrations.directory.absolute,
            environment: environment,
            secrets: secrets
        )
    }
}

/// The schema revision a database is at, read from alembic's `alembic_version` table with psql (what
/// `alembic current` prints, without needing the migrations project): the rebuild records it in the app
/// release's helm description as `migration-revision=REV`, which `drctl rollback app --with-migrations` reads.
public struct DatabaseMigrationRevision: Sendable {
    /// `t` when the table exists.
    public var tableCheck: CommandInvocation
    public var read: CommandInvocation

    public init(postgres: Postgres) {
        tableCheck = postgres.query("SELECT to_regclass('alembic_version') IS NOT NULL")
        read = postgres.query("SELECT version_num FROM alembic_version ORDER BY version_num")
    }

    /// The helm description that records `revision`.
    public static func helmDescription(_ revision: String) -> String { "migration-revision=\(revision)" }

    /// The revision, or nil (logged) when the database has no `alembic_version` table or more than one head.
    public func revision(context: StepContext) async throws -> String? {
        let exists = try await context.runner.runChecked(tableCheck).output
        guard exists.trimmingCharacters(in: .whitespacesAndNewlines) == "t" else {
            context.log("the database has no alembic_version table: no migration revision to record")
            return nil
        }
        let rows = Postgres.parseRows(try await context.runner.runChecked(read).output).compactMap(\.first)
        guard rows.count == 1, let revision = rows.first, !revision.isEmpty else {
            context.log(
                "alembic_version holds \(rows.count) revisions (\(rows.joined(separator: ", "))): "
                    + "no single migration revision to record")
            return nil
        }
        return revision
    }
}
