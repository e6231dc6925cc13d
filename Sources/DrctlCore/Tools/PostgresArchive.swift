import Foundation

/// Builds the `pg_restore` invocations that read a custom-format (`pg_dump -Fc`) archive without a database:
/// the table of contents (`--list`) and a full read of every entry into `/dev/null`. Pure: nothing here starts
/// a process.
///
/// `--list` alone reads only the table of contents at the start of the archive: a truncated archive or one with
/// a flipped byte in its data still lists. Reading every entry decompresses all the data and checks zlib's
/// checksums, so it is the archive's `gzip -t`.
public struct PostgresArchive: Sendable, Hashable {
    public var executable: String

    public init(executable: String = "pg_restore") {
        self.executable = executable
    }

    /// `pg_restore --list FILE`: the archive's table of contents; fails on a file that is not an archive.
    public func list(file: String) -> CommandInvocation {
        reading(["--list", file])
    }

    /// `pg_restore --file=/dev/null FILE`: reads and decompresses every entry, writing the script nowhere.
    public func readThrough(file: String) -> CommandInvocation {
        reading(["--file=/dev/null", file])
    }

    /// pg_restore reading an archive exits 1 for a missing file (`No such file`) and for one it cannot read.
    private func reading(_ arguments: [String]) -> CommandInvocation {
        CommandInvocation(executable, arguments).declaring(
            ExitMeanings.when(.exited(1), standardErrorHolds: ["No such file"], .absent),
            ExitMeanings.when(.exited(1), .refused("pg_restore found the archive corrupt or truncated")))
    }

    /// What `pg_restore --list` or a full read said about a file.
    public static func classifyIntegrity(_ result: CommandResult, file: String) -> Result<Void, ArchiveIntegrityError> {
        let lines = result.standardErrorTail.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let detail = lines.last ?? ""
        switch result.meaning {
        case .succeeded:
            return .success(())
        case .absent:
            return .failure(.missing(file: file))
        case .refused:
            // "could not read from input file: end of file", "could not uncompress data: incorrect data check",
            // "input file does not appear to be a valid archive".
            return .failure(
                .corrupt(file: file, detail: detail.replacingOccurrences(of: "pg_restore: error: ", with: "")))
        case .failed, .contended:
            return .failure(.testFailed(file: file, status: result.status, detail: detail))
        }
    }

    /// The `dbname:` line of a `--list` header: the database the archive was dumped from; nil when absent.
    static func dumpedDatabase(inListing listing: String) -> String? {
        for line in listing.split(separator: "\n") {
            let trimmed = line.drop { $0 == ";" || $0 == " " || $0 == "\t" }
            if trimmed.hasPrefix("dbname: ") { return String(trimmed.dropFirst("dbname: ".count)) }
        }
        return nil
    }
}

/// Why a custom-format archive is not fit to restore from.
public enum ArchiveIntegrityError: Error, Sendable, Hashable, LocalizedError, RefusalError {
    /// Not an archive, truncated, or a data block that does not decompress (`pg_restore` exit 1).
    case corrupt(file: String, detail: String)
    case missing(file: String)
    case testFailed(file: String, status: TerminationStatus, detail: String)

    /// A damaged or missing file is refused; a `pg_restore` that could not finish is a failure to retry.
    public var isRefusal: Bool {
        if case .testFailed = self { return false }
        return true
    }

    public var errorDescription: String? {
        switch self {
        case .corrupt(let file, let detail):
            return "backup \(file) is corrupt or truncated (pg_restore: \(detail)). It was refused before anything"
                + " was touched; pick an older backup or fetch this one again from the off-site copy."
        case .missing(let file):
            return "backup \(file) does not exist; check the path and `drctl backup list`."
        case .testFailed(let file, let status, let detail):
            return "pg_restore reading \(file) did not finish (\(status)) \(detail); check the disk and run it again."
        }
    }
}
