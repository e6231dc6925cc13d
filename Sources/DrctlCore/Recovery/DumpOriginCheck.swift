import Foundation

/// Reads the statements at the head of a gzip SQL dump that say which database it belongs to: `gzip -dc` of the
/// dump's first MiB (a local file's, or the one the off-site stream's tap holds back), keeping only the lines
/// that begin like those statements (`CommandPipeline.Output.lines`).
///
/// A plain `pg_dump` names no database, so the header only proves it is a dump; a `pg_dump -C` dump names its
/// database in `CREATE DATABASE` and `\connect`, and restoring it would reconnect to that database, so such a
/// dump is refused whichever database it names.
public struct DumpOriginCheck: Sendable {
    public var gzip: Gzip

    public init(gzip: Gzip) {
        self.gzip = gzip
    }

    static let header = "-- PostgreSQL database dump"
    static let statements = [header, "\\connect ", "CREATE DATABASE "]

    /// How many bytes of a backup the head check reads: `pg_dump -C`'s statements come right after the header.
    public static let headBytes = 1 << 20

    /// `gzip -dc` of the first bytes of a backup, which drctl hands to gzip (no copy on disk). gzip stops at the
    /// cut, and the head may hold damage further on: the load that follows judges integrity, so gzip's complaint
    /// only matters when not even the header came out (`judgeHead`).
    public func headPipeline(head: Data) -> CommandPipeline {
        var gunzip = gzip.decompress()
        gunzip.standardInput = .bytes(head)
        return CommandPipeline([gunzip], output: .lines(startingWith: Self.statements))
    }

    /// Judges the first bytes of a backup (`headBytes`): `pg_dump -C` writes its `CREATE DATABASE` and `\connect`
    /// right after the header, so the head holds them.
    public func checkHead(_ head: Data, name: String, database: String, runner: any CommandRunning) async throws {
        try Self.judgeHead(try await runner.run(headPipeline(head: head)), name: name, database: database)
    }

    /// The off-site stream's tap holds the backup's first MiB and passes none of it on to `gzip -dc | psql`
    /// until this check accepted it: a `pg_dump -C` dump, one of another database or no dump at all is refused
    /// before psql sees a byte, without a second download of the head.
    public func hold(name: String, database: String, runner: any CommandRunning) -> PipelineTap.HeadHold {
        PipelineTap.HeadHold(bytes: Self.headBytes) { head in
            try await checkHead(head, name: name, database: database, runner: runner)
        }
    }

    /// For a plan: what the hold on the off-site stream (`hold`) runs.
    public var plannedHoldLine: String {
        "(drctl's tap holds the stream's first MiB and passes none of it on until the origin check on it passed: "
            + "(the held bytes) | "
            + CommandPipeline([gzip.decompress()], output: .lines(startingWith: Self.statements)).redactedCommandLine
            + " must show the pg_dump header and no CREATE DATABASE or \\connect; a pg_dump -C dump, another"
            + " database's or no dump at all is refused before gzip -dc | psql sees a byte of it)"
    }

    /// `gzip -dc` of the first MiB of a local backup, which drctl reads and hands to gzip (no copy on disk).
    public func headPipeline(localFile path: String) throws(BackupError) -> CommandPipeline {
        let head: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            head = try handle.read(upToCount: Self.headBytes) ?? Data()
        } catch {
            throw .fileUnreadable(path: path, reason: error.localizedDescription)
        }
        return headPipeline(head: head)
    }

    /// For a plan: what `checkHead(localFile:)` runs.
    public func plannedHeadLine(localFile path: String) -> String {
        "(drctl reads the first MiB of \(ShellQuoting.quote(path))) | "
            + CommandPipeline([gzip.decompress()], output: .lines(startingWith: Self.statements)).redactedCommandLine
    }

    /// The same judgement on the first MiB of a local backup, before the one-pass load reads all of it.
    public func checkHead(localFile path: String, name: String, database: String, runner: any CommandRunning)
        async throws
    {
        if BackupName.format(ofFileName: name) == .custom { return }
        try Self.judgeHead(try await runner.run(headPipeline(localFile: path)), name: name, database: database)
    }

    static func judgeHead(_ result: PipelineResult, name: String, database: String) throws {
        do {
            try Self.judge(lines: result.output, name: name, database: database)
        } catch {
            // No header came out because gzip could not read that far: corrupt, said with gzip's reason.
            if case .notADatabaseDump = error, let failure = result.failure {
                throw BackupError.backupCorrupt(file: name, detail: "gzip -dc: " + failure.causeOrStatus)
            }
            throw error
        }
    }

    static func judge(lines output: String, name: String, database: String) throws(RecoveryError) {
        let lines = output.split(separator: "\n").map(String.init)
        for line in lines where line.hasPrefix("CREATE DATABASE ") || line.hasPrefix("\\connect ") {
            let named = databaseName(in: line)
            if let named, named != database {
                throw .backupOfAnotherDatabase(file: name, database: named, expected: database)
            }
            throw .dumpReconnects(file: name, database: named ?? database)
        }
        guard lines.contains(header) else { throw .notADatabaseDump(file: name) }
    }

    /// The database named by `CREATE DATABASE name …`, `\connect name` or `\connect -reuse-previous=on "dbname='x'"`.
    static func databaseName(in line: String) -> String? {
        var rest: Substring
        if line.hasPrefix("CREATE DATABASE ") {
            rest = line.dropFirst("CREATE DATABASE ".count)
        } else {
            rest = line.dropFirst("\\connect ".count)
            if rest.hasPrefix("-reuse-previous=on ") { rest = rest.dropFirst("-reuse-previous=on ".count) }
        }
        if rest.hasPrefix("\"dbname='") {
            let body = rest.dropFirst("\"dbname='".count)
            guard let end = body.range(of: "'\"") else { return nil }
            return String(body[..<end.lowerBound]).replacingOccurrences(of: "\\'", with: "'")
        }
        if rest.hasPrefix("\"") {
            var name = ""
            var index = rest.index(after: rest.startIndex)
            while index < rest.endIndex {
                let character = rest[index]
                index = rest.index(after: index)
                if character == "\"" {
                    guard index < rest.endIndex, rest[index] == "\"" else { return name }
                    index = rest.index(after: index)
                }
                name.append(character)
            }
            return nil
        }
        let word = rest.prefix { !$0.isWhitespace && $0 != ";" }
        return word.isEmpty ? nil : String(word)
    }
}
