import Foundation

/// Builds `gzip` invocations. Pure: nothing here starts a process.
public struct Gzip: Sendable, Hashable {
    public var executable: String

    public init(executable: String = "gzip") {
        self.executable = executable
    }

    /// `gzip -t FILE`: reads the whole file and checks every CRC; read the result with `classifyIntegrity`.
    public func test(file: String) -> CommandInvocation {
        CommandInvocation(executable, ["-t", file])
    }

    /// `gzip -c`: compresses stdin to stdout (a pipeline stage, as in `pg_dump | gzip -c > file`).
    public func compress(level: Int? = nil) -> CommandInvocation {
        var arguments = ["-c"]
        if let level { arguments.append("-\(min(max(level, 1), 9))") }
        return CommandInvocation(executable, arguments)
    }

    /// `gzip -dc [FILE]`: decompresses `file` (or stdin) to stdout.
    public func decompress(file: String? = nil) -> CommandInvocation {
        CommandInvocation(executable, ["-dc"] + (file.map { [$0] } ?? []))
    }

    /// What `gzip -t` said about a file. A backup with trailing garbage (exit 2, "decompression OK, trailing
    /// garbage ignored") is refused too: the bytes after the gzip stream are not part of the dump, so the file is
    /// not the one that was written, and restoring it would hide that.
    public static func classifyIntegrity(_ result: CommandResult, file: String) -> Result<Void, GzipIntegrityError> {
        let detail =
            result.standardErrorTail.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.last ?? ""
        switch result.status {
        case .exited(0):
            return .success(())
        case .exited(2):
            return .failure(.trailingGarbage(file: file, detail: detail))
        case .exited(1) where detail.contains("No such file"):
            return .failure(.missing(file: file))
        case .exited(1):
            return .failure(.corrupt(file: file, detail: detail))
        default:
            return .failure(.testFailed(file: file, status: result.status, detail: detail))
        }
    }
}

/// Why a gzip file is not fit to restore from.
public enum GzipIntegrityError: Error, Sendable, Hashable, LocalizedError, RefusalError {
    /// Truncated, not gzip, or a CRC mismatch (`gzip -t` exit 1).
    case corrupt(file: String, detail: String)
    /// The gzip stream is intact but followed by other bytes (`gzip -t` exit 2).
    case trailingGarbage(file: String, detail: String)
    case missing(file: String)
    case testFailed(file: String, status: TerminationStatus, detail: String)

    /// A damaged or missing file is refused; a `gzip -t` that could not finish is a failure to retry.
    public var isRefusal: Bool {
        if case .testFailed = self { return false }
        return true
    }

    public var errorDescription: String? {
        switch self {
        case .corrupt(let file, let detail):
            return "backup \(file) is corrupt or truncated (gzip -t: \(detail)). It was refused before anything was"
                + " touched; pick an older backup or fetch this one again from the off-site copy."
        case .trailingGarbage(let file, let detail):
            return "backup \(file) has bytes after the end of its gzip data (gzip -t: \(detail)). gzip calls this a"
                + " warning, but the file is not the one that was written, so drctl refuses it; pick another backup"
                + " or fetch this one again from the off-site copy."
        case .missing(let file):
            return "backup \(file) does not exist; check the path and `drctl backup list`."
        case .testFailed(let file, let status, let detail):
            return "gzip -t \(file) did not finish (\(status)) \(detail); check the disk and run it again."
        }
    }
}
