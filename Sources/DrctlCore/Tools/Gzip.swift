import Foundation

/// Which program compresses new `.sql.gz` backups (`backups.compressor`). Both write the gzip format that plain
/// `gunzip` and the runbook's scripts read; pigz compresses on every core.
public enum BackupCompressor: String, Sendable, Hashable, Codable, CaseIterable {
    case gzip
    case pigz
    /// pigz when it is on `PATH`, else gzip (the default).
    case auto
}

/// Builds `gzip` invocations (and pigz's, which takes the same flags). Pure: nothing here starts a process.
public struct Gzip: Sendable, Hashable {
    /// gzip itself: `test`, and `strictDecompress`.
    public var executable: String
    /// What `compress` runs: gzip or pigz (`backups.compressor`).
    public var compressor: String
    /// What `decompress` runs: pigz when it is installed (it inflates on one core but reads, writes and checks
    /// the CRC on others), else gzip.
    public var decompressor: String

    public init(executable: String = "gzip", compressor: String? = nil, decompressor: String? = nil) {
        self.executable = executable
        self.compressor = compressor ?? executable
        self.decompressor = decompressor ?? executable
    }

    /// The programs for `choice` on a machine where pigz is (or is not) installed: `auto` compresses with pigz
    /// when present; decompression takes pigz whenever it is present, whatever compressed the file.
    public init(executables: ToolExecutables, compressor choice: BackupCompressor) {
        let pigz = executables.pigzInstalled
        let compressor =
            switch choice {
            case .gzip: executables.gzip
            case .pigz: executables.pigz
            case .auto: pigz ? executables.pigz : executables.gzip
            }
        self.init(
            executable: executables.gzip, compressor: compressor,
            decompressor: pigz ? executables.pigz : executables.gzip)
    }

    /// `gzip -t FILE`: reads the whole file and checks every CRC; read the result with `classifyIntegrity`.
    /// Exit 1 is a missing file (`No such file`) or a damaged one, exit 2 bytes after the gzip data.
    public func test(file: String) -> CommandInvocation {
        CommandInvocation(executable, ["-t", file]).declaring(
            ExitMeanings.when(.exited(1), standardErrorHolds: ["No such file"], .absent),
            ExitMeanings.when(.exited(1), .refused(Self.corrupt)),
            ExitMeanings.when(.exited(2), .refused(Self.trailingGarbage)))
    }

    /// gzip's refusals (exit 1 and 2), as `ExitMeaning.refused` says them.
    public static let corrupt = "gzip found the file corrupt or truncated"
    public static let trailingGarbage = "gzip found bytes after the end of the gzip data"

    /// `gzip -c` or `pigz -c`: compresses stdin to stdout (a pipeline stage, as in `pg_dump | gzip -c > file`).
    public func compress(level: Int? = nil) -> CommandInvocation {
        var arguments = ["-c"]
        if let level { arguments.append("-\(min(max(level, 1), 9))") }
        return CommandInvocation(compressor, arguments)
    }

    /// `pigz -dc [FILE]` or `gzip -dc [FILE]`: decompresses `file` (or stdin) to stdout, for bytes already proven
    /// to be the backup that was written (`gzip -t` before, or the recorded SHA-256 compared on the way): pigz
    /// ignores bytes after the end of the gzip data and exits 0.
    public func decompress(file: String? = nil) -> CommandInvocation {
        CommandInvocation(decompressor, ["-dc"] + (file.map { [$0] } ?? []))
    }

    /// `gzip -dc [FILE]` itself, for bytes no `gzip -t` checked first (the off-site stream): its exit status 2
    /// (bytes after the gzip data) makes drctl refuse the file; pigz would exit 0.
    public func strictDecompress(file: String? = nil) -> CommandInvocation {
        CommandInvocation(executable, ["-dc"] + (file.map { [$0] } ?? [])).declaring(
            ExitMeanings.when(.exited(1), .refused(Self.corrupt)),
            ExitMeanings.when(.exited(2), .refused(Self.trailingGarbage)))
    }

    /// What `gzip -t` said about a file. A backup with trailing garbage (exit 2, "decompression OK, trailing
    /// garbage ignored") is refused too: the bytes after the gzip stream are not part of the dump, so the file is
    /// not the one that was written, and restoring it would hide that.
    public static func classifyIntegrity(_ result: CommandResult, file: String) -> Result<Void, GzipIntegrityError> {
        let detail =
            result.standardErrorTail.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.last ?? ""
        switch result.meaning {
        case .succeeded:
            return .success(())
        case .refused(Self.trailingGarbage):
            return .failure(.trailingGarbage(file: file, detail: detail))
        case .absent:
            return .failure(.missing(file: file))
        case .refused:
            return .failure(.corrupt(file: file, detail: detail))
        case .failed, .contended:
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
