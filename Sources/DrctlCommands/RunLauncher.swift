import DrctlCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Starts or resumes a run with the live dependencies: the local state directory, the real process runner,
/// progress on stdout (text or JSON lines), and SIGINT/SIGTERM cancelling the run. Scenario commands build a
/// `Runbook` and call `start`.
struct RunLauncher {
    /// A folder, or `s3://bucket/prefix`.
    var stateLocation: String
    var output: OutputFormat
    var runner: any CommandRunning
    /// Where the live runner records each child's process group, in the run's local folder.
    var childRecords: ChildProcessRecords

    /// - Parameter runner: nil: the live `CommandRunner`, recording its children for `drctl resume`.
    init(stateDir: String?, output: OutputFormat, runner: (any CommandRunning)? = nil) {
        self.stateLocation = StateDirectory.resolve(flag: stateDir)
        self.output = output
        let local = stateLocation.hasPrefix("s3://") ? StateDirectory.localDefault() : stateLocation
        let childRecords = ChildProcessRecords(runsFolder: local + "/runs") { StandardStreams.err($0) }
        self.childRecords = childRecords
        self.runner = runner ?? CommandRunner(childRecords: childRecords)
    }

    /// A local folder for scenario work files: the state folder, or the user's local state folder when the
    /// state is on S3.
    var stateDirectory: String {
        stateLocation.hasPrefix("s3://") ? StateDirectory.localDefault() : stateLocation
    }

    func backend() throws -> any StateBackend {
        try StateBackends.make(location: stateLocation, runner: runner)
    }

    /// `notify: false` leaves the run notifications to the caller (the nightly backup sends its own).
    func start(_ runbook: Runbook, notify: Bool = true) async throws {
        let notifier = notify ? runbook.manifest.flatMap(NotificationSetup.notifier(for:)).map(RunNotifier.init) : nil
        let service = try await makeService(runbook: runbook.id, notifier: notifier)
        try await Self.deliveringNotifications(notifier) {
            _ = try await SignalCancellation.run(notice: Self.notice) { try await service.start(runbook) }
        }
    }

    /// Resumes through `ScenarioRegistry.builtIn`; the run's manifest is read once, for its notification
    /// targets and for the rebuilt runbook.
    func resume(runID: String, acceptDrift: Bool) async throws {
        let header = try await RunCatalog(backend: try backend()).history(runID: runID).header
        let manifest = NotificationSetup.manifest(at: header.parameters.manifest)
        let notifier = manifest.flatMap(NotificationSetup.notifier(for:)).map(RunNotifier.init)
        // As `ScenarioRegistry.builtIn` builds it (its own runner: only `helm version` runs there), with the
        // manifest read above.
        var builtIn = ScenarioRegistry.builtIn
        builtIn.registerManifestScenarios(
            loader: ScenarioLoader(runner: CommandRunner(), loaded: manifest.map { [$0] } ?? []))
        let registry = builtIn
        let service = try await makeService(runbook: header.runbook, notifier: notifier)
        try await Self.deliveringNotifications(notifier) {
            _ = try await SignalCancellation.run(notice: Self.notice) {
                try await service.resume(runID: runID, registry: registry, acceptDrift: acceptDrift)
            }
        }
    }

    func makeService(runbook: String, notifier: RunNotifier? = nil) async throws -> RunService {
        let backend = try backend()
        let events: any EventSink
        switch output {
        case .json:
            events = JSONLinesEventSink { StandardStreams.out($0) }
        case .text:
            let typical = await RunCatalog(backend: backend).typicalDurations(runbook: runbook)
            events = TextProgressRenderer(expectedDurations: typical) { StandardStreams.out($0) }
        }
        return RunService(
            backend: backend, runner: runner, events: notifier.map { FanOutEventSink([events, $0]) } ?? events,
            childRecords: childRecords,
            pausePoints: try PausePoints.from(environment: ProcessInfo.processInfo.environment))
    }

    /// Runs `body`, then waits for the notifications it caused (failed or not) before the process exits.
    private static func deliveringNotifications(
        _ notifier: RunNotifier?, _ body: () async throws -> Void
    ) async throws {
        do {
            try await body()
        } catch {
            await notifier?.flush()
            throw error
        }
        await notifier?.flush()
    }

    @Sendable private static func notice(_ signal: Int32) {
        let name = signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
        StandardStreams.err(
            "\(name): stopping the running steps and recording where the run stopped (send it again to quit at once)…")
    }
}
