import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// Issues 5 and 6: a backup that lives only off-site is streamed from S3 straight into a new database
/// (`aws s3 cp … - | (sha256 in drctl) | gzip -dc | psql`), checked on the way, and swapped in only when every
/// check passed. The rebuild first spools its newest candidate beside the PostgreSQL release (`backup.select`,
/// checked before any database exists) and streams the older ones when that one is refused at load (issue 17).
/// Real drctl, aws (against the local S3), gzip and PostgreSQL.
@Suite("Streamed restore", .serialized)
struct StreamedRestoreTests {
    @Test(
        "every kind of damaged newer backup is refused after spooling or streaming it, and the older good one is restored"
    )
    func damagedNewerBackupsAreRefusedAfterStreaming() async throws {
        try await RebuildWorld.with { world in
            let before = try await world.tableDigests()
            let damaged = try await world.uploadDamagedBackups()
            try await world.loseEverything()

            let run = try await DrctlProcess.run(
                world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment)
            #expect(run.status == 0, "drctl rebuild failed:\n\(run.output)\n\(run.errors)")
            #expect(try await world.tableDigests() == before)
            for backup in damaged {
                // Refused after spooling (backup.select) or streaming (backup.fetch) it, for its own reason.
                let read =
                    run.output.range(of: "spooling \(backup.name)") ?? run.output.range(of: "streaming \(backup.name)")
                let refused = run.output.range(of: "refused \(backup.name)")
                #expect(read != nil && refused != nil, "\(backup.name) was not spooled or streamed, then refused")
                if let read, let refused { #expect(read.lowerBound < refused.lowerBound) }
                let line = run.output.split(separator: "\n").first { $0.contains("refused \(backup.name)") } ?? ""
                #expect(line.contains(backup.reason), "\(backup.name): expected '\(backup.reason)' in \(line)")
            }
            let fetched = try world.stepOutputs("backup.fetch")
            #expect(fetched["sha256"] == world.backupSHA256)
            #expect(fetched["name"] == "\(world.database)_backup_20261124_020000.sql.gz")
            #expect((fetched["skipped"] ?? "").split(separator: ";").count == damaged.count)
            #expect(try await world.databases(like: "_restore_").isEmpty, "a new database was left behind")
        }
    }

    @Test("a damaged backup asked for by name is refused after spooling it: the live database is untouched")
    func namedDamagedBackupLeavesTheLiveDatabaseUntouched() async throws {
        try await RebuildWorld.with { world in
            let before = try await world.tableDigests()
            let damaged = try await world.uploadDamagedBackups()
            for backup in damaged {
                let run = try await DrctlProcess.run(
                    world.drctl, ["rebuild", "-f", world.manifest, "--backup", backup.name, "-o", "json"],
                    environment: world.environment)
                #expect(run.status == 3, "\(backup.name): expected a refusal (3):\n\(run.output)\n\(run.errors)")
                #expect(run.output.contains("spooling \(backup.name)"), "\(backup.name) was not spooled")
                #expect(run.output.contains(backup.reason), "\(backup.name): expected '\(backup.reason)'")
                #expect(!DrctlProcess.steps(withEvent: "step-started", in: run.output).contains("app.scale-up"))
                #expect(try await world.tableDigests() == before, "\(backup.name) changed the live database")
                #expect(try await world.databases(like: "_restore_").isEmpty, "the new database was left behind")
                #expect(try await world.databases(like: "_before_").isEmpty, "the live database was moved")
            }
        }
    }

    @Test("a rebuild killed with SIGKILL while the spooled backup loads resumes to the restored database")
    func killedDuringTheStreamResumes() async throws {
        try await LockHold.withRole { role in
            try await RebuildWorld.with(heldLoad: .atItsEnd(role: role)) { world in
                let before = try await world.tableDigests()
                try await world.loseEverything()
                let hold = try await LockHold(stack: world.stack, role: role)
                defer { hold.terminate() }

                // The load's psql waits on the held role, inside its transaction: drctl is killed there.
                let killed = try await DrctlProcess.runKilled(
                    world.drctl, ["rebuild", "-f", world.manifest, "-o", "json"], environment: world.environment,
                    whenOutputContains: "spool of \(world.database)_backup_", delay: .zero,
                    andCondition: {
                        (try? await LockHold.backendWaits(world.stack, database: world.database, restoreCopy: true))
                            == true
                    })
                #expect(killed.killed, "the run finished before it could be killed:\n\(killed.output)")
                let runID = try #require(killed.runID, "no run id in:\n\(killed.output)")
                try await hold.release()
                try await world.expectResumeRestores(runID, to: before)
                #expect(try await world.kube.readyz(namespace: world.namespace, deployment: "valeo-erp") == 200)
            }
        }
    }

    // MARK: drctl restore and recover-rows from an off-site copy

    /// A fixture whose local backup folder is gone: two backups of the seeded data in its bucket (a day apart,
    /// with sidecars), the newer one's object then damaged (bytes flipped, sidecar kept).
    static func offsiteFixture() async throws -> (fixture: RecoveryFixture, newer: String, older: String) {
        let bucket = "drctl-stream-it-\(UUID().uuidString.prefix(8).lowercased())"
        let fixture = try RecoveryFixture(bucket: bucket)
        try await fixture.seed()
        try await fixture.runner.runChecked(CommandInvocation("aws", ["s3api", "create-bucket", "--bucket", bucket]))
        let older = try await fixture.createBackup()
        let newer = try await fixture.createBackup()
        let sync = BackupSync(
            manifest: fixture.manifest, targets: OffsiteTarget.targets(of: fixture.toolbox), runner: fixture.runner,
            clock: fixture.clock, scratchDirectory: fixture.root)
        #expect(try await sync.sync(dryRun: false).inSync)
        let path = fixture.backupPath(newer)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for index in (bytes.count / 2)..<(bytes.count / 2 + 32) { bytes[index] ^= 0xFF }
        try bytes.write(to: URL(fileURLWithPath: path))
        let listing = try await fixture.runner.runChecked(
            CommandInvocation("aws", ["s3", "ls", "s3://\(bucket)/postgresql/", "--recursive"]))
        let key = try #require(
            listing.output.split(separator: "\n").compactMap { $0.split(separator: " ").last }
                .first { $0.hasSuffix(newer.fileName) })
        try await fixture.runner.runChecked(
            CommandInvocation("aws", ["s3", "cp", path, "s3://\(bucket)/\(key)", "--only-show-errors"]))
        try FileManager.default.removeItem(atPath: fixture.folder.root)
        return (fixture, newer.fileName, older.fileName)
    }

    @Test("restore from off-site: a damaged backup named is refused after streaming, the live database untouched")
    func offsiteRestoreOfADamagedBackupIsRefused() async throws {
        let (fixture, newer, _) = try await Self.offsiteFixture()
        _ = try await fixture.query("DELETE FROM documents_line WHERE id > 100")
        let live = try await fixture.tableChecksums()

        let error = await fixture.restore(.init(backup: .named(newer)))
        let message = try #require(error).localizedDescription
        #expect(message.contains("refused after streaming"), "\(message)")
        #expect(message.contains("but the recorded one"), "\(message)")
        #expect(try await fixture.tableChecksums() == live, "the live database changed")
        #expect(try await fixture.databases(like: fixture.database + "\\_restore\\_%").isEmpty)
        #expect(try await fixture.databases(like: fixture.database + "\\_before\\_%").isEmpty)
        #expect(try await fixture.deploymentReplicas() == fixture.replicas, "the app was stopped")
        await fixture.cleanUp()
    }

    @Test(
        "restore from off-site: a dump that \\connects elsewhere is refused on its held first MiB, psql sees none of it"
    )
    func offsiteDumpOfAnotherDatabaseIsRefusedBeforePsql() async throws {
        let (fixture, _, _) = try await Self.offsiteFixture()
        let live = try await fixture.tableChecksums()
        // Had psql read the dump, `leaked` would be committed there: after \connect psql is outside the
        // --single-transaction transaction.
        let elsewhere = fixture.database + "_elsewhere"
        try await fixture.runner.runChecked(fixture.toolbox.postgres.createDatabase(elsewhere))
        // Random hex comment lines after the statements. Small (64 KiB, above the 16 KiB size floor): the
        // download ends inside the held MiB. Large (4 MiB): the tap holds the first MiB and cuts the rest off.
        for (time, padding) in [("070000", 64 << 10), ("080000", 4 << 20)] {
            var sql = "--\n-- PostgreSQL database dump\n--\n\n\\connect \(elsewhere)\nCREATE TABLE leaked (x int);\n"
            var random = SystemRandomNumberGenerator()
            while sql.utf8.count < padding {
                sql +=
                    "-- "
                    + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &random)) }
                    .joined() + "\n"
            }
            let name = "\(fixture.database)_backup_20261201_\(time).sql.gz"
            let path = fixture.root + "/" + name
            var gzip = CommandInvocation("gzip", ["-c"])
            gzip.standardInput = .bytes(Data(sql.utf8))
            try await fixture.runner.runChecked(CommandPipeline([gzip], output: .file(path)))
            #expect((try Damage.size(path) > DumpOriginCheck.headBytes) == (padding > 1 << 20))
            try await fixture.uploadWithChecksum(path)

            let error = await fixture.restore(.init(backup: .named(name)))
            let message = try #require(error, "\(name) was restored").localizedDescription
            #expect(message.contains("is a dump of database \(elsewhere), not of \(fixture.database)"), "\(message)")
            #expect(message.contains("before touching"), "\(message)")
            #expect(
                try await fixture.query("SELECT count(*) FROM pg_class WHERE relname = 'leaked'", in: elsewhere) == "0",
                "psql read \(name)")
            #expect(try await fixture.tableChecksums() == live, "the live database changed")
            #expect(try await fixture.databases(like: fixture.database + "\\_restore\\_%").isEmpty)
            #expect(try await fixture.deploymentReplicas() == fixture.replicas, "the app was stopped")
        }
        await fixture.cleanUp()
    }

    /// psql runs the backup's SQL in its restricted mode: a `\!` or `\connect` past the first MiB (the origin check
    /// saw none of it), with a `.sha256` sidecar that matches the tampered bytes, stops psql before it ran anything,
    /// also after an `\unrestrict` with the dump's own key. Without restricted mode `\!` ran a shell command on
    /// the operator's machine while the stream was read, before any verdict.
    @Test("restore from off-site: a backup's \\! and \\connect past the first MiB never run: psql's restricted mode")
    func offsiteBackupsMetaCommandsNeverRun() async throws {
        let (fixture, _, _) = try await Self.offsiteFixture()
        let live = try await fixture.tableChecksums()
        let elsewhere = fixture.database + "_elsewhere"
        try await fixture.runner.runChecked(fixture.toolbox.postgres.createDatabase(elsewhere))
        // Second: the dump's own key (the tamperer wrote the dump) cannot lift drctl's.
        for (time, unrestrict) in [("070000", false), ("080000", true)] {
            let marker = fixture.root + "/marker-\(time)"
            let name = "\(fixture.database)_backup_20261201_\(time).sql.gz"
            let path = fixture.root + "/" + name
            try await fixture.writeTamperedBackup(
                inserting: { dumpKey in
                    (unrestrict ? "\\unrestrict \(dumpKey)\n" : "")
                        + "\\! touch \(marker)\n\\connect \(elsewhere)\nCREATE TABLE leaked (x int);\n"
                }, to: path)
            try await fixture.uploadWithChecksum(path)

            let error = await fixture.restore(.init(backup: .named(name)))
            let message = try #require(error, "\(name) was restored").localizedDescription
            #expect(!FileManager.default.fileExists(atPath: marker), "psql ran the backup's \\! (\(name))")
            #expect(
                try await fixture.query("SELECT count(*) FROM pg_class WHERE relname = 'leaked'", in: elsewhere) == "0",
                "psql followed the backup's \\connect (\(name))")
            #expect(message.contains("refused after streaming"), "\(message)")
            #expect(message.contains(unrestrict ? "wrong key" : "backslash commands are restricted"), "\(message)")
            #expect((error as? any ClassifiedError)?.failureKind == .refused, "\(message)")
            #expect(try await fixture.tableChecksums() == live, "the live database changed")
            #expect(try await fixture.databases(like: fixture.database + "\\_restore\\_%").isEmpty)
            #expect(try await fixture.databases(like: fixture.database + "\\_before\\_%").isEmpty)
            #expect(try await fixture.deploymentReplicas() == fixture.replicas, "the app was stopped")
        }
        await fixture.cleanUp()
    }

    @Test("restore from off-site: the damaged newest backup is skipped and the older one streamed in")
    func offsiteRestoreFallsBackToTheOlderBackup() async throws {
        let (fixture, _, _) = try await Self.offsiteFixture()
        let source = try await fixture.tableChecksums()
        _ = try await fixture.query("TRUNCATE documents_line")

        let error = await fixture.restore(.init(dropOld: true))
        #expect(error == nil, "\(String(describing: error))")
        #expect(try await fixture.tableChecksums() == source)
        #expect(try await fixture.databases(like: fixture.database + "\\_%").isEmpty)
        #expect(try await fixture.deploymentReplicas() == fixture.replicas)
        await fixture.cleanUp()
    }

    @Test("recover-rows from off-site streams the backup into the temporary database and brings the rows back")
    func recoverRowsFromOffsite() async throws {
        let (fixture, _, _) = try await Self.offsiteFixture()
        let sum = "SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM documents_header t"
        let source = try await fixture.query(sum)
        _ = try await fixture.query(
            "DELETE FROM documents_line WHERE header_id IN ('DOC-7', 'DOC-42');"
                + " DELETE FROM documents_header WHERE id IN ('DOC-7', 'DOC-42')")
        do {
            let options = RecoverRowsScenario.Options(
                selection: RowSelection(table: "documents_header", key: "id", ids: ["DOC-7", "DOC-42"]),
                before: fixture.clock.now())
            let scenario = RecoverRowsScenario(
                toolbox: fixture.toolbox, options: options, workRoot: fixture.workRoot,
                spaceCheck: DatabaseSpaceCheck { _ in nil })
            let service = RunService(
                backend: LocalStateBackend(root: fixture.stateDirectory), runner: fixture.runner,
                events: EventRecorder())
            try await service.start(try scenario.runbook())
        } catch {
            Issue.record("recover-rows failed: \(error.localizedDescription)")
        }
        #expect(try await fixture.query(sum) == source)
        #expect(try await fixture.databases(like: fixture.database + "\\_%").isEmpty)
        await fixture.cleanUp()
    }
}

extension RebuildWorld {
    /// A run stopped while its backup streamed (`database.restore` not done) resumes with `drctl resume` to the
    /// data as it was before the loss (`before`, from `tableDigests()`), no new database left behind.
    func expectResumeRestores(
        _ runID: String, to before: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        #expect(!(try completedSteps(runID: runID)).contains("database.restore"), sourceLocation: sourceLocation)
        let resumed = try await DrctlProcess.run(drctl, ["resume", runID, "-o", "json"], environment: environment)
        #expect(
            resumed.status == 0, "drctl resume failed:\n\(resumed.output)\n\(resumed.errors)",
            sourceLocation: sourceLocation)
        #expect(try await tableDigests() == before, sourceLocation: sourceLocation)
        #expect(
            try await databases(like: "_restore_").isEmpty, "a new database was left behind",
            sourceLocation: sourceLocation)
    }

    struct DamagedBackup {
        var name: String
        /// What the refusal says.
        var reason: String
    }

    /// Four backups newer than the good one, each damaged another way, uploaded with `.sha256` sidecars as
    /// `drctl backup sync` writes them (except the truncated one, which has none).
    func uploadDamagedBackups() async throws -> [DamagedBackup] {
        let good = try Data(
            contentsOf: URL(fileURLWithPath: folder + "/upload/\(database)_backup_20261124_020000.sql.gz"))
        let goodSHA = SHA256Checksum.of(good)
        var flipped = good
        for index in stride(from: good.count / 3, to: good.count / 3 + 64, by: 1) { flipped[index] ^= 0xFF }
        var garbage = good
        garbage.append(Data("trailing garbage after the gzip stream\n".utf8))
        // (name suffix, bytes, sidecar digest or nil, reason)
        let cases: [(String, Data, String?, String)] = [
            // A checksum mismatch is worded by the step that finds it: "but its recorded checksum is" (the spool),
            // "but the recorded one" (the stream).
            ("030000", flipped, goodSHA, "recorded"),
            // gzip's verdict: "corrupt or truncated" (the stream), "is corrupt: gzip -dc: …" (the spool's load).
            ("040000", good.prefix(good.count / 2), nil, "corrupt"),
            ("050000", garbage, SHA256Checksum.of(garbage), "bytes after the end of the gzip data"),
            ("060000", good, SHA256Checksum.of(Data("another file".utf8)), "recorded"),
        ]
        var damaged: [DamagedBackup] = []
        for (suffix, bytes, sidecar, reason) in cases {
            let name = "\(database)_backup_20261124_\(suffix).sql.gz"
            let path = folder + "/upload/" + name
            try bytes.write(to: URL(fileURLWithPath: path))
            try await aws(["s3", "cp", path, "s3://\(bucket)/postgresql/\(name)", "--only-show-errors"])
            if let sidecar {
                try "\(sidecar)  \(name)\n".write(toFile: path + ".sha256", atomically: true, encoding: .utf8)
                try await aws([
                    "s3", "cp", path + ".sha256", "s3://\(bucket)/postgresql/\(name).sha256", "--only-show-errors",
                ])
            }
            damaged.append(DamagedBackup(name: name, reason: reason))
        }
        return damaged
    }

    /// The databases whose name starts with this world's database name and contains `fragment`.
    func databases(like fragment: String) async throws -> [String] {
        let admin = Postgres(
            connection: PostgresConnection(
                host: stack.postgresHost, port: stack.postgresPort, user: stack.postgresUser, database: "postgres",
                password: stack.postgresPassword))
        let pattern = PostgresQuoting.literal(database + fragment.replacingOccurrences(of: "_", with: "\\_") + "%")
        let result = try await CommandRunner().runChecked(
            admin.adminQuery("SELECT datname FROM pg_database WHERE datname LIKE \(pattern)"))
        return Postgres.parseRows(result.output).compactMap(\.first)
    }

    /// The outputs the newest run journaled for `step`.
    func stepOutputs(_ step: String) throws -> [String: String] {
        let journal = try String(contentsOfFile: try journalPath(), encoding: .utf8)
        for line in journal.split(separator: "\n") where line.contains("\"step-completed\"") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["step"] as? String == step
            else { continue }
            if let outputs = object["outputs"] as? [String: String] { return outputs }
            if let outputs = (object["outputs"] as? [String: Any])?["values"] as? [String: String] { return outputs }
        }
        return [:]
    }
}
