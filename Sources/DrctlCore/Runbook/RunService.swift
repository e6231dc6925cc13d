import Foundation

/// Starts and resumes runs: takes the environment's lock, writes the journal's run records around the
/// executor, and turns the outcome into the error the CLI maps to an exit code.
public struct RunService: Sendable {
    public var backend: any StateBackend
    public var runner: any CommandRunning
    public var events: any EventSink
    public var clock: any RunClock
    public var identity: ProcessIdentity
    public var maxConcurrentSteps: Int
    /// Journaled with the run (e.g. `["kubectl": "1.32.0", "helm": "3.18.0"]`).
    public var toolVersions: [String: String]
    /// The live runner's records of the run's children: attached to the run once it holds the lock; on resume,
    /// the children an interrupted attempt left running are stopped first.
    public var childRecords: ChildProcessRecords?
    /// Where a started run stops itself (`DRCTL_PAUSE_AT`); a resume never pauses.
    public var pausePoints: PausePoints

    public init(
        backend: any StateBackend, runner: any CommandRunning, events: any EventSink, clock: any RunClock = .system,
        identity: ProcessIdentity = .current, maxConcurrentSteps: Int = 4, toolVersions: [String: String] = [:],
        childRecords: ChildProcessRecords? = nil, pausePoints: PausePoints = .none
    ) {
        self.childRecords = childRecords
        self.pausePoints = pausePoints
        self.backend = backend
        self.runner = runner
        self.events = events
        self.clock = clock
        self.identity = identity
        self.maxConcurrentSteps = maxConcurrentSteps
        self.toolVersions = toolVersions
    }

    private func executor(_ runner: any CommandRunning, pausing: Bool = false) -> RunbookExecutor {
        RunbookExecutor(
            runner: runner, events: events, clock: clock, maxConcurrentSteps: maxConcurrentSteps,
            pausePoints: pausing ? pausePoints : .none)
    }

    /// Runs `runbook` from the start as a new journaled run.
    /// - Throws: `RunbookError.stepFailed` (exit 1), `.interrupted` (exit 4), `JournalError.lockHeld` (exit 5).
    @discardableResult
    public func start(_ runbook: Runbook, runID: String? = nil) async throws -> RunReport {
        try runbook.validate()
        let now = clock.now()
        let runID = try StateName.validated(runID ?? RunID.make(at: now))
        let lock = RunLock(environment: runbook.environment, runID: runID, identity: identity, startedAt: now)
        try await backend.acquireLock(lock)
        childRecords?.attach(runID: runID)
        do {
            let journal = try await Journal.create(runID: runID, backend: backend)
            var record = JournalRecord(type: .runStarted, time: now)
            record.run = header(for: runbook, runID: runID)
            try await journal.append(record)
            events.emit(
                .runStarted(
                    runID: runID, runbook: runbook.id, environment: runbook.environment,
                    totalSteps: runbook.steps.count, toRun: runbook.steps.count, resumed: false))
            let outcome = try await withDataPlane(runbook) { runner in
                try await executor(runner, pausing: true).execute(
                    runbook, journal: journal, runID: runID, startedAt: now)
            }
            return try await finish(outcome, journal: journal, lock: lock)
        } catch {
            try? await backend.releaseLock(environment: lock.environment, nonce: lock.nonce)
            throw error
        }
    }

    /// Continues an interrupted or failed run: skips completed steps (carrying their outputs forward), probes
    /// steps that started but never completed, and refuses on drift unless `acceptDrift`.
    @discardableResult
    public func resume(runID: String, registry: ScenarioRegistry, acceptDrift: Bool = false) async throws -> RunReport {
        let read = try await Journal.read(runID: try StateName.validated(runID), backend: backend)
        let history = try RunHistory(read, path: "\(backend.location)/runs/\(runID)/journal.jsonl")
        if history.status == .succeeded { throw RunbookError.nothingToResume(runID: runID, status: "succeeded") }
        let recorded = history.header
        let runbook = try await registry.makeRunbook(id: recorded.runbook, parameters: recorded.parameters)
        try runbook.validate()
        var notes: [String] = []
        let changes = Drift.changes(from: recorded, to: runbook)
        if !changes.isEmpty {
            guard acceptDrift else { throw RunbookError.drift(runID: runID, changes: changes) }
            notes.append("drift accepted (--accept-drift): " + changes.joined(separator: "; "))
        }
        if let torn = read.tornTail {
            notes.append("discarded a torn last line (\(torn.utf8.count) bytes) written when the process died")
        }

        let now = clock.now()
        let lock = RunLock(environment: runbook.environment, runID: runID, identity: identity, startedAt: now)
        if let note = try await acquireLock(lock) { notes.append(note) }
        do {
            // Read again under the lock: another resume may have appended since the first read.
            let again = try await Journal.read(runID: runID, backend: backend)
            guard again.records.count == read.records.count, again.lastLineHash == read.lastLineHash else {
                throw RunbookError.changedWhileResuming(runID: runID)
            }
            // Before any probe or step: a child of the killed attempt (helm, psql, aws) would race them.
            if let childRecords {
                notes += await Self.stopLeftovers(of: runID, childRecords)
                childRecords.attach(runID: runID)
            }
            let (outcome, journal) = try await withDataPlane(runbook) { runner in
                try await resumeSteps(
                    runbook, history: history, read: read, notes: notes, runID: runID, resumedAt: now, runner: runner)
            }
            return try await finish(outcome, journal: journal, lock: lock)
        } catch {
            try? await backend.releaseLock(environment: lock.environment, nonce: lock.nonce)
            throw error
        }
    }

    /// Resume's probes and steps, with the runner of the run's data plane.
    private func resumeSteps(
        _ runbook: Runbook, history: RunHistory, read: JournalReadResult, notes: [String], runID: String,
        resumedAt now: Date, runner: any CommandRunning
    ) async throws -> (RunbookExecutor.Outcome, Journal) {
        let carried = try await decide(runbook: runbook, history: history, runID: runID, runner: runner)
        // Interrupted while probing: nothing was written yet.
        try Task.checkCancellation()
        let journal = try await Journal.reopen(runID: runID, backend: backend, after: read)
        var record = JournalRecord(type: .runResumed, time: now)
        record.run = header(for: runbook, runID: runID)
        record.reason = notes.isEmpty ? nil : notes.joined(separator: "; ")
        try await journal.append(record)
        for (id, step) in carried.accepted {
            var accepted = JournalRecord(type: .stepCompleted, time: clock.now())
            accepted.step = id
            accepted.outputs = step.outputs
            accepted.reason = step.note
            try await journal.append(accepted)
        }
        events.emit(
            .runStarted(
                runID: runID, runbook: runbook.id, environment: runbook.environment,
                totalSteps: runbook.steps.count, toRun: runbook.steps.count - carried.all.count, resumed: true))
        // What a failed attempt of a step got done (some shards of the archive sync): its next attempt does the rest.
        var partial: [StepID: StepOutputs] = [:]
        for step in history.steps where carried.all[step.id] == nil {
            if let last = step.attempts.last(where: { $0.outcome == .failed }), let outputs = last.outputs {
                partial[step.id] = outputs
            }
        }
        let outcome = try await executor(runner).execute(
            runbook, journal: journal, runID: runID, startedAt: history.startedAt, carried: carried.all,
            partial: partial)
        return (outcome, journal)
    }

    /// Stops what an interrupted attempt left running; says so on the terminal and returns the journal notes.
    private static func stopLeftovers(of runID: String, _ records: ChildProcessRecords) async -> [String] {
        let outcomes = await records.stopLeftovers(runID: runID)
        var notes: [String] = []
        for outcome in outcomes {
            if case .gone = outcome { continue }
            records.notice(outcome.message)
            notes.append(outcome.message)
        }
        return notes
    }

    /// Takes the lock; a stale lock left by a killed process of this same run is taken over (and said so).
    private func acquireLock(_ lock: RunLock) async throws -> String? {
        do {
            try await backend.acquireLock(lock)
            return nil
        } catch JournalError.lockHeld(let holder, _, let stale) where stale && holder.runID == lock.runID {
            try await backend.releaseLock(environment: holder.environment, nonce: holder.nonce)
            try await backend.acquireLock(lock)
            return "took over the stale lock of pid \(holder.pid) on \(holder.host) (the process is gone)"
        }
    }

    private struct Carried {
        var all: [StepID: RunbookExecutor.CarriedStep] = [:]
        /// Started-never-completed steps whose probe found them done; journaled as completed before running.
        var accepted: [(StepID, RunbookExecutor.CarriedStep)] = []
    }

    /// Which steps are done: completed before, or started-never-completed and accepted by their probe.
    /// Destructive steps in doubt without a conclusive probe stop the resume before anything runs.
    private func decide(
        runbook: Runbook, history: RunHistory, runID: String, runner: any CommandRunning
    ) async throws -> Carried {
        var carried = Carried()
        for step in runbook.steps {
            guard let past = history.steps.first(where: { $0.id == step.id }) else { continue }
            switch past.state {
            case .completed(let outputs):
                carried.all[step.id] = .init(
                    outputs: outputs, duration: past.completedDuration, note: "completed before the interruption")
            case .inDoubt:
                let verdict: ProbeVerdict
                if let probe = step.probe {
                    let context = StepContext(
                        runID: runID, step: step.id, runner: runner, clock: clock,
                        completed: carried.all.filter { runbook.ancestors(of: step.id).contains($0.key) }
                            .mapValues(\.outputs),
                        log: { [events] in events.emit(.stepMessage(step: step.id, message: $0)) })
                    do { verdict = try await probe(context) } catch {
                        verdict = .unknown(reason: "its probe failed: " + RunbookExecutor.describe(error))
                    }
                } else {
                    verdict = .unknown(reason: "it has no probe to check the real state")
                }
                switch verdict {
                case .done(let outputs):
                    let accepted = RunbookExecutor.CarriedStep(
                        outputs: outputs, duration: nil, note: "accepted by probe: its effect is already in place")
                    carried.all[step.id] = accepted
                    carried.accepted.append((step.id, accepted))
                case .notDone:
                    break
                case .unknown(let reason):
                    if step.destructive {
                        throw RunbookError.unsafeToResume(runID: runID, step: step.id, reason: reason)
                    }
                }
            case .notStarted, .failed, .undone:
                break
            }
        }
        return carried
    }

    private func finish(_ outcome: RunbookExecutor.Outcome, journal: Journal, lock: RunLock) async throws -> RunReport {
        let report = outcome.report
        var record: JournalRecord
        if report.status == .interrupted {
            record = JournalRecord(type: .runInterrupted, time: clock.now())
            record.inFlight = outcome.inFlight
            record.reason = "SIGINT or SIGTERM"
        } else {
            record = JournalRecord(type: .runFinished, time: clock.now())
            if let failure = outcome.failure { record.reason = "step \(failure.step) failed" }
        }
        record.status = report.status
        record.duration = report.elapsed.seconds
        try await journal.append(record)
        try await backend.releaseLock(environment: lock.environment, nonce: lock.nonce)
        events.emit(.runFinished(report))
        switch report.status {
        case .succeeded, .running:
            return report
        case .interrupted:
            throw RunbookError.interrupted(runID: report.runID, inFlight: outcome.inFlight)
        case .failed:
            if let failure = outcome.failure, failure.refused {
                throw RunbookError.stepRefused(runID: report.runID, step: failure.step, message: failure.message)
            }
            throw RunbookError.stepFailed(
                runID: report.runID, step: outcome.failure?.step ?? "?", message: outcome.failure?.message ?? "")
        }
    }

    private func header(for runbook: Runbook, runID: String) -> RunHeader {
        RunHeader(
            runID: runID, runbook: runbook.id, environment: runbook.environment, parameters: runbook.parameters,
            manifestFingerprint: runbook.manifestFingerprint, planFingerprint: runbook.planFingerprint,
            steps: runbook.steps.map(PlannedStep.init), rtoBudgetSeconds: runbook.rtoBudget?.seconds,
            toolVersions: toolVersions.isEmpty ? nil : toolVersions, drctlVersion: DrctlVersion.current,
            user: identity.user, host: identity.host, pid: identity.pid)
    }
}

/// Run ids sort by start time: `20251009-020000-3fa2` (UTC, then 4 random hex digits).
public enum RunID {
    public static func make(at date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let stamp = String(
            format: "%04d%02d%02d-%02d%02d%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0,
            parts.minute ?? 0, parts.second ?? 0)
        return stamp + "-" + String(format: "%04x", UInt16.random(in: 0...UInt16.max))
    }
}
