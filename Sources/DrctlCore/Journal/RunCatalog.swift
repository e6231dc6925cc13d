import Foundation

/// The journaled runs of a state backend: what `drctl runs list` and `drctl runs show` print, and the typical
/// step durations the progress ETA is based on.
public struct RunCatalog: Sendable {
    public var backend: any StateBackend
    public var identity: ProcessIdentity

    public init(backend: any StateBackend, identity: ProcessIdentity = .current) {
        self.backend = backend
        self.identity = identity
    }

    /// One line of `drctl runs list`.
    public struct Summary: Sendable, Hashable, Encodable {
        public var runID: String
        public var runbook: String?
        public var environment: String?
        public var startedAt: Date?
        /// succeeded, failed, interrupted, running, crashed (the process died without recording an end), or
        /// damaged (the journal cannot be read; see `problem`).
        public var status: String
        public var stepsDone: Int
        public var stepsTotal: Int
        public var durationSeconds: Double?
        public var problem: String?
    }

    public func history(runID: String) async throws -> RunHistory {
        let read = try await Journal.read(runID: try StateName.validated(runID), backend: backend)
        return try RunHistory(read, path: "\(backend.location)/runs/\(runID)/journal.jsonl")
    }

    /// Every run, newest first. A damaged journal is listed with its problem rather than hidden.
    public func list() async throws -> [Summary] {
        var summaries: [Summary] = []
        for runID in try await backend.runIDs() {
            do {
                let history = try await history(runID: runID)
                summaries.append(
                    Summary(
                        runID: runID, runbook: history.header.runbook, environment: history.header.environment,
                        startedAt: history.startedAt, status: displayStatus(history),
                        stepsDone: history.completedStepCount, stepsTotal: history.header.steps.count,
                        durationSeconds: history.endedAt.map { $0.timeIntervalSince(history.startedAt) },
                        problem: history.tornTail == nil ? nil : "torn last line"))
            } catch {
                summaries.append(
                    Summary(
                        runID: runID, status: "damaged", stepsDone: 0, stepsTotal: 0,
                        problem: (error as? LocalizedError)?.errorDescription ?? "\(error)"))
            }
        }
        return summaries.sorted { ($0.startedAt ?? .distantPast, $0.runID) > ($1.startedAt ?? .distantPast, $1.runID) }
    }

    public func displayStatus(_ history: RunHistory) -> String {
        if history.status == .running, history.isAbandoned(on: identity) { return "crashed" }
        return history.status.rawValue
    }

    /// The median duration of each step over the last `limit` runs of `runbook` that completed it.
    public func typicalDurations(runbook: String, limit: Int = 5) async -> [StepID: Duration] {
        guard let ids = try? await backend.runIDs() else { return [:] }
        var samples: [StepID: [Duration]] = [:]
        var histories: [RunHistory] = []
        for id in ids {
            if let history = try? await history(runID: id), history.header.runbook == runbook {
                histories.append(history)
            }
        }
        for history in histories.sorted(by: { $0.startedAt > $1.startedAt }).prefix(limit) {
            for step in history.steps {
                guard let last = step.attempts.last, last.outcome == .completed, let seconds = last.duration else {
                    continue
                }
                samples[step.id, default: []].append(.milliseconds(Int64(seconds * 1000)))
            }
        }
        return samples.mapValues { $0.sorted()[$0.count / 2] }
    }

    /// The `drctl runs list` table.
    public static func table(_ summaries: [Summary]) -> String {
        guard !summaries.isEmpty else { return "No runs journaled yet." }
        let header = ["RUN", "SCENARIO", "ENVIRONMENT", "STARTED (UTC)", "STATUS", "STEPS", "DURATION"]
        let rows = summaries.map { summary in
            [
                summary.runID, summary.runbook ?? "?", summary.environment ?? "?",
                summary.startedAt.map(RunHistory.formatTime) ?? "?",
                summary.status + (summary.problem.map { summary.status == "damaged" ? "" : " (\($0))" } ?? ""),
                "\(summary.stepsDone)/\(summary.stepsTotal)",
                summary.durationSeconds.map { TextProgressRenderer.format(.milliseconds(Int64($0 * 1000))) } ?? "-",
            ]
        }
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        let render: ([String]) -> String = { cells in
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        var lines = [render(header)] + rows.map(render)
        for summary in summaries where summary.status == "damaged" {
            lines.append("\n\(summary.runID): \(summary.problem ?? "")")
        }
        return lines.joined(separator: "\n")
    }
}
