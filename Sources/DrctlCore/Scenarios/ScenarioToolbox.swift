import Foundation

/// The typed tool wrappers of one environment, built once from its manifest: every scenario takes its
/// kubectl, helm, psql and object-store invocations from here, so the same target flags and the same password
/// handling appear in `plan` and in the run.
public struct ScenarioToolbox: Sendable {
    public var manifest: Manifest
    public var kubectl: Kubectl
    public var helm: Helm
    /// Connected to the manifest's database as its user, password in the child environment only.
    public var postgres: Postgres
    public var gzip: Gzip
    /// The off-site backup stores named in the manifest, S3 first.
    public var objectStores: [any ObjectStore]
    /// The database password (or a placeholder for `plan` when it is not set); never printed.
    public var databasePassword: SecretValue
    /// The key content records are signed and checked with (`backups.signingKey`); nil when the manifest names
    /// none (or a plan could not read it). Never printed.
    public var recordSigningKey: SecretValue?
    /// Program names or paths, overridable by `DRCTL_KUBECTL`, `DRCTL_HELM`, … for installs off `PATH`.
    public var executables: ToolExecutables

    public init(
        manifest: Manifest,
        databasePassword: SecretValue,
        helmMajorVersion: HelmMajorVersion = .v3,
        executables: ToolExecutables = ToolExecutables(),
        recordSigningKey: SecretValue? = nil
    ) {
        self.manifest = manifest
        self.databasePassword = databasePassword
        self.recordSigningKey = recordSigningKey
        self.executables = executables
        let target = KubeTarget(
            context: manifest.kube.context,
            namespace: manifest.kube.namespace,
            kubeconfig: manifest.kube.kubeconfig?.absolute
        )
        kubectl = Kubectl(executable: executables.kubectl, target: target)
        helm = Helm(executable: executables.helm, target: target, majorVersion: helmMajorVersion)
        let database = manifest.database
        postgres = Postgres(
            connection: PostgresConnection(
                host: database.host,
                port: database.port,
                user: database.user,
                database: database.name,
                password: databasePassword.value
            ),
            adminDatabase: database.adminDatabase,
            psqlExecutable: executables.psql,
            pgDumpExecutable: executables.pgDump,
            pgRestoreExecutable: executables.pgRestore
        )
        gzip = Gzip(executables: executables, compressor: manifest.backups.compressor)
        var stores: [any ObjectStore] = []
        if let s3 = manifest.backups.s3 { stores.append(S3ObjectStore(bucket: s3.bucket, executable: executables.aws)) }
        if let azure = manifest.backups.azure {
            stores.append(AzureBlobObjectStore(container: azure.container, executable: executables.az))
        }
        objectStores = stores
    }

    /// The `kubectl port-forward` the database commands go through under `database.dataPlane: port-forward`.
    public var databaseTunnel: DatabaseTunnel? { DatabaseTunnel(manifest: manifest, kubectl: kubectl) }

    /// Every secret a rendering of this environment's commands must mask (`Redactor` masks each in every
    /// encoding it takes, such as inside the app's DATABASE_URL).
    public var secrets: [String] {
        [databasePassword.value, recordSigningKey?.value ?? ""].filter { !$0.isEmpty }
    }
}

/// Where drctl finds the programs it drives: a name on `PATH` unless the environment names a path.
public struct ToolExecutables: Sendable, Hashable, Codable {
    public var kubectl = "kubectl"
    public var helm = "helm"
    public var psql = "psql"
    public var pgDump = "pg_dump"
    public var pgRestore = "pg_restore"
    public var gzip = "gzip"
    public var pigz = "pigz"
    public var aws = "aws"
    public var az = "az"
    public var alembic = "alembic"
    /// The `PATH` on which `pigzInstalled` looks; nil (`ToolExecutables()`): no pigz.
    public var searchPath: String?

    public init() {}

    /// `DRCTL_KUBECTL`, `DRCTL_HELM`, `DRCTL_PSQL`, `DRCTL_PG_DUMP`, `DRCTL_PG_RESTORE`, `DRCTL_GZIP`, `DRCTL_PIGZ`,
    /// `DRCTL_AWS`, `DRCTL_AZ`, `DRCTL_ALEMBIC` override the program names; `PATH` is where pigz is looked for.
    public init(environment: [String: String]) {
        func pick(_ name: String, _ fallback: String) -> String {
            guard let value = environment[name], !value.isEmpty else { return fallback }
            return value
        }
        kubectl = pick("DRCTL_KUBECTL", kubectl)
        helm = pick("DRCTL_HELM", helm)
        psql = pick("DRCTL_PSQL", psql)
        pgDump = pick("DRCTL_PG_DUMP", pgDump)
        pgRestore = pick("DRCTL_PG_RESTORE", pgRestore)
        gzip = pick("DRCTL_GZIP", gzip)
        pigz = pick("DRCTL_PIGZ", pigz)
        searchPath = environment["PATH"]
        aws = pick("DRCTL_AWS", aws)
        az = pick("DRCTL_AZ", az)
        alembic = pick("DRCTL_ALEMBIC", alembic)
    }

    /// Whether pigz (or the program `DRCTL_PIGZ` names) is an executable file on `searchPath`.
    public var pigzInstalled: Bool {
        guard let searchPath else { return false }
        if case .found = ExecutableLocator.locate(CommandInvocation(pigz, [], environment: ["PATH": searchPath])) {
            return true
        }
        return false
    }
}
