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
