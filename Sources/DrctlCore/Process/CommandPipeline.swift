import Foundation

/// Stages joined by pipes (`pg_dump … | gzip -c > file`, `aws s3 cp … - | gunzip -c | psql …`).
/// Every stage's exit status is checked: a failing first stage fails the pipeline even when the last succeeds.
public struct CommandPipeline: Sendable, Hashable {
    public var stages: [CommandInvocation]
    /// Where the last stage's standard output goes.
    public var output: Output
    public var timeout: Duration?
    /// Stage boundaries drctl itself sits on: it relays the bytes and measures them on the way.
    public var taps: [PipelineTap]

    public init(
        _ stages: [CommandInvocation], output: Output = .capture, timeout: Duration? = nil, taps: [PipelineTap] = []
    ) {
        precondition(!stages.isEmpty, "a pipeline needs at least one stage")
        precondition(
            taps.allSatisfy { tap in
                tap.afterStage >= 0 && tap.afterStage < stages.count - 1 || tap.afterStage == -1
                    || tap.afterStage == stages.count - 1 && { if case .file = output { true } else { false } }()
            },
            "a tap sits between two stages, before the first, or after the last one writing to a file")
        precondition(
            !taps.contains { $0.afterStage == -1 }
                || { if case .file = stages[0].standardInput { true } else { false } }(),
            "a tap before the first stage reads the first stage's standard input file")
        self.stages = stages
        self.output = output
        self.timeout = timeout
        self.taps = taps
    }

    public enum Output: Sendable, Hashable, Codable {
        /// Kept in `PipelineResult.standardOutput` (bounded).
        case capture
        /// Written to this file, created with mode 0600 (truncated if it exists).
        case file(String)
        case discard
        /// Read by drctl to the end, keeping in `PipelineResult.standardOutput` only the lines that begin with one
        /// of these texts (each cut at 16 KiB); the rest is dropped and never logged. Constant memory: for finding
        /// a few statements in a multi-GB stream, as `grep` would.
        case lines(startingWith: [String])
    }

    /// The tap after `stage`, if drctl relays that boundary.
    public func tap(after stage: Int) -> PipelineTap? {
        taps.first { $0.afterStage == stage }
    }

    public var redactedCommandLine: String {
        var line = ""
        for (index, stage) in stages.enumerated() {
            if index > 0 { line += " | " }
            if index == 0, tap(after: -1) != nil, case .file(let path) = stage.standardInput {
                var reading = stage
                reading.standardInput = .none
                let redactor = Redactor(secrets: stage.secrets)
                line += "< " + ShellQuoting.quote(redactor.redact(path)) + " " + PipelineTap.commandLineLabel + " | "
                line += reading.redactedCommandLine
            } else {
                line += stage.redactedCommandLine
            }
            if let tap = tap(after: index) { line += " | " + tap.label }
        }
        if case .file(let path) = output {
            let redactor = Redactor(secrets: stages.flatMap(\.secrets))
            line += " > " + ShellQuoting.quote(redactor.redact(path))
        }
        if case .lines(let prefixes) = output {
            line +=
                " | (drctl keeps the lines that begin with " + prefixes.map(ShellQuoting.quote).joined(separator: ", ")
                + ")"
        }
        return line
    }
}

extension CommandPipeline: CustomStringConvertible {
    public var description: String { redactedCommandLine }
}

/// drctl in the middle of a pipeline: instead of joining stage `afterStage` to the next one by a pipe, it reads
/// that stage's output, counts the bytes and computes their SHA-256, and writes them on to the next stage
/// (`aws s3 cp s3://… - | (sha256 in drctl) | gunzip -c | psql …`), or after the last stage into the pipeline's
/// output file (`pg_dump | gzip -c | (sha256 in drctl) > file`: the checksum of exactly the bytes written). When the next stage stops reading, drctl
/// stops reading too, so the stage before gets SIGPIPE as it would in a shell pipeline — unless `readsToEnd`.
/// A tap with another `Role` changes the bytes on their way instead of measuring them (psql's restricted mode).
public struct PipelineTap: Sendable, Hashable {
    /// The stage whose output the tap reads; -1 (`input`): the first stage's standard input file, which drctl
    /// then reads itself instead of handing it to the program (no `cat` needed to measure a file on the way).
    public var afterStage: Int
    /// Keep reading (and measuring) after the next stage stopped, so the digest covers everything the stage
    /// before wrote: a download whose restore failed half-way still says whether the object matches its
    /// recorded checksum. Only for a stage that ends by itself (a download, a file), never `yes`.
    public var readsToEnd: Bool
    /// Holds the first bytes of the stream until a check accepted them (see `HeadHold`); nil: every byte is
    /// passed on as it arrives.
    public var hold: HeadHold?
    /// What the tap does with the bytes on their way.
    public var role: Role

    public init(afterStage: Int, readsToEnd: Bool = false, hold: HeadHold? = nil, role: Role = .measure) {
        self.afterStage = afterStage
        self.readsToEnd = readsToEnd
        self.hold = hold
        self.role = role
    }

    /// What a tap does with the bytes it relays.
    public enum Role: Sendable, Hashable {
        /// Counts them and computes their SHA-256 (`Reading`), and writes them on unchanged.
        case measure
        /// Writes on the SQL script psql reads in psql's restricted mode (`PsqlRestrictedScript`): `\restrict`
        /// with a fresh random key first, the dump's own `\restrict` and final `\unrestrict` lines dropped, so
        /// psql refuses every backslash command of the script. Counts the bytes read; no SHA-256.
        case psqlRestrictedMode
    }

    /// A tap between the stage writing a SQL script (`gzip -dc`) and the psql after it that runs the script in
    /// psql's restricted mode (`Role.psqlRestrictedMode`).
    public static func psqlRestrictedMode(afterStage: Int) -> PipelineTap {
        PipelineTap(afterStage: afterStage, role: .psqlRestrictedMode)
    }

    /// The tap keeps the first `bytes` of the stream (all of it when shorter) and writes none of them on until
    /// `check` returned: the stage after sees nothing of a stream the check refuses. A refusal (`check` throws)
    /// stops the tap at once: it closes both pipes (the stage before gets SIGPIPE, the stage after end-of-file
    /// with no byte read) and its reading carries the error (`Reading.refusal`). `check` runs in drctl while the
    /// stages wait, so it must be short (a `gzip -dc` of the held bytes); the hold costs no extra read of the
    /// source. Equal holds are those of equal size (a closure has no identity to compare).
    public struct HeadHold: Sendable, Hashable {
        public var bytes: Int
        public var check: @Sendable (Data) async throws -> Void

        public init(bytes: Int, check: @escaping @Sendable (Data) async throws -> Void) {
            self.bytes = max(1, bytes)
            self.check = check
        }

        public static func == (left: HeadHold, right: HeadHold) -> Bool { left.bytes == right.bytes }
        public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
    }

    /// A tap on the first stage's standard input file: drctl reads the file, measures it and writes it on.
    public static func input(readsToEnd: Bool = false) -> PipelineTap {
        PipelineTap(afterStage: -1, readsToEnd: readsToEnd)
    }

    /// How a measuring tap shows in a pipeline's command line.
    public static let commandLineLabel = "(sha256 and byte count in drctl)"

    /// How this tap shows in a pipeline's command line.
    public var label: String {
        switch role {
        case .measure: Self.commandLineLabel
        case .psqlRestrictedMode: "(drctl: psql restricted mode)"
        }
    }

    /// What went through a tap.
    public struct Reading: Sendable, Hashable {
        public var afterStage: Int
        /// Bytes read from the stage before the tap.
        public var byteCount: Int64
        /// Lowercase hex SHA-256 of those bytes; empty for a tap that does not measure them (`Role`).
        public var sha256: String
        /// Every byte the stage before wrote was read (it closed its output); false when the stage after stopped
        /// reading first, so the digest covers only a prefix.
        public var reachedEnd: Bool
        /// Why the tap's `HeadHold` refused the stream's first bytes; nil when it passed them or there was none.
        /// After a refusal nothing was written on, `sha256` is empty, and `reachedEnd` says whether the stage before
        /// had ended by itself (its exit status then counts) or was cut off by the tap (its failure is the tap's).
        public var refusal: Refusal?

        public init(
            afterStage: Int, byteCount: Int64, sha256: String, reachedEnd: Bool, refusal: Refusal? = nil
        ) {
            self.afterStage = afterStage
            self.byteCount = byteCount
            self.sha256 = sha256
            self.reachedEnd = reachedEnd
            self.refusal = refusal
        }
    }

    /// The error a `HeadHold` threw, kept as thrown (its kind decides the exit code).
    public struct Refusal: Sendable, Hashable {
        public var error: any Error

        public init(_ error: any Error) { self.error = error }

        public static func == (left: Refusal, right: Refusal) -> Bool {
            String(describing: left.error) == String(describing: right.error)
        }
        public func hash(into hasher: inout Hasher) { hasher.combine(String(describing: error)) }
    }
}
