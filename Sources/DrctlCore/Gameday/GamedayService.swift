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

    public struct Outcome: Sendable {
        public var runID: String
        public var report: GamedayReport
        public var reportDirectory: String
    }

    /// Runs the drill; throws the run's error after the report is written (the report says what happened).
    public func run(_ runbook: Runbook, drill: DrillScript, target: Manifest, source: Manifest) async throws -> Outcome
    {
        let runID = RunID.make(at: runService.clock.now())
        var failure: (any Error)?
        do {
            try await runService.start(runbook, runID: runID)
        } catch RunbookError.interrupted where drill.faults.killAfterStep != nil && !Task.isCancelled {
            notice("fault injected: run \(runID) was stopped after \(drill.faults.killAfterStep ?? "?"); resuming it")
            do {
                try await runService.resume(runID: runID, registry: registry)
            } catch {
                failure = error
            }
        } catch {
            failure = error
        }
        let commands = Dictionary(runbook.steps.map { ($0.id, $0.commands) }) { first, _ in first }
        let history = try await RunCatalog(backend: runService.backend).history(runID: runID)
        let report = GamedayReport(history: history, drill: drill, target: target, source: source, commands: commands)
        let directory = Self.reportDirectory(reportRoot: reportRoot, runID: runID)
        try Self.write(report, to: directory)
        if let failure { throw failure }
        return Outcome(runID: runID, report: report, reportDirectory: directory)
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

    /// The stored report of a game day.
    public static func storedReport(reportRoot: String, runID: String) throws -> GamedayReport {
        let path = reportDirectory(reportRoot: reportRoot, runID: runID) + "/report.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GamedayError.reportNotFound(runID: runID)
        }
        return try GamedayReport.decode(json: data)
    }
}
