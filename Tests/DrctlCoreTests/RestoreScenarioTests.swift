import DrctlCore
import DrctlTestSupport
import Foundation
import Synchronization
import Testing

/// Every command line a recording runner was asked to run, in order (pipeline stages too).
final class CommandLog: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

/// A manifest with a local backup folder holding one catalogued backup, and a recording runner that answers
/// like a healthy cluster and database; every command is logged in the order it ran.
final class RestoreUnitFixture {
    let folder: TemporaryFolder
    let manifest: Manifest
    let toolbox: ScenarioToolbox
    let state: TemporaryStateDirectory
    let log = CommandLog()
    let runner: RecordingCommandRunner
    let backupName: String

    init(
        environment: String = "staging", recordedSHA256: String? = nil, answers: [String: String] = [:],
        failing: [String: String] = [:], failingLoad: (status: Int32, stderr: String)? = nil
    ) throws {
        folder = try TemporaryFolder()
        state = try TemporaryStateDirectory()
        let yaml = """
            environment: \(environment)
            kube: { namespace: erp }
            database:
              host: db.example
              user: valeo
              name: valeo_erp
              password: { env: DB_PASSWORD }
              smokeQuery: SELECT COUNT(*) FROM documents_header
            backups: { local: backups, sizeFloor: 1KiB, retention: { daily: 30, monthly: 12 } }
            releases:
              postgresql: { name: postgresql, chart: bitnami/postgresql }
              app: { name: valeo-erp, chart: ./chart, deployment: valeo-erp, replicas: 2 }
            readiness: { url: "http://127.0.0.1:1/readyz", timeout: 1s }
            objectives: { rpo: 24h, rto: 4h }

            """
        let source = Manifest.Source(
            file: ManifestPath(written: "manifests/test.yaml", absolute: folder.path + "/manifests/test.yaml"),
            projectRoot: folder.path)
        manifest = try ManifestLoader(environment: ["DB_PASSWORD": "pw'; x"]).load(yaml: yaml, source: source)
        toolbox = ScenarioToolbox(manifest: manifest, databasePassword: SecretValue("pw'; x"))
        let backups = BackupFolder(manifest: manifest)
        try backups.prepare()
        let name = try BackupName(database: "valeo_erp", timestamp: utc(2025, 10, 9, 2))
        backupName = name.fileName
        let bytes = Data(repeating: 0x41, count: 4096)
        try bytes.write(to: URL(fileURLWithPath: backups.path(.daily, fileName: name.fileName)))
        let sha = try SHA256Checksum.ofFile(atPath: backups.path(.daily, fileName: name.fileName))
        try backups.catalogStore.update { catalog throws(BackupError) in
            catalog.upsert(
                BackupRecord(
                    name: name, tier: .daily, size: 4096, sha256: recordedSHA256 ?? sha, createdAt: name.timestamp,
                    verification: BackupVerification(
                        result: .passed, verifiedAt: name.timestamp, fileSize: 4096, fileModifiedAt: name.timestamp)))
        }
        let log = self.log
        runner = RecordingCommandRunner { invocation in
            let line = ([invocation.executable] + invocation.arguments).joined(separator: " ")
            log.append(line)
            // The one-pass load's gzip reads the backup file drctl hands it (the head check's reads bytes).
            if let failingLoad, invocation.executable == "gzip", case .file = invocation.standardInput {
                return .failure(invocation, status: failingLoad.status, stderr: failingLoad.stderr)
            }
            for (fragment, stderr) in failing where line.contains(fragment) {
                return .failure(invocation, stderr: stderr)
            }
            for (fragment, output) in answers where line.contains(fragment) {
                return .success(invocation, output: output)
            }
            if invocation.executable == "gzip", invocation.arguments.first == "-dc" {
                return .success(invocation, output: "-- PostgreSQL database dump\n")
            }
            if line.contains("jsonpath={.spec.replicas}") { return .success(invocation, output: "3") }
            if line.contains("pg_tables") { return .success(invocation, output: "4\n") }
            if let present = Self.present(line) { return .success(invocation, output: present) }
            if line.contains("FROM pg_database WHERE datname") { return .success(invocation, output: "1\n") }
            if line.contains("COUNT(*) FROM documents_header") { return .success(invocation, output: "42\n") }
            return .success(invocation)
        }
    }

    /// The swap's look at both databases (`… WHERE datname IN ('a', 'b')`): each of them there, with no note.
    static func present(_ line: String) -> String? {
        guard let list = line.range(of: "WHERE datname IN (") else { return nil }
        return line[list.upperBound...].split(separator: ")").first.map { names in
            names.split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: ["'"]) + "|f\n"
            }
            .joined()
        }
    }

    var commands: [String] { log.all }

    func run(
        options: RestoreScenario.Options = .init(), free: Int64? = 1 << 40
    ) async throws -> Result<RunReport, any Error> {
        let scenario = RestoreScenario(
            toolbox: toolbox, options: options, workRoot: state.path + "/work",
            spaceCheck: DatabaseSpaceCheck { _ in free.map { ($0, "/var/lib/postgresql") } })
        let service = RunService(backend: state.backend, runner: runner, events: EventRecorder())
        do {
            return .success(try await service.start(try scenario.runbook()))
        } catch {
            return .failure(error)
        }
    }

    func index(of fragment: String) -> Int? { commands.firstIndex { $0.contains(fragment) } }
    /// The app or the live database changed: a scale, a rename, or a database other than the run's new one
    /// (`valeo_erp_restore_…`) dropped or created.
    var touchedLive: Bool {
        commands.contains { $0.hasPrefix("kubectl") && $0.contains(" scale ") }
            || commands.contains { line in
                line.hasPrefix("psql")
                    && (line.contains("RENAME")
                        || !line.contains("valeo_erp_restore_")
                            && (line.contains("DROP DATABASE") || line.contains("CREATE DATABASE")))
            }
    }
    /// The run's new database was dropped again after the last load into it.
    var newDatabaseDroppedAfterLoad: Bool {
        guard let load = commands.lastIndex(where: { $0.contains("--single-transaction") }) else { return false }
        return commands[load...].contains { $0.contains("DROP DATABASE IF EXISTS \"valeo_erp_restore_") }
    }
    var touchedAnything: Bool {
        commands.contains { $0.hasPrefix("kubectl") && $0.contains(" scale ") }
            || commands.contains { line in
                line.hasPrefix("psql")
                    && (line.contains("DROP DATABASE") || line.contains("CREATE DATABASE") || line.contains("RENAME"))
            }
    }
}

@Suite("Restore scenario (recorded commands)")
struct RestoreScenarioTests {
    @Test(
        "verification and the load come first; the app is scaled down only for the swap and back to its recorded count"
    )
    func stepOrder() async throws {
        let fixture = try RestoreUnitFixture()
        _ = try await fixture.run()  // fails at the readiness URL, after every command ran
        let order = [
            "gzip -dc", "CREATE DATABASE \"valeo_erp_restore_", "--single-transaction", "jsonpath={.spec.replicas}",
            "scale deployment valeo-erp --replicas 0", "RENAME TO \"valeo_erp_before_", "RENAME TO \"valeo_erp\"",
            "-d valeo_erp -w -At -c SELECT COUNT(*) FROM documents_header", "scale deployment valeo-erp --replicas 3",
            "rollout status",
        ]
        let positions = order.map { fixture.index(of: $0) }
        #expect(!positions.contains(nil), "missing: \(zip(order, positions).filter { $0.1 == nil }.map(\.0))")
        let found = positions.compactMap { $0 }
        #expect(found == found.sorted(), "\(fixture.commands.joined(separator: "\n"))")
        #expect(!fixture.commands.joined().contains("pw'; x"), "the password reached argv")
        // The swap is one transaction: the live database moved aside, the new one renamed in and marked.
        let swap = try #require(fixture.index(of: "RENAME TO \"valeo_erp\""))
        for part in [
            "--single-transaction", "pg_terminate_backend", "RENAME TO \"valeo_erp_before_", "COMMENT ON DATABASE",
        ] {
            #expect(fixture.commands[swap].contains(part), "\(part) is not in the swap's transaction")
        }
    }

    @Test("a local backup is read once: no gzip -t or checksum pass before drctl hands the file to gzip -dc | psql")
    func localBackupLoadsInOnePass() async throws {
        let fixture = try RestoreUnitFixture()
        _ = try await fixture.run()
        #expect(fixture.index(of: "gzip -t") == nil, "\(fixture.commands.joined(separator: "\n"))")
        let loads = fixture.runner.pipelines.filter {
            $0.stages.last?.arguments.contains("--single-transaction") == true
        }
        let load = try #require(loads.first, "no load pipeline ran")
        #expect(loads.count == 1)
        #expect(load.stages.map(\.executable) == ["gzip", "psql"])
        #expect(
            load.taps == [PipelineTap.input(readsToEnd: true), .psqlRestrictedMode(afterStage: 0)],
            "drctl measures the file on the way, and psql reads the SQL in its restricted mode")
        guard case .file(let path) = load.stages[0].standardInput else {
            Issue.record("gzip does not read the backup file"); return
        }
        #expect(path.hasSuffix("/daily/" + fixture.backupName))
    }

    @Test("gzip refusing the file during the load refuses it: the new database dropped, the app and live one untouched")
    func corruptRefused() async throws {
        for (status, stderr, said) in [
            (Int32(1), "gzip: stdin: unexpected end of file", "corrupt"),
            (
                Int32(2), "gzip: stdin: decompression OK, trailing garbage ignored",
                "bytes after the end of the gzip data"
            ),
        ] {
            let fixture = try RestoreUnitFixture(failingLoad: (status, stderr))
            let result = try await fixture.run()
            guard case .failure(let error) = result else { Issue.record("the restore ran"); return }
            #expect("\(error)".contains(said), "\(error)")
            #expect(!fixture.touchedLive, "\(fixture.commands.joined(separator: "\n"))")
            #expect(fixture.newDatabaseDroppedAfterLoad, "\(fixture.commands.joined(separator: "\n"))")
            #expect(!fixture.commands.contains { $0.hasPrefix("kubectl") })
        }
    }

    @Test("a checksum that differs from the catalog's is refused before psql sees a line of the file")
    func checksumRefused() async throws {
        let fixture = try RestoreUnitFixture(recordedSHA256: String(repeating: "0", count: 64))
        guard case .failure(let error) = try await fixture.run() else { Issue.record("the restore ran"); return }
        #expect("\(error)".contains("SHA-256"))
        #expect(!fixture.touchedAnything, "\(fixture.commands.joined(separator: "\n"))")
        #expect(
            !fixture.commands.contains { $0.contains("--single-transaction") || $0.contains("CREATE DATABASE") },
            "a tampered file reached psql:\n\(fixture.commands.joined(separator: "\n"))")
    }

    @Test("a dump that names another database is refused")
    func otherDatabaseRefused() async throws {
        let fixture = try RestoreUnitFixture(answers: [
            "gzip -dc": "-- PostgreSQL database dump\nCREATE DATABASE shop WITH TEMPLATE = template0;\n\\connect shop\n"
        ])
        guard case .failure(let error) = try await fixture.run() else { Issue.record("the restore ran"); return }
        #expect("\(error)".contains("dump of database shop, not of valeo_erp"))
        #expect(!fixture.touchedAnything)
    }

    @Test("--backup naming another database's file is refused before anything runs")
    func otherDatabaseNameRefused() async throws {
        let fixture = try RestoreUnitFixture()
        let result = try await fixture.run(options: .init(backup: .named("shop_backup_20251009_020000.sql.gz")))
        guard case .failure(let error) = result else { Issue.record("the restore ran"); return }
        #expect("\(error)".contains("dump of database shop"))
        #expect(fixture.commands.isEmpty)
    }

    @Test("--before earlier than every backup names the earliest one")
    func beforeEveryBackup() async throws {
        let fixture = try RestoreUnitFixture()
        guard case .failure(let error) = try await fixture.run(options: .init(backup: .before(utc(2025, 1, 1))))
        else { Issue.record("the restore ran"); return }
        #expect("\(error)".contains("no backup of valeo_erp was taken before 2025-01-01T00:00:00Z"))
        #expect("\(error)".contains(fixture.backupName))
        #expect(fixture.commands.isEmpty)
    }

    @Test("not enough free space refuses before the app is scaled down")
    func notEnoughDisk() async throws {
        let fixture = try RestoreUnitFixture()
        guard case .failure(let error) = try await fixture.run(free: 1000) else {
            Issue.record("the restore ran"); return
        }
        #expect("\(error)".contains("not enough free space"))
        #expect(!fixture.touchedAnything)
    }

    @Test("production needs a confirmation before the app is scaled down")
    func productionNeedsConfirmation() async throws {
        let fixture = try RestoreUnitFixture(environment: "production")
        guard case .failure(let error) = try await fixture.run() else { Issue.record("the restore ran"); return }
        #expect("\(error)".contains("needs confirmation"))
        #expect(!fixture.touchedAnything)

        let confirmed = try RestoreUnitFixture(environment: "production")
        _ = try await confirmed.run(options: .init(confirmed: true))
        #expect(confirmed.index(of: "RENAME TO \"valeo_erp\"") != nil)
    }

    @Test("--drop-old drops the replaced database after the swap")
    func dropOld() async throws {
        let fixture = try RestoreUnitFixture()
        _ = try await fixture.run(options: .init(dropOld: true))
        let swap = try #require(fixture.index(of: "RENAME TO \"valeo_erp\""))
        let drop = try #require(fixture.index(of: "DROP DATABASE IF EXISTS \"valeo_erp_before_"))
        #expect(swap < drop)
    }

    @Test("the options round-trip through the journal, so resume rebuilds the same runbook")
    func optionsRoundTrip() async throws {
        for backup in [
            BackupChoice.latest, .named("valeo_erp_backup_20251009_020000.sql.gz"), .before(utc(2025, 10, 8, 14, 30)),
        ] {
            let options = RestoreScenario.Options(backup: backup, dropOld: true, confirmed: true)
            #expect(try await ScenarioOptionsTests.throughJournal(options) == options)
        }
        #expect(throws: RecoveryError.self) { try RestoreScenario.Options(legacyParameters: ["before": "yesterday"]) }
    }
}
