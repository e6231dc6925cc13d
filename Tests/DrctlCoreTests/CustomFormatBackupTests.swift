import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `backups.format: custom` and `backups.restoreJobs`: the manifest keys, the `.dump` backup name, the
/// `pg_dump -Fc` creation and the `pg_restore` integrity check, against the recording runner.
@Suite("Custom-format backups (recorded)")
struct CustomFormatBackupTests {
    // MARK: Manifest

    private func load(_ yaml: String) throws -> Manifest {
        let sandbox = try ManifestSandbox()
        return try ManifestLoader(environment: [:]).load(from: try sandbox.writeManifest(yaml))
    }

    private func message(_ yaml: String) throws -> String {
        let sandbox = try ManifestSandbox()
        let path = try sandbox.writeManifest(yaml)
        do {
            _ = try ManifestLoader(environment: [:]).load(from: path)
        } catch {
            return (error.errorDescription ?? "").replacingOccurrences(of: path, with: "test.yaml")
        }
        Issue.record("the manifest loaded without an error")
        return ""
    }

    @Test func theFormatIsPlainUnlessTheManifestSaysCustom() throws {
        let plain = try load(ManifestFixtures.valid)
        #expect(plain.backups.format == .plain)
        #expect(plain.backups.restoreJobs == nil)
        #expect(plain.backups.effectiveRestoreJobs == Manifest.Backups.defaultRestoreJobs)
        #expect((1...4).contains(Manifest.Backups.defaultRestoreJobs))

        let custom = try load(
            ManifestFixtures.valid(
                replacing: "  sizeFloor: 10MB", with: "  sizeFloor: 10MB\n  format: custom\n  restoreJobs: 6"))
        #expect(custom.backups.format == .custom)
        #expect(custom.backups.restoreJobs == 6)
        #expect(custom.backups.effectiveRestoreJobs == 6)
    }

    @Test func aPlainManifestEncodesAsBeforeAndACustomOneRoundTrips() throws {
        let plain = try load(ManifestFixtures.valid)
        let plainJSON = String(decoding: try plain.canonicalEncoding(), as: UTF8.self)
        #expect(!plainJSON.contains("\"format\""))
        #expect(!plainJSON.contains("restoreJobs"))

        let custom = try load(
            ManifestFixtures.valid(replacing: "  sizeFloor: 10MB", with: "  sizeFloor: 10MB\n  format: custom"))
        let decoded = try JSONDecoder().decode(Manifest.self, from: custom.canonicalEncoding())
        #expect(decoded.backups.format == .custom)
        #expect(decoded == custom)
        #expect(try custom.canonicalEncoding() != plain.canonicalEncoding())
    }

    @Test func anUnknownFormatNamesItsPositionAndTheChoices() throws {
        let yaml = ManifestFixtures.valid(replacing: "  sizeFloor: 10MB", with: "  sizeFloor: 10MB\n  format: tar")
        let text = try message(yaml)
        #expect(
            text == "test.yaml:13:11: backups.format must be plain (pg_dump | gzip, .sql.gz) or custom (pg_dump -Fc,"
                + " .dump), found 'tar'")
    }

    @Test func restoreJobsMustBeAWholeNumberInRange() throws {
        let zero = try message(
            ManifestFixtures.valid(replacing: "  sizeFloor: 10MB", with: "  sizeFloor: 10MB\n  restoreJobs: 0"))
        #expect(zero == "test.yaml:13:16: backups.restoreJobs must be a whole number from 1 to 64, found '0'")
        let words = try message(
            ManifestFixtures.valid(replacing: "  sizeFloor: 10MB", with: "  sizeFloor: 10MB\n  restoreJobs: many"))
        #expect(words.hasPrefix("test.yaml:13:16: backups.restoreJobs must be a whole number"))
    }

    // MARK: Names

    @Test func aCustomFormatBackupIsNamedDotDumpAndParsesBack() throws {
        let stamp = Date(timeIntervalSince1970: 1_759_975_200)  // 2025-10-09 02:00:00 UTC
        let name = try BackupName(database: "valeo_erp", timestamp: stamp, format: .custom)
        #expect(name.fileName == "valeo_erp_backup_20251009_020000.dump")
        #expect(BackupName(fileName: name.fileName) == name)
        #expect(BackupName(fileName: "valeo_erp_backup_20251009_020000.dump")?.format == .custom)
        #expect(BackupName(fileName: "valeo_erp_backup_20251009_020000.sql.gz")?.format == .plain)
        #expect(BackupName(fileName: "valeo_erp_backup_20251009_020000.dump.partial") == nil)
        #expect(BackupName(fileName: "valeo_erp_backup_20251009_020000.sql") == nil)
        #expect(BackupName(fileName: "valeo_erp_backup_2025100_020000.dump") == nil)
        let plain = try BackupName(database: "valeo_erp", timestamp: stamp)
        #expect(plain != name)
        #expect(plain.fileName == "valeo_erp_backup_20251009_020000.sql.gz")
        let later = try BackupName(database: "valeo_erp", timestamp: stamp.addingTimeInterval(1))
        #expect([later, name, plain].sorted() == [name, plain, later])
        let decoded = try JSONDecoder().decode(BackupName.self, from: JSONEncoder().encode(name))
        #expect(decoded == name)
    }

    // MARK: Creation and integrity

    static func toolbox(root: String) throws -> ScenarioToolbox {
        let yaml = """
            environment: unit
            kube: { namespace: unit }
            database: { host: db.example, port: 5432, user: valeo, name: valeo_erp, password: { env: PW } }
            backups:
              local: backups
              sizeFloor: 1B
              retention: { daily: 30, monthly: 12 }
              format: custom
              restoreJobs: 3
            releases:
              postgresql: { name: postgresql, chart: bitnami/postgresql }
              app: { name: app, chart: ./chart, deployment: app, replicas: 1 }
            readiness: { url: "http://127.0.0.1:1/readyz" }
            objectives: { rpo: 24h, rto: 4h }
            """
        let source = Manifest.Source(
            file: ManifestPath(written: "manifests/unit.yaml", absolute: root + "/manifests/unit.yaml"),
            projectRoot: root)
        let manifest = try ManifestLoader(environment: [:]).load(yaml: yaml, source: source)
        return ScenarioToolbox(manifest: manifest, databasePassword: SecretValue("pa$$ word"))
    }

    @Test func theDumpIsPgDumpFcIntoThePartialFileWithThePasswordInTheEnvironmentOnly() throws {
        let folder = try TemporaryFolder()
        let creator = BackupCreator(toolbox: try Self.toolbox(root: folder.path), runner: RecordingCommandRunner())
        let pipeline = creator.pipeline(partialPath: "/b/daily/x.dump.partial")

        #expect(pipeline.stages.map(\.executable) == ["pg_dump"])
        #expect(
            pipeline.stages[0].arguments == [
                "-h", "db.example", "-p", "5432", "-U", "valeo", "-d", "valeo_erp", "-w", "-Fc", "-f",
                "/b/daily/x.dump.partial",
            ])
        #expect(pipeline.stages[0].environment == ["PGPASSWORD": "pa$$ word"])
        #expect(pipeline.output == .discard)
        #expect(!pipeline.redactedCommandLine.contains("pa$$ word"))
        #expect(creator.plannedPartialPath.hasSuffix("/backups/daily/valeo_erp_backup_<YYYYMMDD_HHMMSS>.dump.partial"))
    }

    @Test func pgRestoreGetsTheJobsNoOwnerAndThePasswordOnlyInItsEnvironment() throws {
        let folder = try TemporaryFolder()
        let toolbox = try Self.toolbox(root: folder.path)
        let restore = toolbox.postgres.restoreArchive(file: "/run/backup/x.dump", jobs: 3)
        #expect(restore.executable == "pg_restore")
        #expect(
            restore.arguments == [
                "-h", "db.example", "-p", "5432", "-U", "valeo", "-d", "valeo_erp", "-w", "--exit-on-error", "-j", "3",
                "--no-owner", "/run/backup/x.dump",
            ])
        #expect(restore.environment == ["PGPASSWORD": "pa$$ word"])
        #expect(!restore.arguments.joined().contains("pa$$ word"))
        #expect(toolbox.postgres.archive.list(file: "/x.dump").arguments == ["--list", "/x.dump"])
        #expect(toolbox.postgres.archive.readThrough(file: "/x.dump").arguments == ["--file=/dev/null", "/x.dump"])
        #expect(toolbox.postgres.archive.list(file: "/x.dump").environment.isEmpty)
    }

    @Test func createChecksTheArchiveWithPgRestoreNotGzip() async throws {
        let folder = try TemporaryFolder()
        let runner = RecordingCommandRunner { invocation in
            if let session = CommandResult.snapshotSession(invocation) { return session }
            if invocation.executable == "pg_dump", let path = invocation.arguments.last {
                try? Data("PGDMP archive bytes".utf8).write(to: URL(fileURLWithPath: path))
            }
            return .success(invocation)
        }
        let toolbox = try Self.toolbox(root: folder.path)
        let clock = ManualClock(now: Date(timeIntervalSince1970: 1_759_975_200))
        let creation = try await BackupCreator(toolbox: toolbox, runner: runner, clock: clock).create()

        #expect(creation.daily.fileName == "valeo_erp_backup_20251009_020000.dump")
        #expect(creation.daily.name.format == .custom)
        #expect(creation.path.hasSuffix("/daily/valeo_erp_backup_20251009_020000.dump"))
        let partial = creation.path + ".partial"
        #expect(
            runner.pipelines.flatMap(\.stages).map { [$0.executable] + $0.arguments.suffix(4) } == [
                ["pg_dump", "-Fc", "--snapshot=00000003-00000002-1", "-f", partial]
            ])
        #expect(creation.daily.content?.content.tables.map(\.name) == ["public.documents_header"])
        #expect(
            runner.invocations.filter { $0.executable != "psql" }.map { [$0.executable] + $0.arguments } == [
                ["pg_restore", "--list", partial], ["pg_restore", "--file=/dev/null", partial],
            ])
        let permissions = try FileManager.default.attributesOfItem(atPath: creation.path)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        #expect(!FileManager.default.fileExists(atPath: partial))
    }

    @Test func aTruncatedArchiveIsRefusedAsCorruptByTheFullRead() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path + "/valeo_erp_backup_20251009_020000.dump"
        try Data("PGDMP".utf8).write(to: URL(fileURLWithPath: path))
        let runner = RecordingCommandRunner { invocation in
            invocation.arguments.first == "--file=/dev/null"
                ? .failure(
                    invocation, status: 1, stderr: "pg_restore: error: could not read from input file: end of file")
                : .success(invocation)
        }
        let check = BackupIntegrityCheck(gzip: Gzip(), sizeFloor: ByteSize(bytes: 1), runner: runner)
        await #expect {
            try await check.check(path: path, file: "daily/valeo_erp_backup_20251009_020000.dump")
        } throws: { error in
            guard case .backupCorrupt(let file, let detail) = error as? BackupError else { return false }
            return file == "daily/valeo_erp_backup_20251009_020000.dump"
                && detail == "pg_restore reading every entry: could not read from input file: end of file"
        }
        #expect(runner.invocations.allSatisfy { $0.executable == "pg_restore" })
    }
}
