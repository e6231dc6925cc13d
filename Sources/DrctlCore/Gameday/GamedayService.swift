import Foundation

/// Runs a game day: the drill's runbook on the engine, the injected kill answered by a resume, and the report
/// written beside the run (`<state folder>/gameday/<run id>/report.{md,json,html}`), whether the drill passed or not.
public struct GamedayService: Sendable {
    public var runService: RunService
    /// Builds the runbook again on resume (it must hold the `gameday` scenario).
    public var registry: ScenarioRegistry
    /// A local folder the reports are written to.
    public var reportRoot: String
    /// Told when the drill's kill fault stops the run and it is resumed.
    public var notice: @Sendable (String) -> Void

    public init(
        runService: RunService, registry: ScenarioRegistry, reportRoot: String,
        notice: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.runService = runService
        self.registry = registry
        self.reportRoot = reportRoot
        self.notice = notice
    }

    /// Where the report files of `runID` live.
    public static func reportDirectory(reportRoot: String, runID: String) -> String {
        reportRoot + "/gameday/" + runID
    }

    /// How to start this drctl again as the child a drill with a kill fault runs in: its own binary with the same
    /// arguments; `runIDOption` and the run id are appended.
    public struct ChildProcess: Sendable {
        public var executable: String
        public var arguments: [String]
        public var runIDOption: String
        public var environment: [String: String]
        public var runner: any CommandRunning

        public init(
            executable: String, arguments: [String], runIDOption: String, environment: [String: String],
            runner: any CommandRunning
        ) {
            self.executable = executable
            self.arguments = arguments
            self.runIDOption = runIDOption
            self.environment = environment
            self.runner = runner
        }

        /// This process's own binary (`/proc/self/exe`), falling back to `argv[0]`.
        public static var ownExecutable: String {
            let proc = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
            if proc != "/proc/self/exe", FileManager.default.isExecutableFile(atPath: proc) { return proc }
            return CommandLine.arguments.first ?? "drctl"
        }
    }

    public struct Outcome: Sendable {
        public var runID: String
        public var report: GamedayReport
        public var reportDirectory: String
    }

    /// Runs the drill; throws the run's error after the report is written (the report says what happened).
    ///
    /// With a kill fault the run starts in a `child` drctl with `DRCTL_PAUSE_AT=effect:STEP` (`PausePoints`): the
    /// executor stops it with SIGSTOP right after the named step's effect, before the journal records it; this
    /// process then kills the stopped child with SIGKILL and resumes the run as `drctl resume` does (stale lock
    /// taken over, in-doubt step probed). A kill fault needs a `child`: without one there is no process to kill.
    public func run(
        _ runbook: Runbook, drill: DrillScript, target: Manifest, source: Manifest, child: ChildProcess? = nil
    ) async throws -> Outcome {
        let runID = RunID.make(at: runService.clock.now())
        var failure: (any Error)?
        if let kill = drill.faults.killAfterStep {
            guard let child else {
                throw GamedayError.faultNotPossible(
                    fault: "killAfterStep: \(kill)", reason: "there is no child drctl to run the scenario in and kill")
            }
            failure = await runKilledChild(runID: runID, killAfter: kill, child: child)
        } else {
            do { try await runService.start(runbook, runID: runID) } catch { failure = error }
        }
        let commands = Dictionary(runbook.steps.map { ($0.id, $0.commands) }) { first, _ in first }
        let history: RunHistory
        do {
            history = try await RunCatalog(backend: runService.backend).history(runID: runID)
        } catch {
            // Nothing journaled (the run never started): the run's own error says why.
            throw failure ?? error
        }
        var report = GamedayReport(history: history, drill: drill, target: target, source: source, commands: commands)
        // The state's reports (on S3: every operator's drills), and this machine's.
        let stored = (try? await runService.backend.gamedayReports()) ?? [:]
        let earlier = Self.storedReports(reportRoot: reportRoot, adding: stored).filter {
            $0.runID != runID && $0.trendEnvironment == target.environment
        }
        if !earlier.isEmpty { report.trend = GamedayReport.trend(of: earlier + [report]) }
        let directory = Self.reportDirectory(reportRoot: reportRoot, runID: runID)
        try Self.write(report, to: directory)
        if runService.backend.location != reportRoot {
            do {
                try await runService.backend.writeGamedayReport(Data(try report.render(.json).utf8), runID: runID)
            } catch {
                // The run is journaled and the report is here: the drill's verdict stands, with a warning.
                notice(Self.reportNotStored(runID: runID, directory: directory, backend: runService.backend, error))
            }
        }
        if let failure { throw failure }
        return Outcome(runID: runID, report: report, reportDirectory: directory)
    }

    /// The child's part: starts the run under the id the parent chose; it stops itself at the kill fault's pause
    /// point, where the parent kills it.
    public func runAsChild(_ runbook: Runbook, runID: String) async throws {
        try await runService.start(runbook, runID: runID)
    }

    /// Runs the scenario in the child until the executor has stopped it after `killAfter`'s effect, kills it there
    /// with SIGKILL, and resumes the run. Gated on the child's state, not on time: the stopped child waits for as
    /// long as this takes.
    private func runKilledChild(runID: String, killAfter: String, child: ChildProcess) async -> (any Error)? {
        var environment = child.environment
        environment[PausePoints.variable] = PausePoints.Moment.effect.rawValue + ":" + killAfter
        let invocation = CommandInvocation(
            child.executable, child.arguments + [child.runIDOption, runID], environment: environment)
        notice("game day \(runID): running the scenario in a child drctl, to be killed with SIGKILL after \(killAfter)")
        let result: CommandResult
        do {
            result = try await withThrowingTaskGroup(of: CommandResult?.self) { group in
                group.addTask { try await child.runner.run(invocation) }
                group.addTask {
                    try await Self.killWhenStopped(childWithArgument: runID)
                    return nil
                }
                defer { group.cancelAll() }
                while let next = try await group.next() {
                    if let result = next { return result }
                }
                throw CancellationError()
            }
        } catch {
            return error
        }
        guard result.status == .signalled(SIGKILL) else {
            let status =
                switch result.status {
                case .exited(let code): "exited with status \(code)"
                case .signalled(let signal): "was stopped by signal \(signal)"
                case .timedOut(let limit): "timed out after \(limit)"
                }
            return GamedayError.childRunEnded(
                runID: runID, status: status,
                detail: String(result.standardErrorTail.split(separator: "\n").suffix(5).joined(separator: " | ")))
        }
        notice(
            "fault injected: the child drctl of run \(runID) was killed with SIGKILL after \(killAfter); "
                + "resuming the run (drctl resume \(runID))")
        do {
            try await runService.resume(runID: runID, registry: registry)
            return nil
        } catch {
            return error
        }
    }

    /// Waits until this process's child drctl (the one with `argument`, its run id, on its command line) has
    /// stopped itself at its pause point, then sends it SIGKILL. Ends by cancellation when the child ends first.
    private static func killWhenStopped(childWithArgument argument: String) async throws {
        while true {
            let stopped = ProcStat.children(of: getpid(), withArgument: argument).first {
                ProcStat(pid: $0)?.isStopped == true
            }
            if let stopped {
                kill(stopped, SIGKILL)
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The warning when the report could not be stored in the shared state: where it is, how to store it again.
    static func reportNotStored(runID: String, directory: String, backend: any StateBackend, _ error: any Error)
        -> String
    {
        let destination = backend.gamedayReportDestination(runID: runID)
        let cause =
            ((error as? LocalizedError)?.errorDescription ?? "\(error)").split(separator: "\n").first.map(String.init)
            ?? ""
        let copy = destination.hasPrefix("s3://") ? ["aws", "s3", "cp"] : ["cp"]
        let command = ShellQuoting.join(copy + [directory + "/report.json", destination])
        return "WARNING: game day \(runID): its report could not be stored in the state (\(destination)): \(cause)."
            + " The drill's verdict stands (the run is journaled in \(backend.location)), and its report is in"
            + " \(directory)/report.{md,json,html}; other machines' trends and `drctl gameday report \(runID)` there"
            + " miss it until it is stored: \(command)"
    }

    static func write(_ report: GamedayReport, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, format) in [
            ("report.md", GamedayReport.Format.markdown), ("report.json", .json), ("report.html", .html),
        ] {
            try Data(try report.render(format).utf8).write(
                to: URL(fileURLWithPath: directory + "/" + name), options: .atomic)
        }
    }

    /// Every stored report under `reportRoot` and in `stored` (the state backend's, by run id), once per run;
    /// unreadable ones are left out.
    static func storedReports(reportRoot: String, adding stored: [String: Data] = [:]) -> [GamedayReport] {
        var reports = stored
        for (runID, data) in LocalStateBackend(root: reportRoot).gamedayReports() { reports[runID] = data }
        return reports.keys.sorted().compactMap { runID in
            reports[runID].flatMap { try? GamedayReport.decode(json: $0) }
        }
    }

    /// The stored report of a game day: this machine's, else the state backend's (a drill another operator ran
    /// with the state on S3).
    public static func storedReport(
        reportRoot: String, runID: String, backend: (any StateBackend)? = nil
    ) async throws -> GamedayReport {
        let path = reportDirectory(reportRoot: reportRoot, runID: runID) + "/report.json"
        if let data = FileManager.default.contents(atPath: path) { return try GamedayReport.decode(json: data) }
        guard let backend, backend.location != reportRoot,
            let data = try await backend.gamedayReports()[runID]
        else { throw GamedayError.reportNotFound(runID: runID) }
        return try GamedayReport.decode(json: data)
    }
}
