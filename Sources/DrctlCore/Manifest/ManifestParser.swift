import Foundation

/// Turns the YAML tree of one manifest into a `Manifest`, section by section, following the keys documented in
/// manifests/README.md. Each section lists its keys once; `ManifestNode.mapping(allowing:)` rejects every other key.
struct ManifestParser {
    let root: ManifestNode
    let source: Manifest.Source

    func manifest() throws(ManifestError) -> Manifest {
        let top = try root.mapping(allowing: [
            "environment", "kube", "database", "backups", "releases", "readiness", "archive", "provision",
            "migrations", "objectives", "review", "schedule", "notifications",
        ])
        var hooks: [Manifest.ProvisionHook] = []
        if let provision = top.optional("provision") {
            for hook in try provision.list() {
                hooks.append(try provisionHook(hook))
            }
        }
        let environment = try environmentName(top.required("environment"))
        let kube = try kube(top.required("kube"))
        let database = try database(top.required("database"))
        return Manifest(
            environment: environment,
            kube: kube,
            database: database,
            backups: try backups(top.required("backups")),
            releases: try releases(top.required("releases")),
            readiness: try readiness(top.required("readiness")),
            archive: try top.optional("archive").map { node throws(ManifestError) in
                try archive(node, dataPlane: database.dataPlane)
            },
            provision: hooks,
            migrations: try top.optional("migrations").map(migrations),
            objectives: try objectives(top.required("objectives")),
            review: try top.optional("review").map(review),
            schedule: try top.optional("schedule").map(schedule),
            notifications: try top.optional("notifications").map(notifications) ?? [],
            source: source
        )
    }

    private func environmentName(_ node: ManifestNode) throws(ManifestError) -> String {
        let name = try node.nonEmptyString()
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            throw node.invalid(name, expected: "a name of letters, digits, '.', '_' and '-' (it names the lock)")
        }
        return name
    }

    private func kube(_ node: ManifestNode) throws(ManifestError) -> Manifest.Kube {
        let kube = try node.mapping(allowing: ["context", "namespace", "kubeconfig"])
        return Manifest.Kube(
            context: try kube.optional("context").map { node throws(ManifestError) in try node.nonEmptyString() },
            namespace: try dnsLabel(kube.required("namespace")),
            kubeconfig: try kube.optional("kubeconfig").map { node throws(ManifestError) in try node.path() }
        )
    }

    /// Kubernetes names (namespaces, deployments, helm releases) are lowercase RFC 1123 labels.
    private func dnsLabel(_ node: ManifestNode) throws(ManifestError) -> String {
        let name = try node.nonEmptyString()
        let allowed = name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
        guard allowed, name.count <= 63, name.first != "-", name.last != "-" else {
            throw node.invalid(name, expected: "a Kubernetes name: lowercase letters, digits and '-', at most 63")
        }
        return name
    }

    private func database(_ node: ManifestNode) throws(ManifestError) -> Manifest.Database {
        let database = try node.mapping(allowing: [
            "host", "port", "user", "name", "password", "adminDatabase", "smokeQuery", "dataPlane", "jobs",
        ])
        let hostNode = try database.required("host")
        let host = try hostNode.nonEmptyString()
        let dataPlane = try database.optional("dataPlane").map(dataPlane) ?? .local
        if dataPlane == .portForward, DatabaseTunnel.service(host: host, namespace: "default") == nil {
            throw hostNode.invalid(
                host,
                expected: "with dataPlane: port-forward, the PostgreSQL Service's in-cluster name"
                    + " (NAME.NAMESPACE.svc.cluster.local): drctl port-forwards to that Service")
        }
        return Manifest.Database(
            host: host,
            port: try database.optional("port")?.integer(in: 1...65_535) ?? 5432,
            user: try database.required("user").nonEmptyString(),
            name: try database.required("name").nonEmptyString(),
            password: try passwordSource(database.required("password")),
            adminDatabase: try database.optional("adminDatabase")?.nonEmptyString() ?? "postgres",
            smokeQuery: try database.optional("smokeQuery")?.nonEmptyString(),
            dataPlane: dataPlane,
            jobs: try database.optional("jobs").map(dataPlaneJobs)
        )
    }

    private func passwordSource(_ node: ManifestNode) throws(ManifestError) -> Manifest.PasswordSource {
        try secretReference(node, secret: "the password")
    }

    /// `{ env: VARIABLE }` or `{ file: PATH }`; a plain value is refused without being quoted: it may be the secret.
    func secretReference(_ node: ManifestNode, secret: String) throws(ManifestError) -> Manifest.SecretReference {
        guard case .mapping = node.node else {
            // Not `node.wrongType`: that would quote the value, and a string here may be the secret itself.
            throw .wrongType(
                node.location, keyPath: node.keyPath,
                expected: "{ env: VARIABLE } or { file: PATH }, never \(secret) itself",
                found: "a value (not shown: it may be \(secret))")
        }
        let password = try node.mapping(allowing: ["env", "file"])
        switch (password.optional("env"), password.optional("file")) {
        case (let env?, nil):
            let name = try env.nonEmptyString()
            guard name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) else {
                throw env.invalid(name, expected: "the name of an environment variable, like DB_PASSWORD")
            }
            return .env(name)
        case (nil, let file?):
            return .file(try file.path())
        default:
            throw node.wrongType(expected: "exactly one of { env: VARIABLE } or { file: PATH }")
        }
    }

    private func backups(_ node: ManifestNode) throws(ManifestError) -> Manifest.Backups {
        let backups = try node.mapping(allowing: [
            "local", "sizeFloor", "retention", "s3", "azure", "format", "restoreJobs", "compressor",
            "requireContentRecord", "signingKey",
        ])
        return Manifest.Backups(
            local: try backups.required("local").path(),
            sizeFloor: try backups.required("sizeFloor").byteSize(),
            retention: try retention(backups.required("retention")),
            s3: try backups.optional("s3").map(s3Location),
            azure: try backups.optional("azure").map(azureLocation),
            format: try backups.optional("format").map(dumpFormat) ?? .plain,
            restoreJobs: try backups.optional("restoreJobs")?.integer(in: 1...64),
            compressor: try backups.optional("compressor").map(compressor) ?? .auto,
            requireContentRecord: try backups.optional("requireContentRecord")?.boolean() ?? false,
            signingKey: try backups.optional("signingKey").map { node throws(ManifestError) in
                try secretReference(node, secret: "the signing key")
            }
        )
    }

    /// `gzip`, `pigz` or `auto` (pigz when installed): which program writes a plain backup's `.sql.gz`.
    private func compressor(_ node: ManifestNode) throws(ManifestError) -> BackupCompressor {
        let text = try node.nonEmptyString()
        guard let compressor = BackupCompressor(rawValue: text) else {
            throw node.invalid(
                text, expected: "gzip, pigz (parallel, same .sql.gz format) or auto (pigz when installed)")
        }
        return compressor
    }

    /// `plain` (`pg_dump | gzip`, the runbook's) or `custom` (`pg_dump -Fc`, restored with `pg_restore -j`).
    private func dumpFormat(_ node: ManifestNode) throws(ManifestError) -> PostgresDumpFormat {
        let text = try node.nonEmptyString()
        guard let format = PostgresDumpFormat(rawValue: text) else {
            throw node.invalid(text, expected: "plain (pg_dump | gzip, .sql.gz) or custom (pg_dump -Fc, .dump)")
        }
        return format
    }

    private func retention(_ node: ManifestNode) throws(ManifestError) -> Manifest.Retention {
        let retention = try node.mapping(allowing: ["daily", "monthly"])
        return Manifest.Retention(
            daily: try retention.required("daily").integer(in: 1...100_000),
            monthly: try retention.required("monthly").integer(in: 0...100_000)
        )
    }

    private func s3Location(_ node: ManifestNode) throws(ManifestError) -> Manifest.S3Location {
        let s3 = try node.mapping(allowing: ["bucket", "prefix"])
        return Manifest.S3Location(
            bucket: try s3.required("bucket").nonEmptyString(),
            prefix: try s3.optional("prefix")?.string() ?? ""
        )
    }

    private func azureLocation(_ node: ManifestNode) throws(ManifestError) -> Manifest.AzureLocation {
        let azure = try node.mapping(allowing: ["container", "prefix"])
        return Manifest.AzureLocation(
            container: try azure.required("container").nonEmptyString(),
            prefix: try azure.optional("prefix")?.string() ?? ""
        )
    }

    private func releases(_ node: ManifestNode) throws(ManifestError) -> Manifest.Releases {
        let releases = try node.mapping(allowing: ["postgresql", "app"])
        let postgresql = try releases.required("postgresql")
        let postgresqlRelease = try helmRelease(postgresql.mapping(allowing: Self.releaseKeys))
        let app = try releases.required("app").mapping(allowing: Self.releaseKeys + ["deployment", "replicas"])
        let appRelease = try helmRelease(app)
        return Manifest.Releases(
            postgresql: postgresqlRelease,
            app: Manifest.AppRelease(
                release: appRelease,
                deployment: try app.optional("deployment").map(dnsLabel) ?? appRelease.name,
                replicas: try app.required("replicas").integer(in: 1...1_000)
            )
        )
    }

    private static let releaseKeys = ["name", "chart", "repository", "version", "values"]

    private func helmRelease(_ release: ManifestMapping) throws(ManifestError) -> Manifest.HelmRelease {
        let chartNode = try release.required("chart")
        let chart = try helmChart(chartNode)
        let repository = try release.optional("repository").map(chartRepository)
        if let repository, case .reference(let reference) = chart, !reference.contains("://"),
            !reference.hasPrefix("\(repository.name)/")
        {
            throw chartNode.invalid(
                reference, expected: "a chart of repository '\(repository.name)', like \(repository.name)/CHART")
        }
        var values: [ManifestPath] = []
        if let valuesNode = release.optional("values") {
            if case .sequence = valuesNode.node {
                for file in try valuesNode.list() {
                    values.append(try file.path())
                }
            } else {
                values.append(try valuesNode.path())
            }
        }
        return Manifest.HelmRelease(
            name: try dnsLabel(release.required("name")),
            chart: chart,
            repository: repository,
            version: try release.optional("version")?.nonEmptyString(),
            values: values
        )
    }

    /// `./k8s/helm/valeo-erp`, an absolute path or an existing folder below the project root is a local chart;
    /// anything else (`bitnami/postgresql`, `oci://…`) is passed to helm as a reference.
    private func helmChart(_ node: ManifestNode) throws(ManifestError) -> Manifest.HelmChart {
        let text = try node.nonEmptyString()
        if ManifestPath.looksLikePath(text) {
            return .local(try node.path())
        }
        let candidate = try node.path()
        var isDirectory: ObjCBool = false
        if !text.contains("://"), FileManager.default.fileExists(atPath: candidate.absolute, isDirectory: &isDirectory),
            isDirectory.boolValue
        {
            return .local(candidate)
        }
        return .reference(text)
    }

    private func chartRepository(_ node: ManifestNode) throws(ManifestError) -> Manifest.ChartRepository {
        let repository = try node.mapping(allowing: ["name", "url"])
        return Manifest.ChartRepository(
            name: try repository.required("name").nonEmptyString(),
            url: try repository.required("url").url(schemes: ["https", "http", "oci", "file"])
        )
    }

    private func readiness(_ node: ManifestNode) throws(ManifestError) -> Manifest.Readiness {
        let readiness = try node.mapping(allowing: ["url", "timeout"])
        return Manifest.Readiness(
            url: try readiness.required("url").url(schemes: ["http", "https"]),
            timeout: try readiness.optional("timeout")?.duration() ?? .seconds(300)
        )
    }

    private func provisionHook(_ node: ManifestNode) throws(ManifestError) -> Manifest.ProvisionHook {
        let hook = try node.mapping(allowing: ["name", "command", "check", "timeout", "env"])
        return Manifest.ProvisionHook(
            name: try hook.required("name").nonEmptyString(),
            command: try hook.required("command").argumentList(),
            check: try hook.optional("check")?.argumentList(),
            timeout: try hook.optional("timeout")?.duration() ?? .seconds(1_800),
            environment: try hook.optional("env")?.stringDictionary() ?? [:]
        )
    }

    private func migrations(_ node: ManifestNode) throws(ManifestError) -> Manifest.Migrations {
        let migrations = try node.mapping(allowing: ["directory", "config"])
        let directory =
            try migrations.optional("directory")?.path()
            ?? ManifestPath(resolving: ".", projectRoot: source.projectRoot, home: nil)
        let configText = try migrations.optional("config")?.nonEmptyString() ?? "alembic.ini"
        return Manifest.Migrations(
            directory: directory,
            config: ManifestPath(resolving: configText, projectRoot: directory.absolute, home: root.context.home)
        )
    }

    private func objectives(_ node: ManifestNode) throws(ManifestError) -> Manifest.Objectives {
        let objectives = try node.mapping(allowing: ["rpo", "rto"])
        return Manifest.Objectives(
            rpo: try objectives.required("rpo").duration(),
            rto: try objectives.required("rto").duration()
        )
    }

    private func review(_ node: ManifestNode) throws(ManifestError) -> Manifest.Review {
        let review = try node.mapping(allowing: ["lastReviewed", "every"])
        let dayNode = try review.required("lastReviewed")
        let text = try dayNode.nonEmptyString()
        guard let day = Self.day(text) else {
            throw dayNode.invalid(text, expected: "a date written YYYY-MM-DD, like 2026-10-01")
        }
        return Manifest.Review(
            lastReviewed: day,
            every: try review.optional("every")?.duration() ?? .seconds(90 * 86_400)
        )
    }

    /// `2026-10-01` as midnight UTC; nil for anything else (also for impossible days like 2026-02-30).
    static func day(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        guard let utc = TimeZone(identifier: "UTC") else { return nil }
        calendar.timeZone = utc
        let components = DateComponents(year: year, month: month, day: day)
        guard components.isValidDate(in: calendar), let date = calendar.date(from: components) else { return nil }
        return date
    }
}
