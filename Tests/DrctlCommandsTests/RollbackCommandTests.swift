import ArgumentParser
import DrctlCore
import Testing

@testable import DrctlCommands

@Suite("rollback app / rollback migration flags")
struct RollbackCommandTests {
    func parseError(_ arguments: [String]) -> String? {
        do {
            _ = try DrctlCommand.parseAsRoot(arguments)
            return nil
        } catch {
            return DrctlCommand.message(for: error)
        }
    }

    @Test("valid invocations parse into the scenario's options")
    func valid() throws {
        let app = try #require(
            try DrctlCommand.parseAsRoot([
                "rollback", "app", "-f", "m.yaml", "--revision", "4", "--with-migrations", "--migration-revision",
                "0003", "--timeout", "90s",
            ]) as? RollbackAppCommand)
        #expect(
            app.rollback.scenarioOptions
                == AppRollbackScenario.Options(
                    revision: 4, timeout: .seconds(90), withMigrations: true, migrationRevision: "0003"))
        let migration = try #require(
            try DrctlCommand.parseAsRoot(["rollback", "migration", "-f", "m.yaml", "--to", "0002", "--no-backup"])
                as? RollbackMigrationCommand)
        #expect(
            migration.migration.scenarioOptions(noBackup: migration.noBackup)
                == MigrationRollbackScenario.Options(request: .revision("0002"), noBackup: true))
    }

    @Test("bad flag combinations are refused in validate() with what to do")
    func invalid() {
        #expect(
            parseError(["rollback", "migration", "-f", "m.yaml", "--steps", "1", "--to", "0002"])?.contains(
                "either --steps or --to") == true)
        #expect(parseError(["rollback", "migration", "-f", "m.yaml", "--steps", "0"])?.contains("1 or more") == true)
        #expect(parseError(["rollback", "migration", "-f", "m.yaml", "--to=-1"])?.contains("use --steps N") == true)
        #expect(parseError(["rollback", "app", "-f", "m.yaml", "--revision", "0"])?.contains("1 or more") == true)
        #expect(parseError(["rollback", "app", "-f", "m.yaml", "--no-backup"])?.contains("--with-migrations") == true)
        #expect(
            parseError(["rollback", "app", "-f", "m.yaml", "--migration-revision", "0003"])?.contains(
                "only applies with --with-migrations") == true)
        #expect(parseError(["rollback", "app", "-f", "m.yaml", "--timeout", "soon"])?.contains("soon") == true)
    }
}
