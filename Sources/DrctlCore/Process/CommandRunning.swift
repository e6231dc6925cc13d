import Foundation

/// The one seam to the outside world: every external program drctl starts goes through this protocol.
public protocol CommandRunning: Sendable {
    /// Runs one program to completion. A non-zero exit is returned, not thrown; call `checked()`.
    /// Throws only when the program could not be started, or on cancellation.
    func run(_ invocation: CommandInvocation) async throws -> CommandResult

    /// Runs stages joined by pipes, collecting every stage's status.
    func run(_ pipeline: CommandPipeline) async throws -> PipelineResult

    /// Runs one program to completion, handing each output line to `lines` as it arrives (secrets redacted): a
    /// long-running child whose output the run follows (`kubectl logs -f`). Cancelling the calling task stops it.
    func run(_ invocation: CommandInvocation, lines: @escaping OutputLineSink) async throws -> CommandResult
}

extension CommandRunning {
    /// A runner that cannot stream (a test's fake) hands over the lines when the program has ended.
    public func run(_ invocation: CommandInvocation, lines: @escaping OutputLineSink) async throws -> CommandResult {
        let result = try await run(invocation)
        let command = invocation.executable
        var text = result.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if text.last == "" { text.removeLast() }
        for line in text { lines(OutputLine(command: command, stream: .standardOutput, text: line)) }
        return result
    }
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
