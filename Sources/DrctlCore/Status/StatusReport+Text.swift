import Foundation

extension StatusReport {
    /// The checklist as people read it: one line per check with its verdict, the evidence below it.
    public var text: String {
        var lines = ["Runbook checklist for \(environment) at \(StatusService.stamp(checkedAt))", ""]
        for check in checks {
            lines.append("[\(check.result == .pass ? "PASS" : "FAIL")] \(check.checklistItem) (\(check.id))")
            lines.append("       \(check.evidence)")
            if let remedy = check.remedy { lines.append("       → \(remedy)") }
        }
        lines.append("")
        lines.append(
            passed
                ? "All \(checks.count) checks passed."
                : "\(failed.count) of \(checks.count) checks failed.")
        lines.append("Not checked by drctl: \"Team trained on procedures\", \"Contact list up-to-date\".")
        return lines.joined(separator: "\n")
    }

    /// JSON for `-o json` (dates ISO 8601, keys sorted).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
