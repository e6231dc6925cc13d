import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

@Suite("BackupCreator (recorded)")
struct BackupCreatorTests {
    static func toolbox(root: String) throws -> ScenarioToolbox {
        let yaml = """
            environment: unit
            kube: { namespace: unit }
            database: { host: db.example, port: 5432, user: valeo, name: valeo_erp, password: { env: PW } }
            backups: { local: backups, sizeFloor: 1B, retention: { daily: 30, monthly: 12 } }
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

    @Test func theDumpIsPgDumpPipedIntoGzipIntoAPartialFileWithThePasswordInTheEnvironmentOnly() throws {
        let folder = try TemporaryFolder()
        let creator = BackupCreator(toolbox: try Self.toolbox(root: folder.path), runner: RecordingCommandRunner())
        let pipeline = creator.pipeline(partialPath: "/b/daily/x.sql.gz.partial")

        #expect(pipeline.stages.map(\.executable) == ["pg_dump", "gzip"])
        #expect(
            pipeline.stages[0].arguments == ["-h", "db.example", "-p", "5432", "-U", "valeo", "-d", "valeo_erp", "-w"])
        #expect(pipeline.stages[0].environment == ["PGPASSWORD": "pa$$ word"])
        #expect(pipeline.stages[1].arguments == ["-c"])
        #expect(pipeline.output == .file("/b/daily/x.sql.gz.partial"))
        #expect(!pipeline.redactedCommandLine.contains("pa$$ word"))
    }

    @Test func aFailingPgDumpLeavesNoBackupAndNoCatalogRecord() async throws {
        let folder = try TemporaryFolder()
        let runner = RecordingCommandRunner { invocation in
            invocation.executable == "pg_dump" || invocation.executable == "psql"
                ? .failure(invocation, status: 1, stderr: "pg_dump: error: database \"valeo_erp\" does not exist")
                : .success(invocation)
        }
        let toolbox = try Self.toolbox(root: folder.path)
        let creator = BackupCreator(toolbox: toolbox, runner: runner, clock: ManualClock())

        await #expect {
            try await creator.create()
        } throws: { error in
            guard case .dumpFailed(let database, let detail) = error as? BackupError else { return false }
            return database == "valeo_erp" && detail.contains("does not exist") && !detail.contains("pa$$ word")
        }
        let files = try BackupFolder(manifest: toolbox.manifest).files()
        #expect(files.isEmpty)
        #expect(try BackupFolder(manifest: toolbox.manifest).catalogStore.load().records.isEmpty)
        // gzip -t never ran: the dump (here its snapshot session, psql) failed first
        #expect(runner.invocations.allSatisfy { $0.executable == "psql" })
    }
}
