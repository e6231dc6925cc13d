import Foundation

/// The manifest an end-to-end test writes for its own isolated world (database, bucket, namespace, stand-in):
/// the sandbox's shape with every name and address a parameter. One builder, so a schema change is made once.
public struct TestManifest: Sendable {
    public var environment: String
    public var kubeconfig: String
    /// Nil: no `kube.context` (the current context of the kubeconfig).
    public var kubeContext: String?
    public var namespace: String
    public var databaseHost: String
    public var databasePort: Int
    public var databaseUser: String
    public var databaseName: String
    /// The environment variable holding the password.
    public var passwordVariable: String
    public var smokeQuery: String?
    public var backupsFolder: String
    public var bucket: String
    public var backupPrefix: String
    /// More keys of the `backups` section, as written (`format: custom`).
    public var extraBackupKeys: [String] = []
    public var readinessURL: String
    public var readinessTimeout: String
    /// `archive.source` and `archive.destination`; nil: no archive.
    public var archive: (source: String, destination: String)?
    /// `migrations.directory` (the folder holding `alembic.ini`); nil: no migrations.
    public var migrationsDirectory: String?
    public var projectRoot: String
    public var replicas: Int
    public var rto: String

    /// A manifest for `database` on the local stack, backups in `bucket` under `backupPrefix`, the app in
    /// `namespace` of the stand-in behind `kubeconfig`, readiness on `readinessURL`.
    public init(
        stack: StackEnvironment, environment: String, database: String, bucket: String,
        backupPrefix: String = "postgresql/", backupsFolder: String, kubeconfig: String,
        kubeContext: String? = "drctl-sandbox", namespace: String = "sandbox", readinessURL: String
    ) {
        self.environment = environment
        self.kubeconfig = kubeconfig
        self.kubeContext = kubeContext
        self.namespace = namespace
        databaseHost = stack.postgresHost
        databasePort = stack.postgresPort
        databaseUser = stack.postgresUser
        databaseName = database
        passwordVariable = "DRCTL_PG_PASSWORD"
        self.backupsFolder = backupsFolder
        self.bucket = bucket
        self.backupPrefix = backupPrefix
        self.readinessURL = readinessURL
        readinessTimeout = "1m"
        projectRoot = stack.projectRoot
        replicas = 2
        rto = "15m"
    }

    /// The YAML text.
    public var yaml: String {
        let root = projectRoot
        var lines = [
            "environment: \(environment)",
            "kube: { \(kubeContext.map { "context: \($0), " } ?? "")namespace: \(namespace), kubeconfig: \(kubeconfig) }",
            "database:",
            "  host: \(databaseHost)",
            "  port: \(databasePort)",
            "  user: \(databaseUser)",
            "  name: \(databaseName)",
            "  password: { env: \(passwordVariable) }",
        ]
        if let smokeQuery { lines.append("  smokeQuery: \(smokeQuery)") }
        lines += [
            "backups:",
            "  local: \(backupsFolder)",
            "  sizeFloor: 1KiB",
            "  retention: { daily: 7, monthly: 3 }",
            "  s3: { bucket: \(bucket), prefix: \(backupPrefix) }",
        ]
        lines += extraBackupKeys.map { "  " + $0 }
        lines += [
            "releases:",
            "  postgresql: { name: postgresql, chart: \(root)/charts/sandbox-postgresql, "
                + "values: \(root)/values/sandbox/postgresql.yaml }",
            "  app:",
            "    name: valeo-erp",
            "    chart: \(root)/charts/sample-app",
            "    values: \(root)/values/sandbox/valeo-erp.yaml",
            "    deployment: valeo-erp",
            "    replicas: \(replicas)",
            "readiness: { url: \"\(readinessURL)\", timeout: \(readinessTimeout) }",
        ]
        if let archive {
            lines.append("archive: { source: \"\(archive.source)\", destination: \"\(archive.destination)\" }")
        }
        // `--context` keeps the hook on the stand-in whatever the caller's current context is.
        lines += [
            "provision:",
            "  - name: create-namespace",
            "    command: [kubectl, --context, drctl-sandbox, create, namespace, \(namespace)]",
            "    check: [kubectl, --context, drctl-sandbox, get, namespace, \(namespace)]",
            "    timeout: 1m",
        ]
        if let migrationsDirectory {
            lines.append("migrations: { directory: \(migrationsDirectory), config: alembic.ini }")
        }
        lines.append("objectives: { rpo: 24h, rto: \(rto) }")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes the YAML to `path`, creating its folder.
    public func write(to path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
