import Foundation

/// What `drctl plan` prints: every step in order with its exact (redacted) command lines, and the plan
/// fingerprint a run records. Built from the same `Runbook` value the run executes.
public struct RunbookPlan: Sendable, Encodable {
    public struct Step: Sendable, Encodable {
        public var number: Int
        public var id: String
        public var title: String
        public var dependsOn: [String]
        public var destructive: Bool
        public var retries: Int
        public var timeout: String?
        public var commands: [String]
        /// What undoes the step when a later step fails (`StepUndo.title`).
        public var undo: String?
    }

    public var scenario: String
    public var environment: String
    public var manifest: String
    public var rto: String?
    public var rpo: String?
    public var fingerprint: String
    public var steps: [Step]
    /// `database.dataPlane: port-forward`: the tunnel every database command goes through.
    public var databaseTunnel: [String]?

    public init(_ runbook: Runbook, manifest: String, rpo: Duration? = nil) {
        databaseTunnel = runbook.databaseTunnel?.planLines
        scenario = runbook.id
        environment = runbook.environment
        self.manifest = manifest
        rto = runbook.rtoBudget?.manifestText
        self.rpo = rpo?.manifestText
        fingerprint = runbook.planFingerprint
        steps = runbook.steps.enumerated().map { index, step in
            Step(
                number: index + 1, id: step.id.rawValue, title: step.title, dependsOn: step.dependsOn.map(\.rawValue),
                destructive: step.destructive, retries: step.retry.attempts - 1,
                timeout: step.timeout?.manifestText, commands: step.commands, undo: step.undo?.title)
        }
    }

    public var text: String {
        var lines = ["Plan: \(scenario) — environment \(environment) (\(manifest))"]
        var summary = ["\(steps.count) steps"]
        if let rto { summary.append("RTO budget \(rto)") }
        if let rpo { summary.append("RPO \(rpo)") }
        summary.append("plan fingerprint \(fingerprint.prefix(12))")
        lines.append(summary.joined(separator: " · "))
        lines.append("")
        if let databaseTunnel { lines += databaseTunnel + [""] }
        for step in steps {
            var notes: [String] = []
            if !step.dependsOn.isEmpty { notes.append("after " + step.dependsOn.joined(separator: ", ")) }
            if step.destructive { notes.append("DESTRUCTIVE") }
            if step.retries > 0 { notes.append("retried up to \(step.retries)×") }
            if let timeout = step.timeout { notes.append("timeout \(timeout)") }
            let number = String(step.number).leftPadded(to: 2)
            lines.append(
                "\(number). \(step.id) — \(step.title)" + (notes.isEmpty ? "" : "  [\(notes.joined(separator: "; "))]"))
            for command in step.commands { lines.append("      $ \(command)") }
            if let undo = step.undo { lines.append("      if a later step fails: \(undo)") }
        }
        lines.append("")
        lines.append("Nothing was run. `$RUN_DIR` is the run's private scratch folder; <…> is chosen at run time.")
        return lines.joined(separator: "\n")
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
