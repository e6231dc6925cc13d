import ArgumentParser
import DrctlCore
import Foundation

/// `drctl gameday` (runbook "Quarterly DR-Test") and `drctl gameday report RUN_ID`.
struct GamedayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gameday",
        abstract: "Run a DR drill against staging from production's backups; measure the RTO and RPO achieved.",
        discussion: """
            Examples:
              drctl gameday -f manifests/staging.yaml --from manifests/production.yaml --scenario cluster-loss \\
                --drill manifests/gameday-cluster-loss.yaml
              drctl gameday report RUN_ID --format html > drill.html
            """,
        subcommands: [GamedayRunCommand.self, GamedayReportCommand.self],
        defaultSubcommand: GamedayRunCommand.self
    )
}

struct GamedayRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a drill (the default: `drctl gameday -f …` is `drctl gameday run -f …`).",
        discussion: """
            Runs the scenario's runbook against the -f manifest (the target: staging) with the backups of the \
            --from manifest (production's), journaled under the runbook id `gameday` (resumable with drctl \
            resume, bounded by the RTO budget, counted by drctl status as "Restore tested quarterly").

            Safety guard: refuses when the target looks like production — environment named production, the \
            same environment name, kube context, database (host, port, name) or backup bucket/prefix as --from — \
            unless --i-know-this-is-production is given.

            The drill script (--drill) names the scenario, the hypothesis, the declared incident time, smoke \
            checks (sql with expect, http with expectStatus, command as an argv list, kubectl as kubectl's \
            arguments run against the target's cluster; {readiness}, {deployment} and {namespace} are the target \
            manifest's values, so one drill runs against any target) and faults to inject: \
            killAfterStep (the scenario runs in a child drctl, this binary again, which stops itself right after \
            that step's effect, before the journal records it — the pause point DRCTL_PAUSE_AT=effect:STEP — and \
            is killed there with SIGKILL; the run is then resumed as drctl resume does), corruptNewestBackup (a corrupt backup newer than every real one is put in the --from \
            store; the fetch must skip it; refused when --from is named production), deploymentNeverReady (the \
            app deployment is pointed at an image tag that does not exist right before the run waits for its \
            rollout: the run fails there and the report says how; cluster-loss and db-restore).

            Scenarios: cluster-loss (rebuild from the off-site backup); db-restore (stop the app, restore \
            production's newest off-site backup into staging's database, start the app); row-recovery (the \
            drill deletes its rows: at the incident, then recovers them from the newest backup before \
            incidentTime, by default the run's start; a drill script with rows: is required, and the drill stops \
            at its incident, exit 3, when those rows are not in the target); app-rollback (the drill \
            deploys badRelease — helm upgrade --reuse-values --set …, default image.tag=drctl-gameday-never-ready \
            — which must never become ready, then rolls back to the last good revision; no RPO). For \
            row-recovery and app-rollback the RTO runs from the end of the incident the drill caused. Drill \
            examples: manifests/gameday-{cluster-loss,db-restore,row-recovery,app-rollback}.yaml.

            A drill that fails or is refused puts back what it changed, newest first, through each step's undo \
            (journaled as step-undone or step-not-undone with why): the rows its incident deleted (saved before \
            the delete), the bad release (rolled back to the revision the drill found), the database it swapped \
            in (the one it found renamed back, the restored copy dropped), the corrupt backup it injected \
            (deleted) and the image it broke (set back). The report lists what was put back and what was left.

            The report (Markdown, JSON, self-contained HTML) is written to <state folder>/gameday/RUN_ID/ whether \
            the drill passed or not: RPO achieved (incident time − time of the restored backup), RTO achieved (run \
            start → end, interruption included) against the manifest's objectives, a timeline, every step's \
            commands (redacted), exit and evidence, the faults and how the run coped, findings and the verdict.

            Examples:
              drctl gameday -f manifests/staging.yaml --from manifests/production.yaml --scenario cluster-loss
              drctl gameday -f manifests/staging.yaml --from manifests/production.yaml --scenario cluster-loss \\
                --drill manifests/gameday-cluster-loss.yaml
            """
    )

    @OptionGroup var options: ManifestOptions

    @Option(help: "The manifest whose backups are restored (production's).")
    var from: String

    @Option(help: "cluster-loss, db-restore, row-recovery or app-rollback.")
    var scenario: String

    @Option(help: "The drill script (YAML): hypothesis, incident time, smoke checks, faults.")
    var drill: String?

    @Option(help: "How long helm and the rollout may wait for a release to become ready (e.g. 10m).")
    var releaseTimeout: String = "10m"

    /// Set by a game day on the child drctl it runs a drill with a kill fault in; not for people.
    @Option(name: .customLong("child-run-id"), help: .hidden)
    var childRunID: String?

    @Flag(
        name: .customLong("i-know-this-is-production"),
        help: "Run the drill even though the target looks like production.")
    var iKnowThisIsProduction = false

    func validate() throws {
        guard DrillScript.Scenario(rawValue: scenario) != nil else {
            throw ValidationError("--scenario must be one of cluster-loss, db-restore, row-recovery, app-rollback.")
        }
        guard Duration(manifestText: releaseTimeout) != nil else {
            throw ValidationError("--release-timeout '\(releaseTimeout)' is not a duration; write e.g. 90s or 10m.")
        }
    }

    func run() async throws {
        let launcher = RunLauncher(stateDir: options.stateDir, output: options.output)
        let absolute = ScenarioCatalog.absolutePath
        let drillOptions = GamedayScenario.Options(
            scenario: scenario, from: absolute(from), drill: drill.map(absolute),
            releaseTimeout: Duration(manifestText: releaseTimeout) ?? .seconds(600),
            productionGuardOverridden: iKnowThisIsProduction)
        if iKnowThisIsProduction, childRunID == nil {
            StandardStreams.err("WARNING: --i-know-this-is-production: the production guard is OFF for this drill.")
        }
        let loader = ScenarioLoader(environment: ProcessInfo.processInfo.environment, runner: launcher.runner)
        // Built from the journaled parameters by the function `drctl resume` rebuilds it with; the manifests are
        // read and the production guard checked there, once.
        let parameters = try RunParameters(
            manifest: absolute(options.file),
            workRoot: ScenarioLoader.workRoot(stateDirectory: launcher.stateDirectory),
            options: drillOptions)
        let (drillScenario, runbook) = try await GamedayScenario.load(parameters: parameters, loader: loader)
        var registry = ScenarioRegistry.builtIn
        registry.registerManifestScenarios(loader: loader)
        let service = GamedayService(
            runService: try await launcher.makeService(runbook: runbook.id), registry: registry,
            reportRoot: launcher.stateDirectory, notice: { StandardStreams.err($0) })
        if let childRunID {
            try await service.runAsChild(runbook, runID: childRunID)
            return
        }
        let child = GamedayService.ChildProcess(
            executable: GamedayService.ChildProcess.ownExecutable, arguments: Array(CommandLine.arguments.dropFirst()),
            runIDOption: "--child-run-id", environment: [:],
            // The child's progress shows as it happens, on the stream it was written to.
            runner: CommandRunner(lineSink: { line in
                line.stream == .standardOutput ? StandardStreams.out(line.text) : StandardStreams.err(line.text)
            }))
        let outcome = try await SignalCancellation.run(notice: { _ in
            StandardStreams.err("signal: stopping the drill and recording where it stopped…")
        }) {
            try await service.run(
                runbook, drill: drillScenario.drill, target: drillScenario.target.manifest,
                source: drillScenario.source,
                child: child)
        }
        StandardStreams.err(
            "game day \(outcome.runID): \(outcome.report.verdict.rawValue); report in \(outcome.reportDirectory)/"
                + "report.{md,json,html} (drctl gameday report \(outcome.runID) --format html)")
    }
}

struct GamedayReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print the report of a game day run (Markdown, JSON or self-contained HTML).",
        discussion: """
            Examples:
              drctl gameday report 20261125-150102-ab12 --format md
              drctl gameday report 20261125-150102-ab12 --format html > drill.html
            """
    )

    @Argument(help: "The game day's run id (drctl runs list).")
    var runID: String

    @Option(help: "md, json or html.")
    var format: String = "md"

    @Option(help: "Where runs are journaled (default: $DRCTL_STATE_DIR, else ~/.local/state/drctl).")
    var stateDir: String?

    func validate() throws {
        guard GamedayReport.Format(rawValue: format) != nil else {
            throw ValidationError("--format must be md, json or html.")
        }
    }

    func run() async throws {
        let launcher = RunLauncher(stateDir: stateDir, output: .text)
        let report = try await GamedayService.storedReport(
            reportRoot: launcher.stateDirectory, runID: runID, backend: try launcher.backend())
        StandardStreams.out(try report.render(GamedayReport.Format(rawValue: format) ?? .markdown))
    }
}
