import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

@Suite("Rollback migration: target choice")
struct AlembicRollbackTargetTests {
    static let history = (try? Alembic.parseHistory(RollbackFixtures.alembicHistory())) ?? []

    func choose(
        current: String?, heads: [String] = ["0004"], history: [AlembicHistoryEntry] = Self.history,
        _ request: MigrationRollbackRequest, allowNoop: Bool = false
    ) throws -> AlembicRollbackTarget {
        try AlembicRollbackTarget.choose(
            database: "valeo_erp", current: current.map { [AlembicRevision(id: $0, markers: [])] } ?? [],
            heads: heads.map { AlembicRevision(id: $0, markers: ["head"]) }, history: history, request: request,
            allowNoop: allowNoop)
    }

    @Test("one step back from head, several steps, and down to base")
    func steps() throws {
        #expect(try choose(current: "0004", .steps(1)) == .init(current: "0004", target: "0003", undone: ["0004"]))
        #expect(try choose(current: "0004", .steps(2)).target == "0002")
        #expect(
            try choose(current: "0002", .steps(2)) == .init(current: "0002", target: "base", undone: ["0002", "0001"]))
    }

    @Test("--to REV resolves to the revisions in between")
    func toRevision() throws {
        #expect(try choose(current: "0004", .revision("0002")).undone == ["0004", "0003"])
        #expect(try choose(current: "0004", .revision("base")).undone == ["0004", "0003", "0002", "0001"])
    }

    @Test("refusals name what to do: base, too many steps, unknown target, a target above current")
    func refusals() {
        #expect(throws: RollbackError.atBase(database: "valeo_erp")) { try choose(current: nil, .steps(1)) }
        #expect(throws: RollbackError.tooManySteps(steps: 3, current: "0002", available: 2)) {
            try choose(current: "0002", .steps(3))
        }
        #expect {
            try choose(current: "0004", .revision("0009"))
        } throws: { error in
            (error as? RollbackError)?.errorDescription?.contains("Pick one from `alembic history`, or `base`") == true
        }
        #expect {
            try choose(current: "0002", .revision("0003"))
        } throws: { error in
            (error as? RollbackError)?.errorDescription?.contains("Use `alembic upgrade 0003`") == true
        }
        #expect {
            try choose(current: "0004", .revision("0004"))
        } throws: { error in
            guard case .targetNotBelowCurrent? = error as? RollbackError else { return false }
            return true
        }
    }

    @Test("several heads: refused for --steps, with the merge or --to advice")
    func multipleHeads() throws {
        let branched = try Alembic.parseHistory(RollbackFixtures.alembicHistory(branch: true))
        #expect {
            try choose(current: "0004", heads: ["0004b", "0004"], history: branched, .steps(1))
        } throws: { error in
            let text = (error as? RollbackError)?.errorDescription ?? ""
            return text.contains("2 heads (0004b, 0004)") && text.contains("alembic merge heads")
        }
    }

    @Test("a database revision the scripts do not know is refused")
    func unknownCurrent() {
        #expect {
            try choose(current: "ffff", .steps(1))
        } throws: { error in
            guard case .unknownDatabaseRevision? = error as? RollbackError else { return false }
            return true
        }
    }

    @Test("with --with-migrations, a schema already at the expected revision is fine")
    func noopAllowed() throws {
        #expect(try choose(current: "0003", .revision("0003"), allowNoop: true).undone.isEmpty)
    }
}

@Suite("Rollback migration: runbook")
struct MigrationRollbackScenarioTests {
    typealias F = RollbackFixtures

    func runbook(
        _ options: MigrationRollbackScenario.Options = .init(), environment: String = "staging", migrations: Bool = true
    ) throws -> Runbook {
        try MigrationRollbackScenario(
            toolbox: F.toolbox(environment: environment, migrations: migrations), options: options
        )
        .runbook()
    }

    @Test("steps and command lines; the password only in the child environment")
    func planShape() throws {
        let runbook = try runbook(.init(request: .revision("0002")))
        #expect(runbook.id == "rollback-migration")
        #expect(runbook.steps.map(\.id) == ["alembic.inspect", "alembic.downgrade", "alembic.verify"])
        #expect(
            runbook.step("alembic.downgrade")?.commands == [
                "DB_HOST=db.local DB_NAME=valeo_erp DB_PASSWORD='***' DB_PORT=5432 DB_USER=valeo PGPASSWORD='***' "
                    + "alembic -c /project/migrations/alembic.ini downgrade 0002"
            ])
        let alembic = try #require(F.toolbox().alembic)
        #expect(alembic.current().environment["DB_PASSWORD"] == "s3cret")
        #expect(alembic.current().secrets == ["s3cret"])
        #expect(alembic.current().workingDirectory == "/project/migrations")
        #expect(!runbook.steps.flatMap(\.commands).joined().contains("s3cret"))
    }

    @Test("production takes a backup before the downgrade unless --no-backup")
    func productionBackup() throws {
        let production = try runbook(environment: "production")
        #expect(
            production.steps.map(\.id) == ["alembic.inspect", "database.backup", "alembic.downgrade", "alembic.verify"])
        #expect(production.step("alembic.downgrade")?.dependsOn == ["alembic.inspect", "database.backup"])
        let skipped = try runbook(.init(noBackup: true), environment: "production")
        #expect(!skipped.steps.map(\.id).contains("database.backup"))
    }

    @Test("the backup step is drctl backup create: pg_dump | gzip into the manifest's backup folder")
    func backupStepCommands() throws {
        let step = try #require(try runbook(environment: "production").step("database.backup"))
        #expect(
            step.commands == [
                "PGPASSWORD='***' pg_dump -h db.local -p 5432 -U valeo -d valeo_erp -w | gzip -c"
                    + " | (sha256 and byte count in drctl) > '/project/backups/daily/valeo_erp_backup_<YYYYMMDD_HHMMSS>.sql.gz.partial'"
            ])
    }

    @Test("a manifest without migrations is refused with the section to add")
    func noMigrations() {
        #expect {
            try runbook(migrations: false)
        } throws: { error in
            (error as? RollbackError)?.errorDescription?.contains("migrations: { directory: .") == true
        }
    }

    @Test("inspect resolves -1 to an absolute revision")
    func inspect() async throws {
        let runner = ScriptedTools().runner()
        let step = try #require(try runbook().step("alembic.inspect"))
        let outputs = try await step.action(F.context(step.id, runner: runner))
        #expect(outputs["current"] == "0004")
        #expect(outputs["target"] == "0003")
    }

    @Test("inspect turns alembic's Can't locate revision into a refusal with alembic's message")
    func inspectUnknownRevision() async throws {
        let runner = ScriptedTools(alembicCurrentFailure: "FAILED: Can't locate revision identified by 'ffff'\n")
            .runner()
        let step = try #require(try runbook().step("alembic.inspect"))
        await #expect {
            _ = try await step.action(F.context(step.id, runner: runner))
        } throws: { error in
            let text = (error as? RollbackError)?.errorDescription ?? ""
            return text.contains("Can't locate revision identified by 'ffff'") && text.contains("was not changed")
        }
    }

    @Test("downgrade runs the absolute target; a failure says the database stayed where it was")
    func downgrade() async throws {
        let inspected: [StepID: StepOutputs] = ["alembic.inspect": ["current": "0004", "target": "0003"]]
        let step = try #require(try runbook().step("alembic.downgrade"))
        let runner = ScriptedTools().runner()
        _ = try await step.action(F.context(step.id, runner: runner, completed: inspected))
        #expect(runner.invocations.last?.arguments == ["-c", "/project/migrations/alembic.ini", "downgrade", "0003"])

        let failing = ScriptedTools(downgradeFails: true).runner()
        await #expect {
            _ = try await step.action(F.context(step.id, runner: failing, completed: inspected))
        } throws: { error in
            let text = (error as? RollbackError)?.errorDescription ?? ""
            return text.contains("The database stays at 0004") && text.contains("one transaction")
                && text.contains("cannot drop column")
        }
    }

    @Test("downgrade probe: at the target is done, at the start is not done, elsewhere unknown")
    func downgradeProbe() async throws {
        let inspected: [StepID: StepOutputs] = ["alembic.inspect": ["current": "0004", "target": "0002"]]
        let probe = try #require(try runbook().step("alembic.downgrade")?.probe)
        let atTarget = ScriptedTools(alembicCurrent: "0002\n").runner()
        #expect(
            try await probe(F.context("alembic.downgrade", runner: atTarget, completed: inspected))
                == .done(["from": "0004", "to": "0002"]))
        let atStart = ScriptedTools(alembicCurrent: "0004 (head)\n").runner()
        #expect(try await probe(F.context("alembic.downgrade", runner: atStart, completed: inspected)) == .notDone)
        let between = ScriptedTools(alembicCurrent: "0003\n").runner()
        guard case .unknown = try await probe(F.context("alembic.downgrade", runner: between, completed: inspected))
        else {
            Issue.record("half-way must be unknown")
            return
        }
    }

    @Test("verify refuses a database that is not at the target")
    func verify() async throws {
        let inspected: [StepID: StepOutputs] = ["alembic.inspect": ["current": "0004", "target": "0003"]]
        let step = try #require(try runbook().step("alembic.verify"))
        await #expect(throws: RollbackError.verifyMismatch(expected: "0003", actual: "0004")) {
            _ = try await step.action(F.context(step.id, runner: ScriptedTools().runner(), completed: inspected))
        }
    }
}
