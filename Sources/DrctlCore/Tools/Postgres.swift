import Foundation

/// Where and as whom to connect. The password travels only in the child's environment (`PGPASSWORD`).
public struct PostgresConnection: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var user: String
    public var database: String
    public var password: String?

    public init(host: String, port: Int = 5432, user: String, database: String, password: String? = nil) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.password = password
    }

    /// The same server and role, another database (the admin database, a temporary restore target).
    public func with(database: String) -> PostgresConnection {
        var copy = self
        copy.database = database
        return copy
    }

    /// `-h -p -U -d`, and `-w` so a missing password fails at once instead of prompting at 3 a.m.
    var arguments: [String] {
        ["-h", host, "-p", String(port), "-U", user, "-d", Self.databaseArgument(database), "-w"]
    }

    /// libpq reads a `-d` value holding `=` or starting with `postgres://` as a whole connection string
    /// (`-d "dbname=x host=elsewhere"`); such a name is passed as a quoted `dbname='…'` so it stays a name.
    static func databaseArgument(_ name: String) -> String {
        let looksLikeConnectionString =
            name.contains("=") || name.hasPrefix("postgresql://") || name.hasPrefix("postgres://")
        guard looksLikeConnectionString else { return name }
        let escaped = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
        return "dbname='\(escaped)'"
    }

    /// `invocation` with the connection arguments of `from` (`-h HOST -p PORT`, as `arguments` writes them) and
    /// alembic's `DB_HOST`/`DB_PORT` pointed at `to`; nil when the invocation does not connect to `from`.
    static func rerouting(
        _ invocation: CommandInvocation, from: (host: String, port: Int), to: (host: String, port: Int)
    ) -> CommandInvocation? {
        var copy = invocation
        var changed = false
        let old = ["-h", from.host, "-p", String(from.port)]
        var index = copy.arguments.startIndex
        while index + old.count <= copy.arguments.endIndex {
            if Array(copy.arguments[index..<index + old.count]) == old {
                copy.arguments.replaceSubrange(index..<index + old.count, with: ["-h", to.host, "-p", String(to.port)])
                changed = true
                index += old.count
            } else {
                index += 1
            }
        }
        if copy.environment["DB_HOST"] == from.host, copy.environment["DB_PORT"] == String(from.port) {
            copy.environment["DB_HOST"] = to.host
            copy.environment["DB_PORT"] = String(to.port)
            changed = true
        }
        return changed ? copy : nil
    }

    var environment: [String: String] {
        guard let password, !password.isEmpty else { return [:] }
        return ["PGPASSWORD": password]
    }

    var secrets: [String] { password.map { [$0] } ?? [] }

    /// Attaches the password to an invocation: in its environment and in its redaction list.
    func authorize(_ executable: String, _ arguments: [String], standardInput: CommandInvocation.StandardInput = .none)
        -> CommandInvocation
    {
        CommandInvocation(
            executable, arguments, environment: environment, standardInput: standardInput, secrets: secrets)
    }
}

/// The format `pg_dump` writes.
public enum PostgresDumpFormat: String, Sendable, Hashable, Codable {
    /// A SQL script, restored with `psql` (what the runbook's `pg_dump | gzip` produces).
    case plain
    /// `-Fc`: compressed archive, restored with `pg_restore -j`.
    case custom
}

/// Builds `psql`, `pg_dump` and `pg_restore` invocations. Pure: nothing here starts a process.
public struct Postgres: Sendable, Hashable {
    public var connection: PostgresConnection
    /// The database used for CREATE/DROP/ALTER DATABASE and the exists probe.
    public var adminDatabase: String
    public var psqlExecutable: String
    public var pgDumpExecutable: String
    public var pgRestoreExecutable: String

    public init(
        connection: PostgresConnection,
        adminDatabase: String = "postgres",
        psqlExecutable: String = "psql",
        pgDumpExecutable: String = "pg_dump",
        pgRestoreExecutable: String = "pg_restore"
    ) {
        self.connection = connection
        self.adminDatabase = adminDatabase
        self.psqlExecutable = psqlExecutable
        self.pgDumpExecutable = pgDumpExecutable
        self.pgRestoreExecutable = pgRestoreExecutable
    }

    /// `psql -X -v ON_ERROR_STOP=1 -At … -c SQL` on the connection's database: unaligned, tuples only,
    /// fields separated by `|`; read the output with `parseRows`/`parseValue`.
    public func query(_ sql: String) -> CommandInvocation {
        psql(on: connection, ["-At", "-c", sql])
    }

    /// The same query on the admin database.
    public func adminQuery(_ sql: String) -> CommandInvocation {
        psql(on: connection.with(database: adminDatabase), ["-At", "-c", sql])
    }

    /// `psql -X -v ON_ERROR_STOP=1 -q …` reading a SQL script on stdin (the last stage of `gunzip -c | psql`);
    /// with `file`, the script is read from that file instead. Stops at the first error. `reportingRows`:
    /// `--echo-queries` instead of `-q`, so standard output shows each statement and its command tag
    /// (`COPY public.t (a) FROM stdin;` then `COPY 42`), for `CopyRowCounts.parse`; COPY's data is not echoed.
    public func runScript(file: String? = nil, singleTransaction: Bool = false, reportingRows: Bool = false)
        -> CommandInvocation
    {
        var arguments = [reportingRows ? "--echo-queries" : "-q"]
        if singleTransaction { arguments.append("--single-transaction") }
        if let file { arguments += ["-f", file] }
        return psql(on: connection, arguments).declaring(ExitMeanings.when(.exited(3), .refused(Self.scriptRefused)))
    }

    /// psql's exit 3: the script stopped on an error (ON_ERROR_STOP), in one transaction nothing of it stays.
    public static let scriptRefused = "psql could not load it"

    /// `pg_dump` of the connection's database to stdout (for `| gzip -c > file`) or to `file`.
    /// With `snapshot`, `--snapshot=ID`: the dump reads the snapshot another session exported.
    public func dump(format: PostgresDumpFormat = .plain, file: String? = nil, snapshot: String? = nil)
        -> CommandInvocation
    {
        var arguments = connection.arguments
        if format == .custom { arguments.append("-Fc") }
        if let snapshot { arguments.append("--snapshot=" + snapshot) }
        if let file { arguments += ["-f", file] }
        return connection.authorize(pgDumpExecutable, arguments)
    }

    /// `pg_restore -j N --exit-on-error --no-owner -d DB FILE` for a `-Fc` archive; the password only in
    /// `PGPASSWORD`. `-j` needs FILE to be a seekable file, never a pipe.
    public func restoreArchive(file: String, jobs: Int = 4, clean: Bool = false, noOwner: Bool = true)
        -> CommandInvocation
    {
        var arguments = connection.arguments + ["--exit-on-error", "-j", String(max(jobs, 1))]
        if clean { arguments += ["--clean", "--if-exists"] }
        if noOwner { arguments.append("--no-owner") }
        arguments.append(file)
        return connection.authorize(pgRestoreExecutable, arguments).declaring(
            ExitMeanings.when(.exited(1), .refused("pg_restore could not restore it")))
    }

    /// `pg_restore --list` and full reads of custom-format archives, with this `pg_restore`.
    public var archive: PostgresArchive { PostgresArchive(executable: pgRestoreExecutable) }

    /// Prints `1` when database `name` exists, nothing otherwise; read with `parseExists`.
    public func databaseExists(_ name: String) -> CommandInvocation {
        adminQuery("SELECT 1 FROM pg_database WHERE datname = \(PostgresQuoting.literal(name))")
    }

    /// `CREATE DATABASE "name" [OWNER "owner"]` on the admin database. A database of that name that is already
    /// there (SQLSTATE 42P04: another process created it) is `.contended`.
    public func createDatabase(_ name: String, owner: String? = nil) -> CommandInvocation {
        var sql = "CREATE DATABASE \(PostgresQuoting.identifier(name))"
        if let owner { sql += " OWNER \(PostgresQuoting.identifier(owner))" }
        return adminStatement(sql).declaring(
            ExitMeanings.when(standardErrorHolds: [Self.sqlState("42P04")], .contended("another process created it")))
    }

    /// `DROP DATABASE IF EXISTS "name" [WITH (FORCE)]`; FORCE (PostgreSQL 13+) ends open sessions first. A
    /// session PostgreSQL could not end (yet) makes it `.contended`: SQLSTATE 55006 (object in use), or 42501
    /// when FORCE may not end it (an autovacuum worker: a superuser's process, ended only by a superuser or a
    /// member of pg_signal_backend) — told from the database's own rights by the message, in PostgreSQL 13–15's
    /// and 16+'s words.
    public func dropDatabase(_ name: String, force: Bool = false) -> CommandInvocation {
        adminStatement("DROP DATABASE IF EXISTS \(PostgresQuoting.identifier(name))" + (force ? " WITH (FORCE)" : ""))
            .declaring(
                ExitMeanings.when(
                    standardErrorHolds: [Self.sqlState("55006")]
                        + Self.cannotEndSession.map { Self.sqlState("42501") + $0 },
                    .contended("a session on it could not be ended yet")))
    }

    /// What `DROP DATABASE … WITH (FORCE)` says when it may not end a session (SQLSTATE 42501).
    static let cannotEndSession = [
        "must be a superuser to terminate superuser process",
        "must be a member of the role whose process is being terminated or member of pg_signal_backend",
        "permission denied to terminate process",
    ]

    /// An admin statement whose errors psql prints with their SQLSTATE (`VERBOSITY=verbose`:
    /// `ERROR:  55006: database "x" is being accessed by other users`), so what it means is read from the code.
    private func adminStatement(_ sql: String) -> CommandInvocation {
        psql(on: connection.with(database: adminDatabase), ["-v", "VERBOSITY=verbose", "-At", "-c", sql])
    }

    /// How psql prints an error's SQLSTATE at `VERBOSITY=verbose`, after the severity (which the server may
    /// translate): `ERROR:  42P04: `.
    static func sqlState(_ code: String) -> String { ":  \(code): " }

    /// `ALTER DATABASE "from" RENAME TO "to"` (nobody may be connected to `from`).
    public func renameDatabase(_ name: String, to newName: String) -> CommandInvocation {
        adminQuery(Self.renameStatement(name, to: newName))
    }

    static func renameStatement(_ name: String, to newName: String) -> String {
        "ALTER DATABASE \(PostgresQuoting.identifier(name)) RENAME TO \(PostgresQuoting.identifier(newName))"
    }

    /// `statements` in one transaction on the admin database (`psql --single-transaction -c … -c …`): all of
    /// them take effect or none. Not for `CREATE`/`DROP DATABASE`, which cannot run in a transaction.
    public func adminTransaction(_ statements: [String]) -> CommandInvocation {
        psql(
            on: connection.with(database: adminDatabase),
            ["-v", "VERBOSITY=verbose", "-At", "--single-transaction"] + statements.flatMap { ["-c", $0] })
    }

    /// `\copy (QUERY) TO STDOUT WITH CSV HEADER`: the rows as CSV on stdout.
    /// psql reads a `\copy` to the end of its line, so the query must be one line.
    public func copyOut(query: String) throws(PostgresError) -> CommandInvocation {
        let query = try Self.singleLine(query)
        return psql(on: connection, ["-c", "\\copy (\(query)) TO STDOUT WITH CSV HEADER"])
    }

    /// `\copy TABLE [(columns)] FROM STDIN WITH CSV HEADER`, the CSV coming from `file` (or the previous pipeline stage).
    func copyIn(table: String, columns: [String] = [], from file: String? = nil) -> CommandInvocation {
        var target = PostgresQuoting.qualifiedIdentifier(table)
        if !columns.isEmpty { target += " (" + columns.map(PostgresQuoting.identifier).joined(separator: ", ") + ")" }
        return psql(
            on: connection,
            ["-c", "\\copy \(target) FROM STDIN WITH CSV HEADER"],
            standardInput: file.map { .file($0) } ?? .none
        )
    }

    func psql(
        on connection: PostgresConnection,
        _ arguments: [String],
        standardInput: CommandInvocation.StandardInput = .none
    ) -> CommandInvocation {
        connection.authorize(
            psqlExecutable,
            ["-X", "-v", "ON_ERROR_STOP=1"] + connection.arguments + arguments,
            standardInput: standardInput
        )
    }

    private static func singleLine(_ query: String) throws(PostgresError) -> String {
        let trimmed = query.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.contains(where: \.isNewline) else { throw .copyQuerySpansLines(trimmed) }
        if trimmed.hasSuffix(";") { return String(trimmed.dropLast()) }
        return trimmed
    }
}

// MARK: - Parsing `-At` output

extension Postgres {
    /// Rows of `psql -At` output, fields split at `|`. (A value containing `|` or a newline is ambiguous in this
    /// format; queries that may return such values should use `copyOut` and CSV.)
    public static func parseRows(_ output: String) -> [[String]] {
        output.split(separator: "\n", omittingEmptySubsequences: true).map { line in
            line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// The single value of a one-row, one-column query; `nil` when no row came back.
    public static func parseValue(_ output: String) -> String? {
        output.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init)
    }

    /// Reads the output of `databaseExists`.
    public static func parseExists(_ output: String) -> Bool {
        parseValue(output)?.trimmingCharacters(in: .whitespaces) == "1"
    }
}

/// Quoting for values and names that come from users or manifests, so they can never end a statement.
public enum PostgresQuoting {
    /// A string literal, in the spirit of libpq's `PQescapeLiteral`: `'it''s'`, and `E'a\\b'` when it holds a backslash.
    public static func literal(_ value: String) -> String {
        let doubledQuotes = value.replacingOccurrences(of: "'", with: "''")
        if value.contains("\\") {
            return "E'" + doubledQuotes.replacingOccurrences(of: "\\", with: "\\\\") + "'"
        }
        return "'" + doubledQuotes + "'"
    }

    /// A quoted identifier: `"Valeo ""ERP"""`. Case is kept as written.
    public static func identifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `schema.table` → `"schema"."table"`; a name without a dot is one identifier.
    public static func qualifiedIdentifier(_ name: String) -> String {
        name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).map { identifier(String($0)) }
            .joined(separator: ".")
    }
}

/// Problems building a PostgreSQL command from user input.
public enum PostgresError: Error, Sendable, Hashable, LocalizedError {
    case copyQuerySpansLines(String)

    public var errorDescription: String? {
        switch self {
        case .copyQuerySpansLines(let query):
            return "the row query must be on one line (psql's \\copy ends at the line break): \(query.prefix(120))"
                + "\n  Join the query into one line and run again."
        }
    }
}

extension PostgresError: ClassifiedError {
    public var failureKind: FailureKind {
        switch self {
        case .copyQuerySpansLines: .usage
        }
    }
}
