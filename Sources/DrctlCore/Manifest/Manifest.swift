import Foundation

/// One environment as drctl sees it: where its cluster, database, backups, releases and objectives are.
///
/// Loaded and validated by `ManifestLoader`; every value is already interpolated, overridden by the runbook's
/// environment variables and resolved against the project root. The database password is not part of it, only
/// where to find the password (`Database.password`); `SecretResolver` reads it. The engine fingerprints the
/// encoded value (encode with `.sortedKeys`: some parts are dictionaries), so two runs against the same resolved
/// manifest see the same fingerprint. A `${VAR}` is stored with its value, so never interpolate a secret into a
/// manifest; hooks inherit drctl's environment anyway.
public struct Manifest: Sendable, Hashable, Codable {
    /// The environment's name (`production`); also the scope of the one-run-at-a-time lock.
    public var environment: String
    public var kube: Kube
    public var database: Database
    public var backups: Backups
    public var releases: Releases
    public var readiness: Readiness
    public var archive: Archive?
    /// Run in order by `rebuild` before anything is installed; empty when the cluster is provisioned by hand.
    public var provision: [ProvisionHook]
    public var migrations: Migrations?
    public var objectives: Objectives
    /// When the runbook was last reviewed and how often it must be (the checklist's "Runbook reviewed
    /// quarterly"); `drctl status` checks it. nil: the manifest does not say, and that check fails.
    public var review: Review?
    /// When backups run unattended (`drctl backup schedule`); nil when the manifest names no schedule.
    public var schedule: Schedule? = nil
    /// Who is told about runs and backups (webhook, PagerDuty, Slack); empty when nobody is.
    public var notifications: [NotificationTarget] = []
    /// Where the manifest came from and what its relative paths are resolved against.
    public var source: Source
    /// Manifest keys replaced by the runbook's environment variables, as `database.host` → `DB_HOST`.
    public var environmentOverrides: [String: String]

    public init(
        environment: String,
        kube: Kube,
        database: Database,
        backups: Backups,
        releases: Releases,
        readiness: Readiness,
        archive: Archive? = nil,
        provision: [ProvisionHook] = [],
        migrations: Migrations? = nil,
        objectives: Objectives,
        review: Review? = nil,
        schedule: Schedule? = nil,
        notifications: [NotificationTarget] = [],
        source: Source,
        environmentOverrides: [String: String] = [:]
    ) {
        self.environment = environment
        self.kube = kube
        self.database = database
        self.backups = backups
        self.releases = releases
        self.readiness = readiness
        self.archive = archive
        self.provision = provision
        self.migrations = migrations
        self.objectives = objectives
        self.review = review
        self.schedule = schedule
        self.notifications = notifications
        self.source = source
        self.environmentOverrides = environmentOverrides
    }

    /// `schedule` and `notifications` are left out of the encoding, so the manifest's fingerprint: when backups
    /// run and who is paged do not change what a run does, and changing them must not make `resume` refuse.
    enum CodingKeys: String, CodingKey {
        case environment, kube, database, backups, releases, readiness, archive, provision, migrations, objectives
        case review
        case source, environmentOverrides
    }

    /// The manifest file and the project root its relative paths are resolved against.
    public struct Source: Sendable, Hashable, Codable {
        /// The manifest file, as given on the command line and absolute.
        public var file: ManifestPath
        /// The parent of the manifest's folder: `manifests/production.yaml` → the repository root.
        public var projectRoot: String

        public init(file: ManifestPath, projectRoot: String) {
            self.file = file
            self.projectRoot = projectRoot
        }
    }

    /// The Kubernetes cluster and namespace the environment runs in.
    public struct Kube: Sendable, Hashable, Codable {
        /// The kubeconfig context; nil means the current context.
        public var context: String?
        public var namespace: String
        /// nil means kubectl's and helm's own default (`KUBECONFIG`, else `~/.kube/config`).
        public var kubeconfig: ManifestPath?

        public init(context: String? = nil, namespace: String, kubeconfig: ManifestPath? = nil) {
            self.context = context
            self.namespace = namespace
            self.kubeconfig = kubeconfig
        }
    }

    /// The PostgreSQL database the application uses.
    public struct Database: Sendable, Hashable, Codable {
        public var host: String
        public var port: Int
        public var user: String
        public var name: String
        /// Where the password is read from at run time; never the password itself.
        public var password: PasswordSource
        /// The database to connect to for CREATE/DROP DATABASE (default `postgres`).
        public var adminDatabase: String
        /// A query that must succeed after a restore, like the runbook's `SELECT COUNT(*) FROM documents_header`.
        public var smokeQuery: String?
        /// Where the data-moving work (dumps, loads, archive writes) runs: on this machine, through a
        /// `kubectl port-forward`, or in Kubernetes Jobs beside the database.
        public var dataPlane: DataPlane
        /// How the data-plane Jobs run (image, Secrets, claim); nil: the defaults of `DataPlaneJobs`.
        public var jobs: DataPlaneJobs?

        public init(
            host: String,
            port: Int = 5432,
            user: String,
            name: String,
            password: PasswordSource,
            adminDatabase: String = "postgres",
            smokeQuery: String? = nil,
            dataPlane: DataPlane = .local,
            jobs: DataPlaneJobs? = nil
        ) {
            self.host = host
            self.port = port
            self.user = user
            self.name = name
            self.password = password
            self.adminDatabase = adminDatabase
            self.smokeQuery = smokeQuery
            self.dataPlane = dataPlane
            self.jobs = jobs
        }

        /// `jobs`, or the defaults when the manifest names none.
        public var effectiveJobs: DataPlaneJobs { jobs ?? DataPlaneJobs() }

        enum CodingKeys: String, CodingKey {
            case host, port, user, name, password, adminDatabase, smokeQuery, dataPlane, jobs
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            host = try container.decode(String.self, forKey: .host)
            port = try container.decode(Int.self, forKey: .port)
            user = try container.decode(String.self, forKey: .user)
            name = try container.decode(String.self, forKey: .name)
            password = try container.decode(PasswordSource.self, forKey: .password)
            adminDatabase = try container.decode(String.self, forKey: .adminDatabase)
            smokeQuery = try container.decodeIfPresent(String.self, forKey: .smokeQuery)
            dataPlane = try container.decodeIfPresent(DataPlane.self, forKey: .dataPlane) ?? .local
            jobs = try container.decodeIfPresent(DataPlaneJobs.self, forKey: .jobs)
        }

        /// A manifest with the local data plane encodes as it did before `dataPlane` existed, so its fingerprint
        /// is unchanged.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(host, forKey: .host)
            try container.encode(port, forKey: .port)
            try container.encode(user, forKey: .user)
            try container.encode(name, forKey: .name)
            try container.encode(password, forKey: .password)
            try container.encode(adminDatabase, forKey: .adminDatabase)
            try container.encodeIfPresent(smokeQuery, forKey: .smokeQuery)
            if dataPlane != .local { try container.encode(dataPlane, forKey: .dataPlane) }
            try container.encodeIfPresent(jobs, forKey: .jobs)
        }
    }

    /// `database.dataPlane`: where drctl runs the programs that move data (issue 14's placements).
    public enum DataPlane: String, Sendable, Hashable, Codable, CaseIterable {
        /// On the operator's machine, which reaches the database and the archive destination (the default).
        case local
        /// Through a `kubectl port-forward` to the PostgreSQL service, which drctl runs itself.
        case portForward = "port-forward"
        /// In Kubernetes Jobs in the target namespace, from drctl's own image (`drctl agent …`).
        case job
    }

    /// `database.jobs`: how the data-plane Jobs of `dataPlane: job` run.
    public struct DataPlaneJobs: Sendable, Hashable, Codable {
        /// drctl's image the Jobs run; default `ghcr.io/valeo/drctl:<this drctl's version>`.
        public var image: String
        /// A Secret key the Jobs read the database password from; nil: drctl creates a Secret per Job from the
        /// password it resolved (sent to kubectl on stdin) and deletes it with the Job.
        public var passwordSecret: KubernetesSecretKey?
        /// A Secret whose keys become the Jobs' environment (`envFrom`): the S3/Azure credentials. nil: the
        /// Secret drctl creates carries the `AWS_*` and `AZURE_STORAGE_CONNECTION_STRING` variables drctl has.
        public var environmentSecret: String?
        /// A PersistentVolumeClaim holding the backup folder (catalog.json, daily/, monthly/) the backup Jobs
        /// write; nil: an emptyDir, so only the off-site copy outlives the Job.
        public var backupClaim: String?
        /// The ServiceAccount the Jobs' pods run as; nil: the namespace's default.
        public var serviceAccount: String?
        /// The most a Job's emptyDir may hold (the ephemeral storage the cluster grants a pod): a custom-format
        /// restore downloads its `.dump` there and is refused before anything is touched when the backup does not
        /// fit; nil: no limit (the emptyDir is sized from the listing).
        public var scratchLimit: ByteSize?

        public init(
            image: String = DataPlaneJobs.defaultImage, passwordSecret: KubernetesSecretKey? = nil,
            environmentSecret: String? = nil, backupClaim: String? = nil, serviceAccount: String? = nil
        ) {
            self.image = image
            self.passwordSecret = passwordSecret
            self.environmentSecret = environmentSecret
            self.backupClaim = backupClaim
            self.serviceAccount = serviceAccount
        }

        /// The tag a release of this drctl publishes.
        public static var defaultImage: String { "ghcr.io/valeo/drctl:" + DrctlVersion.current }
    }

    /// Where the database password comes from.
    public enum PasswordSource: Sendable, Hashable, Codable, CustomStringConvertible {
        /// An environment variable, like the runbook's `DB_PASSWORD`.
        case env(String)
        /// A file holding the password (a trailing newline is ignored), like a mounted Kubernetes secret.
        case file(ManifestPath)

        public var description: String {
            switch self {
            case .env(let name): "environment variable \(name)"
            case .file(let path): "file \(path.written)"
            }
        }
    }

    /// Where backups are kept and how long.
    public struct Backups: Sendable, Hashable, Codable {
        /// The local backup folder; `daily/` and `monthly/` are below it.
        public var local: ManifestPath
        /// A backup smaller than this is refused as broken (the runbook: "should be > 10MB").
        public var sizeFloor: ByteSize
        public var retention: Retention
        public var s3: S3Location?
        public var azure: AzureLocation?
        /// How `backup create` dumps: `plain` (`pg_dump | gzip`, `.sql.gz`, the runbook's) or `custom`
        /// (`pg_dump -Fc`, `.dump`, restored with `pg_restore -j`). Restores read either, whatever this says.
        public var format: PostgresDumpFormat
        /// Parallel jobs of `pg_restore -j` for custom-format backups; nil means `defaultRestoreJobs`.
        public var restoreJobs: Int?
        /// Which program compresses a plain backup: `gzip`, `pigz` or `auto` (pigz when installed, the default).
        /// Every choice writes a `.sql.gz` that plain `gunzip` reads.
        public var compressor: BackupCompressor
        /// Refuse to restore a backup without a content record (`<backup>.record.json`), instead of checking it
        /// by the smoke query and table presence only.
        public var requireContentRecord: Bool
        /// Where the key that HMAC-signs content records is read from (`{ env: NAME }` or `{ file: PATH }`, never
        /// the key itself); nil: records are not signed. With a key, a record that is unsigned or does not verify
        /// is refused.
        public var signingKey: SecretReference?

        public init(
            local: ManifestPath,
            sizeFloor: ByteSize,
            retention: Retention,
            s3: S3Location? = nil,
            azure: AzureLocation? = nil,
            format: PostgresDumpFormat = .plain,
            restoreJobs: Int? = nil,
            compressor: BackupCompressor = .auto,
            requireContentRecord: Bool = false,
            signingKey: SecretReference? = nil
        ) {
            self.local = local
            self.sizeFloor = sizeFloor
            self.retention = retention
            self.s3 = s3
            self.azure = azure
            self.format = format
            self.restoreJobs = restoreJobs
            self.compressor = compressor
            self.requireContentRecord = requireContentRecord
            self.signingKey = signingKey
        }

        /// The jobs `pg_restore -j` runs with: `restoreJobs`, else `defaultRestoreJobs`.
        public var effectiveRestoreJobs: Int { restoreJobs ?? Self.defaultRestoreJobs }

        /// min(4, cores): more jobs than cores only queue, and four keep a small server responsive.
        public static var defaultRestoreJobs: Int { max(1, min(4, ProcessInfo.processInfo.activeProcessorCount)) }

        enum CodingKeys: String, CodingKey {
            case local, sizeFloor, retention, s3, azure, format, restoreJobs, compressor, requireContentRecord,
                signingKey
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            local = try container.decode(ManifestPath.self, forKey: .local)
            sizeFloor = try container.decode(ByteSize.self, forKey: .sizeFloor)
            retention = try container.decode(Retention.self, forKey: .retention)
            s3 = try container.decodeIfPresent(S3Location.self, forKey: .s3)
            azure = try container.decodeIfPresent(AzureLocation.self, forKey: .azure)
            format = try container.decodeIfPresent(PostgresDumpFormat.self, forKey: .format) ?? .plain
            restoreJobs = try container.decodeIfPresent(Int.self, forKey: .restoreJobs)
            compressor = try container.decodeIfPresent(BackupCompressor.self, forKey: .compressor) ?? .auto
            requireContentRecord =
                try container.decodeIfPresent(Bool.self, forKey: .requireContentRecord) ?? false
            signingKey = try container.decodeIfPresent(SecretReference.self, forKey: .signingKey)
        }

        /// A plain-format manifest with the default compressor encodes as it did before `format` and
        /// `compressor` existed, so its fingerprint is unchanged.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(local, forKey: .local)
            try container.encode(sizeFloor, forKey: .sizeFloor)
            try container.encode(retention, forKey: .retention)
            try container.encodeIfPresent(s3, forKey: .s3)
            try container.encodeIfPresent(azure, forKey: .azure)
            if format != .plain { try container.encode(format, forKey: .format) }
            try container.encodeIfPresent(restoreJobs, forKey: .restoreJobs)
            if compressor != .auto { try container.encode(compressor, forKey: .compressor) }
            if requireContentRecord { try container.encode(requireContentRecord, forKey: .requireContentRecord) }
            try container.encodeIfPresent(signingKey, forKey: .signingKey)
        }
    }

    /// How many backups are kept.
    public struct Retention: Sendable, Hashable, Codable {
        /// Daily backups kept (the runbook: 30).
        public var daily: Int
        /// Monthly backups kept (the runbook: 12).
        public var monthly: Int

        public init(daily: Int, monthly: Int) {
            self.daily = daily
            self.monthly = monthly
        }
    }

    /// An S3 bucket and key prefix for off-site backup copies.
    public struct S3Location: Sendable, Hashable, Codable {
        public var bucket: String
        /// A key prefix such as `postgresql/`; empty for the bucket's root.
        public var prefix: String

        public init(bucket: String, prefix: String = "") {
            self.bucket = bucket
            self.prefix = prefix
        }

        /// `s3://bucket/prefix`, as the aws CLI takes it.
        public var url: String { "s3://\(bucket)/\(prefix)" }
    }

    /// An Azure Blob Storage container and blob name prefix for off-site backup copies.
    public struct AzureLocation: Sendable, Hashable, Codable {
        public var container: String
        /// A blob name prefix such as `postgresql/`; empty for the container's root.
        public var prefix: String

        public init(container: String, prefix: String = "") {
            self.container = container
            self.prefix = prefix
        }
    }

    /// The two helm releases of the environment.
    public struct Releases: Sendable, Hashable, Codable {
        public var postgresql: HelmRelease
        public var app: AppRelease

        public init(postgresql: HelmRelease, app: AppRelease) {
            self.postgresql = postgresql
            self.app = app
        }
    }

    /// A helm release: what is installed, from where, with which values.
    public struct HelmRelease: Sendable, Hashable, Codable {
        public var name: String
        public var chart: HelmChart
        /// The chart repository to `helm repo add` before installing, if the chart comes from one.
        public var repository: ChartRepository?
        /// The chart version; nil means the newest.
        public var version: String?
        /// Values files passed with `--values`, in order. They hold no secrets: drctl adds those in a 0600 file.
        public var values: [ManifestPath]

        public init(
            name: String,
            chart: HelmChart,
            repository: ChartRepository? = nil,
            version: String? = nil,
            values: [ManifestPath] = []
        ) {
            self.name = name
            self.chart = chart
            self.repository = repository
            self.version = version
            self.values = values
        }
    }

    /// The application's helm release and the deployment it runs.
    public struct AppRelease: Sendable, Hashable, Codable {
        public var release: HelmRelease
        /// The Deployment scaled to 0 and back (the runbook: `valeo-erp`).
        public var deployment: String
        /// The replica count it is scaled back to (the runbook: 3).
        public var replicas: Int

        public init(release: HelmRelease, deployment: String, replicas: Int) {
            self.release = release
            self.deployment = deployment
            self.replicas = replicas
        }
    }

    /// A chart as helm takes it.
    public enum HelmChart: Sendable, Hashable, Codable, CustomStringConvertible {
        /// `repo/chart`, an `oci://` reference or a chart URL, passed to helm unchanged.
        case reference(String)
        /// A chart folder or archive in the file system, like `./k8s/helm/valeo-erp`.
        case local(ManifestPath)

        /// The argument helm gets: the reference, or the absolute path of a local chart.
        public var argument: String {
            switch self {
            case .reference(let reference): reference
            case .local(let path): path.absolute
            }
        }

        /// The chart as the manifest writes it.
        public var description: String {
            switch self {
            case .reference(let reference): reference
            case .local(let path): path.written
            }
        }
    }

    /// A chart repository (`helm repo add NAME URL`).
    public struct ChartRepository: Sendable, Hashable, Codable {
        public var name: String
        public var url: String

        public init(name: String, url: String) {
            self.name = name
            self.url = url
        }
    }

    /// The application's readiness endpoint, probed after every recovery.
    public struct Readiness: Sendable, Hashable, Codable {
        public var url: String
        /// How long to keep probing before giving up (default 5m).
        public var timeout: Duration

        public init(url: String, timeout: Duration = .seconds(300)) {
            self.url = url
            self.timeout = timeout
        }
    }

    /// The archive files restored after a cluster loss (the runbook: `aws s3 sync s3://…/archives/ /app/data/archive/`).
    public struct Archive: Sendable, Hashable, Codable {
        /// An object store URL such as `s3://valeo-backups/archives/`.
        public var source: String
        public var destination: ManifestPath
        /// The app's PersistentVolumeClaim the sync Job mounts at `destination` (required with
        /// `database.dataPlane: port-forward` or `job`, where the sync runs in the cluster).
        public var volumeClaim: String?
        /// How many parts the sync Job splits the archive's keys into (an Indexed Job's completions).
        public var shards: Int
        /// How many of those parts run at the same time (the Job's parallelism).
        public var parallelism: Int

        public static let defaultShards = 4
        public static let defaultParallelism = 2

        public init(
            source: String, destination: ManifestPath, volumeClaim: String? = nil, shards: Int = defaultShards,
            parallelism: Int = defaultParallelism
        ) {
            self.source = source
            self.destination = destination
            self.volumeClaim = volumeClaim
            self.shards = shards
            self.parallelism = parallelism
        }

        enum CodingKeys: String, CodingKey { case source, destination, volumeClaim, shards, parallelism }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                source: try container.decode(String.self, forKey: .source),
                destination: try container.decode(ManifestPath.self, forKey: .destination),
                volumeClaim: try container.decodeIfPresent(String.self, forKey: .volumeClaim),
                shards: try container.decodeIfPresent(Int.self, forKey: .shards) ?? Self.defaultShards,
                parallelism: try container.decodeIfPresent(Int.self, forKey: .parallelism) ?? Self.defaultParallelism)
        }

        /// The in-cluster keys only when set: a local archive encodes (and fingerprints) as before they existed.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(source, forKey: .source)
            try container.encode(destination, forKey: .destination)
            try container.encodeIfPresent(volumeClaim, forKey: .volumeClaim)
            if shards != Self.defaultShards { try container.encode(shards, forKey: .shards) }
            if parallelism != Self.defaultParallelism { try container.encode(parallelism, forKey: .parallelism) }
        }
    }

    /// A program run to provision infrastructure, like creating the cluster with terraform.
    public struct ProvisionHook: Sendable, Hashable, Codable {
        public var name: String
        /// The argv array; never a shell string.
        public var command: [String]
        /// When given and it exits 0, the hook is skipped: the thing it would create already exists.
        public var check: [String]?
        public var timeout: Duration
        /// Variables set for the hook on top of drctl's own environment.
        public var environment: [String: String]

        public init(
            name: String,
            command: [String],
            check: [String]? = nil,
            timeout: Duration = .seconds(1_800),
            environment: [String: String] = [:]
        ) {
            self.name = name
            self.command = command
            self.check = check
            self.timeout = timeout
            self.environment = environment
        }
    }

    /// Where the alembic migrations live.
    public struct Migrations: Sendable, Hashable, Codable {
        /// The folder alembic runs in.
        public var directory: ManifestPath
        /// The alembic configuration file (`-c`), resolved against `directory`.
        public var config: ManifestPath

        public init(directory: ManifestPath, config: ManifestPath) {
            self.directory = directory
            self.config = config
        }
    }

    /// The recovery objectives the runs are measured against.
    public struct Objectives: Sendable, Hashable, Codable {
        /// Recovery point objective: the newest backup must be younger than this (the runbook: 24h).
        public var rpo: Duration
        /// Recovery time objective: a recovery must finish within this (the runbook: 4h).
        public var rto: Duration

        public init(rpo: Duration, rto: Duration) {
            self.rpo = rpo
            self.rto = rto
        }
    }

    /// The runbook review schedule: `review: { lastReviewed: 2026-10-01, every: 90d }`.
    public struct Review: Sendable, Hashable, Codable {
        /// The day of the last review, midnight UTC.
        public var lastReviewed: Date
        /// How long a review stays current (the runbook: quarterly, 90d).
        public var every: Duration

        public init(lastReviewed: Date, every: Duration = .seconds(90 * 86_400)) {
            self.lastReviewed = lastReviewed
            self.every = every
        }

        /// When the next review is due.
        public var due: Date { lastReviewed.addingTimeInterval(Double(every.components.seconds)) }
    }
}
