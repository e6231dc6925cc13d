import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl plan backup` is built from the same runbook `drctl backup nightly` runs; its text is golden text.
@Suite("Backup plan")
struct BackupPlanTests {
    static let projectRoot = GoldenPlan.projectRoot

    /// The runbook for manifests/production.yaml through the registry, as `drctl plan backup` builds it.
    static func runbook(environment extra: [String: String] = [:]) async throws -> Runbook {
        var environment = ["DB_PASSWORD": "s3cret", "DRCTL_HELM_MAJOR": "3", "HOME": "/home/operator"]
        environment.merge(extra) { _, new in new }
        var registry = ScenarioRegistry()
        registry.registerManifestScenarios(
            loader: ScenarioLoader(environment: environment, runner: RecordingCommandRunner()), planning: true)
        return try await registry.makeRunbook(
            id: BackupScenario.runbookID,
            parameters: RunParameters(manifest: projectRoot + "/manifests/production.yaml", workRoot: "/state/work"))
    }

    static func plan() async throws -> RunbookPlan {
        let runbook = try await runbook()
        return RunbookPlan(runbook, manifest: "manifests/production.yaml", rpo: .seconds(86_400))
    }

    @Test("the plan prints the nightly backup's command lines, as in the golden file")
    func matchesGoldenText() async throws {
        try GoldenPlan.expectMatches(try await Self.plan(), golden: "plan-backup-production.txt")
    }

    @Test("create, verify, sync and prune run in that order; only prune is destructive")
    func order() async throws {
        let plan = try await Self.plan()
        #expect(
            plan.steps.map(\.id) == [
                "backup.create", "backup.verify", "backup.sync", "backup.prune", "scratch.cleanup",
            ])
        #expect(plan.steps.filter(\.destructive).map(\.id) == ["backup.prune"])
        let create = try #require(plan.steps.first)
        let dump = try #require(create.commands.first { $0.contains("pg_dump") })
        // drctl writes the file and hashes it on the way: no second read (gzip -t, sha256) of the new file.
        #expect(dump.contains("| gzip -c | (sha256 and byte count in drctl) > "), "\(dump)")
        #expect(!create.commands.contains { $0.hasPrefix("gzip -t ") })
        let sync = try #require(plan.steps.first { $0.id == "backup.sync" })
        #expect(
            sync.commands.contains { $0.hasPrefix("aws s3 cp ") && $0.contains("s3://valeo-backups/postgresql/daily/") }
        )
    }

    @Test("with pigz on PATH (backups.compressor: auto) the plan compresses with pigz -c, hashed as it is written")
    func pigzWhenInstalled() async throws {
        let folder = try GzipTests.folderWithPigz()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let runbook = try await Self.runbook(environment: ["PATH": folder])
        let plan = RunbookPlan(runbook, manifest: "manifests/production.yaml", rpo: .seconds(86_400))
        let text = try GoldenPlan.expectMatches(plan, golden: "plan-backup-production-pigz.txt")
        #expect(text.contains("Dump valeo_erp with pg_dump | pigz into daily/"))
        #expect(text.contains(" -w | pigz -c | (sha256 and byte count in drctl) > "))
        #expect(!text.contains("| gzip -c"))
    }

    @Test("the password appears nowhere in the plan")
    func passwordNeverShown() async throws {
        let plan = try await Self.plan()
        #expect(!plan.text.contains("s3cret"))
        #expect(!(try plan.json()).contains("s3cret"))
        #expect(plan.text.contains("PGPASSWORD='***' pg_dump"))
    }

    @Test("with backups.format custom the plan shows pg_dump -Fc into a .dump and the pg_restore checks")
    func customFormat() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let yaml = try String(contentsOfFile: Self.projectRoot + "/manifests/production.yaml", encoding: .utf8)
        let custom = yaml.replacingOccurrences(of: "  # format: custom ", with: "  format: custom # ")
        #expect(custom != yaml)
        let path = folder.appendingPathComponent("custom.yaml").path
        try custom.write(toFile: path, atomically: true, encoding: .utf8)
        let loader = ScenarioLoader(
            environment: ["DB_PASSWORD": "x", "DRCTL_HELM_MAJOR": "3"], runner: RecordingCommandRunner())
        let toolbox = try await loader.toolbox(manifestPath: path, planning: true)
        let steps = try BackupScenario(toolbox: toolbox, workRoot: "/w").runbook().steps
        let create = try #require(steps.first).commands
        let partial = "/backups/postgresql/daily/valeo_erp_backup_<YYYYMMDD_HHMMSS>.dump.partial"
        let dump = try #require(create.first { $0.contains("pg_dump") }, "\(create)")
        #expect(dump.contains("-Fc") && !dump.contains("gzip"), "\(dump)")
        #expect(create.contains("pg_restore --list '\(partial)'"), "\(create)")
        #expect(!create.contains { $0.hasPrefix("gzip -t") })
        let sync = try #require(steps.first { $0.id == "backup.sync" }).commands
        #expect(
            sync.contains { $0.contains("s3://valeo-backups/postgresql/daily/valeo_erp_backup_<YYYYMMDD_HHMMSS>.dump") }
        )
    }

    @Test("without an off-site store there is no sync step")
    func noOffsiteNoSync() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let yaml = try String(contentsOfFile: Self.projectRoot + "/manifests/production.yaml", encoding: .utf8)
        let local = yaml.split(separator: "\n", omittingEmptySubsequences: false).filter {
            !$0.hasPrefix("  s3:") && !$0.hasPrefix("  azure:")
        }.joined(separator: "\n")
        let path = folder.appendingPathComponent("local.yaml").path
        try local.write(toFile: path, atomically: true, encoding: .utf8)
        let loader = ScenarioLoader(
            environment: ["DB_PASSWORD": "x", "DRCTL_HELM_MAJOR": "3"], runner: RecordingCommandRunner())
        let toolbox = try await loader.toolbox(manifestPath: path, planning: true)
        let ids = try BackupScenario(toolbox: toolbox, workRoot: "/w").runbook().steps.map(\.id.rawValue)
        #expect(ids == ["backup.create", "backup.verify", "backup.prune", "scratch.cleanup"])
    }
}
