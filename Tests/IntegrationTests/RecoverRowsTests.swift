import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl recover-rows` on the local stack: deleted rows come back exactly, once, also when run twice; hostile
/// ids are just ids; unknown names are clear errors; the temporary database is gone afterwards.
@Suite("Recover rows on the local stack")
struct RecoverRowsTests {
    static let hostile = "O'Brien; DROP TABLE x; --"

    func recover(
        _ fixture: RecoveryFixture, table: String = "documents_header", key: String = "id", ids: [String],
        filters: [RowSelection.Filter] = [], keepTemp: Bool = false, dryRun: Bool = false, overwrite: Bool = false
    ) async -> (any Error)? {
        do {
            let options = RecoverRowsScenario.Options(
                selection: RowSelection(table: table, key: key, ids: ids, filters: filters, overwrite: overwrite),
                before: fixture.clock.now(), keepTemp: keepTemp, dryRun: dryRun)
            let scenario = RecoverRowsScenario(
                toolbox: fixture.toolbox, options: options, workRoot: fixture.workRoot,
                spaceCheck: DatabaseSpaceCheck { _ in nil })
            let service = RunService(
                backend: LocalStateBackend(root: fixture.stateDirectory), runner: fixture.runner,
                events: EventRecorder())
            try await service.start(try scenario.runbook())
            return nil
        } catch {
            return error
        }
    }

    @Test("the deleted rows come back exactly, nothing twice, also when run twice; hostile ids are harmless")
    func recoversDeletedRows() async throws {
        let fixture = try RecoveryFixture()
        try await fixture.seed()
        let headerSum =
            "SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM documents_header t"
            + " WHERE id <> 'DOC-1'"
        let source = try await fixture.query(headerSum)
        try await fixture.createBackup()
        let ids = ["DOC-7", "DOC-42", "DOC-2999", Self.hostile]
        _ = try await fixture.query(
            "DELETE FROM documents_line WHERE header_id IN ('DOC-7', 'DOC-42', 'DOC-2999');"
                + " DELETE FROM documents_header WHERE id IN ('DOC-7', 'DOC-42', 'DOC-2999', 'O''Brien; DROP TABLE x; --')"
        )
        // A row changed after the backup stays as it is (skip, not overwrite).
        _ = try await fixture.query("UPDATE documents_header SET title = 'neu' WHERE id = 'DOC-1'")

        let first = await recover(fixture, ids: ids + ["DOC-1"])
        #expect(first == nil, "\(String(describing: first))")
        let second = await recover(fixture, ids: ids + ["DOC-1"])
        #expect(second == nil, "\(String(describing: second))")

        #expect(try await fixture.query(headerSum) == source)
        #expect(try await fixture.query("SELECT count(*) FROM documents_header") == "3001")
        #expect(try await fixture.query("SELECT title FROM documents_header WHERE id = 'DOC-1'") == "neu")
        #expect(try await fixture.query("SELECT to_regclass('public.x') IS NULL") == "t")
        #expect(try await fixture.databases(like: fixture.database + "_recover_%").isEmpty)
        await fixture.cleanUp()
    }

    @Test("recovered rows are byte-identical to the backup's (unicode, NULLs)")
    func identicalRows() async throws {
        let fixture = try RecoveryFixture()
        try await fixture.seed()
        let rowSum =
            "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM documents_header t WHERE id IN"
            + " ('DOC-7', 'DOC-77', 'DOC-11', 'O''Brien; DROP TABLE x; --')"
        let original = try await fixture.query(rowSum)
        try await fixture.createBackup()
        _ = try await fixture.query(
            "DELETE FROM documents_line WHERE header_id IN ('DOC-7', 'DOC-77', 'DOC-11');"
                + " DELETE FROM documents_header WHERE id IN ('DOC-7', 'DOC-77', 'DOC-11', 'O''Brien; DROP TABLE x; --')"
        )
        let error = await recover(fixture, ids: ["DOC-7", "DOC-77", "DOC-11", Self.hostile])
        #expect(error == nil, "\(String(describing: error))")
        #expect(try await fixture.query(rowSum) == original)
        await fixture.cleanUp()
    }

    @Test("--dry-run imports nothing; --where selects by column; --keep-temp keeps the temporary database")
    func dryRunAndWhere() async throws {
        let fixture = try RecoveryFixture()
        try await fixture.seed()
        try await fixture.createBackup()
        _ = try await fixture.query("DELETE FROM customers WHERE id IN (3, 4)")

        let dry = await recover(fixture, table: "customers", ids: ["3", "4"], dryRun: true)
        #expect(dry == nil, "\(String(describing: dry))")
        #expect(try await fixture.query("SELECT count(*) FROM customers") == "498")
        #expect(try await fixture.databases(like: fixture.database + "_recover_%").isEmpty)

        let filtered = await recover(
            fixture, table: "customers", ids: [], filters: [.init(column: "name", value: "Kunde 4 😀")],
            keepTemp: true)
        #expect(filtered == nil, "\(String(describing: filtered))")
        #expect(try await fixture.query("SELECT string_agg(id::text, ',') FROM customers WHERE id IN (3, 4)") == "4")
        #expect(try await fixture.databases(like: fixture.database + "_recover_%").count == 1)
        await fixture.cleanUp()
    }

    @Test("unknown table or column: a clear error listing what exists, production untouched, temp dropped")
    func unknownNames() async throws {
        let fixture = try RecoveryFixture()
        try await fixture.seed()
        try await fixture.createBackup()
        let before = try await fixture.tableChecksums()

        let table = await recover(fixture, table: "documents_headr", ids: ["DOC-1"])
        let tableMessage = try #require(table).localizedDescription
        #expect(tableMessage.contains("table documents_headr does not exist"), "\(tableMessage)")
        #expect(tableMessage.contains("public.documents_header"))

        let column = await recover(fixture, key: "id\"; DROP TABLE customers; --", ids: ["DOC-1"])
        let columnMessage = try #require(column).localizedDescription
        #expect(columnMessage.contains("has no column"), "\(columnMessage)")
        #expect(columnMessage.contains("title"))

        let missing = await recover(fixture, ids: ["DOC-999999"])
        #expect(missing?.localizedDescription.contains("not in documents_header of backup") == true)

        #expect(try await fixture.tableChecksums() == before)
        #expect(try await fixture.databases(like: fixture.database + "_recover_%").isEmpty)
        await fixture.cleanUp()
    }
}
