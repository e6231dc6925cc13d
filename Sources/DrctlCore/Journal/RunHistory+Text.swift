import Foundation

extension RunHistory {
    /// `drctl runs show ID`: who ran it, every start, interruption and resume in order, then each step's attempts
    /// with their times, durations, outputs and errors.
    public func text(status: String) -> String {
        var lines: [String] = []
        lines.append("Run \(header.runID): scenario \(header.runbook), environment \(header.environment)")
        var summary = "Status: \(status)"
        if segments.count > 1 { summary += " (resumed \(segments.count - 1)×)" }
        if let endedAt {
            let elapsed = endedAt.duration(since: startedAt)
            summary += ", took \(TextProgressRenderer.format(elapsed))"
            if let budget = header.rtoBudgetSeconds, budget > 0 {
                summary +=
                    " of an RTO budget of \(TextProgressRenderer.format(.seconds(budget))) "
                    + "(\(Int((elapsed.seconds / budget * 100).rounded())) % used)"
            }
        }
        lines.append(summary)
        let parameters = header.parameters.leaves
        if !parameters.isEmpty {
            lines.append(
                "Parameters: "
                    + parameters.keys.sorted().map { "\($0)=\(parameters[$0] ?? "")" }
                    .joined(separator: ", "))
        }
        lines.append(
            "Manifest fingerprint \(header.manifestFingerprint.prefix(16)), plan fingerprint "
                + "\(header.planFingerprint.prefix(16)), drctl \(header.drctlVersion)")
        if let tools = header.toolVersions, !tools.isEmpty {
            lines.append("Tools: " + tools.keys.sorted().map { "\($0) \(tools[$0] ?? "")" }.joined(separator: ", "))
        }

        lines.append("")
        lines.append("Timeline:")
        for (index, segment) in segments.enumerated() {
            let who = "\(segment.user)@\(segment.host) (pid \(segment.pid))"
            lines.append("  \(Self.formatTime(segment.time))  \(segment.kind.rawValue) by \(who)")
            if let note = segment.note { lines.append("                        \(note)") }
            if let end = segment.end {
                var text = "  \(Self.formatTime(end.time))  "
                switch end.status {
                case .interrupted:
                    text += "interrupted"
                    if let reason = end.reason { text += " (\(reason))" }
                    if !end.inFlight.isEmpty {
                        text += " while " + end.inFlight.map(\.rawValue).joined(separator: ", ") + " ran"
                    }
                case .failed: text += "stopped: " + (end.reason ?? "a step failed")
                case .succeeded: text += "finished: all steps done"
                case .running: text += "running"
                }
                lines.append(text)
            } else if index < segments.count - 1 || status == "crashed" {
                lines.append(
                    "  ?                     the process stopped without recording an end (killed, or the machine "
                        + "went down)" + inDoubtText(during: index))
            }
        }
        if let tornTail {
            lines.append(
                "  !  the journal ends in a torn line (\(tornTail.utf8.count) bytes, written when the process died)")
        }

        lines.append("")
        lines.append("Steps:")
        for (index, step) in steps.enumerated() {
            lines.append("  \(index + 1). \(step.id): \(step.title)" + (step.destructive ? "  [destructive]" : ""))
            if step.attempts.isEmpty { lines.append("       not run") }
            for attempt in step.attempts {
                lines.append("       " + describe(attempt, of: step))
                if let error = attempt.error { lines.append(TextProgressRenderer.indent(error, by: 9)) }
                if let stderr = attempt.stderrTail, !stderr.isEmpty {
                    lines.append("         stderr:")
                    lines.append(TextProgressRenderer.indent(stderr.trimmingCharacters(in: .newlines), by: 11))
                }
            }
            if case .completed = step.state, let undo = step.undo {
                lines.append("       NOT undone after a later step failed: " + undo)
            }
            if case .completed(let outputs) = step.state, !outputs.values.isEmpty {
                lines.append(
                    "       outputs: "
                        + outputs.values.keys.sorted().map { "\($0)=\(outputs.values[$0] ?? "")" }.joined(
                            separator: ", "))
            }
        }
        return lines.joined(separator: "\n")
    }

    private func describe(_ attempt: Attempt, of step: Step) -> String {
        let number = "attempt \(attempt.number)"
        let started = attempt.startedAt.map { ": started \(Self.formatTime($0))" } ?? ""
        let took = attempt.duration.map { " in \(TextProgressRenderer.format(.milliseconds(Int64($0 * 1000))))" } ?? ""
        switch attempt.outcome {
        case .completed: return number + started + ", completed" + took
        case .skipped: return number + started + ", skipped: " + (attempt.note ?? "")
        case .failed:
            return number + started + ", failed" + took + (attempt.note.map { " (\($0))" } ?? "") + ":"
        case .inDoubt:
            let later = attempt.number < step.attempts.count ? " (so it was run again)" : ""
            return number + started + ", never completed: the run stopped during it" + later
        case .undone:
            return "undone at " + (attempt.startedAt.map(Self.formatTime) ?? "?") + " after a later step failed: "
                + (attempt.note ?? "") + " (a resume runs the step again)"
        case .acceptedByProbe:
            return number + started + ", never completed; on resume at "
                + (attempt.endedAt.map(Self.formatTime) ?? "?") + " its probe found it done, so it was accepted "
                + "without running again"
        }
    }

    private func inDoubtText(during segment: Int) -> String {
        let start = segments[segment].time
        let end = segment + 1 < segments.count ? segments[segment + 1].time : Date.distantFuture
        let inFlight = steps.filter { step in
            step.attempts.contains { attempt in
                attempt.outcome != .completed && attempt.outcome != .failed && attempt.outcome != .skipped
                    && (attempt.startedAt.map { $0 >= start && $0 <= end } ?? false)
            }
        }
        guard !inFlight.isEmpty else { return "" }
        return " during " + inFlight.map(\.id.rawValue).joined(separator: ", ")
    }

    static func formatTime(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0,
            parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
    }
}
