import DrctlCore
import DrctlTestSupport
import Foundation

/// A seeded database on the local stack, a throwaway backup folder and a manifest pointing at both; the real
/// pg_dump, psql, gzip and aws do the work.
final class BackupFixture: Sendable {
    let stack: StackEnvironment
    let root: String
    let database: String
    let manifest: Manifest
    let toolbox: ScenarioToolbox
    let runner = CommandRunner()
    let clock: ManualClock

    /// 2026-03-30 02:00:00 UTC unless a test picks another start.
    init(
        database: String? = nil,
        sizeFloor: String = "16KiB",
        retention: (daily: Int, monthly: Int) = (30, 12),
        bucket: String? = nil,
        azureContainer: String? = nil,
        format: PostgresDumpFormat = .plain,
        start: Date = Date(timeIntervalSince1970: 1_774_836_000)
    ) throws {
        stack = try StackEnvironment.current(requiring: ["pg_dump", "psql", "gzip", "aws"])
        let suffix = UUID().uuidString.prefix(8).lowercased()
        self.database = database ?? "drctl_backup_\(suffix)"
        root = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-backup-it-\(suffix)").path
        try FileManager.default.createDirectory(atPath: root + "/manifests", withIntermediateDirectories: true)
        let s3Line = bucket.map { "  s3: { bucket: \($0), prefix: postgresql/ }\n" } ?? ""
        let azureLine = azureContainer.map { "  azure: { container: \($0), prefix: postgresql/ }\n" } ?? ""
        let formatLines = format == .plain ? "" : "  format: \(format.rawValue)\n  restoreJobs: 2\n"
        let yaml = """
            environment: backup-tests
            kube:
              namespace: sandbox
            database:
              host: \(stack.postgresHost)
              port: \(stack.postgresPort)
              user: \(stack.postgresUser)
              name: \(self.database)
              password: { env: DRCTL_PG_PASSWORD }
            backups:
              local: backups
              sizeFloor: \(sizeFloor)
              retention: { daily: \(retention.daily), monthly: \(retention.monthly) }
            \(s3Line)\(azureLine)\(formatLines)releases:
              postgresql: { name: postgresql, chart: bitnami/postgresql }
              app: { name: app, chart: ./chart, deployment: app, replicas: 1 }
            readiness: { url: "http://127.0.0.1:1/readyz" }
            objectives: { rpo: 24h, rto: 4h }

            """
        let source = Manifest.Source(
            file: ManifestPath(written: "manifests/test.yaml", absolute: root + "/manifests/test.yaml"),
            projectRoot: root)
        // Also on disk, for tests that run the real binary with `-f manifestPath`.
        try yaml.write(toFile: source.file.absolute, atomically: true, encoding: .utf8)
        manifest = try ManifestLoader(environment: stack.variables).load(yaml: yaml, source: source)
        toolbox = ScenarioToolbox(manifest: manifest, databasePassword: SecretValue(stack.postgresPassword))
        clock = ManualClock(now: start)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    var folder: BackupFolder { BackupFolder(manifest: manifest) }
    var manifestPath: String { root + "/manifests/test.yaml" }
    var creator: BackupCreator { BackupCreator(toolbox: toolbox, runner: runner, clock: clock) }
    var verifier: BackupVerifier {
        BackupVerifier(manifest: manifest, gzip: toolbox.gzip, runner: runner, clock: clock)
    }
    func catalog() throws -> BackupCatalog { try folder.catalogStore.load() }

    /// Creates the database and fills it: unicode, NULLs, a large text value, two tables.
    func seed() async throws {
        try await runner.runChecked(toolbox.postgres.createDatabase(database))
        let sql = """
            CREATE TABLE documents_header (id text PRIMARY KEY, title text, note text, amount numeric);
            INSERT INTO documents_header
              SELECT 'DOC-' || g, 'Rechnung ' || g || ' — Größe ✓ 日本語', CASE WHEN g % 7 = 0 THEN NULL
              ELSE md5(g::text) || md5((g * 31)::text) END, g * 1.25 FROM generate_series(1, 3000) g;
            CREATE TABLE documents_line (header_id text REFERENCES documents_header(id), body text);
            INSERT INTO documents_line SELECT 'DOC-1', string_agg(md5(g::text), '') FROM generate_series(1, 2000) g;
            """
        try await runner.runChecked(toolbox.postgres.query(sql))
    }

    /// Seeds the database, runs `body`, and drops the database afterwards, also when `body` throws.
    func seeded(_ body: () async throws -> Void) async throws {
        try await seed()
        try await withTearDown(dropDatabase, body)
    }

    func dropDatabase() async {
        _ = try? await runner.run(toolbox.postgres.dropDatabase(database, force: true))
    }

    /// A backup taken at the clock's time; the clock then moves on by `advance`.
    @discardableResult
    func createBackup(advance: Duration = .seconds(86_400)) async throws -> BackupCreator.Creation {
        let creation = try await creator.create()
        clock.advance(by: advance)
        return creation
    }
}

/// Byte-level damage done to backup files, as disks, networks and people do it.
enum Damage {
    static func truncate(_ path: String, to length: Int) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(length))
        try handle.close()
    }

    static func overwrite(_ path: String, at offset: Int, with bytes: [UInt8]) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
    }

    static func append(_ path: String, _ bytes: String) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes.utf8))
        try handle.close()
    }

    static func size(_ path: String) throws -> Int {
        ((try FileManager.default.attributesOfItem(atPath: path))[.size] as? NSNumber)?.intValue ?? -1
    }
}
