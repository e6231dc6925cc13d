import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl restore` of custom-format (`.dump`) backups on the local stack: `pg_restore -j` into the run's new
/// database, swapped in by rename; a damaged archive is refused with the live database untouched.
@Suite("Custom-format restore on the local stack")
struct ArchiveRestoreTests {
    typealias Snapshot = RestoreTests.Snapshot

    @Test("a .dump backup is restored with pg_restore -j: the source's table contents, the old database kept")
    func localArchiveRestores() async throws {
        let fixture = try RecoveryFixture(format: .custom)
        try await fixture.seed()
        let source = try await fixture.tableChecksums()
        let record = try await fixture.createBackup()
        #expect(record.fileName.hasSuffix(".dump"))
        _ = try await fixture.query(
            "DELETE FROM documents_line; DROP TABLE customers; UPDATE documents_header SET title = 'kaputt'")
        let damaged = try await fixture.tableChecksums()

        let recorder = RecordingTee(fixture.runner)
        let error = await fixture.restore(runner: recorder)
        #expect(error == nil, "\(String(describing: error))")

        #expect(try await fixture.tableChecksums() == source)
        let kept = try await fixture.databases(like: fixture.database + "_before_%")
        #expect(kept.count == 1)
        if let kept = kept.first { #expect(try await fixture.tableChecksums(in: kept) == damaged) }
        #expect(try await fixture.databases(like: fixture.database + "_restore_%").isEmpty)
        #expect(try await fixture.deploymentReplicas() == fixture.replicas)
        let restores = recorder.invocations.filter { $0.executable == "pg_restore" && $0.arguments.contains("-j") }
        #expect(restores.count == 1)
        #expect(restores.first.map { $0.arguments.suffix(4) } == ["-j", "2", "--no-owner", fixture.backupPath(record)])
        #expect(restores.first?.arguments.contains(fixture.stack.postgresPassword) == false)
        #expect(!recorder.invocations.contains { $0.executable == "gzip" })
        await fixture.cleanUp()
    }

    @Test(
        "a truncated or byte-flipped .dump is refused before anything is touched", arguments: ["truncated", "flipped"])
    func damagedArchiveRefused(_ harm: String) async throws {
        let fixture = try RecoveryFixture(format: .custom)
        try await fixture.seed()
        let record = try await fixture.createBackup()
        let path = fixture.backupPath(record)
        let size = try Damage.size(path)
        if harm == "truncated" {
            try Damage.truncate(path, to: size * 2 / 3)
        } else {
            try Damage.overwrite(path, at: size * 2 / 3, with: Array(repeating: 0x5A, count: 64))
        }
        // The catalog is made to agree with the damaged bytes, so only pg_restore's full read can tell.
        let sha = try SHA256Checksum.ofFile(atPath: path)
        let damagedSize = Int64(try Damage.size(path))
        try fixture.folder.catalogStore.update { catalog throws(BackupError) in
            for tier in [BackupTier.daily, .monthly] {
                if var damaged = catalog.record(fileName: record.fileName, tier: tier) {
                    damaged.sha256 = sha
                    damaged.size = damagedSize
                    catalog.upsert(damaged)
                }
            }
        }
        let before = try await Snapshot(fixture)

        let error = await fixture.restore(.init(backup: .named(record.fileName)))
        let message = try #require(error).localizedDescription
        #expect(message.contains("is corrupt: pg_restore reading every entry"), "\(message)")
        #expect(message.contains("restore stopped before touching the database"))
        #expect(try await Snapshot(fixture) == before)
        await fixture.cleanUp()
    }
}

extension ArchiveRestoreTests {
    @Test("recover-rows restores a .dump into its temporary database with pg_restore -j; the rows come back exactly")
    func recoverRowsFromAnArchive() async throws {
        let fixture = try RecoveryFixture(format: .custom)
        try await fixture.seed()
        let rowSum =
            "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM documents_header t WHERE id IN"
            + " ('DOC-7', 'DOC-77', 'DOC-11', 'O''Brien; DROP TABLE x; --')"
        let original = try await fixture.query(rowSum)
        let record = try await fixture.createBackup()
        #expect(record.fileName.hasSuffix(".dump"))
        _ = try await fixture.query(
            "DELETE FROM documents_line WHERE header_id IN ('DOC-7', 'DOC-77', 'DOC-11');"
                + " DELETE FROM documents_header WHERE id IN ('DOC-7', 'DOC-77', 'DOC-11', 'O''Brien; DROP TABLE x; --')"
        )
        let error = await RecoverRowsTests().recover(
            fixture, ids: ["DOC-7", "DOC-77", "DOC-11", RecoverRowsTests.hostile])
        #expect(error == nil, "\(String(describing: error))")
        #expect(try await fixture.query(rowSum) == original)
        #expect(try await fixture.databases(like: fixture.database + "_recover_%").isEmpty)
        await fixture.cleanUp()
    }
}

extension ArchiveRestoreTests {
    @Test("with only the off-site copy, a .dump is downloaded, verified and restored with pg_restore -j")
    func offsiteArchiveRestores() async throws {
        let bucket = "drctl-archive-rs-\(UUID().uuidString.prefix(8).lowercased())"
        let fixture = try RecoveryFixture(bucket: bucket, format: .custom)
        try await fixture.seed()
        let source = try await fixture.tableChecksums()
        try await fixture.runner.runChecked(CommandInvocation("aws", ["s3api", "create-bucket", "--bucket", bucket]))
        let record = try await fixture.createBackup()
        let sync = BackupSync(
            manifest: fixture.manifest, targets: OffsiteTarget.targets(of: fixture.toolbox), runner: fixture.runner,
            clock: fixture.clock, scratchDirectory: fixture.root)
        #expect(try await sync.sync(dryRun: false).inSync)
        try FileManager.default.removeItem(atPath: fixture.folder.root)
        _ = try await fixture.query("TRUNCATE documents_line; DELETE FROM customers WHERE id > 10")

        let recorder = RecordingTee(fixture.runner)
        let error = await fixture.restore(.init(dropOld: true), runner: recorder)
        #expect(error == nil, "\(String(describing: error))")

        #expect(try await fixture.tableChecksums() == source)
        #expect(try await fixture.databases(like: fixture.database + "_%").isEmpty)
        let restores = recorder.invocations.filter { $0.executable == "pg_restore" && $0.arguments.contains("-j") }
        #expect(restores.count == 1)
        #expect(restores.first?.arguments.last?.hasSuffix("/backup/" + record.fileName) == true)
        let leftovers = FileManager.default.enumerator(atPath: fixture.workRoot)?.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".dump") }
        #expect(leftovers?.isEmpty != false, "downloaded archives left behind: \(leftovers ?? [])")
        await fixture.cleanUp()
    }
}

/// Runs everything on `runner` and remembers each invocation (pipeline stages included).
final class RecordingTee: CommandRunning, @unchecked Sendable {
    let runner: any CommandRunning
    private let lock = NSLock()
    private var recorded: [CommandInvocation] = []

    init(_ runner: any CommandRunning) { self.runner = runner }

    var invocations: [CommandInvocation] { lock.withLock { recorded } }

    func run(_ invocation: CommandInvocation) async throws -> CommandResult {
        lock.withLock { recorded.append(invocation) }
        return try await runner.run(invocation)
    }

    func run(_ pipeline: CommandPipeline) async throws -> PipelineResult {
        lock.withLock { recorded += pipeline.stages }
        return try await runner.run(pipeline)
    }
}
