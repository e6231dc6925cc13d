import Foundation
import Testing

@testable import DrctlCore

/// Reading a plain-format load's psql output (`--echo-queries`, not `-q`) for the rows each COPY loaded, as
/// psql 15 prints it: the statement as pg_dump wrote it, then the server's command tag; the data is not echoed.
@Suite("COPY row counts from the load's psql output")
struct CopyRowCountsTests {
    /// What `CommandPipeline.Output.lines(startingWith: CopyRowCounts.reportedLines)` keeps of a pg_dump load.
    static let pgDumpLoad = #"""
        SELECT pg_catalog.set_config('search_path', '', false);
        SELECT 1;
        COPY "My Schema"."Odd ""T""" (a) FROM stdin;
        COPY 2
        COPY public.p1 (a) FROM stdin;
        COPY 2
        COPY public."select" (a) FROM stdin;
        COPY 1
        COPY public.t (a, b) FROM stdin;
        COPY 3436426
        COPY public.z  FROM stdin;
        COPY 1
        SELECT pg_catalog.setval('public.s', 1, true);

        """#

    @Test func eachCopyEchoIsPairedWithTheTagAfterItAndNamesAreUnquoted() throws {
        let counts = try #require(CopyRowCounts.parse(Self.pgDumpLoad))
        #expect(
            counts.tables == [
                .init(schema: "My Schema", name: "Odd \"T\"", rows: 2),
                .init(schema: "public", name: "p1", rows: 2),
                .init(schema: "public", name: "select", rows: 1),
                .init(schema: "public", name: "t", rows: 3_436_426),
                .init(schema: "public", name: "z", rows: 1),
            ])
    }

    @Test func quoteAllIdentifiersAndRepeatedCopiesIntoOneTable() throws {
        let output = """
            COPY "public"."t" ("a", "b") FROM stdin;
            COPY 5
            COPY "public"."t" ("a", "b") FROM stdin;
            COPY 7

            """
        #expect(CopyRowCounts.parse(output)?.tables == [.init(schema: "public", name: "t", rows: 12)])
    }

    @Test func anInsertsDumpOrAnyOtherRowChangingTagMeansEveryTableIsCounted() {
        // `pg_dump --inserts`: the INSERT statements themselves are not kept (`INSERT 0 ` matches tags only).
        for tag in ["INSERT 0 1", "UPDATE 3", "DELETE 0", "MERGE 2", "TRUNCATE TABLE", "SELECT 10"] {
            let output = "COPY public.t (a) FROM stdin;\nCOPY 5\n\(tag)\n"
            #expect(CopyRowCounts.parse(output) == nil, "\(tag)")
        }
        // Echoed statements are not tags.
        let echoed = "UPDATE public.t SET a = 1;\nSELECT pg_catalog.setval('public.s', 1, true);\n"
        #expect(CopyRowCounts.parse(echoed + "UPDATE 1\n") == nil)
        #expect(CopyRowCounts.parse(echoed)?.tables == [])
    }

    @Test func copyLinesThatAreNotPgDumpsOrNotPairedMeanEveryTableIsCounted() {
        let refused = [
            // An echo without its tag, a tag without its echo, and a tag that is not the one after the echo.
            "COPY public.t (a) FROM stdin;\n",
            "COPY 5\n",
            "COPY public.t (a) FROM stdin;\nSELECT 1;\nCOPY 5\n",
            "COPY public.t (a) FROM stdin;\nCOPY public.u (a) FROM stdin;\nCOPY 5\nCOPY 6\n",
            // Not pg_dump's COPY … FROM stdin: unqualified, from a file, to stdout, upper case unquoted, unclosed.
            "COPY t (a) FROM stdin;\nCOPY 5\n",
            "COPY public.t (a) FROM '/tmp/t.csv';\nCOPY 5\n",
            "COPY public.t (a) TO stdout;\nCOPY 5\n",
            "COPY public.T (a) FROM stdin;\nCOPY 5\n",
            "COPY public.\"t (a) FROM stdin;\nCOPY 5\n",
        ]
        for output in refused {
            #expect(CopyRowCounts.parse(output) == nil, "\(output)")
        }
    }

    @Test func aReportTooLongToTrustIsNotRead() {
        let line = "COPY public.t (a) FROM stdin;\nCOPY 1\n"
        let long = String(repeating: line, count: CopyRowCounts.trustedReportBytes / line.utf8.count + 1)
        #expect(CopyRowCounts.parse(long) == nil)
    }

    @Test func theContentQueryTakesCopiedRowsAsLiteralsOnlyForPlainTablesWithoutChildren() {
        let copied = CopyRowCounts(tables: [.init(schema: "My Schema", name: "it's \\ odd", rows: 42)])
        let sql = Postgres.contentQueryText(copied: copied)
        #expect(
            sql.hasPrefix(
                "WITH copied(nspname, relname, copied_rows) AS (VALUES\n  ('My Schema', E'it''s \\\\ odd', 42::bigint))"
            ))
        #expect(sql.contains("c.relkind = 'r' AND NOT EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = c.oid)"))
        // A table with no COPY (a partitioned parent) or none at all: counted, and the backup's query is unchanged.
        #expect(sql.contains("SELECT count(*) AS c FROM %I.%I"))
        #expect(Postgres.contentQueryText(copied: CopyRowCounts(tables: [])) == Postgres.contentSQL)
        #expect(!Postgres.contentSQL.contains("copied"))
        // The query goes on standard input, never into argv.
        let postgres = Postgres(connection: PostgresConnection(host: "db", user: "u", database: "d"))
        let query = postgres.contentQuery(copied: copied)
        #expect(!query.arguments.joined(separator: " ").contains("My Schema"))
        #expect(query.standardInput == .bytes(Data(sql.utf8)))
    }
}
