import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// A transaction of the stack's superuser that holds a lock and has not committed; what waits on the lock goes on
/// once `release` rolls it back. A state the test controls, not a delay:
/// - `init(stack:role:)` has dropped `role`: any GRANT to it (the restore of a backup that grants to it) waits;
/// - `init(stack:database:lockingTable:)` has locked a table: a pg_dump of it waits for its ACCESS SHARE lock.
final class LockHold: Sendable {
    private let process: Process
    private let input: Pipe

    /// Runs `body` with a new role of the stack, which the stack's user is a member of (for a backup to grant to or
    /// to give a schema to, so that the load can be held there), and drops it afterwards: after `body`, whose
    /// fixtures have dropped the databases that hold grants to it or objects it owns.
    static func withRole(_ body: (String) async throws -> Void) async throws {
        let stack = try StackEnvironment.current(requiring: ["psql"])
        let role = "drctl_hold_\(UUID().uuidString.prefix(8).lowercased())"
        try await superuser(
            stack, "CREATE ROLE \(role); GRANT \(role) TO \(PostgresQuoting.identifier(stack.postgresUser))")
        do {
            try await body(role)
        } catch {
            _ = try? await superuser(stack, "DROP ROLE IF EXISTS \(role)")
            throw error
        }
        try await superuser(stack, "DROP ROLE IF EXISTS \(role)")
    }

    convenience init(stack: StackEnvironment, role: String) async throws {
        try await self.init(stack: stack, database: "postgres", holding: "DROP ROLE \(role)", lockType: "object")
    }

    convenience init(stack: StackEnvironment, database: String, lockingTable table: String) async throws {
        try await self.init(
            stack: stack, database: database, holding: "LOCK TABLE \(table) IN ACCESS EXCLUSIVE MODE",
            lockType: "relation")
    }

    private init(stack: StackEnvironment, database: String, holding statement: String, lockType: String) async throws {
        let process = Process()
        process.executableURL = URL(
            fileURLWithPath: try TestPrograms.requireOnPath("psql", install: "apt-get install postgresql-client"))
        process.arguments = Self.arguments(stack, database: database) + ["-q"]
        var environment = stack.variables
        environment["PGAPPNAME"] = "drctl-test-hold"
        process.environment = environment
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        self.input = input
        try input.fileHandleForWriting.write(contentsOf: Data("BEGIN;\n\(statement);\n".utf8))
        for _ in 0..<600 {
            let held = try await Self.superuser(
                stack,
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                    + " WHERE a.application_name = 'drctl-test-hold' AND l.locktype = '\(lockType)'"
                    + " AND l.mode = 'AccessExclusiveLock' AND l.granted")
            if held != "0" { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw LockHoldError.notHeld
    }

    /// Ends the holding psql if it still runs (a test that failed before `release`): its transaction rolls back.
    func terminate() {
        if process.isRunning { process.terminate() }
        try? input.fileHandleForWriting.close()
    }

    /// Rolls the drop back: the role is there again and the waiting GRANT goes on.
    func release() async throws {
        try input.fileHandleForWriting.write(contentsOf: Data("ROLLBACK;\n".utf8))
        try input.fileHandleForWriting.close()
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
    }

    /// A backend waits on a lock (the one held): one connected to `database`, or with `restoreCopy` to one of its
    /// `DATABASE_restore_…` copies (a restore's load, e.g. the load Job's psql on the held role); with
    /// `application`, only that program's (`pg_dump` on the held table).
    static func backendWaits(
        _ stack: StackEnvironment, database: String, restoreCopy: Bool = false, application: String? = nil
    ) async throws -> Bool {
        var condition =
            restoreCopy
            ? "datname LIKE "
                + PostgresQuoting.literal(database.replacingOccurrences(of: "_", with: "\\_") + "\\_restore\\_%")
            : "datname = " + PostgresQuoting.literal(database)
        if let application { condition += " AND application_name = " + PostgresQuoting.literal(application) }
        let count = try await superuser(
            stack, "SELECT count(*) FROM pg_stat_activity WHERE \(condition) AND wait_event_type = 'Lock'")
        return count != "0"
    }

    @discardableResult
    static func superuser(_ stack: StackEnvironment, _ sql: String) async throws -> String {
        let result = try await CommandRunner().runChecked(
            CommandInvocation(
                try TestPrograms.requireOnPath("psql", install: "apt-get install postgresql-client"),
                arguments(stack) + ["-Atc", sql]))
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func arguments(_ stack: StackEnvironment, database: String = "postgres") -> [String] {
        [
            "-X", "-v", "ON_ERROR_STOP=1", "-h", stack.postgresHost, "-p", String(stack.postgresPort), "-U",
            stack.postgresSuperuser, "-d", database,
        ]
    }
}

enum LockHoldError: Error { case notHeld }

/// Where the load of a backup waits while a test holds `role` (`LockHold(stack:role:)`).
enum HeldLoad: Sendable {
    /// The backup grants SELECT on a table to the role. pg_dump writes grants last: the load waits after its rows.
    case atItsEnd(role: String)
    /// The backup's first object is a schema the role owns, and 4 MiB of random rows come after it: the load waits
    /// before any row, and so does a stream that feeds it (its aws, gzip and psql block on full pipes).
    case atItsStart(role: String)
}
