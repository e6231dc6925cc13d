import ArgumentParser
import DrctlCore
import Foundation

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Print every step of a scenario and its exact command lines, touching nothing.",
        discussion: """
            The plan is built by the same code that runs the scenario, so what it shows is what runs. Secrets \
            are shown as ***; the password need not be set to read a plan. `$RUN_DIR` stands for the run's \
            private scratch folder and <…> for what is chosen at run time (the newest backup). The plan \
            fingerprint is recorded by a run and compared on resume.

            Scenarios: \(ScenarioCatalog.Name.allCases.map(\.rawValue).joined(separator: ", ")).

            Examples:
              drctl plan rebuild -f manifests/production.yaml
              drctl plan rebuild -f manifests/production.yaml --backup valeo_erp_backup_20251009_020000.sql.gz
              drctl plan rebuild -f manifests/staging.yaml -o json
              drctl plan rollback-app -f manifests/production.yaml --revision 4 --with-migrations
              drctl plan rollback-migration -f manifests/production.yaml --to 0002
              drctl plan restore -f manifests/production.yaml --before '2025-10-09 08:00' --drop-old
              drctl plan recover-rows -f manifests/production.yaml --table documents_header --ids 42,43 \\
                --before '2025-10-08 14:30'
              drctl plan backup -f manifests/production.yaml
              drctl plan backup -f manifests/production.yaml --create-only   # dataPlane: job: the Job, its RBAC
            """
    )

    @Argument(help: "The scenario to plan.") var scenario: ScenarioCatalog.Name
    @OptionGroup var options: ManifestOptions
    @OptionGroup(title: "Picking the backup (rebuild, restore, recover-rows)") var backupChoice: BackupChoiceOptions
    @OptionGroup(title: "rebuild") var rebuild: RebuildOptions
    @OptionGroup(title: "restore") var restore: RestoreOptions
    @OptionGroup(title: "recover-rows") var recoverRows: RecoverRowsOptions
    @OptionGroup(title: "rollback-app") var rollbackApp: RollbackAppOptions
    @OptionGroup(title: "rollback-migration") var rollbackMigration: RollbackMigrationOptions
    @OptionGroup(title: "backup") var backup: BackupPlanOptions

    /// The options of the planned scenario, as its command builds them (a flag means the same in every scenario
    /// that has it, so the groups never clash).
    func scenarioOptions() throws -> any ScenarioOptions {
        switch scenario {
        case .rebuild: rebuild.scenarioOptions(backupChoice)
        case .restore: restore.scenarioOptions(backupChoice)
        case .recoverRows: try recoverRows.scenarioOptions(backupChoice)
        case .rollbackApp: rollbackApp.scenarioOptions
        case .rollbackMigration: rollbackMigration.scenarioOptions(noBackup: rollbackApp.noBackup)
        case .backup: BackupScenario.Options(createOnly: backup.createOnly)
        }
    }

    func validate() throws {
        if scenario == .recoverRows { try recoverRows.validate(backupChoice: backupChoice) }
    }

    func run() async throws {
        let stateDirectory = StateDirectory.resolve(flag: options.stateDir)
        let runbook = try await ScenarioCatalog.runbook(
            scenario, manifest: options.file, stateDirectory: stateDirectory, options: try scenarioOptions(),
            runner: CommandRunner(), planning: true)
        let plan = RunbookPlan(runbook, manifest: options.file, rpo: runbook.manifest?.objectives.rpo)
        switch options.output {
        case .text: StandardStreams.out(plan.text)
        case .json: StandardStreams.out(try plan.json())
        }
    }
}

/// The flags of `plan backup`.
struct BackupPlanOptions: ParsableArguments {
    @Flag(
        name: .customLong("create-only"),
        help: """
            Plan only backup.create: what drctl backup create runs with database.dataPlane: job (the Job, its \
            image and command, the Role and RoleBinding drctl needs).
            """)
    var createOnly: Bool = false
}
