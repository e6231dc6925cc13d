import DrctlCore
import Foundation
import Testing

/// Golden-text plans: a plan's text with the checkout's folder written `<root>` and its fingerprint `<fingerprint>`
/// (both depend on where the checkout lives), compared with `Golden/<name>`. `DRCTL_UPDATE_GOLDEN=1` rewrites the
/// file instead; review the diff.
enum GoldenPlan {
    /// The project root (this file is Tests/DrctlCoreTests/GoldenPlan.swift).
    static let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
        .path

    static func text(_ plan: RunbookPlan) -> String {
        plan.text.replacingOccurrences(of: projectRoot, with: "<root>")
            .replacingOccurrences(of: String(plan.fingerprint.prefix(12)), with: "<fingerprint>")
    }

    /// Compares the normalised plan text with `Golden/<name>`; returns the text for further checks.
    @discardableResult
    static func expectMatches(
        _ plan: RunbookPlan, golden name: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> String {
        let text = text(plan)
        let path = folder + "/" + name
        if ProcessInfo.processInfo.environment["DRCTL_UPDATE_GOLDEN"] == "1" {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOfFile: path, encoding: .utf8)
        #expect(
            text == expected, "plan text changed; if intended, run with DRCTL_UPDATE_GOLDEN=1 and review the diff",
            sourceLocation: sourceLocation)
        return text
    }
}
