import Foundation

/// What a database holds, as a backup's content record states it and a restore checks it: the cluster, and per
/// table its row count and a digest of its schema.
public struct PostgresContent: Sendable, Hashable, Codable {
    public var database: String
    /// `pg_control_system().system_identifier`: which cluster the dump was taken from.
    public var systemIdentifier: String
    /// `server_version_num`, e.g. `150018`.
    public var serverVersion: String
    /// Sorted by name.
    public var tables: [Table]

    public struct Table: Sendable, Hashable, Codable {
        /// `schema.table`, each part quoted as needed (`format('%I.%I')`).
        public var name: String
        public var rows: Int64
        /// SHA-256 over the table's columns (name, type, not null, default), constraints and indexes.
        public var schemaDigest: String

        public init(name: String, rows: Int64, schemaDigest: String) {
            self.name = name
            self.rows = rows
            self.schemaDigest = schemaDigest
        }
    }

    public init(database: String, systemIdentifier: String, serverVersion: String, tables: [Table]) {
        self.database = database
        self.systemIdentifier = systemIdentifier
        self.serverVersion = serverVersion
        self.tables = tables.sorted { $0.name < $1.name }
    }

    /// How `loaded` differs from this (the recorded content), first differences first; empty when they agree
    /// in table set, row counts and schema digests.
    public func differences(from loaded: PostgresContent) -> [String] {
        var result: [String] = []
        let recorded = Dictionary(tables.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let found = Dictionary(loaded.tables.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for table in tables {
            guard let other = found[table.name] else {
                result.append("table \(table.name) is missing (recorded with \(table.rows) rows)")
                continue
            }
            if other.rows != table.rows {
                result.append("table \(table.name) has \(other.rows) rows, the record says \(table.rows)")
            }
            if other.schemaDigest != table.schemaDigest {
                result.append("table \(table.name) has another schema (columns, constraints or indexes)")
            }
        }
        for table in loaded.tables where recorded[table.name] == nil {
            result.append("table \(table.name) is not in the record")
        }
        return result
    }
}

extension Postgres {
    /// One query for `PostgresContent`, the same at backup time (in the dump's snapshot) and after a load: a `D`
    /// row (database, system identifier, server version), then a `T` row per table (name, row count, schema
    /// digest). Row counts come from `query_to_xml(count(*))`, so one statement covers every table.
    static let contentSQL = contentQueryText(copied: nil)

    /// `contentSQL`, with the rows a load's COPY reports gave (`copied`, as quoted literals) taken for those
    /// tables instead of counting them: only for a plain table (`r`) without inheritance children or partitions,
    /// whose `count(*)` is what was copied into it; every other table is counted. nil or empty: `contentSQL`.
    static func contentQueryText(copied: CopyRowCounts?) -> String {
        let counted =
            "(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname),"
            + "\n    false, true, '')))[1]::text"
        var with = ""
        var rows = counted
        if let copied, !copied.tables.isEmpty {
            let values = copied.tables.map {
                "(\(PostgresQuoting.literal($0.schema)), \(PostgresQuoting.literal($0.name)), \($0.rows)::bigint)"
            }
            with =
                "WITH copied(nspname, relname, copied_rows) AS (VALUES\n  " + values.joined(separator: ",\n  ") + ")\n"
            rows = """
                coalesce((SELECT k.copied_rows::text FROM copied k WHERE k.nspname = n.nspname::text AND k.relname = c.relname::text
                    AND c.relkind = 'r' AND NOT EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = c.oid)),
                  \(counted))
                """
        }
        return with + """
            SELECT 'D', current_database(), coalesce((SELECT system_identifier::text FROM pg_control_system()), ''), \
            current_setting('server_version_num')
            UNION ALL
            SELECT 'T', format('%I.%I', n.nspname, c.relname),
              \(rows),
              encode(sha256(convert_to(concat_ws(E'\\n--\\n',
                (SELECT string_agg(concat_ws(' ', quote_ident(a.attname), format_type(a.atttypid, a.atttypmod),
                    CASE WHEN a.attnotnull THEN 'not null' END, pg_get_expr(d.adbin, d.adrelid)), E'\\n' ORDER BY a.attnum)
                   FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
                (SELECT string_agg(quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid), E'\\n' ORDER BY k.conname)
                   FROM pg_constraint k WHERE k.conrelid = c.oid),
                (SELECT string_agg(pg_get_indexdef(i.indexrelid), E'\\n' ORDER BY 1) FROM pg_index i
                  WHERE i.indrelid = c.oid)), 'UTF8')), 'hex')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%';
            """
    }

    /// `psql -At -c CONTENT_SQL` on the connection's database; read with `parseContent`.
    public func contentQuery() -> CommandInvocation { query(Self.contentSQL) }

    /// The content query after a plain-format load, taking the rows of `copied` (the load's COPY reports) instead
    /// of counting them; the query goes on psql's standard input (one row per table would outgrow an argument).
    public func contentQuery(copied: CopyRowCounts) -> CommandInvocation {
        psql(on: connection, ["-At"], standardInput: .bytes(Data(Self.contentQueryText(copied: copied).utf8)))
    }

    /// A psql session that holds one snapshot for a dump: `BEGIN ISOLATION LEVEL REPEATABLE READ`, writes
    /// `pg_export_snapshot()` into `snapshotFile` (for `pg_dump --snapshot`), then reads `gate` (a FIFO) to its
    /// end, which comes when drctl closes it after the dump, and reads the content in the same snapshot.
    public func snapshotSession(snapshotFile: String, gate: String) -> CommandInvocation {
        func quoted(_ path: String) -> String { "'" + path.replacingOccurrences(of: "'", with: "''") + "'" }
        let script = """
            BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;
            \\o \(quoted(snapshotFile))
            SELECT pg_export_snapshot();
            \\o
            \\i \(quoted(gate))
            \(Self.contentSQL)
            COMMIT;

            """
        return psql(on: connection, ["-q", "-At"], standardInput: .bytes(Data(script.utf8)))
    }

    /// Reads `contentQuery`'s (or `snapshotSession`'s) output; nil when it holds no `D` row.
    public static func parseContent(_ output: String) -> PostgresContent? {
        var header: [String]?
        var tables: [PostgresContent.Table] = []
        for row in parseRows(output) {
            if row.first == "D", row.count >= 4 { header = row }
            if row.first == "T", row.count >= 4 {
                let digest = row[row.count - 1]
                let rows = Int64(row[row.count - 2]) ?? -1
                let name = row[1..<(row.count - 2)].joined(separator: "|")
                tables.append(.init(name: name, rows: rows, schemaDigest: digest))
            }
        }
        guard let header else { return nil }
        return PostgresContent(
            database: header[1], systemIdentifier: header[2], serverVersion: header[3], tables: tables)
    }
}
