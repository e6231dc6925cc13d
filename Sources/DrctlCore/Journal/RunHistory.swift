import Foundation

/// A run's journal read back as a story: who started and resumed it, and each step's attempts in order.
/// What `drctl runs show` prints and what `drctl resume` decides from.
public struct RunHistory: Sendable {
    /// The header of the latest start or resume (its plan is the one being followed).
    public var header: RunHeader
    public var startedAt: Date
    public var segments: [Segment]
    public var steps: [Step]
    /// The last line was torn by a crash while it was being written; shown, never parsed.
    public var tornTail: String?

    /// One start or resume of the run, and how it ended (nil: the process died without saying).
    public struct Segment: Sendable, Hashable, Encodable {
        public enum Kind: String, Sendable, Hashable, Encodable { case started, resumed }
        public var kind: Kind
        public var time: Date
        public var user: String
        public var host: String
        public var pid: Int32
        public var note: String?
        public var end: End?

        public struct End: Sendable, Hashable, Encodable {
            public var status: RunStatus
            public var time: Date
            public var inFlight: [StepID]
            public var reason: String?
        }
    }

    public struct Step: Sendable, Hashable {
        public var id: StepID
        public var title: String
        public var destructive: Bool
        public var attempts: [Attempt]
        /// What the step's undo did, or why it did not act, after a later step failed.
        public var undo: String?

        public var state: State {
            guard let last = attempts.last else { return .notStarted }
            switch last.outcome {
            case .undone: return .undone(last.note ?? "")
            case .completed, .acceptedByProbe: return .completed(last.outputs ?? .empty)
            case .skipped: return .completed(.empty)
            case .failed: return .failed(last.error ?? "")
            case .inDoubt: return .inDoubt
            }
        }

        /// Seconds of the attempt that completed.
        public var completedDuration: Duration? {
            guard let last = attempts.last, let seconds = last.duration else { return nil }
            return .milliseconds(Int64((seconds * 1000).rounded()))
        }
    }

    public enum State: Sendable, Hashable {
        case notStarted
        /// Started, never completed: the process died or was interrupted during it.
        case inDoubt
        case completed(StepOutputs)
        case failed(String)
        /// Completed, then undone after a later step failed: resume runs it again.
        case undone(String)
    }

    public struct Attempt: Sendable, Hashable, Encodable {
        public enum Outcome: String, Sendable, Hashable, Encodable {
            case completed, skipped, failed
            /// Started and never completed.
            case inDoubt = "never-completed"
            /// Started, never completed, and a resume's probe found its effect in place.
            case acceptedByProbe = "accepted-by-probe"
            /// Not an attempt of the step: its completed effect was undone after a later step failed.
            case undone
        }
        public var number: Int
        public var startedAt: Date?
        public var endedAt: Date?
        public var outcome: Outcome
        public var duration: Double?
        public var outputs: StepOutputs?
        public var error: String?
        public var stderrTail: String?
        public var note: String?
    }

    public init(_ read: JournalReadResult, path: String) throws(JournalError) {
        guard let first = read.records.first, let firstHeader = first.run else { throw .emptyJournal(path: path) }
        header = firstHeader
        startedAt = first.time
        tornTail = read.tornTail
        segments = []
        steps = firstHeader.steps.map { Step(id: $0.id, title: $0.title, destructive: $0.destructive, attempts: []) }
        for record in read.records { apply(record) }
    }

    private mutating func apply(_ record: JournalRecord) {
        switch record.type {
        case .runStarted, .runResumed:
            guard let run = record.run else { return }
            header = run
            for planned in run.steps where !steps.contains(where: { $0.id == planned.id }) {
                steps.append(Step(id: planned.id, title: planned.title, destructive: planned.destructive, attempts: []))
            }
            segments.append(
                Segment(
                    kind: record.type == .runStarted ? .started : .resumed, time: record.time, user: run.user,
                    host: run.host, pid: run.pid, note: record.reason))
        case .runInterrupted, .runFinished:
            guard !segments.isEmpty else { return }
            segments[segments.count - 1].end = Segment.End(
                status: record.status ?? (record.type == .runInterrupted ? .interrupted : .failed), time: record.time,
                inFlight: record.inFlight ?? [], reason: record.reason)
        case .stepUndone, .stepNotUndone:
            guard let id = record.step, let index = steps.firstIndex(where: { $0.id == id }) else { return }
            let text = record.reason ?? record.error ?? ""
            steps[index].undo = text
            if record.type == .stepUndone {
                steps[index].attempts.append(
                    Attempt(
                        number: steps[index].attempts.count + 1, startedAt: record.time, endedAt: record.time,
                        outcome: .undone, note: text))
            }
        case .stepStarted, .stepCompleted, .stepFailed, .stepSkipped:
            guard let id = record.step else { return }
            if !steps.contains(where: { $0.id == id }) {
                steps.append(Step(id: id, title: id.rawValue, destructive: false, attempts: []))
            }
            guard let index = steps.firstIndex(where: { $0.id == id }) else { return }
            applyStep(record, to: &steps[index])
        }
    }

    private func applyStep(_ record: JournalRecord, to step: inout Step) {
        let open = step.attempts.last.map { $0.outcome == .inDoubt } ?? false
        switch record.type {
        case .stepStarted:
            step.attempts.append(
                Attempt(number: step.attempts.count + 1, startedAt: record.time, outcome: .inDoubt))
            return
        default: break
        }
        if !open {
            step.attempts.append(Attempt(number: step.attempts.count + 1, outcome: .inDoubt))
        }
        var attempt = step.attempts[step.attempts.count - 1]
        attempt.endedAt = record.time
        attempt.duration = record.duration
        attempt.note = record.reason
        switch record.type {
        case .stepCompleted:
            attempt.outcome =
                open && record.reason?.hasPrefix("accepted by probe") == true ? .acceptedByProbe : .completed
            attempt.outputs = record.outputs
        case .stepSkipped: attempt.outcome = .skipped
        default:
            attempt.outcome = .failed
            attempt.outputs = record.outputs
            attempt.error = record.error
            attempt.stderrTail = record.stderrTail
        }
        step.attempts[step.attempts.count - 1] = attempt
    }

    /// How the run stands: the end of its last segment, or `running` when the last start or resume never
    /// recorded an end (still running, or killed — see `isAbandoned`).
    public var status: RunStatus { segments.last?.end?.status ?? .running }

    public var endedAt: Date? { segments.last?.end?.time }

    /// The last start or resume has no end and its process is gone from this host: it was killed (SIGKILL,
    /// power loss). `drctl resume` continues it.
    public func isAbandoned(on identity: ProcessIdentity) -> Bool {
        guard let last = segments.last, last.end == nil else { return false }
        return last.host == identity.host && !ProcessIdentity.isAlive(pid: last.pid)
    }

    public var completedStepCount: Int {
        steps.filter { if case .completed = $0.state { return true } else { return false } }.count
    }
}
