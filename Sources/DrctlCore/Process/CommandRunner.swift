import Foundation

/// The live `CommandRunning`: starts real programs with swift-subprocess (the CommandRunner files are the only ones
/// that import Subprocess). This file is the public face; launching is in CommandRunner+Launching.swift, pipes
/// and descriptors in CommandRunner+Descriptors.swift.
///
/// - The executable is looked up on the `PATH` the child will see; a missing one throws `CommandLaunchError`.
/// - The child inherits drctl's environment with the invocation's overrides on top, and reads its standard input
///   from `/dev/null`, a file, or bytes written to it.
/// - Every child leads its own process group. When the time limit expires, or the calling task is cancelled, the
///   group gets SIGTERM, then SIGKILL after `terminationGracePeriod`, so programs the child started stop too.
/// - Standard output is kept up to `outputLimit` bytes (the rest is dropped, not an error); standard error is kept
///   as its last `standardErrorTailLines` lines. Both are streamed line by line to `lineSink`, secrets redacted.
public struct CommandRunner: CommandRunning {
    /// Receives every output line as it arrives, secrets already redacted.
    public let lineSink: OutputLineSink?
    /// How many bytes of standard output a result keeps.
    public let outputLimit: Int
    /// How many of the last standard error lines a result keeps.
    public let standardErrorTailLines: Int
    /// Time between SIGTERM and SIGKILL when a process group is stopped.
    public let terminationGracePeriod: Duration
    /// Where each child's process group is recorded while it runs (for `drctl resume` after a kill); nil: nowhere.
    public let childRecords: ChildProcessRecords?

    /// - Parameters:
    ///   - lineSink: where output lines go as they arrive (already redacted); `nil` keeps them out of sight.
    ///   - outputLimit: bytes of standard output kept in a result (default 64 MiB).
    ///   - stderrTailLines: lines of standard error kept in a result (default 40).
    ///   - terminationGracePeriod: time between SIGTERM and SIGKILL (default 5 s).
    ///   - childRecords: records each child's process group in the run's folder while it runs.
    public init(
        lineSink: OutputLineSink? = nil,
        outputLimit: Int = 64 * 1024 * 1024,
        stderrTailLines: Int = 40,
        terminationGracePeriod: Duration = .seconds(5),
        childRecords: ChildProcessRecords? = nil
    ) {
        self.lineSink = lineSink
        self.outputLimit = max(0, outputLimit)
        self.standardErrorTailLines = max(0, stderrTailLines)
        self.terminationGracePeriod = terminationGracePeriod
        self.childRecords = childRecords
    }

    /// Runs one program to completion; its `timeout` stops it with SIGTERM, then SIGKILL, to its process group.
    public func run(_ invocation: CommandInvocation) async throws -> CommandResult {
        let outcome = try await execute([invocation], output: .capture, taps: [], timeout: invocation.timeout)
        guard var result = outcome.stages.first else {
            throw CommandLaunchError.spawnFailed(
                commandLine: invocation.redactedCommandLine, reason: "the runner lost the program's result")
        }
        result.standardOutput = outcome.standardOutput
        return result
    }

    /// Runs one program, streaming its lines to `lines` (and to `lineSink`); keeps no standard output.
    public func run(_ invocation: CommandInvocation, lines: @escaping OutputLineSink) async throws -> CommandResult {
        let sink = lineSink
        let streaming = CommandRunner(
            lineSink: { line in
                lines(line)
                sink?(line)
            }, outputLimit: 0, stderrTailLines: standardErrorTailLines,
            terminationGracePeriod: terminationGracePeriod, childRecords: childRecords)
        return try await streaming.run(invocation)
    }

    /// Runs the stages joined by pipes, all at once, and returns every stage's result.
    ///
    /// The first stage reads its `standardInput`; later stages read the previous stage's output (their own
    /// `standardInput` is not used). The time limit is the pipeline's `timeout`, or else the shortest stage
    /// `timeout`; on expiry every stage still running is stopped and reported `.timedOut`. At a `PipelineTap`
    /// drctl relays the bytes itself (on a thread of its own) and reports their count and SHA-256.
    public func run(_ pipeline: CommandPipeline) async throws -> PipelineResult {
        let timeout = pipeline.timeout ?? pipeline.stages.compactMap(\.timeout).min()
        let outcome = try await execute(
            pipeline.stages, output: pipeline.output, taps: pipeline.taps, timeout: timeout)
        return PipelineResult(
            pipeline: pipeline,
            stages: outcome.stages,
            standardOutput: outcome.standardOutput,
            duration: outcome.duration,
            taps: outcome.taps
        )
    }
}
