import DrctlCore
import Foundation
import Synchronization

/// A `CommandRunning` fake for unit tests: records every invocation and answers from a script of responses.
/// A pipeline's tap reports the count and SHA-256 of the scripted standard output of the stage before it.
public final class RecordingCommandRunner: CommandRunning {
    public typealias Responder = @Sendable (CommandInvocation) throws -> CommandResult

    private let state: Mutex<State>

    private struct State {
        var invocations: [CommandInvocation] = []
        var pipelines: [CommandPipeline] = []
        var responder: Responder
    }

    /// By default every command succeeds with empty output.
    public init(responder: @escaping Responder = { CommandResult(invocation: $0, status: .exited(0)) }) {
        state = Mutex(State(responder: responder))
    }

    public var invocations: [CommandInvocation] { state.withLock { $0.invocations } }
    public var pipelines: [CommandPipeline] { state.withLock { $0.pipelines } }

    public func respond(with responder: @escaping Responder) {
        state.withLock { $0.responder = responder }
    }

    public func run(_ invocation: CommandInvocation) async throws -> CommandResult {
        let responder = state.withLock { state in
            state.invocations.append(invocation)
            return state.responder
        }
        return try responder(invocation)
    }

    public func run(_ pipeline: CommandPipeline) async throws -> PipelineResult {
        let responder = state.withLock { state in
            state.pipelines.append(pipeline)
            return state.responder
        }
        let results = try pipeline.stages.map { try responder($0) }
        // A tap reads what the scripted stage before it printed, all of it.
        let taps = pipeline.taps.map { tap in
            let bytes = results[tap.afterStage].standardOutput
            return PipelineTap.Reading(
                afterStage: tap.afterStage, byteCount: Int64(bytes.count), sha256: SHA256Checksum.of(bytes),
                reachedEnd: true)
        }
        return PipelineResult(
            pipeline: pipeline,
            stages: results,
            standardOutput: results.last?.standardOutput ?? Data(),
            duration: .zero,
            taps: taps
        )
    }
}

extension CommandResult {
    /// A successful result carrying `output` on stdout, for scripted responses.
    public static func success(_ invocation: CommandInvocation, output: String = "") -> CommandResult {
        CommandResult(invocation: invocation, status: .exited(0), standardOutput: Data(output.utf8))
    }

    public static func failure(_ invocation: CommandInvocation, status: Int32 = 1, stderr: String) -> CommandResult {
        CommandResult(invocation: invocation, status: .exited(status), standardErrorTail: stderr)
    }
}
