import Foundation
import Testing

@testable import DrctlCore

@Suite struct PostgresTests {
    let connection = PostgresConnection(
        host: "db.internal", port: 5433, user: "valeo", database: "valeo_erp", password: "s3cret")
    var postgres: Postgres { Postgres(connection: connection) }
    let target = ["-h", "db.internal", "-p", "5433", "-U", "valeo", "-d", "valeo_erp", "-w"]
    let admin = ["-h", "db.internal", "-p", "5433", "-U", "valeo", "-d", "postgres", "-w"]
    let psql = ["-X", "-v", "ON_ERROR_STOP=1"]

    @Test func query() {
        let invocation = postgres.query("SELECT COUNT(*) FROM documents_header")
        #expect(invocation.executable == "psql")
        #expect(invocation.arguments == psql + target + ["-At", "-c", "SELECT COUNT(*) FROM documents_header"])
    }

    @Test func passwordTravelsOnlyInTheEnvironment() throws {
        let invocations = [
            postgres.query("SELECT 1"), postgres.dump(), postgres.dump(format: .custom, file: "/b/x.dump"),
            postgres.restoreArchive(file: "/b/x.dump"), postgres.createDatabase("t"), postgres.dropDatabase("t"),
            postgres.renameDatabase("a", to: "b"), postgres.databaseExists("t"), postgres.runScript(),
            try postgres.copyOut(query: "SELECT * FROM t"), postgres.copyIn(table: "t", from: "/tmp/rows.csv"),
        ]
        for invocation in invocations {
            #expect(!invocation.arguments.contains { $0.contains("s3cret") })
            #expect(!invocation.redactedCommandLine.contains("s3cret"))
            #expect(invocation.environment == ["PGPASSWORD": "s3cret"])
            #expect(invocation.secrets == ["s3cret"])
        }
        #expect(postgres.query("SELECT 1").redactedCommandLine.hasPrefix("PGPASSWORD='***' psql -X"))
    }

    @Test func noPasswordNoEnvironment() {
        var trusting = connection
        trusting.password = nil
        #expect(Postgres(connection: trusting).query("SELECT 1").environment.isEmpty)
    }

    @Test func dumpsAndRestores() {
        #expect(postgres.dump().executable == "pg_dump")
        #expect(postgres.dump().arguments == target)
        #expect(postgres.dump(format: .custom, file: "/b/x.dump").arguments == target + ["-Fc", "-f", "/b/x.dump"])
        #expect(
            postgres.restoreArchive(file: "/b/x.dump", jobs: 4).arguments
                == target + ["--exit-on-error", "-j", "4", "--no-owner", "/b/x.dump"])
        #expect(
            postgres.restoreArchive(file: "/b/x.dump", jobs: 2, clean: true, noOwner: false).arguments
                == target + ["--exit-on-error", "-j", "2", "--clean", "--if-exists", "/b/x.dump"])
        #expect(postgres.runScript().arguments == psql + target + ["-q"])
        #expect(
            postgres.runScript(file: "x.sql", singleTransaction: true).arguments == psql + target + [
                "-q", "--single-transaction", "-f", "x.sql",
            ])
    }

    @Test func databaseLifecycleRunsOnTheAdminDatabase() {
        #expect(
            postgres.databaseExists("valeo_erp").arguments == psql + admin + [
                "-At", "-c", "SELECT 1 FROM pg_database WHERE datname = 'valeo_erp'",
            ])
        #expect(
            postgres.createDatabase("valeo_erp_restore").arguments == psql + admin + [
                "-v", "VERBOSITY=verbose", "-At", "-c", "CREATE DATABASE \"valeo_erp_restore\"",
            ])
        #expect(postgres.createDatabase("x", owner: "valeo").arguments.last == "CREATE DATABASE \"x\" OWNER \"valeo\"")
        #expect(postgres.dropDatabase("x").arguments.last == "DROP DATABASE IF EXISTS \"x\"")
        #expect(postgres.dropDatabase("x", force: true).arguments.last == "DROP DATABASE IF EXISTS \"x\" WITH (FORCE)")
        #expect(postgres.renameDatabase("a", to: "b").arguments.last == "ALTER DATABASE \"a\" RENAME TO \"b\"")
        #expect(
            Postgres(connection: connection, adminDatabase: "template1").createDatabase("x").arguments.contains(
                "template1"))
    }

    @Test func copyOutAndIn() throws {
        #expect(
            try postgres.copyOut(query: "SELECT * FROM documents_header WHERE id > 10;").arguments
                == psql + target + [
                    "-c", "\\copy (SELECT * FROM documents_header WHERE id > 10) TO STDOUT WITH CSV HEADER",
                ])
        #expect(throws: PostgresError.self) { try postgres.copyOut(query: "SELECT *\nFROM t") }
        let copyIn = postgres.copyIn(table: "public.documents_header", columns: ["id", "title"], from: "/tmp/rows.csv")
        #expect(
            copyIn.arguments == psql + target + [
                "-c", "\\copy \"public\".\"documents_header\" (\"id\", \"title\") FROM STDIN WITH CSV HEADER",
            ])
        #expect(copyIn.standardInput == .file("/tmp/rows.csv"))
        #expect(postgres.copyIn(table: "t").standardInput == .none)
    }

    @Test func databaseNamesStayNames() {
        let hostile = PostgresConnection(host: "h", user: "u", database: "x host=evil.example.com")
        #expect(Postgres(connection: hostile).dump().arguments[7] == "dbname='x host=evil.example.com'")
        let quoted = PostgresConnection(host: "h", user: "u", database: "a='b\\")
        #expect(Postgres(connection: quoted).dump().arguments[7] == "dbname='a=\\'b\\\\'")
        #expect(Postgres(connection: connection).dump().arguments[7] == "valeo_erp")
    }

    @Test func quoting() {
        #expect(PostgresQuoting.literal("valeo_erp") == "'valeo_erp'")
        #expect(PostgresQuoting.literal("x'; DROP DATABASE valeo_erp; --") == "'x''; DROP DATABASE valeo_erp; --'")
        #expect(PostgresQuoting.literal("a\\b'c") == "E'a\\\\b''c'")
        #expect(PostgresQuoting.identifier("Valeo \"ERP\"") == "\"Valeo \"\"ERP\"\"\"")
        #expect(PostgresQuoting.qualifiedIdentifier("s.t") == "\"s\".\"t\"")
        let hostile = Postgres(connection: connection).databaseExists("x' OR '1'='1")
        #expect(hostile.arguments.last == "SELECT 1 FROM pg_database WHERE datname = 'x'' OR ''1''=''1'")
    }

    // `psql -X -At` output captured from PostgreSQL 15.
    @Test func parsesAtOutput() {
        #expect(Postgres.parseRows("1|valeo_erp|t\n2||f\n") == [["1", "valeo_erp", "t"], ["2", "", "f"]])
        #expect(Postgres.parseValue("42\n") == "42")
        #expect(Postgres.parseValue("") == nil)
        #expect(Postgres.parseExists("1\n"))
        #expect(!Postgres.parseExists(""))
    }
}
