import Foundation

/// Builds `alembic` invocations for one migrations project. Pure: nothing here starts a process.
///
/// `-c` and `-x` are alembic's global options, so they come before the subcommand.
public struct Alembic: Sendable, Hashable {
    public var executable: String
    /// `-c alembic.ini`; `nil` lets alembic look for `alembic.ini` in the working directory.
    public var configPath: String?
    /// `-x key=value` arguments for the project's `env.py`.
    public var extraArguments: [String]
    /// The migrations project's folder (where alembic.ini lives).
    public var workingDirectory: String?
    /// Variables the project's `env.py` reads (e.g. `DB_PASSWORD`); every value listed in `secrets` is redacted.
    public var environment: [String: String]
    public var secrets: [String]

    public init(
        executable: String = "alembic",
        configPath: String? = nil,
        extraArguments: [String] = [],
        workingDirectory: String? = nil,
        environment: [String: String] = [:],
        secrets: [String] = []
    ) {
        self.executable = executable
        self.configPath = configPath
        self.extraArguments = extraArguments
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.secrets = secrets
    }

    /// `alembic current`: the database's revision(s); read with `parseCurrent`.
    public func current() -> CommandInvocation { invocation(["current"]) }

    /// `alembic heads`: the newest revision(s) in the scripts.
    public func heads() -> CommandInvocation { invocation(["heads"]) }

    /// `alembic history`: one line per revision, newest first; read with `parseHistory`.
    public func history() -> CommandInvocation { invocation(["history"]) }

    /// `alembic upgrade REV` (`head`, `heads`, `+1`, or a revision id).
    public func upgrade(to revision: String = "head") -> CommandInvocation { invocation(["upgrade", revision]) }

    /// `alembic downgrade TARGET`.
    public func downgrade(_ target: AlembicDowngradeTarget) -> CommandInvocation {
        invocation(["downgrade", target.argument])
    }

    private func invocation(_ arguments: [String]) -> CommandInvocation {
        var global: [String] = []
        if let configPath { global += ["-c", configPath] }
        for argument in extraArguments { global += ["-x", argument] }
        return CommandInvocation(
            executable,
            global + arguments,
            environment: environment,
            workingDirectory: workingDirectory,
            secrets: secrets
        ).declaring(Self.exitMeanings)
    }

    /// argparse's exit 2 with `usage: alembic`: alembic rejected its command line.
    static let usageRefused = "alembic rejected its command line"
    static let exitMeanings = ExitMeanings([
        ExitMeanings.when(.exited(2), standardErrorHolds: ["usage: alembic"], .refused(usageRefused))
    ])
}

/// Where `alembic downgrade` goes.
public enum AlembicDowngradeTarget: Sendable, Hashable {
    /// `-N`: N steps back from the current revision (N ≥ 1).
    case steps(Int)
    /// An absolute revision id.
    case revision(String)
    /// `base`: before the first migration (an empty schema).
    case base

    var argument: String {
        switch self {
        case .steps(let count): return "-\(max(count, 1))"
        case .revision(let id): return id
        case .base: return "base"
        }
    }
}

/// One revision as alembic prints it in `current` and `heads`: `0003 (head)`, `0005 (head) (mergepoint)`.
public struct AlembicRevision: Sendable, Hashable, Codable {
    public var id: String
    public var isHead: Bool
    /// Every parenthesised marker alembic printed (`head`, `mergepoint`, `branchpoint`, `effective head`).
    public var markers: [String]

    public init(id: String, markers: [String] = []) {
        self.id = id
        self.markers = markers
        self.isHead = markers.contains("head")
    }
}

/// One line of `alembic history`: `0002 -> 0003 (head), message`.
public struct AlembicHistoryEntry: Sendable, Hashable, Codable {
    /// Parent revision ids; empty for the first migration (`<base>`); two or more for a merge.
    public var parents: [String]
    public var revision: AlembicRevision
    public var message: String

    public init(parents: [String], revision: AlembicRevision, message: String) {
        self.parents = parents
        self.revision = revision
        self.message = message
    }
}

extension Alembic {
    /// Reads `alembic current` or `alembic heads` stdout: one revision per line, none at base.
    /// INFO lines (alembic logs on stderr, but a project may route them to stdout) are skipped.
    public static func parseRevisions(_ output: String) throws(ToolOutputError) -> [AlembicRevision] {
        var revisions: [AlembicRevision] = []
        for rawLine in output.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || isLogLine(line) { continue }
            revisions.append(try parseRevision(line, whole: output))
        }
        return revisions
    }

    /// Reads `alembic current`: the revision(s) the database is at; `[]` means base (nothing applied).
    public static func parseCurrent(_ output: String) throws(ToolOutputError) -> [AlembicRevision] {
        try parseRevisions(output)
    }

    /// Reads `alembic history` (not `--verbose`), newest first as alembic prints it.
    public static func parseHistory(_ output: String) throws(ToolOutputError) -> [AlembicHistoryEntry] {
        var entries: [AlembicHistoryEntry] = []
        for rawLine in output.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || isLogLine(line) { continue }
            guard let arrow = line.range(of: " -> ") else {
                throw .unparseable(
                    tool: "alembic", what: "history", detail: "a line without ' -> '", excerpt: String(line))
            }
            let parentsText = line[..<arrow.lowerBound]
            let rest = line[arrow.upperBound...]
            // The message follows the first ", " after the revision and its markers; it may itself contain commas.
            let revisionText: Substring
            let message: Substring
            if let comma = rest.range(of: ", ") {
                revisionText = rest[..<comma.lowerBound]
                message = rest[comma.upperBound...]
            } else {
                revisionText = rest
                message = ""
            }
            let parents = parentsText.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { $0 != "<base>" && !$0.isEmpty }
            entries.append(
                AlembicHistoryEntry(
                    parents: parents,
                    revision: try parseRevision(String(revisionText), whole: output),
                    message: String(message)
                )
            )
        }
        return entries
    }

    /// `0003 (head) (mergepoint)` → id and markers.
    private static func parseRevision(_ text: String, whole: String) throws(ToolOutputError) -> AlembicRevision {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let id = trimmed.split(separator: " ").first, !id.contains("("), !id.contains(":") else {
            throw .unparseable(tool: "alembic", what: "revision", detail: "no revision id", excerpt: whole)
        }
        var markers: [String] = []
        var remainder = trimmed.dropFirst(id.count)
        while let open = remainder.firstIndex(of: "("), let close = remainder[open...].firstIndex(of: ")") {
            markers.append(String(remainder[remainder.index(after: open)..<close]))
            remainder = remainder[remainder.index(after: close)...]
        }
        guard remainder.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw .unparseable(
                tool: "alembic", what: "revision", detail: "unexpected text after '\(id)'", excerpt: trimmed)
        }
        return AlembicRevision(id: String(id), markers: markers)
    }

    private static func isLogLine(_ line: String) -> Bool {
        line.hasPrefix("INFO ") || line.hasPrefix("WARNI") || line.hasPrefix("DEBUG ") || line.hasPrefix("ERROR ")
    }

    /// Classifies a failed alembic run; `nil` when it succeeded.
    public static func classifyFailure(_ result: CommandResult) -> AlembicError? {
        guard !result.succeeded else { return nil }
        let command = result.invocation.redactedCommandLine
        let redactor = Redactor(secrets: result.invocation.secrets)
        let stdout = redactor.redact(result.output)
        let stderr = result.standardErrorTail
        if let failed = (stdout + "\n" + stderr).split(whereSeparator: \.isNewline)
            .first(where: { $0.hasPrefix("FAILED: ") })
        {
            return .alembicFailed(command: command, message: String(failed.dropFirst("FAILED: ".count)))
        }
        // Any alembic's result, also one not built here, reads through alembic's declaration.
        if Self.exitMeanings.meaning(of: result.status, standardError: stderr) == .refused(Self.usageRefused) {
            let lastLine = stderr.split(whereSeparator: \.isNewline).last.map(String.init) ?? stderr
            return .usage(command: command, message: lastLine)
        }
        if stderr.contains("Traceback") || stderr.contains("Error") {
            let lastLines = stderr.split(whereSeparator: \.isNewline).suffix(3).joined(separator: "\n")
            return .databaseError(command: command, message: lastLines)
        }
        return .other(command: command, status: result.status, message: stderr.isEmpty ? stdout : stderr)
    }
}

/// Why an alembic run failed, and what to do about it.
public enum AlembicError: Error, Sendable, Hashable, LocalizedError {
    /// alembic's own error (`FAILED: …` on stdout, exit 255): unknown revision, bad config, too many steps.
    case alembicFailed(command: String, message: String)
    /// The migration or the connection raised (a traceback on stderr, exit 1).
    case databaseError(command: String, message: String)
    /// alembic rejected its arguments (exit 2, `usage:`): a drctl bug or an unsupported alembic version.
    case usage(command: String, message: String)
    case other(command: String, status: TerminationStatus, message: String)

    public var errorDescription: String? {
        switch self {
        case .alembicFailed(let command, let message):
            return "alembic refused: \(message)\n  command: \(command)\n"
                + "  Check the revision id (`alembic history`), the -c config path and the migrations folder;"
                + " the database was not changed by this command."
        case .databaseError(let command, let message):
            return "alembic hit a database error:\n    \(message.replacingOccurrences(of: "\n", with: "\n    "))\n"
                + "  command: \(command)\n"
                + "  Check that the database is reachable with the configured credentials; if a migration failed"
                + " halfway, run `alembic current` to see where it stopped before retrying."
        case .usage(let command, let message):
            return "alembic rejected its arguments: \(message)\n  command: \(command)\n"
                + "  This alembic does not accept what drctl passed; install the version scripts/bootstrap installs."
        case .other(let command, let status, let message):
            return "alembic failed (\(status)): \(message)\n  command: \(command)"
        }
    }
}

extension AlembicError: ClassifiedError {
    public var failureKind: FailureKind {
        switch self {
        case .alembicFailed, .databaseError, .usage, .other: .failed
        }
    }
}
