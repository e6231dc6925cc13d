import DrctlCore
import Foundation
import Testing

/// `manifests/sandbox.yaml` must load with the stack's variables and point at the stack, its charts and values.
@Suite("Sandbox manifest")
struct SandboxManifestTests {
    static let projectRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static let stackEnvironment = [
        "HOME": "/home/tester",
        "DRCTL_STACK_DIR": "/work/project/.stack",
        "PGHOST": "127.0.0.1",
        "PGPORT": "54321",
        "DRCTL_KUBE_URL": "http://127.0.0.1:40123",
    ]

    func loadSandbox(environment: [String: String] = Self.stackEnvironment) throws -> Manifest {
        try ManifestLoader(environment: environment).load(from: Self.projectRoot + "/manifests/sandbox.yaml")
    }

    @Test("follows the stack's ports and folders")
    func followsTheStack() throws {
        let manifest = try loadSandbox()
        #expect(manifest.environment == "sandbox")
        #expect(manifest.kube.context == "drctl-sandbox")
        #expect(manifest.kube.namespace == "sandbox")
        #expect(manifest.kube.kubeconfig?.absolute == "/work/project/.stack/kubeconfig")
        #expect(manifest.database.host == "127.0.0.1")
        #expect(manifest.database.port == 54321)
        #expect(manifest.database.user == "valeo")
        #expect(manifest.database.password == .env("DRCTL_PG_PASSWORD"))
        #expect(manifest.backups.local.absolute == "/work/project/.stack/backups")
        #expect(manifest.backups.s3?.url == "s3://drctl-sandbox-backups/postgresql/")
        #expect(manifest.readiness.url == "http://127.0.0.1:40123/_standin/apps/sandbox/valeo-erp/readyz")
        #expect(manifest.releases.app.deployment == "valeo-erp")
    }

    /// manifests/sandbox-staging.yaml: the game-day target beside the sandbox, on the same stack but with its own
    /// namespace, database and backups, so the production guard lets a drill from the sandbox's backups run on it.
    @Test("sandbox-staging is a game-day target the guard accepts with --from sandbox")
    func sandboxStagingIsAGamedayTarget() throws {
        let staging = try ManifestLoader(environment: Self.stackEnvironment).load(
            from: Self.projectRoot + "/manifests/sandbox-staging.yaml")
        let sandbox = try loadSandbox()
        #expect(ProductionGuard.reasons(target: staging, source: sandbox).isEmpty)
        #expect(staging.kube.namespace == "sandbox-staging")
        #expect(staging.database.name != sandbox.database.name)
        #expect(staging.backups.local.absolute != sandbox.backups.local.absolute)
        #expect(
            staging.readiness.url == "http://127.0.0.1:40123/_standin/apps/sandbox-staging/valeo-erp/readyz")
        // The shipped drills' smoke checks point at it.
        let drill = try DrillScript.load(path: Self.projectRoot + "/manifests/gameday-cluster-loss.yaml")
        #expect(
            drill.smokeChecks[1].resolved(for: staging).kind == .http(url: staging.readiness.url, expectStatus: 200))
    }

    @Test("its charts and values files are in the repository")
    func chartsAndValuesExist() throws {
        let manifest = try loadSandbox()
        let releases = [manifest.releases.postgresql, manifest.releases.app.release]
        for release in releases {
            guard case .local(let chart) = release.chart else {
                Issue.record("release \(release.name): chart \(release.chart) should be a local chart")
                continue
            }
            #expect(
                FileManager.default.fileExists(atPath: chart.absolute + "/Chart.yaml"),
                "\(chart.absolute)/Chart.yaml is missing")
            for values in release.values {
                #expect(FileManager.default.fileExists(atPath: values.absolute), "\(values.absolute) is missing")
            }
        }
        let migrations = try #require(manifest.migrations)
        #expect(migrations.directory.absolute == Self.projectRoot + "/samples/migrations")
        #expect(FileManager.default.fileExists(atPath: migrations.config.absolute), "\(migrations.config.absolute)")
    }

    @Test("without the stack's variables it names the missing one")
    func missingStackVariableIsAnError() {
        var environment = Self.stackEnvironment
        environment["PGPORT"] = nil
        #expect(throws: ManifestError.self) { try loadSandbox(environment: environment) }
    }
}
