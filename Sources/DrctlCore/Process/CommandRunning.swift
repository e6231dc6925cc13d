import Foundation

/// The one seam to the outside world: every external program drctl starts goes through this protocol.
public protocol CommandRunning: Sendable {
    /// Runs one program to completion. A non-zero exit is returned, not thrown; call `checked()`.
    /// Throws only when the program could not be started, or on cancellation.
    func run(_ invocation: CommandInvocation) async throws -> CommandResult

    /// Runs stages joined by pipes, collecting every stage's status.
    func run(_ pipeline: CommandPipeline) async throws -> PipelineResult
}

/// Where the live runner sends output lines as they arrive (already redacted).
public struct OutputLine: Sendable, Hashable {
    public enum Stream: String, Sendable { case standardOutput = "stdout", standardError = "stderr" }
    public var command: String
    public var stream: Stream
    public var text: String

    public init(command: String, stream: Stream, text: String) {
        self.command = command
        self.stream = stream
        self.text = text
    }
}

public typealias OutputLineSink = @Sendable (OutputLine) -> Void
