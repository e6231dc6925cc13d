import Foundation
import Subprocess

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The live `CommandRunning`: starts real programs with swift-subprocess. The only file that imports Subprocess.
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

// MARK: - Running stages

extension CommandRunner {
    /// Where a stage's standard input comes from, once descriptors are open.
    private enum StageInput: Sendable {
        /// A descriptor the stage's child takes over (a file, `/dev/null`, or the read end of a pipe).
        case descriptor(Int32)
        case bytes(Data)
    }

    /// Where a stage's standard output goes, once descriptors are open.
    private enum StageOutput: Sendable {
        case capture
        /// A descriptor the stage's child takes over (a file, `/dev/null`, or the write end of a pipe).
        case descriptor(Int32)
    }

    private struct StageOutcome: Sendable {
        var index: Int
        var status: TerminationStatus
        var standardOutput: Data
        var standardErrorTail: String
        var duration: Duration
    }

    private struct Outcome {
        var stages: [CommandResult]
        var standardOutput: Data
        var duration: Duration
        var taps: [PipelineTap.Reading]
    }

    private func execute(
        _ invocations: [CommandInvocation],
        output: CommandPipeline.Output,
        taps: [PipelineTap],
        timeout: Duration?
    ) async throws -> Outcome {
        Self.ignoreBrokenPipeSignal()
        let started = ContinuousClock.now
        let configurations = try invocations.map(configuration(for:))
        let (descriptors, opened) = try Self.openDescriptors(for: invocations, output: output, taps: taps)
        let supervisor = ProcessGroupSupervisor(gracePeriod: terminationGracePeriod)
        // Each relay ends when its stage before closes its output (or the stage after stops reading), and at once
        // when the pipeline is cancelled or times out (`relayStop`): it never outlives `execute`.
        let relayStop: RelayStop?
        do {
            relayStop = opened.isEmpty ? nil : try RelayStop()
        } catch {
            for relay in opened { close(relay.source); close(relay.destination) }
            throw error
        }
        let relays = opened.map { relay in
            var relay = relay
            relay.stop = relayStop?.readEnd ?? -1
            return relay
        }
        let relaying = relays.map { relay in Task.detached { await relay.run() } }
        /// Stops the relays (unless they ended by themselves) and waits for them: every pipe end drctl held is
        /// closed when this returns.
        @Sendable func endRelays(stopping: Bool) async -> [PipelineTap.Reading] {
            if stopping { relayStop?.stop() }
            var readings: [PipelineTap.Reading] = []
            for relay in relaying { readings.append(await relay.value) }
            relayStop?.release()
            return readings
        }

        let outcomes: [Int: StageOutcome]
        do {
            outcomes = try await withTaskCancellationHandler {
                try await withThrowingTaskGroup(of: StageOutcome?.self) { group in
                    for index in invocations.indices {
                        let (input, stageOutput) = descriptors[index]
                        group.addTask {
                            try await launch(
                                stage: index,
                                invocation: invocations[index],
                                configuration: configurations[index],
                                input: input,
                                output: stageOutput,
                                timeout: timeout,
                                supervisor: supervisor
                            )
                        }
                    }
                    if let timeout {
                        let grace = terminationGracePeriod
                        group.addTask {
                            guard (try? await Task.sleep(for: timeout)) != nil else { return nil }
                            supervisor.expireTimeLimit()
                            relayStop?.stop()
                            guard (try? await Task.sleep(for: grace)) != nil else { return nil }
                            supervisor.killRunning()
                            return nil
                        }
                    }
                    var outcomes: [Int: StageOutcome] = [:]
                    while outcomes.count < invocations.count, let next = try await group.next() {
                        if let next { outcomes[next.index] = next }
                    }
                    group.cancelAll()
                    return outcomes
                }
            } onCancel: {
                supervisor.cancel()
                relayStop?.stop()
            }
        } catch {
            _ = await endRelays(stopping: true)
            await supervisor.sweep()
            if Task.isCancelled { throw CancellationError() }
            throw error
        }
        if supervisor.isTerminating || Task.isCancelled {
            await supervisor.sweep()
        }
        if Task.isCancelled {
            _ = await endRelays(stopping: true)
            throw CancellationError()
        }

        var results: [CommandResult] = []
        for (index, invocation) in invocations.enumerated() {
            guard let stage = outcomes[index] else {
                _ = await endRelays(stopping: true)
                throw CommandLaunchError.spawnFailed(
                    commandLine: invocation.redactedCommandLine, reason: "the runner lost the program's result")
            }
            results.append(
                CommandResult(
                    invocation: invocation,
                    status: stage.status,
                    standardOutput: stage.standardOutput,
                    standardErrorTail: stage.standardErrorTail,
                    duration: stage.duration
                ))
        }
        let readings = await endRelays(stopping: false)
        return Outcome(
            stages: results,
            standardOutput: outcomes[invocations.count - 1]?.standardOutput ?? Data(),
            duration: ContinuousClock.now - started,
            taps: readings
        )
    }

    /// Everything swift-subprocess needs to start one stage, checked before any descriptor is opened.
    private func configuration(for invocation: CommandInvocation) throws -> Configuration {
        let executable = try Self.resolveExecutable(invocation)
        var platformOptions = PlatformOptions()
        // 0: the child's own pid becomes its process group id.
        platformOptions.processGroupID = 0
        // On task cancellation swift-subprocess runs this, then SIGKILL to the group.
        platformOptions.teardownSequence = [
            .send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: terminationGracePeriod)
        ]
        var overrides: [Environment.Key: String?] = [:]
        for (name, value) in invocation.environment {
            guard let key = Environment.Key(rawValue: name), !name.isEmpty, !name.contains("=") else {
                throw CommandLaunchError.spawnFailed(
                    commandLine: invocation.redactedCommandLine, reason: "invalid environment variable name \(name)")
            }
            overrides[key] = value
        }
        return Configuration(
            executable: .path(.init(executable)),
            arguments: Arguments(invocation.arguments),
            environment: Environment.inherit.updating(overrides),
            workingDirectory: invocation.workingDirectory.map { .init($0) },
            platformOptions: platformOptions
        )
    }

    /// Starts one stage with the descriptor kinds it needs and waits for it.
    private func launch(
        stage index: Int,
        invocation: CommandInvocation,
        configuration: Configuration,
        input: StageInput,
        output: StageOutput,
        timeout: Duration?,
        supervisor: ProcessGroupSupervisor
    ) async throws -> StageOutcome {
        switch (input, output) {
        case (.descriptor(let inputDescriptor), .capture):
            return try await spawn(
                stage: index, invocation: invocation, configuration: configuration, timeout: timeout,
                supervisor: supervisor,
                input: .fileDescriptor(.init(rawValue: inputDescriptor), closeAfterSpawningProcess: true),
                output: .sequence,
                standardOutput: { $0.standardOutput },
                feedStandardInput: { _ in }
            )
        case (.descriptor(let inputDescriptor), .descriptor(let outputDescriptor)):
            return try await spawn(
                stage: index, invocation: invocation, configuration: configuration, timeout: timeout,
                supervisor: supervisor,
                input: .fileDescriptor(.init(rawValue: inputDescriptor), closeAfterSpawningProcess: true),
                output: .fileDescriptor(.init(rawValue: outputDescriptor), closeAfterSpawningProcess: true),
                standardOutput: { _ in nil },
                feedStandardInput: { _ in }
            )
        case (.bytes(let data), .capture):
            return try await spawn(
                stage: index, invocation: invocation, configuration: configuration, timeout: timeout,
                supervisor: supervisor,
                input: .inputWriter,
                output: .sequence,
                standardOutput: { $0.standardOutput },
                feedStandardInput: { await Self.write(data, to: $0.standardInputWriter) }
            )
        case (.bytes(let data), .descriptor(let outputDescriptor)):
            return try await spawn(
                stage: index, invocation: invocation, configuration: configuration, timeout: timeout,
                supervisor: supervisor,
                input: .inputWriter,
                output: .fileDescriptor(.init(rawValue: outputDescriptor), closeAfterSpawningProcess: true),
                standardOutput: { _ in nil },
                feedStandardInput: { await Self.write(data, to: $0.standardInputWriter) }
            )
        }
    }

    private func spawn<Input: InputProtocol, Output: OutputProtocol>(
        stage index: Int,
        invocation: CommandInvocation,
        configuration: Configuration,
        timeout: Duration?,
        supervisor: ProcessGroupSupervisor,
        input: Input,
        output: Output,
        standardOutput: @Sendable (Execution<Input, Output, SequenceOutput>) -> SubprocessOutputSequence?,
        feedStandardInput: @Sendable (Execution<Input, Output, SequenceOutput>) async -> Void
    ) async throws -> StageOutcome {
        let commandLine = invocation.redactedCommandLine
        let redactor = Redactor(secrets: invocation.secrets)
        let label = redactor.redact(invocation.executable)
        let outputCollector = OutputStreamCollector(
            stream: .standardOutput, command: label, redactor: redactor, sink: lineSink,
            captureLimit: outputLimit, tailLimit: 0)
        let errorCollector = OutputStreamCollector(
            stream: .standardError, command: label, redactor: redactor, sink: lineSink,
            captureLimit: 0, tailLimit: standardErrorTailLines)

        let started = ContinuousClock.now
        defer { supervisor.finished(stage: index) }
        defer {
            if let group = supervisor.processGroup(stage: index) { childRecords?.finished(processGroup: group) }
        }
        let execution: ExecutionResult<(OutputStreamCollector, OutputStreamCollector), Output, SequenceOutput>
        do {
            execution = try await Subprocess.run(
                configuration, input: input, output: output, error: .sequence
            ) { execution in
                supervisor.started(stage: index, processGroup: execution.processIdentifier.value)
                childRecords?.started(processGroup: execution.processIdentifier.value, command: commandLine)
                async let fed: Void = feedStandardInput(execution)
                async let collectedOutput = Self.drain(standardOutput(execution), into: outputCollector)
                async let collectedError = Self.drain(execution.standardError, into: errorCollector)
                let collected = await (collectedOutput, collectedError)
                await fed
                return collected
            }
        } catch let error as SubprocessError {
            throw Self.launchError(error, commandLine: commandLine, started: supervisor.hasStarted(stage: index))
        }

        let (collectedOutput, collectedError) = execution.closureResult
        var status: TerminationStatus
        switch execution.terminationStatus {
        case .exited(let code): status = .exited(code)
        case .signaled(let signal): status = .signalled(signal)
        }
        if let timeout, supervisor.timedOut(stage: index) {
            status = .timedOut(timeout)
        }
        return StageOutcome(
            index: index,
            status: status,
            standardOutput: collectedOutput.captured,
            standardErrorTail: collectedError.tailText,
            duration: ContinuousClock.now - started
        )
    }

    /// Reads a stream to its end (or until the child exits and the stream is drained).
    private static func drain(
        _ sequence: SubprocessOutputSequence?,
        into collector: OutputStreamCollector
    ) async -> OutputStreamCollector {
        var collector = collector
        guard let sequence else { return collector }
        do {
            for try await buffer in sequence {
                buffer.withUnsafeBytes { collector.consume($0) }
            }
        } catch {
            // A read error after the child started leaves what was read so far; the exit status tells the rest.
        }
        collector.finish()
        return collector
    }

    /// Writes the bytes and closes standard input. A child that exits without reading them all is not an error
    /// here: its exit status says how it went.
    private static func write(_ data: Data, to writer: StandardInputWriter) async {
        _ = try? await writer.write(Array(data))
        try? await writer.finish()
    }

    private static func launchError(_ error: SubprocessError, commandLine: String, started: Bool) -> Error {
        if error.code == .executableNotFound {
            return CommandLaunchError.spawnFailed(commandLine: commandLine, reason: "the executable disappeared")
        }
        if error.code == .failedToChangeWorkingDirectory {
            return CommandLaunchError.spawnFailed(
                commandLine: commandLine, reason: "cannot enter the working directory (\(error))")
        }
        if started {
            return CommandLaunchError.lostTrack(commandLine: commandLine, reason: "\(error)")
        }
        return CommandLaunchError.spawnFailed(commandLine: commandLine, reason: "\(error)")
    }
}

// MARK: - Descriptors

extension CommandRunner {
    /// Writing to a pipe whose reader has exited must fail with EPIPE, not kill drctl. Children get the default
    /// SIGPIPE disposition back (swift-subprocess resets every signal in the child).
    private static let brokenPipeSignalIgnored: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    private static func ignoreBrokenPipeSignal() {
        _ = brokenPipeSignalIgnored
    }

    private static func resolveExecutable(_ invocation: CommandInvocation) throws -> String {
        let redactor = Redactor(secrets: invocation.secrets)
        let commandLine = invocation.redactedCommandLine
        if let directory = invocation.workingDirectory {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue
            else {
                throw CommandLaunchError.workingDirectoryMissing(
                    path: redactor.redact(directory), commandLine: commandLine)
            }
        }
        switch ExecutableLocator.locate(invocation) {
        case .found(let path):
            return path
        case .notExecutable(let path):
            throw CommandLaunchError.notExecutable(path: redactor.redact(path), commandLine: commandLine)
        case .notFound:
            throw CommandLaunchError.notFound(
                executable: redactor.redact(invocation.executable),
                commandLine: commandLine,
                searchPath: redactor.redact(ExecutableLocator.searchPath(for: invocation))
            )
        }
    }

    /// Opens every descriptor the stages need: the first stage's input, the pipes between stages, and the last
    /// stage's output. All are close-on-exec, so only the child that takes one over (as 0 or 1) holds it; each
    /// is closed in drctl right after that child starts, so end-of-file reaches the next stage. A tapped
    /// boundary gets two pipes, with drctl's relay holding the inner ends.
    private static func openDescriptors(
        for invocations: [CommandInvocation],
        output: CommandPipeline.Output,
        taps: [PipelineTap]
    ) throws -> (stages: [(StageInput, StageOutput)], relays: [PipeRelay]) {
        var opened: [Int32] = []
        do {
            guard let first = invocations.first, let last = invocations.last else { return ([], []) }
            let firstRedactor = Redactor(secrets: first.secrets)
            let firstInput: StageInput
            switch first.standardInput {
            case .none:
                firstInput = .descriptor(
                    try openOrThrow("/dev/null", O_RDONLY, &opened) { reason in
                        CommandLaunchError.standardInputUnreadable(
                            path: "/dev/null", commandLine: first.redactedCommandLine, reason: reason)
                    })
            case .file(let path):
                firstInput = .descriptor(
                    try openOrThrow(path, O_RDONLY, &opened) { reason in
                        CommandLaunchError.standardInputUnreadable(
                            path: firstRedactor.redact(path), commandLine: first.redactedCommandLine, reason: reason)
                    })
            case .bytes(let data):
                firstInput = .bytes(data)
            }

            let lastRedactor = Redactor(secrets: invocations.flatMap(\.secrets))
            let lastOutput: StageOutput
            switch output {
            case .capture:
                lastOutput = .capture
            case .discard:
                lastOutput = .descriptor(
                    try openOrThrow("/dev/null", O_WRONLY, &opened) { reason in
                        CommandLaunchError.outputFileUnwritable(
                            path: "/dev/null", commandLine: last.redactedCommandLine, reason: reason)
                    })
            case .file(let path):
                let descriptor = try openOrThrow(path, O_WRONLY | O_CREAT | O_TRUNC, &opened) { reason in
                    CommandLaunchError.outputFileUnwritable(
                        path: lastRedactor.redact(path), commandLine: last.redactedCommandLine, reason: reason)
                }
                // An existing file keeps its mode on O_CREAT; the output may hold a database dump.
                _ = fchmod(descriptor, 0o600)
                lastOutput = .descriptor(descriptor)
            }

            func makePipe(_ index: Int) throws -> (read: Int32, write: Int32) {
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else {
                    throw CommandLaunchError.spawnFailed(
                        commandLine: invocations[index].redactedCommandLine,
                        reason: "cannot create a pipe: \(String(cString: strerror(errno)))")
                }
                opened += ends
                // Close-on-exec, so a stage started at the same moment does not inherit the other end.
                for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
                return (ends[0], ends[1])
            }

            var stages: [(StageInput, StageOutput)] = []
            var relays: [PipeRelay] = []
            var nextInput = firstInput
            for index in invocations.indices {
                if index == invocations.count - 1 {
                    stages.append((nextInput, lastOutput))
                } else if let tap = taps.first(where: { $0.afterStage == index }) {
                    let before = try makePipe(index)
                    let after = try makePipe(index)
                    stages.append((nextInput, .descriptor(before.write)))
                    relays.append(
                        PipeRelay(
                            afterStage: index, source: before.read, destination: after.write,
                            readsToEnd: tap.readsToEnd))
                    nextInput = .descriptor(after.read)
                } else {
                    let ends = try makePipe(index)
                    stages.append((nextInput, .descriptor(ends.write)))
                    nextInput = .descriptor(ends.read)
                }
            }
            return (stages, relays)
        } catch {
            for descriptor in opened { close(descriptor) }
            throw error
        }
    }

    private static func openOrThrow(
        _ path: String,
        _ flags: Int32,
        _ opened: inout [Int32],
        error: (String) -> CommandLaunchError
    ) throws -> Int32 {
        let descriptor = open(path, flags | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw error(String(cString: strerror(errno)))
        }
        opened.append(descriptor)
        return descriptor
    }
}
