import DrctlCore
import Foundation
import Testing

/// `database.dataPlane` and `database.jobs`: parsed, defaulted to local, kept out of the fingerprint while
/// local, an unknown placement named with its position and the choices; the Job's own view of the manifest.
@Suite("database.dataPlane")
struct DataPlaneManifestTests {
    private func load(_ yaml: String) throws -> Manifest {
        let sandbox = try ManifestSandbox()
        return try ManifestLoader(environment: [:]).load(from: try sandbox.writeManifest(yaml))
    }

    private func with(_ lines: String) -> String {
        ManifestFixtures.valid(
            replacing: "  password: { env: TEST_DB_PASSWORD }", with: "  password: { env: TEST_DB_PASSWORD }\n" + lines)
    }

    @Test func localUnlessTheManifestNamesAPlacement() throws {
        let plain = try load(ManifestFixtures.valid)
        #expect(plain.database.dataPlane == .local)
        #expect(plain.database.jobs == nil)
        #expect(plain.database.effectiveJobs.image == "ghcr.io/valeo/drctl:" + DrctlVersion.current)
        #expect(try load(with("  dataPlane: port-forward")).database.dataPlane == .portForward)
        #expect(try load(with("  dataPlane: local")).database.dataPlane == .local)
        let job = try load(
            with(
                """
                  dataPlane: job
                  jobs:
                    image: registry.example/drctl:1.2.3
                    passwordSecret: { name: valeo-db, key: password }
                    environmentSecret: drctl-offsite
                    backupClaim: drctl-backups
                    serviceAccount: drctl-jobs
                """))
        #expect(job.database.dataPlane == .job)
        #expect(
            job.database.jobs
                == Manifest.DataPlaneJobs(
                    image: "registry.example/drctl:1.2.3",
                    passwordSecret: .init(name: "valeo-db", key: "password"), environmentSecret: "drctl-offsite",
                    backupClaim: "drctl-backups", serviceAccount: "drctl-jobs"))
    }

    @Test func theLocalDefaultEncodesAsBeforeAndAJobManifestRoundTrips() throws {
        let plain = try load(ManifestFixtures.valid)
        let local = try load(with("  dataPlane: local"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try encoder.encode(local.database) == encoder.encode(plain.database))
        #expect(!String(decoding: try plain.canonicalEncoding(), as: UTF8.self).contains("dataPlane"))
        let job = try load(with("  dataPlane: job\n  jobs: { backupClaim: drctl-backups }"))
        #expect(try job.canonicalEncoding() != plain.canonicalEncoding())
        let decoded = try JSONDecoder().decode(Manifest.self, from: job.canonicalEncoding())
        #expect(decoded == job)
    }

    @Test func anUnknownPlacementNamesItsPositionAndTheChoices() throws {
        let sandbox = try ManifestSandbox()
        let path = try sandbox.writeManifest(with("  dataPlane: kubelet"))
        let error = #expect(throws: ManifestError.self) { try ManifestLoader(environment: [:]).load(from: path) }
        let text = (error?.errorDescription ?? "").replacingOccurrences(of: path, with: "test.yaml")
        #expect(
            text == "test.yaml:10:14: database.dataPlane must be local (this machine), port-forward (a kubectl"
                + " port-forward drctl runs) or job (Kubernetes Jobs from drctl's image), found 'kubelet'")
    }
}

/// `database.dataPlane: port-forward`: the tunnel's command line, which hosts name a Service, and how a database
/// command is pointed at the tunnel (and nothing else is).
@Suite("database tunnel")
struct DatabaseTunnelTests {
    @Test func theServiceAndNamespaceComeFromTheInClusterHost() {
        #expect(
            DatabaseTunnel.service(host: "postgresql.sandbox.svc.cluster.local", namespace: "x")! == (
                "postgresql", "sandbox"
            ))
        #expect(DatabaseTunnel.service(host: "pg.prod.svc", namespace: "x")! == ("pg", "prod"))
        #expect(DatabaseTunnel.service(host: "pg.prod", namespace: "x")! == ("pg", "prod"))
        #expect(DatabaseTunnel.service(host: "pg", namespace: "x")! == ("pg", "x"))
        #expect(DatabaseTunnel.service(host: "127.0.0.1", namespace: "x") == nil)
        #expect(DatabaseTunnel.service(host: "db.example.com", namespace: "x") == nil)
    }

    @Test func anAddressIsRefusedWithPortForward() throws {
        let sandbox = try ManifestSandbox()
        let yaml = ManifestFixtures.valid(
            replacing: "  host: db.example", with: "  host: 10.0.0.7\n  dataPlane: port-forward")
        let path = try sandbox.writeManifest(yaml)
        let error = #expect(throws: ManifestError.self) { try ManifestLoader(environment: [:]).load(from: path) }
        let text = error?.errorDescription ?? ""
        #expect(text.contains("database.host must be with dataPlane: port-forward, the PostgreSQL Service's"))
    }

    @Test func anAddressInDBHostIsRefusedWithPortForward() throws {
        let sandbox = try ManifestSandbox()
        let yaml = ManifestFixtures.valid(
            replacing: "  host: db.example", with: "  host: postgresql.test.svc\n  dataPlane: port-forward")
        let path = try sandbox.writeManifest(yaml)
        let error = #expect(throws: ManifestError.self) {
            try ManifestLoader(environment: ["DB_HOST": "127.0.0.1"]).load(from: path)
        }
        let text = error?.errorDescription ?? ""
        #expect(text.contains("DB_HOST") && text.contains("unset DB_HOST"), "\(text)")
        let named = try ManifestLoader(environment: ["DB_HOST": "pg.other.svc.cluster.local"]).load(from: path)
        #expect(named.database.host == "pg.other.svc.cluster.local")
    }

    @Test func theSandboxPortForwardManifestLoads() throws {
        let root = ManifestFixtures.repositoryRoot.path
        let environment = [
            "DRCTL_STACK_DIR": "/tmp/stack", "PGHOST": "127.0.0.1", "PGPORT": "5432", "DRCTL_KUBE_URL": "http://k",
        ]
        let manifest = try ManifestLoader(environment: environment).load(
            from: root + "/manifests/sandbox-port-forward.yaml")
        #expect(manifest.database.dataPlane == .portForward)
        let tunnel = try #require(ScenarioToolbox(manifest: manifest, databasePassword: SecretValue("")).databaseTunnel)
        #expect(tunnel.command.arguments.suffix(3) == ["port-forward", "svc/postgresql", ":5432"])
    }

    @Test func theSandboxJobManifestLoadsWithTheStacksPort() throws {
        let root = ManifestFixtures.repositoryRoot.path
        let environment = [
            "DRCTL_STACK_DIR": "/tmp/stack", "PGHOST": "127.0.0.1", "PGPORT": "41067", "DRCTL_KUBE_URL": "http://k",
        ]
        let manifest = try ManifestLoader(environment: environment).load(from: root + "/manifests/sandbox-job.yaml")
        #expect(manifest.database.dataPlane == .job)
        #expect(manifest.database.port == 41067)
        #expect(manifest.releases.postgresql.values.map(\.absolute).last == "/tmp/stack/postgresql-job-values.yaml")
        let tunnel = try #require(ScenarioToolbox(manifest: manifest, databasePassword: SecretValue("")).databaseTunnel)
        #expect(tunnel.command.arguments.suffix(3) == ["port-forward", "svc/postgresql", ":41067"])
    }

    @Test func databaseCommandsArePointedAtTheTunnelAndNothingElseIs() throws {
        let sandbox = try ManifestSandbox()
        let yaml =
            ManifestFixtures.valid(
                replacing: "  host: db.example",
                with: "  host: postgresql.test.svc.cluster.local\n  dataPlane: port-forward")
            + "\nmigrations: { directory: . }\n"
        let manifest = try ManifestLoader(environment: [:]).load(from: try sandbox.writeManifest(yaml))
        let toolbox = ScenarioToolbox(manifest: manifest, databasePassword: SecretValue("pw"))
        let tunnel = try #require(toolbox.databaseTunnel)
        #expect(
            tunnel.command.arguments == [
                "--namespace", "test", "port-forward", "svc/postgresql", ":5432",
            ])
        let query = toolbox.postgres.query("SELECT 1")
        let routed = try #require(tunnel.rerouted(query, localPort: 41234))
        #expect(routed.arguments.contains("127.0.0.1") && routed.arguments.contains("41234"))
        #expect(!routed.arguments.contains("postgresql.test.svc.cluster.local"))
        #expect(routed.environment == query.environment)
        let dump = toolbox.postgres.dump()
        #expect(tunnel.rerouted(dump, localPort: 41234)?.arguments.contains("41234") == true)
        let alembic = try #require(toolbox.alembic).current()
        let routedAlembic = try #require(tunnel.rerouted(alembic, localPort: 41234))
        #expect(routedAlembic.environment["DB_HOST"] == "127.0.0.1" && routedAlembic.environment["DB_PORT"] == "41234")
        #expect(tunnel.rerouted(toolbox.kubectl.getPods(), localPort: 41234) == nil)
        let local = try ManifestLoader(environment: [:]).load(from: try sandbox.writeManifest(ManifestFixtures.valid))
        #expect(ScenarioToolbox(manifest: local, databasePassword: SecretValue("")).databaseTunnel == nil)
    }
}
