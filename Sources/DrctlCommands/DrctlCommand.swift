import ArgumentParser
import DrctlCore

/// The root command: `drctl SUBCOMMAND`.
public struct DrctlCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "drctl",
        abstract: "Kubernetes and PostgreSQL disaster recovery as a program: plan, run, journal, resume.",
        discussion: """
            drctl turns the disaster-recovery runbook into commands that drive the real kubectl, helm, \
            alembic, pg_dump/psql, gzip, aws and az programs. Every step is written to a journal, so an \
            interrupted run resumes where it stopped. Secrets come from the environment or a file and never \
            reach argv or logs.

            Examples:
              drctl plan rebuild -f manifests/production.yaml    # print, touch nothing
              drctl rebuild -f manifests/sandbox.yaml            # lost cluster
              drctl restore -f manifests/production.yaml         # corrupt database
              drctl rollback app -f manifests/production.yaml    # bad release
              drctl backup create -f manifests/production.yaml   # gzip dump
              drctl status -f manifests/production.yaml          # the checklist
              drctl runs list                                    # the journal
              drctl resume RUN_ID                                # continue a run

            Exit codes: 0 success, 1 a step or a status check failed, 2 bad usage (an unknown flag, a \
            missing -f, a manifest that does not parse), 3 refused by a safety check before anything changed, \
            4 interrupted (resumable with `drctl resume`), 5 another run holds the environment's lock.
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
            TapRateCommand.self,
            AgentCommand.self,
        ]
    )

    public init() {}
}
