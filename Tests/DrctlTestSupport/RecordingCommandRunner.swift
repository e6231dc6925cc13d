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
        // A tap reads what the scripted stage before it printed, all of it; a tap on the input reads the file.
        // A tap's hold checks the first bytes as the live relay does; a refusal passes nothing on.
        var taps: [PipelineTap.Reading] = []
        for tap in pipeline.taps {
            var bytes = Data()
            if tap.afterStage >= 0 {
                bytes = results[tap.afterStage].standardOutput
            } else if case .file(let path) = pipeline.stages[0].standardInput {
                bytes = FileManager.default.contents(atPath: path) ?? Data()
            }
            if let hold = tap.hold {
                let head = bytes.prefix(hold.bytes)
                do {
                    try await hold.check(Data(head))
                } catch {
                    taps.append(
                        PipelineTap.Reading(
                            afterStage: tap.afterStage, byteCount: Int64(head.count), sha256: "",
                            reachedEnd: bytes.count < hold.bytes, refusal: PipelineTap.Refusal(error)))
                    continue
                }
            }
            taps.append(
                PipelineTap.Reading(
                    afterStage: tap.afterStage, byteCount: Int64(bytes.count),
                    sha256: tap.role == .measure ? SHA256Checksum.of(bytes) : "", reachedEnd: true))
        }
        // `.lines(startingWith:)` keeps only the lines drctl's reading would keep.
        var output = results.last?.standardOutput ?? Data()
        if case .lines(let prefixes) = pipeline.output {
            let kept = String(decoding: output, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                .filter { line in prefixes.contains { line.hasPrefix($0) } }
            output = Data(kept.map { $0 + "\n" }.joined().utf8)
        }
        return PipelineResult(
            pipeline: pipeline,
            stages: results,
            standardOutput: output,
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

extension CommandResult {
    /// The answer of a scripted `Postgres.snapshotSession` (the psql session `BackupCreator` holds the dump's
    /// snapshot with): writes `snapshot` into the file the script's `\o` names, as psql would, and prints
    /// `content` as the content query's rows. Nil for any other invocation.
    public static func snapshotSession(
        _ invocation: CommandInvocation, snapshot: String = "00000003-00000002-1",
        content: String = "D|valeo_erp|7301234567890123456|150018\nT|public.documents_header|3|digest"
    ) -> CommandResult? {
        guard invocation.executable.hasSuffix("psql"), case .bytes(let data) = invocation.standardInput,
            let script = String(data: data, encoding: .utf8), script.contains("pg_export_snapshot()"),
            let line = script.split(separator: "\n").first(where: { $0.hasPrefix("\\o '") })
        else { return nil }
        let path = String(line.dropFirst(4).dropLast()).replacingOccurrences(of: "''", with: "'")
        try? Data((snapshot + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return .success(invocation, output: content)
    }
}
