import ArgumentParser
import DrctlCore

/// The root command: `drctl SUBCOMMAND`.
public struct DrctlCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "drctl",
        abstract: "Kubernetes and PostgreSQL disaster recovery as a program: plan, run, journal, resume.",
        discussion: """
            drctl turns the disaster-recovery runbook into commands that drive the real kubectl, helm, alembic,
            pg_dump/psql, gzip, aws and az programs. Every step is written to a journal, so an interrupted run
            resumes where it stopped. Secrets come from the environment or a file and never reach argv or logs.

            Examples:
              drctl plan rebuild -f manifests/production.yaml      # show every step and command, touch nothing
              drctl rebuild -f manifests/sandbox.yaml              # rebuild after complete cluster loss
              drctl restore -f manifests/production.yaml           # restore the database from the latest backup
              drctl rollback app -f manifests/production.yaml      # roll the app back to the last good revision
              drctl runs list                                      # the journal of past and interrupted runs
              drctl resume RUN_ID                                  # continue an interrupted run

            Exit codes: 0 success, 1 a step or a status check failed, 2 bad usage or manifest, 3 refused by a
            safety check, 4 interrupted (resumable with `drctl resume`), 5 another run holds the environment's
            lock, 6 not implemented yet.
            """,
        version: DrctlVersion.current,
        subcommands: [
            PlanCommand.self,
            RebuildCommand.self,
            RestoreCommand.self,
            RecoverRowsCommand.self,
            RollbackCommand.self,
            BackupCommand.self,
            GamedayCommand.self,
            StatusCommand.self,
            RunsCommand.self,
            ResumeCommand.self,
            UnlockCommand.self,
            SelfTestCommand.self,
        ]
    )

    public init() {}
}
