import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl plan rebuild` is built from the same runbook `drctl rebuild` runs; its text is compared as golden text.
@Suite("Rebuild plan")
struct RebuildPlanTests {
    static let projectRoot = GoldenPlan.projectRoot

    /// The runbook for manifests/production.yaml with the runbook's password variable set, helm 3, no tool
    /// on PATH consulted (the recording runner answers everything).
    static func plan(environment extra: [String: String] = [:], password: String? = "s3cret") async throws
        -> RunbookPlan
    {
        var environment = ["DRCTL_HELM_MAJOR": "3", "HOME": "/home/operator"]
        if let password { environment["DB_PASSWORD"] = password }
        environment.merge(extra) { _, new in new }
        let loader = ScenarioLoader(environment: environment, runner: RecordingCommandRunner())
        let manifestPath = projectRoot + "/manifests/production.yaml"
        let toolbox = try await loader.toolbox(manifestPath: manifestPath, planning: true)
        let runbook = try RebuildScenario(toolbox: toolbox, workRoot: "/state/work").runbook()
        return RunbookPlan(runbook, manifest: "manifests/production.yaml", rpo: toolbox.manifest.objectives.rpo)
    }

    @Test("the plan prints the runbook's whole cluster-loss sequence, as in the golden file")
    func matchesGoldenText() async throws {
        // The checkout's folder appears in absolute paths and so in the fingerprint: both are normalised.
        try GoldenPlan.expectMatches(try await Self.plan(), golden: "plan-rebuild-production.txt")
    }

    @Test("the fingerprint does not depend on the password: read without it, with it, or with another one")
    func fingerprintIndependentOfSecrets() async throws {
        let withPassword = try await Self.plan().fingerprint
        #expect(try await Self.plan(password: nil).fingerprint == withPassword)
        #expect(try await Self.plan(password: "a-b!c~d").fingerprint == withPassword)
    }

    @Test("every runbook section of Szenario 2 appears, in order")
    func coversSzenario2() async throws {
        let ids = try await Self.plan().steps.map(\.id)
        let order = [
            "provision.create-cluster", "cluster.api", "postgresql.install", "backup.fetch", "database.restore",
            "app.scale-up", "app.rollout", "readiness",
        ]
        let positions = order.compactMap { ids.firstIndex(of: $0) }
        #expect(positions.count == order.count, "missing steps: \(order.filter { !ids.contains($0) })")
        #expect(positions == positions.sorted())
        #expect(ids.contains("archive.sync"))
    }

    @Test("the password appears nowhere in the text or JSON plan")
    func passwordNeverShown() async throws {
        let plan = try await Self.plan()
        #expect(!plan.text.contains("s3cret"))
        #expect(!(try plan.json()).contains("s3cret"))
        #expect(plan.text.contains("PGPASSWORD='***'"))
    }

    @Test("the destructive swap comes after the backup was streamed into a new database and verified")
    func restoreAfterVerification() async throws {
        let plan = try await Self.plan()
        let restore = try #require(plan.steps.first { $0.id == "database.restore" })
        #expect(restore.destructive)
        #expect(restore.dependsOn.contains("backup.fetch"))
        let fetch = try #require(plan.steps.first { $0.id == "backup.fetch" })
        #expect(!fetch.destructive)
        #expect(fetch.dependsOn == ["database.ready", "backup.select"])
        // The spool backup.select verified, measured again by drctl on the way, into the new database only.
        #expect(
            fetch.commands.contains {
                $0.hasPrefix(
                    "< '$RUN_DIR/spool/<the spooled backup>' (sha256 and byte count in drctl) | gzip -dc | (drctl: psql restricted mode) | "
                )
                    && $0.contains("-d 'valeo_erp_restore_<run>'") && $0.contains("--single-transaction")
            })
        // The fallback when that is refused (or nothing was spooled): one stream, measured by drctl on the way,
        // psql in its restricted mode.
        #expect(
            fetch.commands.contains {
                $0.hasPrefix("aws s3 cp 's3://valeo-backups/postgresql/<newest valeo_erp_backup_*.sql.gz>' -")
                    && $0.contains(
                        " | (sha256 and byte count in drctl) | gzip -dc | (drctl: psql restricted mode) | PGPASSWORD='***' psql"
                    )
                    && $0.contains("-d 'valeo_erp_restore_<run>'") && $0.contains("--single-transaction")
            })
        // Nothing touches the disk, and the head is not downloaded twice: the tap holds the stream's first MiB
        // for the origin check.
        #expect(!fetch.commands.contains { $0.contains("$RUN_DIR/backup/") }, "the backup is not downloaded to disk")
        #expect(!fetch.commands.contains { $0.contains("--range") || $0.contains("get-object") })
        #expect(fetch.commands.contains { $0.hasPrefix("(drctl's tap holds the stream's first MiB") })
    }

    @Test(
        "the off-site read runs beside the PostgreSQL release: chosen and spooled through drctl's tap, verified before any database exists"
    )
    func offsiteReadBesideThePostgresRelease() async throws {
        let plan = try await Self.plan()
        let select = try #require(plan.steps.first { $0.id == "backup.select" })
        // After the provision hooks only: nothing of the cluster or the database.
        #expect(select.dependsOn == ["provision.create-cluster"])
        #expect(!select.destructive)
        #expect(
            select.commands.contains {
                $0.hasPrefix("aws s3 cp 's3://valeo-backups/postgresql/<newest valeo_erp_backup_*.sql.gz>' -")
                    && $0.hasSuffix(
                        " | (sha256 and byte count in drctl) > '$RUN_DIR/spool/<newest valeo_erp_backup_*.sql.gz>'"
                            + "  (mode 0600)")
            }, "\(select.commands)")
        #expect(select.commands.contains { $0.contains("valeo_erp_backup_*.sql.gz>.sha256' -") })
        #expect(select.commands.contains { $0.contains("valeo_erp_backup_*.sql.gz>.record.json' -") })
        // No database is touched: psql does not run in it.
        #expect(!select.commands.contains { $0.contains("psql -X") }, "\(select.commands)")
        let install = try #require(plan.steps.first { $0.id == "postgresql.install" })
        #expect(!install.dependsOn.contains("backup.select") && !select.dependsOn.contains("postgresql.install"))
    }

    @Test(
        "the app release is installed at 0 replicas without hooks beside the load, scaled up only after the swap")
    func appStagedBesideTheLoad() async throws {
        let plan = try await Self.plan()
        let install = try #require(plan.steps.first { $0.id == "app.install" })
        // Beside the PostgreSQL release and the load: it waits for nothing of the database.
        #expect(install.dependsOn == ["cluster.api"])
        #expect(install.title.contains("at 0 replicas") && install.title.contains("beside the database load"))
        let staged = try #require(install.commands.first { $0.hasPrefix("helm upgrade --install valeo-erp") })
        #expect(staged.contains(" --no-hooks") && staged.contains(" --wait "))
        #expect(staged.contains("--description 'drctl rebuild: staged at 0 replicas"))
        #expect(!install.commands.contains { $0.contains("alembic_version") }, "no database to read yet")
        let scaleUp = try #require(plan.steps.first { $0.id == "app.scale-up" })
        #expect(Set(scaleUp.dependsOn) == ["database.restore", "app.install"])
        let upgrade = try #require(scaleUp.commands.first { $0.hasPrefix("helm upgrade --install valeo-erp") })
        #expect(!upgrade.contains("--no-hooks") && !upgrade.contains("--wait"))
        #expect(upgrade.contains("--description 'migration-revision=$SCHEMA_REVISION'"))
        #expect(scaleUp.commands.contains { $0.contains("SELECT version_num FROM alembic_version") })
        #expect(scaleUp.commands.contains { $0.contains("get deployment valeo-erp -o 'jsonpath={.spec.replicas}'") })
        #expect(plan.steps.first { $0.id == "app.rollout" }?.dependsOn == ["app.scale-up"])
        #expect(plan.steps.first { $0.id == "readiness" }?.dependsOn.contains("app.rollout") == true)
    }

    @Test("a plan can be read without the password set")
    func planWithoutPassword() async throws {
        let loader = ScenarioLoader(environment: ["DRCTL_HELM_MAJOR": "3"], runner: RecordingCommandRunner())
        let toolbox = try await loader.toolbox(
            manifestPath: Self.projectRoot + "/manifests/production.yaml", planning: true)
        #expect(try RebuildScenario(toolbox: toolbox, workRoot: "/w").runbook().steps.count > 5)
        await #expect(throws: SecretError.self) {
            _ = try await loader.toolbox(manifestPath: Self.projectRoot + "/manifests/production.yaml")
        }
    }

    @Test("the same manifest and flags give the same plan fingerprint; another backup changes it")
    func fingerprintIsStable() async throws {
        let first = try await Self.plan().fingerprint
        #expect(first == (try await Self.plan().fingerprint))
        let loader = ScenarioLoader(
            environment: ["DB_PASSWORD": "x", "DRCTL_BACKUP_SIGNING_KEY": "k", "DRCTL_HELM_MAJOR": "3"],
            runner: RecordingCommandRunner())
        let toolbox = try await loader.toolbox(manifestPath: Self.projectRoot + "/manifests/production.yaml")
        let other = try RebuildScenario(
            toolbox: toolbox, options: .init(backup: "valeo_erp_backup_20251009_020000.sql.gz"), workRoot: "/state/work"
        ).runbook()
        #expect(other.planFingerprint != first)
    }

    @Test("a manifest with no off-site backup store is refused before any step runs")
    func noOffsiteStoreIsRefused() async throws {
        let folder = NSTemporaryDirectory() + "drctl-plan-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder + "/manifests", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let text = try String(contentsOfFile: Self.projectRoot + "/manifests/production.yaml", encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("s3: {") }
            .joined(separator: "\n")
        try text.write(toFile: folder + "/manifests/production.yaml", atomically: true, encoding: .utf8)
        let loader = ScenarioLoader(
            environment: ["DB_PASSWORD": "x", "DRCTL_BACKUP_SIGNING_KEY": "k", "DRCTL_HELM_MAJOR": "3"],
            runner: RecordingCommandRunner())
        let toolbox = try await loader.toolbox(manifestPath: folder + "/manifests/production.yaml")
        #expect(throws: ScenarioError.self) { try RebuildScenario(toolbox: toolbox, workRoot: "/w").runbook() }
    }
}
