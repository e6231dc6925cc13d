import Foundation

extension GamedayReport {
    public enum Format: String, Sendable, CaseIterable {
        case markdown = "md"
        case json
        case html
    }

    public func render(_ format: Format) throws -> String {
        switch format {
        case .markdown: markdown
        case .json: try json()
        case .html: html
        }
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public static func decode(json: Data) throws -> GamedayReport {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(GamedayReport.self, from: json)
    }

    // MARK: - Markdown

    public var markdown: String {
        var lines: [String] = []
        lines.append("# Game day \(runID): \(scenario) — \(verdict.rawValue)")
        lines.append("")
        lines.append("- **Hypothesis:** \(hypothesis)")
        lines.append("- **Target:** \(target)")
        lines.append("- **Backups from:** \(source)")
        lines.append("- **Incident declared:** \(Self.stamp(incidentTime))")
        lines.append("- **Run:** \(Self.stamp(startedAt)) → \(endedAt.map(Self.stamp) ?? "not finished") (\(status))")
        lines.append("")
        lines.append("## Objectives")
        lines.append("")
        lines.append("| | target | achieved | met |")
        lines.append("|---|---|---|---|")
        lines.append(
            "| RPO (incident − backup time) | \(Self.span(objectives.rpoTargetSeconds)) | "
                + "\(objectives.rpoAchievedSeconds.map(Self.span) ?? "-") | \(objectives.rpoApplies == false ? "n/a" : Self.yesNo(objectives.rpoMet)) |"
        )
        lines.append(
            "| RTO (\(objectives.rtoMeasuredFrom ?? "run start") → end) | \(Self.span(objectives.rtoTargetSeconds)) | "
                + "\(objectives.rtoAchievedSeconds.map(Self.span) ?? "-") | \(Self.yesNo(objectives.rtoMet)) |")
        lines.append("")
        lines.append("Restored backup: \(backup ?? "-") (taken \(backupTakenAt.map(Self.stamp) ?? "-"))")
        for skipped in skippedBackups { lines.append("- skipped: \(skipped)") }
        lines.append("")
        lines.append("## Faults injected")
        lines.append("")
        if faults.isEmpty { lines.append("None.") }
        for fault in faults {
            lines.append("- \(fault.coped ? "✔" : "✘") **\(fault.fault)** — \(fault.howTheRunCoped)")
        }
        lines.append("")
        lines.append("## Timeline")
        lines.append("")
        for segment in segments {
            lines.append(
                "- \(segment.kind) \(Self.stamp(segment.time))"
                    + (segment.end.map { " → \(segment.status ?? "?") \(Self.stamp($0))" } ?? " → (no end recorded)")
                    + (segment.reason.map { " — \($0)" } ?? ""))
        }
        lines.append("")
        lines.append("| step | attempt | start | end | duration | outcome | exit |")
        lines.append("|---|---|---|---|---|---|---|")
        for step in steps {
            for attempt in step.attempts {
                lines.append(
                    "| \(step.id) | \(attempt.number) | \(attempt.startedAt.map(Self.time) ?? "-") | "
                        + "\(attempt.endedAt.map(Self.time) ?? "-") | "
                        + "\(attempt.durationSeconds.map { String(format: "%.1fs", $0) } ?? "-") | \(attempt.outcome) | "
                        + "\(Self.cell(attempt.exit)) |")
            }
        }
        lines.append("")
        lines.append("## Steps: commands and evidence")
        for step in steps {
            lines.append("")
            lines.append("### \(step.id) — \(step.title)")
            if !step.commands.isEmpty {
                lines.append("")
                lines.append("```")
                lines.append(contentsOf: step.commands)
                lines.append("```")
            }
            for (key, value) in step.evidence.sorted(by: { $0.key < $1.key }) where !value.isEmpty {
                lines.append("- \(key): `\(value.replacingOccurrences(of: "`", with: "'"))`")
            }
        }
        lines.append("")
        lines.append("## Findings")
        lines.append("")
        for finding in findings { lines.append("- \(finding)") }
        lines.append("")
        lines.append("## Verdict: \(verdict.rawValue)")
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - HTML

    /// One page, no network: inline CSS and an inline SVG timeline.
    public var html: String {
        let h = Self.escape
        var body = ""
        body += "<h1>Game day \(h(runID)): \(h(scenario)) <span class=\"verdict \(verdict.rawValue.lowercased())\">"
        body += "\(verdict.rawValue)</span></h1>\n<dl>"
        for (term, value) in [
            ("Hypothesis", hypothesis), ("Target", target), ("Backups from", source),
            ("Incident declared", Self.stamp(incidentTime)),
            ("Run", "\(Self.stamp(startedAt)) → \(endedAt.map(Self.stamp) ?? "not finished") (\(status))"),
            ("Restored backup", "\(backup ?? "-") (taken \(backupTakenAt.map(Self.stamp) ?? "-"))"),
        ] {
            body += "<dt>\(h(term))</dt><dd>\(h(value))</dd>"
        }
        body +=
            "</dl>\n<h2>Objectives</h2>\n<table id=\"objectives\"><tr><th></th><th>target</th><th>achieved</th><th>met</th></tr>"
        body += "<tr><td>RPO (incident − backup time)</td><td>\(Self.span(objectives.rpoTargetSeconds))</td>"
        body +=
            "<td class=\"rpo-achieved\">\(objectives.rpoAchievedSeconds.map(Self.span) ?? "-")</td><td>\(objectives.rpoApplies == false ? "n/a" : Self.yesNo(objectives.rpoMet))</td></tr>"
        body +=
            "<tr><td>RTO (\(objectives.rtoMeasuredFrom ?? "run start") → end)</td><td>\(Self.span(objectives.rtoTargetSeconds))</td>"
        body +=
            "<td class=\"rto-achieved\">\(objectives.rtoAchievedSeconds.map(Self.span) ?? "-")</td><td>\(Self.yesNo(objectives.rtoMet))</td></tr></table>\n"
        body += "<h2>Timeline</h2>\n" + timelineSVG + "\n"
        body += "<h2>Faults injected</h2>\n<ul id=\"faults\">"
        if faults.isEmpty { body += "<li>None.</li>" }
        for fault in faults {
            body +=
                "<li class=\"\(fault.coped ? "ok" : "bad")\">\(fault.coped ? "✔" : "✘") <b>\(h(fault.fault))</b> — \(h(fault.howTheRunCoped))</li>"
        }
        body += "</ul>\n"
        if !skippedBackups.isEmpty {
            body += "<p>Skipped backups:</p><ul>" + skippedBackups.map { "<li>\(h($0))</li>" }.joined() + "</ul>\n"
        }
        body +=
            "<h2>Steps</h2>\n<table id=\"steps\"><tr><th>step</th><th>attempt</th><th>start</th><th>end</th><th>duration</th><th>outcome</th><th>exit</th><th>commands and evidence</th></tr>"
        for step in steps {
            for attempt in step.attempts {
                let details =
                    step.commands.map { "<code>\(h($0))</code>" }.joined(separator: "<br>")
                    + (step.evidence.isEmpty
                        ? ""
                        : "<ul>"
                            + step.evidence.sorted(by: { $0.key < $1.key }).filter { !$0.value.isEmpty }
                            .map { "<li>\(h($0.key)): <code>\(h($0.value))</code></li>" }.joined() + "</ul>")
                body += "<tr class=\"\(h(attempt.outcome))\"><td>\(h(step.id))<br><small>\(h(step.title))</small></td>"
                body += "<td>\(attempt.number)</td><td>\(attempt.startedAt.map(Self.time) ?? "-")</td>"
                body += "<td>\(attempt.endedAt.map(Self.time) ?? "-")</td>"
                body += "<td>\(attempt.durationSeconds.map { String(format: "%.1fs", $0) } ?? "-")</td>"
                body += "<td>\(h(attempt.outcome))</td><td>\(h(attempt.exit))</td><td>\(details)</td></tr>"
            }
        }
        body += "</table>\n<h2>Findings</h2>\n<ul id=\"findings\">" + findings.map { "<li>\(h($0))</li>" }.joined()
        body += "</ul>\n<h2>Verdict: \(verdict.rawValue)</h2>\n"
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Game day \(h(runID))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
            table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
            code{font-size:12px;word-break:break-all}dt{font-weight:bold}dd{margin:0 0 .5em 1em}
            .verdict{padding:2px 10px;border-radius:4px;color:#fff}.passed{background:#2e7d32}.failed{background:#c62828}.incomplete{background:#f9a825}
            .ok{color:#2e7d32}.bad{color:#c62828}tr.failed td,tr.never-completed td{background:#fdecea}
            </style></head><body>
            \(body)</body></html>

            """
    }

    /// One bar per step attempt on a shared time axis; interruptions as a red line.
    var timelineSVG: String {
        let h = Self.escape
        let start = startedAt
        let times = steps.flatMap { $0.attempts.flatMap { [$0.startedAt, $0.endedAt].compactMap { $0 } } }
        let end = ([endedAt].compactMap { $0 } + times).max() ?? start
        let total = max(end.timeIntervalSince(start), 0.001)
        let rows = steps.flatMap { step in step.attempts.map { (step.id, $0) } }
        let labelWidth = 230.0
        let chartWidth = 700.0
        let rowHeight = 22.0
        let height = Double(rows.count) * rowHeight + 40
        func x(_ date: Date) -> Double { labelWidth + chartWidth * date.timeIntervalSince(start) / total }
        var svg =
            "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(labelWidth + chartWidth + 20))\" "
            + "height=\"\(Int(height))\" role=\"img\" aria-label=\"Timeline of the steps\">"
        for (index, row) in rows.enumerated() {
            let (id, attempt) = row
            let y = Double(index) * rowHeight + 10
            let color: String
            switch attempt.outcome {
            case "completed": color = "#43a047"
            case "accepted-by-probe": color = "#1e88e5"
            case "skipped": color = "#9e9e9e"
            case "failed": color = "#e53935"
            default: color = "#fb8c00"
            }
            let from = attempt.startedAt ?? attempt.endedAt ?? start
            let to = attempt.endedAt ?? end
            let width = max(x(to) - x(from), 2)
            svg += "<text x=\"0\" y=\"\(y + 14)\" font-size=\"12\">\(h(id))#\(attempt.number)</text>"
            svg += "<rect class=\"step\" data-step=\"\(h(id))\" x=\"\(Self.fixed(x(from)))\" y=\"\(y + 2)\" "
            svg += "width=\"\(Self.fixed(width))\" height=\"\(rowHeight - 6)\" fill=\"\(color)\">"
            svg += "<title>\(h(id)) attempt \(attempt.number): \(h(attempt.outcome)), "
            svg += "\(attempt.durationSeconds.map { String(format: "%.1fs", $0) } ?? "-")</title></rect>"
        }
        for segment in segments.dropFirst() {
            let position = Self.fixed(x(segment.time))
            svg += "<line class=\"resume\" x1=\"\(position)\" x2=\"\(position)\" y1=\"0\" y2=\"\(Int(height - 20))\" "
            svg += "stroke=\"#c62828\" stroke-dasharray=\"4\"><title>resumed \(Self.stamp(segment.time))</title></line>"
        }
        svg += "<text x=\"\(Int(labelWidth))\" y=\"\(Int(height - 5))\" font-size=\"11\">\(Self.time(start))</text>"
        svg += "<text x=\"\(Int(labelWidth + chartWidth - 60))\" y=\"\(Int(height - 5))\" font-size=\"11\">"
        svg += "\(Self.time(end)) (\(Self.span(total)))</text></svg>"
        return svg
    }

    // MARK: - Formatting

    static func stamp(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    static func time(_ date: Date) -> String {
        let text = ISO8601DateFormatter().string(from: date)
        return String(text.dropFirst(11).prefix(8))
    }

    static func span(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        if abs(total) < 60 { return String(format: "%.1fs", seconds) }
        let sign = total < 0 ? "-" : ""
        let value = abs(total)
        if value < 3_600 { return "\(sign)\(value / 60)m \(value % 60)s" }
        if value < 86_400 { return "\(sign)\(value / 3_600)h \((value % 3_600) / 60)m" }
        return "\(sign)\(value / 86_400)d \((value % 86_400) / 3_600)h"
    }

    static func yesNo(_ value: Bool?) -> String { value.map { $0 ? "yes" : "NO" } ?? "-" }

    static func fixed(_ value: Double) -> String { String(format: "%.1f", value) }

    static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
