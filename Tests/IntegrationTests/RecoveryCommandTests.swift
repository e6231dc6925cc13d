import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl restore` and `drctl recover-rows` as an operator runs them: the real binary, each test with its own
/// database, backup folder, state folder and private kube stand-in.
@Suite("Restore and recover-rows with the real binary")
struct RecoveryCommandTests {
    static let hostile = "O'Brien; DROP TABLE x; --"

    /// The database as the backup has it, then damaged: the state a restore must undo.
    static func damage(_ fixture: RecoveryFixture) async throws {
        _ = try await fixture.query(
            "DELETE FROM documents_line WHERE id % 2 = 0; UPDATE customers SET name = 'overwritten';"
                + " DELETE FROM documents_header WHERE id = 'DOC-3000'")
    }

    /// The table checksums, then `damage`, then the real `drctl plan restore` (exit 0 expected): what a restore
    /// test starts from.
    static func damageAndPlanRestore(_ fixture: RecoveryFixture, drctl: String) async throws -> (
        source: [String: String], plan: DrctlProcess.Result
    ) {
        let source = try await fixture.tableChecksums()
        try await damage(fixture)
        #expect(try await fixture.tableChecksums() != source)
        let plan = try await DrctlProcess.run(
            drctl, ["plan", "restore", "-f", fixture.manifestPath], environment: fixture.binaryEnvironment)
        #expect(plan.status == 0, "\(plan.output)\n\(plan.errors)")
        return (source, plan)
    }

    /// Deletes DOC-7 and DOC-42 with their lines, runs the real `drctl recover-rows` for them (from the backup
    /// before 2025-10-09 08:00) and returns its result and the table checksums from before the deletion.
    static func deleteAndRecoverTwoDocuments(_ fixture: RecoveryFixture, drctl: String) async throws -> (
        run: DrctlProcess.Result, source: [String: String]
    ) {
        let source = try await fixture.tableChecksums()
        _ = try await fixture.query(
            "DELETE FROM documents_line WHERE header_id IN ('DOC-7', 'DOC-42');"
                + " DELETE FROM documents_header WHERE id IN ('DOC-7', 'DOC-42')")
        #expect(try await fixture.tableChecksums() != source)
        let run = try await DrctlProcess.run(
            drctl,
            [
                "recover-rows", "-f", fixture.manifestPath, "--table", "documents_header", "--key", "id",
                "--ids", "DOC-7", "--ids", "DOC-42", "--before", "2025-10-09 08:00", "-o", "json",
            ],
            environment: fixture.binaryEnvironment)
        return (run, source)
    }

    /// Runs `body` with a seeded fixture holding one backup, then drops its databases.
    /// `portForward`: drctl's manifest says `dataPlane: port-forward` and an in-cluster host (`RecoveryFixture`).
    static func withBackup(
        environment: String = "restore-tests", portForward: Bool = false,
        beforeBackup: (RecoveryFixture) async throws -> Void = { _ in },
        _ body: (RecoveryFixture, String) async throws -> Void
    ) async throws {
        let fixture = try RecoveryFixture(environment: environment, portForward: portForward)
        let drctl = try DrctlProcess.binary()
        try await fixture.seed()
        do {
            try await beforeBackup(fixture)
            try await fixture.createBackup()
            try await body(fixture, drctl)
        } catch {
            await fixture.cleanUp()
            throw error
        }
        await fixture.cleanUp()
    }

    @Test("drctl restore: app to 0, restore, smoke query, app back, /readyz; the old database is kept")
    func restoreEndToEnd() async throws {
        try await Self.withBackup { fixture, drctl in
            let source = try await fixture.tableChecksums()
            try await Self.damage(fixture)
            let damaged = try await fixture.tableChecksums()
            #expect(damaged != source)

            let run = try await DrctlProcess.run(
                drctl, ["restore", "-f", fixture.manifestPath, "-o", "json"], environment: fixture.binaryEnvironment)

            #expect(run.status == 0, "drctl restore failed:\n\(run.output)\n\(run.errors)")
            let completed = DrctlProcess.steps(withEvent: "step-completed", in: run.output)
            let order = [
                "backup.verify", "app.scale-down", "database.restore", "database.smoke", "app.scale-up", "readiness",
            ]
            let positions = order.compactMap { completed.firstIndex(of: $0) }
            #expect(positions.count == order.count && positions == positions.sorted(), "\(completed)")
            #expect(run.output.contains("deployment app scaled from \(fixture.replicas) to 0"))
            #expect(run.output.contains("SELECT COUNT(*) FROM documents_header → 3001"), "\(run.output)")
            #expect(try await fixture.tableChecksums() == source)
            #expect(try await fixture.deploymentReplicas() == fixture.replicas)
            #expect(try await fixture.kube.readyz(namespace: fixture.namespace, deployment: "app") == 200)
            let kept = try #require(try await fixture.databases(like: fixture.database + "_before_%").first)
            #expect(try await fixture.tableChecksums(in: kept) == damaged, "the replaced database is kept as it was")
            #expect(try await fixture.databases(like: fixture.database + "_restore_%").isEmpty)
        }
    }

    @Test(
        "drctl restore killed with SIGKILL while the backup loads, then drctl resume: right data, old database kept, once"
    )
    func restoreKilledAndResumed() async throws {
        try await LockHold.withRole { role in
            // The backup grants on a role the test holds: the load's GRANT waits there, inside its transaction.
            try await Self.withBackup(beforeBackup: { _ = try await $0.query("GRANT SELECT ON customers TO \(role)") })
            {
                fixture, drctl in
                _ = try await fixture.query("REVOKE SELECT ON customers FROM \(role)")
                let source = try await fixture.tableChecksums()
                try await Self.damage(fixture)
                let damaged = try await fixture.tableChecksums()
                let hold = try await LockHold(stack: fixture.stack, role: role)
                defer { hold.terminate() }

                // Killed while the backup loads into the new database (backup.verify), held there by the test.
                let killed = try await DrctlProcess.runKilled(
                    drctl, ["restore", "-f", fixture.manifestPath, "-o", "json"],
                    environment: fixture.binaryEnvironment, whenOutputContains: "restoring ", delay: .zero,
                    andCondition: {
                        (try? await LockHold.backendWaits(fixture.stack, database: fixture.database, restoreCopy: true))
                            == true
                    }
                )
                #expect(killed.killed, "the run finished before it could be killed:\n\(killed.output)")
                let runID = try #require(killed.runID, "no run id in:\n\(killed.output)")
                // The app is stopped only for the swap: killed during the load, it still serves.
                #expect(try await fixture.deploymentReplicas() == fixture.replicas, "the app was stopped for the load")
                #expect(try await fixture.tableChecksums() == damaged, "the live database changed before the swap")
                try await hold.release()

                let resumed = try await DrctlProcess.run(
                    drctl, ["resume", runID, "-o", "json"], environment: fixture.binaryEnvironment)

                #expect(resumed.status == 0, "drctl resume failed:\n\(resumed.output)\n\(resumed.errors)")
                let restarted = DrctlProcess.steps(withEvent: "step-started", in: resumed.output)
                #expect(restarted.first == "backup.verify", "the interrupted load was not redone: \(restarted)")
                #expect(restarted.filter { $0 == "app.scale-down" }.count == 1, "\(restarted)")
                #expect(try await fixture.tableChecksums() == source)
                #expect(try await fixture.deploymentReplicas() == fixture.replicas)
                #expect(try await fixture.kube.readyz(namespace: fixture.namespace, deployment: "app") == 200)
                // Restored once: exactly one kept database, and it is the damaged one (a second swap would have
                // kept the first restore's result, or failed on the taken name).
                let kept = try await fixture.databases(like: fixture.database + "_before_%")
                #expect(kept.count == 1, "\(kept)")
                if let first = kept.first {
                    #expect(try await fixture.tableChecksums(in: first) == damaged)
                }
                #expect(try await fixture.databases(like: fixture.database + "_restore_%").isEmpty)
            }
        }
    }

    @Test("drctl recover-rows: exactly the deleted rows come back, nothing twice when run twice, hostile ids safe")
    func recoverRowsEndToEnd() async throws {
        try await Self.withBackup { fixture, drctl in
            let headerSum =
                "SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM documents_header t"
            let source = try await fixture.query(headerSum)
            _ = try await fixture.query(
                "DELETE FROM documents_line WHERE header_id IN ('DOC-7', 'DOC-42');"
                    + " DELETE FROM documents_header WHERE id IN ('DOC-7', 'DOC-42', 'O''Brien; DROP TABLE x; --')")
            #expect(try await fixture.query("SELECT count(*) FROM documents_header") == "2998")
            // The backup was taken 2025-10-09 02:00 UTC; the rows were deleted after it.
            let arguments = [
                "recover-rows", "-f", fixture.manifestPath, "--table", "documents_header", "--key", "id",
                "--ids", "DOC-7", "--ids", "DOC-42", "--ids", Self.hostile, "--before", "2025-10-09 08:00",
                "-o", "json",
            ]

            let first = try await DrctlProcess.run(drctl, arguments, environment: fixture.binaryEnvironment)
            #expect(first.status == 0, "first recover-rows failed:\n\(first.output)\n\(first.errors)")
            #expect(try await fixture.query(headerSum) == source)

            let second = try await DrctlProcess.run(drctl, arguments, environment: fixture.binaryEnvironment)
            #expect(second.status == 0, "second recover-rows failed:\n\(second.output)\n\(second.errors)")
            #expect(try await fixture.query(headerSum) == source, "nothing came back twice")
            #expect(try await fixture.query("SELECT count(*) FROM documents_header") == "3001")
            #expect(try await fixture.query("SELECT to_regclass('public.x') IS NULL") == "t")
            #expect(
                try await fixture.query(
                    "SELECT title FROM documents_header WHERE id = \(PostgresQuoting.literal(Self.hostile))")
                    == "quote test")
            #expect(try await fixture.databases(like: fixture.database + "_recover_%").isEmpty)
        }
    }

    // MARK: - The terminal confirmation

    /// `drctl restore` in an environment named production, without --yes, on a real pseudo-terminal
    /// (`script -qec`), with `answer` typed on it.
    static func restoreOnTerminal(_ fixture: RecoveryFixture, drctl: String, answer: String) async throws
        -> DrctlProcess.Result
    {
        let typed = fixture.root + "/typed-\(UUID().uuidString)"
        try (answer + "\n").write(toFile: typed, atomically: true, encoding: .utf8)
        let command = ShellQuoting.join([drctl, "restore", "-f", fixture.manifestPath])
        return try await DrctlProcess.run(
            "/usr/bin/script", ["-qec", command, "/dev/null"], environment: fixture.binaryEnvironment, input: typed)
    }

    @Test("on a terminal, answering no leaves production untouched and exits 3; yes restores")
    func terminalConfirmation() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            Issue.record("/usr/bin/script (util-linux) is missing: install it (scripts/bootstrap expects util-linux)")
            return
        }
        try await Self.withBackup(environment: "production") { fixture, drctl in
            let source = try await fixture.tableChecksums()
            try await Self.damage(fixture)
            let damaged = try await fixture.tableChecksums()

            let refused = try await Self.restoreOnTerminal(fixture, drctl: drctl, answer: "no")
            #expect(refused.status == 3, "\(refused.output)\n\(refused.errors)")
            #expect(refused.output.contains("Type yes to go on"), "the question was asked:\n\(refused.output)")
            #expect(refused.output.contains("stop deployment app in namespace \(fixture.namespace)"))
            #expect(try await fixture.tableChecksums() == damaged, "answering no changed the database")
            #expect(try await fixture.deploymentReplicas() == fixture.replicas)
            #expect(try await fixture.databases(like: fixture.database + "_%").isEmpty)

            let confirmed = try await Self.restoreOnTerminal(fixture, drctl: drctl, answer: "yes")
            #expect(confirmed.status == 0, "\(confirmed.output)\n\(confirmed.errors)")
            #expect(try await fixture.tableChecksums() == source)
            #expect(try await fixture.deploymentReplicas() == fixture.replicas)
        }
    }

    @Test("without a terminal and without --yes, production is refused with exit 3 and nothing is touched")
    func noTerminalNoConfirmation() async throws {
        try await Self.withBackup(environment: "production") { fixture, drctl in
            try await Self.damage(fixture)
            let damaged = try await fixture.tableChecksums()
            let run = try await DrctlProcess.run(
                drctl, ["restore", "-f", fixture.manifestPath], environment: fixture.binaryEnvironment,
                input: "/dev/null")
            #expect(run.status == 3, "\(run.output)\n\(run.errors)")
            #expect(!run.errors.contains("Type yes"), "asked without a terminal")
            #expect(try await fixture.tableChecksums() == damaged)
            #expect(try await fixture.deploymentReplicas() == fixture.replicas)
        }
    }
}
