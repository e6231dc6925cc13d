import Foundation
import Testing

@testable import DrctlCore

@Suite("Row selection quoting")
struct RowSelectionTests {
    let hostile = RowSelection(
        table: "public.documents_header", key: "id\"; DROP TABLE x; --",
        ids: ["42", "O'Brien'); DROP TABLE x; --", "a\\b"],
        filters: [.init(column: "state", value: "'; DELETE FROM y; --")])

    @Test("ids and filter values are literals, names are identifiers")
    func quoting() {
        #expect(
            hostile.condition()
                == #""id""; DROP TABLE x; --"::text IN ('42', 'O''Brien''); DROP TABLE x; --', E'a\\b') AND "state"::text = '''; DELETE FROM y; --'"#
        )
        #expect(
            hostile.keysQuery().hasPrefix(
                #"SELECT "id""; DROP TABLE x; --"::text FROM "public"."documents_header" WHERE "#))
    }

    @Test("the import inserts only missing keys; --overwrite updates the others first")
    func importScript() {
        let selection = RowSelection(table: "documents_header", key: "id", ids: ["1"])
        let script = selection.importScript(columns: ["id", "title"])
        #expect(
            script == """
                CREATE TEMP TABLE drctl_recovered AS SELECT "id", "title" FROM "public"."documents_header" WITH NO DATA;
                \\copy drctl_recovered ("id", "title") FROM pstdin WITH CSV HEADER
                INSERT INTO "public"."documents_header" ("id", "title") SELECT s."id", s."title" FROM drctl_recovered AS s WHERE NOT EXISTS (SELECT 1 FROM "public"."documents_header" AS p WHERE p."id" = s."id");

                """)
        var overwrite = selection
        overwrite.overwrite = true
        #expect(
            overwrite.importScript(columns: ["id", "title"]).contains(
                #"UPDATE "public"."documents_header" AS p SET "title" = s."title" FROM drctl_recovered AS s WHERE p."id" = s."id";"#
            ))
    }

    @Test("--where splits at the first =")
    func filterArgument() {
        #expect(RowSelection.Filter(argument: "note=a=b") == .init(column: "note", value: "a=b"))
        #expect(RowSelection.Filter(argument: "=x") == nil)
        #expect(RowSelection.Filter(argument: "novalue") == nil)
    }

    @Test("options round-trip through the journal, ids with commas and quotes intact")
    func optionsRoundTrip() async throws {
        let options = RecoverRowsScenario.Options(
            selection: RowSelection(
                table: "t", key: "k", ids: ["a,b", "c'd"], filters: [.init(column: "x", value: "1")]),
            before: Date(timeIntervalSince1970: 1_759_900_000), keepTemp: true, dryRun: true)
        #expect(try await ScenarioOptionsTests.throughJournal(options) == options)
    }
}
