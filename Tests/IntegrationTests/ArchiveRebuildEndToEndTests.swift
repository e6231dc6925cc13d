import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// Szenario 2 with `backups.format: custom`: the real `drctl rebuild` finds a `.dump` as the newest off-site
/// backup, downloads it into the run's scratch folder, verifies it (sidecar SHA-256, size, pg_restore) and
/// restores it with `pg_restore -j` — after refusing a newer, byte-flipped `.dump` whose sidecar matches it.
@Suite("Rebuild end to end from a custom-format backup", .serialized)
struct ArchiveRebuildEndToEndTests {
    @Test("a rebuild restores the newest good .dump with pg_restore -j; a damaged newer one is refused")
    func rebuildRestoresACustomFormatBackup() async throws {
        let world = try await Self.makeWorld()
        do {
            try await Self.check(world)
        } catch {
            await world.tearDown()
            throw error
        }
        await world.tearDown()
    }

    static func check(_ world: RebuildWorld) async throws {
        let before = try await world.tableDigests()
        let good = "\(world.database)_backup_20261124_030000.dump"
        let flipped = "\(world.database)_backup_20261124_040000.dump"
        let goodSHA = try await uploadArchive(world, name: good, flipAt: nil)
        _ = try await uploadArchive(world, name: flipped, flipAt: 2.0 / 3.0)
        try await world.loseEverything()

        let plan = try await DrctlProcess.run(
            world.drctl, ["plan", "rebuild", "-f", world.manifest], environment: world.environment)
        #expect(plan.status == 0, "drctl plan failed: \(plan.errors)")
        #expect(plan.output.contains("pg_restore --list"))
        #expect(plan.output.contains("--exit-on-error -j 2 --no-owner"))

        let run = try await DrctlProcess.run(
            world.drctl, ["rebuild", "-f", world.manifest], environment: world.environment)
        #expect(run.status == 0, "drctl rebuild failed:\n\(run.output)\n\(run.errors)")
        #expect(try await world.tableDigests() == before)
        let journal = try String(contentsOfFile: try world.journalPath(), encoding: .utf8)
        #expect(journal.contains(goodSHA), "the journal does not record the restored .dump's checksum")
        let said = run.output + run.errors
        #expect(said.contains("with pg_restore -j 2"), "\(said)")
        #expect(said.contains("refused \(flipped)"))
        // The refused newer backup is journaled in the fetch step's outputs, with why.
        #expect(journal.contains(flipped + ": backup " + flipped + " is corrupt: pg_restore reading every entry"))
        #expect(!journal.contains(world.stack.postgresPassword))
        #expect(!(run.output + run.errors).contains(world.stack.postgresPassword))
        // The downloads are gone from the run's scratch folder.
        let scratch = world.folder + "/state"
        let leftovers = FileManager.default.enumerator(atPath: scratch)?.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".dump") }
        #expect(leftovers == [])
        for release in ["postgresql", "valeo-erp"] {
            #expect(try await world.helmStatus(release) == "deployed", "\(release) is not deployed")
        }
    }

    /// The world of `RebuildEndToEndTests` (database, plain backup off-site, archive, stand-in) with
    /// `format: custom` and `restoreJobs: 2` in its manifest.
    static func makeWorld() async throws -> RebuildWorld {
        let stack = try StackEnvironment.current(
            requiring: ["kubectl", "aws", "psql", "pg_dump", "pg_restore", "gzip"])
        return try await RebuildWorld.make(stack: stack, kube: try KubeStandIn(projectRoot: stack.projectRoot)) {
            manifest, _, _ in
            var manifest = manifest
            manifest.extraBackupKeys = ["format: custom", "restoreJobs: 2"]
            return manifest.yaml
        }
    }

    /// `pg_dump -Fc` of the world's database uploaded as `name` with a `.sha256` sidecar of the uploaded bytes;
    /// with `flipAt`, 64 bytes at that fraction of the file are overwritten first (the sidecar then matches the
    /// damaged file, so only pg_restore can tell). Returns the sidecar's checksum.
    static func uploadArchive(_ world: RebuildWorld, name: String, flipAt: Double?) async throws -> String {
        let stack = world.stack
        let postgres = Postgres(connection: stack.connection(database: world.database))
        let file = world.folder + "/upload/" + name
        try await CommandRunner().runChecked(postgres.dump(format: .custom, file: file))
        if let flipAt {
            let size = try Damage.size(file)
            try Damage.overwrite(file, at: Int(Double(size) * flipAt), with: Array(repeating: 0x5A, count: 64))
        }
        let sha = try SHA256Checksum.ofFile(atPath: file)
        try "\(sha)  \(name)\n".write(toFile: file + ".sha256", atomically: true, encoding: .utf8)
        for path in [file, file + ".sha256"] {
            try await world.aws([
                "s3", "cp", path, "s3://\(world.bucket)/postgresql/" + (path as NSString).lastPathComponent,
                "--only-show-errors",
            ])
        }
        return sha
    }
}
