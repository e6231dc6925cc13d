import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `backups.compressor: pigz` with the real pigz: the backup is plain gzip format (the real `gzip -t` and
/// `gunzip -c | psql` read it), `drctl restore` loads it in one pass (drctl reads the file into `gzip -dc | psql`)
/// and gives the source's table contents, and a damaged one is refused as a gzip-made one is.
@Suite("Backups compressed with pigz")
struct PigzBackupTests {
    @Test("a pigz backup passes plain gzip -t, loads with gunzip | psql, and restores the source's contents")
    func pigzBackupRestoresAndStaysGunzipReadable() async throws {
        let fixture = try RecoveryFixture(compressor: .pigz)
        try await fixture.seed()
        let source = try await fixture.tableChecksums()
        let tee = RecordingTee(fixture.runner)
        let creation = try await BackupCreator(toolbox: fixture.toolbox, runner: tee, clock: fixture.clock).create()
        fixture.clock.advance(by: .seconds(86_400))
        #expect(tee.invocations.contains { $0.executable == "pigz" && $0.arguments == ["-c"] }, "pigz did not compress")
        #expect(!tee.invocations.contains { $0.executable == "gzip" && $0.arguments == ["-c"] })

        // The runbook's way: plain gzip, no pigz anywhere.
        let path = fixture.backupPath(creation.daily)
        try await fixture.runner.runChecked(CommandInvocation("gzip", ["-t", path]))
        let byHand = fixture.database + "_byhand"
        try await fixture.runner.runChecked(fixture.toolbox.postgres.createDatabase(byHand))
        var target = fixture.toolbox.postgres
        target.connection = target.connection.with(database: byHand)
        try await fixture.runner.runChecked(
            CommandPipeline([CommandInvocation("gunzip", ["-c", path]), target.runScript(singleTransaction: true)]))
        #expect(try await fixture.tableChecksums(in: byHand) == source)

        _ = try await fixture.query("DELETE FROM documents_line; UPDATE documents_header SET title = 'kaputt'")
        let restoreTee = RecordingTee(fixture.runner)
        let error = await fixture.restore(runner: restoreTee)
        #expect(error == nil, "\(String(describing: error))")
        #expect(try await fixture.tableChecksums() == source)
        // One pass: drctl reads the file into gzip -dc | psql (gzip's exit status refuses bytes after the gzip
        // data, pigz's would not); no gzip -t or checksum read before it.
        #expect(
            restoreTee.invocations.contains {
                $0.executable == "gzip" && $0.arguments == ["-dc"] && $0.standardInput == .file(path)
            })
        #expect(!restoreTee.invocations.contains { $0.arguments.first == "-t" })
        await fixture.cleanUp()
    }

    @Test("a damaged pigz backup is refused before anything is touched", arguments: ["truncated", "trailing"])
    func damagedPigzBackupRefused(_ damage: String) async throws {
        let fixture = try RecoveryFixture(compressor: .pigz)
        try await fixture.seed()
        let record = try await fixture.createBackup()
        let path = fixture.backupPath(record)
        if damage == "truncated" {
            try Damage.truncate(path, to: try Damage.size(path) / 2)
        } else {
            try Damage.append(path, "not gzip at all")
        }
        let before = try await RestoreTests.Snapshot(fixture)

        let error = await fixture.restore(.init(backup: .named(record.fileName)))

        let message = try #require(error, "the damaged backup was restored").localizedDescription
        #expect(
            message.contains(damage == "truncated" ? "corrupt" : "bytes after the end of the gzip data"), "\(message)")
        #expect(message.contains("before touching"), "\(message)")
        #expect(try await RestoreTests.Snapshot(fixture) == before)
        await fixture.cleanUp()
    }
}
