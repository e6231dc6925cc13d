import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl rollback migration` with the REAL alembic and the sample project's four revisions on the stack's REAL
/// PostgreSQL, a fresh database per test.
@Suite("Rollback migration (real alembic, real PostgreSQL)")
struct RollbackMigrationTests {
    final class Fixture: @unchecked Sendable {
        let stack: StackEnvironment
        let database: String
        let project: String
        let migrations: String
        let manifestPath: String
        let runner = CommandRunner()
        let environment: String

        /// A fresh database owned by the stack's password role; `branch` adds a second head in a copy of the project.
        /// `failingDowngrade` makes 0004's downgrade drop a column and then fail, in a copy of the project.
        init(environment: String = "sandbox", branch: Bool = false, failingDowngrade: Bool = false) async throws {
            stack = try StackEnvironment.current()
            self.environment = environment
            database = "rollback_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
            project = NSTemporaryDirectory() + "drctl-rollback-migration-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: project + "/manifests", withIntermediateDirectories: true)
            let sample = TestPrograms.projectRoot + "/samples/migrations"
            if branch || failingDowngrade {
                migrations = project + "/migrations"
                try FileManager.default.copyItem(atPath: sample, toPath: migrations)
            } else {
                migrations = sample
            }
            if failingDowngrade {
                let file = migrations + "/versions/0004_add_notes_and_updated_at.py"
                let script = try String(contentsOfFile: file, encoding: .utf8).replacingOccurrences(
                    of: "    op.drop_column(\"documents_header\", \"notes\")",
                    with: "    op.drop_column(\"documents_header\", \"notes\")\n    op.execute(\"SELECT 1/0\")")
                try script.write(toFile: file, atomically: true, encoding: .utf8)
            }
            if branch {
                try """
                \"\"\"a branch off 0003

                Revision ID: 0004b
                Revises: 0003
                \"\"\"

                revision = "0004b"
                down_revision = "0003"
                branch_labels = None
                depends_on = None


                def upgrade() -> None:
                    pass


                def downgrade() -> None:
                    pass
                """.write(toFile: migrations + "/versions/0004b_branch.py", atomically: true, encoding: .utf8)
            }
            manifestPath = project + "/manifests/\(environment).yaml"
            try """
            environment: \(environment)
            kube:
              namespace: unused
            database:
              host: \(stack.postgresHost)
              port: \(stack.postgresPort)
              user: \(stack.postgresUser)
              name: \(database)
              password: { env: DRCTL_PG_PASSWORD }
            backups:
              local: backups
              sizeFloor: 100B
              retention: { daily: 30, monthly: 12 }
            releases:
              postgresql:
                name: postgresql
                chart: bitnami/postgresql
              app:
                name: sample
                chart: ./charts/sample-app
                deployment: sample
                replicas: 1
            readiness:
              url: http://127.0.0.1:1/readyz
            migrations: { directory: \(migrations), config: \(migrations)/alembic.ini }
            objectives: { rpo: 24h, rto: 4h }
            """.write(toFile: manifestPath, atomically: true, encoding: .utf8)
            try await superuserSQL("CREATE DATABASE \(database) OWNER \(stack.postgresUser)")
        }

        /// Drops the database and removes the project copy.
        func tearDown() async {
            try? FileManager.default.removeItem(atPath: project)
            try? await superuserSQL("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
        }

        func superuserSQL(_ sql: String) async throws {
            let postgres = Postgres(
                connection: PostgresConnection(
                    host: stack.postgresHost, port: stack.postgresPort, user: stack.postgresSuperuser,
                    database: "postgres"))
            try await runner.runChecked(postgres.adminQuery(sql))
        }

        func appSQL(_ sql: String) async throws {
            let postgres = Postgres(
                connection: PostgresConnection(
                    host: stack.postgresHost, port: stack.postgresPort, user: stack.postgresUser, database: database,
                    password: stack.postgresPassword))
            try await runner.runChecked(postgres.query(sql))
        }

        func toolbox() throws -> ScenarioToolbox {
            let manifest = try ManifestLoader(environment: stack.variables).load(from: manifestPath)
            var executables = ToolExecutables()
            executables.alembic = try TestPrograms.alembic()
            return ScenarioToolbox(
                manifest: manifest, databasePassword: SecretValue(stack.postgresPassword), executables: executables)
        }

        func alembic() throws -> Alembic {
            try #require(try toolbox().alembic)
        }

        func upgrade(to revision: String = "head") async throws {
            try await runner.runChecked(try alembic().upgrade(to: revision))
        }

        func current() async throws -> String {
            let output = try await runner.runChecked(try alembic().current()).output
            return try Alembic.parseCurrent(output).map(\.id).joined(separator: ",")
        }

        func rollback(_ options: MigrationRollbackScenario.Options) async throws -> RunReport {
            let runbook = try MigrationRollbackScenario(toolbox: try toolbox(), options: options)
                .runbook(parameters: RunParameters(manifest: manifestPath))
            return try await RunService(
                backend: LocalStateBackend(root: project + "/state"), runner: runner,
                events: ClosureEventSink { _ in }
            ).start(runbook)
        }

        /// The failure message of a run that must fail.
        func refusal(_ options: MigrationRollbackScenario.Options) async -> String {
            do {
                _ = try await rollback(options)
                return "(the run succeeded)"
            } catch {
                return (error as? LocalizedError)?.errorDescription ?? "\(error)"
            }
        }
    }

    @Test("downgrade -1 from head: alembic current is 0003, the column of 0004 is gone")
    func downgradeOneStep() async throws {
        let fixture = try await Fixture()
        try await withTearDown(fixture.tearDown) {
            try await fixture.upgrade()
            #expect(try await fixture.current() == "0004")

            let report = try await fixture.rollback(.init())

            #expect(report.status == .succeeded)
            #expect(try await fixture.current() == "0003")
            #expect(report.steps.first { $0.step == "alembic.verify" }?.outputs["current"] == "0003")
            await #expect(throws: CommandFailure.self) {
                try await fixture.appSQL("SELECT notes FROM documents_header")
            }
        }
    }

    @Test("--to 0002")
    func downgradeToRevision() async throws {
        let fixture = try await Fixture()
        try await withTearDown(fixture.tearDown) {
            try await fixture.upgrade()
            let report = try await fixture.rollback(.init(request: .revision("0002")))
            #expect(report.status == .succeeded)
            #expect(try await fixture.current() == "0002")
        }
    }

    @Test("refused at base, saying nothing is applied")
    func refusedAtBase() async throws {
        let fixture = try await Fixture()
        try await withTearDown(fixture.tearDown) {
            let message = await fixture.refusal(.init())
            #expect(message.contains("is at base: no migration is applied"), "\(message)")
        }
    }

    @Test("refused when the database holds a revision the scripts do not know; the database is unchanged")
    func refusedUnknownRevision() async throws {
        let fixture = try await Fixture()
        try await withTearDown(fixture.tearDown) {
            try await fixture.upgrade()
            try await fixture.appSQL("UPDATE alembic_version SET version_num = 'ffff9999'")
            let message = await fixture.refusal(.init())
            #expect(message.contains("holds a revision the migration scripts do not know"), "\(message)")
            #expect(message.contains("ffff9999"), "alembic's message names the revision: \(message)")
            #expect(message.contains("Run drctl from the checkout of the release that migrated it"))
        }
    }

    @Test("refused with several heads, naming alembic merge and --to")
    func refusedMultipleHeads() async throws {
        let fixture = try await Fixture(branch: true)
        try await withTearDown(fixture.tearDown) {
            try await fixture.upgrade(to: "0004")
            let message = await fixture.refusal(.init())
            #expect(message.contains("2 heads"), "\(message)")
            #expect(message.contains("alembic merge heads"))
            #expect(try await fixture.current() == "0004")
        }
    }

    @Test("production takes a backup (drctl backup create) before the downgrade; --no-backup skips it")
    func productionBackup() async throws {
        let fixture = try await Fixture(environment: "production")
        try await withTearDown(fixture.tearDown) {
            try await fixture.upgrade()

            let report = try await fixture.rollback(.init())

            #expect(report.status == .succeeded)
            let backup = try #require(report.steps.first { $0.step == "database.backup" }?.outputs["backup"])
            #expect(backup.hasPrefix(fixture.project + "/backups/daily/"))
            #expect(FileManager.default.fileExists(atPath: backup))
            #expect(try await fixture.current() == "0003")

            let unbacked = try await fixture.rollback(.init(noBackup: true))
            #expect(!unbacked.steps.contains { $0.step == "database.backup" })
            #expect(try await fixture.current() == "0002")
        }
    }

    @Test("a failing downgrade leaves the database at its revision, with its columns, and says so")
    func failingDowngradeIsRolledBack() async throws {
        let fixture = try await Fixture(failingDowngrade: true)
        try await withTearDown(fixture.tearDown) {
            try await fixture.upgrade()

            let message = await fixture.refusal(.init())

            #expect(message.contains("The database stays at 0004"), "\(message)")
            #expect(message.contains("division by zero"), "alembic's error is shown: \(message)")
            #expect(try await fixture.current() == "0004")
            try await fixture.appSQL("SELECT notes, updated_at FROM documents_header")
        }
    }
}
