extension Manifest {
    /// Where a secret is read from at run time: an environment variable or a file. Never the secret itself.
    public typealias SecretReference = PasswordSource

    /// When and how backups run unattended (`drctl backup schedule`).
    public struct Schedule: Sendable, Hashable, Codable {
        /// When `drctl backup nightly` runs, in UTC, like the runbook's `0 2 * * *`.
        public var backups: CronSchedule
        /// The drctl container image a Kubernetes CronJob runs, like `ghcr.io/valeo/drctl:1.4.0`.
        public var image: String
        /// The Kubernetes Secret holding the database password for the CronJob.
        public var passwordSecret: KubernetesSecretKey
        /// A PersistentVolumeClaim mounted at `backups.local` in the CronJob's pod; nil: the pod's own disk.
        public var volumeClaim: String?
        /// The Kubernetes Secret whose keys become the CronJob pod's environment (`envFrom`): the S3/Azure
        /// credentials and the variables the notification targets read. Nil: `drctl-backup-<environment>-env`.
        public var environmentSecret: String?

        public init(
            backups: CronSchedule, image: String, passwordSecret: KubernetesSecretKey, volumeClaim: String? = nil,
            environmentSecret: String? = nil
        ) {
            self.backups = backups
            self.image = image
            self.passwordSecret = passwordSecret
            self.volumeClaim = volumeClaim
            self.environmentSecret = environmentSecret
        }
    }

    /// One key of a Kubernetes Secret (`secretKeyRef`).
    public struct KubernetesSecretKey: Sendable, Hashable, Codable {
        public var name: String
        public var key: String

        public init(name: String, key: String) {
            self.name = name
            self.key = key
        }
    }

    /// Someone told about runs and backups.
    public enum NotificationTarget: Sendable, Hashable, Codable {
        /// A generic webhook: a JSON body POSTed to `url`, signed with `X-Drctl-Signature` when `hmacSecret` is set.
        case webhook(url: URLReference, hmacSecret: SecretReference?)
        /// PagerDuty Events API v2: triggers on failure, resolves on the next success. `endpoint` is the Events
        /// API URL (default `https://events.pagerduty.com/v2/enqueue`).
        case pagerDuty(routingKey: SecretReference, endpoint: String)
        /// A Slack-compatible incoming webhook (`{"text": …}`). Its URL carries a token, so it is a reference.
        case slack(url: SecretReference)

        /// `webhook`, `pagerduty` or `slack`, as the manifest writes it.
        public var type: String {
            switch self {
            case .webhook: "webhook"
            case .pagerDuty: "pagerduty"
            case .slack: "slack"
            }
        }

        public static let pagerDutyEndpoint = "https://events.pagerduty.com/v2/enqueue"
    }

    /// A URL written in the manifest, or read at run time because it carries a token.
    public enum URLReference: Sendable, Hashable, Codable {
        case literal(String)
        case secret(SecretReference)
    }
}
