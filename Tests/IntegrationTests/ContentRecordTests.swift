import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// Backups that are well-formed but wrong (issue 15): each is refused by `drctl restore` after the load and
/// before the swap, exit 3, the cause in the first line, the live database unchanged and no scratch database left.
@Suite("Content records: wrong backups are refused before the swap")
struct ContentRecordTests {
    /// Replaces the backup file with `text` gzipped, and records its new checksum in the catalog, as a backup
    /// made or changed by hand with a fresh `.sha256` would have it.
    static func replace(_ record: BackupRecord, in fixture: RecoveryFixture, withDump text: Data) async throws {
        let path = fixture.backupPath(record)
        let plain = fixture.root + "/replacement.sql"
        try text.write(to: URL(fileURLWithPath: plain))
        let gzipped = try await fixture.runner.runChecked(
            CommandPipeline([CommandInvocation("gzip", ["-c", plain])], output: .file(path + ".new")))
        _ = gzipped
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: path + ".new", toPath: path)
        let sha256 = try SHA256Checksum.ofFile(atPath: path)
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
        try fixture.folder.catalogStore.update { catalog throws(BackupError) in
            var changed = record
            changed.sha256 = sha256
            changed.size = size
            changed.verification?.sha256 = sha256
            changed.verification?.fileSize = size
            catalog.upsert(changed)
        }
    }

    /// Appends `DROP TABLE public.customers CASCADE;` to a genuine backup, re-gzipped, with its new checksum in
    /// the catalog and in the content record (whose signature, if any, is kept): only the record's content, or
    /// its signature, can tell.
    static func appendDropTable(to backup: BackupRecord, in fixture: RecoveryFixture) async throws {
        try await Self.rewriteDump(of: backup, in: fixture) { $0 + "DROP TABLE public.customers CASCADE;\n" }
    }

    /// Rewrites a genuine backup's SQL with `change`, re-gzipped, with its new checksum in the catalog and in the
    /// content record (whose signature, if any, is kept): only the record's content, or its signature, can tell.
    static func rewriteDump(
        of backup: BackupRecord, in fixture: RecoveryFixture, _ change: (String) throws -> String
    ) async throws {
        let dump = try await Self.gunzip(fixture.backupPath(backup), fixture: fixture)
        try await Self.replace(
            backup, in: fixture, withDump: Data(try change(String(decoding: dump, as: UTF8.self)).utf8))
        let recordPath = BackupContentRecord.sidecarPath(for: fixture.backupPath(backup))
        var record = try JSONDecoder().decode(
            BackupContentRecord.self, from: Data(contentsOf: URL(fileURLWithPath: recordPath)))
        record.sha256 = try SHA256Checksum.ofFile(atPath: fixture.backupPath(backup))
        try FileManager.default.removeItem(atPath: recordPath)
        try record.write(besideBackupAt: fixture.backupPath(backup))
    }

    /// Replaces a backup with a plain pg_dump of another database holding one table (`name (columns)`, 3000
    /// rows), named like the backup, with a fresh checksum in the catalog and no content record: a hand-made
    /// dump uploaded under the wrong name.
    static func replaceWithForeignDump(_ backup: BackupRecord, in fixture: RecoveryFixture, table: String)
        async throws
    {
        let other = fixture.database + "_other"
        _ = try await fixture.runner.runChecked(fixture.toolbox.postgres.createDatabase(other))
        let name = String(table.prefix { $0 != " " })
        _ = try await fixture.query(
            "CREATE TABLE \(table); INSERT INTO \(name)"
                + " SELECT md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 3000) g",
            in: other)
        var postgres = fixture.toolbox.postgres
        postgres.connection = postgres.connection.with(database: other)
        let dump = try await fixture.runner.runChecked(postgres.dump())
        try await Self.replace(backup, in: fixture, withDump: Data(dump.output.utf8))
        try FileManager.default.removeItem(atPath: BackupContentRecord.sidecarPath(for: fixture.backupPath(backup)))
    }

    static func gunzip(_ path: String, fixture: RecoveryFixture) async throws -> Data {
        let result = try await fixture.runner.runChecked(CommandInvocation("gzip", ["-dc", path]))
        return Data(result.output.utf8)
    }

    static func restore(_ fixture: RecoveryFixture, drctl: String, backup: BackupRecord) async throws
        -> DrctlProcess.Result
    {
        try await DrctlProcess.run(
            drctl, ["restore", "-f", fixture.manifestPath, "--backup", backup.fileName, "--yes"],
            environment: fixture.binaryEnvironment)
    }

    static func expectRefusedUntouched(
        _ run: DrctlProcess.Result, fixture: RecoveryFixture, live: [String: String], cause: String
    ) async throws {
        #expect(run.status == 3, "\(run.output)\n\(run.errors)")
        let firstErrorLine = run.errors.split(separator: "\n").first { $0.contains("error") || $0.contains("refused") }
        #expect(firstErrorLine?.contains(cause) == true, "first line lacks '\(cause)':\n\(run.errors)")
        #expect(try await fixture.tableChecksums() == live, "the live database changed")
        #expect(try await fixture.databases(like: fixture.database + "_restore_%").isEmpty, "scratch left behind")
        #expect(try await fixture.deploymentReplicas() == fixture.replicas)
    }

    @Test("a genuine backup with DROP TABLE appended (new checksum) is refused: customers is missing")
    func appendedDropTable() async throws {
        try await RecoveryCommandTests.withBackup { fixture, drctl in
            let backup = try #require(try fixture.folder.catalogStore.load().records.first { $0.tier == .daily })
            try await Self.appendDropTable(to: backup, in: fixture)
            let live = try await fixture.tableChecksums()

            let run = try await Self.restore(fixture, drctl: drctl, backup: backup)

            try await Self.expectRefusedUntouched(
                run, fixture: fixture, live: live, cause: "does not hold what its content record says")
            #expect(run.errors.contains("table public.customers is missing"), "\(run.errors)")
        }
    }

    /// The content check takes the rows of each table the load COPYed from psql's own `COPY n` reports: a dump
    /// whose `COPY public.customers` lost one data line (500 rows recorded, 499 loaded) is still refused.
    @Test("a dump that COPYs one row fewer than its record says is refused, by the load's COPY reports")
    func copyOfOneRowFewerIsRefused() async throws {
        try await RecoveryCommandTests.withBackup { fixture, drctl in
            let backup = try #require(try fixture.folder.catalogStore.load().records.first { $0.tier == .daily })
            try await Self.rewriteDump(of: backup, in: fixture) { dump in
                var lines = dump.components(separatedBy: "\n")
                let copy = try #require(lines.firstIndex { $0.hasPrefix("COPY public.customers (") })
                lines.remove(at: copy + 1)
                return lines.joined(separator: "\n")
            }
            let live = try await fixture.tableChecksums()

            let run = try await Self.restore(fixture, drctl: drctl, backup: backup)

            try await Self.expectRefusedUntouched(
                run, fixture: fixture, live: live, cause: "does not hold what its content record says")
            #expect(run.errors.contains("table public.customers has 499 rows, the record says 500"), "\(run.errors)")
            #expect(
                (run.output + run.errors).contains("content check (row counts from the load's COPY reports)"),
                "\(run.output)\n\(run.errors)")
        }
    }

    /// A row-changing statement other than COPY in the dump (here an INSERT, as in a `pg_dump --inserts` dump)
    /// makes the check count every table: the COPY reports alone would say 500 customers, the table holds 501.
    @Test("a dump with an INSERT besides its COPYs is counted: one customer more than recorded is refused")
    func insertBesidesCopyIsCounted() async throws {
        try await RecoveryCommandTests.withBackup { fixture, drctl in
            let backup = try #require(try fixture.folder.catalogStore.load().records.first { $0.tier == .daily })
            try await Self.rewriteDump(of: backup, in: fixture) {
                $0 + "INSERT INTO public.customers (id, name) VALUES (100001, 'added');\n"
            }
            let live = try await fixture.tableChecksums()

            let run = try await Self.restore(fixture, drctl: drctl, backup: backup)

            try await Self.expectRefusedUntouched(
                run, fixture: fixture, live: live, cause: "does not hold what its content record says")
            #expect(run.errors.contains("table public.customers has 501 rows, the record says 500"), "\(run.errors)")
            #expect((run.output + run.errors).contains("content check (counted)"), "\(run.output)\n\(run.errors)")
        }
    }

    @Test("a genuine backup restores, its row counts taken from the load's COPY reports, and the journal says so")
    func genuineBackupIsCheckedByCopyReports() async throws {
        try await RecoveryCommandTests.withBackup { fixture, drctl in
            let source = try await fixture.tableChecksums()
            _ = try await fixture.query("DELETE FROM customers")

            let run = try await DrctlProcess.run(
                drctl, ["restore", "-f", fixture.manifestPath, "-o", "json"], environment: fixture.binaryEnvironment)

            #expect(run.status == 0, "\(run.output)\n\(run.errors)")
            let verified = try #require(DrctlProcess.outputs(ofStep: "backup.verify", in: run.output))
            let check = verified["contentCheck"] ?? ""
            #expect(check.hasPrefix("matches its content record"), "\(verified)")
            #expect(check.contains("; row counts from the load's COPY reports;"), "\(verified)")
            #expect(try await fixture.tableChecksums() == source)
        }
    }

    @Test("a genuine backup changed after it was taken, its record left as it was, is refused")
    func recordOfAnotherFile() async throws {
        try await RecoveryCommandTests.withBackup { fixture, drctl in
            let backup = try #require(try fixture.folder.catalogStore.load().records.first { $0.tier == .daily })
            var dump = try await Self.gunzip(fixture.backupPath(backup), fixture: fixture)
            dump.append(Data("DROP TABLE public.customers CASCADE;\n".utf8))
            try await Self.replace(backup, in: fixture, withDump: dump)
            let live = try await fixture.tableChecksums()

            let run = try await Self.restore(fixture, drctl: drctl, backup: backup)

            try await Self.expectRefusedUntouched(
                run, fixture: fixture, live: live, cause: "was written for another file")
        }
    }

    @Test(
        "a plain pg_dump of another database named like a backup, with no record, is refused where records are required"
    )
    func foreignDumpWithoutRecord() async throws {
        try await RecoveryCommandTests.withBackup { fixture, drctl in
            let backup = try #require(try fixture.folder.catalogStore.load().records.first { $0.tier == .daily })
            try await Self.replaceWithForeignDump(backup, in: fixture, table: "documents_header (id text PRIMARY KEY)")
            var manifest = try String(contentsOfFile: fixture.manifestPath, encoding: .utf8)
            manifest = manifest.replacingOccurrences(
                of: "  local: backups\n", with: "  local: backups\n  requireContentRecord: true\n")
            try manifest.write(toFile: fixture.manifestPath, atomically: true, encoding: .utf8)
            let live = try await fixture.tableChecksums()

            let run = try await Self.restore(fixture, drctl: drctl, backup: backup)

            try await Self.expectRefusedUntouched(run, fixture: fixture, live: live, cause: "has no content record")
        }
    }

    @Test("a dump of another database without the smoke query's table is refused and its scratch database dropped")
    func foreignDumpFailsTheSmokeQuery() async throws {
        try await RecoveryCommandTests.withBackup { fixture, drctl in
            let backup = try #require(try fixture.folder.catalogStore.load().records.first { $0.tier == .daily })
            try await Self.replaceWithForeignDump(backup, in: fixture, table: "unrelated (id text)")
            let live = try await fixture.tableChecksums()

            let run = try await Self.restore(fixture, drctl: drctl, backup: backup)

            try await Self.expectRefusedUntouched(run, fixture: fixture, live: live, cause: "the smoke query failed")
        }
    }

    @Test("a backup taken while a writer inserts rows: its record and its dump agree")
    func recordAndDumpAgreeUnderWrites() async throws {
        let fixture = try RecoveryFixture(environment: "record-tests")
        try await fixture.seed()
        do {
            let postgres = fixture.toolbox.postgres
            let writer = Task {
                var inserted = 0
                while !Task.isCancelled, inserted < 2000 {
                    _ = try? await fixture.runner.run(
                        postgres.query(
                            "INSERT INTO documents_header (id, title) SELECT 'W-' || g, 'w' FROM"
                                + " generate_series(\(inserted), \(inserted + 49)) g"))
                    inserted += 50
                }
            }
            let record = try await fixture.createBackup()
            writer.cancel()
            _ = await writer.value
            let content = try #require(record.content)
            let scratch = fixture.database + "_check"
            _ = try await fixture.runner.runChecked(postgres.createDatabase(scratch))
            var loaded = postgres
            loaded.connection = loaded.connection.with(database: scratch)
            _ = try await fixture.runner.runChecked(
                CommandPipeline([
                    fixture.toolbox.gzip.decompress(file: fixture.backupPath(record)),
                    loaded.runScript(singleTransaction: true),
                ]))
            let found = try #require(
                Postgres.parseContent(try await fixture.runner.runChecked(loaded.contentQuery()).output))
            #expect(content.content.differences(from: found).isEmpty, "\(content.content.differences(from: found))")
            #expect(content.content.tables.contains { $0.name == "public.documents_header" })
        } catch {
            await fixture.cleanUp()
            throw error
        }
        await fixture.cleanUp()
    }

    @Test("without --backup, a tampered newest backup is refused after its load and the next older one restored")
    func tamperedNewestFallsBackToTheOlder() async throws {
        try await RecoveryCommandTests.withBackup { fixture, drctl in
            let source = try await fixture.tableChecksums()
            let newest = try await fixture.createBackup()
            try await Self.appendDropTable(to: newest, in: fixture)
            _ = try await fixture.query("DELETE FROM customers WHERE id > 250")

            let run = try await DrctlProcess.run(
                drctl, ["restore", "-f", fixture.manifestPath, "-o", "json"], environment: fixture.binaryEnvironment)

            #expect(run.status == 0, "\(run.output)\n\(run.errors)")
            let refused = run.output.split(separator: "\n").first { $0.contains("refused \(newest.fileName)") } ?? ""
            #expect(refused.contains("does not hold what its content record says"), "\(run.output)")
            #expect(refused.contains("table public.customers is missing"), "\(refused)")
            #expect(try await fixture.tableChecksums() == source, "the older backup's data was not restored")
            let verified = try #require(DrctlProcess.outputs(ofStep: "backup.verify", in: run.output))
            #expect(verified["name"] != newest.fileName)
            #expect(verified["skipped"]?.contains(newest.fileName) == true)
            #expect(verified["contentCheck"]?.hasPrefix("matches its content record") == true, "\(verified)")
            #expect(try await fixture.databases(like: fixture.database + "_restore_%").isEmpty)
        }
    }

    @Test(
        "a backup without a content record still restores, checked by the smoke query and table presence, and says so")
    func unrecordedBackupRestoresAndSaysSo() async throws {
        try await RecoveryCommandTests.withBackup { fixture, drctl in
            let source = try await fixture.tableChecksums()
            let backup = try #require(try fixture.folder.catalogStore.load().records.first { $0.tier == .daily })
            try FileManager.default.removeItem(atPath: BackupContentRecord.sidecarPath(for: fixture.backupPath(backup)))
            _ = try await fixture.query("DELETE FROM customers")

            let run = try await DrctlProcess.run(
                drctl, ["restore", "-f", fixture.manifestPath, "-o", "json"], environment: fixture.binaryEnvironment)

            #expect(run.status == 0, "\(run.output)\n\(run.errors)")
            #expect(run.output.contains("has no content record"), "\(run.output)")
            let verified = try #require(DrctlProcess.outputs(ofStep: "backup.verify", in: run.output))
            #expect(verified["contentCheck"]?.hasPrefix("none: no content record") == true, "\(verified)")
            #expect(try await fixture.tableChecksums() == source)
        }
    }

    @Test("signed records: a good one restores; one whose backup and record were changed without the key is refused")
    func signedRecords() async throws {
        let fixture = try RecoveryFixture(signingKey: "k3y-" + UUID().uuidString)
        let drctl = try DrctlProcess.binary()
        try await fixture.seed()
        do {
            let good = try await fixture.createBackup()
            let tampered = try await fixture.createBackup()
            #expect(good.content?.signature?.count == 64, "backup create did not sign the record")
            try await Self.appendDropTable(to: tampered, in: fixture)
            let live = try await fixture.tableChecksums()

            let refused = try await Self.restore(fixture, drctl: drctl, backup: tampered)
            try await Self.expectRefusedUntouched(
                refused, fixture: fixture, live: live, cause: "does not verify with the manifest's signing key")

            _ = try await fixture.query("DELETE FROM customers WHERE id < 10")
            let restored = try await DrctlProcess.run(
                drctl, ["restore", "-f", fixture.manifestPath, "--backup", good.fileName, "--yes", "-o", "json"],
                environment: fixture.binaryEnvironment)
            #expect(restored.status == 0, "\(restored.output)\n\(restored.errors)")
            let verified = try #require(DrctlProcess.outputs(ofStep: "backup.verify", in: restored.output))
            #expect(verified["contentCheck"]?.contains("; signed)") == true, "\(verified)")
            #expect(try await fixture.tableChecksums() == live)
            #expect(!restored.output.contains(fixture.signingKey ?? "-"), "the signing key reached the output")
        } catch {
            await fixture.cleanUp()
            throw error
        }
        await fixture.cleanUp()
    }

    @Test("recover-rows: a tampered newest backup is refused in the temporary database and the older one used")
    func recoverRowsFallsBackToTheOlder() async throws {
        try await RecoveryCommandTests.withBackup { fixture, drctl in
            let headerSum =
                "SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM documents_header t"
            let source = try await fixture.query(headerSum)
            let newest = try await fixture.createBackup()
            try await Self.appendDropTable(to: newest, in: fixture)
            _ = try await fixture.query(
                "DELETE FROM documents_line WHERE header_id IN ('DOC-7', 'DOC-42');"
                    + " DELETE FROM documents_header WHERE id IN ('DOC-7', 'DOC-42')")

            let run = try await DrctlProcess.run(
                drctl,
                [
                    "recover-rows", "-f", fixture.manifestPath, "--table", "documents_header", "--key", "id",
                    "--ids", "DOC-7", "--ids", "DOC-42", "--before", "2025-10-12", "-o", "json",
                ], environment: fixture.binaryEnvironment)

            #expect(run.status == 0, "\(run.output)\n\(run.errors)")
            #expect(run.output.contains("refused \(newest.fileName)"), "\(run.output)")
            #expect(try await fixture.query(headerSum) == source)
            #expect(try await fixture.databases(like: fixture.database + "_recover_%").isEmpty)
        }
    }

    @Test("recover-rows with a signing key: a newest backup whose record no longer verifies is refused, the older used")
    func recoverRowsRefusesABadSignature() async throws {
        let fixture = try RecoveryFixture(signingKey: "k3y-" + UUID().uuidString)
        let drctl = try DrctlProcess.binary()
        try await fixture.seed()
        try await withTearDown({ await fixture.cleanUp() }) {
            let headerSum =
                "SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM documents_header t"
            let source = try await fixture.query(headerSum)
            try await fixture.createBackup()
            let newest = try await fixture.createBackup()
            try await Self.appendDropTable(to: newest, in: fixture)
            _ = try await fixture.query(
                "DELETE FROM documents_line WHERE header_id = 'DOC-9'; DELETE FROM documents_header WHERE id = 'DOC-9'")

            let run = try await DrctlProcess.run(
                drctl,
                [
                    "recover-rows", "-f", fixture.manifestPath, "--table", "documents_header", "--key", "id",
                    "--ids", "DOC-9", "--before", "2025-10-12", "-o", "json",
                ], environment: fixture.binaryEnvironment)

            #expect(run.status == 0, "\(run.output)\n\(run.errors)")
            let refused = run.output.split(separator: "\n").first { $0.contains("refused \(newest.fileName)") } ?? ""
            #expect(refused.contains("does not verify with the manifest's signing key"), "\(run.output)")
            #expect(try await fixture.query(headerSum) == source)
            #expect(try await fixture.databases(like: fixture.database + "_recover_%").isEmpty)
        }
    }

    /// How a newer off-site backup of the rebuild tests is wrong.
    enum Forgery: String, CaseIterable, Sendable {
        /// Another database's dump, with a record of this database.
        case foreignDump
        /// This database's genuine dump with `DROP TABLE documents_line CASCADE;` appended, its record as taken.
        case appendedDropTable
        /// This database's genuine dump and record, the record signed with another key than the manifest's
        /// (the older good backup's record is signed with the manifest's): only the signature can tell.
        case signedWithAnotherKey
    }

    @Test(
        "rebuild: a newer off-site backup with a matching .sha256 and a record of this database, but other content, is refused after its load and the older one restored",
        arguments: Forgery.allCases)
    func rebuildRefusesAForgedBackup(_ forgery: Forgery) async throws {
        try await RebuildWorld.with { world in
            let before = try await world.tableDigests()
            var environment = world.environment
            if forgery == .signedWithAnotherKey {
                let key = "k3y-" + UUID().uuidString
                environment["DRCTL_TEST_SIGNING_KEY"] = key
                let manifest = try String(contentsOfFile: world.manifest, encoding: .utf8).replacingOccurrences(
                    of: "\nbackups:\n", with: "\nbackups:\n  signingKey: { env: DRCTL_TEST_SIGNING_KEY }\n")
                try manifest.write(toFile: world.manifest, atomically: true, encoding: .utf8)
                try await Self.uploadSignedRecord(
                    for: "\(world.database)_backup_20261124_020000.sql.gz", key: key, into: world)
            }
            let forged = try await Self.uploadForgedBackup(forgery, into: world)
            try await world.loseEverything()

            let run = try await DrctlProcess.run(
                world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: environment)

            #expect(run.status == 0, "drctl rebuild failed:\n\(run.output)\n\(run.errors)")
            let refused = run.output.split(separator: "\n").first { $0.contains("refused \(forged)") } ?? ""
            switch forgery {
            case .foreignDump:
                #expect(refused.contains("does not hold what its content record says"), "\(run.output)")
            case .appendedDropTable:
                #expect(refused.contains("table public.documents_line is missing"), "\(run.output)")
            case .signedWithAnotherKey:
                #expect(refused.contains("does not verify with the manifest's signing key"), "\(run.output)")
            }
            #expect(try await world.tableDigests() == before)
            let fetched = try world.stepOutputs("backup.fetch")
            #expect(fetched["name"] == "\(world.database)_backup_20261124_020000.sql.gz")
            let check = fetched["contentCheck"] ?? ""
            #expect(
                forgery == .signedWithAnotherKey
                    ? check.hasPrefix("matches its content record") && check.hasSuffix("; signed)")
                    : check.hasPrefix("none: no content record"), "\(fetched)")
            #expect(try await world.databases(like: "_restore_").isEmpty, "a new database was left behind")
        }
    }

    /// A backup uploaded as this database's newest, with a `.sha256` sidecar of its bytes and a content record
    /// read from this database (its tables and row counts), but holding something else (`forgery`): what a
    /// compromised bucket or a shared prefix could hold. Returns its name.
    static func uploadForgedBackup(_ forgery: Forgery, into world: RebuildWorld) async throws -> String {
        let runner = CommandRunner()
        let stack = world.stack
        let admin = Postgres(
            connection: PostgresConnection(
                host: stack.postgresHost, port: stack.postgresPort, user: stack.postgresUser, database: "postgres",
                password: stack.postgresPassword))
        var ours = admin
        ours.connection = admin.connection.with(database: world.database)
        let content = try #require(Postgres.parseContent(try await runner.runChecked(ours.contentQuery()).output))
        var dumped = ours
        let other = world.database + "_foreign"
        if forgery == .foreignDump {
            try await runner.runChecked(admin.createDatabase(other))
            dumped.connection = admin.connection.with(database: other)
            try await runner.runChecked(
                dumped.query(
                    "CREATE TABLE documents_header (id text PRIMARY KEY, title text); INSERT INTO documents_header"
                        + " SELECT 'X-' || g, 'fremd' FROM generate_series(1, 3000) g;"))
        }
        let name = "\(world.database)_backup_20261125_020000.sql.gz"
        let path = world.folder + "/upload/" + name
        var sql = Data(try await runner.runChecked(dumped.dump()).output.utf8)
        if forgery == .foreignDump { try await runner.runChecked(admin.dropDatabase(other, force: true)) }
        if forgery == .appendedDropTable { sql.append(Data("DROP TABLE public.documents_line CASCADE;\n".utf8)) }
        try sql.write(to: URL(fileURLWithPath: path + ".sql"))
        try await runner.runChecked(
            CommandPipeline([CommandInvocation("gzip", ["-c", path + ".sql"])], output: .file(path)))
        let sha256 = try SHA256Checksum.ofFile(atPath: path)
        try "\(sha256)  \(name)\n".write(toFile: path + ".sha256", atomically: true, encoding: .utf8)
        var record = BackupContentRecord(backup: name, sha256: sha256, format: .plain, content: content)
        if forgery == .signedWithAnotherKey { record = record.signed(with: SecretValue("another key")) }
        try record.write(besideBackupAt: path)
        for file in [path, path + ".sha256", BackupContentRecord.sidecarPath(for: path)] {
            let key = "postgresql/" + (file as NSString).lastPathComponent
            try await world.aws(["s3", "cp", file, "s3://\(world.bucket)/\(key)", "--only-show-errors"])
        }
        return name
    }

    /// A record of the world's live database for its uploaded backup `name`, signed with `key`, uploaded beside it.
    static func uploadSignedRecord(for name: String, key: String, into world: RebuildWorld) async throws {
        let stack = world.stack
        let postgres = Postgres(
            connection: PostgresConnection(
                host: stack.postgresHost, port: stack.postgresPort, user: stack.postgresUser,
                database: world.database, password: stack.postgresPassword))
        let content = try #require(
            Postgres.parseContent(try await CommandRunner().runChecked(postgres.contentQuery()).output))
        let path = world.folder + "/upload/" + name
        let record = BackupContentRecord(
            backup: name, sha256: try SHA256Checksum.ofFile(atPath: path), format: .plain, content: content
        ).signed(with: SecretValue(key))
        try record.write(besideBackupAt: path)
        try await world.aws([
            "s3", "cp", BackupContentRecord.sidecarPath(for: path),
            "s3://\(world.bucket)/postgresql/\(name)\(BackupContentRecord.sidecarSuffix)", "--only-show-errors",
        ])
    }

    @Test("backup list and verify show each record; verify fails a backup whose record was written for another file")
    func listAndVerifyShowTheRecord() async throws {
        try await RecoveryCommandTests.withBackup { fixture, drctl in
            let good = try #require(try fixture.folder.catalogStore.load().records.first { $0.tier == .daily })
            let list = try await DrctlProcess.run(
                drctl, ["backup", "list", "-f", fixture.manifestPath], environment: fixture.binaryEnvironment)
            #expect(list.status == 0, "\(list.output)\n\(list.errors)")
            let row = list.output.split(separator: "\n").first { $0.contains(good.fileName) } ?? ""
            #expect(row.contains("3 tables, 5502 rows, database \(fixture.database)"), "\(list.output)")
            #expect(row.contains("unsigned"), "\(row)")

            // A second backup whose record is the first one's: a record copied beside the wrong file.
            let second = try await fixture.createBackup()
            let secondRecord = BackupContentRecord.sidecarPath(for: fixture.backupPath(second))
            try FileManager.default.removeItem(atPath: secondRecord)
            try FileManager.default.copyItem(
                atPath: BackupContentRecord.sidecarPath(for: fixture.backupPath(good)), toPath: secondRecord)
            let verify = try await DrctlProcess.run(
                drctl, ["backup", "verify", "-f", fixture.manifestPath, "--full"],
                environment: fixture.binaryEnvironment)
            #expect(verify.status != 0, "\(verify.output)\n\(verify.errors)")
            let failed = verify.output.split(separator: "\n").first { $0.contains(second.fileName) } ?? ""
            #expect(failed.contains("content record written for another file"), "\(verify.output)")
            let passed = verify.output.split(separator: "\n").first { $0.contains(good.fileName) } ?? ""
            #expect(passed.contains("passed — 3 tables"), "\(verify.output)")
        }
    }

    @Test("a backup whose SQL fails to load is refused (exit 3), psql's error in the first line, nothing left")
    func sqlThatFailsIsARefusal() async throws {
        try await RecoveryCommandTests.withBackup { fixture, drctl in
            let backup = try #require(try fixture.folder.catalogStore.load().records.first { $0.tier == .daily })
            var dump = try await Self.gunzip(fixture.backupPath(backup), fixture: fixture)
            dump.append(Data("INSERT INTO no_such_table VALUES (1);\n".utf8))
            try await Self.replace(backup, in: fixture, withDump: dump)
            let live = try await fixture.tableChecksums()

            let run = try await Self.restore(fixture, drctl: drctl, backup: backup)

            try await Self.expectRefusedUntouched(run, fixture: fixture, live: live, cause: "does not load")
            let first = run.errors.split(separator: "\n").first { $0.contains("does not load") } ?? ""
            #expect(first.contains("relation \"no_such_table\" does not exist"), "\(run.errors)")
        }
    }
}
