import DrctlCore
import DrctlTestSupport
import Foundation
import Synchronization
import Testing

/// `drctl runs show` of an interrupted-then-resumed run, as golden text: a newcomer must be able to tell what
/// happened, step by step, with durations.
@Suite struct RunHistoryTextTests {
    private let identity = ProcessIdentity(user: "ops", host: "bastion", pid: 4242)

    private func runbook(clock: ManualClock, started: Signal?) -> Runbook {
        Runbook(
            id: "restore", environment: "production", parameters: RunParameters(manifest: "manifests/production.yaml"),
            manifestFingerprint: "4f1c0aa2b3c4d5e6f708", rtoBudget: .seconds(4 * 3600),
            steps: [
                RunbookStep(id: "pick-backup", title: "Pick and verify the newest backup") { _ in
                    clock.advance(by: .seconds(90))
                    return ["backup": "valeo_erp_backup_20251009_020000.sql.gz"]
                },
                RunbookStep(
                    id: "restore-database", title: "Restore valeo_erp from the backup", dependsOn: ["pick-backup"],
                    destructive: true, probe: { _ in .notDone }
                ) { context in
                    if let started {
                        started.fire()
                        try await context.clock.sleep(for: .seconds(3600))
                    }
                    clock.advance(by: .seconds(20 * 60))
                    return ["rows": "48213"]
                },
                RunbookStep(id: "smoke-query", title: "Run the smoke query", dependsOn: ["restore-database"]) { _ in
                    clock.advance(by: .seconds(2))
                    return ["documents_header": "48213"]
                },
            ])
    }

    @Test func anInterruptedThenResumedRunReadsAsAStory() async throws {
        let state = try TemporaryStateDirectory()
        let clock = ManualClock()
        let service = RunService(
            backend: state.backend, runner: RecordingCommandRunner(), events: EventRecorder(), clock: clock,
            identity: identity)
        let started = Signal()
        let task = Task {
            try await service.start(runbook(clock: clock, started: started), runID: "20251009-085320-abcd")
        }
        await started.wait()
        clock.advance(by: .seconds(5 * 60))
        task.cancel()
        _ = await task.result

        clock.advance(by: .seconds(10 * 60))
        var registry = ScenarioRegistry()
        registry.register("restore") { _ in runbook(clock: clock, started: nil) }
        try await RunService(
            backend: state.backend, runner: RecordingCommandRunner(), events: EventRecorder(), clock: clock,
            identity: ProcessIdentity(user: "ops", host: "bastion", pid: 4300)
        ).resume(runID: "20251009-085320-abcd", registry: registry)

        let history = try state.backend.history("20251009-085320-abcd")
        let text = history.text(status: RunCatalog(backend: state.backend, identity: identity).displayStatus(history))
        #expect(
            text == """
                Run 20251009-085320-abcd: scenario restore, environment production
                Status: succeeded (resumed 1×), took 36m 32s of an RTO budget of 4h 00m (15 % used)
                Parameters: manifest=manifests/production.yaml
                Manifest fingerprint 4f1c0aa2b3c4d5e6, plan fingerprint \(history.header.planFingerprint.prefix(16)), drctl \(DrctlVersion.current)

                Timeline:
                  2025-10-09 08:53:20  started by ops@bastion (pid 4242)
                  2025-10-09 08:59:50  interrupted (SIGINT or SIGTERM) while restore-database ran
                  2025-10-09 09:09:50  resumed by ops@bastion (pid 4300)
                  2025-10-09 09:29:52  finished: all steps done

                Steps:
                  1. pick-backup: Pick and verify the newest backup
                       attempt 1: started 2025-10-09 08:53:20, completed in 1m 30s
                       outputs: backup=valeo_erp_backup_20251009_020000.sql.gz
                  2. restore-database: Restore valeo_erp from the backup  [destructive]
                       attempt 1: started 2025-10-09 08:54:50, never completed: the run stopped during it (so it was run again)
                       attempt 2: started 2025-10-09 09:09:50, completed in 20m 00s
                       outputs: rows=48213
                  3. smoke-query: Run the smoke query
                       attempt 1: started 2025-10-09 09:29:50, completed in 2.0s
                       outputs: documents_header=48213
                """)
    }

    @Test func jsonEventsAreOneObjectPerLine() throws {
        let lines = LineCollector()
        let sink = JSONLinesEventSink(clock: ManualClock()) { lines.append($0) }
        sink.emit(.stepStarted(step: "restore-database", title: "Restore", index: 2, total: 3, attempt: 1))
        sink.emit(.budgetWarning(elapsed: .seconds(7200), budget: .seconds(14400), percent: 50))
        let objects = try lines.all.map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.map { $0["event"] as? String } == ["step-started", "budget-warning"])
        #expect(objects[0]["step"] as? String == "restore-database")
        #expect(objects[1]["percent"] as? Int == 50)
        #expect(lines.all.allSatisfy { !$0.contains("\n") })
    }
}

final class LineCollector: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
