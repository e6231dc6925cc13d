import Foundation
import Testing

@testable import DrctlCore

/// Every invocation the tool wrappers can build, run through the REAL programs against endpoints nobody listens
/// on (`https://127.0.0.1:1`, port 1): each must get as far as connecting and fail there ("connection refused"),
/// never on a flag the installed version does not know. This is what keeps the pure builders honest about
/// kubectl 1.32, helm 3.18 and 4.1, alembic, psql/pg_dump/pg_restore 15 and the aws CLI.
@Suite("Tool contracts against dead endpoints", .serialized)
struct ToolContractTests {
    // MARK: kubectl

    static let kubectlCases: [CommandInvocation] = {
        let kubectl = Kubectl(executable: "kubectl", target: ContractFixture.kubeTarget)
        let timeout = Duration.seconds(20)
        return [
            kubectl.version(),
            kubectl.getNamespaces(),
            kubectl.getNamespace("drctl-contract"),
            kubectl.createNamespace("drctl-contract"),
            kubectl.getPods(),
            kubectl.getPods(selector: "app=valeo-erp"),
            kubectl.getDeployments(),
            kubectl.getDeployments(selector: "app=valeo-erp"),
            kubectl.getDeployment("valeo-erp"),
            kubectl.deploymentReplicas("valeo-erp"),
            kubectl.scaleDeployment("valeo-erp", replicas: 0),
            kubectl.rolloutStatus(deployment: "valeo-erp", timeout: timeout),
            kubectl.wait(for: .condition("Available"), resource: "deployment/valeo-erp", timeout: timeout),
            kubectl.wait(for: .delete, resource: "pod/valeo-erp-0", timeout: timeout),
            kubectl.apply(file: ContractFixture.manifest),
            kubectl.apply(file: ContractFixture.manifest, serverSide: false),
            kubectl.apply(file: ContractFixture.manifest, validate: false),
        ]
    }()

    @Test(arguments: kubectlCases)
    func kubectlReachesTheConnection(_ invocation: CommandInvocation) async throws {
        try await ContractFixture.prepared()
        var invocation = invocation
        invocation.executable = try TestPrograms.kubectl()
        let result = try await ContractFixture.run(invocation)
        #expect(!result.status.isSuccess)
        expectConnectionFailure(result, markers: ["connection refused", "127.0.0.1:1 was refused"])
    }

    // MARK: helm 3 and helm 4

    static func helmInvocations(_ version: HelmMajorVersion) -> [CommandInvocation] {
        let helm = Helm(executable: "helm", target: ContractFixture.kubeTarget, majorVersion: version)
        let everything = HelmUpgradeOptions(
            valuesFiles: [ContractFixture.values, ContractFixture.values], chartVersion: "0.1.0", createNamespace: true,
            wait: true, timeout: .seconds(30), atomic: true, disableOpenAPIValidation: true, noHooks: true)
        return [
            helm.repoAdd(name: "contract", url: "http://127.0.0.1:1/charts"),
            helm.repoUpdate(),
            helm.repoUpdate(["contract"]),
            helm.upgradeInstall(release: "valeo-erp", chart: ContractFixture.chart),
            helm.upgradeInstall(release: "valeo-erp", chart: ContractFixture.chart, options: everything),
            helm.upgradeInstall(
                release: "postgresql", chart: "contract/postgresql", options: HelmUpgradeOptions(chartVersion: "15.5.0")
            ),
            helm.history(release: "valeo-erp"),
            helm.history(release: "valeo-erp", max: 10),
            helm.status(release: "valeo-erp"),
            helm.rollback(release: "valeo-erp"),
            helm.rollback(release: "valeo-erp", to: 2, wait: true, timeout: .seconds(30), cleanupOnFail: true),
            helm.list(),
            helm.list(all: true),
            helm.uninstall(release: "valeo-erp"),
            helm.uninstall(release: "valeo-erp", wait: true, timeout: .seconds(30)),
        ]
    }

    static let helmCases: [(HelmMajorVersion, CommandInvocation)] = HelmMajorVersion.allCases.flatMap { version in
        helmInvocations(version).map { (version, $0) }
    }

    @Test(arguments: HelmMajorVersion.allCases)
    func helmReportsTheVersionItIsBuiltFor(_ version: HelmMajorVersion) async throws {
        try await ContractFixture.prepared()
        var invocation = Helm().version()
        invocation.executable = try TestPrograms.helm(version)
        let result = try await ContractFixture.run(invocation)
        try result.checked()
        #expect(try HelmMajorVersion.parse(versionOutput: result.output) == version)
    }

    @Test(arguments: helmCases)
    func helmReachesTheConnection(_ version: HelmMajorVersion, _ invocation: CommandInvocation) async throws {
        try await ContractFixture.prepared()
        var invocation = invocation
        invocation.executable = try TestPrograms.helm(version)
        let result = try await ContractFixture.run(invocation)
        // helm 3 `repo update` only warns about an unreachable repository and exits 0; everything else fails.
        expectConnectionFailure(result, markers: ["connection refused"])
    }

    // MARK: PostgreSQL clients

    static let password = "contract-s3cret"

    static let postgresCases: [(CommandInvocation, String)] = {
        let postgres = Postgres(
            connection: PostgresConnection(
                host: "127.0.0.1", port: 1, user: "valeo", database: "valeo_erp", password: password))
        let refused = "connection refused"
        var cases: [(CommandInvocation, String)] = [
            (postgres.query("SELECT COUNT(*) FROM documents_header"), refused),
            (postgres.adminQuery("SELECT 1"), refused),
            (postgres.runScript(), refused),
            (postgres.runScript(file: ContractFixture.sqlScript, singleTransaction: true), refused),
            (postgres.dump(), refused),
            (postgres.dump(format: .custom, file: ContractFixture.root + "/out.dump"), refused),
            (postgres.databaseExists("valeo_erp"), refused),
            (postgres.createDatabase("valeo_erp_restore", owner: "valeo"), refused),
            (postgres.dropDatabase("valeo_erp_restore", force: true), refused),
            (postgres.renameDatabase("valeo_erp_restore", to: "valeo_erp"), refused),
            (
                postgres.copyIn(table: "public.documents_header", columns: ["id"], from: ContractFixture.rowsCSV),
                refused
            ),
            // pg_restore reads the archive before it connects: reaching the archive check proves the flags parse.
            (postgres.restoreArchive(file: ContractFixture.notAnArchive, jobs: 2, clean: true), "valid archive"),
            (postgres.restoreArchive(file: ContractFixture.notAnArchive, jobs: 4), "valid archive"),
        ]
        if let copyOut = try? postgres.copyOut(query: "SELECT * FROM documents_header WHERE id = 1") {
            cases.append((copyOut, refused))
        }
        return cases
    }()

    @Test(arguments: postgresCases)
    func postgresClientsReachTheConnection(_ invocation: CommandInvocation, marker: String) async throws {
        try await ContractFixture.prepared()
        try TestPrograms.requireOnPath(invocation.executable, install: "apt-get install postgresql-client")
        let result = try await ContractFixture.run(invocation)
        #expect(!result.status.isSuccess)
        expectConnectionFailure(result, markers: [marker])
        #expect(invocation.environment["PGPASSWORD"] == Self.password)
        #expect(!(result.standardErrorTail + result.output).contains(Self.password))
        #expect(!invocation.redactedCommandLine.contains(Self.password))
    }

    /// `pg_restore --list` and the full read need no server: on a file that is not an archive both fail at the
    /// archive check (so their flags parse), with nothing to authenticate.
    @Test(arguments: [
        PostgresArchive().list(file: ContractFixture.notAnArchive),
        PostgresArchive().readThrough(file: ContractFixture.notAnArchive),
    ])
    func archiveReadsReachTheArchiveCheck(_ invocation: CommandInvocation) async throws {
        try await ContractFixture.prepared()
        try TestPrograms.requireOnPath(invocation.executable, install: "apt-get install postgresql-client")
        let result = try await ContractFixture.run(invocation)
        #expect(result.status == .exited(1))
        expectConnectionFailure(result, markers: ["valid archive"])
        #expect(invocation.environment["PGPASSWORD"] == nil)
        guard case .failure(.corrupt(_, let detail)) = PostgresArchive.classifyIntegrity(result, file: "x.dump") else {
            Issue.record("a file that is not an archive must classify as corrupt: \(result.standardErrorTail)")
            return
        }
        #expect(detail.hasPrefix("input file does not appear to be a valid archive"))
    }

    // MARK: alembic

    static let alembicCases: [CommandInvocation] = {
        let alembic = ContractFixture.alembic
        return [
            alembic.current(), alembic.upgrade(), alembic.upgrade(to: "0001"), alembic.downgrade(.steps(1)),
            alembic.downgrade(.revision("0001")), alembic.downgrade(.base),
        ]
    }()

    @Test(arguments: alembicCases)
    func alembicReachesTheDatabase(_ invocation: CommandInvocation) async throws {
        try await ContractFixture.prepared()
        var invocation = invocation
        invocation.executable = try TestPrograms.alembic()
        let result = try await ContractFixture.run(invocation)
        #expect(result.status == .exited(1))
        guard case .databaseError(_, let message) = Alembic.classifyFailure(result) else {
            Issue.record("expected a database error, got \(String(describing: Alembic.classifyFailure(result)))")
            return
        }
        #expect(message.lowercased().contains("connection refused"))
    }

    @Test func alembicReadsScriptsWithoutADatabase() async throws {
        try await ContractFixture.prepared()
        var heads = ContractFixture.alembic.heads()
        heads.executable = try TestPrograms.alembic()
        let headsResult = try await ContractFixture.run(heads).checked()
        #expect(try Alembic.parseRevisions(headsResult.output) == [AlembicRevision(id: "0001", markers: ["head"])])

        var history = ContractFixture.alembic.history()
        history.executable = heads.executable
        let historyResult = try await ContractFixture.run(history).checked()
        let entries = try Alembic.parseHistory(historyResult.output)
        #expect(entries.map(\.revision.id) == ["0001"])
        #expect(entries.first?.message == "create documents")
    }

    @Test func alembicOwnErrorsAndUsageErrorsAreTold() async throws {
        try await ContractFixture.prepared()
        let executable = try TestPrograms.alembic()
        var missingConfig = Alembic(executable: executable, configPath: ContractFixture.root + "/missing.ini").heads()
        missingConfig.workingDirectory = ContractFixture.alembicProject
        let failed = try await ContractFixture.run(missingConfig)
        #expect(failed.status == .exited(255))
        guard case .alembicFailed = Alembic.classifyFailure(failed) else {
            Issue.record(
                "expected alembic's own FAILED error, got \(String(describing: Alembic.classifyFailure(failed)))")
            return
        }
        let usage = try await ContractFixture.run(CommandInvocation(executable, ["--no-such-flag", "current"]))
        guard case .usage = Alembic.classifyFailure(usage) else {
            Issue.record("expected a usage error, got \(String(describing: Alembic.classifyFailure(usage)))")
            return
        }
    }

    // MARK: aws (S3)

    static let s3Cases: [CommandInvocation] = {
        let store = S3ObjectStore(bucket: "drctl-contract", endpointURL: "http://127.0.0.1:1")
        var cases: [CommandInvocation] = [
            store.list(prefix: "postgresql/"),
            store.syncUp(directory: ContractFixture.syncDirectory, prefix: "postgresql/"),
            store.syncDown(prefix: "archives/", directory: ContractFixture.syncDirectory),
            store.delete("postgresql/daily/x.sql.gz"),
            store.head("postgresql/daily/x.sql.gz"),
        ]
        if let upload = try? store.upload(.file(ContractFixture.rowsCSV), to: "postgresql/rows.csv"),
            var streamUp = try? store.upload(.stream, to: "postgresql/stream.sql.gz"),
            let download = try? store.download("postgresql/rows.csv", to: .file(ContractFixture.root + "/down.csv")),
            let streamDown = try? store.download("postgresql/stream.sql.gz", to: .stream)
        {
            streamUp.standardInput = .bytes(Data("stream".utf8))
            cases += [upload, streamUp, download, streamDown]
        }
        return cases
    }()

    @Test(arguments: s3Cases)
    func awsReachesTheEndpoint(_ invocation: CommandInvocation) async throws {
        try await ContractFixture.prepared()
        var invocation = invocation
        invocation.executable = try TestPrograms.aws()
        let result = try await ContractFixture.run(invocation)
        #expect(!result.status.isSuccess)
        expectConnectionFailure(result, markers: ["could not connect to the endpoint url"])
        if invocation.arguments.contains("head-object") {
            // A dead endpoint is not "the object does not exist".
            #expect(throws: ObjectStoreError.self) {
                try S3ObjectStore(bucket: "drctl-contract").parseHead(result)
            }
        }
    }

    // MARK: az (Azure Blob)

    // `scripts/bootstrap` installs the Azure CLI (`--demo` skips it); a missing az fails naming that step.
    @Test func azReachesTheEndpoint() async throws {
        try await ContractFixture.prepared()
        let executable = try TestPrograms.az()
        let connection =
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Y29udHJhY3Q=;"
            + "BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;"
        let store = AzureBlobObjectStore(
            container: "drctl-contract", executable: executable, connectionString: connection)
        let invocations = [
            try store.upload(.file(ContractFixture.rowsCSV), to: "postgresql/rows.csv"),
            try store.download("postgresql/rows.csv", to: .file(ContractFixture.root + "/az-down.csv")),
            store.list(prefix: "postgresql/"), store.syncUp(directory: ContractFixture.syncDirectory, prefix: "pg/"),
            store.syncDown(prefix: "archives/", directory: ContractFixture.syncDirectory),
            store.delete("postgresql/rows.csv"), store.head("postgresql/rows.csv"),
        ]
        // az retries a dead endpoint for a long time (about 100 s here); run them side by side so the wait is
        // paid once. Verified with azure-cli 2.91.0: every invocation reaches the connection.
        let results = try await withThrowingTaskGroup(of: CommandResult.self) { group in
            for invocation in invocations {
                group.addTask { try await ContractFixture.run(invocation.with(timeout: .seconds(240))) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for result in results {
            #expect(!result.status.isSuccess)
            expectConnectionFailure(
                result, markers: ["connection refused", "max retries exceeded", "failed to establish"])
            #expect(!result.invocation.redactedCommandLine.contains("Y29udHJhY3Q="))
        }
    }

    // MARK: gzip (no endpoint: real files)

    @Test func gzipIntegrityClassifiesRealFiles() async throws {
        try await ContractFixture.prepared()
        try TestPrograms.requireOnPath("gzip", install: "apt-get install gzip")
        let gzip = Gzip()
        for (file, expected) in [
            (ContractFixture.goodGzip, nil), (ContractFixture.truncatedGzip, "corrupt"),
            (ContractFixture.trailingGzip, "trailing"), (ContractFixture.root + "/absent.gz", "missing"),
        ] as [(String, String?)] {
            let result = try await ContractFixture.run(gzip.test(file: file))
            switch (Gzip.classifyIntegrity(result, file: file), expected) {
            case (.success, nil): break
            case (.failure(.corrupt), "corrupt"), (.failure(.trailingGarbage), "trailing"),
                (.failure(.missing), "missing"):
                break
            case (let outcome, _):
                Issue.record("gzip -t \(file): expected \(expected ?? "success"), got \(outcome)")
            }
        }
    }

    @Test func gzipStreamsRoundTripThroughAPipeline() async throws {
        try await ContractFixture.prepared()
        try TestPrograms.requireOnPath("gzip", install: "apt-get install gzip")
        var compress = Gzip().compress(level: 6)
        compress.standardInput = .bytes(Data("COPY documents_header FROM stdin;\n1\tinvoice\n\\.\n".utf8))
        let pipeline = CommandPipeline([compress, Gzip().decompress()])
        let result = try await CommandRunner().run(pipeline).checked()
        #expect(result.output == "COPY documents_header FROM stdin;\n1\tinvoice\n\\.\n")
    }
}

// MARK: - Checks

/// What programs print when they reject their arguments, rather than the connection failing.
private let usageMarkers = [
    "unknown flag", "unknown shorthand", "unknown command", "usage:", "for help and examples", "invalid argument",
    "unrecognized option", "unrecognized arguments", "unknown options", "--help\" for more", "deprecated",
    "arg(s)", "required flag", "the following arguments are required", "error: argument",
]

private func expectConnectionFailure(
    _ result: CommandResult, markers: [String], sourceLocation: SourceLocation = #_sourceLocation
) {
    let said = (result.output + "\n" + result.standardErrorTail).lowercased()
    let command = result.invocation.redactedCommandLine
    for marker in usageMarkers where said.contains(marker) {
        Issue.record(
            "\(command) was rejected for its arguments ('\(marker)'):\n\(said)", sourceLocation: sourceLocation)
    }
    #expect(
        markers.contains { said.contains($0.lowercased()) },
        "\(command) (\(result.status)) did not fail on the connection; it said:\n\(said)",
        sourceLocation: sourceLocation)
}

// MARK: - Fixture

/// Files and programs the contract tests share: a kubeconfig for a dead server, a fresh HOME (kubectl caches
/// discovery there), a tiny chart, an alembic project pointing at a dead database, gzip samples.
enum ContractFixture {
    static let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("drctl-tool-contracts-\(ProcessInfo.processInfo.processIdentifier)").path
    static let home = root + "/home"
    static let kubeconfig = root + "/kubeconfig"
    static let manifest = root + "/namespace.yaml"
    static let chart = root + "/chart"
    static let values = root + "/values.yaml"
    static let sqlScript = root + "/script.sql"
    static let rowsCSV = root + "/rows.csv"
    static let notAnArchive = root + "/not-an-archive.dump"
    static let syncDirectory = root + "/sync"
    static let alembicProject = root + "/alembic"
    static let goodGzip = root + "/good.sql.gz"
    static let truncatedGzip = root + "/truncated.sql.gz"
    static let trailingGzip = root + "/trailing.sql.gz"
    static let kubeTarget = KubeTarget(context: "dead", namespace: "drctl-contract", kubeconfig: kubeconfig)

    static var alembic: Alembic {
        Alembic(configPath: "alembic.ini", extraArguments: ["contract=1"], workingDirectory: alembicProject)
    }

    /// A child environment that cannot reach anything real and keeps retries short.
    static let environment: [String: String] = [
        "HOME": home, "XDG_CONFIG_HOME": home + "/.config", "XDG_CACHE_HOME": home + "/.cache",
        "XDG_DATA_HOME": home + "/.local/share", "KUBECONFIG": kubeconfig,
        "HELM_CONFIG_HOME": home + "/.config/helm", "HELM_CACHE_HOME": home + "/.cache/helm",
        "HELM_DATA_HOME": home + "/.local/share/helm",
        "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard", "AWS_ACCESS_KEY_ID": "contract",
        "AWS_SECRET_ACCESS_KEY": "contract", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": root + "/aws-config", "AWS_SHARED_CREDENTIALS_FILE": root + "/aws-credentials",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "PGCONNECT_TIMEOUT": "5", "PYTHONDONTWRITEBYTECODE": "1",
    ]

    static func run(_ invocation: CommandInvocation) async throws -> CommandResult {
        var invocation = invocation.with(environment: environment)
        if invocation.timeout == nil { invocation.timeout = .seconds(90) }
        return try await CommandRunner(terminationGracePeriod: .seconds(1)).run(invocation)
    }

    // MARK: Files

    /// Creates the fixture files once per test process.
    static func prepared() async throws {
        try await preparation.value
    }

    private static let preparation = Task { try await prepare() }

    private static func prepare() async throws {
        let files = FileManager.default
        try? files.removeItem(atPath: root)
        for directory in [home, chart + "/templates", syncDirectory] {
            try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        try write(
            kubeconfig,
            """
            apiVersion: v1
            kind: Config
            clusters:
            - name: dead
              cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
            users:
            - name: dead
              user: {token: contract-test}
            contexts:
            - name: dead
              context: {cluster: dead, user: dead, namespace: default}
            current-context: dead
            """)
        try write(manifest, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: drctl-contract\n")
        try write(chart + "/Chart.yaml", "apiVersion: v2\nname: contract\nversion: 0.1.0\nappVersion: \"1.0\"\n")
        try write(
            chart + "/templates/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  a: {{ .Values.a | quote }}\n"
        )
        try write(values, "a: 1\n")
        // A repository for `helm repo update` to fail on, in the fresh HOME.
        try files.createDirectory(atPath: home + "/.config/helm", withIntermediateDirectories: true)
        try write(
            home + "/.config/helm/repositories.yaml",
            "apiVersion: \"\"\ngenerated: \"0001-01-01T00:00:00Z\"\nrepositories:\n- name: contract\n  url: http://127.0.0.1:1/charts\n"
        )
        try write(sqlScript, "SELECT 1;\n")
        try write(rowsCSV, "id\n1\n")
        try write(notAnArchive, "not a pg_dump archive\n")
        try write(syncDirectory + "/a.sql.gz", "a")
        try write(root + "/aws-config", "[default]\nregion = us-east-1\n")
        try write(
            root + "/aws-credentials", "[default]\naws_access_key_id = contract\naws_secret_access_key = contract\n")
        try prepareGzipSamples()
        try await prepareAlembicProject()
    }

    private static func prepareGzipSamples() throws {
        // "hello\n" compressed by gzip 1.12 (-n: no name or time), so the samples need no gzip to create.
        let good: [UInt8] = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xe7, 0x02, 0x00,
            0x20, 0x30, 0x3a, 0x36, 0x06, 0x00, 0x00, 0x00,
        ]
        try Data(good).write(to: URL(fileURLWithPath: goodGzip))
        try Data(good.prefix(14)).write(to: URL(fileURLWithPath: truncatedGzip))
        try Data(good + Array("garbage\n".utf8)).write(to: URL(fileURLWithPath: trailingGzip))
    }

    /// `alembic init` plus one revision, with the database URL pointing at port 1.
    private static func prepareAlembicProject() async throws {
        guard let executable = try? TestPrograms.alembic() else { return }  // the alembic tests report the absence
        try FileManager.default.createDirectory(atPath: alembicProject, withIntermediateDirectories: true)
        let initialize = CommandInvocation(executable, ["init", "migrations"], workingDirectory: alembicProject)
        try await run(initialize).checked()
        let ini = alembicProject + "/alembic.ini"
        let text = try String(contentsOfFile: ini, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("sqlalchemy.url")
                ? "sqlalchemy.url = postgresql+psycopg://valeo@127.0.0.1:1/valeo_erp" : String(line)
        }
        try write(ini, lines.joined(separator: "\n"))
        let revision = CommandInvocation(
            executable, ["revision", "--rev-id", "0001", "-m", "create documents"], workingDirectory: alembicProject)
        try await run(revision).checked()
    }

    private static func write(_ path: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }
}
