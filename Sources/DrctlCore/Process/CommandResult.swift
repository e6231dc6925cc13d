import Foundation

/// How a process ended.
public enum TerminationStatus: Sendable, Hashable, Codable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)
    /// Killed by drctl because its timeout expired.
    case timedOut(Duration)

    public var isSuccess: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let code): return "exit status \(code)"
        case .signalled(let signal): return "killed by signal \(signal)"
        case .timedOut(let limit): return "timed out after \(limit.formattedSeconds)"
        }
    }
}

/// The outcome of one process. A non-zero exit is a value here; `checked()` turns it into an error.
public struct CommandResult: Sendable, Hashable {
    public var invocation: CommandInvocation
    public var status: TerminationStatus
    /// Standard output, bounded (see `CommandRunner.outputLimit`).
    public var standardOutput: Data
    /// The last lines of standard error, secrets already redacted.
    public var standardErrorTail: String
    public var duration: Duration

    public init(
        invocation: CommandInvocation,
        status: TerminationStatus,
        standardOutput: Data = Data(),
        standardErrorTail: String = "",
        duration: Duration = .zero
    ) {
        self.invocation = invocation
        self.status = status
        self.standardOutput = standardOutput
        self.standardErrorTail = standardErrorTail
        self.duration = duration
    }

    public var output: String { String(decoding: standardOutput, as: UTF8.self) }

    /// The failure `checked()` would throw; nil when the program succeeded.
    public var failure: CommandFailure? {
        do {
            _ = try checked()
            return nil
        } catch {
            return error
        }
    }

    /// Throws `CommandFailure` unless the program succeeded, with the meaning its invocation declares for how it
    /// ended (`ExitMeaning`). The one place a bad exit becomes an error.
    @discardableResult
    public func checked() throws(CommandFailure) -> CommandResult {
        guard meaning == .succeeded else {
            throw CommandFailure(
                commandLine: invocation.redactedCommandLine,
                status: status,
                standardErrorTail: standardErrorTail,
                standardOutputTail: Redactor(secrets: invocation.secrets).redact(Self.tail(of: output)),
                meaning: meaning
            )
        }
        return self
    }

    static func tail(of text: String, lines: Int = 20) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// The outcome of a pipeline: one result per stage, in order.
public struct PipelineResult: Sendable, Hashable {
    public var pipeline: CommandPipeline
    public var stages: [CommandResult]
    public var standardOutput: Data
    public var duration: Duration
    /// What went through each of the pipeline's taps, in the order of `pipeline.taps`.
    public var taps: [PipelineTap.Reading]

    public init(
        pipeline: CommandPipeline, stages: [CommandResult], standardOutput: Data = Data(), duration: Duration,
        taps: [PipelineTap.Reading] = []
    ) {
        self.pipeline = pipeline
        self.stages = stages
        self.standardOutput = standardOutput
        self.duration = duration
        self.taps = taps
    }

    public var output: String { String(decoding: standardOutput, as: UTF8.self) }

    /// What went through the tap after `stage`.
    public func tap(after stage: Int) -> PipelineTap.Reading? {
        taps.first { $0.afterStage == stage }
    }

    /// Throws for the first stage that did not succeed, naming it and the whole pipeline, with the meaning its
    /// invocation declares. A stage killed by SIGPIPE only lost its reader, so a later stage that failed by itself
    /// is named instead (`aws … | gunzip | psql` with psql stopping on an error names psql, not aws).
    @discardableResult
    public func checked() throws(CommandFailure) -> PipelineResult {
        if let failure { throw failure }
        return self
    }

    /// The failure `checked()` would throw; nil when every stage succeeded.
    public var failure: CommandFailure? {
        let failing = stages.indices.filter { !stages[$0].succeeded }
        if let first = failing.first {
            let index = failing.first { stages[$0].status != .signalled(SIGPIPE) } ?? first
            let stage = stages[index]
            return CommandFailure(
                commandLine: stage.invocation.redactedCommandLine,
                status: stage.status,
                standardErrorTail: stage.standardErrorTail,
                standardOutputTail: "",
                meaning: stage.meaning,
                pipeline: pipeline.redactedCommandLine,
                stageIndex: index
            )
        }
        return nil
    }

    /// The stages up to and including the one a tap reads (the source of the bytes it measured) all succeeded.
    public func succeeded(before tap: PipelineTap.Reading) -> Bool {
        stages.prefix(tap.afterStage + 1).allSatisfy(\.succeeded)
    }
}

/// A program that did not succeed: the command (redacted), how it ended and what it said last.
public struct CommandFailure: Error, Sendable, Hashable, LocalizedError {
    public var commandLine: String
    public var status: TerminationStatus
    public var standardErrorTail: String
    public var standardOutputTail: String
    /// What the program's way of ending means, as its invocation declared (`.failed` unless it said otherwise).
    public var meaning: ExitMeaning
    public var pipeline: String?
    public var stageIndex: Int?

    public init(
        commandLine: String,
        status: TerminationStatus,
        standardErrorTail: String,
        standardOutputTail: String = "",
        meaning: ExitMeaning = .failed,
        pipeline: String? = nil,
        stageIndex: Int? = nil
    ) {
        self.commandLine = commandLine
        self.status = status
        self.standardErrorTail = standardErrorTail
        self.standardOutputTail = standardOutputTail
        self.meaning = meaning
        self.pipeline = pipeline
        self.stageIndex = stageIndex
    }

    /// What the program said went wrong, for an error's first line: the first stderr line that reports an
    /// error (psql's `ERROR:` / `FATAL:`, `gzip: …: unexpected end of file`, `pg_dump: error: …`), else the last
    /// line it printed; nil when it printed nothing.
    public var cause: String? {
        let lines = standardErrorTail.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let markers = ["ERROR:", "FATAL:", "error:", "PANIC:"]
        return lines.first { line in markers.contains { line.contains($0) } }
            ?? lines.first { $0.lowercased().contains("error") || $0.hasPrefix("gzip:") }
            ?? lines.last
    }

    /// The program's name, from the (redacted) command line: the first word that is not `NAME=value`.
    var program: String {
        let words = commandLine.split(separator: " ")
        let name = words.first { !$0.contains("=") } ?? words.first ?? ""
        return (String(name) as NSString).lastPathComponent
    }

    /// The cause first (`psql failed (exit status 3): ERROR: relation "x" does not exist`), then the command,
    /// the pipeline it ran in and the tail of what it printed.
    public var errorDescription: String? {
        var text: String
        let what =
            stageIndex.map { "stage \($0 + 1) of the pipeline failed (\(program), \(status))" }
            ?? "\(program) failed (\(status))"
        text = what + (cause.map { ": " + $0 } ?? "")
        text += "\n  command: \(commandLine)"
        if let pipeline, stageIndex != nil { text += "\n  pipeline: \(pipeline)" }
        let stderr = standardErrorTail.trimmingCharacters(in: .whitespacesAndNewlines)
        if !stderr.isEmpty {
            text += "\n  stderr:\n" + stderr.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
        } else {
            let stdout = standardOutputTail.trimmingCharacters(in: .whitespacesAndNewlines)
            if !stdout.isEmpty {
                text += "\n  output:\n" + stdout.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
            }
        }
        return text
    }
}

extension Duration {
    /// `12.3s` style, for messages and tables.
    public var formattedSeconds: String {
        let seconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
        return String(format: "%.1fs", seconds)
    }

    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

extension CommandFailure: RefusalError {
    /// A program that refused its input (`ExitMeaning.refused`: psql stopping on a script it runs in one
    /// transaction, gzip on damaged bytes) is a refusal, exit 3, wherever it surfaces unmapped; any other failure
    /// exits 1.
    public var isRefusal: Bool { refusal != nil }
}
