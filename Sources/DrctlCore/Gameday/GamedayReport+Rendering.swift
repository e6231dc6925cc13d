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
        if objectives.rpoApplies != false { lines.append("- **Backups from:** \(source)") }
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
        if let backup {
            lines.append("Restored backup: \(backup)" + (backupTakenAt.map { " (taken \(Self.stamp($0)))" } ?? ""))
        }
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
        if let trend {
            lines.append("## Trend: drills of \(trendEnvironment) per quarter")
            lines.append("")
            lines.append("| quarter | drills | RTO achieved (best / worst) | RPO achieved (best / worst) |")
            lines.append("|---|---|---|---|")
            for quarter in trend {
                lines.append(
                    "| \(quarter.quarter) | \(quarter.drills) | \(Self.range(quarter.rtoBestSeconds, quarter.rtoWorstSeconds)) | "
                        + "\(Self.range(quarter.rpoBestSeconds, quarter.rpoWorstSeconds)) |")
            }
            lines.append("")
        }
        if let putBack {
            lines += ["## Put back after the failure", ""] + putBack.map { "- \($0)" } + [""]
        }
        if let leftChanged {
            lines += ["## Left changed by the drill", ""] + leftChanged.map { "- \($0)" } + [""]
        }
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
        // Only what applies: an app rollback restores no backup, so it names none.
        var fields = [("Hypothesis", hypothesis), ("Target", target)]
        if objectives.rpoApplies != false { fields.append(("Backups from", source)) }
        fields.append(("Incident declared", Self.stamp(incidentTime)))
        fields.append(("Run", "\(Self.stamp(startedAt)) → \(endedAt.map(Self.stamp) ?? "not finished") (\(status))"))
        if let backup {
            fields.append(("Restored backup", backup + (backupTakenAt.map { " (taken \(Self.stamp($0)))" } ?? "")))
        }
        for (term, value) in fields {
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
        body += "</table>\n"
        if let trend {
            body +=
                "<h2>Trend: drills of \(h(trendEnvironment)) per quarter</h2>\n<table id=\"trend\"><tr><th>quarter</th>"
            body += "<th>drills</th><th>RTO achieved (best / worst)</th><th>RPO achieved (best / worst)</th></tr>"
            for quarter in trend {
                body += "<tr><td>\(h(quarter.quarter))</td><td>\(quarter.drills)</td>"
                body += "<td>\(Self.range(quarter.rtoBestSeconds, quarter.rtoWorstSeconds))</td>"
                body += "<td>\(Self.range(quarter.rpoBestSeconds, quarter.rpoWorstSeconds))</td></tr>"
            }
            body += "</table>\n"
        }
        if let putBack {
            body +=
                "<h2>Put back after the failure</h2>\n<ul id=\"put-back\">"
                + putBack.map { "<li>\(h($0))</li>" }.joined() + "</ul>\n"
        }
        if let leftChanged {
            body +=
                "<h2>Left changed by the drill</h2>\n<ul id=\"left-changed\">"
                + leftChanged.map { "<li>\(h($0))</li>" }.joined() + "</ul>\n"
        }
        body += "<h2>Findings</h2>\n<ul id=\"findings\">" + findings.map { "<li>\(h($0))</li>" }.joined()
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
            #timeline{max-width:100%;height:auto}
            @page{size:A4;margin:12mm}@media print{body{margin:0;max-width:none}#timeline{break-inside:avoid}}
            </style></head><body>
            \(body)</body></html>

            """
    }

    /// One bar per step attempt on a shared time axis; interruptions as a red dashed line; below the steps, the
    /// RTO used against its budget and the RPO (restored backup → incident) against its objective, each as a bar
    /// with the objective as a black line; a legend for every colour and line.
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
        let stepsHeight = Double(rows.count) * rowHeight + 10
        let axisY = stepsHeight + 14
        var budgets: [(id: String, label: String, used: Double, objective: Double, detail: String)] = []
        if let rto = objectives.rtoAchievedSeconds {
            budgets.append(
                (
                    "rto-budget", "RTO used / budget", rto, objectives.rtoTargetSeconds,
                    "\(Self.span(rto)) of \(Self.span(objectives.rtoTargetSeconds)) "
                        + "(\(objectives.rtoMeasuredFrom ?? "run start") → end)"
                ))
        }
        if objectives.rpoApplies != false, let rpo = objectives.rpoAchievedSeconds, let taken = backupTakenAt {
            budgets.append(
                (
                    "rpo-budget", "RPO backup → incident", max(rpo, 0), objectives.rpoTargetSeconds,
                    "backup \(Self.stamp(taken)) → incident \(Self.stamp(incidentTime)): \(Self.span(rpo)) of "
                        + "\(Self.span(objectives.rpoTargetSeconds))"
                ))
        }
        let budgetTop = axisY + 16
        let legendTop = budgetTop + Double(budgets.count) * rowHeight + 8
        let height = legendTop + 40
        let width = labelWidth + chartWidth + 20
        func x(_ date: Date) -> Double { labelWidth + chartWidth * date.timeIntervalSince(start) / total }
        var svg =
            "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" "
            + "height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" "
            + "aria-label=\"Timeline of the steps\">"
        for (index, row) in rows.enumerated() {
            let (id, attempt) = row
            let y = Double(index) * rowHeight + 10
            let from = attempt.startedAt ?? attempt.endedAt ?? start
            let to = attempt.endedAt ?? end
            let barWidth = max(x(to) - x(from), 2)
            svg += "<text x=\"0\" y=\"\(y + 14)\" font-size=\"12\">\(h(id))#\(attempt.number)</text>"
            svg += "<rect class=\"step\" data-step=\"\(h(id))\" x=\"\(Self.fixed(x(from)))\" y=\"\(y + 2)\" "
            svg +=
                "width=\"\(Self.fixed(barWidth))\" height=\"\(rowHeight - 6)\" fill=\"\(Self.color(attempt.outcome))\">"
            svg += "<title>\(h(id)) attempt \(attempt.number): \(h(attempt.outcome)), "
            svg += "\(attempt.durationSeconds.map { String(format: "%.1fs", $0) } ?? "-")</title></rect>"
        }
        for segment in segments.dropFirst() {
            let position = Self.fixed(x(segment.time))
            svg += "<line class=\"resume\" x1=\"\(position)\" x2=\"\(position)\" y1=\"0\" y2=\"\(Int(stepsHeight))\" "
            svg += "stroke=\"#c62828\" stroke-dasharray=\"4\"><title>resumed \(Self.stamp(segment.time))</title></line>"
        }
        svg += "<text x=\"\(Int(labelWidth))\" y=\"\(Int(axisY))\" font-size=\"11\">\(Self.time(start))</text>"
        svg += "<text class=\"axis-end\" x=\"\(Int(labelWidth + chartWidth))\" y=\"\(Int(axisY))\" font-size=\"11\" "
        svg += "text-anchor=\"end\">\(Self.time(end)) (\(Self.span(total)))</text>"
        for (index, budget) in budgets.enumerated() {
            // The bar's scale holds both the time used and the objective, so either can be read against the other.
            let scale = chartWidth / max(budget.used, budget.objective, 0.001)
            let y = budgetTop + Double(index) * rowHeight
            let met = budget.used < budget.objective
            svg += "<g class=\"budget\" id=\"\(budget.id)\">"
            svg += "<text x=\"0\" y=\"\(y + 14)\" font-size=\"12\">\(h(budget.label))</text>"
            svg += "<rect x=\"\(Int(labelWidth))\" y=\"\(y + 2)\" width=\"\(Self.fixed(budget.objective * scale))\" "
            svg += "height=\"\(rowHeight - 6)\" fill=\"#eeeeee\"/>"
            svg += "<rect x=\"\(Int(labelWidth))\" y=\"\(y + 5)\" width=\"\(Self.fixed(max(budget.used * scale, 2)))\" "
            svg +=
                "height=\"\(rowHeight - 12)\" fill=\"\(met ? "#43a047" : "#e53935")\"><title>\(h(budget.detail))</title></rect>"
            let objectiveX = Self.fixed(labelWidth + budget.objective * scale)
            svg += "<line class=\"objective\" x1=\"\(objectiveX)\" x2=\"\(objectiveX)\" y1=\"\(y)\" "
            svg += "y2=\"\(y + rowHeight - 2)\" stroke=\"#000\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(Int(labelWidth + 4))\" y=\"\(y + 14)\" font-size=\"10\">\(h(budget.detail))</text></g>"
        }
        var legendX = 0.0
        let legend: [(String, String)] = [
            ("completed", Self.color("completed")), ("accepted by probe", Self.color("accepted-by-probe")),
            ("skipped", Self.color("skipped")), ("failed", Self.color("failed")),
            ("never completed", Self.color("never-completed")),
        ]
        svg += "<g id=\"legend\" font-size=\"11\">"
        for (name, color) in legend {
            svg += "<rect x=\"\(Int(legendX))\" y=\"\(Int(legendTop))\" width=\"12\" height=\"12\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(Int(legendX + 16))\" y=\"\(Int(legendTop + 10))\">\(name)</text>"
            legendX += 22 + Double(name.count) * 6.5
        }
        let second = legendTop + 22
        svg += "<line x1=\"0\" x2=\"20\" y1=\"\(Int(second))\" y2=\"\(Int(second))\" stroke=\"#c62828\" "
        svg += "stroke-dasharray=\"4\" stroke-width=\"2\"/><text x=\"26\" y=\"\(Int(second + 4))\">"
        svg += "resumed after an interruption (kill)</text>"
        svg += "<line x1=\"260\" x2=\"260\" y1=\"\(Int(second - 7))\" y2=\"\(Int(second + 7))\" stroke=\"#000\" "
        svg += "stroke-width=\"2\"/><text x=\"266\" y=\"\(Int(second + 4))\">objective (RTO/RPO): bar green "
        svg += "within, red over</text></g></svg>"
        return svg
    }

    static func color(_ outcome: String) -> String {
        switch outcome {
        case "completed": "#43a047"
        case "accepted-by-probe": "#1e88e5"
        case "skipped": "#9e9e9e"
        case "failed": "#e53935"
        default: "#fb8c00"
        }
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

    /// `2m 3s / 4m 10s`; `-` without figures.
    static func range(_ best: Double?, _ worst: Double?) -> String {
        guard let best, let worst else { return "-" }
        return best == worst ? span(best) : "\(span(best)) / \(span(worst))"
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
