import Foundation

/// Rows per table as a plain-format load's psql reported them: with `--echo-queries` and without `-q`, psql
/// prints each `COPY schema.table (…) FROM stdin;` it sends and then the server's `COPY n`, so the content check
/// after the load (`Postgres.contentQuery(loaded:)`) need not count those tables again.
///
/// Read with `parse`, which gives nil — every table is counted — whenever the report might not say exactly what
/// the tables hold: a row-changing statement other than COPY ran (`INSERT`, `UPDATE`, `DELETE`, `MERGE`,
/// `TRUNCATE`, `SELECT … INTO`/`CREATE TABLE AS`, as their command tags show: a `pg_dump --inserts` dump), a COPY
/// line that is not pg_dump's `COPY schema.table … FROM stdin;` or has no `COPY n` right after it, or a report
/// so long that the runner may have dropped lines of it.
public struct CopyRowCounts: Sendable, Hashable {
    public struct Table: Sendable, Hashable {
        /// As stored in the catalog (`pg_namespace.nspname`, `pg_class.relname`): unquoted, case kept.
        public var schema: String
        public var name: String
        /// The sum of every COPY into this table.
        public var rows: Int64

        public init(schema: String, name: String, rows: Int64) {
            self.schema = schema
            self.name = name
            self.rows = rows
        }
    }

    /// Sorted by schema, then name.
    public var tables: [Table]

    public init(tables: [Table]) {
        self.tables = tables.sorted { ($0.schema, $0.name) < ($1.schema, $1.name) }
    }

    /// The lines of the load's output drctl keeps (`CommandPipeline.Output.lines(startingWith:)`): COPY echoes
    /// and tags, and the command tags of the other row-changing statements. Echoed `SELECT` and `UPDATE`
    /// statements are kept too (a prefix cannot tell them from tags); `INSERT 0 ` keeps the tags only.
    public static let reportedLines = ["COPY ", "INSERT 0 ", "UPDATE ", "DELETE ", "MERGE ", "TRUNCATE ", "SELECT "]

    /// More kept output than this and the report is not trusted: `CommandRunner` keeps up to its `outputLimit`
    /// (64 MiB by default) and drops later lines without a trace, which could be a row-changing tag.
    static let trustedReportBytes = 16 * 1024 * 1024

    /// Pairs each COPY echo with the `COPY n` right after it; nil when the counts cannot be trusted (see the
    /// type's description).
    public static func parse(_ output: String) -> CopyRowCounts? {
        guard output.utf8.count <= trustedReportBytes else { return nil }
        var rows: [Table] = []
        var pending: (schema: String, name: String)?
        for line in output.split(separator: "\n", omittingEmptySubsequences: true) {
            if let count = tagCount(line, tag: "COPY ") {
                guard let table = pending else { return nil }
                rows.append(Table(schema: table.schema, name: table.name, rows: count))
                pending = nil
                continue
            }
            // An echo whose tag did not follow: psql did not report it the way this reading expects.
            guard pending == nil else { return nil }
            if line.hasPrefix("COPY ") {
                guard let table = copiedTable(line) else { return nil }
                pending = table
            } else if changesRows(line) {
                return nil
            }
        }
        guard pending == nil else { return nil }
        var sums: [String: Table] = [:]
        for table in rows {
            let key = table.schema + "\u{0}" + table.name
            sums[key, default: Table(schema: table.schema, name: table.name, rows: 0)].rows += table.rows
        }
        return CopyRowCounts(tables: Array(sums.values))
    }

    /// `n` of a command tag `TAG n` (the whole line); nil for anything else, such as an echoed statement.
    private static func tagCount(_ line: Substring, tag: String) -> Int64? {
        guard line.hasPrefix(tag) else { return nil }
        let digits = line.dropFirst(tag.count)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int64(digits)
    }

    /// The command tag of a row-changing statement other than COPY (`SELECT n`: `SELECT … INTO`, `CREATE TABLE
    /// AS`); echoed statements (`SELECT pg_catalog.setval(…);`, `UPDATE t SET …`) are not tags.
    private static func changesRows(_ line: Substring) -> Bool {
        if line == "TRUNCATE TABLE" { return true }
        return ["INSERT 0 ", "UPDATE ", "DELETE ", "MERGE ", "SELECT "].contains { tagCount(line, tag: $0) != nil }
    }

    /// The table of pg_dump's `COPY schema.table (columns) FROM stdin;` (names quoted by `fmtId` or, with
    /// `--quote-all-identifiers`, always); nil for any other COPY statement.
    static func copiedTable(_ line: Substring) -> (schema: String, name: String)? {
        var rest = line.dropFirst("COPY ".count)
        guard let schema = identifier(&rest), rest.first == "." else { return nil }
        rest = rest.dropFirst()
        guard let name = identifier(&rest), rest.first == " ", rest.hasSuffix(" FROM stdin;") else { return nil }
        return (schema, name)
    }

    /// Reads one identifier from the start of `text`: `"…"` with `""` for a quote, or the lower-case letters,
    /// digits, `_` and `$` pg_dump leaves unquoted.
    private static func identifier(_ text: inout Substring) -> String? {
        if text.first == "\"" {
            var name = ""
            var index = text.index(after: text.startIndex)
            while index < text.endIndex {
                let character = text[index]
                index = text.index(after: index)
                guard character == "\"" else {
                    name.append(character)
                    continue
                }
                guard index < text.endIndex, text[index] == "\"" else {
                    text = text[index...]
                    return name.isEmpty ? nil : name
                }
                name.append("\"")
                index = text.index(after: index)
            }
            return nil
        }
        let plain = text.prefix { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_" || $0 == "$") }
        guard let first = plain.first, !first.isNumber, first != "$" else { return nil }
        text = text.dropFirst(plain.count)
        return String(plain)
    }
}
