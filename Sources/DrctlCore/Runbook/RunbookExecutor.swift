import Foundation
import Synchronization

/// Runs a runbook's steps in dependency order, independent steps side by side, journaling each step before and
/// after its side effect.
///
/// A failing step stops new steps from starting; steps already running are allowed to finish (cancelling a
/// restore half-way is worse than letting it end). Then the undo of every completed step that declares one
/// (`StepUndo`) runs, newest first, so a failed restore does not leave the app scaled down. Cancelling the calling task (SIGINT/SIGTERM) cancels the
/// running steps; they stay "started, never completed" in the journal, and `drctl resume` probes them.
public struct RunbookExecutor: Sendable {
    public var runner: any CommandRunning
    public var clock: any RunClock
    public var events: any EventSink
    /// How many independent steps may run at the same time.
    public var maxConcurrentSteps: Int
    /// Where the process stops itself (`DRCTL_PAUSE_AT`); none unless asked.
    public var pausePoints: PausePoints

    public init(
        runner: any CommandRunning, events: any EventSink, clock: any RunClock = .system, maxConcurrentSteps: Int = 4,
        pausePoints: PausePoints = .none
    ) {
        self.runner = runner
        self.events = events
        self.clock = clock
        self.maxConcurrentSteps = max(1, maxConcurrentSteps)
        self.pausePoints = pausePoints
    }

    /// A step that completed in an earlier attempt of the run: not run again, its outputs carried forward.
    public struct CarriedStep: Sendable, Hashable {
        public var outputs: StepOutputs
        public var duration: Duration?
        public var note: String

        public init(outputs: StepOutputs, duration: Duration?, note: String) {
            self.outputs = outputs
            self.duration = duration
            self.note = note
        }
    }

    /// How an execution ended.
    public struct Outcome: Sendable {
        public var report: RunReport
        /// The first step that failed (after its retries) and why.
        public var failure: (step: StepID, message: String, refused: Bool)?
        /// Steps that were running when the run was cancelled.
        public var inFlight: [StepID]
    }

    /// Runs every step of `runbook` that is not in `carried`.
    /// - Parameter startedAt: when the run first started; the RTO budget is measured from here.
    /// - Throws: only when the runbook is malformed or the journal cannot be written (the run then stops,
    ///   because acting without a journal would break resume).
    public func execute(
        _ runbook: Runbook, journal: Journal, runID: String, startedAt: Date,
        carried: [StepID: CarriedStep] = [:], partial: [StepID: StepOutputs] = [:]
    ) async throws -> Outcome {
        try runbook.validate()
        let warned = BudgetWarnings()
        if let budget = runbook.rtoBudget {
            checkBudget(budget, startedAt: startedAt, warned: warned)
        }
        let run: () async throws -> Outcome = {
            try await runSteps(
                runbook, journal: journal, runID: runID, startedAt: startedAt, carried: carried, partial: partial,
                warned: warned)
        }
        guard let budget = runbook.rtoBudget else { return try await run() }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await watchBudget(budget, startedAt: startedAt, warned: warned) }
            defer { group.cancelAll() }
            return try await run()
        }
    }

    private enum StepResult: Sendable {
        case completed(StepOutputs, Duration, attempts: Int)
        case skipped(reason: String, attempts: Int)
        /// `refused`: a safety check said no before the step changed anything (see `RefusalError`).
        case failed(message: String, attempts: Int, refused: Bool = false)
        case interrupted(attempts: Int)
        case journalFailed(any Error)
    }

    private func runSteps(
        _ runbook: Runbook, journal: Journal, runID: String, startedAt: Date, carried: [StepID: CarriedStep],
        partial: [StepID: StepOutputs], warned: BudgetWarnings
    ) async throws -> Outcome {
        var pending = runbook.steps.filter { carried[$0.id] == nil }
        var done = carried.mapValues(\.outputs)
        var reports: [StepID: StepReport] = [:]
        for step in runbook.steps {
            if let carriedStep = carried[step.id] {
                reports[step.id] = StepReport(
                    step: step.id, title: step.title, outcome: .completed, duration: carriedStep.duration,
                    outputs: carriedStep.outputs, note: carriedStep.note)
                events.emit(.stepSkipped(step: step.id, reason: carriedStep.note))
            } else {
                reports[step.id] = StepReport(step: step.id, title: step.title, outcome: .notRun)
            }
        }
        var inFlight: [StepID] = []
        var failure: (step: StepID, message: String, refused: Bool)?
        var journalError: (any Error)?
        var interrupted: [StepID] = []
        var started = carried.count

        await withTaskGroup(of: (StepID, StepResult).self) { group in
            while true {
                while failure == nil, journalError == nil, !Task.isCancelled, inFlight.count < maxConcurrentSteps,
                    let index = pending.firstIndex(where: { step in step.dependsOn.allSatisfy { done[$0] != nil } })
                {
                    let step = pending.remove(at: index)
                    started += 1
                    inFlight.append(step.id)
                    let number = started
                    // Only what the step depends on (directly or not): reading any other step's outputs would
                    // work or fail depending on timing.
                    let ancestors = runbook.ancestors(of: step.id)
                    let completed = done.filter { ancestors.contains($0.key) }
                    group.addTask {
                        let result = await runStep(
                            step, number: number, of: runbook.steps.count, journal: journal, runID: runID,
                            completed: completed, partial: partial[step.id])
                        return (step.id, result)
                    }
                }
                guard let (id, result) = await group.next() else { break }
                inFlight.removeAll { $0 == id }
                switch result {
                case .completed(let outputs, let duration, let attempts):
                    done[id] = outputs
                    reports[id]?.outcome = .completed
                    reports[id]?.outputs = outputs
                    reports[id]?.duration = duration
                    reports[id]?.attempts = attempts
                case .skipped(let reason, let attempts):
                    done[id] = .empty
                    reports[id]?.outcome = .skipped
                    reports[id]?.note = reason
                    reports[id]?.attempts = attempts
                case .failed(let message, let attempts, let refused):
                    if failure == nil { failure = (id, message, refused) }
                    reports[id]?.outcome = .failed
                    reports[id]?.error = message
                    reports[id]?.attempts = attempts
                case .interrupted(let attempts):
                    interrupted.append(id)
                    reports[id]?.outcome = .interrupted
                    reports[id]?.attempts = attempts
                case .journalFailed(let error):
                    if journalError == nil { journalError = error }
                    reports[id]?.outcome = .interrupted
                }
                if let budget = runbook.rtoBudget { checkBudget(budget, startedAt: startedAt, warned: warned) }
            }
        }
        if let journalError { throw journalError }
        if failure != nil, !Task.isCancelled {
            try await undo(runbook, done: done, reports: &reports, journal: journal, runID: runID)
        }
        let status: RunStatus =
            failure != nil
            ? .failed
            : (!interrupted.isEmpty || Task.isCancelled || !pending.isEmpty)
                ? .interrupted : .succeeded
        let report = RunReport(
            runID: runID, runbook: runbook.id, environment: runbook.environment, status: status,
            steps: runbook.steps.compactMap { reports[$0.id] }, elapsed: clock.now().duration(since: startedAt),
            rtoBudget: runbook.rtoBudget)
        return Outcome(report: report, failure: failure, inFlight: interrupted)
    }

    /// Runs the undo of each completed step (newest first) whose effect no completed `settledBy` step took care
    /// of, journals what it did or why not, and notes it in the step's report.
    private func undo(
        _ runbook: Runbook, done: [StepID: StepOutputs], reports: inout [StepID: StepReport], journal: Journal,
        runID: String
    ) async throws {
        for step in runbook.steps.reversed() {
            guard let undo = step.undo, let outputs = done[step.id], reports[step.id]?.outcome == .completed,
                !undo.settledBy.contains(where: { done[$0] != nil })
            else { continue }
            let ancestors = runbook.ancestors(of: step.id)
            var completed = done.filter { ancestors.contains($0.key) }
            completed[step.id] = outputs
            let events = self.events
            let context = StepContext(
                runID: runID, step: step.id, runner: runner, clock: clock, completed: completed,
                log: { events.emit(.stepMessage(step: step.id, message: $0)) })
            var record = JournalRecord(type: .stepUndone, time: clock.now())
            record.step = step.id
            let message: String
            do {
                message = try await undo.action(context)
                record.reason = message
                reports[step.id]?.outcome = .undone
            } catch let declined as StepUndoDeclined {
                message = declined.reason
                record.type = .stepNotUndone
                record.reason = message
            } catch {
                message = "it failed: " + Self.describe(error)
                record.type = .stepNotUndone
                record.error = message
                record.stderrTail = (error as? CommandFailure)?.standardErrorTail
            }
            record.time = clock.now()
            reports[step.id]?.undo = message
            try await journal.append(record)
            events.emit(.stepUndo(step: step.id, undone: record.type == .stepUndone, message: message))
        }
    }

    private func runStep(
        _ step: RunbookStep, number: Int, of total: Int, journal: Journal, runID: String,
        completed: [StepID: StepOutputs], partial earlier: StepOutputs?
    ) async -> StepResult {
        let events = self.events
        var partial = earlier
        for attempt in 1...step.retry.attempts {
            if Task.isCancelled { return .interrupted(attempts: attempt - 1) }
            var startedRecord = JournalRecord(type: .stepStarted, time: clock.now())
            startedRecord.step = step.id
            startedRecord.attempt = attempt
            startedRecord.inputFingerprint = step.inputFingerprint
            do { try await journal.append(startedRecord) } catch { return .journalFailed(error) }
            events.emit(.stepStarted(step: step.id, title: step.title, index: number, total: total, attempt: attempt))
            let log: (String) -> Void = { events.emit(.stepMessage(step: step.id, message: $0)) }
            pausePoints.pause(.start, of: step.id, log: log)

            let context = StepContext(
                runID: runID, step: step.id, attempt: attempt, runner: runner, clock: clock, completed: completed,
                partialOutputs: partial, log: { events.emit(.stepMessage(step: step.id, message: $0)) })
            let start = clock.now()
            do {
                let outputs = try await withTimeout(step) { try await step.action(context) }
                pausePoints.pause(.effect, of: step.id, log: log)
                let duration = clock.now().duration(since: start)
                var record = JournalRecord(type: .stepCompleted, time: clock.now())
                record.step = step.id
                record.attempt = attempt
                record.outputs = outputs
                record.duration = duration.seconds
                do { try await journal.append(record) } catch { return .journalFailed(error) }
                events.emit(.stepCompleted(step: step.id, duration: duration, outputs: outputs, note: nil))
                pausePoints.pause(.done, of: step.id, log: log)
                return .completed(outputs, duration, attempts: attempt)
            } catch let skip as StepSkipped {
                var record = JournalRecord(type: .stepSkipped, time: clock.now())
                record.step = step.id
                record.attempt = attempt
                record.reason = skip.reason
                do { try await journal.append(record) } catch { return .journalFailed(error) }
                events.emit(.stepSkipped(step: step.id, reason: skip.reason))
                return .skipped(reason: skip.reason, attempts: attempt)
            } catch {
                // Cancelled from outside: the step's effect is in doubt. Leave it "started" for resume to probe.
                if Task.isCancelled || error is CancellationError { return .interrupted(attempts: attempt) }
                let message = Self.describe(error)
                // A refusal is an answer, not a glitch: trying again would only refuse again.
                let refused = (error as? any RefusalError)?.isRefusal ?? false
                let retryIn = !refused && attempt < step.retry.attempts ? step.retry.delay(after: attempt) : nil
                var record = JournalRecord(type: .stepFailed, time: clock.now())
                record.step = step.id
                record.attempt = attempt
                record.error = message
                record.stderrTail = (error as? CommandFailure)?.standardErrorTail
                record.duration = clock.now().duration(since: start).seconds
                if let done = (error as? any PartialStepOutputs)?.partialOutputs {
                    record.outputs = done
                    partial = done
                }
                if let retryIn { record.reason = "retryable: next attempt in \(retryIn.formattedSeconds)" }
                do { try await journal.append(record) } catch { return .journalFailed(error) }
                events.emit(.stepFailed(step: step.id, attempt: attempt, error: message, retryIn: retryIn))
                guard let retryIn else { return .failed(message: message, attempts: attempt, refused: refused) }
                do { try await clock.sleep(for: retryIn) } catch { return .interrupted(attempts: attempt) }
            }
        }
        return .failed(message: "no attempt was made", attempts: 0)
    }

    /// Races the step's action against its timeout; the loser is cancelled.
    private func withTimeout(
        _ step: RunbookStep, _ body: @escaping @Sendable () async throws -> StepOutputs
    ) async throws -> StepOutputs {
        guard let timeout = step.timeout else { return try await body() }
        let clock = self.clock
        return try await withThrowingTaskGroup(of: StepOutputs?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await clock.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let outputs = first else {
                throw RunbookError.stepTimedOut(step: step.id, after: timeout)
            }
            return outputs
        }
    }

    private func watchBudget(_ budget: Duration, startedAt: Date, warned: BudgetWarnings) async {
        for percent in RTOBudget.warningPercents {
            let deadline = startedAt.adding(budget * Double(percent) / 100)
            let wait = deadline.duration(since: clock.now())
            if wait > .zero {
                do { try await clock.sleep(for: wait) } catch { return }
            }
            checkBudget(budget, startedAt: startedAt, warned: warned)
        }
    }

    private func checkBudget(_ budget: Duration, startedAt: Date, warned: BudgetWarnings) {
        let elapsed = clock.now().duration(since: startedAt)
        for percent in RTOBudget.warningPercents where elapsed >= budget * Double(percent) / 100 {
            let isNew = warned.insert(percent)
            if isNew { events.emit(.budgetWarning(elapsed: elapsed, budget: budget, percent: percent)) }
        }
    }

    /// The error text to journal and show: `LocalizedError` descriptions are already redacted by their makers.
    static func describe(_ error: any Error) -> String {
        (error as? LocalizedError)?.errorDescription ?? String(describing: error)
    }
}

/// Thrown by a step's action when there is nothing to do (a provision hook whose check already passes).
/// The step is journaled as skipped and counts as done.
public struct StepSkipped: Error, Sendable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// The thresholds already warned about in this execution (shared by the watcher and the step loop).
final class BudgetWarnings: Sendable {
    private let warned = Mutex<Set<Int>>([])
    func insert(_ percent: Int) -> Bool { warned.withLock { $0.insert(percent).inserted } }
}

/// The RTO budget thresholds.
public enum RTOBudget {
    public static let warningPercents = [50, 80]
}

extension Runbook {
    /// Every step `step` depends on, directly or through other steps.
    public func ancestors(of step: StepID) -> Set<StepID> {
        var found = Set<StepID>()
        var queue = self.step(step)?.dependsOn ?? []
        while let next = queue.popLast() {
            guard found.insert(next).inserted else { continue }
            queue += self.step(next)?.dependsOn ?? []
        }
        return found
    }

    /// Checks that step ids are unique, dependencies exist and there is no cycle.
    public func validate() throws(RunbookError) {
        var ids = Set<StepID>()
        for step in steps {
            guard ids.insert(step.id).inserted else { throw .duplicateStep(step.id, runbook: id) }
        }
        for step in steps {
            for dependency in step.dependsOn where !ids.contains(dependency) {
                throw .unknownDependency(step: step.id, dependsOn: dependency, runbook: id)
            }
        }
        var resolved = Set<StepID>()
        var remaining = steps
        while !remaining.isEmpty {
            let ready = remaining.filter { $0.dependsOn.allSatisfy(resolved.contains) }
            guard !ready.isEmpty else { throw .dependencyCycle(steps: remaining.map(\.id), runbook: id) }
            resolved.formUnion(ready.map(\.id))
            remaining.removeAll { resolved.contains($0.id) }
        }
    }
}
