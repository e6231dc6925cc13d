import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// A seeded, production-like database on the local stack (several tables, unicode, NULLs, large text), its own
/// backup folder, an app deployment in its own private kube stand-in (`KubeStandIn`, stopped with the fixture),
/// and a manifest pointing at all of them; the real psql, pg_dump, gzip, aws and kubectl do the work.
final class RecoveryFixture: Sendable {
    let stack: StackEnvironment
    let suffix: String
    let root: String
    let database: String
    let namespace: String
    let manifest: Manifest
    let toolbox: ScenarioToolbox
    let runner = CommandRunner()
    let clock: ManualClock
    let replicas = 2
    let kube: KubeStandIn
    /// The manifest drctl reads says `dataPlane: port-forward` (or `job`) and an in-cluster host (see `init`).
    let portForward: Bool
    /// With `jobImageLayout`: `dataPlane: job`, and the stand-in's kubelet runs drctl's image from that layout.
    let dataPlaneJob: Bool
    /// The PostgreSQL Service's port: 5432, or with `dataPlane: job` the stack's own port (the kubelet's pods
    /// run on the host network, where the in-cluster name resolves to 127.0.0.1).
    let servicePort: Int
    /// The key content records are signed with (`backups.signingKey: { env: DRCTL_TEST_SIGNING_KEY }`), if any.
    let signingKey: String?

    init(
        sizeFloor: String = "16KiB", bucket: String? = nil, azureContainer: String? = nil,
        environment: String = "restore-tests",
        databasePort: Int? = nil, sharing other: RecoveryFixture? = nil, format: PostgresDumpFormat = .plain,
        compressor: BackupCompressor? = nil, portForward: Bool = false, signingKey: String? = nil,
        jobImageLayout: String? = nil
    ) throws {
        self.signingKey = signingKey
        stack = try StackEnvironment.current(
            requiring: ["pg_dump", "psql", "gzip", "aws", "kubectl"] + (compressor == nil ? [] : ["pigz"]))
        // With `portForward`, the pods of the PostgreSQL StatefulSet `seed` applies forward to the stack's database.
        let portForward = portForward || jobImageLayout != nil
        let inJob = jobImageLayout != nil
        dataPlaneJob = inJob
        let servicePort = jobImageLayout == nil ? 5432 : stack.postgresPort
        self.servicePort = servicePort
        let podForwards =
            portForward
            ? "[{\"selector\": \"app.kubernetes.io/name=postgresql\", \"port\": \(servicePort), \"to\": \"127.0.0.1:\(stack.postgresPort)\"}]"
            : nil
        self.portForward = portForward
        kube =
            try other?.kube
            ?? KubeStandIn(projectRoot: stack.projectRoot, imageLayout: jobImageLayout, podForwards: podForwards)
        let kubeURL = kube.url
        let kubeconfig = kube.kubeconfig
        // `sharing`: the same database, namespace and folder seen through a manifest that differs in one value.
        let suffix = other?.suffix ?? UUID().uuidString.prefix(8).lowercased()
        self.suffix = suffix
        database = "drctl_rs_\(suffix)"
        namespace = "rs-\(suffix)"
        root = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-restore-it-\(suffix)").path
        try FileManager.default.createDirectory(atPath: root + "/manifests", withIntermediateDirectories: true)
        let s3Line = bucket.map { "  s3: { bucket: \($0), prefix: postgresql/ }\n" } ?? ""
        let azureLine = azureContainer.map { "  azure: { container: \($0), prefix: postgresql/ }\n" } ?? ""
        var formatLines = format == .plain ? "" : "  format: \(format.rawValue)\n  restoreJobs: 2\n"
        if let compressor { formatLines += "  compressor: \(compressor.rawValue)\n" }
        if signingKey != nil { formatLines += "  signingKey: { env: DRCTL_TEST_SIGNING_KEY }\n" }
        let yaml = """
            environment: \(environment)
            kube:
              namespace: \(namespace)
              kubeconfig: \(kubeconfig)
            database:
              host: \(stack.postgresHost)
              port: \(databasePort ?? stack.postgresPort)
              user: \(stack.postgresUser)
              name: \(database)
              password: { env: DRCTL_PG_PASSWORD }
              smokeQuery: SELECT COUNT(*) FROM documents_header
            backups:
              local: backups
              sizeFloor: \(sizeFloor)
              retention: { daily: 30, monthly: 12 }
            \(s3Line)\(azureLine)\(formatLines)releases:
              postgresql: { name: postgresql, chart: bitnami/postgresql }
              app: { name: app, chart: ./chart, deployment: app, replicas: \(replicas) }
            readiness: { url: "\(kubeURL)/_standin/apps/\(namespace)/app/readyz", timeout: 60s }
            objectives: { rpo: 24h, rto: 4h }

            """
        let source = Manifest.Source(
            file: ManifestPath(written: "manifests/test.yaml", absolute: root + "/manifests/test.yaml"),
            projectRoot: root)
        // `portForward`: drctl reads a manifest whose database only the cluster can resolve; the fixture itself
        // keeps the direct connection (below) to seed and check the data.
        let written =
            portForward
            ? yaml.replacingOccurrences(
                of: "  host: \(stack.postgresHost)\n  port: \(databasePort ?? stack.postgresPort)\n",
                with: "  host: postgresql.\(namespace).svc.cluster.local\n  port: \(servicePort)\n  dataPlane: "
                    + (inJob ? "job" : "port-forward") + "\n")
            : yaml
        if other == nil { try written.write(toFile: root + "/manifests/test.yaml", atomically: true, encoding: .utf8) }
        // Without the runbook's DB_* variables (the stack exports them), which would override the manifest.
        let environment = stack.variables.filter { !$0.key.hasPrefix("DB_") }
        manifest = try ManifestLoader(environment: environment).load(yaml: yaml, source: source)
        // With a compressor named, the programs are found on the stack's PATH, as drctl finds them (pigz too).
        toolbox = ScenarioToolbox(
            manifest: manifest, databasePassword: SecretValue(stack.postgresPassword),
            executables: compressor == nil ? ToolExecutables() : ToolExecutables(environment: environment),
            recordSigningKey: signingKey.map(SecretValue.init))
        clock = ManualClock(now: Date(timeIntervalSince1970: 1_759_975_200))  // 2025-10-09 02:00:00 UTC
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    var folder: BackupFolder { BackupFolder(manifest: manifest) }
    var manifestPath: String { root + "/manifests/test.yaml" }
    var workRoot: String { root + "/state/work" }
    var stateDirectory: String { root + "/state" }

    /// The environment the real `drctl` binary runs with: the stack's (without the runbook's DB_* variables,
    /// which would override the manifest), this fixture's stand-in as the kubeconfig, the fixture's state folder.
    var binaryEnvironment: [String: String] {
        var environment = stack.variables.filter { !$0.key.hasPrefix("DB_") }
        environment["KUBECONFIG"] = kube.kubeconfig
        environment["DRCTL_STATE_DIR"] = stateDirectory
        environment["HOME"] = root
        if let signingKey { environment["DRCTL_TEST_SIGNING_KEY"] = signingKey }
        return environment
    }

    /// The database, its tables and rows, and the app deployment at `replicas`.
    func seed() async throws {
        try await runner.runChecked(toolbox.postgres.createDatabase(database))
        let sql = """
            CREATE TABLE documents_header (id text PRIMARY KEY, title text, note text, amount numeric, created date);
            INSERT INTO documents_header
              SELECT 'DOC-' || g, 'Rechnung ' || g || ' — Größe ✓ 日本語 «ä»', CASE WHEN g % 7 = 0 THEN NULL
              ELSE md5(g::text) || md5((g * 31)::text) END, CASE WHEN g % 11 = 0 THEN NULL ELSE g * 1.25 END,
              DATE '2025-01-01' + g % 300 FROM generate_series(1, 3000) g;
            INSERT INTO documents_header VALUES ('O''Brien; DROP TABLE x; --', 'quote test', 'tab\there', 1, NULL);
            CREATE TABLE documents_line (id serial PRIMARY KEY, header_id text REFERENCES documents_header(id),
              body text, payload bytea);
            INSERT INTO documents_line (header_id, body, payload)
              SELECT 'DOC-' || (g % 50 + 1), repeat('Zeile ' || g || E' mit Umlaut ü\\n', 40), decode(md5(g::text), 'hex')
              FROM generate_series(1, 2000) g;
            INSERT INTO documents_line (header_id, body)
              SELECT 'DOC-1', string_agg(md5(g::text), '') FROM generate_series(1, 40000) g;
            CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, tags text[]);
            INSERT INTO customers SELECT g, 'Kunde ' || g || ' 😀', CASE WHEN g % 3 = 0 THEN NULL ELSE 'k' || g || '@example.com' END,
              ARRAY['a', 'b' || g] FROM generate_series(1, 500) g;
            """
        try await runner.runChecked(toolbox.postgres.query(sql))
        try await kubectl(["create", "namespace", namespace], namespaced: false)
        try await kubectl(["create", "deployment", "app", "--image=nginx:1", "--replicas=\(replicas)"])
        if portForward { try await deployPostgresService() }
    }

    /// The PostgreSQL Service and StatefulSet a real cluster would have; the stand-in forwards its pod's 5432 to
    /// the stack's database.
    func deployPostgresService() async throws {
        let objects = """
            apiVersion: v1
            kind: Service
            metadata: {name: postgresql}
            spec:
              clusterIP: None
              selector: {app.kubernetes.io/name: postgresql}
              ports: [{name: tcp-postgresql, port: \(servicePort), targetPort: tcp-postgresql}]
            ---
            apiVersion: apps/v1
            kind: StatefulSet
            metadata: {name: postgresql}
            spec:
              serviceName: postgresql
              replicas: 1
              selector: {matchLabels: {app.kubernetes.io/name: postgresql}}
              template:
                metadata: {labels: {app.kubernetes.io/name: postgresql}}
                spec:
                  containers:
                  - {name: postgresql, image: "postgres:15", ports: [{name: tcp-postgresql, containerPort: \(servicePort)}]}
            """
        try objects.write(toFile: root + "/postgresql.yaml", atomically: true, encoding: .utf8)
        try await kubectl(["apply", "-f", root + "/postgresql.yaml"])
        try await kubectl(["rollout", "status", "statefulset/postgresql", "--timeout=60s"])
    }

    func cleanUp() async {
        _ = try? await runner.run(toolbox.postgres.dropDatabase(database, force: true))
        for name in (try? await databases(like: database + "_%")) ?? [] {
            _ = try? await runner.run(toolbox.postgres.dropDatabase(name, force: true))
        }
        _ = try? await runner.run(
            CommandInvocation(
                "kubectl",
                [
                    "--kubeconfig", toolbox.manifest.kube.kubeconfig?.absolute ?? "", "delete", "namespace", namespace,
                    "--wait=false",
                ]))
    }

    @discardableResult
    func kubectl(_ arguments: [String], namespaced: Bool = true) async throws -> String {
        var full = ["--kubeconfig", manifest.kube.kubeconfig?.absolute ?? ""]
        if namespaced { full += ["--namespace", namespace] }
        return try await runner.runChecked(CommandInvocation("kubectl", full + arguments)).output
    }

    func deploymentReplicas() async throws -> Int {
        try Kubectl.parseReplicas(try await kubectl(["get", "deployment", "app", "-o", "jsonpath={.spec.replicas}"]))
    }

    /// A backup taken at the clock's time; the clock then moves on a day.
    @discardableResult
    func createBackup() async throws -> BackupRecord {
        let creation = try await BackupCreator(toolbox: toolbox, runner: runner, clock: clock).create()
        clock.advance(by: .seconds(86_400))
        return creation.daily
    }

    func backupPath(_ record: BackupRecord) -> String { folder.path(record.tier, fileName: record.fileName) }

    /// The backup's SQL begins (after pg_dump's comment header) with `\restrict KEY` and ends with `\unrestrict
    /// KEY`, as pg_dump 15.14 and later write them.
    func writtenByRestrictingPgDump(_ record: BackupRecord) async throws -> Bool {
        let sql = try await runner.runChecked(CommandPipeline([toolbox.gzip.decompress(file: backupPath(record))]))
            .output
        let lines = sql.split(separator: "\n").filter { !$0.isEmpty && !$0.hasPrefix("--") }
        guard let first = lines.first, first.hasPrefix("\\restrict "), let last = lines.last else { return false }
        return last == "\\unrestrict " + first.dropFirst("\\restrict ".count)
    }

    /// Puts the backup at `path` off-site beside a `.sha256` sidecar that matches its bytes (whatever they are), under
    /// the manifest's S3 prefix, as `backup sync` would.
    func uploadWithChecksum(_ path: String) async throws {
        let s3 = try #require(manifest.backups.s3)
        let store = try #require(toolbox.objectStores.first { $0 is S3ObjectStore })
        let name = (path as NSString).lastPathComponent
        try SHA256Checksum.sidecarText(sha256: try SHA256Checksum.ofFile(atPath: path), fileName: name).write(
            toFile: path + ".sha256", atomically: true, encoding: .utf8)
        let key = s3.prefix + name
        try await runner.runChecked(try store.upload(.file(path), to: key))
        try await runner.runChecked(try store.upload(.file(path + ".sha256"), to: key + ".sha256"))
    }

    /// Writes to `path` the gzip of a tampered backup: a real pg_dump of the fixture's database with `lines` put in
    /// before its closing comment (`lines` is given the key of the dump's own `\restrict` line), after 4 MiB of
    /// random hex comment lines, so they sit well past the first MiB of the gzip file (what the origin check holds
    /// and reads).
    func writeTamperedBackup(inserting lines: (_ dumpKey: String) -> String, to path: String) async throws {
        let sql = try await runner.runChecked(toolbox.postgres.dump()).output
        let restrict = try #require(
            sql.split(separator: "\n").first { $0.hasPrefix("\\restrict ") }, "pg_dump 15.14+ writes \\restrict")
        let closing = try #require(sql.range(of: "--\n-- PostgreSQL database dump complete"), "not a pg_dump script")
        var padding = ""
        var random = SystemRandomNumberGenerator()
        while padding.utf8.count < 4 << 20 {
            padding +=
                "-- " + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &random)) }.joined()
                + "\n"
        }
        let inserted = lines(String(restrict.dropFirst("\\restrict ".count)))
        var gzip = CommandInvocation("gzip", ["-c"])
        gzip.standardInput = .bytes(
            Data((sql[..<closing.lowerBound] + padding + inserted + sql[closing.lowerBound...]).utf8))
        try await runner.runChecked(CommandPipeline([gzip], output: .file(path)))
        #expect(try Damage.size(path) > DumpOriginCheck.headBytes, "the lines must come after the held first MiB")
    }

    func query(_ sql: String, in name: String? = nil) async throws -> String {
        var postgres = toolbox.postgres
        if let name { postgres.connection = postgres.connection.with(database: name) }
        return try await runner.runChecked(postgres.query(sql)).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// One md5 per table over every row's text, ordered: equal when the contents are equal.
    func tableChecksums(in name: String? = nil) async throws -> [String: String] {
        var sums: [String: String] = [:]
        for table in ["documents_header", "documents_line", "customers"] {
            let exists = try await query("SELECT to_regclass('public.\(table)') IS NOT NULL", in: name)
            guard exists == "t" else { sums[table] = "(missing)"; continue }
            sums[table] = try await query(
                "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM \(table) t",
                in: name)
        }
        return sums
    }

    func databases(like pattern: String) async throws -> [String] {
        let output = try await runner.runChecked(
            toolbox.postgres.adminQuery(
                "SELECT datname FROM pg_database WHERE datname LIKE \(PostgresQuoting.literal(pattern)) ORDER BY 1")
        ).output
        return output.split(separator: "\n").map(String.init)
    }

    /// Runs the restore scenario in-process on the live runner; the error when it stopped.
    func restore(
        _ options: RestoreScenario.Options = .init(), free: Int64? = nil, runner: (any CommandRunning)? = nil
    ) async -> (any Error)? {
        do {
            let spaceCheck = free.map { bytes in DatabaseSpaceCheck { _ in (bytes, "injected") } }
            let scenario = RestoreScenario(
                toolbox: toolbox, options: options, workRoot: workRoot, spaceCheck: spaceCheck)
            let service = RunService(
                backend: LocalStateBackend(root: stateDirectory), runner: runner ?? self.runner,
                events: EventRecorder())
            try await service.start(
                try scenario.runbook(parameters: RunParameters(manifest: manifestPath, workRoot: workRoot)))
            return nil
        } catch {
            return error
        }
    }
}
