import Foundation

/// Stages joined by pipes (`pg_dump … | gzip -c > file`, `aws s3 cp … - | gunzip -c | psql …`).
/// Every stage's exit status is checked: a failing first stage fails the pipeline even when the last succeeds.
public struct CommandPipeline: Sendable, Hashable, Codable {
    public var stages: [CommandInvocation]
    /// Where the last stage's standard output goes.
    public var output: Output
    public var timeout: Duration?

    public init(_ stages: [CommandInvocation], output: Output = .capture, timeout: Duration? = nil) {
        precondition(!stages.isEmpty, "a pipeline needs at least one stage")
        self.stages = stages
        self.output = output
        self.timeout = timeout
    }

    public enum Output: Sendable, Hashable, Codable {
        /// Kept in `PipelineResult.standardOutput` (bounded).
        case capture
        /// Written to this file, created with mode 0600 (truncated if it exists).
        case file(String)
        case discard
    }

    public var redactedCommandLine: String {
        var line = stages.map(\.redactedCommandLine).joined(separator: " | ")
        if case .file(let path) = output {
            let redactor = Redactor(secrets: stages.flatMap(\.secrets))
            line += " > " + ShellQuoting.quote(redactor.redact(path))
        }
        return line
    }
}

extension CommandPipeline: CustomStringConvertible {
    public var description: String { redactedCommandLine }
}
