import DrctlTestSupport
import Foundation
import Testing

@testable import DrctlCore

/// `backups.format: custom` against the local stack with the real pg_dump, pg_restore and aws: `.dump` backups
/// are created, verified, restored with `pg_restore -j`, pruned, listed and copied off-site next to `.sql.gz` ones.
@Suite("Custom-format backups on the local stack", .serialized)
struct ArchiveBackupTests {
    /// A third table with arrays, bytea and NULLs on top of the fixture's seed.
    static let moreRows = """
        CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, tags text[], photo bytea);
        INSERT INTO customers SELECT g, 'Kunde ' || g || ' 😀 «ä»', CASE WHEN g % 3 = 0 THEN NULL
          ELSE 'k' || g || '@example.com' END, ARRAY['a', 'b' || g], decode(md5(g::text), 'hex')
          FROM generate_series(1, 500) g;
        INSERT INTO documents_header VALUES ('O''Brien; DROP TABLE x; --', E'tab\\there', NULL, NULL);
        """

    static let tables = ["documents_header", "documents_line", "customers"]

    /// One md5 per table over every row's text, ordered: equal when the contents are equal.
    static func tableChecksums(_ fixture: BackupFixture, in database: String) async throws -> [String: String] {
        var postgres = fixture.toolbox.postgres
        postgres.connection = postgres.connection.with(database: database)
        var sums: [String: String] = [:]
        for table in tables {
            let sql =
                "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM \(table) t"
            sums[table] = try await fixture.runner.runChecked(postgres.query(sql)).output
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return sums
    }

    @Test func createWritesAnArchiveThatPgRestoreJRestoresIdentically() async throws {
        let fixture = try BackupFixture(format: .custom)
        try await fixture.seeded {
            try await fixture.runner.runChecked(fixture.toolbox.postgres.query(Self.moreRows))

            let creation = try await fixture.createBackup()

            #expect(creation.daily.fileName == "\(fixture.database)_backup_20260330_020000.dump")
            #expect(creation.daily.name.format == .custom)
            let permissions = try FileManager.default.attributesOfItem(atPath: creation.path)[.posixPermissions] as? Int
            #expect(permissions == 0o600)
            #expect(try SHA256Checksum.ofFile(atPath: creation.path) == creation.daily.sha256)
            let listing = try await fixture.runner.runChecked(
                fixture.toolbox.postgres.archive.list(file: creation.path))
            #expect(listing.output.contains("TABLE DATA public customers"))
            #expect(PostgresArchive.dumpedDatabase(inListing: listing.output) == fixture.database)
            #expect(try fixture.catalog().record(fileName: creation.daily.fileName, tier: .monthly) != nil)
            #expect(try fixture.folder.files().allSatisfy { !$0.fileName.hasSuffix(".partial") })
            #expect(try await fixture.verifier.verify(full: true).passed)

            let copy = fixture.database + "_copy"
            try await fixture.runner.runChecked(fixture.toolbox.postgres.createDatabase(copy))
            var target = fixture.toolbox.postgres
            target.connection = target.connection.with(database: copy)
            let restore = target.restoreArchive(
                file: creation.path, jobs: fixture.manifest.backups.effectiveRestoreJobs)
            #expect(restore.arguments.contains("-j") && restore.arguments.contains("2"))
            try await fixture.runner.runChecked(restore)

            let original = try await Self.tableChecksums(fixture, in: fixture.database)
            let restored = try await Self.tableChecksums(fixture, in: copy)
            _ = try? await fixture.runner.run(fixture.toolbox.postgres.dropDatabase(copy, force: true))
            #expect(restored == original)
            #expect(original["customers"]?.hasPrefix("500:") == true)
            #expect(original["documents_header"]?.hasPrefix("3001:") == true)
        }
    }

    @Test func verifyRefusesDamagedArchives() async throws {
        let fixture = try BackupFixture(format: .custom)
        try await fixture.seeded {
            var paths: [String] = []
            for _ in 0..<6 { paths.append(try await fixture.createBackup(advance: .seconds(3_600)).path) }
            let size = try Damage.size(paths[0])

            try Damage.truncate(paths[1], to: size * 2 / 3)  // truncated: the table of contents still lists
            try Damage.overwrite(paths[2], at: size * 2 / 3, with: Array(repeating: 0x5A, count: 64))  // flipped
            try Damage.truncate(paths[3], to: 0)  // zero bytes
            try Data(repeating: 0x41, count: 32_768).write(to: URL(fileURLWithPath: paths[4]))  // not an archive
            try Damage.append(paths[5], "trailing bytes")  // reads fine; only the checksum tells

            let report = try await fixture.verifier.verify()
            func result(_ path: String) -> BackupVerificationReport.FileResult? {
                report.files.first { $0.tier == .daily && $0.file == (path as NSString).lastPathComponent }
            }
            #expect(result(paths[0])?.outcome == .unchanged || result(paths[0])?.outcome == .passed)
            for damaged in paths.dropFirst() { #expect(result(damaged)?.outcome == .failed, "\(damaged)") }
            #expect(result(paths[1])?.detail?.contains("corrupt: pg_restore reading every entry") == true)
            #expect(result(paths[2])?.detail?.contains("corrupt: pg_restore reading every entry") == true)
            #expect(result(paths[3])?.detail == "empty (0 bytes)")
            #expect(result(paths[4])?.detail?.contains("corrupt: pg_restore --list") == true)
            #expect(result(paths[4])?.detail?.contains("valid archive") == true)
            #expect(result(paths[5])?.detail?.contains("differs from the catalog") == true)
            #expect(!report.passed)
            #expect(
                result(paths[1])?.error?.localizedDescription.contains("restore stopped before touching") == true)
            #expect(try fixture.catalog().latest(verified: true)?.fileName == (paths[0] as NSString).lastPathComponent)
        }
    }

    @Test func listPruneAndSyncHandleAMixOfBothFormats() async throws {
        // 2026-01-30 02:00 UTC; plain, custom, plain, custom on four days over two months; keep 2 daily, 1 monthly.
        let bucket = "drctl-archive-it-\(UUID().uuidString.prefix(8).lowercased())"
        let fixture = try BackupFixture(
            retention: (2, 1), bucket: bucket, start: Date(timeIntervalSince1970: 1_769_738_400))
        try await fixture.seeded {
            try await fixture.runner.runChecked(
                CommandInvocation("aws", ["s3api", "create-bucket", "--bucket", bucket]))
            var names: [String] = []
            for day in 0..<4 {
                var creator = fixture.creator
                creator.format = day % 2 == 0 ? .plain : .custom
                names.append(try await creator.create().daily.fileName)
                fixture.clock.advance(by: .seconds(86_400))
            }
            #expect(names.map { $0.hasSuffix(".dump") } == [false, true, false, true])

            let verified = try await fixture.verifier.verify(full: true)
            #expect(verified.passed)
            #expect(verified.files.count == 6)
            #expect(verified.recoveryPoint.newestVerified == names[3])

            let pruner = BackupPruner(manifest: fixture.manifest, clock: fixture.clock)
            let report = try pruner.prune(dryRun: false)
            let expectedDeletions = ["daily/\(names[0])", "daily/\(names[1])", "monthly/\(names[0])"]
            #expect(report.deleted.sorted() == expectedDeletions.sorted())
            #expect(
                try fixture.folder.files().map(\.relativePath).sorted()
                    == ["daily/\(names[2])", "daily/\(names[3])", "monthly/\(names[2])"].sorted())

            let sync = BackupSync(
                manifest: fixture.manifest, targets: OffsiteTarget.targets(of: fixture.toolbox), runner: fixture.runner,
                clock: fixture.clock, scratchDirectory: fixture.root)
            let synced = try await sync.sync(dryRun: false)
            #expect(synced.inSync)
            #expect(
                synced.stores.first?.uploaded.sorted()
                    == ["daily/\(names[2])", "daily/\(names[3])", "monthly/\(names[2])"].sorted())
            let store = S3ObjectStore(bucket: bucket)
            let key = "postgresql/daily/\(names[3])"
            let sidecar = try await fixture.runner.runChecked(try store.download(key + ".sha256", to: .stream)).output
            let record = try #require(try fixture.catalog().record(fileName: names[3], tier: .daily))
            #expect(SHA256Checksum.parseSidecar(sidecar) == record.sha256)

            let listing = try BackupLister(manifest: fixture.manifest, clock: fixture.clock).list()
            #expect(Set(listing.entries.map(\.file)) == [names[2], names[3]])
            #expect(listing.entries.allSatisfy { $0.copies.map(\.store) == [.s3] })
            #expect(listing.text.contains(names[3]) && listing.text.contains(names[2]))
            #expect(try await sync.sync(dryRun: true).inSync)
        }
    }
}
