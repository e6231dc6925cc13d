import DrctlCore
import Foundation

/// The local stack's exports (`scripts/stack env`), read from the test process's environment; `scripts/test`
/// loads them. Integration tests call `StackEnvironment.current()` first: without the stack they fail with the
/// step to take, they never skip.
public struct StackEnvironment: Sendable {
    public let variables: [String: String]

    public static let requiredVariables = [
        "DRCTL_STACK_DIR", "PGHOST", "PGPORT", "DRCTL_PG_SUPERUSER", "DRCTL_PG_USER", "DRCTL_PG_PASSWORD",
        "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
    ]

    /// The stack's variables; throws naming `scripts/stack up` when any is missing, and `scripts/bootstrap` when
    /// one of `programs` is not on `PATH`.
    public static func current(
        requiring programs: [String] = [],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> StackEnvironment {
        let missing = requiredVariables.filter { (environment[$0] ?? "").isEmpty }
        guard missing.isEmpty else { throw StackEnvironmentError.variablesMissing(missing) }
        let stack = StackEnvironment(variables: environment)
        for program in programs where !stack.isOnPath(program) {
            throw StackEnvironmentError.programMissing(program)
        }
        return stack
    }

    public var stackDirectory: String { variables["DRCTL_STACK_DIR"] ?? "" }
    public var postgresHost: String { variables["PGHOST"] ?? "127.0.0.1" }
    public var postgresPort: Int { Int(variables["PGPORT"] ?? "") ?? 5432 }
    /// The password role (`valeo`, CREATEDB).
    public var postgresUser: String { variables["DRCTL_PG_USER"] ?? "" }
    public var postgresPassword: String { variables["DRCTL_PG_PASSWORD"] ?? "" }
    public var postgresSuperuser: String { variables["DRCTL_PG_SUPERUSER"] ?? "postgres" }

    /// A connection as the password role to `database`.
    public func connection(database: String) -> PostgresConnection {
        PostgresConnection(
            host: postgresHost, port: postgresPort, user: postgresUser, database: database,
            password: postgresPassword)
    }

    /// `Tests/DrctlTestSupport/StackEnvironment.swift` → the repository root (scripts/, charts/, .tools/).
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    public var projectRoot: String { Self.repositoryRoot }

    /// A program installed by `scripts/bootstrap` (`bin/helm` → `.tools/bin/helm`), else found on `PATH`.
    public func tool(_ relativePath: String) throws -> String {
        let local = projectRoot + "/.tools/" + relativePath
        if FileManager.default.isExecutableFile(atPath: local) { return local }
        let name = (relativePath as NSString).lastPathComponent
        guard let found = ProgramSearch.find(name, path: variables["PATH"] ?? "") else {
            throw StackEnvironmentError.programMissing(name)
        }
        return found
    }

    /// Drops each of these databases and every database whose name starts with one of them (what a restore left:
    /// `<db>_restore_…`, `<db>_before_…`, `<db>_recover_…`), as the password role; failures are ignored.
    public func dropDatabases(startingWith names: [String]) async {
        let runner = CommandRunner()
        let admin = Postgres(connection: connection(database: "postgres"))
        for database in names {
            let listed = try? await runner.run(
                admin.adminQuery(
                    "SELECT datname FROM pg_database WHERE datname LIKE \(PostgresQuoting.literal(database + "%"))"))
            let found = Postgres.parseRows(listed?.output ?? "").compactMap(\.first)
            for name in Set(found + [database]) {
                _ = try? await runner.run(admin.dropDatabase(name, force: true))
            }
        }
    }

    /// A fresh, lowercase database name for one test.
    public static func uniqueDatabaseName(_ prefix: String) -> String {
        prefix + "_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
    }

    public func isOnPath(_ program: String) -> Bool {
        ProgramSearch.find(program, path: variables["PATH"] ?? "/usr/bin:/bin") != nil
    }
}

public enum StackEnvironmentError: Error, LocalizedError {
    case variablesMissing([String])
    case programMissing(String)

    public var errorDescription: String? {
        switch self {
        case .variablesMissing(let names):
            return "the local stack's environment is missing (\(names.joined(separator: ", "))): run scripts/stack up"
                + " (after scripts/bootstrap), then eval \"$(scripts/stack env)\"; scripts/test does both"
        case .programMissing(let program):
            return "\(program) is not on PATH: run scripts/bootstrap and eval \"$(scripts/stack env)\""
        }
    }
}
