import Foundation
import Subprocess

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Launching: every stage started with swift-subprocess in its own process group, stopped on timeout or
/// cancellation, its output drained and its end recorded.

extension CommandRunner {
    /// Where a stage's standard input comes from, once descriptors are open.
    enum StageInput: Sendable {
        /// A descriptor the stage's child takes over (a file, `/dev/null`, or the read end of a pipe).
        case descriptor(Int32)
        case bytes(Data)
    }

    /// Where a stage's standard output goes, once descriptors are open.
    enum StageOutput: Sendable {
        case capture
        /// Read to the end, keeping only the lines that begin with one of these texts.
        case captureLines(startingWith: [String])
        /// A descriptor the stage's child takes over (a file, `/dev/null`, or the write end of a pipe).
        case descriptor(Int32)
    }

    struct StageOutcome: Sendable {
        var index: Int
        var status: TerminationStatus
        var standardOutput: Data
        var standardErrorTail: String
        var duration: Duration
    }

    struct Outcome {
        var stages: [CommandResult]
        var standardOutput: Data
        var duration: Duration
        var taps: [PipelineTap.Reading]
    }

    func execute(
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
    func configuration(for invocation: CommandInvocation) throws -> Configuration {
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
    func launch(
        stage index: Int,
        invocation: CommandInvocation,
        configuration: Configuration,
        input: StageInput,
        output: StageOutput,
        timeout: Duration?,
        supervisor: ProcessGroupSupervisor
    ) async throws -> StageOutcome {
        var keptLines: [String]?
        if case .captureLines(let prefixes) = output { keptLines = prefixes }
        switch (input, output) {
        case (.descriptor(let inputDescriptor), .capture), (.descriptor(let inputDescriptor), .captureLines):
            return try await spawn(
                stage: index, invocation: invocation, configuration: configuration, timeout: timeout,
                supervisor: supervisor, keepingLines: keptLines,
                input: .fileDescriptor(.init(rawValue: inputDescriptor), closeAfterSpawningProcess: true),
                output: .sequence,
                standardOutput: { $0.standardOutput },
                feedStandardInput: { _ in }
            )
        case (.descriptor(let inputDescriptor), .descriptor(let outputDescriptor)):
            return try await spawn(
                stage: index, invocation: invocation, configuration: configuration, timeout: timeout,
                supervisor: supervisor, keepingLines: keptLines,
                input: .fileDescriptor(.init(rawValue: inputDescriptor), closeAfterSpawningProcess: true),
                output: .fileDescriptor(.init(rawValue: outputDescriptor), closeAfterSpawningProcess: true),
                standardOutput: { _ in nil },
                feedStandardInput: { _ in }
            )
        case (.bytes(let data), .capture), (.bytes(let data), .captureLines):
            return try await spawn(
                stage: index, invocation: invocation, configuration: configuration, timeout: timeout,
                supervisor: supervisor, keepingLines: keptLines,
                input: .inputWriter,
                output: .sequence,
                standardOutput: { $0.standardOutput },
                feedStandardInput: { await Self.write(data, to: $0.standardInputWriter) }
            )
        case (.bytes(let data), .descriptor(let outputDescriptor)):
            return try await spawn(
                stage: index, invocation: invocation, configuration: configuration, timeout: timeout,
                supervisor: supervisor, keepingLines: keptLines,
                input: .inputWriter,
                output: .fileDescriptor(.init(rawValue: outputDescriptor), closeAfterSpawningProcess: true),
                standardOutput: { _ in nil },
                feedStandardInput: { await Self.write(data, to: $0.standardInputWriter) }
            )
        }
    }

    func spawn<Input: InputProtocol, Output: OutputProtocol>(
        stage index: Int,
        invocation: CommandInvocation,
        configuration: Configuration,
        timeout: Duration?,
        supervisor: ProcessGroupSupervisor,
        keepingLines prefixes: [String]? = nil,
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
            captureLimit: outputLimit, tailLimit: 0, keepingLinesStartingWith: prefixes)
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
    static func drain(
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
    static func write(_ data: Data, to writer: StandardInputWriter) async {
        _ = try? await writer.write(Array(data))
        try? await writer.finish()
    }

    static func launchError(_ error: SubprocessError, commandLine: String, started: Bool) -> Error {
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
