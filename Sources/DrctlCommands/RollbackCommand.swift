import ArgumentParser
import DrctlCore

/// `drctl rollback app|migration`: the runbook's Rollback-Plan.
struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Roll back the application (helm) or the schema (alembic) after a bad release.",
        discussion: """
            Examples:
              drctl rollback app -f manifests/production.yaml                  # back to the last good revision
              drctl rollback app -f manifests/production.yaml --revision 4
              drctl rollback app -f manifests/production.yaml --with-migrations --migration-revision 0003
              drctl rollback migration -f manifests/production.yaml            # alembic downgrade -1, checked
              drctl rollback migration -f manifests/staging.yaml --to 0002
            """,
        subcommands: [RollbackAppCommand.self, RollbackMigrationCommand.self]
    )
}
