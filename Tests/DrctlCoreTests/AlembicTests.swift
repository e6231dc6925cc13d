import DrctlCore
import Foundation
import Testing

@Suite struct AlembicTests {
    let alembic = Alembic(configPath: "alembic.ini", extraArguments: ["tenant=valeo"], workingDirectory: "/srv/app")

    @Test func globalOptionsComeBeforeTheSubcommand() {
        #expect(alembic.current().arguments == ["-c", "alembic.ini", "-x", "tenant=valeo", "current"])
        #expect(alembic.current().workingDirectory == "/srv/app")
        #expect(Alembic().heads().arguments == ["heads"])
        #expect(Alembic().history().arguments == ["history"])
    }

    @Test func upgradeAndDowngrade() {
        #expect(Alembic().upgrade().arguments == ["upgrade", "head"])
        #expect(Alembic().upgrade(to: "0003").arguments == ["upgrade", "0003"])
        #expect(Alembic().downgrade(.steps(1)).arguments == ["downgrade", "-1"])
        #expect(Alembic().downgrade(.steps(3)).arguments == ["downgrade", "-3"])
        #expect(Alembic().downgrade(.revision("0002")).arguments == ["downgrade", "0002"])
        #expect(Alembic().downgrade(.base).arguments == ["downgrade", "base"])
    }

    @Test func passwordInEnvironmentIsRedacted() {
        let withSecret = Alembic(environment: ["DB_PASSWORD": "s3cret"], secrets: ["s3cret"]).current()
        #expect(withSecret.environment["DB_PASSWORD"] == "s3cret")
        #expect(!withSecret.redactedCommandLine.contains("s3cret"))
    }

    // Outputs captured from alembic 1.20 (stdout only; its INFO lines go to stderr).
    @Test func parsesCurrent() throws {
        #expect(try Alembic.parseCurrent("0003 (head)\n") == [AlembicRevision(id: "0003", markers: ["head"])])
        #expect(try Alembic.parseCurrent("0002\n") == [AlembicRevision(id: "0002")])
        #expect(try Alembic.parseCurrent("") == [])
        #expect(try Alembic.parseCurrent("0004a (head)\n0004b (head)\n").map(\.id) == ["0004a", "0004b"])
        let merged = try Alembic.parseCurrent("0005 (head) (mergepoint)\n")
        #expect(merged == [AlembicRevision(id: "0005", markers: ["head", "mergepoint"])])
        #expect(merged.first?.isHead == true)
        let withLog = "INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.\n0003 (head)\n"
        #expect(try Alembic.parseCurrent(withLog).map(\.id) == ["0003"])
    }

    @Test func parsesHeads() throws {
        #expect(try Alembic.parseRevisions("0003 (head)\n").map(\.isHead) == [true])
    }

    @Test func parsesHistory() throws {
        let output = """
            0004a, 0004b -> 0005 (head) (mergepoint), merge ab
            0003 -> 0004a, branch a
            0002 -> 0003 (branchpoint), step 0003
            0001 -> 0002, add invoices, with a comma
            <base> -> 0001, step 0001

            """
        let history = try Alembic.parseHistory(output)
        #expect(history.map(\.revision.id) == ["0005", "0004a", "0003", "0002", "0001"])
        #expect(history[0].parents == ["0004a", "0004b"])
        #expect(history[0].revision.markers == ["head", "mergepoint"])
        #expect(history[2].revision.markers == ["branchpoint"])
        #expect(history[3].message == "add invoices, with a comma")
        #expect(history[4].parents == [])
        #expect(throws: ToolOutputError.self) { try Alembic.parseHistory("Rev: 0003 (head)\n") }
    }

    @Test func classifiesAlembicsOwnFailure() {
        let invocation = Alembic().upgrade(to: "9999")
        let result = CommandResult(
            invocation: invocation, status: .exited(255),
            standardOutput: Data("FAILED: Can't locate revision identified by '9999'\n".utf8),
            standardErrorTail: "ERROR [alembic.util.messaging] Can't locate revision identified by '9999'")
        let error = Alembic.classifyFailure(result)
        #expect(
            error
                == .alembicFailed(
                    command: "alembic upgrade 9999", message: "Can't locate revision identified by '9999'"))
        #expect(error?.localizedDescription.contains("was not changed") == true)
    }

    @Test func classifiesDatabaseErrors() {
        let stderr = """
            Traceback (most recent call last):
              File "/venv/lib/python3.11/site-packages/psycopg/connection.py", line 126, in connect
                raise last_ex.with_traceback(None)
            sqlalchemy.exc.OperationalError: (psycopg.OperationalError) connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused
            \tIs the server running on that host and accepting TCP/IP connections?
            (Background on this error at: https://sqlalche.me/e/21/e3q8)
            """
        let result = CommandResult(invocation: Alembic().current(), status: .exited(1), standardErrorTail: stderr)
        guard case .databaseError(_, let message) = Alembic.classifyFailure(result) else {
            Issue.record("expected a database error")
            return
        }
        #expect(message.contains("Connection refused"))
    }

    @Test func classifiesUsageAndSuccess() {
        let usage = CommandResult(
            invocation: Alembic().current(), status: .exited(2),
            standardErrorTail: "usage: alembic [-h] ...\nalembic: error: unrecognized arguments: --badflag")
        #expect(
            Alembic.classifyFailure(usage)
                == .usage(command: "alembic current", message: "alembic: error: unrecognized arguments: --badflag"))
        #expect(Alembic.classifyFailure(CommandResult(invocation: Alembic().current(), status: .exited(0))) == nil)
    }
}
