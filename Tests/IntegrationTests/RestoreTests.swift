import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl restore` on the local stack: every damaged backup is refused with the database, the app and the
/// server's database list untouched; a good backup (local or off-site) restores the exact table contents and
/// scales the app back to its replica count.
@Suite("Restore on the local stack")
struct RestoreTests {
    /// What "untouched" means: same table contents, same replicas, no new databases.
    struct Snapshot: Equatable {
        var checksums: [String: String]
        var replicas: Int
        var databases: [String]

        init(_ fixture: RecoveryFixture) async throws {
            checksums = try await fixture.tableChecksums()
            replicas = try await fixture.deploymentReplicas()
            databases = try await fixture.databases(like: fixture.database + "%")
        }
    }

    enum Harm: String, CaseIterable {
        case truncated, corrupt, zeroBytes, trailingGarbage, checksumMismatch, otherDatabase
    }

    @Test("a damaged backup is refused before anything is touched", arguments: Harm.allCases)
    func damagedBackupRefused(_ damage: Harm) async throws {
        let fixture = try RecoveryFixture()
        try await fixture.seed()
        let record = try await fixture.createBackup()
        let path = fixture.backupPath(record)
        switch damage {
        case .truncated, .corrupt, .zeroBytes, .trailingGarbage: try Self.harm(path, damage)
        case .checksumMismatch:
            // A valid gzip of a valid dump, but not the bytes the catalog recorded.
            let sql = try await fixture.runner.runChecked(
                CommandPipeline([fixture.toolbox.gzip.decompress(file: path)])
            ).standardOutput
            let tampered = fixture.root + "/tampered.sql"
            try (sql + Data("-- tampered\n".utf8)).write(to: URL(fileURLWithPath: tampered))
            try await fixture.runner.runChecked(
                CommandPipeline([CommandInvocation("gzip", ["-c", tampered])], output: .file(path)))
        case .otherDatabase:
            // A `pg_dump -C` of another database under this database's backup name, catalogued with its own
            // checksum: only the dump's own CREATE DATABASE / \connect lines give it away.
            let other = fixture.database + "_other"
            try await fixture.runner.runChecked(fixture.toolbox.postgres.createDatabase(other))
            var postgres = fixture.toolbox.postgres
            postgres.connection = postgres.connection.with(database: other)
            try await fixture.runner.runChecked(
                postgres.query("CREATE TABLE t AS SELECT md5(g::text) AS v FROM generate_series(1, 5000) g"))
            var dump = postgres.dump()
            dump.arguments.append("-C")
            try await fixture.runner.runChecked(
                CommandPipeline([dump, fixture.toolbox.gzip.compress()], output: .file(path)))
            try Self.recatalog(record, path: path, in: fixture)
        }
        let before = try await Snapshot(fixture)

        let error = await fixture.restore(.init(backup: .named(record.fileName)))

        let message = try #require(error, "the damaged backup was restored").localizedDescription
        let expected: [Harm: String] = [
            .truncated: "corrupt", .corrupt: "corrupt", .zeroBytes: "empty (0 bytes)",
            .trailingGarbage: "bytes after the end of the gzip data", .checksumMismatch: "SHA-256",
            .otherDatabase: "is a dump of database \(fixture.database)_other, not of \(fixture.database)",
        ]
        #expect(message.contains(expected[damage] ?? "?"), "\(message)")
        #expect(message.contains("before touching"), "\(message)")
        #expect(try await Snapshot(fixture) == before)
        await fixture.cleanUp()
    }

    /// A file damaged before the catalog recorded it (the catalog holds the damaged bytes' SHA-256 and size) passes
    /// the checksum check; gzip finds the damage in the middle of the one-pass load, while psql stops on the cut
    /// SQL. That is a refusal (exit 3) naming the damage, not a failure: nothing live was touched.
    @Test(
        "a damaged backup whose checksum the catalog recorded is refused by the load itself, naming the damage",
        arguments: [Harm.truncated, .corrupt, .trailingGarbage])
    func damagedBackupWithRecordedChecksumRefused(_ damage: Harm) async throws {
        let fixture = try RecoveryFixture()
        try await fixture.seed()
        let record = try await fixture.createBackup()
        let path = fixture.backupPath(record)
        try Self.harm(path, damage)
        try Self.recatalog(record, path: path, in: fixture)
        let before = try await Snapshot(fixture)

        let error = try #require(
            await fixture.restore(.init(backup: .named(record.fileName))), "the damaged backup was restored")

        let message = error.localizedDescription
        #expect((error as? any ClassifiedError)?.failureKind == .refused, "exit 1, not 3: \(message)")
        let named = damage == .trailingGarbage ? "bytes after the end of the gzip data" : "corrupt"
        #expect(message.contains(named), "\(message)")
        #expect(message.contains("before touching"), "\(message)")
        #expect(try await Snapshot(fixture) == before)
        await fixture.cleanUp()
    }

    /// psql runs a local backup's SQL in its restricted mode too: a `\!` and a `\connect` past the first MiB, in a
    /// file whose checksum the catalog holds, stop psql before it ran either (without it, `\!` ran a shell command
    /// while the file was loaded). A refusal; nothing live touched.
    @Test("a local backup's \\! and \\connect past the first MiB never run, though the catalog holds its checksum")
    func backupsMetaCommandsNeverRun() async throws {
        let fixture = try RecoveryFixture()
        try await fixture.seed()
        let record = try await fixture.createBackup()
        let elsewhere = fixture.database + "_elsewhere"
        try await fixture.runner.runChecked(fixture.toolbox.postgres.createDatabase(elsewhere))
        let marker = fixture.root + "/marker"
        let path = fixture.backupPath(record)
        try await fixture.writeTamperedBackup(
            // The tamperer wrote the dump: its own \unrestrict lifts pg_dump's \restrict, never drctl's.
            inserting: { key in
                "\\unrestrict \(key)\n\\! touch \(marker)\n\\connect \(elsewhere)\nCREATE TABLE leaked (x int);\n"
            },
            to: path)
        try Self.recatalog(record, path: path, in: fixture)
        // Without its content record (whose checksum would refuse the file before the load), as a backup made by
        // the runbook's script or an older drctl.
        try FileManager.default.removeItem(atPath: BackupContentRecord.sidecarPath(for: path))
        let before = try await Snapshot(fixture)

        let error = try #require(
            await fixture.restore(.init(backup: .named(record.fileName))), "the tampered backup was restored")

        let message = error.localizedDescription
        #expect(!FileManager.default.fileExists(atPath: marker), "psql ran the backup's \\!")
        #expect(
            try await fixture.query("SELECT count(*) FROM pg_class WHERE relname = 'leaked'", in: elsewhere) == "0",
            "psql followed the backup's \\connect")
        #expect((error as? any ClassifiedError)?.failureKind == .refused, "\(message)")
        #expect(message.contains("does not load"), "\(message)")
        #expect(message.contains("wrong key"), "\(message)")
        #expect(try await Snapshot(fixture) == before)
        await fixture.cleanUp()
    }

    /// Damages the gzip file at `path` as `harm` says: cut in half, 64 bytes overwritten in the middle, emptied,
    /// or text appended after the gzip data. The other harms need the fixture (`damagedBackupRefused`).
    static func harm(_ path: String, _ harm: Harm) throws {
        let size = try Damage.size(path)
        switch harm {
        case .truncated: try Damage.truncate(path, to: size / 2)
        case .corrupt: try Damage.overwrite(path, at: size / 2, with: Array(repeating: 0x5A, count: 64))
        case .zeroBytes: try Damage.truncate(path, to: 0)
        case .trailingGarbage: try Damage.append(path, "not gzip at all")
        case .checksumMismatch, .otherDatabase: Issue.record("\(harm) is not a damage of the file alone")
        }
    }

    /// Records the file at `path` as `record` is now: its SHA-256 and size (as if it had been written so).
    static func recatalog(_ record: BackupRecord, path: String, in fixture: RecoveryFixture) throws {
        let sha = try SHA256Checksum.ofFile(atPath: path)
        try fixture.folder.catalogStore.update { catalog throws(BackupError) in
            var changed = record
            changed.sha256 = sha
            changed.size = Int64((try? Damage.size(path)) ?? 0)
            catalog.upsert(changed)
        }
    }

    @Test("a backup under the size floor is refused, the database untouched")
    func underSizeFloor() async throws {
        let fixture = try RecoveryFixture(sizeFloor: "16KiB")
        try await fixture.seed()
        let record = try await fixture.createBackup()
        let strict = try RecoveryFixture(sizeFloor: "100MB", sharing: fixture)
        let before = try await Snapshot(fixture)
        let error = await strict.restore(.init(backup: .named(record.fileName)))
        let message = try #require(error).localizedDescription
        #expect(message.contains("under the size floor"), "\(message)")
        #expect(try await Snapshot(fixture) == before)
        await fixture.cleanUp()
    }

    @Test("--before earlier than every backup, another database's file, no room: refused, untouched")
    func otherRefusals() async throws {
        let fixture = try RecoveryFixture()
        try await fixture.seed()
        let record = try await fixture.createBackup()
        let before = try await Snapshot(fixture)

        let early = await fixture.restore(.init(backup: .before(Date(timeIntervalSince1970: 1_700_000_000))))
        #expect(early?.localizedDescription.contains("no backup of \(fixture.database) was taken before") == true)
        #expect(early?.localizedDescription.contains(record.fileName) == true)

        let other = await fixture.restore(.init(backup: .named("shop_backup_20251009_020000.sql.gz")))
        #expect(other?.localizedDescription.contains("is a dump of database shop") == true)

        let noRoom = await fixture.restore(.init(), free: 1024)
        #expect(noRoom?.localizedDescription.contains("not enough free space") == true)

        #expect(try await Snapshot(fixture) == before)
        await fixture.cleanUp()
    }

    @Test("an unreachable database stops the run before the app is scaled down")
    func databaseUnreachable() async throws {
        let fixture = try RecoveryFixture()
        try await fixture.seed()
        try await fixture.createBackup()
        let dead = try RecoveryFixture(databasePort: 1, sharing: fixture)
        let error = await dead.restore()
        let message = try #require(error).localizedDescription
        // The load into the new database comes first now; it cannot connect, and says so in its first line.
        #expect(message.contains("backup.verify"), "\(message)")
        #expect(message.split(separator: "\n").first?.contains("port 1 failed") == true, "\(message)")
        #expect(try await fixture.deploymentReplicas() == fixture.replicas)
        await fixture.cleanUp()
    }

    @Test("a good restore gives the source's table contents, keeps the old database and scales the app back")
    func goodRestore() async throws {
        let fixture = try RecoveryFixture()
        try await fixture.seed()
        let source = try await fixture.tableChecksums()
        let record = try await fixture.createBackup()
        // pg_dump 15.14+ writes its own \restrict and \unrestrict lines: drctl's restricted mode takes their place.
        #expect(try await fixture.writtenByRestrictingPgDump(record))
        // The "corruption": rows gone, a table dropped, one changed.
        _ = try await fixture.query(
            "DELETE FROM documents_line; DROP TABLE customers; UPDATE documents_header SET title = 'kaputt'")
        let damaged = try await fixture.tableChecksums()
        #expect(damaged != source)

        let error = await fixture.restore()
        #expect(error == nil, "\(String(describing: error))")

        #expect(try await fixture.tableChecksums() == source)
        let kept = try await fixture.databases(like: fixture.database + "_before_%")
        #expect(kept.count == 1)
        if let kept = kept.first { #expect(try await fixture.tableChecksums(in: kept) == damaged) }
        #expect(try await fixture.databases(like: fixture.database + "_restore_%").isEmpty)
        #expect(try await fixture.deploymentReplicas() == fixture.replicas)
        await fixture.cleanUp()
    }

    @Test("--drop-old drops the replaced database; the restore from an off-site copy gives the same contents")
    func offsiteRestoreDropOld() async throws {
        let bucket = "drctl-restore-it-\(UUID().uuidString.prefix(8).lowercased())"
        let fixture = try RecoveryFixture(bucket: bucket)
        try await fixture.seed()
        let source = try await fixture.tableChecksums()
        try await fixture.runner.runChecked(CommandInvocation("aws", ["s3api", "create-bucket", "--bucket", bucket]))
        #expect(try await fixture.writtenByRestrictingPgDump(try await fixture.createBackup()))
        let sync = BackupSync(
            manifest: fixture.manifest, targets: OffsiteTarget.targets(of: fixture.toolbox), runner: fixture.runner,
            clock: fixture.clock, scratchDirectory: fixture.root)
        #expect(try await sync.sync(dryRun: false).inSync)
        try FileManager.default.removeItem(atPath: fixture.folder.root)
        _ = try await fixture.query("TRUNCATE documents_line; DELETE FROM customers WHERE id > 10")

        let error = await fixture.restore(.init(dropOld: true))
        #expect(error == nil, "\(String(describing: error))")

        #expect(try await fixture.tableChecksums() == source)
        #expect(try await fixture.databases(like: fixture.database + "_%").isEmpty)
        #expect(try await fixture.deploymentReplicas() == fixture.replicas)
        await fixture.cleanUp()
    }

    /// Azure Blob as the only off-site store, with the real az against the stack's Blob stand-in: az cannot write
    /// to a pipe, so the backup goes through the run's scratch folder, checked against its `.sha256` all the same.
    @Test(
        "a backup that lives only in Azure Blob is restored with the source's contents; a damaged one is refused",
        arguments: [PostgresDumpFormat.plain, .custom])
    func azureOnlyRestore(_ format: PostgresDumpFormat) async throws {
        let az = try TestPrograms.az()
        let container = "drctl-restore-it-\(UUID().uuidString.prefix(8).lowercased())"
        let fixture = try RecoveryFixture(azureContainer: container, format: format)
        try await fixture.seed()
        let source = try await fixture.tableChecksums()
        try await fixture.runner.runChecked(
            CommandInvocation(az, ["storage", "container", "create", "--name", container, "-o", "none"]))
        let record = try await fixture.createBackup()
        let sync = BackupSync(
            manifest: fixture.manifest, targets: OffsiteTarget.targets(of: fixture.toolbox), runner: fixture.runner,
            clock: fixture.clock, scratchDirectory: fixture.root)
        #expect(try await sync.sync(dryRun: false).inSync)
        try FileManager.default.removeItem(atPath: fixture.folder.root)

        // Both copies in Azure (daily/ and the month's first under monthly/) damaged: same size, one byte flipped
        // near the end. Refused after the download, nothing touched.
        let store = AzureBlobObjectStore(container: container, executable: az)
        let keys = ["daily", "monthly"].map { "postgresql/\($0)/\(record.fileName)" }
        let staged = fixture.root + "/staged"
        try await fixture.runner.runChecked(try store.download(keys[0], to: .file(staged)))
        let good = try Data(contentsOf: URL(fileURLWithPath: staged))
        var bytes = good
        bytes[bytes.count - 20] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: staged))
        for key in keys { try await fixture.runner.runChecked(try store.upload(.file(staged), to: key)) }
        _ = try await fixture.query("TRUNCATE documents_line")
        let damagedState = try await fixture.tableChecksums()
        let refused = await fixture.restore(.init(dropOld: true))
        #expect(refused != nil)

        #expect(try await fixture.tableChecksums() == damagedState)
        #expect(try await fixture.databases(like: fixture.database + "_%").isEmpty)

        // The good daily copy back in place: restored, the replaced database dropped, the app scaled back.
        try good.write(to: URL(fileURLWithPath: staged))
        try await fixture.runner.runChecked(try store.upload(.file(staged), to: keys[0]))
        let error = await fixture.restore(.init(dropOld: true))
        #expect(error == nil, "\(String(describing: error))")
        #expect(try await fixture.tableChecksums() == source)
        #expect(try await fixture.databases(like: fixture.database + "_%").isEmpty)
        #expect(try await fixture.deploymentReplicas() == fixture.replicas)
        _ = try? await fixture.runner.run(
            CommandInvocation(az, ["storage", "container", "delete", "--name", container, "-o", "none"]))
        await fixture.cleanUp()
    }

    @Test("an off-site store without the bucket is a clear error, nothing touched")
    func missingBucket() async throws {
        let fixture = try RecoveryFixture(bucket: "drctl-no-such-bucket-\(UUID().uuidString.prefix(8).lowercased())")
        try await fixture.seed()
        let before = try await Snapshot(fixture)
        let error = await fixture.restore()
        let message = try #require(error).localizedDescription
        #expect(message.contains("backup.verify"), "\(message)")
        #expect(message.contains("NoSuchBucket") || message.contains("does not exist"), "\(message)")
        #expect(try await Snapshot(fixture) == before)
        await fixture.cleanUp()
    }
}
